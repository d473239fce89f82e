"""Calibration in the large: did the forecasts expect as many events as happened?

The statistic is the number of events ``O = sum(y)`` against the number the forecasts
expected, ``E = sum(p)``. If the forecasts are calibrated and the outcomes are independent
given the forecasts (the hypothesis the CORP miscalibration test simulates too), ``O``
follows the Poisson-binomial distribution of a sum of independent ``Bernoulli(p_i)``.

Why a separate test: the CORP miscalibration test (:func:`~r2p_models.calibration.
miscalibration_test`) measures any departure of the PAV curve from the diagonal, so with
rare events its power is spread over shapes that do not matter and it misses a plain
level error. Simulated on 3,000 cases forecast near 1% (about 30 events; forecasts held
fixed, outcomes redrawn), at the 5% level: with forecasts expecting 34% too many events
the CORP test rejected 1.8% of 400 data sets and this test 39% of 4,000 (90% with 10,000
cases); with forecasts 1.7 times too high, 1.0% of 200 against 89% of 2,000. Its size on
calibrated forecasts was 4.4% (a discrete test is a little conservative). The slow test
in ``tests/test_calibration_citl.py`` repeats this.

- p-value: exact, two-sided, from the Poisson-binomial pmf. scipy has no Poisson-binomial
  distribution, so the pmf is computed here by the standard recursion, adding one case at
  a time (``pmf_j(k) = pmf_{j-1}(k) (1 - p_j) + pmf_{j-1}(k - 1) p_j``), on blocks of
  cases whose pmfs are then convolved. It is exact up to rounding and stable (every term
  is a sum of non-negative products, unlike the DFT of the characteristic function, whose
  small tail probabilities are rounding noise). The two-sided p-value is the
  total probability of counts no more likely than the observed one (scipy's ``binomtest``
  rule, with its relative tolerance ``1e-7``; with equal forecasts the two agree).
- The ratio ``O / E`` with an exact Poisson (Garwood) interval: the standardized
  incidence ratio of epidemiology. For rare events the Poisson-binomial is close to a
  Poisson; when forecasts are not small the Poisson interval is wider than needed
  (conservative). The interval and the p-value use different two-sided rules, so at the
  edge they can disagree (an interval that just excludes 1 with p just above 0.1).

Cost: the pmf is truncated at a count above which the probability is below about
``1e-26`` (``E + 12 sd + 40``, by Bernstein's inequality, or the observed count if
larger): about 0.1 s for 100,000 rare-event cases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2

from r2p_models.calibration._validate import as_cases, check_level

__all__ = ["CalibrationInTheLarge", "calibration_in_the_large", "poisson_binomial_pmf"]

#: Default level of the interval of the observed/expected ratio.
CITL_LEVEL = 0.9

#: Relative tolerance when comparing probabilities of counts (as scipy's binomtest).
_RERR = 1 + 1e-7
#: Cases per block of the pmf recursion.
_BLOCK = 32


def poisson_binomial_pmf(p: Any, kmax: int | None = None) -> np.ndarray:
    """Probabilities of 0, 1, ..., ``kmax`` events among independent ``Bernoulli(p_i)``.

    Parameters
    ----------
    p : array-like
        Event probabilities in [0, 1] (checked by the caller).
    kmax : int, optional
        Largest count wanted; default ``len(p)`` (the whole distribution). The values
        returned are exact whatever ``kmax`` is (the recursion never needs higher counts).

    Returns
    -------
    ndarray of float, length ``kmax + 1``
    """
    q = np.asarray(p, dtype=float).ravel()
    n = q.size
    kmax = n if kmax is None else int(min(max(kmax, 0), n))
    # The recursion runs on blocks of _BLOCK cases at once (one numpy operation per
    # position in the block, for all blocks), then the blocks' pmfs are convolved in
    # turn, truncated at kmax: n / _BLOCK steps in Python instead of n. np.convolve
    # sums products directly (no FFT), so the result is as exact as the plain recursion.
    # Padding with p = 0 changes nothing.
    blocks = np.r_[q, np.zeros(-n % _BLOCK)].reshape(-1, _BLOCK)
    per_block = np.zeros((blocks.shape[0], _BLOCK + 1))
    per_block[:, 0] = 1.0
    for j in range(_BLOCK):
        qj = blocks[:, j : j + 1]
        moved = per_block[:, : j + 1] * qj
        per_block[:, : j + 2] *= 1.0 - qj
        per_block[:, 1 : j + 2] += moved
    pmf = per_block[0, : kmax + 1]
    for row in per_block[1:]:
        pmf = np.convolve(pmf, row)[: kmax + 1]
    return np.r_[pmf, np.zeros(kmax + 1 - pmf.size)]


@dataclass(frozen=True)
class CalibrationInTheLarge:
    """Observed against expected events, with an exact test.

    Attributes
    ----------
    n : int
        Cases.
    observed : int
        Events, ``sum(y)``.
    expected : float
        Events the forecasts expected, ``sum(p)``.
    ratio : float
        ``observed / expected`` (below 1: the forecasts ran high); NaN if both are 0,
        infinite if events happened that the forecasts gave no chance.
    lower, upper : float
        Exact Poisson (Garwood) interval of the ratio at ``level``.
    level : float
    p_value : float
        Exact two-sided Poisson-binomial p-value of ``observed`` under calibration.
    """

    n: int
    observed: int
    expected: float
    ratio: float
    lower: float
    upper: float
    level: float
    p_value: float

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict."""
        return asdict(self)

    def describe(self) -> str:
        """One plain-language sentence, e.g. ``observed 18 events vs 27.1 expected:
        forecasts ran 1.5x too high (90% 1.1-2.1; p = 0.077)``."""
        head = f"observed {self.observed:,} event{'' if self.observed == 1 else 's'} vs " \
               f"{_expected(self.expected)} expected"
        p = f"p = {_p(self.p_value)}"
        lvl = f"{self.level:.0%}"
        if self.expected == 0:
            return f"{head}: the forecasts gave no event any chance ({p})"
        if self.observed == 0:
            return (f"{head}: forecasts ran high; observed/expected 0 ({lvl} 0-"
                    f"{_times(self.upper)}; {p})")
        if self.ratio < 1 and _times(1 / self.ratio) != "1.0":
            return (f"{head}: forecasts ran {_times(1 / self.ratio)}x too high ({lvl} "
                    f"{_times(1 / self.upper)}-{_times(1 / self.lower)}; {p})")
        if self.ratio > 1 and _times(self.ratio) != "1.0":
            return (f"{head}: forecasts ran {_times(self.ratio)}x too low ({lvl} "
                    f"{_times(self.lower)}-{_times(self.upper)}; {p})")
        return (f"{head}: about as many as forecast (observed/expected {lvl} "
                f"{_times(self.lower)}-{_times(self.upper)}; {p})")


