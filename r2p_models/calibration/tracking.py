"""Tidy metric tables: breakdowns, rolling windows, paired comparisons, accuracy over time.

The table functions take a pandas DataFrame of cases (one row per forecast case; a
ledger export works as it is with ``p_col="p_mean"``) and return tidy DataFrames with
one row per group and metric::

    <by columns>, metric, estimate, lower, upper, level, n, events, clusters,
    n_boot, n_valid, note, expected, oe_ratio, oe_lo, oe_hi, citl_p

Every estimate comes with a block-bootstrap interval resampling ``cluster_col``
(country): percentile intervals, except basic intervals for the CORP components (see
:mod:`r2p_models.calibration.bootstrap`). The last five columns (score and rolling tables)
belong to the group, not the metric (repeated on its rows, as ``n`` and ``events`` are):
the events the forecasts expected, the observed/expected ratio with its exact Poisson
interval at ``level``, and the exact p-value of calibration in the large
(:func:`~r2p_models.calibration.calibration_in_the_large`; it assumes independent
outcomes given the forecasts, so unlike the intervals it does not allow for dependence
within countries). Within a group,
capture metrics rank cases per issue year (``year_col``).

- :func:`score_table`: any metrics by any of crime, region, horizon, source, issue year.
- :func:`rolling_table`: the same over rolling windows of issue years.
- :func:`compare_table`: two sources or two vintages on the same cases, the difference
  with a paired interval (the same countries drawn for both), so "improved" means more
  than noise.
- :func:`plot_metric_over_time`: a metric per issue year (or window) with its interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from r2p_models.calibration._kernels import PreparedCases
from r2p_models.calibration._metrics import (
    MetricSpec,
    default_metrics,
    evaluate,
    metric_label,
    parse_metrics,
)
from r2p_models.calibration._validate import (
    CalibrationInputError,
    as_rng,
    check_column,
    check_level,
)
from r2p_models.calibration.bootstrap import (
    INTERVAL_LEVEL,
    N_BOOT,
    bootstrap_interval,
    chunk_size,
    cluster_counts,
)
from r2p_models.calibration.citl import citl_from_arrays
from r2p_models.calibration.scores import LOG_EPS
from r2p_models.checks import Rows, required

__all__ = [
    "TABLE_COLUMNS",
    "compare_table",
    "plot_metric_over_time",
    "rolling_table",
    "score_table",
]

#: Columns of :func:`score_table` after the ``by`` columns.
TABLE_COLUMNS: tuple[str, ...] = (
    "metric", "estimate", "lower", "upper", "level", "n", "events", "clusters",
    "n_boot", "n_valid", "note", "expected", "oe_ratio", "oe_lo", "oe_hi", "citl_p",
)

Unresolved = Literal["raise", "drop"]


def _checked_frame(
    cases: pd.DataFrame,
    *,
    p_col: str,
    y_col: str,
    cluster_col: str | None,
    year_col: str | None,
    by: Sequence[str],
    references: Mapping[str, str],
    unresolved: Unresolved,
) -> pd.DataFrame:
    if not isinstance(cases, pd.DataFrame):
        raise CalibrationInputError(f"cases must be a pandas DataFrame; got {type(cases)}")
    if unresolved not in ("raise", "drop"):
        raise CalibrationInputError(f"unresolved must be 'raise' or 'drop'; got {unresolved!r}")
    needed = [p_col, y_col, *by, *references.values()]
    if cluster_col is not None:
        needed.append(cluster_col)
    missing = [c for c in dict.fromkeys(needed) if c not in cases.columns]
    if missing:
        raise CalibrationInputError(
            f"cases lacks column(s) {missing}; available: {list(cases.columns)}"
        )
    if year_col is not None and year_col not in cases.columns:
        raise CalibrationInputError(
            f"cases lacks the issue-year column {year_col!r} (year_col); pass year_col=None "
            "to rank all cases together"
        )
    frame = cases
    if unresolved == "drop" and y_col in frame.columns:
        frame = frame.loc[frame[y_col].notna()]
    if frame.empty:
        raise CalibrationInputError("cases has no rows to score")
    check_column(frame, p_col, "p")
    check_column(frame, y_col, "y")
    for name, col in references.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise CalibrationInputError(f"reference name {name!r} must be a plain identifier")
        check_column(frame, col, "p")
    rows = Rows.index("cases", frame.index, CalibrationInputError)
    for col in (cluster_col, year_col):
        if col is not None:
            required(frame[col], col, rows)
    return frame


def _warn_mixed_sources(frame: pd.DataFrame, by: Sequence[str]) -> None:
    for col in ("source", "run_id"):
        if col in frame.columns and col not in by and frame[col].nunique() > 1:
            warnings.warn(
                f"cases mix {frame[col].nunique()} values of {col!r}, which are pooled; "
                f"add {col!r} to by to score them separately",
                UserWarning,
                stacklevel=3,
            )
            return


def _iter_groups(frame: pd.DataFrame, by: Sequence[str]):
    if not by:
        yield (), frame
        return
    for key, part in frame.groupby(list(by), sort=True, dropna=False, observed=True):
        yield (key if isinstance(key, tuple) else (key,)), part


def _undefined(spec: MetricSpec, n: int, events: float) -> str:
    if spec.needs_events and events == 0:
        return "no events"
    if spec.needs_nonevents and events == n:
        return "no non-events"
    return ""


def _prepared(
    part: pd.DataFrame,
    p_col: str,
    y_col: str,
    cluster_codes: np.ndarray | None,
    n_clusters: int | None,
    year_col: str | None,
    references: Mapping[str, str],
    eps: float,
) -> PreparedCases:
    return PreparedCases(
        part[p_col].to_numpy(dtype=float),
        part[y_col].to_numpy(dtype=float),
        clusters=cluster_codes,
        n_clusters=n_clusters,
        rank_groups=None if year_col is None else part[year_col].to_numpy(),
        references={k: part[c].to_numpy(dtype=float) for k, c in references.items()},
        eps=eps,
    )


def _codes(part: pd.DataFrame, cluster_col: str | None) -> tuple[np.ndarray | None, int | None]:
    if cluster_col is None:
        return None, None
    codes, uniques = pd.factorize(part[cluster_col], sort=True, use_na_sentinel=False)
    return codes.astype(np.intp), len(uniques)


def _replicates(
    sides: Sequence[PreparedCases],
    specs: Sequence[MetricSpec],
    n_clusters: int,
    n_boot: int,
    rng: np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Bootstrap replicates for one or more forecasters of the same cases (paired)."""
    reps: list[dict[str, list[np.ndarray]]] = [{s.name: [] for s in specs} for _ in sides]
    if not specs:
        return [{} for _ in sides]
    chunk = chunk_size(sides[0].n * len(sides), n_boot)
    for counts in cluster_counts(n_clusters, n_boot, rng, chunk=chunk):
        for side, store in zip(sides, reps, strict=True):
            values = evaluate(side, side.weights(counts), specs)
            for name, v in values.items():
                store[name].append(v)
    return [{k: np.concatenate(v) for k, v in store.items()} for store in reps]


