"""The effect scale: learned, fixed, or chosen by rolling-origin cross-validation."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import replace

import numpy as np
import pymc as pm
import pytest
from scipy.special import expit

from r2p_models.config import ConfigError, ModelConfig
from r2p_models.model import build_model, fit, load_model
from r2p_models.model.build import Priors
from r2p_models.model.design import DesignError, build_design
from r2p_models.model.fit import config_hash
from r2p_models.model.scale import GRID, effect_priors, select_effect_scale
from r2p_models.model.toy import toy_panel

CRIME = ("crimes_against_humanity",)


def _world(beta_scale: float, seed: int = 0, n_countries: int = 150, n_years: int = 24):
    """A one-crime panel whose onsets follow logit p = -2.5 + x @ beta, every year at risk.

    ``beta = beta_scale * (1, -1, 1, -1)``; the indicators are the toy panel's (AR(1),
    standardised scale, 10 % missing at random).
    """
    panel, truth = toy_panel(seed, n_countries=n_countries, n_years=n_years, crimes=CRIME)
    rng = np.random.default_rng(seed + 100)
    x = (truth["x"].sel(country=panel.country, year=panel.year, indicator=panel.indicator)
         .transpose("country", "year", "indicator").values)
    beta = beta_scale * np.array([1.0, -1.0, 1.0, -1.0])
    p = np.empty(x.shape[:2])
    p[:, 0] = expit(-2.5)  # no predictors of the year before the first
    p[:, 1:] = expit(-2.5 + x[:, :-1] @ beta)
    onset = (rng.random(p.shape) < p).astype(float)[:, :, None]
    return panel.assign(onset=(("country", "year", "crime"), onset),
                        ongoing=(("country", "year", "crime"), np.zeros_like(onset)))


CV = ModelConfig(horizon=1, effect_scale="rolling_cv")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strong_effects_keep_a_large_scale_and_no_effects_gain_nothing(seed):
    """The CV against a simulation with known truth.

    With strong effects (|beta| = 1 per sd) heavy shrinkage forecasts badly, so the
    choice is one of the loosest scales. With no effects every scale forecasts about
    equally (the curve is flat; which one wins is then noise), and none beats the true
    probability on the same cases by more than luck in matching the sample's rate.
    """
    strong = select_effect_scale(_world(1.0, seed=seed), CV)
    assert strong.scale >= 0.2
    null = select_effect_scale(_world(0.0, seed=seed), CV)
    for sel in (null, strong):
        # the chosen scale is the argmin of the reported scores, on the stated cases
        assert sel.grid == GRID and len(sel.log_score) == len(GRID)
        assert sel.scale == GRID[int(np.argmin(sel.log_score))]
        assert sel.events > 0 and sel.cases > sel.events
    assert max(null.log_score) - min(null.log_score) < 0.005
    assert max(strong.log_score) - min(strong.log_score) > 0.02
    # the true probability's log score on the same cases (events of cases, p = expit(-2.5))
    q, n, e = expit(-2.5), null.cases, null.events
    oracle = -(e * np.log(q) + (n - e) * np.log(1 - q)) / n
    assert min(null.log_score) > oracle - 0.002


def test_inner_origins_are_the_latest_closed_ones_and_nothing_later_is_used():
    panel = _world(0.5, seed=1)
    years = panel["year"].values
    through = int(years[-4])
    sel = select_effect_scale(panel, replace(CV, horizon=2), through=through)
    # horizon 2: an origin's window closes 2 years after it; the last 8 closed origins
    assert sel.origins == tuple(range(through - 2 - 7, through - 2 + 1))
    # outcomes and indicators after `through` change nothing
    later = panel["year"] > through
    changed = panel.assign(
        onset=panel["onset"].where(~later, 1 - panel["onset"]),
        X=panel["X"].where(~later, 5.0),
    )
    assert select_effect_scale(changed, replace(CV, horizon=2), through=through) == sel


def test_inner_origins_are_scored_on_the_cases_a_forecast_would_have():
    """A country with an onset in an inner origin year gets no forecast then, so the CV
    does not score it there either (the cases and events are counted from the panel)."""
    panel = _world(0.5, seed=3)
    sel = select_effect_scale(panel, CV)
    onset = panel["onset"].sel(crime=CRIME[0])
    cases = events = 0
    for s in sel.origins:  # horizon 1: the window is s + 1; no episodes in this world
        risk = onset.sel(year=s) != 1
        cases += int(risk.sum())
        events += int(((onset.sel(year=s + 1) == 1) & risk).sum())
    assert int((onset.sel(year=list(sel.origins)) == 1).sum()) > 0  # some are left out
    assert (sel.cases, sel.events) == (cases, events)


def test_effect_priors_fix_every_effect_at_the_scale():
    panel = _world(0.5, seed=2, n_countries=30, n_years=10)
    design = build_design(panel, horizon=1)
    priors, sel = effect_priors(panel, replace(CV, effect_scale=0.07), None)
    assert sel is None and not priors.learn_scale
    model = build_model(design, "hierarchical", priors)
    assert "sigma_beta" not in {v.name for v in model.free_RVs}
    beta = pm.draw(model["beta"], draws=20000, random_seed=4)[:, 0, :]
    np.testing.assert_allclose(beta.std(axis=0), 0.07, rtol=0.04)  # Normal(0, 0.07) each
    learned, sel = effect_priors(panel, ModelConfig(horizon=1, effect_scale="learned"),
                                 Priors())
    assert learned == Priors() and sel is None


def test_models_without_one_effect_scale_are_refused():
    panel, _ = toy_panel(0, n_countries=40, n_years=20)  # four crimes
    joint = replace(CV, variant="hierarchical")
    with pytest.raises(DesignError, match=r"one effect scale.*4 crimes"):
        select_effect_scale(panel, joint)
    with pytest.raises(DesignError, match="one effect scale"):
        effect_priors(panel, replace(joint, effect_scale=0.1), None)
    # the default "rolling_cv" leaves a joint model's hierarchical priors as "learned" does
    for variant in ("hierarchical", "no_country", "independent"):
        assert effect_priors(panel, replace(CV, variant=variant), Priors()) == (Priors(), None)
    # the pooled logit has one scale even with four crimes
    sel = select_effect_scale(panel, replace(CV, variant="pooled"))
    assert sel.scale in GRID
    short = _world(0.5, n_countries=40, n_years=4)
    with pytest.raises(DesignError, match="only 2 inner origin"):
        select_effect_scale(short, CV)


@pytest.mark.parametrize("value", ["cv", 0, -0.1, float("nan"), True])
def test_bad_effect_scale_setting(value):
    with pytest.raises(ConfigError, match=r"\[model\] effect_scale"):
        ModelConfig(effect_scale=value)


def test_config_hash_of_the_release_default_is_unchanged():
    """Files and ledgers written before the settings existed keep their config hash.

    Release 0.1.0's default was the hierarchical model with a learned effect scale.
    """
    cfg = ModelConfig(variant="hierarchical", effect_scale="learned")
    old = {k: v for k, v in cfg.to_dict().items()
           if k not in ("effect_scale", "train_at_risk", "extend", "rules", "rule_scale",
                        "history", "smooth", "smooth_scale", "smooth_basis")}
    expected = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
    assert config_hash(cfg) == expected
    assert config_hash(replace(cfg, effect_scale="rolling_cv")) != expected
    assert config_hash(replace(cfg, train_at_risk="origin")) != expected
    assert config_hash(replace(cfg, rules=4)) != expected
    assert config_hash(replace(cfg, history=True)) != expected
    assert config_hash(replace(cfg, smooth=4)) != expected
    assert config_hash(replace(cfg, smooth_scale=2.0)) == expected  # no smooth terms
    assert config_hash(replace(cfg, smooth_basis="scaled")) == expected
    smooth = replace(cfg, smooth=4)
    assert config_hash(replace(smooth, smooth_basis="scaled")) != config_hash(smooth)
    assert config_hash(replace(cfg, extend=0)) != expected


def test_fit_records_the_chosen_scale_and_it_survives_save_and_load(tmp_path):
    panel = _world(0.5, seed=3, n_countries=40, n_years=14)
    cfg = ModelConfig(variant="no_country", horizon=1, sampler="pymc", chains=2, draws=30,
                      tune=30, retries=0, extend=0, effect_scale="rolling_cv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = fit(panel, cfg, through=2011)
    sel = select_effect_scale(panel, cfg, through=2011)
    stored = json.loads(fm.meta["effect_scale_cv"])
    assert stored["scale"] == sel.scale and tuple(stored["origins"]) == sel.origins
    assert json.loads(fm.meta["priors"])["mu_sd"] == sel.scale
    path = fm.save(tmp_path / "m.nc")
    loaded = load_model(path, expected_config=cfg)
    assert loaded.meta["effect_scale_cv"] == fm.meta["effect_scale_cv"]
    assert loaded.config.effect_scale == "rolling_cv"


def test_cli_refuses_a_bad_effect_scale_before_any_work(tmp_path, capsys):
    from r2p_models.cli import EXIT_BAD_INPUT, main

    out = tmp_path / "eval"
    assert main(["evaluate-peer", "--data", str(tmp_path), "--out", str(out),
                 "--effect-scale", "cv"]) == EXIT_BAD_INPUT
    assert "effect_scale = 'cv'" in capsys.readouterr().err
    assert not out.exists()
