"""The README's two set-up commands and CI stay in step; the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no bash block with the set-up commands"
    return [ln for ln in block.group(1).splitlines() if ln and not ln.startswith("#")]


def test_readme_opens_with_exactly_two_commands() -> None:
    cmds = _readme_commands()
    assert len(cmds) == 2
    assert "r2p pipeline" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci


def test_default_world_config_is_the_pipeline_default() -> None:
    from r2p_models.cli import DEFAULT_WORLD

    assert DEFAULT_WORLD == ROOT / "datasets" / "default_world" / "run.toml"
    assert DEFAULT_WORLD.exists()


def _doc_paragraph(page: str, marker: str) -> str:
    """The paragraph (text between blank lines) of a page that contains ``marker``."""
    text = (ROOT / page).read_text()
    found = [p for p in text.split("\n\n") if marker in p]
    assert len(found) == 1, f"{page}: {len(found)} paragraphs contain {marker!r}"
    return found[0]


def test_cli_docs_reliability_guarantees_name_test_files_that_exist() -> None:
    para = " ".join(_doc_paragraph("docs/cli.md", "Reliability guarantees").split())
    for promise in ("one line", "exit code 2", "nothing written"):
        assert promise in para
    named = re.findall(r"tests/test_\w+\.py", para)
    assert {"tests/test_panel.py", "tests/test_cli.py"} <= set(named)
    assert [n for n in named if not (ROOT / n).exists()] == []


def test_model_docs_say_previews_are_refused_by_the_recording_commands() -> None:
    para = " ".join(_doc_paragraph("docs/methods/model.md", "`advi`").split())
    for word in ("`pathfinder`", "`r2p backtest`", "`rerun`", "`pipeline`", "`r2p fit`",
                 "never convergence-checked"):
        assert word in para


def test_readme_is_short_and_links_to_pages_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert any(link.startswith("docs/") for link in links)
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_report_assets_are_package_data() -> None:
    """The report's style sheet and methods prose are files read with importlib.resources:
    pyproject's package-data must ship each of them in a (non-editable) install."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["r2p_models"]
    folder = ROOT / "r2p_models" / "report" / "assets"
    assets = sorted(p.relative_to(ROOT / "r2p_models").as_posix() for p in folder.iterdir())
    assert "report/assets/report.css" in assets and "report/assets/methods.html" in assets
    assert [a for a in assets if not any(fnmatch.fnmatch(a, p) for p in patterns)] == []


def test_version_has_one_home() -> None:
    """The version lives in the leaf module r2p_models/_version.py (which imports nothing);
    the package root re-exports it and pyproject reads the distribution's version from it."""
    import ast
    import tomllib

    import r2p_models
    from r2p_models import _version

    tree = ast.parse((ROOT / "r2p_models" / "_version.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert re.fullmatch(r"\d+\.\d+\.\d+", _version.__version__)
    assert r2p_models.__version__ == _version.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "r2p_models._version.__version__"}


def test_no_module_imports_names_from_the_package_root() -> None:
    """``from r2p_models import X`` in a lower layer imports the facade at the top of the
    layering; only submodules may be imported that way (``from r2p_models import
    calibration``)."""
    import ast

    package = ROOT / "r2p_models"
    submodules = {p.stem for p in package.glob("*.py")} | {
        p.parent.name for p in package.glob("*/__init__.py")}
    bad = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "r2p_models":
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}"
                        for a in node.names if a.name not in submodules]
    assert bad == []
