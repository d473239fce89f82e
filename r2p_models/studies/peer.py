"""Evaluation against the peer: the Early Warning Project's published out-of-sample forecasts.

The EWP's statistical risk assessment forecasts mass-killing onset "in year t+1 or t+2"
from predictors of year t. Its published out-of-sample file (``FOOS``) gives, for each
country and target year ``Y``, ``risk_prev``: the forecast made from the predictors of
``prev_year = Y - 1``. Like with like, that is a forecast with origin ``Y - 1`` and the
two-year window ``Y .. Y + 1`` (our ``horizon = 2``), and it is imported into the ledger
as such. (The file's own ``mk_onset`` column is the onset in ``Y`` alone, a one-year
outcome: scoring a two-year forecast against it makes the peer look worse calibrated than
it is, so we never use it; outcomes come from resolving the ledger against the panel.)
Only cases every source forecast are compared: our models do not forecast a country
that had an onset in the origin year (an episode under way is not at risk of onset), so
those few cases are left out for the peer too.

:func:`evaluate_against_peer` runs the whole comparison with one call (``r2p
evaluate-peer``): the EWP panel through the adapter, rolling-origin backtests of our
models (origins 1993-2006 by default, after two warm-up origins that only build the
track record of the recalibration), the peer's forecasts imported as a third source,
outcomes resolved from the panel, every source also recalibrated on its own track record,
and scores on exactly the same cases with paired block-bootstrap differences, plus the
calibration report of the compared origins.

:func:`evaluate_four_crimes` (``r2p evaluate-four-crimes``) asks the other real-data
question: on the four-crime proxy panel, does the joint model (shared indicator effects,
correlated country effects) beat the same model fitted crime by crime, especially for the
rarest crimes? Both variants are backtested into one ledger and scored per crime.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from r2p_models.atomic import atomic_write_text
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger, ledger_lock

if TYPE_CHECKING:
    import xarray as xr

    from r2p_models.config import RunConfig

__all__ = [
    "EVAL_MODEL",
    "PEER_SOURCE",
    "FourCrimeEvaluation",
    "PeerEvaluation",
    "evaluate_against_peer",
    "evaluate_four_crimes",
    "ledger_cases",
    "peer_forecast_rows",
    "shared_cases",
]

log = logging.getLogger(__name__)

#: Ledger source name of the peer's published forecasts.
PEER_SOURCE = "EWP statistical risk assessment (published out-of-sample)"
FOOS_FILE = Path("ewp") / "out_of_sample_forecasts_1994_2008.csv"
_CRIME = "crimes_against_humanity"  # the EWP adapter stores mass-killing onset under this name
#: ``[model]`` settings of the evaluation's fits beyond the adapted panel's defaults. The
#: one-outcome model fixes its region scale (see :mod:`r2p_models.model.build`; a learned
#: one needed 2000 draws a chain and still failed at some origins). With the learned effect
#: scale, origin 1999 passes at 1000 draws (hierarchical: r_hat 1.006, bulk ESS 484, tail
#: 655, 0 divergences, 89 s; pooled: bulk ESS 1640, 43 s); a fit that fails its check is
#: run again with twice the draws (``retries``). target_accept 0.95: at 0.9 an early origin
#: (1993) once failed the check on 1 divergent transition in 8000.
EVAL_MODEL: dict[str, object] = {"draws": 1000, "target_accept": 0.95}
HEADLINE = ["brier", "brier_skill_climatology", "log", "log_skill_climatology", "mcb_brier",
            "dsc_brier", "unc_brier", "auc", "auc_within", "pr_auc", "capture_top30"]


def _fmt(value: float) -> str:
    """Four decimals, or "n/a" (results stored before a metric existed)."""
    return f"{value:.4f}" if np.isfinite(value) else "n/a"


def _read_result(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no stored evaluation result there") from None


def peer_forecast_rows(path: str | Path, *, horizon: int = 2) -> tuple[pd.DataFrame, int]:
    """The peer's ``risk_prev`` forecasts as ledger rows.

    Parameters
    ----------
    path : path
        ``out_of_sample_forecasts_1994_2008.csv`` (columns ``year, ccode, prev_year,
        risk_prev``).
    horizon : int
        2 (the peer's own target, onset in the next two years). 1 would score the peer's
        two-year forecast against a one-year window: allowed, but not like with like.

    Returns
    -------
    rows : pandas.DataFrame
        ``origin_year (= prev_year), country, crime, target_start (= year),
        target_end (= year + horizon - 1), p_mean``.
    n_blank : int
        Rows without a forecast (blank ``risk_prev``), left out and counted.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    need = ["year", "ccode", "prev_year", "risk_prev"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}")
    bad = raw["prev_year"] != raw["year"] - 1
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1)[:5].tolist()
        raise InputError(f"{path}: column 'prev_year' is not year - 1 at rows {rows}")
    blank = raw["risk_prev"].isna()
    kept = raw.loc[~blank]
    rows = pd.DataFrame({
        "origin_year": kept["prev_year"].astype(int),
        "country": kept["ccode"].astype(int).astype(str),
        "crime": _CRIME,
        "target_start": kept["year"].astype(int),
        "target_end": kept["year"].astype(int) + int(horizon) - 1,
        "p_mean": kept["risk_prev"].astype(float),
    }).reset_index(drop=True)
    return rows, int(blank.sum())


