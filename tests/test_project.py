"""The README's two set-up commands and CI stay in step."""

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
