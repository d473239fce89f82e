"""The scheduled rerun and the CLI contract: idempotent, locked, exit codes, manifest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import snapshot

from r2p_models import model as model_pkg
from r2p_models.cli import EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_NOT_CONVERGED, EXIT_OK, main
from r2p_models.config import load_config
from r2p_models.data.simulate import simulate_world, write_world
from r2p_models.ledger import Ledger, ledger_lock

TINY_MODEL = """
[model]
chains = 2
draws = 60
tune = 60
horizon = 1
retries = 0
extend = 0
[ledger]
path = "ledger.sqlite"
[report]
path = "report.html"
"""


def _with_tiny_model(path: Path) -> None:
    """Replace the world's own [model] section by tiny settings plus outputs."""
    text = path.read_text()
    path.write_text(text[: text.index("[model]")] + TINY_MODEL)


@pytest.fixture(scope="module")
def world_config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rerun")
    path = write_world(simulate_world(3, n_years=14, scale=0.15), folder)
    _with_tiny_model(path)
    return path


@pytest.fixture(scope="module")
def real_fit():
    """The real fit function, and the fitted model it gives on the tiny world (cached)."""
    cache: dict[str, object] = {}
    real = model_pkg.fit

    def fit_once(panel, config, **kwargs):
        if "model" not in cache:
            cache["model"] = real(panel, config, **kwargs)
        cache["calls"] = int(cache.get("calls", 0)) + 1  # type: ignore[arg-type]
        return cache["model"]

    return fit_once, cache


def _as_converged(fit_once):
    """A fit whose convergence report says ok (the tiny world cannot converge in CI time)."""

    def fit(panel, config, **kwargs):
        fm = fit_once(panel, config, **kwargs)
        ok = dataclasses.replace(fm.diagnostics, ok=True, problems=())
        return dataclasses.replace(fm, diagnostics=ok)

    return fit