def ledger_cases(ledger: str | Path, sources: Sequence[str]) -> pd.DataFrame:
    """:func:`shared_cases` of a ledger file (a missing ledger is an error, not created)."""
    with Ledger(ledger, readonly=True) as led:
        rows = led.rows()
    return shared_cases(rows, sources)


def shared_cases(rows: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """Resolved rows of ``sources`` restricted to the cases every one of them forecast."""
    key = ["origin_year", "country", "crime", "target_start", "target_end"]
    scored = rows[rows["source"].isin(sources) & (rows["outcome_status"] == "observed")]
    counts = scored.groupby(key)["source"].nunique()
    common = counts[counts == len(sources)].index
    return scored.set_index(key).loc[common].reset_index()


@dataclass
class PeerEvaluation:
    """Results of :func:`evaluate_against_peer`."""

    ledger: Path
    scores: pd.DataFrame
    differences: pd.DataFrame
    n_cases: int
    n_events: int
    sources: list[str]
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path) -> PeerEvaluation:
        """The results :func:`evaluate_against_peer` wrote into ``folder``."""
        folder = Path(folder)
        scores = _read_result(folder / "peer_scores.csv")
        differences = _read_result(folder / "peer_differences.csv")
        sources = [*differences["a"].unique(), PEER_SOURCE]  # our variants, then the peer
        # the compared cases, as scored (the ledger also holds the warm-up origins)
        peer = scores[scores["source"] == PEER_SOURCE].iloc[0]
        return cls(ledger=folder / "ledger.sqlite", scores=scores, differences=differences,
                   n_cases=int(peer["n"]), n_events=int(peer["events"]), sources=sources,
                   files={"report": folder / "report.html"})

    def targets(self) -> pd.DataFrame:
        """The evaluation's three targets for every source, against the peer as published.

        AUC at least the peer's, MCB (Brier) less than half the peer's, Brier skill (against
        the issue-time climatology) above the peer's, each on the same cases.

        Returns
        -------
        DataFrame
            One row per source other than the peer: ``auc``, ``auc_peer``,
            ``auc_difference`` with its 90 % interval (``auc_lower``, ``auc_upper``, from
            the paired bootstrap), ``mcb_brier``, ``mcb_ratio`` (ours over the peer's),
            ``brier_skill``, ``brier_skill_peer``, one boolean per target
            (``auc_met``, ``mcb_met``, ``skill_met``) and ``all_met``; for context, not a
            target, ``auc_within`` and ``auc_within_peer``: the AUC over pairs of the same
            issue year (each year's watchlist), which a recalibration shift per year leaves
            unchanged (NaN when the scores lack it).
        """
        est = self.scores.set_index(["source", "metric"])["estimate"]
        diff = self.differences[self.differences["metric"] == "auc"].set_index("a")
        peer = est.loc[PEER_SOURCE]
        rows = []
        for src in self.sources:
            if src == PEER_SOURCE:
                continue
            mine = est.loc[src]
            row = {
                "source": src, "auc": mine["auc"], "auc_peer": peer["auc"],
                "auc_difference": diff.loc[src, "difference"],
                "auc_lower": diff.loc[src, "lower"], "auc_upper": diff.loc[src, "upper"],
                "mcb_brier": mine["mcb_brier"],
                "mcb_ratio": mine["mcb_brier"] / peer["mcb_brier"],
                "brier_skill": mine["brier_skill_climatology"],
                "brier_skill_peer": peer["brier_skill_climatology"],
                "auc_within": mine.get("auc_within", np.nan),
                "auc_within_peer": peer.get("auc_within", np.nan),
            }
            row["auc_met"] = bool(row["auc"] >= row["auc_peer"])
            row["mcb_met"] = bool(row["mcb_ratio"] < 0.5)
            row["skill_met"] = bool(row["brier_skill"] > row["brier_skill_peer"])
            row["all_met"] = row["auc_met"] and row["mcb_met"] and row["skill_met"]
            rows.append(row)
        return pd.DataFrame(rows)

    def markdown(self) -> str:
        """The headline table (estimate and 90 % interval per source) as Markdown."""
        lines = [f"Cases: {self.n_cases} country-windows, {self.n_events} onsets; 90 % "
                 "block-bootstrap intervals (countries resampled).", "",
                 "| metric | " + " | ".join(self.sources) + " |",
                 "|---|" + "---|" * len(self.sources)]
        for metric in HEADLINE:
            cells = []
            for src in self.sources:
                r = self.scores[(self.scores["source"] == src)
                                & (self.scores["metric"] == metric)]
                if r.empty or not np.isfinite(r["estimate"].iloc[0]):
                    cells.append("n/a")
                    continue
                r = r.iloc[0]
                cells.append(f"{r['estimate']:.4f} ({r['lower']:.4f} to {r['upper']:.4f})")
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        lines += ["", "Targets against the peer as published (AUC at least the peer's, MCB "
                  "under half the peer's, Brier skill above the peer's; AUC difference with "
                  "its 90 % paired-bootstrap interval):", "",
                  "| source | AUC (peer) | AUC difference | MCB / peer's | Brier skill (peer) "
                  "| all three | AUC within years (peer; context) |",
                  "|---|---|---|---|---|---|---|"]
        yes = {True: "met", False: "missed"}
        for t in self.targets().itertuples():
            lines.append(
                f"| {t.source} | {t.auc:.4f} ({t.auc_peer:.4f}): {yes[t.auc_met]} "
                f"| {t.auc_difference:+.4f} ({t.auc_lower:+.4f} to {t.auc_upper:+.4f}) "
                f"| {t.mcb_ratio:.3f}: {yes[t.mcb_met]} "
                f"| {t.brier_skill:.4f} ({t.brier_skill_peer:.4f}): {yes[t.skill_met]} "
                f"| {yes[t.all_met]} | {_fmt(t.auc_within)} ({_fmt(t.auc_within_peer)}) |")
        return "\n".join(lines)


