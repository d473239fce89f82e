"""Rolling-origin backtests: ledger rows, resume, parallel runs and no look-ahead."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from r2p_models.backtest import (
    OriginForecast,
    base_rate_draws,
    base_rate_forecaster,
    forecast_rows,
    model_forecaster,
    model_source,
    parse_origins,
    run_backtest,
)
from r2p_models.config import ConfigError, ModelConfig, load_config
from r2p_models.data.simulate import simulate_world, write_world
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    world = simulate_world(11, n_years=16, scale=0.25)
    cfg = load_config(write_world(world, folder))
    from r2p_models.data.panel import load_panel

    return cfg, load_panel(cfg)


def _failing_after(limit: int, panel, config, origin):
    """A forecaster that 'crashes' on origins after ``limit`` (an interrupted run)."""
    if origin > limit:
        raise KeyboardInterrupt(f"interrupted at {origin}")
    return base_rate_forecaster(panel, config, origin)


def test_forecast_rows_summarise_draws() -> None:
    rng = np.random.default_rng(0)
    values = rng.beta(1, 30, size=(3, 2, 400))
    values[1, 0] = np.nan  # not at risk
    draws = xr.DataArray(values, dims=("country", "crime", "draw"),
                         coords={"country": ["A", "B", "C"],
                                 "crime": ["genocide", "war_crimes"]})
    rows = forecast_rows(draws, 2000, 2)
    assert len(rows) == 5
    assert set(rows["target_start"]) == {2001} and set(rows["target_end"]) == {2002}
    r = rows[(rows.country == "C") & (rows.crime == "war_crimes")].iloc[0]
    assert r.p_mean == pytest.approx(values[2, 1].mean())
    assert r.p_q05 == pytest.approx(np.quantile(values[2, 1], 0.05))
    assert r.p_q95 == pytest.approx(np.quantile(values[2, 1], 0.95))


def test_forecast_rows_issue_nothing_where_not_at_risk() -> None:
    draws = xr.DataArray(np.full((2, 2, 10), 0.1), dims=("country", "crime", "draw"),
                         coords={"country": ["A", "B"], "crime": ["genocide", "war_crimes"],
                                 "at_risk": (("country", "crime"),
                                             [[True, False], [True, True]])})
    rows = forecast_rows(draws, 2000, 1)
    assert sorted(zip(rows.country, rows.crime, strict=True)) == [
        ("A", "genocide"), ("B", "genocide"), ("B", "war_crimes")]


def test_model_backtest_issues_no_onset_forecast_inside_an_episode(small, tmp_path) -> None:
    """The model's forecasts follow the same at-risk rule as the base-rate forecaster:
    no row for a country-crime with an episode under way or beginning at the origin."""
    cfg, panel = small
    origin = 1992
    quick = replace(cfg, model=replace(cfg.model, sampler="advi", draws=50, seed=1))
    run_backtest(quick, panel, [origin], ledger=tmp_path / "l.sqlite",
                 forecaster=model_forecaster, require_convergence=False)
    with Ledger(tmp_path / "l.sqlite") as led:
        rows = led.rows()
    issued = set(zip(rows.country, rows.crime, strict=True))
    at = panel.sel(year=origin)
    busy = (at["ongoing"] == 1) | (at["onset"] == 1)
    expected = {(c, k) for c in panel.country.values for k in panel.crime.values
                if bool(at["present"].sel(country=c)) and not bool(busy.sel(country=c, crime=k))}
    assert busy.sum() > 0  # the world has such cases at this origin
    assert issued == expected
    reference = forecast_rows(base_rate_forecaster(panel, quick.model, origin).draws, origin,
                              quick.model.horizon)
    assert issued == set(zip(reference.country, reference.crime, strict=True))


def test_parse_origins() -> None:
    assert parse_origins("1995-1998") == [1995, 1996, 1997, 1998]
    assert parse_origins("2001, 1995-1996") == [1995, 1996, 2001]
    with pytest.raises(InputError, match="expected years like 1995-2006"):
        parse_origins("1998-1995")


def test_backtest_records_rows_and_resumes_after_interruption(small, tmp_path) -> None:
    cfg, panel = small
    ledger = tmp_path / "ledger.sqlite"
    origins = [1988, 1989, 1990, 1991]
    with pytest.raises(KeyboardInterrupt):
        run_backtest(cfg, panel, origins, ledger=ledger,
                     forecaster=functools.partial(_failing_after, 1989))
    with Ledger(ledger) as led:
        first = led.rows()
    assert sorted(first["origin_year"].unique()) == [1988, 1989]
    assert set(first["kind"]) == {"backtest"}
    assert set(first["source"]) == {model_source(cfg)}

    calls: list[int] = []
    summary = run_backtest(cfg, panel, origins, ledger=ledger, forecaster=base_rate_forecaster,
                           on_origin=lambda r: calls.append(r.origin))
    assert summary.skipped == [1988, 1989]
    assert summary.done == [1990, 1991] and calls == [1990, 1991]  # finished ones not redone
    with Ledger(ledger) as led:
        rows = led.rows()
    # the earlier rows are untouched, the later ones added
    assert rows[rows.origin_year <= 1989].drop(columns="id").reset_index(drop=True).equals(
        first.drop(columns="id").reset_index(drop=True))
    assert sorted(rows["origin_year"].unique()) == origins
    # a third run has nothing left to do
    again = run_backtest(cfg, panel, origins, ledger=ledger, forecaster=base_rate_forecaster)
    assert again.done == [] and again.skipped == origins


def test_parallel_workers_give_the_same_ledger(small, tmp_path) -> None:
    cfg, panel = small
    origins = [1990, 1991, 1992]
    run_backtest(cfg, panel, origins, ledger=tmp_path / "a.sqlite",
                 forecaster=base_rate_forecaster)
    run_backtest(cfg, panel, origins, ledger=tmp_path / "b.sqlite",
                 forecaster=base_rate_forecaster, workers=2)
    cols = ["origin_year", "country", "crime", "p_mean"]
    with Ledger(tmp_path / "a.sqlite") as a, Ledger(tmp_path / "b.sqlite") as b:
        ra = a.rows().sort_values(cols[:3]).reset_index(drop=True)[cols]
        rb = b.rows().sort_values(cols[:3]).reset_index(drop=True)[cols]
    assert ra.equals(rb)


def test_dask_scheduler_runs_the_same_worker_function(small, tmp_path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    cfg, panel = small
    origins = [1990, 1991]
    run_backtest(cfg, panel, origins, ledger=tmp_path / "a.sqlite",
                 forecaster=base_rate_forecaster)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        run_backtest(cfg, panel, origins, ledger=tmp_path / "d.sqlite",
                     forecaster=base_rate_forecaster, scheduler=cluster.scheduler_address)
    cols = ["origin_year", "country", "crime", "p_mean"]
    with Ledger(tmp_path / "a.sqlite") as a, Ledger(tmp_path / "d.sqlite") as d:
        assert a.rows().sort_values(cols[:3])[cols].reset_index(drop=True).equals(
            d.rows().sort_values(cols[:3])[cols].reset_index(drop=True))


def test_base_rate_forecaster_uses_only_windows_known_at_origin(small) -> None:
    """Garbage after the origin year must not change a backtest forecast (leakage)."""
    cfg, panel = small
    origin = 1990
    clean = base_rate_forecaster(panel, cfg.model, origin).draws
    spoiled = panel.copy(deep=True)
    later = spoiled.year > origin
    spoiled["onset"] = spoiled["onset"].where(~later, 1.0)
    spoiled["X"] = spoiled["X"].where(~later, 99.0)
    xr.testing.assert_identical(clean, base_rate_forecaster(spoiled, cfg.model, origin).draws)
    # and the rate is the one computed by hand from windows ending by the origin, of
    # cases at risk at their own origin (the cases a forecast is issued for and scored)
    h = cfg.model.horizon
    onset, at_risk = panel["onset"].sel(crime="war_crimes"), (
        (panel["ongoing"].sel(crime="war_crimes") == 0) & panel["present"])
    hits = total = 0
    for s in range(int(panel.year.min()), origin - h + 1):
        for c in panel.country.values:
            if not at_risk.sel(country=c, year=s) or onset.sel(country=c, year=s) == 1:
                continue
            w = onset.sel(country=c, year=slice(s + 1, s + h)).values
            if (w == 1).any():
                hits, total = hits + 1, total + 1
            elif not np.isnan(w).any():
                total += 1
    got = float(clean.sel(crime="war_crimes").max())
    assert got == pytest.approx(hits / total)


def test_base_rate_draws_are_one_home(small, tmp_path) -> None:
    """The base-rate forecaster and the example ledger's climatology source issue the same
    draws (base_rate_draws), with the climatology computed once or per origin."""
    from r2p_models.outcomes import climatology
    from r2p_models.report.example import example_ledger

    cfg, panel = small
    h = cfg.model.horizon
    rates = climatology(panel, h)
    for origin in (1985, 1990):
        draws = base_rate_draws(panel, origin, h, rates=rates)
        xr.testing.assert_identical(draws, base_rate_draws(panel, origin, h))
        xr.testing.assert_identical(draws, base_rate_forecaster(panel, cfg.model, origin).draws)
    path, ex_panel = example_ledger(tmp_path / "example.sqlite", scale=0.1, n_years=16,
                                    backtest_origins=[1990], forecast_origins=[],
                                    analyst=False)
    with Ledger(path) as led:
        clim = led.rows(source="climatology").sort_values(["country", "crime"])
    assert len(clim) > 0
    want = forecast_rows(base_rate_draws(ex_panel, 1990, 2), 1990, 2).sort_values(
        ["country", "crime"])
    assert list(zip(clim.country, clim.crime, strict=True)) == list(
        zip(want.country, want.crime, strict=True))
    np.testing.assert_allclose(clim["p_mean"], want["p_mean"], rtol=0, atol=1e-12)


def test_unconverged_origins_are_not_recorded(small, tmp_path) -> None:
    cfg, panel = small

    summary = run_backtest(cfg, panel, [1990], ledger=tmp_path / "l.sqlite",
                           forecaster=_unconverged)
    assert summary.unconverged == [1990] and not summary.ok
    with Ledger(tmp_path / "l.sqlite") as led:
        assert len(led.rows()) == 0


def _unconverged(panel, config: ModelConfig, origin: int) -> OriginForecast:
    res = base_rate_forecaster(panel, config, origin)
    return OriginForecast(origin, res.draws, converged=False, diagnostics={"max_rhat": 1.4})


def test_origins_without_training_windows_are_refused(small, tmp_path: Path) -> None:
    cfg, panel = small
    with pytest.raises(InputError, match=r"origins \[1981\]: each origin must lie in 1982-1995"):
        run_backtest(cfg, panel, [1981, 1990], ledger=tmp_path / "l.sqlite",
                     forecaster=base_rate_forecaster)
    assert not (tmp_path / "l.sqlite").exists()


def test_models_trained_on_other_cases_are_other_sources(small) -> None:
    """A ledger keeps the forecasts of the two training rules apart (and a backtest of one
    never resumes from the other's rows)."""
    cfg, _ = small
    default = model_source(cfg)
    origin = model_source(replace(cfg, model=replace(cfg.model, train_at_risk="origin")))
    assert origin == default + " (trained at risk at origin)"
    with pytest.raises(ConfigError, match=r"\[model\] train_at_risk = 'first'"):
        ModelConfig(train_at_risk="first")
