"""Proper scores for probability forecasts of binary events.

Both scores are negatively oriented (lower is better):

- Brier score ``(p - y)**2``;
- logarithmic score ``-log(p)`` if the event happened, ``-log(1 - p)`` if not (natural log).

The log score of a forecast of exactly 0 for an event that happens (or 1 for one that
does not) is infinite. We clip forecasts to ``[LOG_EPS, 1 - LOG_EPS]`` with
``LOG_EPS = 1e-15`` (scikit-learn's long-standing default) before taking logs, so such a
case scores ``-log(1e-15) ~= 34.5``: a very large but finite penalty. Pass ``eps`` to
change it.

Skill scores compare a forecast with a reference forecast on the same cases:
``skill = 1 - S(p) / S(reference)`` (1 is perfect, 0 is no better than the reference,
negative is worse). For climatology, the reference must be the base rate *known when the
forecast was issued* (see :func:`issue_time_base_rate`), not the in-sample rate, which
would use outcomes the forecaster could not have known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.calibration._validate import (
    CalibrationInputError,
    align_to_cases,
    as_cases,
    check_column,
)

__all__ = [
    "LOG_EPS",
    "SCORES",
    "brier_score",
    "issue_time_base_rate",
    "log_score",
    "skill_score",
]

#: Forecasts are clipped to [LOG_EPS, 1 - LOG_EPS] before the log score is taken.
LOG_EPS: float = 1e-15

#: Names of the proper scores known to the toolkit.
SCORES: tuple[str, ...] = ("brier", "log")

ScoreName = Literal["brier", "log"]


def brier_per_case(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brier score of each case (checked arrays)."""
    return (p - y) ** 2


def log_per_case(p: np.ndarray, y: np.ndarray, eps: float = LOG_EPS) -> np.ndarray:
    """Log score of each case (checked arrays), forecasts clipped to [eps, 1 - eps]."""
    # Clip p for events and 1 - p for non-events, so both sides are bounded by exactly
    # -log(eps) (clipping p to 1 - eps and taking 1 - p would round to 1.11e-15).
    return -np.where(y == 1, _log_clipped(p, eps), _log_clipped(1.0 - p, eps))


def _log_clipped(q: np.ndarray, eps: float) -> np.ndarray:
    """``log(clip(q, eps, 1 - eps))``."""
    return np.log(np.clip(q, eps, 1.0 - eps))


def score_per_case(p: np.ndarray, y: np.ndarray, score: str, eps: float = LOG_EPS) -> np.ndarray:
    """Per-case score by name (checked arrays)."""
    if score == "brier":
        return brier_per_case(p, y)
    if score == "log":
        return log_per_case(p, y, eps)
    raise CalibrationInputError(f"score must be one of {SCORES}; got {score!r}")


def _check_eps(eps: float) -> float:
    if not 0 < eps < 0.5:
        raise CalibrationInputError(f"eps must be in (0, 0.5); got {eps!r}")
    return float(eps)


def brier_score(p: Any, y: Any, *, per_case: bool = False) -> float | np.ndarray | xr.DataArray:
    """Brier score: mean of ``(p - y)**2``.

    Parameters
    ----------
    p : array-like or xarray.DataArray
        Forecast probabilities in [0, 1].
    y : array-like or xarray.DataArray
        Outcomes, 0 or 1, same shape (and coordinates) as ``p``.
    per_case : bool, default False
        Return the score of every case (same shape as the input; a DataArray if
        ``p`` or ``y`` is one) instead of the mean.

    Returns
    -------
    float or ndarray or xarray.DataArray

    Raises
    ------
    CalibrationInputError
        Shapes differ, NaN, probabilities outside [0, 1], outcomes not 0/1.

    Examples
    --------
    >>> round(brier_score([0.1, 0.8], [0, 1]), 6)
    0.025
    """
    pa, ya, layout = as_cases(p, y)
    s = brier_per_case(pa, ya)
    if per_case:
        return layout.wrap(s, name="brier")
    return float(np.mean(s))