def test_unconverged_fit_issues_nothing_and_exits_3(world_config, real_fit, monkeypatch,
                                                    capsys) -> None:
    fit_once, _ = real_fit
    monkeypatch.setattr(model_pkg, "fit", fit_once)
    assert main(["rerun", "--config", str(world_config)]) == EXIT_NOT_CONVERGED
    ledger = world_config.parent / "ledger.sqlite"
    with Ledger(ledger) as led:
        assert len(led.rows(kind="forecast")) == 0
    manifests = list((world_config.parent / "runs").glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["status"] == "not_converged"
    assert manifest["diagnostics"]["problems"]
    assert "not_converged" in capsys.readouterr().out


def test_rerun_issues_once_and_a_second_run_changes_nothing(world_config, real_fit,
                                                            monkeypatch) -> None:
    fit_once, cache = real_fit
    monkeypatch.setattr(model_pkg, "fit", _as_converged(fit_once))
    from r2p_models.rerun import rerun

    first = rerun(world_config)
    assert first.status == "ok" and first.issued > 0
    ledger = world_config.parent / "ledger.sqlite"
    with Ledger(ledger) as led:
        rows = led.rows()
    assert set(rows["kind"]) == {"forecast"}
    assert set(rows["origin_year"]) == {first.origin}
    report = Path(first.report).read_bytes()
    # the run's information gaps are saved beside it and shown in the report
    run_dir = Path(first.manifest).parent
    assert (run_dir / "infogap_voi.csv").exists() and (run_dir / "infogap_ranking.csv").exists()
    assert b"Where missing information matters most" in report
    manifest = json.loads(Path(first.manifest).read_text())
    assert manifest["versions"]["pymc"] and manifest["inputs"] and manifest["seed"] == 20051
    assert {"fit", "forecast", "resolve", "score", "report"} <= set(manifest["timings"])

    calls = cache["calls"]
    second = rerun(world_config)
    assert second.status == "unchanged" and second.issued == 0
    assert cache["calls"] == calls  # not refitted
    with Ledger(ledger) as led:
        assert led.rows().equals(rows)
    assert Path(second.report).read_bytes() == report


def test_second_concurrent_run_is_refused_with_exit_4(world_config, monkeypatch,
                                                      capsys) -> None:
    _no_fit(monkeypatch)
    ledger = world_config.parent / "ledger.sqlite"
    thread, release = _hold_lock_in_a_thread(ledger)  # another run (the lock is re-entrant
    try:                                             # in the thread that holds it)
        assert main(["rerun", "--config", str(world_config)]) == EXIT_LOCKED
    finally:
        release.set()
        thread.join(20)
    err = capsys.readouterr().err
    assert "locked by another run" in err and "pid" in err


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    path = _bad_world(tmp_path)
    assert main(["rerun", "--config", str(path)]) == EXIT_BAD_INPUT
    assert "must be 0, 1 or blank" in capsys.readouterr().err
    assert not (tmp_path / "ledger.sqlite").exists()
    assert not (tmp_path / "report.html").exists()


def test_ledger_export_has_the_contract_columns(world_config, tmp_path, capsys) -> None:
    ledger = world_config.parent / "ledger.sqlite"
    if not ledger.exists():
        pytest.skip("needs the ledger of the rerun test")
    out = tmp_path / "rows.csv"
    assert main(["ledger", "export", "--ledger", str(ledger), "--out", str(out)]) == EXIT_OK
    header = out.read_text().splitlines()[0].split(",")
    for col in ("source", "kind", "run_id", "origin_year", "country", "crime", "target_start",
                "target_end", "p_mean", "p_q05", "p_q50", "p_q95", "outcome"):
        assert col in header


def test_config_hash_ignores_output_locations(world_config) -> None:
    cfg = load_config(world_config)
    moved = cfg.with_outputs(ledger=Path("/elsewhere/l.sqlite"), report=Path("/x/r.html"))
    assert moved.hash() == cfg.hash()
    assert moved.ledger.path == Path("/elsewhere/l.sqlite")


def test_rerun_records_the_recalibrated_forecast_from_the_track_record(
        tmp_path, real_fit, monkeypatch) -> None:
    """``[ledger] recalibrate = true``: the new forecast shifted by the source's known bias."""
    import numpy as np

    from r2p_models.backtest import model_source
    from r2p_models.calibration import intercept_shift
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import rerun

    fit_once, _ = real_fit
    monkeypatch.setattr(model_pkg, "fit", _as_converged(fit_once))
    world = simulate_world(3, n_years=14, scale=0.15)
    path = write_world(world, tmp_path)
    _with_tiny_model(path)
    path.write_text(path.read_text().replace('path = "ledger.sqlite"',
                                             'path = "ledger.sqlite"\nrecalibrate = true'))
    cfg = load_config(path)
    assert cfg.ledger.recalibrate
    panel = load_panel(cfg)
    # a track record: earlier forecasts of the same source, four times too high in the odds
    years = [int(y) for y in panel.year.values]
    onset = panel["onset"]
    history = []
    for t in years[2:-3]:
        for c in panel.country.values:
            for k in panel.crime.values:
                y = onset.sel(country=c, year=t + 1, crime=k).item()
                if np.isfinite(y):
                    history.append({"origin_year": t, "country": str(c), "crime": str(k),
                                    "target_start": t + 1, "target_end": t + 1,
                                    "p_mean": 0.04})
    history = pd.DataFrame(history)
    source = model_source(cfg)
    with Ledger(tmp_path / "ledger.sqlite") as led:
        led.issue(history, source=source, kind="backtest", run_id="old", data_hash="d",
                  config_hash="c")
    result = rerun(path)
    assert result.status == "ok" and "recalibrate" in result.timings
    with Ledger(tmp_path / "ledger.sqlite") as led:
        rows = led.rows()
    hist = rows[(rows.source == source) & (rows.outcome_status == "observed")
                & (rows.target_end <= result.origin)]
    now = rows[(rows.source == source) & (rows.origin_year == result.origin)]
    recal = rows[(rows.source == f"{source} recalibrated") & (rows.origin_year == result.origin)]
    assert len(recal) == len(now) > 0
    for crime, grp in hist.groupby("crime"):
        a = intercept_shift(grp["p_mean"].to_numpy(), grp["outcome"].to_numpy())
        mine = now[now.crime == crime].set_index("country")["p_mean"]
        theirs = recal[recal.crime == crime].set_index("country")["p_mean"]
        expected = 1 / (1 + np.exp(-(np.log(mine / (1 - mine)) + a)))
        np.testing.assert_allclose(theirs.loc[mine.index], expected, rtol=1e-9)
    # the report's watchlist features the model's own forecasts, not the recalibration
    from r2p_models.report.build import report_content

    content = report_content(tmp_path / "ledger.sqlite", n_boot=10)
    assert content.watchlist_info["source"] == source
    assert f"{source} recalibrated" in content.watchlist_info["other_sources"]
    # a second run changes nothing
    second = rerun(path)
    assert second.status == "unchanged"
    with Ledger(tmp_path / "ledger.sqlite") as led:
        assert led.rows().drop(columns=["resolved_at"]).equals(rows.drop(columns=["resolved_at"]))


def test_ledger_recalibrate_must_be_a_boolean(tmp_path) -> None:
    from r2p_models.config import ConfigError

    path = write_world(simulate_world(3, n_years=8, scale=0.1), tmp_path)
    _with_tiny_model(path)
    path.write_text(path.read_text().replace('path = "ledger.sqlite"',
                                             'path = "ledger.sqlite"\nrecalibrate = "yes"'))
    with pytest.raises(ConfigError, match=r"\[ledger\] recalibrate = 'yes'"):
        load_config(path)


@pytest.mark.parametrize("command", ["score", "report", "resolve"])
def test_read_only_commands_refuse_a_missing_ledger(tmp_path, capsys, command) -> None:
    """A mistyped [ledger] path is an error (exit 2), never a new empty ledger."""
    path = write_world(simulate_world(3, n_years=8, scale=0.1), tmp_path)
    _with_tiny_model(path)
    path.write_text(path.read_text().replace('path = "ledger.sqlite"', 'path = "ledgr.sqlite"'))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["--log-format", "text", command, "--config", str(path)]) == EXIT_BAD_INPUT
    assert "ledgr.sqlite does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_fit_out_in_a_missing_folder_creates_it(world_config, real_fit, monkeypatch,
                                                 tmp_path) -> None:
    fit_once, _ = real_fit
    monkeypatch.setattr(model_pkg, "fit", fit_once)
    out = tmp_path / "new" / "sub" / "m.nc"
    rc = main(["--log-format", "text", "fit", "--config", str(world_config), "--out", str(out)])
    assert rc in (EXIT_OK, EXIT_NOT_CONVERGED)  # the tiny fit need not converge
    assert out.is_file()


