"""Rolling-origin backtests: fit on what was known at each origin, forecast the next window.

For each origin year ``t`` the forecaster fits only on observations whose outcome window
had ended by ``t`` (``through=t``: an observation with origin ``s`` and horizon ``h`` is
used only if ``s + h <= t``), then forecasts the window ``t+1 .. t+h`` from the
indicators of year ``t``. The forecasts go into the ledger as ``kind='backtest'`` rows
(postdictions, never mixed with real-time skill), one transaction per origin.

Resuming: an origin that already has backtest rows of the same source in the ledger is
skipped, so an interrupted backtest picks up where it stopped without redoing finished
origins. Origins are independent fits; they run in parallel in worker processes on one
machine (``workers``), or on a Dask cluster when a scheduler address is given, with the
same worker function. Only the parent process writes to the ledger.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import xarray as xr

from r2p_models._version import __version__
from r2p_models.config import DEFAULT_YEARS, PREVIEW_SAMPLERS, ModelConfig, RunConfig, check_year
from r2p_models.data.panel import panel_as_of
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger, ledger_lock
from r2p_models.outcomes import at_risk_mask, climatology
from r2p_models.progress import FitProgress, rounded_diagnostics

__all__ = [
    "BacktestSummary",
    "Forecaster",
    "OriginForecast",
    "base_rate_draws",
    "base_rate_forecaster",
    "check_origins",
    "check_recordable",
    "forecast_rows",
    "model_forecaster",
    "model_source",
    "parse_origins",
    "run_backtest",
]

log = logging.getLogger(__name__)


@dataclass
class OriginForecast:
    """What a forecaster returns for one origin year.

    Attributes
    ----------
    origin : int
    draws : xarray.DataArray
        P(onset in the window) with dims ``(country, crime, draw)``; NaN where the
        country is absent at the origin, and NaN or an ``at_risk`` coordinate that is
        False where it is not at risk (an episode under way or beginning in the origin
        year). Such cases get no forecast (:func:`forecast_rows`).
    converged : bool
        Whether the fit passed its convergence checks.
    diagnostics : dict
        Figures worth logging (max r_hat, min ESS, divergences, seconds).
    """

    origin: int
    draws: xr.DataArray
    converged: bool = True
    diagnostics: dict[str, Any] = field(default_factory=dict)


class Forecaster(Protocol):
    """Fits on data known at ``origin`` and forecasts the window after it.

    Must be picklable (a module-level function or a ``functools.partial`` of one) so
    that it can run in worker processes or on a Dask cluster.
    """

    def __call__(self, panel: xr.Dataset, config: ModelConfig, origin: int) -> OriginForecast:
        ...


def model_forecaster(panel: xr.Dataset, config: ModelConfig, origin: int, *,
                     progress: bool = False) -> OriginForecast:
    """The default forecaster: fit the configured model through ``origin`` and predict.

    Fits in one process share compiled samplers
    (:data:`r2p_models.model.fit.SHARED_SAMPLERS`); ``progress`` shows the sampler's bar.
    """
    from r2p_models.model import fit
    from r2p_models.model.fit import SHARED_SAMPLERS

    start = time.perf_counter()
    fitted = fit(panel, config, through=origin, progress=progress, warn=False,
                 samplers=SHARED_SAMPLERS)
    draws = fitted.predict(panel, origin)
    report = fitted.diagnostics
    diag = rounded_diagnostics({
        "max_rhat": report.max_rhat, "min_ess_bulk": report.min_ess_bulk,
        "min_ess_tail": report.min_ess_tail, "divergences": report.divergences,
        "chains": int(fitted.meta.get("chains_used", config.chains)),
        "seconds": time.perf_counter() - start})
    return OriginForecast(origin, draws, converged=bool(report.ok), diagnostics=diag)


def model_source(config: RunConfig) -> str:
    """Ledger source name of this package's model: ``"<name> <version> <variant>"``.

    A model with one effect scale (``pooled``, or a one-crime panel) whose scale is not
    learned (``[model] effect_scale``) is another forecaster: ``" (effect scale
    <setting>)"`` is appended (the joint multi-crime variants ignore the setting); so is
    one trained only on cases at risk at their origin (``[model] train_at_risk =
    "origin"``): ``" (trained at risk at origin)"``; so is one with interaction rules
    (``[model] rules``): ``" (rules <n>)"``; so is one with smooth terms (``[model]
    smooth``): ``" (smooth <knots> x<smooth_scale>)"``.
    """
    source = f"{config.ledger.source} {__version__} {config.model.variant}"
    one_scale = config.model.variant == "pooled" or len(config.crimes) == 1
    if one_scale and config.model.effect_scale != "learned":
        source += f" (effect scale {config.model.effect_scale})"
    if config.model.train_at_risk != "target_year":
        source += " (trained at risk at origin)"
    if config.model.rules:
        source += f" (rules {config.model.rules})"
    if config.model.smooth:
        basis = "" if config.model.smooth_basis == "whitened" else f" {config.model.smooth_basis}"
        source += f" (smooth {config.model.smooth} x{config.model.smooth_scale:g}{basis})"
    return source


def forecast_rows(draws: xr.DataArray, origin: int, horizon: int) -> pd.DataFrame:
    """Turn posterior draws of window probabilities into ledger rows.

    Parameters
    ----------
    draws : xarray.DataArray
        Dims ``(country, crime, draw)``; NaN marks cases without a forecast. Where the
        draws carry an ``at_risk(country, crime)`` coordinate (as
        :meth:`~r2p_models.model.fitted.FittedModel.predict` gives them), cases where it is
        False get no row either: a country with an episode under way or beginning in the
        origin year is not at risk of onset, so no onset forecast is issued, scored or
        put on a watchlist for it (the rule of :func:`r2p_models.forecast.summarise` and
        :func:`base_rate_forecaster`).
    origin, horizon : int
        The window is ``origin + 1 .. origin + horizon``.

    Returns
    -------
    pandas.DataFrame
        Columns ``origin_year, country, crime, target_start, target_end, p_mean, p_q05,
        p_q50, p_q95``; one row per country and crime at risk with a forecast.
    """
    missing = {"country", "crime", "draw"} - set(draws.dims)
    if missing:
        raise InputError(f"forecast draws lack dimension(s) {sorted(missing)}")
    if "at_risk" in draws.coords:
        draws = draws.where(draws["at_risk"].astype(bool))
    with warnings.catch_warnings():  # cases without a forecast are all-NaN slices
        warnings.simplefilter("ignore", RuntimeWarning)
        q = draws.quantile([0.05, 0.5, 0.95], dim="draw")
    table = xr.Dataset(
        {
            "p_mean": draws.mean("draw"),
            "p_q05": q.sel(quantile=0.05, drop=True),
            "p_q50": q.sel(quantile=0.5, drop=True),
            "p_q95": q.sel(quantile=0.95, drop=True),
        }
    ).to_dataframe()
    table = table.reset_index()[["country", "crime", "p_mean", "p_q05", "p_q50", "p_q95"]]
    table = table[table["p_mean"].notna()].copy()
    table.insert(0, "origin_year", int(origin))
    table.insert(3, "target_start", int(origin) + 1)
    table.insert(4, "target_end", int(origin) + int(horizon))
    return table.reset_index(drop=True)


def parse_origins(text: str | Sequence[int], *,
                  years: tuple[int, int] = DEFAULT_YEARS) -> list[int]:
    """Parse ``"1995-2006"``, ``"1995,1998,2001"`` or a sequence of years.

    Parameters
    ----------
    text : str or sequence of int
        The origins.
    years : (int, int)
        The plausible years (``[data] years``); each year, and each end of a range, is
        checked before the range is built.

    Returns
    -------
    list of int
        The origins, sorted, each once.

    Raises
    ------
    InputError
        When the text is not a year range or list, or a year is outside ``years``.
    """
    if not isinstance(text, str):
        return sorted({check_year(int(t), "--origins", years) for t in text})
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                if b < a:
                    raise ValueError
            else:
                a = b = int(part)
        except ValueError:
            raise InputError(
                f"--origins {text!r}: expected years like 1995-2006 or 1995,1998"
            ) from None
        out.update(range(check_year(a, "--origins", years), check_year(b, "--origins", years)
                         + 1))
    return sorted(out)


@dataclass
class BacktestSummary:
    """What a backtest did."""

    source: str
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    unconverged: list[int] = field(default_factory=list)
    rows_issued: int = 0
    diagnostics: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every origin that ran passed its convergence checks."""
        return not self.unconverged


