"""CORP score decomposition (Dimitriadis, Gneiting and Jordan 2021).

The forecasts are recalibrated by isotonic regression of the outcomes on the forecasts
(the pool-adjacent-violators algorithm, PAV; scikit-learn's ``IsotonicRegression``).
With ``S`` a proper score, ``p`` the forecasts, ``pav`` the recalibrated forecasts and
``ybar`` the event rate of the sample,

- miscalibration ``MCB = S(p) - S(pav)`` (>= 0; 0 for a calibrated forecaster),
- discrimination ``DSC = S(ybar) - S(pav)`` (>= 0; the skill left after recalibration),
- uncertainty ``UNC = S(ybar)`` (a property of the outcomes alone),

and ``S(p) = MCB - DSC + UNC`` exactly (by construction, up to floating-point rounding).

Reference: T. Dimitriadis, T. Gneiting and A. I. Jordan (2021), "Stable reliability
diagrams for probabilistic classifiers", PNAS 118(8), e2016191118.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import xlogy
from sklearn.isotonic import IsotonicRegression

from r2p_models.calibration._validate import CalibrationInputError, as_cases, require_events
from r2p_models.calibration.scores import LOG_EPS, SCORES, ScoreName, score_per_case

__all__ = ["CorpDecomposition", "corp_decomposition", "corp_table", "pav_recalibrate"]


@dataclass(frozen=True)
class CorpDecomposition:
    """One CORP decomposition ``score = mcb - dsc + unc``.

    Attributes
    ----------
    score : str
        ``"brier"`` or ``"log"``.
    mean : float
        Mean score of the forecasts.
    mcb, dsc, unc : float
        Miscalibration, discrimination, uncertainty.
    n, events : int
        Cases and events.
    """

    score: str
    mean: float
    mcb: float
    dsc: float
    unc: float
    n: int
    events: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for DataFrames)."""
        return asdict(self)


def _fit_pav(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(p, y)
    return iso.predict(p)


def pav_recalibrate(p: Any, y: Any) -> np.ndarray | xr.DataArray:
    """PAV-recalibrated forecasts: the isotonic regression of ``y`` on ``p``.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes.

    Returns
    -------
    ndarray or xarray.DataArray
        The recalibrated probability of every case (input shape). Tied forecasts get
        the same value.
    """
    pa, ya, layout = as_cases(p, y)
    return layout.wrap(_fit_pav(pa, ya), name="pav")


def _decompose(
    pa: np.ndarray, ya: np.ndarray, scores: tuple[str, ...], eps: float
) -> list[CorpDecomposition]:
    require_events(ya, "the CORP decomposition")
    pav = _fit_pav(pa, ya)
    ybar = np.full_like(ya, ya.mean())
    out = []
    for score in scores:
        s = float(np.mean(score_per_case(pa, ya, score, eps)))
        if score == "log":
            # The recalibrated forecasts are not clipped: a PAV value of exactly 0 (1)
            # only occurs in a block without events (non-events), where it scores 0.
            s_pav = float(-np.mean(xlogy(ya, pav) + xlogy(1.0 - ya, 1.0 - pav)))
        else:
            s_pav = float(np.mean(score_per_case(pav, ya, score, eps)))
        unc = float(np.mean(score_per_case(ybar, ya, score, eps)))
        out.append(
            CorpDecomposition(
                score=score,
                mean=s,
                mcb=s - s_pav,
                dsc=unc - s_pav,
                unc=unc,
                n=int(ya.size),
                events=int(ya.sum()),
            )
        )
    return out


def corp_decomposition(
    p: Any, y: Any, *, score: ScoreName = "brier", eps: float = LOG_EPS
) -> CorpDecomposition:
    """CORP decomposition of the mean Brier or log score.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes.
    score : {"brier", "log"}, default "brier"
    eps : float, default LOG_EPS
        The forecasts' log score clips them to ``[eps, 1 - eps]``.

    Returns
    -------
    CorpDecomposition

    Raises
    ------
    CalibrationInputError
        Bad inputs; :class:`NoEventsError` if there are no events.

    Examples
    --------
    >>> d = corp_decomposition([0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1])
    >>> round(d.mcb, 6), round(d.dsc, 6), d.unc
    (0.075, 0.125, 0.25)
    """
    if score not in SCORES:
        raise CalibrationInputError(f"score must be one of {SCORES}; got {score!r}")
    pa, ya, _ = as_cases(p, y)
    return _decompose(pa, ya, (score,), eps)[0]


def corp_table(
    p: Any, y: Any, *, scores: tuple[str, ...] = SCORES, eps: float = LOG_EPS
) -> pd.DataFrame:
    """CORP decompositions of several scores as a DataFrame.

    Returns
    -------
    pandas.DataFrame
        Columns ``score, mean, mcb, dsc, unc, n, events``; one row per score.
    """
    bad = [s for s in scores if s not in SCORES]
    if bad:
        raise CalibrationInputError(f"scores must be among {SCORES}; got {bad}")
    pa, ya, _ = as_cases(p, y)
    return pd.DataFrame([d.as_dict() for d in _decompose(pa, ya, tuple(scores), eps)])
