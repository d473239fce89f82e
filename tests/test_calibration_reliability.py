"""Reliability diagrams: consistency bands, the miscalibration test, the figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from r2p_models.calibration import (
    CalibrationInputError,
    NoEventsError,
    consistency_resamples,
    corp_table,
    miscalibration_test,
    plot_reliability,
    reliability,
    reliability_diagram,
)


def _calibrated(rng, n):
    p = rng.beta(0.6, 8, n)
    return p, (rng.random(n) < p).astype(float)


@pytest.mark.parametrize("resample_forecasts", [False, True])
def test_single_forecast_value_has_binomial_null(resample_forecasts):
    """All forecasts equal x0: PAV is the event rate, MCB = (x0 - rate)^2, and under
    calibration the resampled rate is Binomial(n, x0) / n, which gives the exact p-value
    and band."""
    n, x0 = 400, 0.1
    p = np.full(n, x0)
    y = np.zeros(n)
    y[:52] = 1  # rate 0.13
    t = miscalibration_test(
        p, y, n_resamples=4000, resample_forecasts=resample_forecasts, rng=1
    )
    assert t.mcb == pytest.approx((x0 - 0.13) ** 2, abs=1e-15)
    assert t.p_value == (1 + np.sum(t.null >= t.mcb - 1e-12)) / 4001
    k = np.arange(n + 1)
    extreme = np.abs(k / n - x0) >= abs(0.13 - x0) - 1e-12
    exact = stats.binom.pmf(k[extreme], n, x0).sum()
    se = np.sqrt(exact * (1 - exact) / 4000)
    assert abs(t.p_value - exact) < 4 * se
    res = consistency_resamples(
        p, n_resamples=4000, resample_forecasts=resample_forecasts, rng=2
    )
    lo, hi = res.band(0.9)
    assert res.grid.tolist() == [x0]
    assert lo[0] == pytest.approx(stats.binom.ppf(0.05, n, x0) / n, abs=1.01 / n)
    assert hi[0] == pytest.approx(stats.binom.ppf(0.95, n, x0) / n, abs=1.01 / n)


def test_calibrated_forecaster_rejected_at_nominal_rate():
    """200 calibrated data sets of n=2000: the 5% test rejects about 5% of them."""
    rng = np.random.default_rng(2024)
    reps = 200
    pvals = np.array([
        miscalibration_test(*_calibrated(rng, 2000), n_resamples=100, rng=rng).p_value
        for _ in range(reps)
    ])
    rejected = int(np.sum(pvals <= 0.05))
    # two-sided 99% binomial acceptance region for a true rate of 5%
    lo, hi = stats.binom.ppf([0.005, 0.995], reps, 0.05)
    assert lo <= rejected <= hi, rejected


def test_biased_forecaster_fails():
    rng = np.random.default_rng(5)
    pvals = []
    for _ in range(20):
        q, y = _calibrated(rng, 2000)
        biased = np.clip(1.5 * q, 0, 1)  # overforecasts by half
        pvals.append(miscalibration_test(biased, y, n_resamples=100, rng=rng).p_value)
    assert np.mean(np.array(pvals) <= 0.05) >= 0.9
    q, y = _calibrated(rng, 5000)
    assert miscalibration_test(0.7 * q, y, score="log", rng=rng).p_value <= 0.01


@pytest.mark.parametrize("resample_forecasts", [False, True])
def test_band_is_centred_on_the_diagonal(resample_forecasts):
    rng = np.random.default_rng(8)
    p = rng.uniform(0.05, 0.5, 20000)
    res = consistency_resamples(
        p, n_resamples=200, grid_size=50, resample_forecasts=resample_forecasts, rng=rng
    )
    mid = (res.grid > 0.1) & (res.grid < 0.45)
    med = np.median(res.curves, axis=0)
    assert np.max(np.abs(med[mid] - res.grid[mid])) < 0.03
    lo, hi = res.band(0.9)
    assert np.all(lo <= hi)
    assert np.mean((lo[mid] <= res.grid[mid]) & (res.grid[mid] <= hi[mid])) == 1.0


def test_reliability_numbers():
    rng = np.random.default_rng(3)
    p, y = _calibrated(rng, 5000)
    p = np.round(p, 3)
    rel = reliability(p, y, n_resamples=100, rng=4)
    c = rel.curve
    assert c["cases"].sum() == p.size and c["events"].sum() == y.sum()
    np.testing.assert_allclose(c["observed_rate"], c["events"] / c["cases"], atol=1e-12)
    assert np.all(np.diff(c["observed_rate"]) > 0)  # PAV blocks, strictly increasing
    assert np.all(c["forecast_from"] <= c["mean_forecast"] + 1e-15)
    assert np.all(c["mean_forecast"] <= c["forecast_to"] + 1e-15)
    assert np.all(c["band_lower"] <= c["band_upper"])
    ref = corp_table(p, y)
    np.testing.assert_allclose(rel.decomposition[["mean", "mcb", "dsc", "unc"]],
                               ref[["mean", "mcb", "dsc", "unc"]], atol=1e-15)
    # same seed, same resamples: the figure's p-value is the test's p-value
    t = miscalibration_test(p, y, n_resamples=100, rng=4)
    assert rel.decomposition.set_index("score").loc["brier", "p_value"] == t.p_value
    again = reliability(p, y, n_resamples=100, rng=4)
    np.testing.assert_array_equal(again.band["band_lower"], rel.band["band_lower"])
    other = reliability(p, y, n_resamples=100, rng=5)
    assert not np.array_equal(other.band["band_lower"], rel.band["band_lower"])


@pytest.mark.parametrize("scale", ["linear", "logit", "zoom"])
def test_figure(scale):
    rng = np.random.default_rng(9)
    p, y = _calibrated(rng, 3000)
    before = plt.get_fignums()
    fig, table = reliability_diagram(p, y, scale=scale, n_resamples=50, title="Test forecaster")
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # not registered with pyplot, never shown
    ax, axh = fig.axes
    assert ax.get_title() == "Test forecaster"
    assert "Forecast probability" in axh.get_xlabel()
    assert "MCB" in ax.texts[0].get_text()
    assert list(table.columns) == [
        "forecast_from", "forecast_to", "mean_forecast", "cases", "events", "observed_rate",
        "band_lower", "band_upper", "inside_band",
    ]
    if scale == "logit":
        assert ax.get_xscale() == "logit" and ax.get_yscale() == "logit"
    if scale == "zoom":
        top = ax.get_xlim()[1]
        assert top < 1 and np.mean(p <= top) >= 0.995
    fig.savefig(__import__("io").BytesIO(), format="png")


def test_zoom_limit_and_bad_options():
    rng = np.random.default_rng(10)
    p, y = _calibrated(rng, 1000)
    rel = reliability(p, y, n_resamples=20)
    fig = plot_reliability(rel, scale="zoom", zoom_max=0.2)
    assert fig.axes[0].get_xlim() == (0.0, 0.2)
    with pytest.raises(CalibrationInputError, match="scale"):
        plot_reliability(rel, scale="log")
    with pytest.raises(CalibrationInputError, match="zoom_max"):
        plot_reliability(rel, scale="zoom", zoom_max=2)
    with pytest.raises(CalibrationInputError, match="level"):
        reliability(p, y, level=90)
    with pytest.raises(NoEventsError):
        reliability(p, np.zeros_like(p))
    with pytest.raises(CalibrationInputError, match="n_resamples"):
        miscalibration_test(p, y, n_resamples=0)
