"""Interaction rules and episode history (``[model] rules``, ``[model] history``).

The rule search is checked on arrays with a known threshold conjunction. The model checks
use a toy panel with a known threshold interaction and a known cross-crime precursor:
the model with the new terms must recover both, and forecast the true probabilities
measurably better than the linear model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import assert_log_odds_adds_up, oos_squared_error
from scipy.special import expit

from r2p_models.config import ConfigError, ModelConfig
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
def rich_fits():
    """A linear model and one with rules and episode history, fitted to a toy panel whose
    log-odds hold a threshold interaction (+2.5 where conflict and discrimination both
    exceed 0.5) and a cross-crime precursor (genocide +2 in the year after war crimes
    were under way)."""
    panel, truth = toy_panel(2, n_countries=150, n_years=20, crimes=("genocide", "war_crimes"),
                             interaction=2.5, cross_crime=2.0, base_logit=-4.0,
                             missing_rate=0.0, sigma_country=0.0)
    through = 2015
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rich in (False, True):
            cfg = ModelConfig(variant="no_country", horizon=1, chains=2, draws=300, tune=300,
                              retries=0, rules=6 if rich else 0, history=rich)
            out[rich] = fit(panel, cfg, through=through)
    return panel, truth, through, out


def test_new_terms_recover_the_interaction_and_cross_crime_effect(rich_fits):
    panel, truth, through, fits = rich_fits
    fm = fits[True]
    std = fm.standardisation
    post = fm.idata.posterior
    # the strongest rule tests both indicators of the true interaction, above thresholds
    # near the true one (raw scale)
    beta = post["beta_rule"].sel(crime="genocide")
    top = int(np.argmax(beta.mean(("chain", "draw")).values))
    names = {std.indicators[j] for j in std.rules.indicators_of(top)}
    assert names == {"conflict", "discrimination"}
    for j, t, a in zip(std.rules.feature[top], std.rules.threshold[top],
                       std.rules.above[top], strict=True):
        assert a
        assert abs(t * std.sd[j] + std.mean[j] - THRESHOLD) < 0.35
    assert beta.isel(rule=top).quantile(0.05) > 0
    # the cross-crime pair's effect: 90 % interval covers the truth and excludes 0
    g = post["beta_history"].sel(crime="genocide", history="history:war_crimes")
    lo, hi = g.quantile([0.05, 0.95]).values
    assert 0 < lo < 2.0 < hi
    # out of sample (origins after `through`): the linear model is measurably further
    # from the true probabilities
    err = {rich: oos_squared_error(m, panel, truth, through) for rich, m in fits.items()}
    assert err[True] < 0.6 * err[False], err


def test_new_terms_save_load_predict_and_explain(rich_fits, tmp_path):
    panel, _, through, fits = rich_fits
    fm = fits[True]
    back = load_model(fm.save(tmp_path / "m.nc"))
    np.testing.assert_array_equal(back.predict(panel, through).values,
                                  fm.predict(panel, through).values)
    assert back.standardisation.rules.describe(back.standardisation.indicators) == \
        fm.standardisation.rules.describe(fm.standardisation.indicators)
    # the per-indicator contributions (rules shared among their indicators) and the
    # history terms add up to the forecast's log-odds, draw by draw
    country = str(panel.country.values[0])
    e = assert_log_odds_adds_up(back, panel, through, country)
    assert {"history:genocide", "history:war_crimes"} <= set(e.index)


def test_information_gaps_refuse_a_rules_model_and_the_rerun_skips_them(rich_fits, tmp_path):
    """The information-gap decomposition assumes log-odds additive in the indicators."""
    from r2p_models.infogap import information_gaps
    from r2p_models.model.design import DesignError
    from r2p_models.rerun import _information_gaps

    panel, _, through, fits = rich_fits
    with pytest.raises(DesignError, match="interaction rules"):
        information_gaps(fits[True], panel, through)
    assert _information_gaps(fits[True], panel, through, 5, tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_rule_scale_sets_the_prior_sd_of_the_rule_effects():
    import pymc as pm

    from r2p_models.model import build_design, build_model
    from r2p_models.model.build import Priors

    panel, _ = toy_panel(3, n_countries=60, n_years=12, crimes=("genocide",), interaction=2.5,
                         base_logit=-2.0)
    design = build_design(panel, horizon=1, rules=4)
    assert len(design.rule_names) == 4
    priors = Priors(mu_sd=1.0, learn_scale=False, rule_scale=0.25)
    with build_model(design, "pooled", priors):
        draws = pm.sample_prior_predictive(4000, var_names=["beta", "beta_rule"],
                                           random_seed=1).prior
    n = 4000 * len(design.indicators)
    sd_beta = float(draws["beta"].std())
    sd_rule = float(draws["beta_rule"].std())
    # sd of n normal draws: relative standard error about 1 / sqrt(2 n)
    assert abs(sd_beta - 1.0) < 4 / np.sqrt(2 * n)
    assert abs(sd_rule - 0.25) < 0.25 * 4 / np.sqrt(2 * 4000 * 4)
    with pytest.raises(ConfigError, match=r"\[model\] rule_scale"):
        ModelConfig(rule_scale=0)