def log_score(
    p: Any, y: Any, *, per_case: bool = False, eps: float = LOG_EPS
) -> float | np.ndarray | xr.DataArray:
    """Logarithmic score: mean of ``-log p`` (events) and ``-log(1 - p)`` (non-events).

    Forecasts are clipped to ``[eps, 1 - eps]`` first, so a forecast of 0 for an
    event that happens scores ``-log(eps)`` (34.5 with the default ``eps=1e-15``)
    rather than infinity.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes of the same shape.
    per_case : bool, default False
        Return per-case scores instead of the mean.
    eps : float, default LOG_EPS (1e-15)
        Clipping bound.

    Returns
    -------
    float or ndarray or xarray.DataArray

    Examples
    --------
    >>> round(log_score([0.5, 0.5], [0, 1]), 6)
    0.693147
    """
    eps = _check_eps(eps)
    pa, ya, layout = as_cases(p, y)
    s = log_per_case(pa, ya, eps)
    if per_case:
        return layout.wrap(s, name="log")
    return float(np.mean(s))


def skill_score(
    p: Any,
    y: Any,
    reference: Any,
    *,
    score: ScoreName = "brier",
    eps: float = LOG_EPS,
) -> float:
    """Skill of ``p`` against a reference forecast: ``1 - S(p) / S(reference)``.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes.
    reference : array-like or xarray.DataArray
        Reference probabilities for the same cases: for climatology the base rate known
        at issue time (:func:`issue_time_base_rate`); for persistence e.g. the last
        observed state (0/1, which the log score clips to ``[eps, 1 - eps]``).
    score : {"brier", "log"}
    eps : float
        Clipping bound of the log score.

    Returns
    -------
    float
        1 for a perfect forecast, 0 for no better than the reference, negative if worse.

    Raises
    ------
    CalibrationInputError
        Bad inputs, or a reference that scores exactly 0 (skill undefined).
    """
    eps = _check_eps(eps)
    pa, ya, layout = as_cases(p, y)
    # The reference is paired with y on its own (by label, coordinates or position, as
    # p is); only means are compared, so the two pairings need not share an order.
    reference = align_to_cases(reference, layout, "reference")
    ra, ya_ref, _ = as_cases(reference, y, p_name="reference")
    s = score_per_case(pa, ya, score, eps).mean()
    s_ref = score_per_case(ra, ya_ref, score, eps).mean()
    if s_ref == 0:
        raise CalibrationInputError(
            "the reference forecast scores 0 (it is perfect), so skill is undefined"
        )
    return float(1.0 - s / s_ref)


