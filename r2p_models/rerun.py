"""Scheduled reruns and the full pipeline: the top of the data flow.

``rerun`` is what a server job runs (``r2p rerun --config run.toml``), with no human
watching: validate the data, fit, check convergence, issue the forecasts for the latest
origin, resolve what has become known, score, and write the report.

- **Idempotent**: if the ledger already holds this source's forecasts for the latest
  origin, nothing is refitted or reissued; resolution and the report are recomputed and
  come out the same, so a second run on the same inputs changes nothing.
- **Safe to interrupt**: forecasts go into the ledger in one transaction after the fit;
  every file is written atomically.
- **One writer at a time per ledger**: every function here that writes to a ledger
  (:func:`rerun`, :func:`pipeline`, :func:`resolve_ledger`, :func:`issue_recalibrated`, and
  :func:`r2p_models.backtest.run_backtest`) holds its advisory lock
  (:func:`r2p_models.ledger.ledger_lock`, ``<ledger>.lock``, removed when released) for the
  whole call; a second writer is refused with a message naming the holder (exit code 4).
  Readers (:func:`score_table`, the report, exports, verification) do not take it.
- **Leftovers cleared**: under the lock, temporary files that a killed run left in
  ``runs/<run id>/`` (``.model.nc.<random>.tmp``) are removed at the start of the next run.
- **A manifest per run** (``<ledger folder>/runs/<run id>/manifest.json``): input hashes,
  versions, seed, timings, diagnostics, counts, status.
- **Exit codes** (see :mod:`r2p_models.cli`): 0 success, 2 bad input, 3 failed convergence
  (no forecast is issued from a fit that failed its checks), 4 ledger locked.

``pipeline`` is the main job on a config: a rolling-origin backtest over recent origins,
then a rerun (current forecast, resolution, scores, report).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from r2p_models._version import __version__
from r2p_models.atomic import atomic_write_text, remove_stale_temporaries
from r2p_models.backtest import (
    check_origins,
    check_recordable,
    forecast_rows,
    model_source,
    run_backtest,
)
from r2p_models.config import RunConfig, load_config, write_run_config
from r2p_models.data.panel import load_panel
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger, ledger_lock
from r2p_models.progress import FitProgress, rounded_diagnostics

__all__ = [
    "RunResult",
    "default_origins",
    "issue_recalibrated",
    "latest_origin",
    "ledger_path",
    "pipeline",
    "rerun",
    "resolve_ledger",
    "score_table",
    "write_report_for",
]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a rerun did; ``status`` is ``"ok"``, ``"unchanged"`` or ``"not_converged"``."""

    run_id: str
    status: str
    origin: int
    issued: int = 0
    resolved: int = 0
    report: str | None = None
    manifest: str | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    run_config: str | None = None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "r2p-models": __version__}
    for pkg in ("pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy", "pandas", "xarray",
                "scikit-learn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _file_hashes(config: RunConfig) -> dict[str, str]:
    paths = [config.path, config.data.table]
    if config.data.reports is not None:
        paths.append(config.data.reports)
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def resolve_ledger(ledger: Path, panel: xr.Dataset, config: RunConfig) -> int:
    """Fill in outcomes of the ledger's pending rows from the panel; returns the count.

    Pending rows of countries the panel does not have (e.g. an analyst's typo) can never
    be resolved from it: a warning names them per source.

    Holds the ledger's run lock while it writes.

    Raises
    ------
    r2p_models.ledger.LedgerNotFoundError
        If ``ledger`` does not exist (it is never created here: a mistyped path is an
        error, not a new empty ledger).
    r2p_models.ledger.LedgerLockedError
        If another run holds the ledger's lock.
    """
    with ledger_lock(ledger), Ledger(ledger, create=False) as led:
        n = led.resolve(
            panel,
            outcome_source=f"{Path(config.data.table).name} {panel.attrs['data_hash'][:12]}",
            observed_through=_observed_through(panel),
        )
        pending = led.rows(outcome_status="pending")
    stray = pending[~pending["country"].astype(str).isin(set(map(str, panel.country.values)))]
    for source, grp in stray.groupby("source"):
        countries = sorted(set(grp["country"].astype(str)))
        log.warning("%s: %d pending forecast(s) of source %r name countries that are not in "
                    "the panel %s: %s%s; they stay pending until a panel has them",
                    ledger, len(grp), source, config.data.table, countries[:10],
                    " ..." if len(countries) > 10 else "")
    return n


def issue_recalibrated(ledger: str | Path, sources: Sequence[str], *,
                       prior_sd: float | None = None) -> list[str]:
    """Record each source's forecasts recalibrated on its own track record as a new source.

    Each forecast's log-odds are shifted by the bias of the same source's forecasts (same
    crime and horizon) resolved by its origin year
    (:func:`r2p_models.calibration.recalibrate_on_track_record`), and the results are
    issued into ``ledger`` as the source ``"<source> recalibrated"`` with the original
    rows' kind, run and data hash. Every row of a source is its track record, whatever its
    kind (backtest postdictions too). Outcomes are left pending (resolve the ledger again).
    A case already recorded under the recalibrated source is left as it was issued, even if
    the history has grown since (issued forecasts are immutable), so running this after
    every scheduled forecast records each new forecast once, with what was known then.
    Each issuing run of a source is written in its own transaction; an interrupted call
    leaves whole runs recorded, and calling again records the rest. The ledger's run lock
    is held for the whole call (another run holding it: ``LedgerLockedError``).

    Parameters
    ----------
    ledger : path
        An existing ledger.
    sources : sequence of str
        Sources to recalibrate (their outcomes must have been resolved).
    prior_sd : float, optional
        Prior sd of the log-odds shift (default
        :data:`r2p_models.calibration.recalibrate.SHIFT_PRIOR_SD`).

    Returns
    -------
    list of str
        The new sources, in the order of ``sources``.
    """
    from r2p_models.calibration.recalibrate import SHIFT_PRIOR_SD, recalibrate_on_track_record

    prior_sd = SHIFT_PRIOR_SD if prior_sd is None else float(prior_sd)
    with ledger_lock(ledger), Ledger(ledger, create=False) as led:
        rows = led.rows()
        rows = rows[rows["source"].isin(sources)]
        absent = [s for s in sources if s not in set(rows["source"])]
        if absent:
            raise InputError(f"{ledger}: no forecasts of source(s) {absent} to recalibrate")
        recal = recalibrate_on_track_record(rows, prior_sd=prior_sd)
        key = ["origin_year", "country", "crime", "target_start", "target_end"]
        new = []
        for source in sources:
            mine = recal[rows["source"].to_numpy() == source]
            done = led.rows(source=mine["source"].iloc[0])[key]
            fresh = mine.merge(done, on=key, how="left", indicator=True)["_merge"] == "left_only"
            for (kind, run_id, data_hash, config_hash), grp in mine[fresh.to_numpy()].groupby(
                    ["kind", "run_id", "data_hash", "config_hash"], sort=False, dropna=False):
                led.issue(grp, source=mine["source"].iloc[0], kind=kind,
                          run_id=f"{run_id} recalibrated",
                          data_hash=None if pd.isna(data_hash) else data_hash,
                          config_hash=("" if pd.isna(config_hash) else f"{config_hash} ")
                          + f"recalibrated(prior_sd={prior_sd:g})",
                          ignore_extra_columns=True)
            new.append(mine["source"].iloc[0])
            log.info("%s: recalibrated on its track record (log-odds shifts %.2f to %.2f)",
                     source, mine["shift"].min(), mine["shift"].max())
    return new


def latest_origin(panel: xr.Dataset) -> int:
    """The newest year with any indicator observed: the origin of a current forecast."""
    seen = panel["X"].notnull().any(["country", "indicator"])
    years = panel.year.values[seen.values]
    if len(years) == 0:
        raise InputError(f"{panel.attrs.get('source_file', 'panel')}: no indicator is observed")
    return int(years.max())


def _observed_through(panel: xr.Dataset) -> int:
    """The newest year with any known outcome: windows ending later stay pending."""
    known = panel["onset"].notnull().any(["country", "crime"])
    return int(panel.year.values[known.values].max())


def default_origins(panel: xr.Dataset, horizon: int, n: int = 4) -> list[int]:
    """The last ``n`` origins whose windows are fully observed (for the main job)."""
    last = _observed_through(panel) - horizon
    first = int(panel.year.min()) + horizon + 10  # at least ten years of training windows
    return list(range(max(first, last - n + 1), last + 1))


def ledger_path(config: RunConfig) -> Path:
    """The ledger file a config names (``[ledger] path``, resolved from the config's folder).

    Raises
    ------
    InputError
        If the config has no ``[ledger] path``, or it names a folder.
    """
    if config.ledger.path is None:
        raise InputError(f"{config.path} [ledger]: set path = \"ledger.sqlite\" for this command")
    path = config.ledger.path
    if path.is_dir():
        raise InputError(f"{config.path} [ledger] path = {str(path)!r}: {path}: is a folder, "
                         "not a ledger file; give the file's name (e.g. ledger.sqlite)")
    return path


def _make_folder(folder: Path, what: str) -> None:
    """Create ``folder`` (and its parents) or raise :class:`InputError` naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what}: cannot create folder {folder}: "
                         f"{exc.strerror or exc}") from exc


def _clear_stale_temporaries(runs: Path) -> None:
    """Remove what killed runs left in ``runs/<run id>/`` (call with the run lock held)."""
    if not runs.is_dir():
        return
    for folder in sorted(p for p in runs.iterdir() if p.is_dir()):
        for path in remove_stale_temporaries(folder):
            log.warning("removed %s, left by an interrupted run", path)


def _report_path(config: RunConfig, ledger: Path) -> Path:
    return config.report.path or ledger.parent / "report.html"


def score_table(ledger: Path) -> pd.DataFrame:
    """Headline scores per source, kind and crime from resolved ledger rows.

    Raises
    ------
    r2p_models.ledger.LedgerNotFoundError
        If ``ledger`` does not exist (it is never created here).
    """
    from r2p_models import calibration

    with Ledger(ledger, readonly=True) as led:
        rows = led.rows(outcome_status="observed")
    if rows.empty:
        return pd.DataFrame()
    return calibration.score_table(rows, by=["source", "kind", "crime"], p_col="p_mean",
                                   y_col="outcome", n_boot=200, rng=0)


def write_report_for(config: RunConfig, panel: xr.Dataset, ledger: Path,
                     explanations: pd.DataFrame | None = None,
                     rows: pd.DataFrame | None = None,
                     infogap: dict[str, Any] | None = None) -> Path:
    """Write the calibration report of ``ledger`` (or of its ``rows``, a subset) to the
    config's report path (``infogap``: the tables of :func:`_information_gaps`). Without
    ``rows``, missing ``infogap`` and ``explanations`` are read from the folder of the run
    that issued the newest real-time forecasts, when it saved them, so that ``r2p report``
    rebuilds the page ``r2p rerun`` wrote (leading risk factors included)."""
    from r2p_models.report import build_report, write_report

    path = _report_path(config, ledger)
    if infogap is None and rows is None:
        infogap = _latest_information_gaps(ledger, config.report.top_n)
    if explanations is None and rows is None:  # `r2p report`: the newest run's, as rerun's
        explanations = _latest_explanations(ledger)
    html = build_report(
        ledger if rows is None else rows,
        title=config.report.title,
        region_of=dict(zip(panel.country.values, panel["region"].values, strict=True)),
        proxies={c: str(p) for c, p in zip(panel.crime.values, panel["proxy"].values,
                                           strict=True) if p},
        explanations=explanations,
        top_n=config.report.top_n,
        infogap=infogap,
        development_of=_development_of(panel, config),
        history=panel,
        names=panel["name"] if "name" in panel.coords else None,
    )
    write_report(path, html)
    return path


def rerun(config: RunConfig | str | Path, *, progress: bool = False,
          wait_for_lock: bool | float = False, tracker: FitProgress | None = None,
          ) -> RunResult:
    """Run the scheduled job once (see the module docstring).

    Parameters
    ----------
    config : RunConfig or path
        Needs ``[ledger] path``.
    progress : bool
        Show the sampler's progress bar (interactive use only).
    wait_for_lock : bool or float
        Wait for a run holding the ledger lock (seconds, or True: indefinitely).
    tracker : FitProgress, optional
        Progress tracker the fit reports to (the pipeline's); the fit is logged as
        ``fit_started`` / ``fit_done`` events either way (:mod:`r2p_models.progress`).

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        Bad config or data, a preview sampler (never convergence-checked, so never
        recorded: :func:`r2p_models.backtest.check_recordable`), or a ledger path that
        cannot be written; nothing was written.
    r2p_models.ledger.LedgerLockedError
        Another run holds the ledger (within one thread the lock is re-entrant: a
        :func:`pipeline` holding it calls this).
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    check_recordable(cfg)
    ledger = ledger_path(cfg)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    panel = load_panel(cfg)  # every input check before the first folder or lock file
    timings["validate"] = round(time.perf_counter() - t0, 2)
    origin = latest_origin(panel)
    _make_folder(ledger.parent, f"{cfg.path} [ledger] path")
    with ledger_lock(ledger, wait=wait_for_lock):
        _clear_stale_temporaries(ledger.parent / "runs")
        horizon = cfg.model.horizon
        source = model_source(cfg)
        data_hash = str(panel.attrs["data_hash"])
        run_id = f"{origin}-" + hashlib.sha256(
            f"{data_hash}{cfg.hash()}{__version__}".encode()).hexdigest()[:12]
        run_dir = ledger.parent / "runs" / run_id
        result = RunResult(run_id=run_id, status="ok", origin=origin, timings=timings)

        with Ledger(ledger) as led:
            already = led.rows(source=source, kind="forecast", origin_year=origin)
        explanations = None
        gaps: dict[str, Any] | None = None
        own = tracker is None
        tracker = tracker or FitProgress(0 if len(already) else 1, show_bar=False)
        if len(already):
            tracker.skipped(f"origin {origin}", "forecasts already issued", origin=origin)
            result.status = "unchanged"
            first_run = str(already["run_id"].iloc[0])
            log.info("forecasts of %s for origin %d are already in the ledger (run %s); "
                     "not refitted", source, origin, first_run)
            saved = ledger.parent / "runs" / first_run / "explanations.csv"
            if saved.exists():
                explanations = pd.read_csv(saved, dtype={"country": str})
            gaps = _saved_information_gaps(ledger.parent / "runs" / first_run,
                                           cfg.report.top_n)
        else:
            from r2p_models.model import fit
            from r2p_models.model.fit import SHARED_SAMPLERS

            t = time.perf_counter()
            tracker.started(f"origin {origin} (current forecast)", origin=origin)
            fitted = fit(panel, cfg.model, through=origin, progress=progress,
                         config_hash_value=cfg.hash(), warn=False, samplers=SHARED_SAMPLERS)
            timings["fit"] = round(time.perf_counter() - t, 2)
            diag = fitted.diagnostics
            result.diagnostics = json.loads(diag.to_json())
            tracker.done(f"origin {origin} (current forecast)", seconds=timings["fit"],
                         diagnostics=result.diagnostics, origin=origin)
            run_dir.mkdir(parents=True, exist_ok=True)
            fitted.save(run_dir / "model.nc")
            if not diag.ok:
                result.status = "not_converged"
                log.error("the fit failed its convergence checks: %s; no forecast issued",
                          diag.summary())
            else:
                t = time.perf_counter()
                draws = fitted.predict(panel, origin)
                rows = forecast_rows(draws, origin, horizon)
                with Ledger(ledger) as led:
                    out = led.issue(rows, source=source, kind="forecast", run_id=run_id,
                                    data_hash=data_hash, config_hash=cfg.hash())
                result.issued = out.inserted
                explanations = _explanations(fitted, panel, draws, origin,
                                             cfg.report.top_n)
                atomic_write_text(run_dir / "explanations.csv",
                                  explanations.to_csv(index=False))
                gaps = _information_gaps(fitted, panel, origin, cfg.report.top_n, run_dir)
                timings["forecast"] = round(time.perf_counter() - t, 2)

        t = time.perf_counter()
        result.resolved = resolve_ledger(ledger, panel, cfg)
        timings["resolve"] = round(time.perf_counter() - t, 2)
        if cfg.ledger.recalibrate:
            t = time.perf_counter()
            with Ledger(ledger) as led:
                issued_any = len(led.rows(source=source)) > 0
            if issued_any:
                issue_recalibrated(ledger, [source])
                result.resolved += resolve_ledger(ledger, panel, cfg)
            timings["recalibrate"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        scores = score_table(ledger)
        result.scores = scores.to_dict("records") if len(scores) else []
        timings["score"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        result.report = str(write_report_for(cfg, panel, ledger, explanations,
                                             infogap=gaps))
        timings["report"] = round(time.perf_counter() - t, 2)
        timings["total"] = round(time.perf_counter() - t0, 2)

        if result.status != "unchanged":
            manifest = {
                "run_id": run_id, "status": result.status, "origin": origin,
                "horizon": horizon, "source": source, "seed": cfg.model.seed,
                "config": str(cfg.path), "config_hash": cfg.hash(), "data_hash": data_hash,
                "inputs": _file_hashes(cfg), "versions": _versions(),
                "model": cfg.model.to_dict(), "diagnostics": result.diagnostics,
                "issued": result.issued, "resolved": result.resolved,
                "report": result.report, "timings": timings,
            }
            run_dir.mkdir(parents=True, exist_ok=True)
            path = run_dir / "manifest.json"
            atomic_write_text(path, json.dumps(manifest, indent=2, default=str) + "\n")
            result.manifest = str(path)
        shown = {k: v for k, v in asdict(result).items() if k != "scores"}
        shown["diagnostics"] = rounded_diagnostics(
            {k: v for k, v in result.diagnostics.items() if k not in ("worst", "problems")})
        log.info("rerun %s: %s", run_id, json.dumps(shown, default=str))
        if own:
            tracker.close()
        return result


def _explanations(fitted: Any, panel: xr.Dataset, draws: xr.DataArray, origin: int,
                  top_n: int = 10) -> pd.DataFrame:
    """Risk-factor contributions (posterior means) for the watchlist of each crime: its
    ``top_n`` countries at risk by posterior mean, as the report lists them.

    Columns ``country, crime, risk_factor, contribution`` as the report's watchlist wants.
    """
    from r2p_models.forecast import explain_risk_factors

    mean = draws.mean("draw").where(draws["at_risk"])
    frames = []
    countries: set[str] = set()
    for crime in draws.crime.values:
        m = mean.sel(crime=crime).dropna("country")
        top = m.sortby(m, ascending=False)
        countries.update(str(c) for c in top.country.values[:top_n])
    for country in sorted(countries):
        df = explain_risk_factors(fitted, panel, origin, country)
        frames.append(df[df["kind"] == "risk_factor"])
    if not frames:
        return pd.DataFrame(columns=["country", "crime", "risk_factor", "contribution"])
    out = pd.concat(frames, ignore_index=True)
    return out.rename(columns={"term": "risk_factor", "mean": "contribution"})[
        ["country", "crime", "risk_factor", "contribution"]]


def _development_of(panel: xr.Dataset, config: RunConfig) -> pd.Series | None:
    """Development groups for the report (None, with a log line, when the panel has no
    development indicator and the config names none)."""
    from r2p_models.report.development import development_groups

    try:
        return development_groups(panel, config.report.development)
    except InputError as exc:
        if config.report.development is not None:
            raise
        log.info("report: no breakdown by development level (%s)", exc)
        return None


#: Files of a run folder holding its information-gap analysis (r2p_models.infogap).
INFOGAP_FILES = {"ranking": "infogap_ranking.csv", "voi": "infogap_voi.csv"}


def _information_gaps(fitted: Any, panel: xr.Dataset, origin: int, top_n: int,
                      run_dir: Path) -> dict[str, Any] | None:
    """The information-gap ranking (every country) and value-of-information tables of the
    current forecast, written to the run folder (:data:`INFOGAP_FILES`) for the report;
    None (and a log line) for a model with interaction rules, which the analysis does not
    cover."""
    from r2p_models.infogap import gap_ranking, information_gaps, voi_table

    if fitted.standardisation.rules is not None:
        log.info("information gaps skipped: the model has interaction rules ([model] "
                 "rules), whose log-odds are not additive in the indicators")
        return None

    gaps = information_gaps(fitted, panel, origin, top_n=top_n)
    tables = {"ranking": gap_ranking(gaps, at_risk_only=False), "voi": voi_table(gaps)}
    for key, name in INFOGAP_FILES.items():
        atomic_write_text(run_dir / name, tables[key].to_csv(index=False))
    return {**tables, "top_n": top_n}


def _saved_information_gaps(run_dir: Path, top_n: int) -> dict[str, Any] | None:
    """The tables :func:`_information_gaps` saved in a run folder (None if absent)."""
    paths = {k: run_dir / name for k, name in INFOGAP_FILES.items()}
    if not all(p.exists() for p in paths.values()):
        return None
    tables: dict[str, Any] = {k: pd.read_csv(p, dtype={"country": str})
                              for k, p in paths.items()}
    tables["ranking"]["best_indicator"] = tables["ranking"]["best_indicator"].fillna("")
    return {**tables, "top_n": top_n}


def _latest_saved(ledger: Path, read: Any) -> Any:
    """``read(run folder)`` of the newest run that issued real-time forecasts to the
    ledger and saved what ``read`` looks for (None when no run did)."""
    if not ledger.exists():
        return None
    with Ledger(ledger, readonly=True) as led:
        fc = led.rows(kind="forecast")
    if fc.empty:
        return None
    runs = fc.sort_values(["origin_year", "issued_at"], ascending=False)["run_id"]
    for run_id in dict.fromkeys(map(str, runs)):  # newest first; a pool has no folder
        saved = read(ledger.parent / "runs" / run_id)
        if saved is not None:
            return saved
    return None


def _latest_information_gaps(ledger: Path, top_n: int) -> dict[str, Any] | None:
    """The saved information gaps of the run that issued the ledger's newest real-time
    forecasts (the watchlist the report shows), or None."""
    return _latest_saved(ledger, lambda run_dir: _saved_information_gaps(run_dir, top_n))


def _latest_explanations(ledger: Path) -> pd.DataFrame | None:
    """The risk-factor explanations saved by the run that issued the ledger's newest
    real-time forecasts (``runs/<run id>/explanations.csv``), or None."""
    def read(run_dir: Path) -> pd.DataFrame | None:
        path = run_dir / "explanations.csv"
        return pd.read_csv(path, dtype={"country": str}) if path.exists() else None

    return _latest_saved(ledger, read)


def pipeline(config: RunConfig | str | Path, *, out: str | Path | None = None,
             origins: list[int] | None = None, workers: int = 1,
             progress: bool = False) -> RunResult:
    """The main job: backtest over recent origins, then a rerun (forecast, scores, report).

    Parameters
    ----------
    config : RunConfig or path
    out : path, optional
        Output folder, created once the config, the data and the origins have passed
        their checks; overrides ``[ledger] path`` (``out/ledger.sqlite``) and
        ``[report] path`` (``out/report.html``).
    origins : list of int, optional
        Backtest origins; default :func:`default_origins`.
    workers : int
        Parallel backtest fits.
    progress : bool
        Interactive progress: a bar over the fits (``fit 3 of 5, origin 2016, 1:12
        elapsed, ETA 2:30``) and the sampler's own bar in each. The fits are logged as
        ``fit_started`` / ``fit_done`` events either way (:mod:`r2p_models.progress`).

    Returns
    -------
    RunResult
        The result of the final :func:`rerun`; ``run_config`` is the run config written
        beside the ledger (``run.toml``: this config with the ledger and report paths of
        this run), which ``r2p report``, ``score``, ``resolve`` and ``rerun --config``
        take as it is.

    Raises
    ------
    InputError
        Bad config, data or origins, or a preview sampler (as :func:`rerun`); nothing was
        written.
    r2p_models.ledger.LedgerLockedError
        Another run holds the ledger (checked before the backtest; the lock is held until
        the rerun has finished).
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    check_recordable(cfg)
    if out is not None:
        out = Path(out).resolve()
        if (out / "ledger.sqlite").is_dir():
            raise InputError(f"--out {out}: {out / 'ledger.sqlite'}: is a folder, not a "
                             "ledger file")
        cfg = cfg.with_outputs(ledger=out / "ledger.sqlite", report=out / "report.html")
    ledger = ledger_path(cfg)
    panel = load_panel(cfg)
    origins = origins if origins is not None else default_origins(panel, cfg.model.horizon)
    check_origins(panel, sorted(set(origins)), cfg.model.horizon)
    latest_origin(panel)
    _make_folder(ledger.parent, "pipeline --out" if out is not None else
                 f"{cfg.path} [ledger] path")  # only once every input has passed
    with ledger_lock(ledger):  # one run: the backtest and the rerun re-enter it
        run_config = write_run_config(cfg, ledger.parent / "run.toml")
        log.info("backtest over origins %s; run config %s", origins, run_config)
        tracker = FitProgress(len(set(origins)) + 1, show_bar=progress)
        try:
            summary = run_backtest(cfg, panel, origins, ledger=ledger, workers=workers,
                                   progress=progress, tracker=tracker)
            if not summary.ok:
                log.warning("backtest origins %s failed their convergence checks",
                            summary.unconverged)
            result = rerun(cfg, progress=progress, tracker=tracker)
        finally:
            tracker.close()
    result.run_config = str(run_config)
    return result
