"""The documentation site builds in strict mode, so a broken link, anchor or API reference
fails here (and so in CI, which runs the README's test command).

The site is built with MkDocs and mkdocstrings into a temporary folder (a few seconds). The
tests skip, saying why, only when MkDocs itself is not installed (``pip install -e
".[dev]"`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import r2p_models as r2p

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

try:
    import mkdocs  # noqa: F401
except ImportError:  # pragma: no cover - the dev extra installs it
    HAVE_MKDOCS = False
else:
    HAVE_MKDOCS = True

needs_mkdocs = pytest.mark.skipif(
    not HAVE_MKDOCS, reason="mkdocs is not installed (pip install -e \".[dev]\")")


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(project / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, cwd=project, timeout=300)


def _copy_project(tmp_path: Path) -> Path:
    """The files the site is built from, in a scratch folder that a test may break."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("mkdocs.yml", "CHANGELOG.md", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(DOCS, project / "docs")
    shutil.copytree(ROOT / "r2p_models", project / "r2p_models",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return project


@needs_mkdocs
def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    site = tmp_path / "site"
    out = _build(ROOT, site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (site / "index.html").is_file()
    api = (site / "api" / "index.html").read_text()
    for name in r2p.FACADE:  # each facade name links to its reference
        assert f"r2p.{name}" in api, name
    fit_page = (site / "api" / "model" / "index.html").read_text()
    assert 'id="r2p_models.model.fit.fit"' in fit_page  # generated from the docstrings
    changelog = (site / "changelog" / "index.html").read_text()
    assert "16b5162" in changelog  # the CHANGELOG is included, not copied


@needs_mkdocs
def test_strict_build_fails_on_broken_references(tmp_path: Path) -> None:
    """One build of a copy with three broken references: each is reported, and the build
    fails."""
    project = _copy_project(tmp_path)
    page = project / "docs" / "methods" / "model.md"
    page.write_text(page.read_text() + "\nSee [fit][r2p_models.model.fit.no_such_function], "
                    "[gone](no_such_page.md) and [gone](panel.md#no-such-section).\n")
    out = _build(project, tmp_path / "site")
    assert out.returncode != 0, "broken references did not fail the build"
    text = out.stdout + out.stderr
    for broken in ("r2p_models.model.fit.no_such_function", "no_such_page.md",
                   "no-such-section"):
        assert broken in text, (broken, text)


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert pages
    assert [p for p in pages if p not in nav] == []


def test_facade_page_lists_every_facade_name() -> None:
    text = (DOCS / "api" / "index.md").read_text()
    listed = re.findall(r"^\| `r2p\.(\w+)` \|", text, re.M)
    assert listed == list(r2p.FACADE)


def test_results_pages_are_dated() -> None:
    pages = sorted((DOCS / "results").glob("*.md"))
    assert pages
    for page in pages:
        assert re.match(r"\d{4}-\d{2}-\d{2}-", page.name), page.name
        assert page.name[:10] in page.read_text().splitlines()[0], page.name


def test_every_public_module_has_an_api_reference() -> None:
    """A new module gets a ``::: module`` line on its ``docs/api/`` page."""
    documented = set(re.findall(r"^::: (\S+)", "\n".join(
        p.read_text() for p in (DOCS / "api").glob("*.md")), re.M))
    modules = set()
    for f in (ROOT / "r2p_models").rglob("*.py"):  # the files, without importing them
        parts = f.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(part.startswith("_") for part in parts):
            modules.add(".".join(parts))
    assert "r2p_models.model.fit" in modules  # the walk finds modules
    missing = sorted(modules - documented - {"r2p_models.model.toy"})  # toy: tests only
    assert missing == [], f"no ::: line in docs/api/ for {missing}"
    assert sorted(documented - modules - {"r2p_models"}) == []  # and none that is gone