def evaluate_against_peer(
    data_dir: str | Path,
    out: str | Path,
    *,
    origins: Sequence[int] = tuple(range(1993, 2007)),
    variants: Sequence[str] = ("hierarchical", "pooled", "no_country"),
    workers: int = 1,
    model_overrides: dict[str, object] | None = None,
    n_boot: int = 1000,
    require_convergence: bool = True,
    forecaster=None,
    recalibrate: bool = True,
    warmup: int = 2,
) -> PeerEvaluation:
    """Backtest our models on the EWP panel and compare them with the peer on the same cases.

    Parameters
    ----------
    data_dir : path
        Folder with the publishers' files (``ewp/...``), e.g. ``../shared/datasets``.
    out : path
        Output folder: the adapted panel, the ledger, ``peer_scores.csv``,
        ``peer_differences.csv``, ``peer_results.md`` and ``report.html``.
    origins : sequence of int
        Backtest origins; with horizon 2 the windows of 1993-2006 end by 2008.
    variants : sequence of str
        Model variants to backtest (``[model] variant``): by default the hierarchical model,
        the pooled regularised logit (the peer's structure) and the model without country
        effects (the best-ranking of the three on this one-outcome panel).
    workers : int
        Parallel backtest fits.
    model_overrides : dict, optional
        ``[model]`` settings over :data:`EVAL_MODEL` (e.g. ``{"draws": 500}``, or
        ``{"effect_scale": "rolling_cv"}``: see :mod:`r2p_models.model.scale`). A setting
        other than the default effect scale names a different ledger source.
    n_boot : int
        Bootstrap replicates for the intervals.
    require_convergence : bool
        Leave out origins whose fit failed its convergence checks (default). False is for
        smoke runs with tiny sampler settings only.
    forecaster : callable, optional
        Backtest forecaster (default: the model, see :mod:`r2p_models.backtest`).
    recalibrate : bool, default True
        Also score every source recalibrated on its own track record
        (:func:`r2p_models.rerun.issue_recalibrated`; the peer's too, to show what the
        recalibration alone does); each is compared with the peer as published.
    warmup : int, default 2
        Backtest this many origins before the first of ``origins`` as well, for the track
        record only: with the two-year horizon, a forecast of origin t is recalibrated on
        the windows resolved by t, which without a warm-up leaves the first two compared
        origins with no history and no shift, while the later ones are shifted. The
        warm-up forecasts (and the peer's, where its file has them) are recorded in the
        ledger but never scored: the comparison is on ``origins`` only. The default is
        the horizon, the least that gives every compared origin a track record.

    Returns
    -------
    PeerEvaluation
    """
    from r2p_models import calibration
    from r2p_models.rerun import issue_recalibrated, resolve_ledger, write_report_for

    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise InputError(f"warmup must be a whole number of origins >= 0; got {warmup!r}")
    origins = sorted({int(t) for t in origins})
    if not origins:
        raise InputError("no origins to evaluate")
    backtested = list(range(origins[0] - warmup, origins[0])) + origins
    data_dir, out = Path(data_dir), Path(out).resolve()
    foos = data_dir / FOOS_FILE
    if not foos.exists():
        raise InputError(f"{foos}: the peer's out-of-sample forecasts are not there")
    # every input is checked before the first file is written or the first model fitted
    rows, n_blank = peer_forecast_rows(foos, horizon=2)
    rows = rows[rows["origin_year"].isin(backtested)]
    _variant_configs(None, variants, model_overrides)
    _check_compared_origins("ewp", data_dir, origins, warmup=warmup)
    base, panel, ledger = _adapted_run("ewp", data_dir, out)

    sources = _backtest_variants(base, panel, backtested, variants, ledger, workers=workers,
                                 model_overrides=model_overrides,
                                 require_convergence=require_convergence,
                                 forecaster=forecaster)

    with ledger_lock(ledger), Ledger(ledger) as led:
        led.issue(rows, source=PEER_SOURCE, kind="backtest", run_id="ewp-foos",
                  data_hash=hashlib.sha256(foos.read_bytes()).hexdigest(),
                  config_hash="published")
    log.info("imported %d peer forecasts (%d blank left out)", len(rows), n_blank)
    resolve_ledger(ledger, panel, base)
    if recalibrate:
        sources += issue_recalibrated(ledger, [*sources, PEER_SOURCE])
        resolve_ledger(ledger, panel, base)

    with Ledger(ledger) as led:
        all_rows = led.rows()
    sources.append(PEER_SOURCE)
    all_rows = all_rows[all_rows["origin_year"].isin(origins)]  # warm-up origins: never scored
    cases = shared_cases(all_rows, sources).drop(columns=["run_id"])
    if cases.empty:
        raise InputError("no case was forecast and resolved for every source")
    cases = cases.merge(_issue_time_rate(panel, sorted(cases["origin_year"].unique()), 2),
                        on=["origin_year", "crime"], how="left")
    scores = calibration.score_table(
        cases, by=["source"], p_col="p_mean", y_col="outcome",
        references={"climatology": "base_rate"}, n_boot=n_boot, rng=0)
    diffs = [calibration.compare_table(cases, a=src, b=PEER_SOURCE, p_col="p_mean",
                                       y_col="outcome", n_boot=n_boot, rng=0,
                                       references={"climatology": "base_rate"})
             for src in sources[:-1]]
    differences = pd.concat(diffs, ignore_index=True)
    one = cases[cases["source"] == PEER_SOURCE]
    result = PeerEvaluation(ledger=ledger, scores=scores, differences=differences,
                            n_cases=len(one), n_events=int(one["outcome"].sum()),
                            sources=sources)
    files = {"scores": out / "peer_scores.csv", "differences": out / "peer_differences.csv",
             "markdown": out / "peer_results.md"}
    atomic_write_text(files["scores"], scores.to_csv(index=False))
    atomic_write_text(files["differences"], differences.to_csv(index=False))
    atomic_write_text(files["markdown"], result.markdown() + "\n")
    files["report"] = write_report_for(base, panel, ledger, rows=all_rows)
    result.files = files
    return result