def check_recordable(config: RunConfig) -> None:
    """Refuse a preview sampler for a command that records forecasts in a ledger.

    ADVI and Pathfinder fits (:data:`r2p_models.config.PREVIEW_SAMPLERS`) are
    approximations that never pass the convergence checks, so a backtest or rerun with one
    would fit and then record nothing. Checked before any fit or file write.

    Raises
    ------
    InputError
        Naming the config, the sampler, why, and what to use instead.
    """
    sampler = config.model.sampler
    if sampler in PREVIEW_SAMPLERS:
        raise InputError(
            f'{config.path} [model] sampler = "{sampler}" is a preview: previews are '
            "approximations that are never convergence-checked, so they are not recorded in "
            'a ledger; use sampler = "nutpie" to record, or `r2p fit` / Python fit() for a '
            "preview"
        )


def check_origins(panel: xr.Dataset, origins: Sequence[int], horizon: int) -> None:
    """Refuse origins for which a backtest has no training window or no panel year, or
    whose reports cannot be fused as they stood then (checked before any fit).

    Raises
    ------
    InputError
        Naming the bad origins and the span they must lie in.
    PanelError
        The reports up to an origin cannot be fused (:func:`r2p_models.data.panel.panel_as_of`).
    """
    first, last = int(panel.year.min()), int(panel.year.max())
    bad = [t for t in origins if not first + horizon <= t <= last]
    if bad:
        raise InputError(
            f"origins {bad}: each origin must lie in {first + horizon}-{last} "
            f"(the panel covers {first}-{last}; a fit through t needs outcomes of a "
            f"{horizon}-year window that ended by t)"
        )
    if "report_value" in panel:
        with warnings.catch_warnings():  # the fits warn again, where it matters
            warnings.simplefilter("ignore")
            for t in origins:
                panel_as_of(panel, t)


