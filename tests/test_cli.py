"""The ``r2p`` command line and the recording functions refuse bad arguments up front.

Every refusal here happens before any fit: a test that would reach the sampler fails
(``_no_sampling``), so none of them fits a model, on the old code or the new.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

from r2p_models.backtest import parse_origins, run_backtest
from r2p_models.cli import EXIT_BAD_INPUT, build_parser, main
from r2p_models.config import load_config
from r2p_models.data.panel import load_panel
from r2p_models.errors import InputError
from r2p_models.rerun import pipeline, rerun

CONFIG = """
[data]
table = "panel.csv"
country = "ccode"
year = "year"
predictors = ["x"]
[outcomes]
genocide = "onset"
[ledger]
path = "out/ledger.sqlite"
"""


@pytest.fixture()
def world(tmp_path: Path) -> Path:
    """A run config of 4 countries x 2000-2004 (one indicator, one crime)."""
    rows = [{"ccode": c, "year": y, "x": 0.1 * c + y - 2000, "onset": int((c, y) == (3, 2001))}
            for c in range(4) for y in range(2000, 2005)]
    pd.DataFrame(rows).to_csv(tmp_path / "panel.csv", index=False)
    path = tmp_path / "run.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(autouse=True)
def _no_sampling(monkeypatch) -> None:
    """Reaching the sampler is a failure: every refusal must come before any fit."""
    def sample_model(*args, **kwargs):
        raise AssertionError("the sampler was reached")

    monkeypatch.setattr(importlib.import_module("r2p_models.model.fit"), "sample_model",
                        sample_model)


def _refused(argv: list[str], capsys) -> str:
    """Parse ``argv`` expecting argparse's refusal (exit 2); its one-line error message."""
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == EXIT_BAD_INPUT
    return capsys.readouterr().err.strip().splitlines()[-1]


# --- arguments --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-3", "two"])
@pytest.mark.parametrize("command", [["backtest", "--config", "c.toml", "--origins", "2000"],
                                     ["pipeline"],
                                     ["evaluate-peer", "--data", "d", "--out", "o"],
                                     ["evaluate-four-crimes", "--data", "d", "--out", "o"]])
def test_workers_must_be_a_positive_integer(capsys, command, value) -> None:
    err = _refused([*command, "--workers", value], capsys)
    assert err == (f"r2p {command[0]}: error: argument --workers: expected a positive integer, "
                   f"got {value!r}")


@pytest.mark.parametrize(("argv", "message"), [
    # --config is required: argparse used to say so instead of naming the typo
    (["fit", "--conifg", "c.toml", "--out", "m.nc"],
     "r2p fit: error: unrecognized arguments: --conifg (did you mean --config?)"),
    (["pipeline", "--conifg", "c.toml"],
     "r2p pipeline: error: unrecognized arguments: --conifg (did you mean --config?)"),
    (["fit", "--config", "c.toml", "--out", "m.nc", "--thru=2005"],
     "r2p fit: error: unrecognized arguments: --thru=2005 (did you mean --through?)"),
    # abbreviations are not options: a new option must not change what a command line means
    (["validate", "--conf", "c.toml"],
     "r2p validate: error: unrecognized arguments: --conf (did you mean --config?)"),
    (["validate", "--config", "c.toml", "stray"],
     "r2p validate: error: unrecognized arguments: stray"),
])
def test_a_mistyped_option_is_named_as_unrecognized(capsys, argv, message) -> None:
    assert _refused(argv, capsys) == message


def test_a_negative_number_is_a_value_not_an_unknown_option() -> None:
    args = build_parser().parse_args(["backtest", "--config", "c.toml", "--origins", "-5"])
    assert args.origins == "-5"


# --- years from the command line ---------------------------------------------------------------

def test_parse_origins_bounds_years_before_building_a_range() -> None:
    with pytest.raises(InputError, match=r"^--origins 99999999: expected a year in 1800-2200"):
        parse_origins("1995-99999999")  # used to build a set of 10**8 years
    with pytest.raises(InputError, match=r"^--origins 1700: expected a year in 1800-2200"):
        parse_origins("1700,1995")
    assert parse_origins("1700-1702", years=(1600, 2200)) == [1700, 1701, 1702]