FOUR_CRIME_METRICS = ["brier", "brier_skill_climatology", "log", "mcb_brier", "dsc_brier",
                      "auc", "auc_within", "pr_auc", "capture_top30"]


@dataclass
class FourCrimeEvaluation:
    """Results of :func:`evaluate_four_crimes`."""

    ledger: Path
    scores: pd.DataFrame
    differences: pd.DataFrame
    cases: pd.DataFrame
    sources: list[str]
    origins: list[int]
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path) -> FourCrimeEvaluation:
        """The results :func:`evaluate_four_crimes` wrote into ``folder``."""
        folder = Path(folder)
        scores = _read_result(folder / "four_crime_scores.csv")
        differences = _read_result(folder / "four_crime_differences.csv")
        sources = [differences["a"].iloc[0], differences["b"].iloc[0]]  # difference = a - b
        ledger = folder / "ledger.sqlite"
        cases = ledger_cases(ledger, sources)
        return cls(ledger=ledger, scores=scores, differences=differences, cases=cases,
                   sources=sources,
                   origins=sorted(int(t) for t in cases["origin_year"].unique()),
                   files={"report": folder / "report.html"})

    def markdown(self) -> str:
        """Per crime: cases, onsets, each source's scores and the paired difference."""
        a, b = self.sources[0], self.sources[-1]
        lines = [f"Origins {self.origins}; horizon 2; 90 % block-bootstrap intervals "
                 f"(countries resampled); difference = {a} minus {b} on the same cases.", "",
                 "| crime | cases | onsets | metric | " + " | ".join(self.sources)
                 + " | difference |", "|---|---|---|---|" + "---|" * (len(self.sources) + 1)]
        for crime, grp in self.cases[self.cases["source"] == a].groupby("crime", sort=False):
            for metric in FOUR_CRIME_METRICS:
                cells = []
                for src in self.sources:
                    r = self.scores[(self.scores["source"] == src)
                                    & (self.scores["crime"] == crime)
                                    & (self.scores["metric"] == metric)]
                    ok = not r.empty and np.isfinite(r["estimate"].iloc[0])
                    cells.append(f"{r['estimate'].iloc[0]:.4f}" if ok else "n/a")
                d = self.differences[(self.differences["crime"] == crime)
                                     & (self.differences["metric"] == metric)]
                diff = "n/a"
                if not d.empty and np.isfinite(d["difference"].iloc[0]):
                    d = d.iloc[0]
                    diff = f"{d['difference']:+.4f} ({d['lower']:+.4f} to {d['upper']:+.4f})"
                lines.append(f"| {crime} | {len(grp)} | {int(grp['outcome'].sum())} | {metric} | "
                             + " | ".join(cells) + f" | {diff} |")
        return "\n".join(lines)


