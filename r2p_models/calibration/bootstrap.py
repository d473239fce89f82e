"""Block bootstrap intervals, resampling countries (the unit of dependence).

Cases of one country are dependent (the same risk factors, year after year, and often
several crimes at once), so resampling single cases would give intervals that are too
narrow. The block bootstrap draws countries with replacement and keeps all their
cases; equivalently, each case gets the number of times its country was drawn as a
weight, which is how the metric kernels evaluate a thousand replicates at once.

Intervals are at level ``INTERVAL_LEVEL`` (0.9 by default, the level of the
consistency bands). Most metrics get percentile intervals. The CORP components
(``mcb_*``, ``dsc_*``, ``unc_*``) get *basic* (reflected) intervals
``[2 est - q_hi, 2 est - q_lo]``, floored at 0: the PAV fit overfits more on a resample
(duplicated countries mean fewer distinct cases), so resampled MCB and DSC sit above the
estimate, and percentile intervals would be shifted upwards. In a simulation (170
countries x 25 years, a miscalibrated forecaster, 60 data sets, 200 replicates) the 90%
intervals covered the true MCB 52% of the time as percentile intervals and 98% as
basic intervals (DSC: 82% and 93%). The miscalibration test, not the MCB interval, is
the tool for "is this forecaster miscalibrated".

Replicates in which a metric is undefined (e.g. no events drawn, for AUC) are left out;
``n_valid`` says how many remained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from r2p_models.calibration._kernels import PreparedCases
from r2p_models.calibration._metrics import evaluate, parse_metric
from r2p_models.calibration._validate import (
    CalibrationInputError,
    NoEventsError,
    align_to_cases,
    as_cases,
    as_rng,
    check_level,
    require_events,
)
from r2p_models.calibration.scores import LOG_EPS

__all__ = [
    "INTERVAL_LEVEL",
    "N_BOOT",
    "BootstrapResult",
    "bootstrap_interval",
    "bootstrap_metric",
    "cluster_counts",
    "percentile_interval",
]

#: Default number of bootstrap replicates.
N_BOOT = 1000
#: Default interval level.
INTERVAL_LEVEL = 0.9
#: Weight-matrix elements per chunk (memory: 8 bytes each, times a few temporaries).
_CHUNK_ELEMENTS = 2_000_000


def cluster_counts(
    n_clusters: int, n_boot: int, rng: np.random.Generator, *, chunk: int | None = None
) -> Iterator[np.ndarray]:
    """How often each cluster is drawn, for ``n_boot`` replicates, in chunks.

    Yields
    ------
    ndarray of int, shape (b, n_clusters)
        Each row sums to ``n_clusters`` (a multinomial draw with equal probabilities).
    """
    if n_boot < 1:
        raise CalibrationInputError(f"n_boot must be >= 1; got {n_boot}")
    chunk = chunk or n_boot
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters))
        flat = (draws + (np.arange(b) * n_clusters)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n_clusters).reshape(b, n_clusters)
        done += b


def chunk_size(n_cases: int, n_boot: int) -> int:
    """Replicates per chunk so that a weight matrix stays small."""
    return int(max(1, min(n_boot, _CHUNK_ELEMENTS // max(n_cases, 1))))


def percentile_interval(replicates: np.ndarray, level: float = INTERVAL_LEVEL) -> tuple[
    float, float
]:
    """Percentile interval of bootstrap replicates, ignoring NaN (undefined replicates)."""
    level = check_level(level)
    r = np.asarray(replicates, dtype=float)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_interval(
    replicates: np.ndarray,
    estimate: float,
    level: float = INTERVAL_LEVEL,
    *,
    method: str = "percentile",
    floor: float | None = None,
) -> tuple[float, float]:
    """Bootstrap interval: ``"percentile"`` or ``"basic"`` (reflected about the estimate).

    Parameters
    ----------
    replicates : ndarray
        Bootstrap replicates (NaN ignored).
    estimate : float
        Point estimate (used by the basic interval).
    level : float
    method : {"percentile", "basic"}
    floor : float, optional
        Lower bound on the interval (e.g. 0 for non-negative quantities).
    """
    lo, hi = percentile_interval(replicates, level)
    if method == "basic":
        lo, hi = 2 * estimate - hi, 2 * estimate - lo
    elif method != "percentile":
        raise CalibrationInputError(f"method must be 'percentile' or 'basic'; got {method!r}")
    if floor is not None:
        lo, hi = max(lo, floor), max(hi, floor)
    return float(lo), float(hi)


@dataclass(frozen=True)
class BootstrapResult:
    """A point estimate with its block-bootstrap interval.

    Attributes
    ----------
    estimate, lower, upper : float
    level : float
    n_boot : int
        Replicates drawn.
    n_valid : int
        Replicates in which the metric was defined.
    clusters : int
        Number of resampled units (countries, or cases if no clusters were given).
    replicates : ndarray
    """

    estimate: float
    lower: float
    upper: float
    level: float
    n_boot: int
    n_valid: int
    clusters: int
    replicates: np.ndarray


def _check_clusters(clusters: Any | None, n: int, name: str = "clusters") -> np.ndarray | None:
    if clusters is None:
        return None
    c = np.asarray(clusters).ravel()
    if c.size != n:
        raise CalibrationInputError(f"{name} has {c.size} values but there are {n} cases")
    if pd.isna(c).any():
        raise CalibrationInputError(f"{name} has missing values; every case needs a country")
    return c


def bootstrap_metric(
    p: Any,
    y: Any,
    metric: str | Callable[[np.ndarray, np.ndarray], float],
    *,
    clusters: Any | None = None,
    groups: Any | None = None,
    references: dict[str, Any] | None = None,
    n_boot: int = N_BOOT,
    level: float = INTERVAL_LEVEL,
    eps: float = LOG_EPS,
    rng: np.random.Generator | int | None = 0,
) -> BootstrapResult:
    """A metric with its block-bootstrap interval.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes.
    metric : str or callable
        A metric name (see :mod:`r2p_models.calibration._metrics`, e.g. ``"brier"``,
        ``"auc"``, ``"mcb_log"``, ``"capture_top10"``, ``"brier_skill_climatology"``),
        or any function ``f(p, y) -> float`` (evaluated on each replicate's expanded
        cases; slower).
    clusters : array-like, optional
        Country of each case (resampling unit). If None each case is its own unit,
        which understates uncertainty when cases are dependent.
    groups : array-like, optional
        Ranking groups (issue year) for ``capture_top*`` / ``recall_at_*``.
    references : dict of str to array-like, optional
        Named reference forecasts for skill metrics.
    n_boot : int, default 1000
    level : float, default 0.9
    eps : float
        Clipping bound of the log score.
    rng : numpy Generator, int seed or None, default 0

    Returns
    -------
    BootstrapResult

    Raises
    ------
    CalibrationInputError
        Bad inputs; :class:`NoEventsError` if the metric needs events and there are none.
    """
    level = check_level(level)
    pa, ya, layout = as_cases(p, y)
    c = _check_clusters(align_to_cases(clusters, layout, "clusters"), pa.size)
    rng = as_rng(rng)
    if callable(metric):
        return _bootstrap_callable(pa, ya, metric, c, n_boot, level, rng)
    refs = {}
    for name, ref in (references or {}).items():
        ref = align_to_cases(ref, layout, f"reference {name!r}")
        refs[name], _, _ = as_cases(ref, ya, p_name=f"reference {name!r}")
    spec = parse_metric(metric, refs)
    if spec.needs_events:
        require_events(ya, metric, nonevents=spec.needs_nonevents)
    groups = align_to_cases(groups, layout, "groups")
    g = None if groups is None else np.asarray(groups).ravel()
    if g is not None and g.size != pa.size:
        raise CalibrationInputError(f"groups has {g.size} values but there are {pa.size} cases")
    cases = PreparedCases(pa, ya, clusters=c, rank_groups=g, references=refs, eps=eps)
    estimate = float(evaluate(cases, cases.ones(), [spec])[metric][0])
    reps = [
        evaluate(cases, cases.weights(counts), [spec])[metric]
        for counts in cluster_counts(
            cases.n_clusters, n_boot, rng, chunk=chunk_size(cases.n, n_boot)
        )
    ]
    replicates = np.concatenate(reps)
    lo, hi = bootstrap_interval(
        replicates, estimate, level, method=spec.interval, floor=spec.floor
    )
    return BootstrapResult(
        estimate=estimate, lower=lo, upper=hi, level=level, n_boot=n_boot,
        n_valid=int(np.sum(~np.isnan(replicates))), clusters=cases.n_clusters,
        replicates=replicates,
    )


def _bootstrap_callable(
    pa: np.ndarray,
    ya: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    clusters: np.ndarray | None,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> BootstrapResult:
    if clusters is None:
        codes, n_clusters = np.arange(pa.size), pa.size
    else:
        codes, uniques = pd.factorize(pd.Series(clusters), sort=True, use_na_sentinel=False)
        n_clusters = len(uniques)
    estimate = float(metric(pa, ya))
    replicates = np.empty(n_boot)
    i = 0
    for counts in cluster_counts(n_clusters, n_boot, rng, chunk=min(n_boot, 256)):
        for row in counts:
            idx = np.repeat(np.arange(pa.size), row[codes])
            try:
                replicates[i] = float(metric(pa[idx], ya[idx]))
            except (NoEventsError, ValueError):  # undefined on this replicate
                replicates[i] = np.nan
            i += 1
    lo, hi = percentile_interval(replicates, level)
    return BootstrapResult(
        estimate=estimate, lower=lo, upper=hi, level=level, n_boot=n_boot,
        n_valid=int(np.sum(~np.isnan(replicates))), clusters=n_clusters,
        replicates=replicates,
    )
