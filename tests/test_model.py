"""The model: likelihood, variants, convergence checks, fit/predict/save/load (small, fast)."""

from __future__ import annotations

import json
import warnings

import arviz as az
import h5py
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy.special import expit, logit
from scipy.stats import bernoulli

from r2p_models.config import ModelConfig
from r2p_models.model import (
    ConvergenceError,
    ConvergenceWarning,
    ModelFileError,
    build_design,
    build_model,
    check_convergence,
    fit,
    load_model,
)
from r2p_models.model.build import usable_span
from r2p_models.model.loglik import bernoulli_logit_loglik
from r2p_models.model.toy import toy_panel


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
def test_loglik_op_value_and_gradient(mode):
    rng = np.random.default_rng(1)
    eta0 = rng.normal(-3, 3, size=200)
    y = (rng.random(200) < expit(eta0)).astype(float)
    w = (rng.random(200) < 0.8).astype(float)
    eta = pt.dvector("eta")
    ll = bernoulli_logit_loglik(eta, y, w)
    f = pytensor.function([eta], [ll, pytensor.grad(ll, eta)], mode=mode)
    value, grad = f(eta0)
    expected = np.sum(w * bernoulli.logpmf(y, expit(eta0)))
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, w * (y - expit(eta0)), rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def toy():
    return toy_panel(0, n_countries=18, n_years=10)


def test_model_likelihood_equals_bernoulli_of_usable_cells(toy):
    panel, _ = toy
    design = build_design(panel, horizon=1)
    model = build_model(design)
    point = model.initial_point()
    rng = np.random.default_rng(2)
    point = {k: v + rng.normal(0, 0.3, size=np.shape(v)) for k, v in point.items()}
    outs = model.replace_rvs_by_values([model[n] for n in ("alpha", "beta", "beta_missing",
                                                          "a_region", "a_country")])
    det = model.compile_fn(outs, point_fn=False, inputs=model.value_vars,
                           on_unused_input="ignore")
    alpha, beta, beta_m, a_reg, a_cty = det(*[point[v.name] for v in model.value_vars])
    eta = (alpha + a_reg[design.region_idx] + a_cty)[:, None, :] \
        + np.einsum("ctj,kj->ctk", design.x, beta) \
        + np.einsum("ctf,kf->ctk", design.flags, beta_m)
    used = design.w > 0
    expected = bernoulli.logpmf(design.y[used], expit(eta[used])).sum()
    loglik = model.compile_fn(model.potentiallogp, point_fn=False, inputs=model.value_vars,
                              on_unused_input="ignore")
    assert float(loglik(*[point[v.name] for v in model.value_vars])) == pytest.approx(expected)


def test_variants_have_the_structure_they_claim(toy):
    panel, _ = toy
    design = build_design(panel, horizon=1)
    names = {v: {x.name for x in build_model(design, v).deterministics}
             for v in ("hierarchical", "pooled", "no_country", "independent")}
    assert {"a_region", "a_country", "corr_country"} <= names["hierarchical"]
    assert not {"a_region", "a_country"} & names["pooled"]
    assert "a_region" in names["no_country"] and "a_country" not in names["no_country"]
    indep = build_model(design, "independent")
    assert "mu" not in {x.name for x in indep.free_RVs}  # no shared indicator effect
    corr = pm.draw(indep["corr_country"])
    np.testing.assert_array_equal(corr, np.eye(len(design.crimes)))
    with pytest.raises(ValueError, match="variant"):
        build_model(design, "random_forest")


def test_un_mapping_shrinks_off_target_effects(toy):
    """An indicator mapped only to genocide/ethnic cleansing is tightly shrunk elsewhere."""
    panel, _ = toy
    design = build_design(panel, horizon=1)
    model = build_model(design)
    draws = pm.draw(model["beta"], draws=4000, random_seed=3)  # prior draws
    j = list(design.indicators).index("discrimination")
    rel = design.relevance[:, j]
    assert rel.tolist() == [True, False, True, False]
    sd = draws[:, :, j].std(axis=0)
    assert np.all(sd[~rel] < 0.12) and np.all(sd[rel] > 0.6)