def evaluate_four_crimes(
    data_dir: str | Path,
    out: str | Path,
    *,
    origins: Sequence[int] = tuple(range(1994, 2007, 2)),
    variants: Sequence[str] = ("hierarchical", "independent"),
    workers: int = 1,
    model_overrides: dict[str, object] | None = None,
    n_boot: int = 1000,
    require_convergence: bool = True,
    forecaster=None,
) -> FourCrimeEvaluation:
    """Does the joint model help? Backtests on the four-crime proxy panel, scored per crime.

    The four-crime proxy panel (:func:`r2p_models.data.adapters.four_crime_table`: every
    proxy labelled there) is backtested with the joint hierarchical model and with the
    independent-crimes variant (same indicators and priors, each crime with its own
    scales and no shared effects or correlated country effects), and both are scored per
    crime on the cases both forecast, with paired block-bootstrap differences.

    Parameters
    ----------
    data_dir : path
        Folder with the publishers' files (``ucdp/``, ``pitf/``, ``tmk/``, ``ewp/``).
    out : path
        Output folder: the adapted panel, the ledger, ``four_crime_scores.csv``,
        ``four_crime_differences.csv``, ``four_crime_results.md`` and ``report.html``.
    origins : sequence of int
        Backtest origins. The default, every second year 1994-2006, gives two-year windows
        that tile 1995-2008 without overlap (half the fits of every year 1993-2006).
    variants : sequence of str
        The first is compared with the last (default: hierarchical minus independent).
    workers, model_overrides, n_boot, require_convergence, forecaster
        As in :func:`evaluate_against_peer`.

    Returns
    -------
    FourCrimeEvaluation
    """
    from r2p_models import calibration
    from r2p_models.rerun import resolve_ledger, write_report_for

    if len(variants) < 2:
        raise InputError(f"variants {list(variants)}: need two to compare")
    origins = sorted({int(t) for t in origins})
    if not origins:
        raise InputError("no origins to evaluate")
    data_dir, out = Path(data_dir), Path(out).resolve()
    # every input is checked before the first file is written or the first model fitted
    _variant_configs(None, variants, model_overrides)
    _check_compared_origins("four_crime", data_dir, origins, warmup=0)
    base, panel, ledger = _adapted_run("four_crime", data_dir, out)
    sources = _backtest_variants(base, panel, origins, variants, ledger, workers=workers,
                                 model_overrides=model_overrides,
                                 require_convergence=require_convergence,
                                 forecaster=forecaster)
    resolve_ledger(ledger, panel, base)
    with Ledger(ledger) as led:
        all_rows = led.rows()
    cases = shared_cases(all_rows, sources).drop(columns=["run_id"])
    if cases.empty:
        raise InputError("no case was forecast and resolved by every variant")
    cases = cases.merge(_issue_time_rate(panel, sorted(cases["origin_year"].unique()), 2),
                        on=["origin_year", "crime"], how="left")
    scores = calibration.score_table(
        cases, by=["source", "crime"], p_col="p_mean", y_col="outcome",
        references={"climatology": "base_rate"}, n_boot=n_boot, rng=0)
    differences = calibration.compare_table(
        cases, a=sources[0], b=sources[-1], by=["crime"], p_col="p_mean", y_col="outcome",
        n_boot=n_boot, rng=0, references={"climatology": "base_rate"})
    result = FourCrimeEvaluation(ledger=ledger, scores=scores, differences=differences,
                                 cases=cases, sources=sources,
                                 origins=sorted(int(t) for t in cases["origin_year"].unique()))
    files = {"scores": out / "four_crime_scores.csv",
             "differences": out / "four_crime_differences.csv",
             "markdown": out / "four_crime_results.md"}
    atomic_write_text(files["scores"], scores.to_csv(index=False))
    atomic_write_text(files["differences"], differences.to_csv(index=False))
    atomic_write_text(files["markdown"], result.markdown() + "\n")
    files["report"] = write_report_for(base, panel, ledger)
    result.files = files
    return result


