"""The public facade: ``import r2p_models as r2p``.

Every facade name is the object of its home module (no wrapper), the names load lazily,
and neither ``import r2p_models`` nor ``import r2p_models.calibration`` imports PyMC.
The notebooks use only the facade.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import r2p_models as r2p

ROOT = Path(__file__).resolve().parents[1]

#: What each facade name must be, written out independently of ``r2p_models.FACADE``.
EXPECTED = {
    "load_config": ("r2p_models.config", "load_config"),
    "load_panel": ("r2p_models.data.panel", "load_panel"),
    "simulate_world": ("r2p_models.data.simulate", "simulate_world"),
    "fit": ("r2p_models.model.fit", "fit"),
    "load_model": ("r2p_models.model.io", "load_model"),
    "forecast_table": ("r2p_models.forecast", "forecast_table"),
    "explain": ("r2p_models.forecast", "explain"),
    "Ledger": ("r2p_models.ledger", "Ledger"),
    "run_backtest": ("r2p_models.backtest", "run_backtest"),
    "score_table": ("r2p_models.calibration.tracking", "score_table"),
    "reliability_diagram": ("r2p_models.calibration.reliability", "reliability_diagram"),
    "build_report": ("r2p_models.report", "build_report"),
    "pipeline": ("r2p_models.rerun", "pipeline"),
}

#: The names issue 24 asks for, in its order.
MAIN_NAMES = ["load_config", "load_panel", "simulate_world", "fit", "load_model",
              "forecast_table", "explain", "Ledger", "run_backtest", "score_table",
              "reliability_diagram", "build_report", "pipeline"]


def test_main_names_are_in_the_facade() -> None:
    assert set(MAIN_NAMES) <= set(r2p.__all__)
    assert list(r2p.FACADE)[:len(MAIN_NAMES)] == MAIN_NAMES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_main_name_is_the_object_of_its_home_module(name: str) -> None:
    module, attr = EXPECTED[name]
    assert getattr(r2p, name) is getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("name", sorted(r2p.FACADE))
def test_every_facade_name_resolves_to_its_home_object(name: str) -> None:
    home = importlib.import_module(r2p.FACADE[name])
    obj = getattr(r2p, name)
    assert obj is getattr(home, name)
    defined_in = getattr(obj, "__module__", None)
    if defined_in is not None and callable(obj):  # a function or class, not a constant
        assert obj is getattr(importlib.import_module(defined_in), obj.__name__)


def test_facade_is_listed_by_dir_and_all() -> None:
    assert set(r2p.FACADE) <= set(dir(r2p))
    assert len(r2p.__all__) == len(set(r2p.__all__))
    assert set(r2p.__all__) == set(r2p.FACADE) | {"FACADE", "__version__"}


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        r2p.fitt  # noqa: B018
    assert not hasattr(r2p, "fitt")


def test_type_checking_imports_match_the_facade() -> None:
    """The ``if TYPE_CHECKING`` block (what type checkers and the API reference see)
    imports exactly the facade names, each from its facade module."""
    tree = ast.parse((ROOT / "r2p_models" / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING")
    imported = {a.name: n.module for n in block.body if isinstance(n, ast.ImportFrom)
                for a in n.names}
    assert imported == r2p.FACADE


def _modules_after(statement: str) -> dict[str, bool]:
    code = (f"import sys; {statement}; import json; "
            "print(json.dumps({m: m in sys.modules for m in "
            "('pymc', 'pytensor', 'arviz', 'nutpie')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", [
    "import r2p_models",
    "import r2p_models as r2p; r2p.__all__; dir(r2p)",
    "import r2p_models.calibration",
    "import r2p_models as r2p; r2p.score_table; r2p.reliability_diagram; r2p.load_panel",
])
def test_import_does_not_load_pymc(statement: str) -> None:
    loaded = _modules_after(statement)
    assert not loaded["pymc"], statement
    assert not loaded["pytensor"], statement


def test_a_model_name_does_load_pymc() -> None:
    """The check above can fail: reaching a name that needs PyMC does import it."""
    assert _modules_after("import r2p_models as r2p; r2p.build_model")["pymc"]


def _notebook_code() -> dict[str, str]:
    nbformat = pytest.importorskip("nbformat")
    out = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[path.name] = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return out


def test_notebooks_use_only_the_facade() -> None:
    code = _notebook_code()
    assert code
    for name, source in code.items():
        imports = re.findall(r"^\s*(?:from\s+r2p_models\S*\s+import|import\s+r2p_models\S*.*)$",
                             source, re.M)
        assert [i.strip() for i in imports] == ["import r2p_models as r2p"], name
        used = set(re.findall(r"\br2p\.(\w+)", source))
        assert used, name
        assert used <= set(r2p.__all__) | {"__file__"}, (name, used - set(r2p.__all__))


def test_readme_examples_use_only_the_facade() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no Python example"
    for block in blocks:
        assert "from r2p_models" not in block
        used = set(re.findall(r"\br2p\.(\w+)", block))
        assert used and used <= set(r2p.__all__), used - set(r2p.__all__)


def test_no_facade_name_is_also_a_submodule() -> None:
    """``import r2p_models.<name>`` would replace a facade name of the same spelling."""
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(r2p.__path__)}
    assert submodules  # the check can fail
    assert set(r2p.FACADE) & submodules == set()