@pytest.mark.parametrize("variant", ["hierarchical", "independent"])
def test_one_crime_model_has_one_effect_per_term_and_a_fixed_region_scale(variant):
    """With one crime (the EWP panel) nothing is left that only the prior identifies."""
    from r2p_models.model.build import Priors

    panel, _ = toy_panel(4, n_countries=12, n_years=8, crimes=("crimes_against_humanity",))
    design = build_design(panel, horizon=1)
    p = Priors(learn_scale=False)
    model = build_model(design, variant, p)
    free = {v.name for v in model.free_RVs}
    assert "mu" not in free and "sigma_region" not in free and "sigma_beta" not in free
    draws = pm.draw([model["beta"], model["sigma_region"], model["a_region"]], draws=20000,
                    random_seed=11)
    beta, sigma, a_region = draws
    rel = design.relevance[0]
    # the marginal prior of "shared effect + crime deviation": Normal(0, hypot(mu_sd, tau))
    sd = beta[:, 0, :].std(axis=0)
    # (the independent variant has no shared effect: Normal(0, mu_sd))
    expected = np.hypot(p.mu_sd, p.tau) if variant == "hierarchical" else p.mu_sd
    np.testing.assert_allclose(sd[rel], expected, rtol=0.04)
    np.testing.assert_allclose(sd[~rel], p.off_sd, rtol=0.04)
    np.testing.assert_array_equal(sigma, p.region_sd)
    # zero-sum region effects of scale region_sd: each has sd region_sd * sqrt(1 - 1/R)
    R = len(design.regions)
    np.testing.assert_allclose(a_region[:, :, 0].sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(a_region[:, :, 0].std(axis=0), p.region_sd * np.sqrt(1 - 1 / R),
                               rtol=0.04)


def test_complete_indicators_need_no_missingness_effects():
    panel, _ = toy_panel(8, n_countries=10, n_years=6, missing_rate=0.0)
    design = build_design(panel, horizon=1)
    assert design.flag_names == () and design.flags.shape[2] == 0
    assert "beta_missing" not in {v.name for v in build_model(design).deterministics}


def test_mutable_outcome_has_usable_span_shape(toy):
    panel, _ = toy
    design = build_design(panel, horizon=2)
    model = build_model(design, mutable_outcome=True)
    span = usable_span(design)
    assert model["y"].get_value().shape == design.y[:, span].shape


def _idata(draws: np.ndarray, diverging: int = 0) -> az.InferenceData:
    div = np.zeros(draws.shape[:2], dtype=bool)
    div.flat[:diverging] = True
    return az.from_dict(posterior={"theta": draws}, sample_stats={"diverging": div})


def test_convergence_check_passes_iid_and_fails_on_problems():
    rng = np.random.default_rng(4)
    good = rng.normal(size=(4, 1000, 3))
    rep = check_convergence(_idata(good), sampler="test")
    assert rep.ok and rep.max_rhat < 1.01 and rep.min_ess_bulk > 400
    shifted = good.copy()
    shifted[0] += 1.0  # one chain elsewhere: r_hat >> 1
    rep = check_convergence(_idata(shifted), sampler="test")
    assert not rep.ok and rep.max_rhat > 1.01 and "theta" in rep.worst["rhat"]
    sticky = np.repeat(rng.normal(size=(4, 50, 3)), 20, axis=1)  # ESS ~ 200
    rep = check_convergence(_idata(sticky), sampler="test")
    assert not rep.ok and rep.min_ess_bulk < 400
    rep = check_convergence(_idata(good, diverging=3), sampler="test")
    assert not rep.ok and rep.divergences == 3
    assert not check_convergence(_idata(good), sampler="advi", preview=True).ok
    one_chain = check_convergence(_idata(good[:1]), sampler="test")
    assert not one_chain.ok and "2 chains" in one_chain.problems[0]


def test_convergence_check_skips_constant_elements_without_warnings():
    # e.g. the unit diagonal of corr_country: no r_hat, and no numpy warning in the logs
    rng = np.random.default_rng(5)
    draws = rng.normal(size=(4, 1000, 3))
    draws[:, :, 1] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = check_convergence(_idata(draws), sampler="test")
    assert rep.ok and np.isfinite(rep.max_rhat) and rep.max_rhat < 1.01
    assert "theta[1]" not in rep.worst.values()


@pytest.fixture(scope="module")
def fitted(toy):
    panel, _ = toy
    # the joint model, whose country effects an unknown country draws from
    cfg = ModelConfig(variant="hierarchical", sampler="pymc", chains=2, draws=150, tune=150,
                      horizon=1, seed=7, retries=0, extend=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(panel, cfg)


def test_predict_shape_coords_and_meaning(toy, fitted):
    panel, _ = toy
    p = fitted.predict(panel, 2006)
    assert p.dims == ("country", "crime", "draw")
    assert p.sizes == {"country": 18, "crime": 4, "draw": 300}
    assert ((p > 0) & (p < 1)).all()
    assert p.attrs["target_start"] == 2007 and p.attrs["target_end"] == 2007
    on = panel["onset"].sel(year=2006).values
    og = panel["ongoing"].sel(year=2006).values
    np.testing.assert_array_equal(p["at_risk"].values, (og == 0) & (on != 1))
    # the log-odds terms add up to the prediction
    terms = fitted.log_odds_terms(panel, 2006)
    eta = (terms["intercept"] + terms["region"] + terms["country_effect"]
           + terms["indicator_term"].sum("indicator") + terms["missing_term"].sum("flag"))
    np.testing.assert_allclose(expit(eta.transpose("country", "crime", "draw").values),
                               p.values, rtol=1e-12)
    with pytest.raises(ValueError, match="horizon"):
        fitted.predict(panel, 2006, horizon=2)


def test_unknown_country_gets_repeatable_population_effect(toy, fitted):
    panel, _ = toy
    renamed = panel.assign_coords(country=[f"N{i}" if i < 2 else c
                                           for i, c in enumerate(panel.country.values)])
    a = fitted.predict(renamed, 2006)
    b = fitted.predict(renamed, 2006)
    np.testing.assert_array_equal(a.values, b.values)
    known = fitted.predict(panel, 2006)
    np.testing.assert_array_equal(a.values[2:], known.values[2:])
    assert not np.allclose(a.values[:2], known.values[:2])


def test_raw_scale_coefficients_reproduce_log_odds(toy, fitted):
    _panel, _ = toy
    raw = fitted.coefficients("raw")
    std = fitted.coefficients("standardised")
    const = fitted.idata.constant_data
    x = xr.DataArray(np.array([0.3, -1.2, 2.0, 0.5]), dims="indicator",
                     coords={"indicator": const.indicator.values})
    z = (x - const["x_mean"]) / const["x_sd"]
    flags0 = -const["flag_mean"]  # all observed
    lhs = raw["alpha"] + (raw["beta"] * x).sum("indicator")
    rhs = std["alpha"] + (std["beta"] * z).sum("indicator") \
        + (fitted.idata.posterior["beta_missing"] * flags0).sum("flag")
    np.testing.assert_allclose(lhs.values, rhs.values, rtol=1e-10)


def test_save_load_round_trip_and_refusals(toy, fitted, tmp_path):
    panel, _ = toy
    path = fitted.save(tmp_path / "model.nc")
    loaded = load_model(path, fitted.meta["config_hash"], expected_config=fitted.config)
    np.testing.assert_array_equal(loaded.predict(panel, 2005).values,
                                  fitted.predict(panel, 2005).values)
    assert loaded.diagnostics == fitted.diagnostics
    assert loaded.meta["data_hash"] == panel.attrs["data_hash"]
    assert loaded.meta["seed"] == 7 and loaded.config == fitted.config
    # no per-observation quantity in the file
    with h5py.File(path) as f:
        sizes = {g: [f[g][v].shape for v in f[g]] for g in f}
    assert "log_likelihood" not in sizes and "observed_data" not in sizes
    assert max(np.prod(s) for shapes in sizes.values() for s in shapes) <= 2 * 150 * 18 * 4
    with pytest.raises(ModelFileError, match="another config"):
        load_model(path, "0" * 64)
    with pytest.raises(ModelFileError, match="horizon = 1"):
        load_model(path, expected_config=ModelConfig(horizon=2, sampler="pymc", chains=2,
                                                     draws=150, tune=150, seed=7,
                                                     retries=0, extend=0))
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ModelFileError, match="newer"):
        load_model(path)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.nc")
    (tmp_path / "junk.nc").write_text("not a model")
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path / "junk.nc")