def _times(x: float) -> str:
    return f"{x:.1f}" if x < 9.95 else f"{x:.0f}"


def _expected(e: float) -> str:
    return f"{e:.2g}" if e < 1 else f"{e:,.1f}" if e < 1000 else f"{e:,.0f}"


def _p(v: float) -> str:
    return "< 0.001" if v < 0.001 else f"{v:.2g}"


def _truncation(expected: float, variance: float, observed: int, n: int) -> int:
    """A count above which the Poisson-binomial has probability < ~1e-26 (and >= observed).

    Bernstein: ``P(O >= E + t) <= exp(-t**2 / (2 (V + t / 3)))``; ``t = 12 sd + 40`` makes
    the exponent at least 60 whatever the variance.
    """
    return int(min(n, max(observed, np.ceil(expected + 12 * np.sqrt(variance) + 40))))


def _p_value(p: np.ndarray, observed: int) -> float:
    """Exact two-sided p-value: probability of counts no more likely than ``observed``."""
    n = p.size
    expected = float(p.sum())
    kmax = _truncation(expected, float(np.sum(p * (1 - p))), observed, n)
    pmf = poisson_binomial_pmf(p, kmax)
    threshold = pmf[observed] * _RERR
    total = float(pmf[pmf <= threshold].sum())
    if kmax < n and pmf[kmax] <= threshold:
        # counts above kmax: decreasing (the pmf is unimodal), so all no more likely
        total += max(0.0, 1.0 - float(pmf.sum()))
    return float(min(1.0, total))


def _garwood(observed: int, level: float) -> tuple[float, float]:
    """Exact Poisson interval for the mean of a Poisson count ``observed``."""
    alpha = 1 - level
    lo = 0.0 if observed == 0 else float(chi2.ppf(alpha / 2, 2 * observed)) / 2
    hi = float(chi2.ppf(1 - alpha / 2, 2 * observed + 2)) / 2
    return lo, hi


def citl_from_arrays(p: np.ndarray, y: np.ndarray, level: float = CITL_LEVEL) -> (
    CalibrationInTheLarge
):
    """:func:`calibration_in_the_large` on checked 1-D arrays."""
    observed = int(y.sum())  # y is checked to be 0/1
    expected = float(p.sum())
    lo, hi = _garwood(observed, level)
    if expected > 0:
        ratio, lower, upper = observed / expected, lo / expected, hi / expected
    else:
        ratio = float("inf") if observed else float("nan")
        lower = upper = float("nan")
    return CalibrationInTheLarge(
        n=int(p.size), observed=observed, expected=expected, ratio=float(ratio),
        lower=float(lower), upper=float(upper), level=level,
        p_value=_p_value(p, observed),
    )


def calibration_in_the_large(
    p: Any, y: Any, *, level: float = CITL_LEVEL
) -> CalibrationInTheLarge:
    """Test calibration in the large: observed events against the forecasts' expectation.

    Parameters
    ----------
    p, y : array-like, pandas.Series or xarray.DataArray
        Forecast probabilities and 0/1 outcomes (paired as everywhere in the toolkit).
    level : float, default 0.9
        Level of the interval of the observed/expected ratio.

    Returns
    -------
    CalibrationInTheLarge
        Observed and expected events, their ratio with an exact Poisson interval, and an
        exact two-sided Poisson-binomial p-value (see the module docstring). Defined
        without events (then the forecasts' own expectation is tested against 0).

    Raises
    ------
    CalibrationInputError
        Bad inputs (see :func:`~r2p_models.calibration._validate.as_cases`) or level.

    Examples
    --------
    >>> r = calibration_in_the_large([0.5, 0.5], [1, 1])
    >>> r.observed, r.expected, r.p_value
    (2, 1.0, 0.5)
    """
    level = check_level(level)
    pa, ya, _ = as_cases(p, y)
    return citl_from_arrays(pa, ya, level)
