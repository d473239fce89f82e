"""Scoring posterior draws.

A model's forecast is a posterior distribution: ``p[draw, case]``. Scoring each draw
gives the distribution of each score across draws, which shows how much of the
uncertainty about a score comes from the model's own uncertainty (as opposed to the
sampling of cases, which the block bootstrap measures).

Note that the score of the mean forecast is not the mean of the draws' scores: for a
proper score the mean forecast scores at least as well (Jensen's inequality), so the
per-draw distribution sits above the headline score of ``p_mean``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.calibration._kernels import PreparedCases
from r2p_models.calibration._metrics import evaluate, parse_metrics
from r2p_models.calibration._validate import (
    CalibrationInputError,
    CaseLayout,
    as_cases,
    check_level,
    check_probabilities,
    require_events,
)
from r2p_models.calibration.bootstrap import INTERVAL_LEVEL
from r2p_models.calibration.scores import LOG_EPS

__all__ = ["DRAW_METRICS", "score_draws", "summarize_draws"]

#: Metrics scored per draw by default.
DRAW_METRICS: tuple[str, ...] = (
    "brier", "log", "mcb_brier", "dsc_brier", "mcb_log", "dsc_log", "auc", "pr_auc",
)


def _draw_matrix(
    p_draws: Any, y: Any, sample_dims: Sequence[str], draw_axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (p[sample, case], y[case]) after checking alignment and values."""
    if isinstance(p_draws, xr.DataArray):
        dims = [d for d in sample_dims if d in p_draws.dims]
        if not dims:
            raise CalibrationInputError(
                f"p_draws has dims {p_draws.dims} but none of the sample dims {tuple(sample_dims)}"
            )
        case_dims = [d for d in p_draws.dims if d not in dims]
        if not case_dims:
            raise CalibrationInputError("p_draws has no case dims besides the sample dims")
        stacked = p_draws.stack(_sample=dims).transpose("_sample", *case_dims)
        first = stacked.isel(_sample=0, drop=True)
        _, ya, _ = as_cases(first, y, p_name="p_draws", y_name="y")  # y aligned to case dims
        values = np.asarray(stacked.values, dtype=float).reshape(stacked.shape[0], -1)
        layout = CaseLayout(shape=tuple(stacked.shape), template=None)
    else:
        arr = np.asarray(p_draws, dtype=float)
        if arr.ndim != 2:
            raise CalibrationInputError(
                f"p_draws must be 2-D (cases x draws) or a DataArray; got shape {arr.shape}"
            )
        values = np.moveaxis(arr, draw_axis, 0)
        _, ya, _ = as_cases(values[0], y, p_name="p_draws", y_name="y")
        layout = CaseLayout(shape=values.shape)
    check_probabilities(values, "p_draws", layout)
    return values, ya


def score_draws(
    p_draws: Any,
    y: Any,
    *,
    metrics: Sequence[str] = DRAW_METRICS,
    sample_dims: Sequence[str] = ("chain", "draw"),
    draw_axis: int = -1,
    groups: Any | None = None,
    eps: float = LOG_EPS,
) -> pd.DataFrame:
    """Each metric for each posterior draw.

    Parameters
    ----------
    p_draws : xarray.DataArray or 2-D array-like
        Forecast probabilities per draw. A DataArray has sample dims (``chain`` and/or
        ``draw``) and case dims (e.g. ``country``, ``crime``) matching ``y``; a plain
        array is ``cases x draws`` (draws on ``draw_axis``).
    y : array-like or xarray.DataArray
        0/1 outcomes of the cases.
    metrics : sequence of str
        Metric names (see :mod:`r2p_models.calibration._metrics`).
    sample_dims : sequence of str, default ("chain", "draw")
    draw_axis : int, default -1
        Axis of the draws for a plain array.
    groups : array-like, optional
        Ranking groups (issue year) for capture metrics, aligned with the flattened cases.
    eps : float
        Clipping bound of the log score.

    Returns
    -------
    pandas.DataFrame
        Columns ``sample, metric, value`` (``sample`` numbers the draws, chains stacked).
    """
    values, ya = _draw_matrix(p_draws, y, sample_dims, draw_axis)
    specs = parse_metrics(list(metrics))
    if any(s.needs_events for s in specs):
        require_events(ya, "scoring draws", nonevents=any(s.needs_nonevents for s in specs))
    g = None if groups is None else np.asarray(groups).ravel()
    if g is not None and g.size != ya.size:
        raise CalibrationInputError(f"groups has {g.size} values but there are {ya.size} cases")
    rows = []
    for i, p in enumerate(values):
        cases = PreparedCases(p, ya, rank_groups=g, eps=eps)
        res = evaluate(cases, cases.ones(), specs)
        rows += [(i, s.name, float(res[s.name][0])) for s in specs]
    return pd.DataFrame(rows, columns=["sample", "metric", "value"])


def summarize_draws(per_draw: pd.DataFrame, *, level: float = INTERVAL_LEVEL) -> pd.DataFrame:
    """Mean, median and central ``level`` interval of each metric across draws.

    Parameters
    ----------
    per_draw : pandas.DataFrame
        From :func:`score_draws`.
    level : float, default 0.9

    Returns
    -------
    pandas.DataFrame
        ``metric, mean, median, lower, upper, level, n_draws``.
    """
    level = check_level(level)
    q = [(1 - level) / 2, (1 + level) / 2]
    out = []
    for metric, g in per_draw.groupby("metric", sort=False):
        v = g["value"].to_numpy(dtype=float)
        lo, hi = np.quantile(v, q)
        out.append({"metric": metric, "mean": v.mean(), "median": float(np.median(v)),
                    "lower": float(lo), "upper": float(hi), "level": level,
                    "n_draws": v.size})
    return pd.DataFrame(out)