def test_fit_out_that_cannot_be_written_fails_before_fitting(world_config, monkeypatch,
                                                             tmp_path, capsys) -> None:
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before the output path was checked")

    monkeypatch.setattr(model_pkg, "fit", no_fit)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker / "m.nc"
    rc = main(["--log-format", "text", "fit", "--config", str(world_config), "--out", str(out)])
    assert rc == EXIT_BAD_INPUT
    assert f"{blocker} is a file, not a folder" in capsys.readouterr().err
    rc = main(["--log-format", "text", "fit", "--config", str(world_config),
               "--out", str(tmp_path)])
    assert rc == EXIT_BAD_INPUT
    assert "is a folder; give a file name" in capsys.readouterr().err


def _bad_world(tmp_path: Path) -> Path:
    """A world whose panel fails a check (an outcome of 7)."""
    path = write_world(simulate_world(3, n_years=8, scale=0.1), tmp_path)
    _with_tiny_model(path)
    table = tmp_path / "panel.csv"
    df = pd.read_csv(table)
    df.loc[4, "genocide_onset"] = 7
    df.to_csv(table, index=False)
    return path


def test_rerun_on_bad_data_creates_no_folder_and_no_lock(tmp_path, capsys) -> None:
    path = _bad_world(tmp_path)
    path.write_text(path.read_text().replace('path = "ledger.sqlite"',
                                             'path = "newfolder/sub/ledger.sqlite"'))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["--log-format", "text", "rerun", "--config", str(path)]) == EXIT_BAD_INPUT
    assert "must be 0, 1 or blank" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_pipeline_on_bad_input_leaves_no_output_folder(tmp_path, capsys) -> None:
    path = _bad_world(tmp_path)
    out = tmp_path / "X"
    assert main(["--log-format", "text", "pipeline", "--config", str(path),
                 "--out", str(out)]) == EXIT_BAD_INPUT
    assert "must be 0, 1 or blank" in capsys.readouterr().err
    assert not out.exists()
    good = write_world(simulate_world(3, n_years=8, scale=0.1), tmp_path / "good")
    _with_tiny_model(good)
    assert main(["--log-format", "text", "pipeline", "--config", str(good), "--out", str(out),
                 "--origins", "2090"]) == EXIT_BAD_INPUT
    assert "origins [2090]" in capsys.readouterr().err
    assert not out.exists()


