"""An example ledger from the simulated default world, for tests, demos and benchmarks.

No model is fitted: the ledger holds the forecasts of two cheap forecasters whose quality
is known by construction, so a report built from it has a known answer.

- ``climatology``: each crime's onset rate known at the origin, the draws of
  :func:`r2p_models.backtest.base_rate_forecaster` (:func:`~r2p_models.backtest.base_rate_draws`),
  the reference of the skill scores;
- ``sim-oracle 1.0`` and ``sim-oracle 2.0``: the simulation's true window probabilities
  (``1 - prod(1 - truth.p)`` over the window) blurred by noise on the logit scale, version
  1.0 noisier and over-confident, 2.0 closer to the truth (two model vintages);
- ``analyst/desk-a``: a human-like assessment of the most fragile countries, the true
  probability rounded to a coarse scale with noise.

Backtest rows (postdictions) cover the early origins, real-time ``forecast`` rows the later
ones; every row whose window has ended by the panel's last year is resolved against the
panel. Issue and resolution times are fixed, so the same arguments give the same ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, logit

from r2p_models.backtest import base_rate_draws, forecast_rows
from r2p_models.data.simulate import DEFAULT_SEED, World, simulate_world
from r2p_models.ledger import Ledger
from r2p_models.outcomes import climatology

__all__ = ["example_ledger"]

_ANALYST_SCALE = np.array([0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7])


def _stamp(year: int, month: int = 3, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 0, 0, tzinfo=dt.UTC)


def _window_truth(world: World, origin: int, horizon: int) -> xr.DataArray:
    """True P(onset in origin+1..origin+horizon) for a country at risk, (country, crime)."""
    p = world.truth["p"].sel(year=slice(origin + 1, origin + horizon))
    return 1.0 - (1.0 - p).prod("year")


def _oracle_draws(
    truth: xr.DataArray, at_risk: xr.DataArray, *, noise: float, slope: float, spread: float,
    rng: np.random.Generator, n_draws: int = 200,
) -> xr.DataArray:
    """Posterior-like draws around a noisy, possibly over-confident version of the truth."""
    z = logit(np.clip(truth.values, 1e-6, 1 - 1e-6))
    centre = np.log(0.01 / 0.99) + slope * (z - np.log(0.01 / 0.99))
    centre = centre + noise * rng.normal(size=z.shape)
    draws = expit(centre[..., None] + spread * rng.normal(size=(*z.shape, n_draws)))
    out = xr.DataArray(draws, dims=("country", "crime", "draw"),
                       coords={"country": truth.country, "crime": truth.crime})
    return out.where(at_risk)


def example_ledger(
    path: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    n_years: int = 40,
    horizon: int = 2,
    backtest_origins: Sequence[int] | None = None,
    forecast_origins: Sequence[int] | None = None,
    crimes: Sequence[str] | None = None,
    analyst: bool = True,
    resolve: bool = True,
) -> tuple[Path, xr.Dataset]:
    """Write an example ledger made on the simulated world.

    Parameters
    ----------
    path : str or Path
        Ledger file to create (must not hold rows from another call).
    seed, scale, n_years : see :func:`r2p_models.data.simulate.simulate_world`
    horizon : int, default 2
        Window length in years.
    backtest_origins, forecast_origins : sequence of int, optional
        Origins of backtest (postdiction) rows and of real-time forecast rows. Default:
        the 20 origins before the last 10 years, and the last 10 years (the newest origins
        stay pending).
    crimes : sequence of str, optional
        Restrict the ledger to these crimes (default all four).
    analyst : bool, default True
        Add analyst assessments for the most fragile fifth of the countries.
    resolve : bool, default True
        Resolve every window that has ended by the panel's last year.

    Returns
    -------
    path : Path
        The ledger.
    panel : xarray.Dataset
        The panel (for ``region`` and ``proxy``).
    """
    path = Path(path)
    # Simulate `horizon` years beyond the panel so that the oracle knows the true risk of
    # the windows that are still pending at the panel's end; the panel stops at n_years.
    world = simulate_world(seed, n_years=n_years + horizon, scale=scale)
    cutoff = int(world.table["year"].min()) + n_years - 1
    world.table = world.table[world.table["year"] <= cutoff].reset_index(drop=True)
    world.reports = world.reports[world.reports["year"] <= cutoff].reset_index(drop=True)
    panel = world.panel
    last = int(panel.year.max())
    if forecast_origins is None:
        forecast_origins = list(range(last - 9, last + 1))
    if backtest_origins is None:
        first = min(forecast_origins)
        backtest_origins = list(range(first - 20, first))
    if crimes is not None:
        panel = panel.sel(crime=list(crimes))
        world.truth = world.truth.sel(crime=list(crimes))
    rates = climatology(panel, horizon)
    rng = np.random.default_rng(seed + 1)
    fragility = world.truth["fragility"].to_series().sort_values(ascending=False)
    desk = list(fragility.index[: max(2, len(fragility) // 5)])
    # Version 2.0 is released in January of year `release`: it then issues its backtest, and
    # real-time forecasts from origin `release - 1` on, the last origin of version 1.0 (so
    # the two versions share the cases of one origin).
    first_fc = min(forecast_origins, default=last + 1)
    release = max(max(forecast_origins, default=last) - 4, first_fc)
    early = _stamp(first_fc, 1, 15)
    data_hash = str(panel.attrs.get("data_hash", "example"))
    versions = (("sim-oracle 1.0", 0.9, 1.35, 0.45), ("sim-oracle 2.0", 0.45, 1.0, 0.3))
    with Ledger(path) as led:
        for kind, origins in (("backtest", backtest_origins), ("forecast", forecast_origins)):
            for origin in origins:
                when = early if kind == "backtest" else _stamp(origin + 1)
                clim = base_rate_draws(panel, origin, horizon, rates=rates)
                at_risk = clim.isel(draw=0, drop=True).notnull()
                truth = _window_truth(world, origin, horizon)
                vintages = [("climatology", clim, "clim", when)]
                for source, noise, slope, spread in versions:
                    draws = _oracle_draws(truth, at_risk, noise=noise, slope=slope,
                                          spread=spread, rng=rng)
                    tag = source.replace(" ", "-")
                    if source.endswith("1.0") and (kind == "backtest" or origin < release):
                        vintages.append((source, draws, tag, when))
                    elif source.endswith("2.0") and kind == "backtest":
                        vintages.append((source, draws, tag, _stamp(release, 1, 15)))
                    elif source.endswith("2.0") and origin >= release - 1:
                        vintages.append((source, draws, tag, when))
                _issue(led, kind, origin, horizon, vintages, data_hash)
                if analyst and kind == "forecast":
                    _issue_analyst(led, truth, at_risk, desk, origin, horizon, when, rng)
        if resolve:
            led.resolve(panel, outcome_source=f"simulated world seed {seed} "
                        f"(panel {data_hash[:12]})", observed_through=last,
                        resolved_at=_stamp(last + 1, 2, 1))
    return path, panel


def _issue(
    led: Ledger, kind: str, origin: int, horizon: int,
    vintages: list[tuple[str, xr.DataArray, str, dt.datetime]], data_hash: str,
) -> None:
    for source, draws, tag, when in vintages:
        rows = forecast_rows(draws, origin, horizon)
        led.issue(rows, source=source, kind=kind,  # type: ignore[arg-type]
                  run_id=f"{kind}-{tag}-{origin}", data_hash=data_hash,
                  config_hash=f"example-{tag}", issued_at=when)


def _issue_analyst(
    led: Ledger, truth: xr.DataArray, at_risk: xr.DataArray, desk: list[str], origin: int,
    horizon: int, when: dt.datetime, rng: np.random.Generator,
) -> None:
    """A desk officer's coarse assessments of the most fragile countries."""
    t = truth.sel(country=desk).where(at_risk.sel(country=desk))
    noisy = expit(logit(np.clip(t.values, 1e-6, 1 - 1e-6)) + 0.6 * rng.normal(size=t.shape))
    idx = np.abs(np.log(noisy[..., None]) - np.log(_ANALYST_SCALE)).argmin(-1)
    p = np.where(np.isnan(t.values), np.nan, _ANALYST_SCALE[idx])
    frame = pd.DataFrame({
        "origin_year": origin,
        "country": np.repeat(desk, t.sizes["crime"]),
        "crime": np.tile(t.crime.values, len(desk)),
        "target_start": origin + 1,
        "target_end": origin + horizon,
        "p_mean": p.ravel(),
    }).dropna(subset=["p_mean"])
    if not frame.empty:
        led.issue(frame, source="analyst/desk-a", kind="analyst", run_id=f"desk-a-{origin}",
                  data_hash=None, config_hash=None, issued_at=when)