def _as_year(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.year
    if not pd.api.types.is_numeric_dtype(values):
        raise CalibrationInputError(
            f"column {column!r} must hold years (numbers) or dates; got dtype {values.dtype}"
        )
    return values


def issue_time_base_rate(
    cases: pd.DataFrame,
    *,
    y_col: str = "outcome",
    origin_col: str = "origin_year",
    known_col: str | None = None,
    by: Sequence[str] | None = None,
    case_cols: Sequence[str] | None = None,
    prior_rate: float | None = None,
    prior_weight: float = 0.0,
) -> pd.Series:
    """Climatological base rate known when each forecast was issued.

    For a case issued in origin year ``t``, the rate is computed from resolved cases
    whose outcome was known strictly before ``t`` (``known_col < t``), in the same
    ``by`` group. No outcome from year ``t`` or later leaks in.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per forecast case (e.g. a ledger export).
    y_col : str, default "outcome"
        0/1 outcome; NaN for unresolved cases (they count as not yet known).
    origin_col : str, default "origin_year"
        Issue year of each case.
    known_col : str, optional
        Year at which a case's outcome became known. Default: ``target_end`` if that
        column exists (a case resolves when its target window ends), else
        ``origin_col`` (right only for one-year horizons).
    by : sequence of str, optional
        Groups with separate base rates. Default: ``["crime"]`` if there is a ``crime``
        column, else none.
    case_cols : sequence of str, optional
        Columns identifying a case, used to count each resolved case once even if
        several sources forecast it. Default: those of ``country``, ``crime``,
        ``target_start``, ``target_end`` that exist (plus ``by`` and ``known_col``) when
        there is a ``country`` column; otherwise every row counts.
    prior_rate, prior_weight : float, optional
        Shrink towards ``prior_rate`` with ``prior_weight`` pseudo-cases:
        ``(events + w * prior_rate) / (cases + w)``. With no prior, an origin year with
        no earlier resolved cases gets NaN.

    Returns
    -------
    pandas.Series
        Base rate per row of ``cases`` (same index), named ``"base_rate"``.

    Raises
    ------
    CalibrationInputError
        Missing columns, outcomes not 0/1/NaN, bad prior.
    """
    missing = [c for c in (y_col, origin_col) if c not in cases.columns]
    if missing:
        raise CalibrationInputError(f"cases lacks column(s) {missing}")
    if known_col is None:
        known_col = "target_end" if "target_end" in cases.columns else origin_col
    if known_col not in cases.columns:
        raise CalibrationInputError(f"cases lacks column {known_col!r} (known_col)")
    if by is None:
        by = ["crime"] if "crime" in cases.columns else []
    by = list(by)
    absent = [c for c in by if c not in cases.columns]
    if absent:
        raise CalibrationInputError(f"cases lacks grouping column(s) {absent}")
    if prior_weight < 0 or (prior_weight > 0 and (prior_rate is None or not 0 <= prior_rate <= 1)):
        raise CalibrationInputError(
            "prior_weight must be >= 0 and, when positive, prior_rate must be in [0, 1]"
        )
    if case_cols is None:
        case_cols = (
            [c for c in ("country", "crime", "target_start", "target_end") if c in cases.columns]
            if "country" in cases.columns
            else []
        )
    case_cols = list(case_cols)
    absent = [c for c in case_cols if c not in cases.columns]
    if absent:
        raise CalibrationInputError(f"cases lacks case column(s) {absent}")
    dedupe_cols = list(dict.fromkeys([*case_cols, *by, known_col])) if case_cols else None

    y = cases[y_col].astype(float)
    resolved = y.notna()
    check_column(cases.loc[resolved], y_col, "y")
    origin = _as_year(cases[origin_col], origin_col)
    known = _as_year(cases[known_col], known_col)
    # positions from here on (a duplicated index label would misalign label lookups)
    index = cases.index
    cases, y, resolved, origin, known = (
        v.reset_index(drop=True) for v in (cases, y, resolved, origin, known))

    # Each resolved case once (several sources may have forecast it).
    res = cases.loc[resolved]
    if dedupe_cols is not None:
        res = res.drop_duplicates(subset=dedupe_cols)
    res_known = known.loc[res.index].to_numpy(dtype=float)
    res_y = y.loc[res.index].to_numpy(dtype=float)

    out = pd.Series(np.nan, index=cases.index, name="base_rate", dtype=float)
    w = float(prior_weight)
    prior = float(prior_rate) if prior_rate is not None else 0.0
    if by:
        res_index = res.groupby(by, dropna=False, sort=False).indices
        target = cases.groupby(by, dropna=False, sort=False).indices
    else:
        res_index = {(): np.arange(len(res))}
        target = {(): np.arange(len(cases))}
    for key, rows in target.items():
        past = res_index.get(key, np.array([], dtype=int))
        order = np.argsort(res_known[past], kind="stable")
        years = res_known[past][order]
        cum_events = np.r_[0.0, np.cumsum(res_y[past][order])]
        t = origin.to_numpy(dtype=float)[rows]
        k = np.searchsorted(years, t, side="left")  # resolved strictly before t
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = (cum_events[k] + w * prior) / (k + w)
        out.iloc[rows] = rate
    out.index = index
    return out
