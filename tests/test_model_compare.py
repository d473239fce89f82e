"""Pointwise log-likelihood and PSIS-LOO for variant comparison."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pymc as pm
import pytest
from scipy.stats import bernoulli

from r2p_models.config import ModelConfig
from r2p_models.model import build_design, build_model
from r2p_models.model.compare import loo, pointwise_loglik
from r2p_models.model.design import DesignError
from r2p_models.model.fit import KEEP, ConvergenceReport, assemble
from r2p_models.model.toy import toy_panel


def _prior_fit(variant: str):
    panel, _ = toy_panel(12, n_countries=12, n_years=7)
    design = build_design(panel, horizon=1)
    model = build_model(design, variant)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=120, random_seed=4).prior
    keep = [v for v in KEEP if v in prior]
    report = ConvergenceReport(ok=True, max_rhat=1.0, min_ess_bulk=1e3, min_ess_tail=1e3,
                               divergences=0, worst={}, sampler="prior", sampling_seconds=1.0,
                               compile_seconds=0.0)
    cfg = ModelConfig(horizon=1, variant=variant)
    return assemble(az.InferenceData(posterior=prior[keep]), report, design, cfg, panel), panel


@pytest.mark.parametrize("variant", ["hierarchical", "pooled"])
def test_pointwise_loglik_agrees_with_the_forecast_path(variant):
    fm, panel = _prior_fit(variant)
    design = fm.design
    ll = pointwise_loglik(fm, design)
    ci, ti, ki = np.nonzero(design.w > 0)
    assert ll.sizes == {"chain": 1, "draw": 120, "obs": len(ci)}
    t = 3
    year = int(design.years[t])
    p = fm.predict(panel, year).transpose("country", "crime", "draw").values  # C, K, S
    sel = ti == t
    expected = bernoulli.logpmf(design.y[ci[sel], t, ki[sel]][:, None], p[ci[sel], ki[sel]])
    np.testing.assert_allclose(ll.values[0][:, sel], expected.T, rtol=1e-10)
    assert np.all(ll.values < 0)


def test_loo_runs_on_thinned_draws():
    fm, _ = _prior_fit("hierarchical")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = loo(fm, max_draws=60)
    assert np.isfinite(res.elpd_loo) and res.n_samples == 60


def test_pointwise_loglik_refuses_a_design_from_a_reordered_or_changed_panel():
    fm, panel = _prior_fit("hierarchical")
    n = panel.sizes["country"]
    reordered = build_design(panel.isel(country=list(range(n))[::-1]), horizon=1)
    # (regions are taken in first-seen order, so reversing the countries moves them too)
    with pytest.raises(DesignError, match=r"(region|country) axis .*difference at position 0"):
        pointwise_loglik(fm, reordered)
    fewer = build_design(panel.isel(country=slice(1, None)), horizon=1)
    with pytest.raises(DesignError, match="axis is not the fitted model's"):
        pointwise_loglik(fm, fewer)
    # the same panel rebuilt (as after load_model) is accepted
    assert pointwise_loglik(fm, build_design(panel, horizon=1)).sizes["draw"] == 120
