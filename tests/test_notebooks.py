"""Execute every notebook in ``notebooks/`` top to bottom in its small configuration.

Each notebook reads ``R2P_NOTEBOOK_SMALL=1`` in its first code cell and then runs on a tiny
simulated world with tiny sampler settings. A notebook passes if no cell raises. The notebooks
are committed without outputs (checked here too), so their diffs stay readable.
The real-data notebook needs ``../shared/datasets`` (or ``R2P_SHARED_DATASETS``) and is
skipped with a reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REAL_DATA = "04_real_data.ipynb"
CELL_TIMEOUT = 300


def shared_datasets() -> Path:
    """Where the real data is: ``R2P_SHARED_DATASETS`` or ``../shared/datasets``."""
    env = os.environ.get("R2P_SHARED_DATASETS")
    return Path(env) if env else (ROOT.parent / "shared" / "datasets")


def test_notebooks_found() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert "01_quickstart.ipynb" in names, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells)
                    if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_outputs, f"{path.name}: cells {with_outputs} carry outputs; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if path.name == REAL_DATA:
        data = shared_datasets()
        if not data.is_dir():
            pytest.skip(f"real data not found at {data} (set R2P_SHARED_DATASETS)")
        monkeypatch.setenv("R2P_SHARED_DATASETS", str(data.resolve()))
    monkeypatch.setenv("R2P_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("R2P_NOTEBOOK_OUT", str(tmp_path / "out"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell
