"""Fixtures and hooks shared by several test files."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Where the real-data tests look for the publishers' files (as in each of those tests).
REAL_DATA_ENV = "R2P_SHARED_DATASETS"


def real_data_folder() -> Path:
    """``$R2P_SHARED_DATASETS``, else ``../shared/datasets`` next to the project."""
    env = os.environ.get(REAL_DATA_ENV)
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A ledger file that does not exist yet."""
    return tmp_path / "ledger.sqlite"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


def _needs_real_data(report: pytest.TestReport) -> bool:
    """A skip of a test that needs the real data: marked ``realdata``, or skipped for a
    reason that names the real-data folder's variable."""
    return "realdata" in report.keywords or REAL_DATA_ENV in _skip_reason(report)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outside pytest's own summary
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Generator[None]:
    """Say once, at the end of the run (after the short summary), how to run the real-data
    tests that skipped."""
    yield
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r, pytest.TestReport) and _needs_real_data(r)]
    if not skipped:
        return
    folder = real_data_folder()
    terminalreporter.write_sep("-", "real-data tests skipped")
    terminalreporter.write_line(
        f"{len(skipped)} test(s) need the real data and skipped: {folder} is absent or "
        "incomplete.")
    terminalreporter.write_line(
        "To run them, download the publishers' files as ../shared/datasets/SOURCES.md "
        f"describes into {folder}, or set {REAL_DATA_ENV}=/path/to/datasets, and run the "
        "tests again.")
