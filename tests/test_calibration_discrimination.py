"""Discrimination: AUC, average precision, top-k capture, recall at a budget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.stats import mannwhitneyu
from sklearn.metrics import average_precision_score, roc_auc_score

from r2p_models.calibration import (
    CalibrationInputError,
    NoEventsError,
    base_rate,
    plot_discrimination,
    pr_auc,
    recall_at_budget,
    roc_auc,
    top_k_capture,
)
from r2p_models.calibration._kernels import PreparedCases, ap_kernel, auc_kernel, capture_kernel


@pytest.fixture(params=[False, True], ids=["continuous", "ties"])
def sample(request):
    rng = np.random.default_rng(21)
    p = rng.beta(0.8, 9, 2500)
    if request.param:
        p = np.round(p, 2)
    y = (rng.random(p.size) < p).astype(int)
    return p, y


def test_auc_matches_mann_whitney_and_sklearn(sample):
    p, y = sample
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
    expected = u / (np.sum(y == 1) * np.sum(y == 0))
    assert roc_auc(p, y) == pytest.approx(expected, abs=1e-12)
    assert roc_auc(p, y) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_average_precision_matches_sklearn(sample):
    p, y = sample
    assert pr_auc(p, y) == pytest.approx(average_precision_score(y, p), abs=1e-12)


def test_closed_forms():
    p, y = [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]
    assert roc_auc(p, y) == 0.75
    assert pr_auc(p, y) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3, abs=1e-15)
    # all tied: no discrimination, AUC one half, AP the base rate
    assert roc_auc([0.2] * 4, [0, 1, 0, 0]) == 0.5
    assert pr_auc([0.2] * 4, [0, 1, 0, 0]) == pytest.approx(0.25)
    assert base_rate([0, 1, 0, 0]) == 0.25


def test_weights_equal_duplicated_cases(sample):
    """Integer weights (bootstrap draw counts) give the metric of the duplicated data."""
    p, y = sample
    rng = np.random.default_rng(1)
    w = rng.integers(0, 4, size=p.size)
    cases = PreparedCases(p, y.astype(float))
    W = w[cases.order][None, :].astype(float)
    idx = np.repeat(np.arange(p.size), w)
    assert auc_kernel(cases, W)[0] == pytest.approx(roc_auc_score(y[idx], p[idx]), abs=1e-12)
    assert ap_kernel(cases, W)[0] == pytest.approx(
        average_precision_score(y[idx], p[idx]), abs=1e-12
    )
    assert auc_kernel(cases, W)[0] == pytest.approx(
        roc_auc_score(y, p, sample_weight=w), abs=1e-12
    )


def test_top_k_capture_closed_form():
    # year 2000: ranking 0.9(1), 0.8(0), 0.7(1), 0.1(1); year 2001: 0.6(0), 0.5(1), 0.2(0)
    p = [0.9, 0.8, 0.7, 0.1, 0.6, 0.5, 0.2]
    y = [1, 0, 1, 1, 0, 1, 0]
    g = [2000, 2000, 2000, 2000, 2001, 2001, 2001]
    cap = top_k_capture(p, y, k=(1, 2, 3), groups=g)
    # top1: {0.9} + {0.6} -> 1 of 4 events; top2: + {0.8, 0.5} -> 2; top3: + {0.7, 0.2} -> 3
    assert cap.to_dict() == {1: 0.25, 2: 0.5, 3: 0.75}
    # one ranking over all cases: top 3 = 0.9, 0.8, 0.7 -> 2 of 4
    assert top_k_capture(p, y, k=(3,)).iloc[0] == 0.5


def test_ties_at_the_cut_share_the_remaining_alerts():
    # top 2 with a three-way tie for second place: one slot shared by three cases, two of
    # which are events -> expected capture (1 + 2/3) / 3 events
    p = [0.9, 0.5, 0.5, 0.5, 0.1]
    y = [1, 1, 1, 0, 0]
    assert recall_at_budget(p, y, 2) == pytest.approx((1 + 2 / 3) / 3, abs=1e-15)


def test_recall_at_fractional_budget():
    # year 1 ranked: 0.9(1) 0.4(0) 0.3(0) 0.2(1); year 2: 0.8(0) 0.7(1) 0.1(0) 0.05(0)
    p = [0.9, 0.2, 0.3, 0.4, 0.8, 0.7, 0.1, 0.05]
    y = [1, 1, 0, 0, 0, 1, 0, 0]
    g = [1, 1, 1, 1, 2, 2, 2, 2]
    assert recall_at_budget(p, y, 0.25, groups=g) == pytest.approx(1 / 3)  # 1 per year
    assert recall_at_budget(p, y, 0.5, groups=g) == pytest.approx(2 / 3)  # 2 per year
    assert recall_at_budget(p, y, 0.75, groups=g) == pytest.approx(2 / 3)
    assert recall_at_budget(p, y, 0.125, groups=g) == pytest.approx(0.5 / 3)  # half a slot


def test_capture_weights_equal_duplicated_cases():
    rng = np.random.default_rng(2)
    n = 400
    p = rng.random(n)
    y = (rng.random(n) < p * 0.3).astype(float)
    g = rng.integers(0, 5, n)
    w = rng.integers(0, 3, n)
    cases = PreparedCases(p, y, rank_groups=g)
    W = w[cases.order][None, :].astype(float)
    idx = np.repeat(np.arange(n), w)
    for k in (3, 10):
        got = capture_kernel(cases, W, k, fraction=False)[0]
        assert got == pytest.approx(recall_at_budget(p[idx], y[idx], k, groups=g[idx]), abs=1e-12)


def test_bad_inputs():
    with pytest.raises(NoEventsError, match="AUC needs at least one event"):
        roc_auc([0.1, 0.2], [0, 0])
    with pytest.raises(NoEventsError, match="non-event"):
        roc_auc([0.1, 0.2], [1, 1])
    with pytest.raises(NoEventsError):
        pr_auc([0.1, 0.2], [0, 0])
    with pytest.raises(CalibrationInputError, match="budget"):
        recall_at_budget([0.1, 0.2], [0, 1], 1.5)
    with pytest.raises(CalibrationInputError, match="budget"):
        recall_at_budget([0.1, 0.2], [0, 1], 0)
    with pytest.raises(CalibrationInputError, match="groups has 1 values"):
        recall_at_budget([0.1, 0.2], [0, 1], 1, groups=[1])


def test_plot_discrimination():
    rng = np.random.default_rng(4)
    p = rng.beta(1, 8, 500)
    y = (rng.random(500) < p).astype(int)
    country = np.repeat(np.arange(50), 10)
    fig = plot_discrimination(p, y, clusters=country, n_boot=100)
    assert isinstance(fig, Figure)
    roc_ax, pr_ax = fig.axes
    label = roc_ax.get_legend().get_texts()[1].get_text()
    assert f"AUC {roc_auc(p, y):.3f} (90% CI" in label
    assert "Base rate" in pr_ax.get_legend().get_texts()[0].get_text()
    assert "countries resampled" in fig._suptitle.get_text()