def score_table(
    cases: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    p_col: str = "p",
    y_col: str = "outcome",
    cluster_col: str | None = "country",
    year_col: str | None = "origin_year",
    references: Mapping[str, str] | None = None,
    unresolved: Unresolved = "raise",
    n_boot: int = N_BOOT,
    level: float = INTERVAL_LEVEL,
    eps: float = LOG_EPS,
    rng: np.random.Generator | int | None = 0,
) -> pd.DataFrame:
    """Metrics with block-bootstrap intervals, overall or by groups.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per forecast case.
    by : sequence of str, default ()
        Breakdown columns, e.g. ``["crime"]``, ``["region"]``, ``["source", "origin_year"]``.
    metrics : sequence of str, optional
        Metric names (see :mod:`r2p_models.calibration._metrics`). Default: scores, CORP
        components, AUC, AUC within issue years, PR AUC, base rate, mean forecast,
        top-10/20/30 capture, and Brier/log skill against each reference.
    p_col, y_col : str
        Forecast probability and 0/1 outcome columns (``p_mean`` / ``outcome`` for a
        ledger export).
    cluster_col : str or None, default "country"
        Resampling unit of the block bootstrap; None resamples single cases.
    year_col : str or None, default "origin_year"
        Issue year: capture metrics rank cases within each issue year.
    references : mapping of str to str, optional
        Reference forecasts for skill scores, name to column, e.g.
        ``{"climatology": "base_rate", "persistence": "p_persist"}``.
    unresolved : {"raise", "drop"}, default "raise"
        What to do with rows whose outcome is missing.
    n_boot : int, default 1000
    level : float, default 0.9
    eps : float
        Clipping bound of the log score.
    rng : numpy Generator, int seed or None, default 0

    Returns
    -------
    pandas.DataFrame
        ``by`` columns then :data:`TABLE_COLUMNS`. A metric that is undefined in a group
        (e.g. AUC without events) has NaN and a ``note``. ``expected, oe_ratio, oe_lo,
        oe_hi, citl_p``: calibration in the large of the group (see the module docstring).

    Raises
    ------
    CalibrationInputError
        Missing columns, NaN, probabilities outside [0, 1], outcomes not 0/1, unknown
        metrics.
    """
    level = check_level(level)
    refs = dict(references or {})
    by = list(by)
    frame = _checked_frame(
        cases, p_col=p_col, y_col=y_col, cluster_col=cluster_col, year_col=year_col, by=by,
        references=refs, unresolved=unresolved,
    )
    _warn_mixed_sources(frame, by)
    specs = parse_metrics(list(metrics) if metrics is not None else default_metrics(refs), refs)
    rng = as_rng(rng)
    rows: list[dict[str, Any]] = []
    for key, part in _iter_groups(frame, by):
        codes, n_clusters = _codes(part, cluster_col)
        side = _prepared(part, p_col, y_col, codes, n_clusters, year_col, refs, eps)
        notes = {s.name: _undefined(s, side.n, side.events) for s in specs}
        active = [s for s in specs if not notes[s.name]]
        point = evaluate(side, side.ones(), active) if active else {}
        reps = _replicates([side], active, side.n_clusters, n_boot, rng)[0]
        citl = citl_from_arrays(side.p, side.y, level)
        group = {"expected": citl.expected, "oe_ratio": citl.ratio, "oe_lo": citl.lower,
                 "oe_hi": citl.upper, "citl_p": citl.p_value}
        for s in specs:
            est = float(point[s.name][0]) if s.name in point else float("nan")
            lo, hi = (
                bootstrap_interval(reps[s.name], est, level, method=s.interval, floor=s.floor)
                if s.name in reps else (float("nan"), float("nan"))
            )
            n_valid = int(np.sum(~np.isnan(reps[s.name]))) if s.name in reps else 0
            note = notes[s.name] or ("undefined" if np.isnan(est) else "")
            rows.append({
                **dict(zip(by, key, strict=True)),
                "metric": s.name, "estimate": est, "lower": lo, "upper": hi, "level": level,
                "n": side.n, "events": int(side.events), "clusters": side.n_clusters,
                "n_boot": n_boot, "n_valid": n_valid, "note": note, **group,
            })
    return pd.DataFrame(rows, columns=[*by, *TABLE_COLUMNS])


