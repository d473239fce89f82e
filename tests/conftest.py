"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A ledger file that does not exist yet."""
    return tmp_path / "ledger.sqlite"
