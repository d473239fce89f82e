"""Discrimination: does the forecaster rank the cases that turn into events higher?

- ``roc_auc``: probability that a random event case outranks a random non-event case
  (ties count one half); 0.5 is no skill.
- ``pr_auc``: average precision (step-wise area under the precision-recall curve,
  as scikit-learn's ``average_precision_score``); a forecaster without skill scores
  the base rate, so always read it next to ``base_rate``.
- ``recall_at_budget`` / ``top_k_capture``: share of events among the cases an
  analyst would look at with a fixed alert budget, e.g. the top 10 of each issue
  year's ranking.

All are computed by the weighted kernels of :mod:`r2p_models.calibration._kernels`,
the same code that the block bootstrap runs for intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from r2p_models.calibration._kernels import (
    PreparedCases,
    ap_kernel,
    auc_kernel,
    capture_kernel,
)
from r2p_models.calibration._validate import (
    CalibrationInputError,
    align_to_cases,
    as_cases,
    as_rng,
    require_events,
)

__all__ = [
    "base_rate",
    "plot_discrimination",
    "pr_auc",
    "recall_at_budget",
    "roc_auc",
    "top_k_capture",
]


def base_rate(y: Any) -> float:
    """Share of cases that are events."""
    _, ya, _ = as_cases(np.zeros(np.shape(y)), y)
    return float(ya.mean())


def roc_auc(p: Any, y: Any) -> float:
    """Area under the ROC curve.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes; needs events and non-events.

    Returns
    -------
    float

    Examples
    --------
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    pa, ya, _ = as_cases(p, y)
    require_events(ya, "AUC", nonevents=True)
    cases = PreparedCases(pa, ya)
    return float(auc_kernel(cases, cases.ones())[0])


def pr_auc(p: Any, y: Any) -> float:
    """Average precision (precision-recall AUC, step-wise); compare with ``base_rate``.

    Examples
    --------
    >>> round(pr_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 6)
    0.833333
    """
    pa, ya, _ = as_cases(p, y)
    require_events(ya, "precision-recall AUC")
    cases = PreparedCases(pa, ya)
    return float(ap_kernel(cases, cases.ones())[0])


def _budget(budget: float) -> tuple[float, bool]:
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.integer | np.floating):
        raise CalibrationInputError(f"budget must be a number; got {budget!r}")
    if isinstance(budget, int | np.integer) or (float(budget).is_integer() and budget >= 1):
        if budget < 1:
            raise CalibrationInputError(f"budget must be >= 1 alert; got {budget}")
        return float(budget), False
    if 0 < budget < 1:
        return float(budget), True
    raise CalibrationInputError(
        f"budget must be a whole number of alerts (>= 1) or a share in (0, 1); got {budget}"
    )


def recall_at_budget(
    p: Any, y: Any, budget: float, *, groups: Any | None = None
) -> float:
    """Share of events among the top-ranked cases at a fixed alert budget.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes.
    budget : int or float
        A whole number of alerts per group (e.g. 10: the top 10 of each issue year), or
        a share of each group's cases in (0, 1) (e.g. 0.05: the top 5%).
    groups : array-like, optional
        Ranking groups (e.g. the issue year of each case); one ranking if None.

    Returns
    -------
    float
        Captured events / all events. Cases tied at the cut-off share the remaining
        alerts in proportion (the expected recall under random tie-breaking).
    """
    pa, ya, layout = as_cases(p, y)
    require_events(ya, "recall at an alert budget")
    value, fraction = _budget(budget)
    g = _groups(align_to_cases(groups, layout, "groups"), pa.size)
    cases = PreparedCases(pa, ya, rank_groups=g)
    return float(capture_kernel(cases, cases.ones(), value, fraction=fraction)[0])