def rolling_table(
    cases: pd.DataFrame,
    *,
    window: int = 5,
    step: int = 1,
    year_col: str = "origin_year",
    by: Sequence[str] = (),
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`score_table` over rolling windows of issue years.

    Parameters
    ----------
    cases : pandas.DataFrame
    window : int, default 5
        Issue years per window (only full windows are reported).
    step : int, default 1
        Years between window ends.
    year_col : str, default "origin_year"
    by : sequence of str
        Breakdown columns within each window.
    **kwargs
        Passed to :func:`score_table` (metrics, p_col, y_col, n_boot, rng, ...).

    Returns
    -------
    pandas.DataFrame
        ``window_start, window_end``, the ``by`` columns, then :data:`TABLE_COLUMNS`.
    """
    if window < 1 or step < 1:
        raise CalibrationInputError(f"window and step must be >= 1; got {window}, {step}")
    if year_col not in cases.columns:
        raise CalibrationInputError(f"cases lacks the issue-year column {year_col!r}")
    years = pd.to_numeric(cases[year_col], errors="coerce")
    if years.isna().any():
        raise CalibrationInputError(f"column {year_col!r} must hold whole years, without gaps")
    first, last = int(years.min()), int(years.max())
    rng = as_rng(kwargs.pop("rng", 0))
    tables = []
    for end in range(first + window - 1, last + 1, step):
        start = end - window + 1
        part = cases.loc[(years >= start) & (years <= end)]
        if part.empty:
            continue
        t = score_table(part, by=by, year_col=year_col, rng=rng, **kwargs)
        t.insert(0, "window_end", end)
        t.insert(0, "window_start", start)
        tables.append(t)
    if not tables:
        raise CalibrationInputError(
            f"no full window of {window} issue years between {first} and {last}"
        )
    return pd.concat(tables, ignore_index=True)


_KEY_CANDIDATES = ("country", "crime", "origin_year", "target_start", "target_end", "horizon")


def compare_table(
    cases: pd.DataFrame,
    *,
    a: Any,
    b: Any,
    col: str = "source",
    by: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    case_cols: Sequence[str] | None = None,
    p_col: str = "p",
    y_col: str = "outcome",
    cluster_col: str | None = "country",
    year_col: str | None = "origin_year",
    references: Mapping[str, str] | None = None,
    unresolved: Unresolved = "raise",
    n_boot: int = N_BOOT,
    level: float = INTERVAL_LEVEL,
    eps: float = LOG_EPS,
    rng: np.random.Generator | int | None = 0,
) -> pd.DataFrame:
    """Compare two forecasters (sources or vintages) on the cases both forecast.

    Parameters
    ----------
    cases : pandas.DataFrame
        Rows of both forecasters.
    a, b : object
        The two values of ``col`` to compare (e.g. two model versions, or a model and an
        analyst); the difference is ``a - b``.
    col : str, default "source"
        Column that tells the forecasters apart (``"run_id"`` for two vintages).
    by : sequence of str
        Breakdown columns (taken from ``a``'s rows if not case columns).
    metrics : sequence of str, optional
        Default: ``brier, log, mcb_brier, dsc_brier, mcb_log, dsc_log, auc, auc_within,
        pr_auc, capture_top10, capture_top20, capture_top30``.
    case_cols : sequence of str, optional
        Columns identifying a case. Default: those of ``country, crime, origin_year,
        target_start, target_end, horizon`` present.
    p_col, y_col, cluster_col, year_col, references, unresolved, n_boot, level, eps, rng
        As in :func:`score_table`.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``metric, a, b, estimate_a, estimate_b, difference, lower, upper,
        level, n, events, clusters, n_valid, better, note``. ``lower, upper`` bound the
        difference (paired block bootstrap); ``better`` names the forecaster the interval
        favours, or ``"unclear"`` if it contains 0 (empty for metrics without a better
        direction).

    Raises
    ------
    CalibrationInputError
        Missing columns, no shared cases, duplicate cases within one forecaster,
        outcomes that disagree between the two.
    """
    level = check_level(level)
    refs = dict(references or {})
    by = list(by)
    if col not in cases.columns:
        raise CalibrationInputError(f"cases lacks column {col!r} (col)")
    if case_cols is None:
        case_cols = [c for c in _KEY_CANDIDATES if c in cases.columns]
    case_cols = list(case_cols)
    if not case_cols:
        raise CalibrationInputError("no case columns to match the two forecasters on")
    rows_a = cases.loc[cases[col] == a]
    rows_b = cases.loc[cases[col] == b]
    for name, rows in ((a, rows_a), (b, rows_b)):
        if rows.empty:
            raise CalibrationInputError(f"no rows with {col} == {name!r}")
    extra = [c for c in dict.fromkeys([*by, *( [cluster_col] if cluster_col else []),
                                        *([year_col] if year_col else []),
                                        *refs.values()]) if c not in case_cols]
    frames = []
    for name, rows in ((a, rows_a), (b, rows_b)):
        checked = _checked_frame(
            rows, p_col=p_col, y_col=y_col, cluster_col=cluster_col, year_col=year_col,
            by=by, references=refs, unresolved=unresolved,
        )
        missing = [c for c in case_cols if c not in checked.columns]
        if missing:
            raise CalibrationInputError(f"cases lacks case column(s) {missing}")
        dup = checked.duplicated(subset=case_cols, keep=False)
        if dup.any():
            first = checked.loc[dup, case_cols].iloc[0].to_dict()
            raise CalibrationInputError(
                f"{col} == {name!r} has {int(dup.sum())} rows for repeated cases, e.g. {first}; "
                "each case must appear once per forecaster"
            )
        frames.append(checked)
    fa = frames[0][[*case_cols, *extra, p_col, y_col]]
    fb = frames[1][[*case_cols, p_col, y_col]]
    merged = fa.merge(fb, on=case_cols, how="inner", suffixes=("_a", "_b"))
    if merged.empty:
        raise CalibrationInputError(f"{col} == {a!r} and {col} == {b!r} share no cases")
    disagree = merged[f"{y_col}_a"] != merged[f"{y_col}_b"]
    if disagree.any():
        first = merged.loc[disagree, case_cols].iloc[0].to_dict()
        raise CalibrationInputError(
            f"outcomes differ between {a!r} and {b!r} for {int(disagree.sum())} case(s), "
            f"e.g. {first}"
        )
    unmatched = len(fa) + len(fb) - 2 * len(merged)
    if unmatched:
        warnings.warn(
            f"{unmatched} case(s) forecast by only one of {a!r} and {b!r} are left out",
            UserWarning,
            stacklevel=2,
        )
    names = list(metrics) if metrics is not None else [
        "brier", "log", "mcb_brier", "dsc_brier", "mcb_log", "dsc_log", "auc", "auc_within",
        "pr_auc", "capture_top10", "capture_top20", "capture_top30",
    ]
    specs = parse_metrics(names, refs)
    rng = as_rng(rng)
    y_name = f"{y_col}_a"
    out: list[dict[str, Any]] = []
    for key, part in _iter_groups(merged, by):
        codes, n_clusters = _codes(part, cluster_col)
        side_a = _prepared(part, f"{p_col}_a", y_name, codes, n_clusters, year_col, refs, eps)
        side_b = _prepared(part, f"{p_col}_b", y_name, codes, n_clusters, year_col, refs, eps)
        notes = {s.name: _undefined(s, side_a.n, side_a.events) for s in specs}
        active = [s for s in specs if not notes[s.name]]
        pa = evaluate(side_a, side_a.ones(), active) if active else {}
        pb = evaluate(side_b, side_b.ones(), active) if active else {}
        ra, rb = _replicates([side_a, side_b], active, side_a.n_clusters, n_boot, rng)
        for s in specs:
            ea = float(pa[s.name][0]) if s.name in pa else float("nan")
            eb = float(pb[s.name][0]) if s.name in pb else float("nan")
            if s.name in ra:
                diff_reps = ra[s.name] - rb[s.name]
                lo, hi = bootstrap_interval(diff_reps, ea - eb, level, method=s.interval)
                n_valid = int(np.sum(~np.isnan(diff_reps)))
            else:
                lo = hi = float("nan")
                n_valid = 0
            out.append({
                **dict(zip(by, key, strict=True)),
                "metric": s.name, "a": a, "b": b, "estimate_a": ea, "estimate_b": eb,
                "difference": ea - eb, "lower": lo, "upper": hi, "level": level,
                "n": side_a.n, "events": int(side_a.events), "clusters": side_a.n_clusters,
                "n_valid": n_valid, "better": _better(s, a, b, lo, hi),
                "note": notes[s.name],
            })
    return pd.DataFrame(out)


def _better(spec: MetricSpec, a: Any, b: Any, lo: float, hi: float) -> str:
    if spec.higher_is_better is None or np.isnan(lo):
        return ""
    if lo > 0:
        return str(a if spec.higher_is_better else b)
    if hi < 0:
        return str(b if spec.higher_is_better else a)
    return "unclear"


def plot_metric_over_time(
    table: pd.DataFrame,
    metric: str,
    *,
    x: str | None = None,
    hue: str | None = None,
    title: str | None = None,
    reference: float | None = None,
    figsize: tuple[float, float] = (7.0, 4.0),
) -> Figure:
    """A metric per issue year (or rolling window) with its interval.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`score_table` (``by`` including the year column) or
        :func:`rolling_table`.
    metric : str
        Which metric to draw.
    x : str, optional
        Time column; default ``window_end`` if present, else ``origin_year``.
    hue : str, optional
        Column with one line per value (e.g. ``source`` or ``crime``).
    title : str, optional
    reference : float, optional
        Draw a horizontal reference line (e.g. 0.5 for AUC, 0 for skill).
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if x is None:
        x = "window_end" if "window_end" in table.columns else "origin_year"
    for c in (x, "metric", "estimate", "lower", "upper", *([hue] if hue else [])):
        if c not in table.columns:
            raise CalibrationInputError(f"table lacks column {c!r}")
    t = table.loc[table["metric"] == metric]
    if t.empty:
        raise CalibrationInputError(f"table has no rows for metric {metric!r}")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    groups = [(None, t)] if hue is None else list(t.groupby(hue, sort=True))
    for name, g in groups:
        g = g.sort_values(x)
        line = ax.plot(g[x], g["estimate"], marker="o", linewidth=1.8,
                       label=None if name is None else str(name))[0]
        ax.fill_between(g[x], g["lower"], g["upper"], color=line.get_color(), alpha=0.2,
                        linewidth=0)
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle=":", linewidth=1.2)
    level = float(t["level"].iloc[0]) if "level" in t.columns else INTERVAL_LEVEL
    label = "Issue year" if x == "origin_year" else x.replace("_", " ").capitalize()
    if x == "window_end" and "window_start" in t.columns:
        width = int((t["window_end"] - t["window_start"]).iloc[0]) + 1
        label = f"Last issue year of a {width}-year window"
    ax.set_xlabel(label, fontsize=11)
    ax.set_ylabel(metric_label(metric), fontsize=11)
    ax.grid(True, color="0.9")
    if hue is not None:
        ax.legend(title=hue, fontsize=9)
    ax.set_title(
        title or f"{metric_label(metric)} over time ({level:.0%} block-bootstrap intervals)",
        fontsize=12,
    )
    return fig