def _adapted_run(kind: str, data_dir: Path, out: Path,
                 ) -> tuple[RunConfig, xr.Dataset, Path]:
    """Adapt the real data into ``out/<kind>_panel``, and return the run config with its
    ledger and report in ``out``, the panel and the ledger's path."""
    from r2p_models.config import load_config
    from r2p_models.data.adapters import write_adapted
    from r2p_models.data.panel import load_panel

    out.mkdir(parents=True, exist_ok=True)
    base = load_config(write_adapted(kind, data_dir, out / f"{kind}_panel"))
    ledger = out / "ledger.sqlite"
    base = base.with_outputs(ledger=ledger, report=out / "report.html")
    return base, load_panel(base), ledger


def _backtest_variants(base, panel, origins: Sequence[int], variants: Sequence[str],
                       ledger: Path, *, workers: int, model_overrides: dict | None,
                       require_convergence: bool, forecaster) -> list[str]:
    """Rolling-origin backtests of each variant into one ledger; the ledger sources.

    Every variant's settings are checked (:func:`_variant_configs`) before the first fit.
    """
    from dataclasses import replace

    from r2p_models.backtest import model_source, run_backtest

    sources = []
    configs = _variant_configs(base, variants, model_overrides)
    for variant, model_cfg in zip(variants, configs, strict=True):
        cfg = replace(base, model=model_cfg, raw={**base.raw, "model": model_cfg.to_dict()})
        log.info("backtesting %s on origins %s", variant, list(origins))
        summary = run_backtest(cfg, panel, origins, ledger=ledger, workers=workers,
                               require_convergence=require_convergence,
                               forecaster=forecaster)
        if summary.unconverged:
            log.warning("%s: origins %s failed their convergence checks and are not in the "
                        "comparison", variant, summary.unconverged)
        sources.append(model_source(cfg))
    return sources