def _submit_local(
    forecaster: Forecaster, panel: xr.Dataset, config: ModelConfig, origins: Sequence[int],
    workers: int, tracker: FitProgress,
) -> Iterator[OriginForecast]:
    if workers <= 1:
        for t in origins:
            tracker.started(f"origin {t}", origin=t)
            yield forecaster(panel, config, t)
        return
    tracker.parallel = workers
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures: list[Future[OriginForecast]] = []
        for t in origins:
            tracker.started(f"origin {t}", origin=t)
            futures.append(pool.submit(forecaster, panel, config, t))
        for fut in as_completed(futures):
            yield fut.result()


def _submit_dask(
    forecaster: Forecaster, panel: xr.Dataset, config: ModelConfig, origins: Sequence[int],
    scheduler: str, tracker: FitProgress,
) -> Iterator[OriginForecast]:
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise InputError(
            "a Dask scheduler was given but dask.distributed is not installed: "
            "pip install 'r2p-models[dask]'"
        ) from None
    with Client(scheduler) as client:
        panel_f = client.scatter(panel, broadcast=True)
        futures = []
        for t in origins:
            tracker.started(f"origin {t}", origin=t)
            futures.append(client.submit(forecaster, panel_f, config, t, pure=False))
        for fut in dask_completed(futures):
            yield fut.result()


