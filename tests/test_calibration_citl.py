"""Calibration in the large: observed vs expected events, exact Poisson-binomial test."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest, poisson

from r2p_models.calibration import (
    TABLE_COLUMNS,
    CalibrationInputError,
    calibration_in_the_large,
    miscalibration_test,
    reliability,
    score_table,
)
from r2p_models.calibration.citl import poisson_binomial_pmf

TINY = np.array([0.1, 0.35, 0.6, 0.02, 0.9])


def _enumerated_pmf(p: np.ndarray) -> np.ndarray:
    """Distribution of the event count by listing all 2**n outcome vectors."""
    pmf = np.zeros(p.size + 1)
    for y in itertools.product([0, 1], repeat=p.size):
        y = np.array(y)
        pmf[y.sum()] += np.prod(np.where(y == 1, p, 1 - p))
    return pmf


def test_pmf_equals_enumeration():
    exact = _enumerated_pmf(TINY)
    np.testing.assert_allclose(poisson_binomial_pmf(TINY), exact, rtol=0, atol=1e-15)
    np.testing.assert_allclose(poisson_binomial_pmf(TINY, kmax=2), exact[:3], rtol=0, atol=1e-15)
    # more cases than a block of the recursion, with certain and impossible cases
    rng = np.random.default_rng(3)
    p = np.r_[rng.random(15), 0.0, 1.0]
    np.testing.assert_allclose(poisson_binomial_pmf(p), _enumerated_pmf(p), atol=1e-15)


@pytest.mark.parametrize("observed", range(TINY.size + 1))
def test_p_value_equals_enumeration(observed):
    pmf = _enumerated_pmf(TINY)
    expected_p = pmf[pmf <= pmf[observed] * (1 + 1e-7)].sum()  # counts no more likely
    y = np.r_[np.ones(observed), np.zeros(TINY.size - observed)]
    r = calibration_in_the_large(TINY, y)
    assert r.observed == observed
    assert r.expected == pytest.approx(1.97, abs=1e-15)
    assert r.ratio == pytest.approx(observed / 1.97, abs=1e-15)
    assert r.p_value == pytest.approx(min(1.0, expected_p), abs=1e-14)
    assert r.n == 5


@pytest.mark.parametrize("k", [0, 3, 5, 12, 20, 31])
def test_equal_forecasts_match_scipy_binomtest(k):
    y = np.r_[np.ones(k), np.zeros(400 - k)]
    r = calibration_in_the_large(np.full(400, 0.03), y)
    assert r.p_value == pytest.approx(binomtest(k, 400, 0.03).pvalue, rel=1e-7)


@pytest.mark.parametrize("observed", [0, 1, 18, 250])
def test_interval_is_the_exact_poisson_interval(observed):
    expected = 27.1
    p = np.full(1000, expected / 1000)
    y = np.r_[np.ones(observed), np.zeros(1000 - observed)]
    r = calibration_in_the_large(p, y, level=0.9)
    # Garwood: the means at which observing `observed` is in a 5% tail
    if observed:
        assert poisson.sf(observed - 1, r.lower * expected) == pytest.approx(0.05, rel=1e-9)
    else:
        assert r.lower == 0
    assert poisson.cdf(observed, r.upper * expected) == pytest.approx(0.05, rel=1e-9)
    assert r.level == 0.9


def test_describe_in_plain_language():
    p = np.full(1000, 0.0271)
    y = np.r_[np.ones(18), np.zeros(982)]
    r = calibration_in_the_large(p, y)
    # Garwood limits of the mean of a Poisson count of 18, found by root finding
    low_mean = brentq(lambda m: poisson.sf(17, m) - 0.05, 1, 18)
    high_mean = brentq(lambda m: poisson.cdf(18, m) - 0.05, 18, 60)
    pval = binomtest(18, 1000, 0.0271).pvalue
    assert r.describe() == (
        f"observed 18 events vs 27.1 expected: forecasts ran 1.5x too high "
        f"(90% {27.1 / high_mean:.1f}-{27.1 / low_mean:.1f}; p = {pval:.2g})"
    )
    assert "too low" in calibration_in_the_large(p, np.r_[np.ones(50), np.zeros(950)]).describe()
    assert "about as many as forecast" in calibration_in_the_large(
        p, np.r_[np.ones(27), np.zeros(973)]).describe()
    assert calibration_in_the_large([0.2, 0.3], [0, 0]).describe().startswith(
        "observed 0 events vs 0.5 expected: forecasts ran high")


def test_edge_cases():
    r = calibration_in_the_large([0.0, 0.0], [0, 1])
    assert r.ratio == np.inf and r.p_value == 0.0
    r = calibration_in_the_large([0.0, 0.0], [0, 0])
    assert np.isnan(r.ratio) and r.p_value == 1.0
    r = calibration_in_the_large([1.0, 1.0, 0.5], [1, 1, 0])
    assert r.p_value == pytest.approx(1.0)  # P(2) = P(3) = 0.5
    with pytest.raises(CalibrationInputError, match="p has 3 values but y has 2"):
        calibration_in_the_large([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(CalibrationInputError, match="level must be in"):
        calibration_in_the_large([0.1], [0], level=90)


def test_large_input_is_fast_and_exact_at_the_mode():
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 49.5, 100_000)
    y = (rng.random(p.size) < p).astype(int)
    r = calibration_in_the_large(p, y)
    pmf = poisson_binomial_pmf(p)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert r.p_value == pytest.approx(pmf[pmf <= pmf[r.observed] * (1 + 1e-7)].sum(), abs=1e-12)


def test_reliability_reports_it_beside_the_corp_test():
    rng = np.random.default_rng(5)
    p = rng.beta(1, 20, 500)
    y = (rng.random(500) < p).astype(int)
    rel = reliability(p, y, n_resamples=20)
    assert rel.citl == calibration_in_the_large(p, y)


def _cases(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    frame = pd.DataFrame({
        "country": rng.integers(0, 40, n).astype(str),
        "origin_year": rng.integers(2000, 2010, n),
        "crime": np.where(rng.random(n) < 0.5, "genocide", "war_crimes"),
        "p": rng.beta(1, 15, n),
    })
    frame["outcome"] = (rng.random(n) < 0.8 * frame["p"]).astype(int)
    return frame


def test_score_table_columns():
    cases = _cases()
    tab = score_table(cases, by=["crime"], metrics=["brier", "auc"], n_boot=20)
    assert list(tab.columns) == ["crime", *TABLE_COLUMNS]
    for col in ("expected", "oe_ratio", "oe_lo", "oe_hi", "citl_p"):
        assert col in TABLE_COLUMNS
    for crime, part in cases.groupby("crime"):
        r = calibration_in_the_large(part["p"], part["outcome"], level=0.9)
        rows = tab[tab["crime"] == crime]
        assert len(rows) == 2  # the same group-level values on each metric row
        for _, row in rows.iterrows():
            assert row["expected"] == pytest.approx(r.expected)
            assert row["oe_ratio"] == pytest.approx(r.ratio)
            assert row["oe_lo"] == pytest.approx(r.lower)
            assert row["oe_hi"] == pytest.approx(r.upper)
            assert row["citl_p"] == pytest.approx(r.p_value)
            assert row["events"] == r.observed


# --- size and power by simulation, with known truth -------------------------------------

def _rejection_rate(truth, forecast, sims, rng, test) -> float:
    hits = 0
    for _ in range(sims):
        y = (rng.random(truth.size) < truth).astype(float)
        hits += test(forecast, y) <= 0.05
    return hits / sims


@pytest.mark.slow
def test_size_and_power_for_rare_events():
    rng = np.random.default_rng(2026)
    citl = lambda p, y: calibration_in_the_large(p, y).p_value  # noqa: E731
    truth = rng.beta(0.5, 49.5, 3000)  # mean 1%: about 30 events
    # size: calibrated forecasts (discrete test: at most 5%, a little under)
    size = _rejection_rate(truth, truth, 2000, rng, citl)
    assert 0.025 <= size <= 0.06
    # power: forecasts expecting 34% too many events
    over = np.minimum(1.34 * truth, 1.0)
    power = _rejection_rate(truth, over, 1000, rng, citl)
    corp = _rejection_rate(truth, over, 200, rng, lambda p, y: miscalibration_test(
        p, y, n_resamples=99, rng=rng).p_value)
    # Normal approximation: reject below E_f - 1.96 sd_f with E_f ~ 40, truth ~ Poisson(30)
    assert 0.28 <= power <= 0.48
    assert corp <= 0.06 and power >= 5 * max(corp, 0.01)
    # with 10,000 cases (about 100 events) the same error is found most of the time
    truth = rng.beta(0.5, 49.5, 10_000)
    assert _rejection_rate(truth, np.minimum(1.34 * truth, 1.0), 500, rng, citl) >= 0.8
    # forecasts 1.7x too high (as the peer's) on 3,000 cases
    assert _rejection_rate(truth[:3000], 1.7 * truth[:3000], 500, rng, citl) >= 0.85
