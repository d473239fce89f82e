"""CORP decomposition: closed forms, model-diagnostics, the identity, the fast kernel."""

from __future__ import annotations

import numpy as np
import pytest
from model_diagnostics.scoring import LogLoss, SquaredError, decompose
from sklearn.isotonic import IsotonicRegression

from r2p_models.calibration import (
    NoEventsError,
    brier_score,
    corp_decomposition,
    corp_table,
    log_score,
    pav_recalibrate,
)
from r2p_models.calibration._kernels import PreparedCases, corp_kernel


def _data(seed: int, n: int = 4000, ties: bool = False):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 10, n)
    if ties:
        p = np.round(p, 2)
    y = (rng.random(n) < np.clip(1.4 * p, 0, 1)).astype(float)  # miscalibrated
    return p, y


def test_closed_form_small_case():
    # PAV pools the violating middle pair: recalibrated = [0, 0.5, 0.5, 1]
    p, y = [0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1]
    d = corp_decomposition(p, y)
    assert d.mean == pytest.approx(0.2, abs=1e-15)
    assert d.mcb == pytest.approx(0.2 - 0.125, abs=1e-15)
    assert d.dsc == pytest.approx(0.25 - 0.125, abs=1e-15)
    assert d.unc == pytest.approx(0.25, abs=1e-15)
    np.testing.assert_allclose(pav_recalibrate(p, y), [0, 0.5, 0.5, 1], atol=1e-15)
    lg = corp_decomposition(p, y, score="log")
    s_pav = -(2 * np.log(0.5)) / 4  # the pooled pair; the ends score 0
    assert lg.mcb == pytest.approx(lg.mean - s_pav, abs=1e-15)
    assert lg.unc == pytest.approx(np.log(2), abs=1e-15)
    assert lg.dsc == pytest.approx(np.log(2) - s_pav, abs=1e-15)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("score", "fn"), [("brier", SquaredError()), ("log", LogLoss())])
def test_matches_model_diagnostics(score, fn, ties):
    p, y = _data(1, ties=ties)
    d = corp_decomposition(p, y, score=score)
    ref = decompose(y_obs=y, y_pred=p, scoring_function=fn).row(0, named=True)
    assert d.mean == pytest.approx(ref["score"], abs=1e-9)
    assert d.mcb == pytest.approx(ref["miscalibration"], abs=1e-9)
    assert d.dsc == pytest.approx(ref["discrimination"], abs=1e-9)
    assert d.unc == pytest.approx(ref["uncertainty"], abs=1e-9)


def test_identity_holds_exactly_and_components_are_signed():
    for seed in range(5):
        p, y = _data(seed, n=800, ties=seed % 2 == 0)
        for d in corp_table(p, y).itertuples():
            assert d.mcb - d.dsc + d.unc == pytest.approx(d.mean, rel=0, abs=1e-15)
            assert d.mcb >= -1e-15 and d.dsc >= -1e-15
    p, y = _data(3)
    assert corp_decomposition(p, y).mean == pytest.approx(brier_score(p, y), abs=1e-15)
    assert corp_decomposition(p, y, score="log").mean == pytest.approx(log_score(p, y), abs=1e-14)


def test_calibrated_recalibration_has_no_miscalibration():
    p, y = _data(4, ties=True)
    r = pav_recalibrate(p, y)
    d = corp_decomposition(r, y)
    assert d.mcb == pytest.approx(0, abs=1e-15)
    # recalibrated forecasts keep all the discrimination
    assert d.dsc == pytest.approx(corp_decomposition(p, y).dsc, abs=1e-12)


def test_certain_forecasts_stay_finite():
    p = np.array([0.0, 0.0, 0.3, 1.0, 1.0])
    y = np.array([0, 1, 0, 1, 1])
    d = corp_decomposition(p, y, score="log")
    assert np.isfinite([d.mean, d.mcb, d.dsc, d.unc]).all()
    assert d.mcb - d.dsc + d.unc == pytest.approx(d.mean, abs=1e-13)
    assert d.mcb > 0


def test_pav_matches_sklearn_isotonic():
    p, y = _data(5, ties=True)
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y)
    np.testing.assert_allclose(pav_recalibrate(p, y), iso.predict(p), atol=1e-15)


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_kernel_equals_duplicated_data(ties):
    """The bootstrap kernel (weights = country draw counts) equals model-diagnostics on
    the correspondingly duplicated cases."""
    p, y = _data(6, n=1500, ties=ties)
    rng = np.random.default_rng(0)
    w = rng.integers(0, 3, size=p.size)
    cases = PreparedCases(p, y)
    ones = corp_kernel(cases, cases.ones())
    ref = corp_decomposition(p, y)
    assert ones["mcb_brier"][0] == pytest.approx(ref.mcb, abs=1e-12)
    assert ones["dsc_brier"][0] == pytest.approx(ref.dsc, abs=1e-12)
    W = w[cases.order][None, :].astype(float)
    got = corp_kernel(cases, W)
    idx = np.repeat(np.arange(p.size), w)
    for score, fn in (("brier", SquaredError()), ("log", LogLoss())):
        exp = decompose(y_obs=y[idx], y_pred=p[idx], scoring_function=fn).row(0, named=True)
        assert got[f"mcb_{score}"][0] == pytest.approx(exp["miscalibration"], abs=1e-9)
        assert got[f"dsc_{score}"][0] == pytest.approx(exp["discrimination"], abs=1e-9)
        assert got[f"unc_{score}"][0] == pytest.approx(exp["uncertainty"], abs=1e-9)


def test_no_events_is_an_error():
    with pytest.raises(NoEventsError, match="needs at least one event"):
        corp_decomposition([0.1, 0.2, 0.3], [0, 0, 0])
