"""Forecast summaries, ranks, P(top N), watchlists and explanations."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from scipy.special import logit

from r2p_models import forecast
from r2p_models.config import ModelConfig
from r2p_models.model import build_design, build_model
from r2p_models.model.fit import KEEP, ConvergenceReport, assemble
from r2p_models.model.toy import toy_panel


def _draws(p: np.ndarray, at_risk: np.ndarray | None = None) -> xr.DataArray:
    C, K, S = p.shape
    da = xr.DataArray(p, dims=("country", "crime", "draw"),
                      coords={"country": [f"C{i}" for i in range(C)],
                              "crime": ["genocide", "war_crimes"][:K], "draw": np.arange(S)},
                      attrs={"origin_year": 2010, "horizon": 2, "target_start": 2011,
                             "target_end": 2012})
    if at_risk is not None:
        da = da.assign_coords(at_risk=(("country", "crime"), at_risk))
    return da


def test_summaries_match_numpy_and_brute_force_ranks():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 30, size=(12, 2, 500))
    s = forecast.summarise(_draws(p), top_n=3)
    np.testing.assert_allclose(s["mean"].values, p.mean(axis=2))
    np.testing.assert_allclose(s["q05"].values, np.quantile(p, 0.05, axis=2))
    np.testing.assert_allclose(s["q95"].values, np.quantile(p, 0.95, axis=2))
    # rank 1 = highest posterior mean
    for k in range(2):
        expected = pd.Series(-p[:, k].mean(axis=1)).rank(method="first").to_numpy()
        np.testing.assert_array_equal(s["rank"].values[:, k], expected)
    # P(top 3): brute force over draws
    top = np.zeros((12, 2))
    for k in range(2):
        for d in range(500):
            top[np.argsort(-p[:, k, d])[:3], k] += 1
    np.testing.assert_allclose(s["p_top_n"].values, top / 500)
    np.testing.assert_allclose(s["p_top_n"].sum("country").values, 3.0)


def test_p_top_n_is_certain_for_a_dominant_country():
    p = np.full((5, 1, 100), 0.01)
    p[2] = 0.5
    s = forecast.summarise(_draws(p), top_n=1)
    assert s["p_top_n"].values[2, 0] == 1.0 and s["rank"].values[2, 0] == 1
    assert np.all(s["p_top_n"].values[[0, 1, 3, 4], 0] == 0.0)


def test_countries_not_at_risk_are_not_ranked():
    rng = np.random.default_rng(1)
    p = rng.beta(1, 30, size=(6, 1, 200))
    p[0] = 0.9  # highest, but inside an ongoing episode
    at_risk = np.ones((6, 1), dtype=bool)
    at_risk[0] = False
    s = forecast.summarise(_draws(p, at_risk), top_n=2)
    assert np.isnan(s["rank"].values[0, 0]) and np.isnan(s["p_top_n"].values[0, 0])
    assert np.nanmin(s["rank"].values) == 1 and np.nanmax(s["rank"].values) == 5
    np.testing.assert_allclose(np.nansum(s["p_top_n"].values), 2.0)
    wl = forecast.watchlist(_draws(p, at_risk), top_n=2)
    assert "C0" not in set(wl["country"]) and len(wl) == 2
    assert list(wl["rank"]) == [1.0, 2.0]
    assert wl["mean"].is_monotonic_decreasing
    assert (wl["target_end"] == 2012).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="dims"):
        forecast.summarise(xr.DataArray(np.zeros((2, 2)), dims=("country", "draw")))
    with pytest.raises(ValueError, match="top_n"):
        forecast.summarise(_draws(np.full((2, 1, 3), 0.1)), top_n=0)
    with pytest.raises(ValueError, match="crimes"):
        forecast.watchlist(_draws(np.full((2, 1, 3), 0.1)), crimes=["genocide", "piracy"])


@pytest.fixture(scope="module")
def prior_model():
    """A FittedModel whose 'posterior' is 200 prior draws (no MCMC: fast)."""
    panel, _ = toy_panel(11, n_countries=15, n_years=8)
    panel["risk_factors"].values[1] = "3,9"  # an indicator informing two risk factors
    design = build_design(panel, horizon=1)
    model = build_model(design)
    with model:
        prior = pm.sample_prior_predictive(draws=200, random_seed=3).prior
    keep = [v for v in KEEP if v in prior]
    idata = az.InferenceData(posterior=prior[keep])
    report = ConvergenceReport(ok=True, max_rhat=1.0, min_ess_bulk=1e3, min_ess_tail=1e3,
                               divergences=0, worst={}, sampler="prior", sampling_seconds=1.0,
                               compile_seconds=0.0)
    fm = assemble(idata, report, design, ModelConfig(horizon=1), panel)
    return fm, panel


def test_explain_adds_up_to_the_forecast(prior_model):
    fm, panel = prior_model
    p = fm.predict(panel, 2004).sel(country="C003")
    table = forecast.explain(fm, panel, 2004, "C003")
    for crime in fm.crimes:
        t = table[table["crime"] == crime].set_index("term")
        parts = t.drop(index="total")["mean"].sum()
        assert parts == pytest.approx(t.loc["total", "mean"])
        assert t.loc["total", "mean"] == pytest.approx(float(logit(p.sel(crime=crime)).mean()))
        assert t.loc["total", "q05"] <= t.loc["total", "q50"] <= t.loc["total", "q95"]
    row = table[(table["term"] == "conflict") & (table["crime"] == "genocide")].iloc[0]
    assert row["value"] == pytest.approx(float(panel["X"].sel(country="C003", year=2004,
                                                               indicator="conflict")),
                                         nan_ok=True)


def test_explain_risk_factors_splits_shared_indicators(prior_model):
    fm, panel = prior_model
    ind = forecast.explain(fm, panel, 2004, "C005", crime="genocide").set_index("term")
    rf = forecast.explain_risk_factors(fm, panel, 2004, "C005", crime="genocide")
    rf = rf.set_index("term")
    assert rf.loc["total", "mean"] == pytest.approx(ind.loc["total", "mean"])
    # 'weakness' informs RF3 and RF9 (split equally); 'discrimination' informs RF9
    rf3 = next(t for t in rf.index if t.startswith("RF3:"))
    rf9 = next(t for t in rf.index if t.startswith("RF9:"))
    assert rf.loc[rf3, "mean"] == pytest.approx(ind.loc["weakness", "mean"] / 2)
    assert rf.loc[rf9, "mean"] == pytest.approx(ind.loc["weakness", "mean"] / 2
                                                + ind.loc["discrimination", "mean"])
    assert rf.loc["missing data", "mean"] == pytest.approx(
        ind[ind["kind"] == "missing"]["mean"].sum())
    with pytest.raises(ValueError, match="crime"):
        forecast.explain(fm, panel, 2004, "C005", crime="piracy")


def test_forecast_table_has_one_row_per_country_and_crime(prior_model):
    fm, panel = prior_model
    table = forecast.forecast_table(fm, panel, 2004, top_n=5)
    assert len(table) == panel.sizes["country"] * len(fm.crimes)
    assert {"name", "at_risk", "mean", "q05", "q95", "rank", "p_top_n", "target_end",
            "model_status", "config_hash"} <= set(table.columns)
    assert (table["target_end"] == 2005).all() and (table["model_status"] == "converged").all()
    top = table[table["rank"] <= 5]
    assert len(top) == 5 * len(fm.crimes)
