"""Lead time: how many years before an onset did a source's warning come?

Everything here works on ledger rows (a DataFrame with the ledger's columns, e.g.
:meth:`r2p_models.ledger.Ledger.rows`); nothing is fitted and the model is never imported.

Definitions
-----------
Onset
    One onset is ``(country, crime, onset year)``. The ledger holds outcomes of *windows*,
    not of years, so onsets are read from the resolved windows of every source (outcomes
    are facts of the world, the same whoever forecast them): the windows observed with
    outcome 1 of a country and crime are grouped into clusters whose windows share at
    least one year (every window that contains one onset year does), and each cluster is
    one onset, however many windows, origins and sources saw it. Its year is the earliest
    year common to all the cluster's windows that no window observed with outcome 0 rules
    out (``onset_exact`` is True when exactly one year is left; otherwise the earliest
    possible year is taken, which gives the shorter, conservative lead time). Onsets can
    also be given directly (``onsets=``, e.g. from the panel).
Origins that count
    For an onset in year ``Y`` and a source (a ``(source, kind)`` pair), the origins that
    count are the origin years ``o`` with ``Y - max_lookback <= o <= Y - 1`` at which the
    source issued at least one forecast of that crime (to any country). The first target
    year of a window is ``o + 1``, so these are exactly the origins whose window contains
    ``Y`` or ends before it (an earlier warning); origins ``o >= Y`` come after the onset
    and never count. A source with no such origin did not cover the onset, and the onset
    is left out of its rows (not counted as missed).
Which forecast of an origin
    At each origin the country's forecast is its row whose window contains ``Y`` (the
    shortest such window if several), else its row with the shortest horizon. It is
    ranked among the source's forecasts of the same crime, origin and window, highest
    ``p_mean`` first, ties broken by country id (the order of the report's watchlist).
    A country without a row at an origin that counts (e.g. not at risk then) is not
    flagged there.
Flagged, lead time
    Under the watchlist rule a forecast is flagged when its rank is at most ``top_n``;
    under the threshold rule when ``p_mean >= threshold``. Walking back from the latest
    origin that counts, the flagged origins without a break form the run of warnings
    that *stayed* until the onset; the lead time is ``Y - o_first`` years, ``o_first``
    the earliest origin of that run (flagged at ``Y - 1`` only: 1 year). An onset whose
    latest counting origin is not flagged is *missed*: ``flagged`` False, ``lead_time``
    NaN, even if it was flagged earlier and then dropped (``ever_flagged`` says so).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from r2p_models.calibration._validate import CalibrationInputError

__all__ = [
    "COMPARE_COLUMNS",
    "LEAD_COLUMNS",
    "MAX_LOOKBACK",
    "SUMMARY_COLUMNS",
    "compare_lead_times",
    "find_onsets",
    "lead_time_at_budget",
    "lead_time_summary",
    "lead_times",
    "onset_histories",
    "rule_label",
]

#: Default look-back: origins more than this many years before the onset never count.
MAX_LOOKBACK = 10
_NEED = ("source", "kind", "origin_year", "country", "crime", "target_start", "target_end",
         "p_mean", "outcome_status", "outcome")
#: Columns of :func:`lead_times`.
LEAD_COLUMNS: tuple[str, ...] = (
    "source", "kind", "rule", "country", "crime", "onset_year", "onset_exact", "origins",
    "flagged", "lead_time", "entered", "ever_flagged", "first_flagged", "last_origin",
    "rank_last", "p_last",
)


def _check_rows(rows: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(rows, pd.DataFrame):
        raise CalibrationInputError(f"rows must be a DataFrame of ledger rows, got "
                                    f"{type(rows).__name__}")
    missing = [c for c in _NEED if c not in rows.columns]
    if missing:
        raise CalibrationInputError(f"ledger rows lack column(s) {missing}")
    out = rows.copy()
    out["country"] = out["country"].astype(str)
    for c in ("origin_year", "target_start", "target_end"):
        out[c] = pd.to_numeric(out[c], errors="raise").astype("int64")
    out["p_mean"] = pd.to_numeric(out["p_mean"], errors="coerce").astype("float64")
    out["outcome"] = pd.to_numeric(out["outcome"], errors="coerce").astype("float64")
    return out


def _whole(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise CalibrationInputError(f"{name} must be a whole number >= {minimum}, got "
                                    f"{value!r}")
    return int(value)


def rule_label(top_n: int | None = None, threshold: float | None = None) -> str:
    """The ``rule`` label of :func:`lead_times` rows (``"top 10"``, ``"p >= 0.2"``)."""
    return f"top {top_n}" if threshold is None else f"p >= {threshold:g}"


# ----------------------------------------------------------------------------- onsets


def find_onsets(rows: pd.DataFrame) -> pd.DataFrame:
    """The onsets in the ledger's resolved windows (see the module docstring).

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows (any sources, kinds and statuses; only ``observed`` ones are read).

    Returns
    -------
    pandas.DataFrame
        ``country, crime, onset_year, onset_exact, windows`` (distinct positive windows
        behind the onset), sorted by crime, onset year and country.
    """
    rows = _check_rows(rows)
    cols = ["country", "crime", "onset_year", "onset_exact", "windows"]
    obs = rows[rows["outcome_status"] == "observed"]
    win = obs[["country", "crime", "target_start", "target_end", "outcome"]].drop_duplicates()
    pos = win[win["outcome"] == 1].sort_values(["country", "crime", "target_start",
                                                "target_end"])
    if pos.empty:
        return pd.DataFrame(columns=cols).astype({"onset_year": "int64",
                                                  "onset_exact": bool, "windows": "int64"})
    zero: set[tuple[str, str, int]] = set()
    for r in win[win["outcome"] == 0].itertuples(index=False):
        zero.update((r.country, r.crime, y) for y in range(r.target_start, r.target_end + 1))
    out = []

    def close(key: tuple[str, str], lo: int, hi: int, n: int) -> None:
        years = [y for y in range(lo, hi + 1) if (*key, y) not in zero] or [lo]
        out.append((*key, years[0], len(years) == 1, n))

    for key, g in pos.groupby(["country", "crime"], sort=False):
        lo = hi = None
        n = 0
        for s, e in zip(g["target_start"], g["target_end"], strict=True):
            if lo is not None and s <= hi and e >= lo:
                lo, hi, n = max(lo, s), min(hi, e), n + 1
                continue
            if lo is not None:
                close(key, lo, hi, n)
            lo, hi, n = int(s), int(e), 1
        close(key, lo, hi, n)
    df = pd.DataFrame(out, columns=cols)
    return df.sort_values(["crime", "onset_year", "country"], kind="stable").reset_index(
        drop=True)


def _given_onsets(onsets: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(onsets, pd.DataFrame):
        raise CalibrationInputError(f"onsets must be a DataFrame, got {type(onsets).__name__}")
    o = onsets.rename(columns={"year": "onset_year"})
    missing = [c for c in ("country", "crime", "onset_year") if c not in o.columns]
    if missing:
        raise CalibrationInputError(f"onsets lack column(s) {missing} (country, crime, year)")
    o = o[["country", "crime", "onset_year"]].drop_duplicates().copy()
    o["country"] = o["country"].astype(str)
    o["onset_year"] = pd.to_numeric(o["onset_year"], errors="raise").astype("int64")
    o["onset_exact"], o["windows"] = True, 0
    return o.sort_values(["crime", "onset_year", "country"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- histories


def _ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """Every forecast with its rank among its source's forecasts of the same crime, origin
    and window (highest p_mean first, ties by country)."""
    keys = ["source", "kind", "origin_year", "crime", "target_start", "target_end"]
    r = rows.dropna(subset=["p_mean"]).sort_values(
        [*keys, "p_mean", "country"], ascending=[True] * len(keys) + [False, True],
        kind="stable")
    r = r.assign(rank=r.groupby(keys, sort=False).cumcount() + 1,
                 n_ranked=r.groupby(keys, sort=False)["p_mean"].transform("size"))
    return r


def onset_histories(
    rows: pd.DataFrame,
    *,
    onsets: pd.DataFrame | None = None,
    max_lookback: int = MAX_LOOKBACK,
    sources: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rank and probability of each onset's country at every origin that counts.

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows.
    onsets : pandas.DataFrame, optional
        ``country, crime, year`` (or ``onset_year``); default :func:`find_onsets`.
    max_lookback : int, default 10
        Origins at most this many years before the onset count.
    sources, kinds : sequence of str, optional
        Only these sources / kinds (default: all).

    Returns
    -------
    pandas.DataFrame
        One row per (source, kind, onset, origin that counts): ``source, kind, country,
        crime, onset_year, onset_exact, origin_year, years_before`` (``onset_year -
        origin_year``), ``target_start, target_end, rank, n_ranked, p_mean`` (NaN when the
        country has no forecast at that origin).
    """
    rows = _check_rows(rows)
    max_lookback = _whole(max_lookback, "max_lookback")
    ons = find_onsets(rows) if onsets is None else _given_onsets(onsets)
    fc = rows
    for col, want in (("source", sources), ("kind", kinds)):
        if want is not None:
            want = [want] if isinstance(want, str) else list(want)
            unknown = sorted(set(want) - set(fc[col].astype(str)))
            if unknown:
                raise CalibrationInputError(
                    f"unknown {col}(s) {unknown}; the ledger has {sorted(set(fc[col]))}")
            fc = fc[fc[col].isin(want)]
    cols = ["source", "kind", "country", "crime", "onset_year", "onset_exact", "origin_year",
            "years_before", "target_start", "target_end", "rank", "n_ranked", "p_mean"]
    if ons.empty or fc.empty:
        return pd.DataFrame(columns=cols)
    issued = fc[["source", "kind", "crime", "origin_year"]].drop_duplicates()
    cand = ons[["country", "crime", "onset_year", "onset_exact"]].merge(issued, on="crime")
    cand = cand[(cand["origin_year"] < cand["onset_year"])
                & (cand["origin_year"] >= cand["onset_year"] - max_lookback)]
    ranked = _ranked(fc)[["source", "kind", "crime", "origin_year", "country", "target_start",
                          "target_end", "rank", "n_ranked", "p_mean"]]
    h = cand.merge(ranked, on=["source", "kind", "crime", "origin_year", "country"],
                   how="left")
    contains = (h["target_start"] <= h["onset_year"]) & (h["onset_year"] <= h["target_end"])
    h = h.assign(_miss=~contains, _len=h["target_end"] - h["target_start"])
    h = h.sort_values(["source", "kind", "crime", "onset_year", "country", "origin_year",
                       "_miss", "_len"], kind="stable")
    h = h.drop_duplicates(["source", "kind", "crime", "onset_year", "country",
                           "origin_year"])
    h["years_before"] = h["onset_year"] - h["origin_year"]
    return h[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------- lead times


def _lead(hist: pd.DataFrame, flag: np.ndarray, rule: str) -> pd.DataFrame:
    keys = ["source", "kind", "country", "crime", "onset_year"]
    h = hist.assign(_flag=flag.astype(int)).sort_values(
        [*keys, "origin_year"], ascending=[True] * 5 + [False], kind="stable")
    # flagged without a break from the latest origin back
    h["_run"] = h.groupby(keys, sort=False)["_flag"].cumprod().astype(bool)
    h["_flag"] = h["_flag"].astype(bool)
    latest = h.drop_duplicates(keys).set_index(keys)  # the latest origin of each onset
    g = h.groupby(keys, sort=False)
    out = pd.DataFrame({
        "onset_exact": latest["onset_exact"], "origins": g["origin_year"].size(),
        "last_origin": latest["origin_year"], "rank_last": latest["rank"],
        "p_last": latest["p_mean"], "flagged": latest["_flag"],
        "ever_flagged": g["_flag"].any(),
    })
    entered = h[h["_run"]].groupby(keys, sort=False)["origin_year"].min()
    first_flag = h[h["_flag"]].groupby(keys, sort=False)["origin_year"].min()
    out["entered"] = entered.reindex(out.index)
    out["first_flagged"] = first_flag.reindex(out.index)
    out = out.reset_index()
    out["lead_time"] = np.where(out["flagged"], out["onset_year"] - out["entered"], np.nan)
    out["flagged"] = out["flagged"].astype(bool)
    out["ever_flagged"] = out["ever_flagged"].astype(bool)
    out["rule"] = rule
    return out[list(LEAD_COLUMNS)]


def lead_times(
    rows: pd.DataFrame,
    *,
    top_n: int | None = 10,
    threshold: float | None = None,
    onsets: pd.DataFrame | None = None,
    max_lookback: int = MAX_LOOKBACK,
    sources: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Lead time of every source's warning of every onset (see the module docstring).

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows (all statuses: a pending forecast still ranks).
    top_n : int or None, default 10
        Watchlist length per crime and origin (the watchlist rule); None: not computed.
    threshold : float, optional
        Probability at or above which a forecast is flagged (the threshold rule).
    onsets, max_lookback, sources, kinds
        As :func:`onset_histories`.

    Returns
    -------
    pandas.DataFrame
        One row per (source, kind, rule, onset covered by the source), columns
        :data:`LEAD_COLUMNS`: ``rule`` (:func:`rule_label`), ``origins`` (how many count),
        ``flagged`` (warning in place at the latest one), ``lead_time`` (years; NaN when
        missed), ``entered`` (origin the warning that stayed began), ``ever_flagged`` /
        ``first_flagged`` (any warning, even one that was dropped), ``last_origin``,
        ``rank_last``, ``p_last`` (at the latest origin; NaN when no forecast).

    Raises
    ------
    CalibrationInputError
        Missing columns, an unknown source or kind, a bad ``top_n`` / ``threshold``, or
        neither rule.
    """
    if top_n is None and threshold is None:
        raise CalibrationInputError("lead_times: give top_n, threshold or both")
    if top_n is not None:
        top_n = _whole(top_n, "top_n")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number) \
                or not 0 < float(threshold) <= 1:
            raise CalibrationInputError(f"threshold must be a probability in (0, 1], got "
                                        f"{threshold!r}")
        threshold = float(threshold)
    hist = onset_histories(rows, onsets=onsets, max_lookback=max_lookback, sources=sources,
                           kinds=kinds)
    if hist.empty:
        return pd.DataFrame(columns=list(LEAD_COLUMNS))
    parts = []
    if top_n is not None:
        flag = (hist["rank"] <= top_n).to_numpy()
        parts.append(_lead(hist, flag, rule_label(top_n=top_n)))
    if threshold is not None:
        flag = (hist["p_mean"] >= threshold).to_numpy()
        parts.append(_lead(hist, flag, rule_label(threshold=threshold)))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["source", "kind", "rule", "crime", "onset_year", "country"],
                           kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- summaries


def _summarise(g: pd.DataFrame) -> dict[str, float]:
    lead = g.loc[g["flagged"], "lead_time"].astype(float)
    q = lead.quantile([0.25, 0.5, 0.75]) if len(lead) else pd.Series(
        [np.nan] * 3, index=[0.25, 0.5, 0.75])
    return {"onsets": len(g), "flagged": int(g["flagged"].sum()),
            "share_flagged": float(g["flagged"].mean()) if len(g) else np.nan,
            "dropped": int((g["ever_flagged"] & ~g["flagged"]).sum()),
            "median_lead": float(q[0.5]), "q25_lead": float(q[0.25]),
            "q75_lead": float(q[0.75]),
            "mean_warning_years": float(g["lead_time"].fillna(0).mean()) if len(g) else np.nan}


SUMMARY_COLUMNS: tuple[str, ...] = (
    "source", "kind", "rule", "crime", "onsets", "flagged", "share_flagged", "dropped",
    "median_lead", "q25_lead", "q75_lead", "mean_warning_years",
)


def lead_time_summary(lt: pd.DataFrame) -> pd.DataFrame:
    """The distribution of lead times per source, rule and crime (and all crimes pooled).

    Parameters
    ----------
    lt : pandas.DataFrame
        From :func:`lead_times`.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: ``onsets`` covered, ``flagged`` (warning in place when the
        onset came), ``share_flagged``, ``dropped`` (flagged at some origin but not at the
        latest), median and quartiles of the lead time over the flagged onsets (years),
        and ``mean_warning_years`` over all onsets (a missed onset counts 0). ``crime`` is
        ``"all"`` for all crimes pooled.
    """
    if lt.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    out = []
    for (source, kind, rule), g in lt.groupby(["source", "kind", "rule"], sort=True):
        crimes = list(dict.fromkeys(g["crime"]))
        for crime in ["all", *crimes] if len(crimes) > 1 else crimes:
            part = g if crime == "all" else g[g["crime"] == crime]
            out.append({"source": source, "kind": kind, "rule": rule, "crime": crime,
                        **_summarise(part)})
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def lead_time_at_budget(
    rows: pd.DataFrame,
    budgets: Sequence[int] = (5, 10, 20),
    **kwargs: object,
) -> pd.DataFrame:
    """Lead time when only ``N`` countries a year can be watched per crime.

    The alert budget ``N`` is the watchlist length of :func:`lead_times` (``top_n=N``):
    the ``N`` highest forecasts of each crime at each origin are the alerts of that year.

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows.
    budgets : sequence of int
        Alert budgets (countries a year per crime).
    **kwargs
        ``onsets``, ``max_lookback``, ``sources``, ``kinds`` of :func:`lead_times`.

    Returns
    -------
    pandas.DataFrame
        :func:`lead_time_summary` rows with a ``budget`` column first.
    """
    if isinstance(budgets, int | np.integer):
        budgets = [int(budgets)]
    tables = []
    for b in budgets:
        s = lead_time_summary(lead_times(rows, top_n=_whole(b, "budget"), **kwargs))  # type: ignore[arg-type]
        s.insert(0, "budget", int(b))
        tables.append(s)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _side(lt: pd.DataFrame, which: str | tuple[str, str], name: str) -> tuple[str, str]:
    src, kind = (which, None) if isinstance(which, str) else which
    kinds = sorted(set(lt.loc[lt["source"] == src, "kind"]))
    if kind is not None:
        kinds = [k for k in kinds if k == kind]
    if not kinds:
        raise CalibrationInputError(
            f"{name}: no lead times of source {which!r}; sources are "
            f"{sorted(set(lt['source']))}")
    if len(kinds) > 1:
        raise CalibrationInputError(
            f"{name}: source {src!r} has kinds {kinds}; pass ({src!r}, kind)")
    return src, kinds[0]


COMPARE_COLUMNS: tuple[str, ...] = (
    "a", "kind_a", "b", "kind_b", "rule", "crime", "onsets", "both", "a_only", "b_only",
    "neither", "mean_a", "mean_b", "difference", "lower", "upper", "median_diff_both",
)


def compare_lead_times(
    lt: pd.DataFrame,
    a: str | tuple[str, str],
    b: str | tuple[str, str],
    *,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparison of two sources' lead times on the onsets both covered.

    Parameters
    ----------
    lt : pandas.DataFrame
        From :func:`lead_times` (both sources in it).
    a, b : str or (source, kind)
        The two sources (a source with several kinds needs its kind).
    n_boot : int, default 1000
        Bootstrap replicates; onsets are resampled with replacement.
    level : float, default 0.9
        Level of the percentile interval.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        One row per rule and crime (and ``"all"``), :data:`COMPARE_COLUMNS`: shared
        ``onsets``; flagged by ``both``, by ``a_only``, ``b_only``, ``neither``;
        ``mean_a`` / ``mean_b`` years of warning per onset (a missed onset counts 0);
        ``difference = mean_a - mean_b`` with its bootstrap interval ``lower`` / ``upper``; and
        the median difference of lead times on the onsets both flagged.
    """
    n_boot = _whole(n_boot, "n_boot")
    if not 0 < level < 1:
        raise CalibrationInputError(f"level must be in (0, 1), got {level!r}")
    if lt.empty:
        raise CalibrationInputError("compare_lead_times: no lead times to compare")
    sa, ka = _side(lt, a, "a")
    sb, kb = _side(lt, b, "b")
    if (sa, ka) == (sb, kb):
        raise CalibrationInputError("compare_lead_times: a and b are the same source")
    keys = ["rule", "country", "crime", "onset_year"]
    la = lt[(lt["source"] == sa) & (lt["kind"] == ka)]
    lb = lt[(lt["source"] == sb) & (lt["kind"] == kb)]
    m = la[[*keys, "flagged", "lead_time"]].merge(lb[[*keys, "flagged", "lead_time"]],
                                                  on=keys, suffixes=("_a", "_b"))
    rng = np.random.default_rng(seed)
    out = []
    alpha = (1 - level) / 2
    for rule, g in m.groupby("rule", sort=True):
        crimes = list(dict.fromkeys(g["crime"]))
        for crime in ["all", *crimes] if len(crimes) > 1 else crimes:
            p = g if crime == "all" else g[g["crime"] == crime]
            fa, fb = p["flagged_a"].to_numpy(bool), p["flagged_b"].to_numpy(bool)
            ya = p["lead_time_a"].fillna(0).to_numpy(float)
            yb = p["lead_time_b"].fillna(0).to_numpy(float)
            d = ya - yb
            if len(d):
                idx = rng.integers(0, len(d), size=(n_boot, len(d)))
                reps = d[idx].mean(axis=1)
                lo, hi = np.quantile(reps, [alpha, 1 - alpha])
            else:
                lo = hi = np.nan
            both = fa & fb
            out.append({
                "a": sa, "kind_a": ka, "b": sb, "kind_b": kb, "rule": rule, "crime": crime,
                "onsets": len(d), "both": int(both.sum()), "a_only": int((fa & ~fb).sum()),
                "b_only": int((~fa & fb).sum()), "neither": int((~fa & ~fb).sum()),
                "mean_a": float(ya.mean()) if len(d) else np.nan,
                "mean_b": float(yb.mean()) if len(d) else np.nan,
                "difference": float(d.mean()) if len(d) else np.nan, "lower": float(lo),
                "upper": float(hi),
                "median_diff_both": float(np.median(d[both])) if both.any() else np.nan,
            })
    return pd.DataFrame(out, columns=list(COMPARE_COLUMNS))
