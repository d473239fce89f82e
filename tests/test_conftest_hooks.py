"""The hook of ``tests/conftest.py`` that says how to enable the real-data tests.

Each case runs pytest in a subprocess on a folder of made-up tests with a copy of the
project's ``conftest.py``, so what is checked is the real terminal output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
HINT = "real-data tests skipped"

TESTS = '''
import pytest

def test_plain():
    pass

@pytest.mark.realdata
@pytest.mark.skipif(True, reason="real data folder is absent")
def test_marked_real_data():
    pass

def test_named_real_data():
    pytest.skip("real data not found (set R2P_SHARED_DATASETS)")

def test_other_skip():
    pytest.skip("needs chromium")
'''


def _run(tmp_path: Path, tests: str, *args: str) -> str:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_made_up.py").write_text(tests)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    realdata: needs data\n")
    env = {"R2P_SHARED_DATASETS": str(tmp_path / "no such folder"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-ra",
                          *args, str(tmp_path)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    return out.stdout


def test_real_data_skips_are_explained_once_at_the_end(tmp_path: Path) -> None:
    out = _run(tmp_path, TESTS)
    assert out.count(HINT) == 1, out
    hint = out.index(HINT)
    assert "2 test(s) need the real data" in out, out
    assert str(tmp_path / "no such folder") in out[hint:]
    assert "R2P_SHARED_DATASETS=/path/to/datasets" in out[hint:]
    assert out.index("short test summary info") < hint  # after the per-test summary
    assert out.rstrip().splitlines()[-1].lstrip("=").lstrip().startswith("1 passed, 3 skipped")


def test_no_hint_without_real_data_skips(tmp_path: Path) -> None:
    out = _run(tmp_path, TESTS, "-k", "plain or other")
    assert "1 passed, 1 skipped" in out
    assert HINT not in out


@pytest.mark.parametrize("expr", ["marked", "named"])
def test_either_kind_of_real_data_skip_gives_the_hint(tmp_path: Path, expr: str) -> None:
    out = _run(tmp_path, TESTS, "-k", expr)
    assert "1 test(s) need the real data" in out, out