@pytest.mark.parametrize(("argv", "message"), [
    (["backtest", "--origins", "1995-99999999"], "--origins 99999999: expected a year in "
                                                 "1800-2200 ([data] years = [1800, 2200])"),
    (["pipeline", "--origins", "1995-99999999"], "--origins 99999999: expected a year"),
    (["fit", "--through", "99999999", "--out", "m.nc"], "--through 99999999: expected a year"),
    (["fit", "--through", str(10**30), "--out", "m.nc"], f"--through {10**30}: expected a year"),
    (["fit", "--through", "-5", "--out", "m.nc"], "--through -5: expected a year"),
    (["forecast", "--model", "m.nc", "--origin", "99999999"],
     "--origin 99999999: expected a year"),
])
def test_years_outside_the_range_exit_2_naming_the_option(world, capsys, argv, message) -> None:
    argv = [argv[0], "--config", str(world), *argv[1:]]
    assert main(["--log-format", "text", *argv]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"r2p {argv[0]}: error: {message}" in err
    assert not (world.parent / "out").exists() and not (world.parent / "m.nc").exists()


def test_fit_through_beyond_the_panel_names_its_last_year(world, capsys) -> None:
    """A fit through 2030 of a panel that ends in 2004 used to fit on everything and record
    ``through = 2030`` with the model."""
    out = world.parent / "m.nc"
    argv = ["--log-format", "text", "fit", "--config", str(world), "--through", "2030",
            "--out", str(out)]
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == (f"r2p fit: error: through = 2030: after the last year of the panel "
                   f"{world.parent / 'panel.csv'} (2004); a fit without `through` (or through "
                   "2004) uses every outcome it has\n")
    assert not out.exists()
    from r2p_models.model import fit

    with pytest.raises(InputError, match=r"^through = 2005: after the last year"):
        fit(load_panel(world), through=2005)


# --- previews are never recorded ---------------------------------------------------------------

PREVIEW = ('"{sampler}" is a preview: previews are approximations that are never '
           "convergence-checked, so they are not recorded in a ledger; use sampler = "
           '"nutpie" to record, or `r2p fit` / Python fit() for a preview')


def _preview_world(world: Path, sampler: str) -> Path:
    world.write_text(CONFIG + f'[model]\nsampler = "{sampler}"\ndraws = 50\n')
    return world


@pytest.mark.parametrize("sampler", ["advi", "pathfinder"])
@pytest.mark.parametrize("command", [["backtest", "--origins", "2002-2004"], ["rerun"],
                                     ["pipeline", "--origins", "2002"]])
def test_recording_commands_refuse_a_preview_sampler_before_anything(world, capsys, command,
                                                                     sampler) -> None:
    """With a preview sampler a backtest used to fit every origin and record nothing."""
    cfg = _preview_world(world, sampler)
    out = world.parent / "out"
    extra = ["--out", str(out)] if command[0] == "pipeline" else []
    argv = ["--log-format", "text", command[0], "--config", str(cfg), *command[1:], *extra]
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == (f"r2p {command[0]}: error: {cfg.resolve()} [model] sampler = "
                   + PREVIEW.format(sampler=sampler) + "\n")
    assert not out.exists()


def test_the_recording_functions_refuse_a_preview_sampler(world) -> None:
    cfg = load_config(_preview_world(world, "advi"))
    message = r"\[model\] sampler = \"advi\" is a preview: .* not recorded in a ledger"
    ledger = world.parent / "l.sqlite"
    with pytest.raises(InputError, match=message):
        run_backtest(cfg, load_panel(cfg), [2002], ledger=ledger)
    with pytest.raises(InputError, match=message):
        rerun(cfg)
    with pytest.raises(InputError, match=message):
        pipeline(cfg, out=world.parent / "out")
    assert not ledger.exists() and not (world.parent / "out").exists()
