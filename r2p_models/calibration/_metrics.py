"""Metric names understood by the table functions and the bootstrap.

=======================  ====================================================  ========
name                     meaning                                               better
=======================  ====================================================  ========
``brier``, ``log``       mean proper score                                     lower
``mcb_brier``, ...       CORP miscalibration (``mcb_log`` for the log score)   lower
``dsc_brier``, ...       CORP discrimination                                   higher
``unc_brier``, ...       CORP uncertainty (depends on outcomes only)           --
``auc``                  area under the ROC curve                              higher
``auc_within``           AUC over pairs of the same issue year (stratified)    higher
``pr_auc``               average precision (compare with ``base_rate``)       higher
``base_rate``            share of events                                       --
``mean_forecast``        mean forecast (calibration in the large vs base rate) --
``capture_top{k}``       share of events in the top k of each issue year       higher
``recall_at_{x}pct``     share of events in the top x% of each issue year      higher
``{score}_skill_{ref}``  ``1 - S(p)/S(ref)`` against a named reference         higher
=======================  ====================================================  ========
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from r2p_models.calibration._kernels import (
    CORP_NAMES,
    PreparedCases,
    Weighted,
    ap_kernel,
    auc_kernel,
    auc_within_kernel,
    capture_kernel,
    corp_kernel,
    score_kernel,
)
from r2p_models.calibration._validate import CalibrationInputError

__all__ = ["DEFAULT_METRICS", "MetricSpec", "evaluate", "metric_label", "parse_metrics"]

#: Metrics reported by the table functions unless told otherwise.
DEFAULT_METRICS: tuple[str, ...] = (
    "brier",
    "log",
    "mcb_brier",
    "dsc_brier",
    "unc_brier",
    "mcb_log",
    "dsc_log",
    "unc_log",
    "auc",
    "auc_within",
    "pr_auc",
    "base_rate",
    "mean_forecast",
    "capture_top10",
    "capture_top20",
    "capture_top30",
)


_LABELS = {
    "brier": "Brier score",
    "log": "Log score",
    "mcb_brier": "Miscalibration (Brier MCB)",
    "dsc_brier": "Discrimination (Brier DSC)",
    "unc_brier": "Uncertainty (Brier UNC)",
    "mcb_log": "Miscalibration (log MCB)",
    "dsc_log": "Discrimination (log DSC)",
    "unc_log": "Uncertainty (log UNC)",
    "auc": "AUC (ROC)",
    "auc_within": "AUC within issue years",
    "pr_auc": "Average precision (PR AUC)",
    "base_rate": "Base rate",
    "mean_forecast": "Mean forecast",
}


def metric_label(name: str) -> str:
    """A readable label for a metric name (for figures and reports)."""
    if name in _LABELS:
        return _LABELS[name]
    if m := _CAPTURE.match(name):
        return f"Share of events in the top {m.group(1)}"
    if m := _RECALL.match(name):
        return f"Recall in the top {m.group(1)}%"
    if m := _SKILL.match(name):
        return f"{m.group(1).capitalize()} skill vs {m.group(2).replace('_', ' ')}"
    return name


@dataclass(frozen=True)
class MetricSpec:
    """A parsed metric name."""

    name: str
    family: str
    higher_is_better: bool | None
    needs_events: bool = False
    needs_nonevents: bool = False
    budget: float | None = None
    fraction: bool = False
    reference: str | None = None
    interval: str = "percentile"
    floor: float | None = None


_CAPTURE = re.compile(r"^capture_top(\d+)$")
_RECALL = re.compile(r"^recall_at_(\d+(?:\.\d+)?)pct$")
_SKILL = re.compile(r"^(brier|log)_skill_(\w+)$")


def parse_metric(name: str, references: Iterable[str] = ()) -> MetricSpec:
    """Parse one metric name (see the module docstring)."""
    if name in ("brier", "log"):
        return MetricSpec(name, "score", False)
    if name in ("base_rate", "mean_forecast"):
        return MetricSpec(name, "score", None)
    if name in CORP_NAMES:
        better = {"mcb": False, "dsc": True, "unc": None}[name[:3]]
        # Basic intervals: PAV overfits on resamples (see r2p_models.calibration.bootstrap).
        return MetricSpec(name, "corp", better, needs_events=True, interval="basic", floor=0.0)
    if name == "auc":
        return MetricSpec(name, "auc", True, needs_events=True, needs_nonevents=True)
    if name == "auc_within":
        return MetricSpec(name, "auc_within", True, needs_events=True, needs_nonevents=True)
    if name == "pr_auc":
        return MetricSpec(name, "ap", True, needs_events=True)
    if m := _CAPTURE.match(name):
        k = int(m.group(1))
        if k < 1:
            raise CalibrationInputError(f"metric {name!r}: k must be >= 1")
        return MetricSpec(name, "capture", True, needs_events=True, budget=float(k))
    if m := _RECALL.match(name):
        share = float(m.group(1)) / 100
        if not 0 < share < 1:
            raise CalibrationInputError(f"metric {name!r}: the share must be in (0, 100) pct")
        return MetricSpec(name, "capture", True, needs_events=True, budget=share, fraction=True)
    if m := _SKILL.match(name):
        ref = m.group(2)
        if ref not in set(references):
            raise CalibrationInputError(
                f"metric {name!r} needs a reference forecast named {ref!r}; "
                f"pass references={{{ref!r}: <column>}}"
            )
        return MetricSpec(name, "score", True, reference=ref)
    raise CalibrationInputError(
        f"unknown metric {name!r}; known: {', '.join(DEFAULT_METRICS)}, "
        "capture_top<k>, recall_at_<x>pct, <brier|log>_skill_<reference>"
    )


def parse_metrics(names: Sequence[str], references: Iterable[str] = ()) -> list[MetricSpec]:
    """Parse metric names, refusing duplicates."""
    refs = list(references)
    if len(set(names)) != len(names):
        raise CalibrationInputError(f"metrics has duplicates: {list(names)}")
    if not names:
        raise CalibrationInputError("metrics is empty")
    return [parse_metric(n, refs) for n in names]


def default_metrics(references: Mapping[str, str] | Iterable[str] = ()) -> list[str]:
    """Default metrics, plus Brier and log skill against each named reference."""
    out = list(DEFAULT_METRICS)
    for ref in references:
        out += [f"brier_skill_{ref}", f"log_skill_{ref}"]
    return out


def evaluate(cases: PreparedCases, W: np.ndarray, specs: Sequence[MetricSpec]) -> dict[
    str, np.ndarray
]:
    """Every requested metric for each row of the weight matrix ``W``."""
    W = Weighted(cases, W)  # shared block and ranking sums
    out: dict[str, np.ndarray] = {}
    corp = [s.name for s in specs if s.family == "corp"]
    if corp:
        out.update(corp_kernel(cases, W, corp))
    for s in specs:
        if s.family == "score":
            out[s.name] = score_kernel(cases, W, s.name)
        elif s.family == "auc":
            out[s.name] = auc_kernel(cases, W)
        elif s.family == "auc_within":
            out[s.name] = auc_within_kernel(cases, W)
        elif s.family == "ap":
            out[s.name] = ap_kernel(cases, W)
        elif s.family == "capture":
            assert s.budget is not None
            out[s.name] = capture_kernel(cases, W, s.budget, fraction=s.fraction)
    return out
