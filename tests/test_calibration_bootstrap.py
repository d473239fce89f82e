"""Block bootstrap: resampling countries, and the weighted kernels against references."""

from __future__ import annotations

import numpy as np
import pytest
from model_diagnostics.scoring import SquaredError, decompose
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from r2p_models.calibration import CalibrationInputError, bootstrap_metric
from r2p_models.calibration.bootstrap import bootstrap_interval, cluster_counts


def _clustered(seed: int, countries: int = 60, years: int = 20):
    rng = np.random.default_rng(seed)
    country = np.repeat(np.arange(countries), years)
    risk = np.repeat(rng.normal(-2.5, 1.2, countries), years) + rng.normal(0, 0.4, country.size)
    p = 1 / (1 + np.exp(-risk))
    y = (rng.random(p.size) < p).astype(float)
    return p, y, np.array([f"C{c:02d}" for c in country])


def test_cluster_counts_are_multinomial_draws_and_chunk_invariant():
    a = np.concatenate(list(cluster_counts(7, 10, np.random.default_rng(3), chunk=3)))
    b = np.concatenate(list(cluster_counts(7, 10, np.random.default_rng(3))))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 7)
    assert (a.sum(axis=1) == 7).all()


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("brier", lambda p, y: brier_score_loss(y, p)),
        ("auc", lambda p, y: roc_auc_score(y, p)),
        ("pr_auc", lambda p, y: average_precision_score(y, p)),
        ("mcb_brier", lambda p, y: decompose(y, p, scoring_function=SquaredError())[
            "miscalibration"][0]),
    ],
)
def test_replicates_equal_reference_on_resampled_countries(name, reference):
    """Each replicate of the fast weighted kernel equals the reference library run on the
    resampled data (countries drawn with replacement, all their cases kept)."""
    p, y, country = _clustered(1)
    fast = bootstrap_metric(p, y, name, clusters=country, n_boot=40, rng=7)
    slow = bootstrap_metric(p, y, reference, clusters=country, n_boot=40, rng=7)
    assert fast.estimate == pytest.approx(slow.estimate, abs=1e-9)
    np.testing.assert_allclose(fast.replicates, slow.replicates, rtol=0, atol=1e-9)
    assert fast.clusters == 60


def test_block_bootstrap_spread_matches_closed_form():
    """Countries whose cases all share one outcome: the base rate of a replicate is the mean
    of G draws of country rates, whose SD is sd(country rates) / sqrt(G)."""
    rng = np.random.default_rng(2)
    countries, years = 80, 10
    rates = (rng.random(countries) < 0.3).astype(float)
    y = np.repeat(rates, years)
    country = np.repeat(np.arange(countries), years)
    p = np.full(y.size, 0.3)
    res = bootstrap_metric(p, y, "base_rate", clusters=country, n_boot=4000, rng=3)
    expected = rates.std() / np.sqrt(countries)
    assert res.replicates.std() == pytest.approx(expected, rel=0.06)
    # ignoring the clustering understates the uncertainty by about sqrt(years)
    naive = bootstrap_metric(p, y, "base_rate", n_boot=4000, rng=3)
    assert naive.replicates.std() == pytest.approx(expected / np.sqrt(years), rel=0.06)


def test_undefined_replicates_are_left_out():
    # two events in two countries: many replicates draw neither
    y = np.zeros(40)
    y[[0, 25]] = 1
    p = np.linspace(0.01, 0.5, 40)
    country = np.repeat(np.arange(4), 10)
    res = bootstrap_metric(p, y, "auc", clusters=country, n_boot=200, rng=0)
    assert 0 < res.n_valid < 200
    assert np.isfinite([res.lower, res.upper]).all()


def test_corp_components_use_floored_basic_intervals():
    p, y, country = _clustered(4)
    res = bootstrap_metric(p, y, "mcb_brier", clusters=country, n_boot=300, rng=1)
    q_lo, q_hi = np.quantile(res.replicates, [0.05, 0.95])
    assert res.lower == pytest.approx(max(0.0, 2 * res.estimate - q_hi))
    assert res.upper == pytest.approx(max(0.0, 2 * res.estimate - q_lo))
    plain = bootstrap_metric(p, y, "brier", clusters=country, n_boot=300, rng=1)
    assert (plain.lower, plain.upper) == pytest.approx(
        tuple(np.quantile(plain.replicates, [0.05, 0.95]))
    )


def test_bootstrap_interval_methods():
    reps = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    assert bootstrap_interval(reps, 2.0, 0.5) == pytest.approx((1.75, 3.25))
    assert bootstrap_interval(reps, 2.0, 0.5, method="basic") == pytest.approx((0.75, 2.25))
    assert bootstrap_interval(reps, 0.5, 0.5, method="basic", floor=0.0) == (0.0, 0.0)
    with pytest.raises(CalibrationInputError, match="method"):
        bootstrap_interval(reps, 2.0, method="bca")


def test_bad_inputs():
    p, y, country = _clustered(5, countries=5, years=4)
    with pytest.raises(CalibrationInputError, match="clusters has 3 values"):
        bootstrap_metric(p, y, "brier", clusters=country[:3])
    with pytest.raises(CalibrationInputError, match="clusters has missing"):
        bootstrap_metric(p, y, "brier", clusters=[None] * p.size)
    with pytest.raises(CalibrationInputError, match="unknown metric"):
        bootstrap_metric(p, y, "ece")
    with pytest.raises(CalibrationInputError, match="n_boot"):
        bootstrap_metric(p, y, "brier", n_boot=0)
    with pytest.raises(CalibrationInputError, match="reference forecast named"):
        bootstrap_metric(p, y, "brier_skill_climatology")
    clim = np.full(p.size, y.mean())
    res = bootstrap_metric(p, y, "brier_skill_clim", references={"clim": clim}, n_boot=10)
    assert res.estimate == pytest.approx(1 - np.mean((p - y) ** 2) / np.mean((clim - y) ** 2))
