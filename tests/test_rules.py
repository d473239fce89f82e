"""Interaction rules (``[model] rules``): the rule search, and the model that uses them.

The model checks use a toy panel with a known threshold interaction (log-odds + 2.5
where both ``conflict`` and ``discrimination`` exceed 0.5): the model with rules must
find it and forecast the true probabilities measurably better than the linear model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit

from r2p_models.config import ConfigError, ModelConfig
from r2p_models.forecast import explain
from r2p_models.model import fit, load_model
from r2p_models.model.fit import config_hash
from r2p_models.model.rules import RuleSet, learn_rules
from r2p_models.model.toy import THRESHOLD, toy_panel


def _threshold_world(seed: int = 1, C: int = 150, T: int = 30, J: int = 6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((C, T, J))
    eta = -4 + 3.0 * ((x[..., 0] > 1.0) & (x[..., 1] > 0.5))
    y = (rng.random((C, T)) < expit(eta)).astype(float)[..., None]
    return x, y, np.ones_like(y)


def test_rule_search_finds_a_threshold_interaction():
    x, y, w = _threshold_world()
    rules = learn_rules(x, y, w, 4, seed=0)
    top = rules.indicators_of(0)
    assert set(top) == {0, 1}
    thr = dict(zip(rules.feature[0], rules.threshold[0], strict=True))
    assert rules.above[0].all()
    assert abs(thr[0] - 1.0) < 0.25 and abs(thr[1] - 0.5) < 0.25
    # the kept rules are not near-copies of one another
    cols = rules.transform(x.reshape(-1, x.shape[-1]))
    corr = np.corrcoef(cols.T)
    assert np.abs(corr[np.triu_indices(len(rules), 1)]).max() <= 0.75 + 1e-9


def test_rule_columns_by_hand_and_round_trip():
    rules = RuleSet(feature=np.array([[0, 1], [2, -1]]), threshold=np.array([[0.0, 1.0],
                                                                             [0.5, 0.0]]),
                    above=np.array([[True, False], [False, False]]),
                    mean=np.array([0.25, 0.5]), sd=np.array([0.5, 0.5]))
    x = np.array([[0.1, 0.9, 0.4], [0.1, 1.1, 0.6], [-0.1, 0.0, 0.5]])
    # rule 0: x0 > 0 and x1 <= 1; rule 1: x2 <= 0.5
    np.testing.assert_array_equal(rules.indicator(x), [[True, True], [False, False],
                                                       [False, True]])
    np.testing.assert_allclose(rules.transform(x)[0], [(1 - 0.25) / 0.5, (1 - 0.5) / 0.5])
    np.testing.assert_allclose(rules.share_matrix(3), [[0.5, 0.5, 0], [0, 0, 1]])
    back = RuleSet.from_dataset(rules.to_dataset())
    np.testing.assert_array_equal(back.indicator(x), rules.indicator(x))
    assert rules.describe(["a", "b", "c"]) == ["a > 0.00 and b <= 1.00", "c <= 0.50"]


def test_rule_search_sees_only_usable_cells():
    """Outcomes of cells with weight 0 (e.g. after a backtest's `through`) change nothing."""
    x, y, w = _threshold_world(2)
    w[:, 20:] = 0
    a = learn_rules(x, y, w, 6, seed=0)
    y2 = y.copy()
    y2[:, 20:] = 1 - y2[:, 20:]
    b = learn_rules(x, y2, w, 6, seed=0)
    np.testing.assert_array_equal(a.feature, b.feature)
    np.testing.assert_array_equal(a.threshold, b.threshold)


def test_rules_setting_is_checked_and_hash_stable():
    with pytest.raises(ConfigError, match=r"\[model\] rules = -1"):
        ModelConfig(rules=-1)
    with pytest.raises(ConfigError, match="rules"):
        ModelConfig(rules=1000)
    # configs (and ledger entries) from before the setting keep their hash
    base = ModelConfig()
    assert config_hash(base) == config_hash(ModelConfig(rules=0))
    assert config_hash(base) != config_hash(ModelConfig(rules=8))


@pytest.fixture(scope="module")
def interaction_fits():
    panel, truth = toy_panel(1, n_countries=200, n_years=20, crimes=("genocide",),
                             interaction=2.5, base_logit=-4.0, missing_rate=0.0,
                             sigma_country=0.0)
    through = 2014
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in (0, 6):
            cfg = ModelConfig(variant="pooled", horizon=1, chains=2, draws=300, tune=300,
                              retries=0, rules=r)
            out[r] = fit(panel, cfg, through=through)
    return panel, truth, through, out


def test_rules_model_recovers_the_interaction_the_linear_model_misses(interaction_fits):
    panel, truth, through, fits = interaction_fits
    fm = fits[6]
    std = fm.standardisation
    beta = fm.idata.posterior["beta_rule"].mean(("chain", "draw")).values[0]
    # the strongest rule tests both indicators of the true interaction, above thresholds
    # near the true one (raw scale)
    top = int(np.argmax(beta))
    names = {std.indicators[j] for j in std.rules.indicators_of(top)}
    assert names == {"conflict", "discrimination"}
    for j, t, a in zip(std.rules.feature[top], std.rules.threshold[top],
                       std.rules.above[top], strict=True):
        assert a
        assert abs(t * std.sd[j] + std.mean[j] - THRESHOLD) < 0.35
    assert fm.idata.posterior["beta_rule"].isel(rule=top).quantile(0.05) > 0
    # out of sample (origins after `through`): closer to the true probabilities
    err = {}
    for r, m in fits.items():
        sq = []
        for t in range(through, int(panel.year[-1])):
            p = m.predict(panel, t).mean("draw").sel(crime="genocide")
            true = truth["p"].sel(year=t + 1, crime="genocide", country=p.country)
            sq.append(((p - true) ** 2).values[p.at_risk.values])
        err[r] = float(np.mean(np.concatenate(sq)))
    assert err[6] < 0.6 * err[0], err


def test_rules_model_save_load_predict_and_explain(interaction_fits, tmp_path):
    panel, _, through, fits = interaction_fits
    fm = fits[6]
    back = load_model(fm.save(tmp_path / "m.nc"))
    np.testing.assert_array_equal(back.predict(panel, through).values,
                                  fm.predict(panel, through).values)
    assert back.standardisation.rules.describe(back.standardisation.indicators) == \
        fm.standardisation.rules.describe(fm.standardisation.indicators)
    # the per-indicator contributions (rules shared among their indicators) add up to the
    # forecast's log-odds, draw by draw
    country = str(panel.country.values[0])
    e = explain(back, panel, through, country, "genocide").set_index("term")
    parts = e.loc[e["kind"] != "total", "mean"].sum()
    assert np.isclose(parts, e.loc["total", "mean"])
    p = back.predict(panel, through).sel(country=country, crime="genocide").values
    t = back.log_odds_terms(panel, through, countries=[country]).sel(country=country,
                                                                     crime="genocide")
    total = (t["intercept"] + t["region"] + t["country_effect"]
             + t["indicator_term"].sum("indicator") + t["missing_term"].sum("flag"))
    np.testing.assert_allclose(expit(total.values), p, rtol=1e-12)
