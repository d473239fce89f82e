"""Recalibration on the track record: learn a forecaster's bias from its own resolved forecasts.

A forecaster whose onset probabilities run too high (or too low) across the board can be
corrected by what the ledger already knows. For a forecast issued at origin year ``t``,
the *history* is the same forecaster's forecasts of the same crime and horizon whose
windows ended by ``t`` (``target_end <= t``) and that resolved to 0 or 1: exactly what was
known when the forecast was issued, the same information rule as a backtest fit. On that
history a calibration-in-the-large shift ``a`` of the log-odds is estimated,

    y ~ Bernoulli(expit(logit(p) + a)),    a ~ Normal(0, prior_sd),

as the posterior mode, and the forecast becomes ``expit(logit(p) + a)``. With no history
(or no events in it) the prior keeps the shift near 0; with a long history the shift is
what makes the history's expected number of onsets match the observed number.

Only an intercept is learned, not a slope (Platt scaling) or an isotonic map: with a few
dozen onsets in a history, a slope or a PAV curve is mostly noise, while a shared level
error (a change of regime, e.g. the post-Cold War fall in mass-killing onsets) is the
error that shows first and costs most. The map is monotone, so ranks within an origin are
unchanged and the recalibrated quantiles ``p_q05, p_q50, p_q95`` are the quantiles of the
recalibrated forecast; ``p_mean`` is mapped like the other columns (it is the forecast the
history was scored on).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

from r2p_models.calibration._validate import CalibrationInputError, check_column
from r2p_models.calibration.scores import LOG_EPS

__all__ = ["RECALIBRATED", "SHIFT_PRIOR_SD", "intercept_shift", "recalibrate_on_track_record"]

RECALIBRATED = " recalibrated"
"""Suffix of a recalibrated source's name in a ledger."""

SHIFT_PRIOR_SD = 1.0
"""Prior sd of the log-odds shift: a shift beyond +-2 (a factor of ~7 in the odds) needs
a history that shows it."""

_PROBS = ("p_mean", "p_q05", "p_q50", "p_q95")
_BOUND = 30.0  # |shift| bracket of the root search; the prior makes larger shifts impossible


def intercept_shift(p: np.ndarray, y: np.ndarray, *, prior_sd: float = SHIFT_PRIOR_SD) -> float:
    """Posterior mode of the log-odds shift ``a`` given forecasts ``p`` and outcomes ``y``.

    Maximises ``sum log Bernoulli(y | expit(logit(p) + a)) - a**2 / (2 prior_sd**2)``.
    Written by hand: scikit-learn's ``LogisticRegression`` has no offset term, and the
    problem is one concave dimension (the root of its derivative, found by Brent's method).

    Parameters
    ----------
    p : ndarray
        Forecast probabilities in [0, 1] (clipped to ``[LOG_EPS, 1 - LOG_EPS]``).
    y : ndarray
        0/1 outcomes of the same length.
    prior_sd : float, default :data:`SHIFT_PRIOR_SD`
        Prior sd of the shift; ``numpy.inf`` gives the maximum-likelihood shift (which
        does not exist when ``y`` is all 0 or all 1).

    Returns
    -------
    float
        The shift; 0 for empty input.
    """
    if not prior_sd > 0:
        raise CalibrationInputError(f"prior_sd must be positive; got {prior_sd!r}")
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if p.shape != y.shape:
        raise CalibrationInputError(f"p has shape {p.shape} but y has shape {y.shape}")
    if p.size == 0:
        return 0.0
    z = logit(np.clip(p, LOG_EPS, 1 - LOG_EPS))
    events = float(y.sum())
    precision = 0.0 if np.isinf(prior_sd) else 1.0 / prior_sd**2
    if precision == 0.0 and events in (0.0, float(y.size)):
        raise CalibrationInputError(
            "the maximum-likelihood shift does not exist when every outcome is the same; "
            "use a finite prior_sd")

    def score(a: float) -> float:  # derivative of the log posterior, decreasing in a
        return events - float(expit(z + a).sum()) - a * precision

    return float(brentq(score, -_BOUND, _BOUND, xtol=1e-10))