def test_failed_check_is_visible_after_a_retry_with_more_draws(toy, caplog):
    panel, _ = toy
    cfg = ModelConfig(sampler="pymc", chains=2, draws=20, tune=20, horizon=1, seed=3)
    with pytest.warns(ConvergenceWarning, match="NOT CONVERGED"):
        fm = fit(panel, cfg)
    # retried once (the default) with twice the draws and the next seed, then reported
    assert cfg.retries == 1 and fm.meta["attempts"] == 2
    assert fm.meta["draws_used"] == 40 and fm.meta["seed_used"] == 4
    assert fm.idata.posterior.sizes["draw"] == 40
    assert any("retry 1 of 1 with 40 draws" in r.getMessage() for r in caplog.records)
    assert fm.config == cfg  # the settings asked for; what was used is in meta
    assert not fm.diagnostics.ok and fm.status.startswith("NOT CONVERGED")
    assert fm.predict(panel, 2005).attrs["model_status"].startswith("NOT CONVERGED")
    with pytest.raises(ConvergenceError):
        fm.check(raise_on_fail=True)


def test_numpyro_sampler_without_numpyro_says_how_to_install_it(toy, monkeypatch):
    import sys

    from r2p_models.model import DesignError

    panel, _ = toy
    monkeypatch.setitem(sys.modules, "numpyro", None)  # import numpyro -> ImportError
    monkeypatch.setenv("XLA_FLAGS", "")  # fit would set it for JAX; keep the session's env
    cfg = ModelConfig(sampler="numpyro", chains=2, draws=10, tune=10, horizon=1)
    with pytest.raises(DesignError, match=r"needs the packages jax and numpyro.*\[numpyro\]"):
        fit(panel, cfg)