def test_analyst_quantiles_must_bracket_p_and_unknown_countries_are_named(tmp_path,
                                                                           capsys) -> None:
    path = write_world(simulate_world(3, n_years=8, scale=0.1), tmp_path)
    _with_tiny_model(path)
    ledger = tmp_path / "ledger.sqlite"
    country = pd.read_csv(tmp_path / "panel.csv")["country"].iloc[0]
    head = "origin_year,country,crime,target_start,target_end,p,p_q05,p_q50,p_q95\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(head + f"1982,{country},genocide,1983,1984,0.1,0.05,0.1,0.2\n"
                          f"1982,{country},war_crimes,1983,1984,0.1,0.2,0.3,0.4\n"
                          f"1983,{country},genocide,1984,1985,0.5,0.1,0.2,0.3\n")
    args = ["--log-format", "text", "ledger", "import-analyst", "--ledger", str(ledger),
            "--analyst", "jdoe"]
    assert main([*args, "--csv", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "column 'p_q05' must not exceed 'p'; found '0.2 > 0.1' at row 2 (line 3)" in err
    assert len(err.strip().splitlines()) == 1
    assert not ledger.exists()  # a bad file into a new ledger creates nothing
    bad.write_text(head + f"1983,{country},genocide,1984,1985,0.5,0.1,0.2,0.3\n")
    assert main([*args, "--csv", str(bad)]) == EXIT_BAD_INPUT
    assert "column 'p' must not exceed 'p_q95'; found '0.5 > 0.3' at row 1 (line 2)" in \
        capsys.readouterr().err

    good = tmp_path / "good.csv"
    good.write_text(head + f"1982,{country},genocide,1983,1984,0.1,0.05,0.1,0.2\n"
                           "1982,XX99,genocide,1983,1984,0.1,,,\n")
    assert main([*args, "--csv", str(good)]) == EXIT_OK
    capsys.readouterr()
    assert main(["--log-format", "text", "resolve", "--config", str(path)]) == EXIT_OK
    err = capsys.readouterr().err
    assert "1 pending forecast(s) of source 'jdoe' name countries that are not in the " \
           "panel" in err and "['XX99']" in err
    with Ledger(ledger) as led:
        rows = led.rows().set_index("country")
    assert rows.loc[str(country), "outcome_status"] in ("observed", "not_at_risk")
    assert rows.loc["XX99", "outcome_status"] == "pending"


def test_every_command_help_has_a_description() -> None:
    import argparse

    from r2p_models.cli import build_parser

    def commands(parser: argparse.ArgumentParser, prefix: str = ""):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield f"{prefix}{name}", sub
                    yield from commands(sub, f"{prefix}{name} ")

    found = dict(commands(build_parser()))
    assert {"pipeline", "fit", "ledger export", "ledger import-analyst"} <= set(found)
    missing = [name for name, sub in found.items() if not sub.description]
    assert missing == []
    assert "the main job" in found["pipeline"].format_help()


def _small_world(tmp_path: Path) -> Path:
    path = write_world(simulate_world(3, n_years=14, scale=0.1), tmp_path)
    _with_tiny_model(path)
    return path




def _no_fit(monkeypatch) -> None:
    """Make any model fit fail the test (these tests must never fit)."""
    from r2p_models import backtest

    def no_fit(*args, **kwargs):
        raise AssertionError("a model was fitted")

    monkeypatch.setattr(model_pkg, "fit", no_fit)
    monkeypatch.setattr(backtest, "model_forecaster", no_fit)


def _prefilled(path: Path) -> tuple[Path, list[int]]:
    """Issue the model's current forecast and its default backtest origins by hand, so
    that ``rerun`` and ``pipeline`` find everything done and fit nothing."""
    from r2p_models.backtest import model_source
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import default_origins, latest_origin

    cfg = load_config(path)
    panel = load_panel(cfg)
    h = cfg.model.horizon
    source = model_source(cfg)
    ledger = path.parent / "ledger.sqlite"
    origins = default_origins(panel, h)

    def rows(origin: int) -> pd.DataFrame:
        idx = pd.MultiIndex.from_product([[str(c) for c in panel.country.values],
                                          [str(k) for k in panel.crime.values]],
                                         names=["country", "crime"])
        df = idx.to_frame(index=False)
        df["origin_year"], df["target_start"], df["target_end"] = origin, origin + 1, origin + h
        df["p_mean"] = 0.05
        return df

    with Ledger(ledger) as led:
        for t in origins:
            led.issue(rows(t), source=source, kind="backtest", run_id="bt", data_hash="d",
                      config_hash=cfg.hash())
        led.issue(rows(latest_origin(panel)), source=source, kind="forecast", run_id="old",
                  data_hash="d", config_hash=cfg.hash())
    return ledger, origins


@pytest.mark.parametrize("command", ["pipeline", "rerun"])
def test_a_run_leaves_no_lock_file_and_clears_stale_temporaries(tmp_path, monkeypatch,
                                                                  command) -> None:
    path = _small_world(tmp_path)
    ledger, _ = _prefilled(path)
    _no_fit(monkeypatch)
    old = tmp_path / "runs" / "old"
    old.mkdir(parents=True)
    stale = [old / ".model.nc.k3j2h1g0.tmp", old / ".manifest.json.a_b_c_d_.tmp"]
    for p in stale:
        p.touch()  # left by a run killed while saving
    kept = [old / "model.nc", old / "notes.tmp", old / ".hidden"]
    for p in kept:
        p.write_text("keep")
    out = ["--out", str(tmp_path)] if command == "pipeline" else []  # same ledger
    assert main(["--log-format", "text", command, "--config", str(path), *out]) == EXIT_OK
    assert not Path(f"{ledger}.lock").exists()
    assert not any(p.exists() for p in stale)
    assert all(p.read_text() == "keep" for p in kept)


def _hold_lock_in_a_thread(ledger: Path):
    """Hold the ledger's run lock in another thread (another run) until the event is set."""
    import threading

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with ledger_lock(ledger):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(20)
    return thread, release


def test_every_writer_takes_the_ledger_lock_and_readers_do_not(tmp_path, monkeypatch,
                                                                capsys) -> None:
    path = _small_world(tmp_path)
    ledger, origins = _prefilled(path)
    _no_fit(monkeypatch)
    country = pd.read_csv(tmp_path / "panel.csv")["country"].iloc[0]
    analyst = tmp_path / "jdoe.csv"
    analyst.write_text("origin_year,country,crime,target_start,target_end,p\n"
                       f"{origins[0]},{country},genocide,{origins[0] + 1},{origins[0] + 1},0.1\n")
    from r2p_models.backtest import model_source

    source = model_source(load_config(path))
    writers = {
        "pipeline": ["pipeline", "--config", str(path), "--out", str(tmp_path)],
        "rerun": ["rerun", "--config", str(path)],
        "backtest": ["backtest", "--config", str(path), "--origins", str(origins[0] - 1)],
        "resolve": ["resolve", "--config", str(path)],
        "import-analyst": ["ledger", "import-analyst", "--ledger", str(ledger), "--csv",
                           str(analyst), "--analyst", "jdoe"],
        "recalibrate": ["ledger", "recalibrate", "--ledger", str(ledger), "--source", source],
    }
    readers = {
        "score": ["score", "--config", str(path)],
        "report": ["report", "--config", str(path), "--out", str(tmp_path / "r.html")],
        "export": ["ledger", "export", "--ledger", str(ledger), "--out", str(tmp_path / "x.csv")],
        "verify": ["ledger", "verify", "--ledger", str(ledger)],
    }
    before = snapshot(ledger)
    thread, release = _hold_lock_in_a_thread(ledger)
    try:
        for name, args in writers.items():
            assert main(["--log-format", "text", *args]) == EXIT_LOCKED, name
            err = capsys.readouterr().err
            assert "locked by another run" in err and "pid" in err, name
        assert snapshot(ledger) == before  # no writer wrote
        for name, args in readers.items():
            assert main(["--log-format", "text", *args]) == EXIT_OK, name
    finally:
        release.set()
        thread.join(20)
    assert snapshot(ledger) == before


def test_a_ledger_path_that_is_a_folder_is_an_input_error(tmp_path, monkeypatch,
                                                         capsys) -> None:
    path = _small_world(tmp_path)
    _no_fit(monkeypatch)
    (tmp_path / "ledgers").mkdir()
    (tmp_path / "out" / "ledger.sqlite").mkdir(parents=True)
    path.write_text(path.read_text().replace('path = "ledger.sqlite"', 'path = "ledgers"'))
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("rerun", "resolve", "score", "report"):
        assert main(["--log-format", "text", command, "--config", str(path)]) == \
            EXIT_BAD_INPUT, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "[ledger] path" in err[0] and "is a folder" in err[0], err
    for args in (["pipeline", "--out", str(tmp_path / "out")],
                 ["backtest", "--origins", "1990", "--ledger", str(tmp_path / "ledgers")]):
        assert main(["--log-format", "text", *args, "--config", str(path)]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ": is a folder" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "ledgers").iterdir()) == []
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "ledger.sqlite"]