def recalibrate_on_track_record(
    rows: pd.DataFrame,
    *,
    prior_sd: float = SHIFT_PRIOR_SD,
    by: Sequence[str] = ("source", "crime", "horizon"),
    suffix: str = RECALIBRATED,
) -> pd.DataFrame:
    """Shift every forecast by the bias of the same forecaster's earlier, resolved forecasts.

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows (e.g. ``Ledger.rows()`` or an export) with columns ``source``,
        ``crime``, ``origin_year``, ``target_end``, ``p_mean``, ``outcome`` (0/1, NaN while
        unresolved) and ``outcome_status``; optionally ``horizon`` (else
        ``target_end - origin_year``) and ``p_q05, p_q50, p_q95``. A forecast is
        recalibrated from the rows of its group (``by``) with ``target_end <=`` its
        ``origin_year`` and ``outcome_status == "observed"``.
    prior_sd : float, default :data:`SHIFT_PRIOR_SD`
        Prior sd of the log-odds shift.
    by : sequence of str
        Columns that define one forecaster's track record.
    suffix : str
        Appended to ``source`` (the recalibrated forecasts are a new source in a ledger).

    Returns
    -------
    pandas.DataFrame
        A copy of ``rows`` with the probability columns recalibrated, ``source`` renamed,
        and the columns ``shift`` (the log-odds shift), ``history_cases`` and
        ``history_events`` (what it was learned from).

    Raises
    ------
    CalibrationInputError
        A missing column, a probability outside [0, 1], or an outcome other than 0/1 in
        the history, naming the column and row.
    """
    need = ["source", "crime", "origin_year", "target_end", "p_mean", "outcome",
            "outcome_status"]
    missing = [c for c in need if c not in rows.columns]
    if missing:
        raise CalibrationInputError(
            f"rows lack column(s) {missing}; available: {list(rows.columns)}")
    out = rows.copy()
    if "horizon" not in out.columns:
        out["horizon"] = out["target_end"] - out["origin_year"]
    unknown = [c for c in by if c not in out.columns]
    if unknown:
        raise CalibrationInputError(f"by: no column(s) {unknown} in rows")
    probs = [c for c in _PROBS if c in out.columns]
    for col in probs:  # NaN quantiles are "not given" in a ledger; the mean is required
        check_column(out[out[col].notna()] if col != "p_mean" else out, col, "p",
                     frame_name="rows")
    observed = (out["outcome_status"] == "observed").to_numpy()
    y_all = np.full(len(out), np.nan)
    if observed.any():
        y_all[observed] = check_column(out[observed], "outcome", "y", frame_name="rows")

    shift = np.zeros(len(out))
    n_hist = np.zeros(len(out), dtype=int)
    e_hist = np.zeros(len(out), dtype=int)
    p_all = out["p_mean"].to_numpy(dtype=float)
    ends = out["target_end"].to_numpy()
    origins = out["origin_year"].to_numpy()
    for _, idx in out.groupby(list(by), sort=False).indices.items():
        for t in np.unique(origins[idx]):
            hist = idx[observed[idx] & (ends[idx] <= t)]
            at = idx[origins[idx] == t]
            shift[at] = intercept_shift(p_all[hist], y_all[hist], prior_sd=prior_sd)
            n_hist[at] = hist.size
            e_hist[at] = int(y_all[hist].sum())
    for col in probs:
        values = out[col].to_numpy(dtype=float)
        with np.errstate(divide="ignore"):  # p = 0 or 1 stays 0 or 1
            out[col] = expit(logit(values) + shift)
    out["source"] = out["source"].astype(str) + suffix
    out["shift"] = shift
    out["history_cases"] = n_hist
    out["history_events"] = e_hist
    return out