def test_intercept_prior_centres_on_base_rate(toy):
    panel, _ = toy
    design = build_design(panel, horizon=1)
    model = build_model(design)
    alpha_m, alpha, s_c, s_r = pm.draw([model["alpha_m"], model["alpha"], model["sigma_country"],
                                        model["sigma_region"]], draws=4000, random_seed=5)
    # alpha is the conditional intercept: alpha_m less half the effects' variance
    R = len(design.regions)
    np.testing.assert_allclose(alpha, alpha_m - 0.5 * (s_c**2 + s_r[:, None] ** 2 * (1 - 1 / R)))
    mean = alpha_m.mean(axis=0)
    events = (design.y * design.w).sum(axis=(0, 1))
    n = design.w.sum(axis=(0, 1))
    np.testing.assert_allclose(mean, logit((events + 0.5) / (n + 1)), atol=0.1)
    assert json.loads(json.dumps(design.counts.events)) == design.counts.events


def test_country_effects_have_the_lkj_and_gamma_priors(toy):
    """The country effects' correlation is built from partial correlations; its prior must
    still be LKJ(eta), checked against PyMC's own LKJ sampler and the closed-form marginal
    ((r + 1) / 2 ~ Beta(eta - 1 + K / 2) for every off-diagonal element)."""
    from scipy import stats

    panel, _ = toy
    design = build_design(panel, horizon=1)
    K = len(design.crimes)
    assert K == 4
    model = build_model(design)
    corr, sd, a = pm.draw([model["corr_country"], model["sigma_country"], model["a_country"]],
                          draws=20000, random_seed=11)
    np.testing.assert_allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(corr).min() > 0
    b = 2.0 - 1 + K / 2  # Priors().lkj_eta = 2
    for i, j in zip(*np.tril_indices(K, -1), strict=True):
        assert stats.kstest((corr[:, i, j] + 1) / 2, stats.beta(b, b).cdf).pvalue > 1e-3
    ref = pm.draw(pm.LKJCorr.dist(n=K, eta=2.0, return_matrix=True), draws=20000,
                  random_seed=12)
    # the joint: determinants (a function of all six correlations) agree in distribution
    assert stats.ks_2samp(np.linalg.det(corr), np.linalg.det(ref)).pvalue > 1e-3
    # scales Gamma(2, 2 / 0.6); effects with covariance diag(sd) corr diag(sd)
    assert stats.kstest(sd.ravel(), stats.gamma(2, scale=0.6 / 2).cdf).pvalue > 1e-3
    z = a[:, 0, :] / sd  # one country's effects, standardised
    np.testing.assert_allclose(np.corrcoef(z.T), corr.mean(axis=0), atol=0.03)