def _groups(groups: Any | None, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = np.asarray(groups).ravel()
    if g.size != n:
        raise CalibrationInputError(f"groups has {g.size} values but there are {n} cases")
    if pd.isna(g).any():
        raise CalibrationInputError("groups has missing values")
    return g


def top_k_capture(
    p: Any, y: Any, k: Sequence[int] = (10, 20, 30), *, groups: Any | None = None
) -> pd.Series:
    """Share of events captured by the top ``k`` of each group's ranking.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
    k : sequence of int, default (10, 20, 30)
    groups : array-like, optional
        Ranking groups, usually the issue year of each case.

    Returns
    -------
    pandas.Series
        Indexed by ``k``.
    """
    pa, ya, layout = as_cases(p, y)
    require_events(ya, "top-k capture")
    cases = PreparedCases(
        pa, ya, rank_groups=_groups(align_to_cases(groups, layout, "groups"), pa.size)
    )
    ones = cases.ones()
    out = {}
    for kk in k:
        value, fraction = _budget(kk)
        if fraction:
            raise CalibrationInputError(f"k must be whole numbers of alerts; got {kk}")
        out[int(kk)] = float(capture_kernel(cases, ones, value, fraction=False)[0])
    return pd.Series(out, name="capture", dtype=float).rename_axis("k")


def plot_discrimination(
    p: Any,
    y: Any,
    *,
    clusters: Any | None = None,
    n_boot: int = 1000,
    level: float = 0.9,
    rng: np.random.Generator | int | None = 0,
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 4.6),
) -> Figure:
    """ROC and precision-recall curves, with the no-skill references and intervals.

    The precision-recall panel draws the base rate (a forecaster without skill) as a
    horizontal line. Curves come from scikit-learn; the legends give this module's AUC and
    average precision with block-bootstrap intervals.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes.
    clusters : array-like, optional
        Country of each case, for the block bootstrap; without it cases are resampled
        singly (and the legend says so).
    n_boot, level, rng
        Bootstrap replicates, interval level, random generator or seed.
    title : str, optional
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    from r2p_models.calibration.bootstrap import bootstrap_metric

    pa, ya, _ = as_cases(p, y)
    require_events(ya, "discrimination curves", nonevents=True)
    rng = as_rng(rng)
    auc = bootstrap_metric(pa, ya, "auc", clusters=clusters, n_boot=n_boot, level=level,
                           rng=rng)
    ap = bootstrap_metric(pa, ya, "pr_auc", clusters=clusters, n_boot=n_boot, level=level,
                          rng=rng)
    how = "countries resampled" if clusters is not None else "cases resampled"
    rate = float(ya.mean())
    fpr, tpr, _ = roc_curve(ya, pa)
    prec, rec, _ = precision_recall_curve(ya, pa)
    fig = Figure(figsize=figsize, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot([0, 1], [0, 1], ":", color="0.4", label="No skill (AUC 0.5)")
    ax1.plot(fpr, tpr, color="#2166ac", linewidth=2,
             label=f"AUC {auc.estimate:.3f} ({level:.0%} CI {auc.lower:.3f}-{auc.upper:.3f})")
    ax1.set_xlabel("False positive rate", fontsize=11)
    ax1.set_ylabel("True positive rate (recall)", fontsize=11)
    ax1.set_title("ROC curve", fontsize=12)
    ax2.axhline(rate, linestyle=":", color="0.4", label=f"Base rate {rate:.3g} (no skill)")
    ax2.step(rec, prec, where="post", color="#b2182b", linewidth=2,
             label=f"Average precision {ap.estimate:.3f} "
                   f"({level:.0%} CI {ap.lower:.3f}-{ap.upper:.3f})")
    ax2.set_xlabel("Recall", fontsize=11)
    ax2.set_ylabel("Precision", fontsize=11)
    ax2.set_title("Precision-recall curve", fontsize=12)
    for ax in (ax1, ax2):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(True, color="0.9")
        ax.legend(loc="lower right" if ax is ax1 else "upper right", fontsize=9)
    fig.suptitle(
        title or f"Discrimination (n = {ya.size:,}, events = {int(ya.sum()):,}; "
                 f"intervals: {n_boot} bootstrap replicates, {how})",
        fontsize=12,
    )
    return fig