def _variant_configs(base, variants: Sequence[str],
                     model_overrides: dict | None) -> list:
    """The ``[model]`` settings of each variant's backtest, every one checked.

    Parameters
    ----------
    base : RunConfig or None
        The adapted panel's config, whose ``[model]`` settings are the defaults; None
        checks the variants and overrides against :class:`r2p_models.config.ModelConfig`'s
        defaults (before the adapted panel is written).
    variants : sequence of str
    model_overrides : dict, optional

    Returns
    -------
    list of ModelConfig
        One per variant, in order.

    Raises
    ------
    InputError
        A variant or an override that is not a valid ``[model]`` setting.
    """
    from r2p_models.config import ConfigError, ModelConfig

    defaults = (ModelConfig() if base is None else base.model).to_dict()
    configs = []
    for variant in variants:
        settings = {**defaults, **EVAL_MODEL, "horizon": 2, "variant": variant,
                    **(model_overrides or {})}
        try:
            configs.append(ModelConfig(**settings))
        except ConfigError as err:
            raise InputError(f"variants {list(variants)}: {err}") from None
        except TypeError as err:  # an override that is not a [model] key
            raise InputError(f"model settings {sorted(model_overrides or {})}: {err}") from None
    return configs


def _check_compared_origins(kind: str, data_dir: Path, origins: Sequence[int], *,
                            warmup: int, horizon: int = 2) -> None:
    """Refuse compared origins the adapted panel cannot backtest, before anything is written.

    An origin ``t`` needs a fit through ``t`` on windows that ended by ``t``, so it must lie
    in ``first year + horizon`` to the panel's last year; with ``warmup`` origins backtested
    before the first compared one, the first compared one must lie ``warmup`` years later.
    The message names the user's origins only (not the warm-up ones).
    """
    import warnings

    from r2p_models.data.adapters import ewp_table, four_crime_table

    adapter = {"ewp": ewp_table, "four_crime": four_crime_table}[kind]
    with warnings.catch_warnings():  # the adapter warns again when the panel is written
        warnings.simplefilter("ignore")
        table, _ = adapter(data_dir)
    first, last = int(table["year"].min()), int(table["year"].max())
    lo = first + horizon + warmup
    bad = [t for t in origins if not lo <= t <= last]
    if bad:
        after = (f", and {warmup} warm-up origin(s) are backtested before the first "
                 "compared one" if warmup else "")
        raise InputError(
            f"origins {bad}: each compared origin must lie in {lo}-{last} (the {kind} panel "
            f"covers {first}-{last}; a fit through t needs outcomes of a {horizon}-year "
            f"window that ended by t{after})"
        )


def _issue_time_rate(panel, origins: Sequence[int], horizon: int) -> pd.DataFrame:
    """Climatology per origin and crime: the onset rate of the windows ended by the origin.

    The reference of the skill scores, with the same information set as a backtest fit
    (:func:`r2p_models.backtest.base_rate_forecaster`): never the in-sample rate.
    """
    from r2p_models.backtest import base_rate_forecaster
    from r2p_models.config import ModelConfig

    cfg = ModelConfig(horizon=horizon)
    rates = []
    for t in origins:
        draws = base_rate_forecaster(panel, cfg, t).draws
        rate = draws.max([d for d in draws.dims if d != "crime"])  # the same for every country
        rates += [{"origin_year": int(t), "crime": str(k), "base_rate": float(rate.sel(crime=k))}
                  for k in draws["crime"].values]
    return pd.DataFrame(rates)