def run_backtest(
    config: RunConfig,
    panel: xr.Dataset,
    origins: Iterable[int],
    *,
    ledger: str | Path,
    workers: int = 1,
    scheduler: str | None = None,
    forecaster: Forecaster | None = None,
    require_convergence: bool = True,
    on_origin: Callable[[OriginForecast], None] | None = None,
    progress: bool = False,
    tracker: FitProgress | None = None,
) -> BacktestSummary:
    """Run a rolling-origin backtest into a ledger, resuming where a previous run stopped.

    Parameters
    ----------
    config : RunConfig
        ``[model]`` sets the model and horizon; ``[ledger] source`` names the source.
    panel : xarray.Dataset
        The panel (from :func:`r2p_models.data.panel.load_panel`).
    origins : iterable of int
        Origin years. Each must leave a full window of training outcomes before it.
    ledger : path
        The ledger file (created if new). Its run lock
        (:func:`r2p_models.ledger.ledger_lock`) is held for the whole backtest.
    workers : int
        Worker processes on this machine (1: run in this process).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); overrides ``workers``.
    forecaster : Forecaster, optional
        Defaults to :func:`model_forecaster`.
    require_convergence : bool
        If true (default), an origin whose fit failed its convergence checks is not
        recorded (listed in ``unconverged``; rerunning retries it), and the model
        forecaster with a preview sampler is refused up front (:func:`check_recordable`:
        its fits never pass). False records whatever the forecaster returns (tests,
        smoke runs).
    on_origin : callable, optional
        Called with each finished origin.
    progress : bool
        Interactive progress: a bar over the origins' fits and the sampler's own bar in
        each (the default forecaster). Without it the fits are still logged as events
        (:mod:`r2p_models.progress`).
    tracker : FitProgress, optional
        Progress tracker to report to (the pipeline's, which also counts its last fit);
        by default one for these origins.

    Returns
    -------
    BacktestSummary

    Raises
    ------
    InputError
        Bad origins, a preview sampler (see ``require_convergence``), or a ledger path
        that cannot be written (checked before any fit); nothing written.
    r2p_models.ledger.LedgerLockedError
        If another run holds the ledger's lock.
    """
    if forecaster is None:
        forecaster = functools.partial(model_forecaster, progress=progress) if progress \
            else model_forecaster
        if require_convergence:
            check_recordable(config)
    horizon = config.model.horizon
    origins = sorted(set(origins))
    check_origins(panel, origins, horizon)
    with ledger_lock(ledger):
        return _run_backtest(config, panel, origins, ledger=ledger, workers=workers,
                             scheduler=scheduler, forecaster=forecaster,
                             require_convergence=require_convergence, on_origin=on_origin,
                             progress=progress, tracker=tracker)


def _run_backtest(
    config: RunConfig, panel: xr.Dataset, origins: list[int], *, ledger: str | Path,
    workers: int, scheduler: str | None, forecaster: Forecaster, require_convergence: bool,
    on_origin: Callable[[OriginForecast], None] | None, progress: bool,
    tracker: FitProgress | None,
) -> BacktestSummary:
    """:func:`run_backtest` once its inputs are checked and its ledger is locked."""
    source = model_source(config)
    config_hash = config.hash()
    data_hash = str(panel.attrs.get("data_hash", ""))
    summary = BacktestSummary(source=source)
    with Ledger(ledger) as led:
        existing = led.rows(source=source, kind="backtest")
    finished = set(existing["origin_year"].astype(int)) if len(existing) else set()
    summary.skipped = [t for t in origins if t in finished]
    todo = [t for t in origins if t not in finished]
    if summary.skipped:
        log.info("backtest: %d origin(s) already in the ledger, skipped: %s",
                 len(summary.skipped), summary.skipped)
    own = tracker is None
    tracker = tracker or FitProgress(len(todo), show_bar=progress)
    for t in summary.skipped:
        if not own:
            tracker.skipped(f"origin {t}", "already in the ledger", origin=t)
    if not todo:
        if own:
            tracker.close()
        return summary

    try:
        _record(summary, config, panel, todo, ledger, workers, scheduler, forecaster,
                require_convergence, on_origin, tracker, source, config_hash, data_hash)
    finally:
        if own:
            tracker.close()
    return summary


