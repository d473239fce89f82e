"""The executive summary at the top of the report: the answer first, the evidence after.

Per crime: the five highest current forecasts with their 90 % intervals (the head of the
report's watchlist), what changed since the last run (the entrants, exits, risers and
fallers of :func:`r2p_models.report.changes.what_changed`, the report's own "What changed"
section, filtered to the crime), and one sentence on calibration in plain words, from the
current model's track record: its calibration in the large (observed against expected
events, :mod:`r2p_models.calibration.citl`) as the report's headline table holds it.

The verdict rests on the real-time track record when it has enough events, else on the
backtests (postdictions, said so); with fewer than :data:`~r2p_models.report.build.
FEW_EVENTS` events both observed and expected it says there is too little track record
to judge, rather than "no evidence of miscalibration" (which a handful of events cannot
give).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from r2p_models.calibration.recalibrate import RECALIBRATED

__all__ = ["TOP", "Brief", "Verdict", "calibration_verdict", "executive_summary"]

#: Countries per crime in the summary.
TOP = 5


@dataclass(frozen=True)
class Verdict:
    """One calibration verdict.

    Attributes
    ----------
    sentence : str
        The plain-language sentence shown.
    status : {'too high', 'too low', 'calibrated', 'too little', 'none'}
        What it says, for machine readers and tests.
    basis : str
        ``'real time'``, ``'backtest'`` or ``''`` (no track record).
    observed, expected, ratio, lower, upper : float
        Calibration in the large of the track record used (NaN without one).
    n : int
        Resolved forecasts it rests on.
    """

    sentence: str
    status: str
    basis: str = ""
    observed: float = float("nan")
    expected: float = float("nan")
    ratio: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    n: int = 0


@dataclass
class Brief:
    """The content of the executive summary.

    Attributes
    ----------
    source : str or None
        The model whose forecasts are summarised (the watchlist's source).
    origin : int or None
        Origin year of those forecasts (the data year they use).
    window : str
        Their target window, e.g. ``"2020–2021"``.
    crimes : list of str
        Crimes shown, canonical order.
    top : dict
        Crime -> the :data:`TOP` highest forecasts (``rank, country, name, region,
        p_mean, p_q05, p_q95``; ``name`` is ``""`` where no country name is known).
    verdicts : dict
        Crime (and ``"all"``) -> :class:`Verdict`.
    entrants, exits, risers, fallers : dict
        Crime -> the rows of :class:`~r2p_models.report.changes.Changes` of that crime.
    changes_note : str
        Why there are no changes to show (one run only, no real-time forecasts), or ``""``.
    note : str
        Why there is no watchlist to summarise, or ``""``.
    """

    source: str | None = None
    origin: int | None = None
    window: str = ""
    crimes: list[str] = field(default_factory=list)
    top: dict[str, pd.DataFrame] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    entrants: dict[str, pd.DataFrame] = field(default_factory=dict)
    exits: dict[str, pd.DataFrame] = field(default_factory=dict)
    risers: dict[str, pd.DataFrame] = field(default_factory=dict)
    fallers: dict[str, pd.DataFrame] = field(default_factory=dict)
    changes_note: str = ""
    note: str = ""


def _times(x: float) -> str:
    return f"{x:.1f}" if x < 9.95 else f"{x:.0f}"


def _count(x: float) -> str:
    return f"{x:,.1f}"


def calibration_verdict(
    *, n: int, observed: float, expected: float, lower: float, upper: float,
    level: float = 0.9, basis: str = "real time", few: int = 10,
    recalibrated: str | None = None,
) -> Verdict:
    """One sentence on calibration in the large, in plain words.

    Parameters
    ----------
    n : int
        Resolved forecasts.
    observed, expected : float
        Events that happened, and the events the forecasts expected (sum of the
        probabilities).
    lower, upper : float
        The ``level`` interval of observed / expected (exact Poisson,
        :func:`r2p_models.calibration.calibration_in_the_large`).
    level : float, default 0.9
    basis : {'real time', 'backtest'}
        Which track record the numbers come from (named in the sentence).
    few : int, default 10
        Below this many events, both observed and expected, the sentence says the track
        record is too short to judge.
    recalibrated : str, optional
        Name of a recalibrated version of these forecasts in the ledger, named when the
        forecasts ran high or low.

    Returns
    -------
    Verdict
        ``"Forecasts so far ran 1.4x too high: ..."`` when the interval lies below 1,
        ``"... too low ..."`` above 1, ``"No evidence of miscalibration: ..."`` when it
        covers 1, and the fallback ``"Too little track record ..."`` (or ``"No forecast
        ... resolved yet"``).
    """
    where = "in real time" if basis == "real time" else "in backtests (postdictions)"
    record = (f"{observed:,.0f} onset{'' if observed == 1 else 's'} happened where the "
              f"forecasts expected {_count(expected)}, over {n:,} resolved forecasts {where}")
    if n == 0:
        return Verdict("No forecast has been resolved yet, so there is no track record to "
                       "judge calibration by.", "none")
    common = dict(basis=basis, observed=float(observed), expected=float(expected),
                  ratio=float(observed / expected) if expected > 0 else float("nan"),
                  lower=float(lower), upper=float(upper), n=int(n))
    if max(observed, expected) < few:
        return Verdict(f"Too little track record to judge calibration yet: {record}; a "
                       f"verdict needs at least {few} events.", "too little", **common)
    ci = f"{level:.0%} interval of observed/expected {lower:.2f}–{upper:.2f}"
    fix = (f" A recalibrated version, {recalibrated}, is issued beside them."
           if recalibrated else " They are not recalibrated.")
    if np.isfinite(upper) and upper < 1:
        how = (f"{_times(expected / observed)}x too high" if observed > 0 else "too high")
        return Verdict(f"Forecasts so far ran {how}: {record} ({ci}).{fix}", "too high",
                       **common)
    if np.isfinite(lower) and lower > 1:
        return Verdict(f"Forecasts so far ran {_times(observed / expected)}x too low: {record}"
                       f" ({ci}).{fix}", "too low", **common)
    return Verdict(f"No evidence of miscalibration: {record} ({ci}).", "calibrated", **common)


def _verdict(headline: pd.DataFrame, rows: pd.DataFrame, source: str, crime: str,
             few: int, level: float, track: Any) -> Verdict:
    """The verdict of ``source`` on ``crime`` from the report's headline table."""
    recal = source + RECALIBRATED
    recalibrated = recal if (rows["source"] == recal).any() else None
    candidates = []
    for kind, basis in (("forecast", "real time"), ("backtest", "backtest")):
        if headline.empty:
            break
        h = headline[(headline["track"] == track(source, kind)) & (headline["crime"] == crime)
                     & (headline["metric"] == "brier")]
        if h.empty:
            continue
        r = h.iloc[0]
        v = calibration_verdict(n=int(r["n"]), observed=float(r["events"]),
                                expected=float(r["expected"]), lower=float(r["oe_lo"]),
                                upper=float(r["oe_hi"]), level=level, basis=basis, few=few,
                                recalibrated=recalibrated)
        if v.status not in ("too little", "none"):
            return v
        candidates.append(v)
    if candidates:
        return candidates[0]  # the real-time record when there is one, else the backtest's
    return calibration_verdict(n=0, observed=0, expected=0, lower=np.nan, upper=np.nan)


def executive_summary(
    *, rows: pd.DataFrame, headline: pd.DataFrame, watchlist: pd.DataFrame,
    watchlist_info: dict[str, Any], changes: Any, crimes: list[str], few: int,
    level: float, track: Any,
) -> Brief:
    """Assemble the executive summary from the report's own results (nothing recomputed).

    Parameters
    ----------
    rows : pandas.DataFrame
        The ledger rows (to find a recalibrated version of the source).
    headline : pandas.DataFrame
        The report's headline table (:func:`~r2p_models.calibration.score_table` rows
        with the group's ``expected, oe_lo, oe_hi``) by ``track`` and ``crime``.
    watchlist, watchlist_info : pandas.DataFrame, dict
        The report's watchlist (ranked per crime) and what it was made from.
    changes : r2p_models.report.changes.Changes or None
        The report's "What changed since the last run".
    crimes : list of str
    few : int
        Events below which a verdict is "too little track record".
    level : float
        Interval level (for the sentence).
    track : callable
        ``(source, kind) -> track name`` as the headline table names tracks.

    Returns
    -------
    Brief
    """
    brief = Brief(crimes=list(crimes))
    if watchlist.empty:
        brief.note = watchlist_info.get("note", "No watchlist.")
        return brief
    source = watchlist_info.get("source")
    brief.source = source
    brief.origin = watchlist_info.get("origin")
    if "target_start" in watchlist.columns and watchlist["target_start"].notna().any():
        brief.window = (f"{int(watchlist['target_start'].min())}–"
                        f"{int(watchlist['target_end'].max())}")
    brief.crimes = [c for c in crimes if c in set(watchlist["crime"])]
    for crime in brief.crimes:
        w = watchlist[watchlist["crime"] == crime].sort_values("rank", kind="stable")
        brief.top[crime] = w.head(TOP).reset_index(drop=True)
    if source is not None:
        for crime in [*brief.crimes, "all"]:
            brief.verdicts[crime] = _verdict(headline, rows, source, crime, few, level, track)
    if changes is None or changes.previous is None:
        brief.changes_note = changes.note if changes is not None else ""
        return brief
    for name in ("entrants", "exits", "risers", "fallers"):
        t = getattr(changes, name)
        for crime in brief.crimes:
            part = t[t["crime"] == crime] if not t.empty else t
            getattr(brief, name)[crime] = part.reset_index(drop=True)
    return brief