def test_bayes_missing_mode_has_one_latent_per_missing_used_value():
    panel, _ = toy_panel(9, n_countries=10, n_years=6, missing_rate=0.2)
    design = build_design(panel, horizon=1, missing="bayes")
    model = build_model(design)
    span = usable_span(design)
    used_cy = design.w[:, span].max(axis=2) > 0
    n_missing = int((design.missing[:, span] & used_cy[:, :, None]).sum())
    assert n_missing > 0
    assert model["x_missing"].type.shape == (n_missing,) or \
        pm.draw(model["x_missing"]).shape == (n_missing,)
    # latent values start at (and are centred on) the country's mean of observed values
    mean = pm.draw(model["x_missing"], draws=2000, random_seed=1).mean(axis=0)
    c, _t, j = np.nonzero(design.missing[:, span] & used_cy[:, :, None])
    np.testing.assert_allclose(mean, design.impute_mean[c, j], atol=0.1)
    assert np.isfinite(model.compile_logp()(model.initial_point()))


@pytest.mark.parametrize("variant", ["pooled", "hierarchical"])
def test_learned_effect_scale_gives_the_scale_mixture_prior(variant):
    """A learned effect scale: beta = sigma_beta * z with sigma_beta ~ HalfNormal(s0).

    The marginal prior of each mapped effect is then a scale mixture of normals with
    E|beta| = s0 * E|z| * E(sigma_beta / s0) = s0 * (2 / pi) and sd = s0 (closed forms),
    and two effects of one crime share the scale: with u, z1, z2 standard normal,
    corr(|beta_1|, |beta_2|) = (2/pi - 4/pi**2) / (1 - 4/pi**2) = 0.389, where effects of
    fixed scale are uncorrelated.
    """
    from r2p_models.model.build import Priors

    panel, _ = toy_panel(4, n_countries=12, n_years=8, crimes=("crimes_against_humanity",))
    design = build_design(panel, horizon=1)
    p = Priors()
    model = build_model(design, variant, p)
    assert "sigma_beta" in {v.name for v in model.free_RVs}
    beta, = pm.draw([model["beta"]], draws=40000, random_seed=5)
    beta = beta[:, 0, :]
    rel = design.relevance[0] if variant != "pooled" else np.ones(beta.shape[1], bool)
    s0 = np.hypot(p.mu_sd, p.tau) if variant == "hierarchical" else p.mu_sd
    mapped = beta[:, rel]
    np.testing.assert_allclose(np.abs(mapped).mean(axis=0), s0 * 2 / np.pi, rtol=0.04)
    np.testing.assert_allclose(mapped.std(axis=0), s0, rtol=0.04)
    r = np.corrcoef(np.abs(mapped[:, 0]), np.abs(mapped[:, 1]))[0, 1]
    expected = (2 / np.pi - 4 / np.pi**2) / (1 - 4 / np.pi**2)
    assert abs(r - expected) < 0.03
    if variant == "hierarchical":
        np.testing.assert_allclose(beta[:, ~rel].std(axis=0), p.off_sd, rtol=0.04)


@pytest.mark.parametrize("variant", ["hierarchical", "independent"])
def test_the_fused_likelihood_is_evaluated_once_per_gradient(toy, variant):
    """The compiled logp + gradient holds one log-likelihood node, not one per path.

    A variance written as ``sigma_country**2`` (``sigma = sqrt(diag(chol @ chol.T))``)
    made PyTensor inline an ``AllocDiag`` gradient after its merge pass, and the whole
    likelihood, the most expensive node, was then computed twice per gradient.
    """
    import pytensor

    from r2p_models.model.loglik import BernoulliLogitLoglik

    panel, _ = toy
    model = build_model(build_design(panel, horizon=1), variant)
    logp = model.logp()
    f = pytensor.function(model.value_vars, [logp, *pytensor.grad(logp, model.value_vars)])
    nodes = [a for a in f.maker.fgraph.apply_nodes if isinstance(a.op, BernoulliLogitLoglik)]
    assert len(nodes) == 1