def _record(summary: BacktestSummary, config: RunConfig, panel: xr.Dataset, todo: list[int],
            ledger: str | Path, workers: int, scheduler: str | None, forecaster: Forecaster,
            require_convergence: bool, on_origin: Callable[[OriginForecast], None] | None,
            tracker: FitProgress, source: str, config_hash: str, data_hash: str) -> None:
    """Fit the origins left to do and record each as it finishes (see run_backtest)."""
    horizon = config.model.horizon
    if scheduler:
        results = _submit_dask(forecaster, panel, config.model, todo, scheduler, tracker)
    else:
        results = _submit_local(forecaster, panel, config.model, todo, workers, tracker)
    for res in results:
        tracker.done(f"origin {res.origin}", seconds=res.diagnostics.get("seconds"),
                     diagnostics=res.diagnostics, origin=res.origin)
        summary.diagnostics[res.origin] = res.diagnostics
        if on_origin is not None:
            on_origin(res)
        if require_convergence and not res.converged:
            log.warning("backtest origin %d: fit failed its convergence checks (%s); "
                        "not recorded", res.origin, res.diagnostics)
            summary.unconverged.append(res.origin)
            continue
        rows = forecast_rows(res.draws, res.origin, horizon)
        if rows.empty:
            raise InputError(f"origin {res.origin}: the forecaster returned no forecasts")
        with Ledger(ledger) as led:
            out = led.issue(
                rows, source=source, kind="backtest", run_id=f"backtest-{config_hash[:12]}",
                data_hash=data_hash, config_hash=config_hash,
            )
        summary.done.append(res.origin)
        summary.rows_issued += out.inserted
        log.info("backtest origin %d: %d forecasts recorded %s", res.origin, len(rows),
                 res.diagnostics)
    summary.done.sort()
    summary.unconverged.sort()


def base_rate_forecaster(panel: xr.Dataset, config: ModelConfig, origin: int) -> OriginForecast:
    """A reference forecaster: each crime's onset rate known at ``origin``, for every country.

    Uses only windows that ended by ``origin``, and of those the ones a forecast would
    have been issued for and scored: at risk at their own origin year (present, no episode
    under way and none beginning that year) with a known outcome. So it is the climatology
    of the cases a skill score compares, known at issue time. It has a single "draw".
    """
    draws = base_rate_draws(panel, origin, config.horizon)
    return OriginForecast(origin, draws, converged=True, diagnostics={"model": "base_rate"})


def base_rate_draws(panel: xr.Dataset, origin: int, horizon: int, *,
                    rates: xr.DataArray | None = None) -> xr.DataArray:
    """The base-rate forecast of ``origin``: one draw, dims ``(country, crime, draw)``.

    Each crime's climatology known at the origin (:func:`r2p_models.outcomes.climatology`)
    for every country at risk there (:func:`r2p_models.outcomes.at_risk_mask`), NaN
    elsewhere: the draws of :func:`base_rate_forecaster` and of the example ledger's
    ``climatology`` source (:mod:`r2p_models.report.example`).

    Parameters
    ----------
    panel : xarray.Dataset
    origin, horizon : int
    rates : xarray.DataArray, optional
        ``climatology(panel, horizon)`` when the caller has it already (one computation
        for many origins).
    """
    # the one home of the rules: r2p_models.outcomes
    if rates is None:
        rates = climatology(panel, horizon)
    rate = rates.sel(year=origin, drop=True)
    return (rate.where(at_risk_mask(panel, origin)).expand_dims(draw=[0])
            .transpose("country", "crime", "draw"))
