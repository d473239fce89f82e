"""Design matrices: horizon outcome, at-risk mask, `through`, carry-forward, standardisation."""

from __future__ import annotations

import numpy as np
import pytest

from r2p_models.model.design import (
    DesignError,
    build_design,
    carry_forward,
    horizon_outcome,
    origin_design,
)
from r2p_models.model.toy import toy_panel


def _one(onset, ongoing):
    a = np.array(onset, dtype=float)[None, :, None]
    b = np.array(ongoing, dtype=float)[None, :, None]
    return a, b


def test_horizon_one_outcome_and_risk():
    # years:        0  1  2  3  4  5
    onset, ongoing = _one([0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0])
    y, risk, in_panel = horizon_outcome(onset, ongoing, 1)
    # origin t predicts onset in t+1
    np.testing.assert_array_equal(y[0, :5, 0], [1, 0, 0, 1, 0])
    assert np.isnan(y[0, 5, 0])
    # at risk in t+1 unless an episode begun earlier is under way in t+1 (year 2)
    np.testing.assert_array_equal(risk[0, :5, 0], [True, False, True, True, True])
    np.testing.assert_array_equal(in_panel, [True] * 5 + [False])


def test_horizon_two_outcome_window():
    onset, ongoing = _one([0, 0, 1, 0, np.nan, 0], [0, 0, 0, 1, 0, 0])
    y, risk, in_panel = horizon_outcome(onset, ongoing, 2)
    # t=0: years 1,2 -> 1; t=1: 2,3 -> 1; t=2: 3,4 -> blank with no onset -> unknown;
    # t=3: 4,5 -> blank without an onset -> unknown
    np.testing.assert_array_equal(y[0, :2, 0], [1, 1])
    assert np.isnan(y[0, 2, 0]) and np.isnan(y[0, 3, 0])
    np.testing.assert_array_equal(risk[0, :4, 0], [True, True, False, True])
    np.testing.assert_array_equal(in_panel, [True] * 4 + [False] * 2)


def test_known_onset_in_window_makes_outcome_known_despite_blank():
    onset, ongoing = _one([0, np.nan, 1, 0], [0, 0, 0, 1])
    y, _, _ = horizon_outcome(onset, ongoing, 2)
    assert y[0, 0, 0] == 1


def test_carry_forward_uses_past_only():
    x = np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])
    np.testing.assert_array_equal(carry_forward(x), [[np.nan, 1, 1, 3, 3]])
    future = x.copy()
    future[0, 4] = 99.0
    np.testing.assert_array_equal(carry_forward(future)[0, :4], carry_forward(x)[0, :4])


def test_counts_partition_cells_and_mask_matches_rules():
    panel, _ = toy_panel(3)
    d = build_design(panel, horizon=2)
    c = d.counts
    assert c.beyond_data + c.not_at_risk + c.unknown_outcome + c.used == c.cells
    assert c.used == int(d.w.sum())
    # every cell inside the window, at risk and with a known outcome is used (no silent drop)
    onset = panel["onset"].values
    ongoing = panel["ongoing"].values
    T = onset.shape[1]
    for t in range(T - 2):
        at_risk = (ongoing[:, t + 1] == 0) | (onset[:, t + 1] == 1)
        np.testing.assert_array_equal(d.w[:, t] > 0, at_risk)
        np.testing.assert_array_equal(d.y[:, t][at_risk],
                                      np.maximum(onset[:, t + 1], onset[:, t + 2])[at_risk])
    assert not d.w[:, T - 2:].any()
    assert c.events == {k: int(d.y[:, :, i].sum()) for i, k in enumerate(d.crimes)}


@pytest.mark.parametrize("horizon", [1, 2])
def test_through_uses_nothing_known_later(horizon):
    panel, _ = toy_panel(4, n_years=14)
    through = 2008
    d = build_design(panel, horizon=horizon, through=through)
    used_years = d.years[d.w.any(axis=(0, 2))]
    assert used_years.max() + horizon <= through
    assert used_years.max() + horizon == through  # and the last known one is used
    # scrambling everything after `through` changes nothing in the design
    later = panel.copy(deep=True)
    rng = np.random.default_rng(0)
    after = later["year"].values > through
    later["X"].values[:, after] = rng.normal(size=later["X"].values[:, after].shape)
    later["onset"].values[:, after] = 1.0 - later["onset"].values[:, after]
    later["ongoing"].values[:, after] = 0.0
    d2 = build_design(later, horizon=horizon, through=through)
    np.testing.assert_array_equal(d.w, d2.w)
    np.testing.assert_array_equal(d.y, d2.y)
    np.testing.assert_allclose(d.standardisation.mean, d2.standardisation.mean)
    np.testing.assert_allclose(d.standardisation.sd, d2.standardisation.sd)
    used_t = d.w.any(axis=(0, 2))
    np.testing.assert_allclose(d.x[:, used_t], d2.x[:, used_t])


def test_standardisation_and_flags():
    panel, _ = toy_panel(5, missing_rate=0.2)
    d = build_design(panel, horizon=1)
    raw = panel["X"].values
    np.testing.assert_allclose(d.standardisation.mean, np.nanmean(raw, axis=(0, 1)))
    np.testing.assert_allclose(d.standardisation.sd, np.nanstd(raw, axis=(0, 1)))
    obs = ~np.isnan(raw)
    np.testing.assert_allclose(d.x[obs], ((raw - d.standardisation.mean) / d.standardisation.sd)
                               [obs])
    # a missing value takes the standardised last observed value of the same country
    c, t, j = np.argwhere(~obs[:, 1:, :] & obs[:, :-1, :])[0]
    assert d.x[c, t + 1, j] == pytest.approx(d.x[c, t, j])
    # every indicator is sometimes missing: one centred flag each
    assert d.flag_names == d.indicators
    used_cy = d.w.any(axis=2)
    np.testing.assert_allclose(d.flags[used_cy].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_array_equal(d.flags[used_cy] > 0, ~obs[used_cy])


def test_origin_design_matches_training_columns_and_at_risk():
    panel, _ = toy_panel(6)
    d = build_design(panel, horizon=1)
    od = origin_design(panel, 2005, d.standardisation, d.crimes)
    t = list(d.years).index(2005)
    np.testing.assert_allclose(od.x, d.x[:, t])
    np.testing.assert_allclose(od.flags, d.flags[:, t])
    on = panel["onset"].sel(year=2005).values
    og = panel["ongoing"].sel(year=2005).values
    np.testing.assert_array_equal(od.at_risk, (og == 0) & (on != 1))


def test_training_on_the_origin_at_risk_set_is_what_forecasts_are_issued_for():
    """train_at_risk="origin" keeps exactly the target-year set's cells whose country was at
    risk at the origin (no episode under way, no onset that year: the rule forecasts are
    issued by, written out here from the panel); the default keeps the wider set."""
    panel, _ = toy_panel(6, n_countries=40, n_years=14)
    wide = build_design(panel, horizon=2)
    narrow = build_design(panel, horizon=2, train_at_risk="origin")
    dims = ("country", "year", "crime")
    og = panel["ongoing"].transpose(*dims).values
    on = panel["onset"].transpose(*dims).values
    origin_rule = (og == 0) & (on != 1)
    np.testing.assert_array_equal(narrow.w > 0, (wide.w > 0) & origin_rule)
    dropped = (wide.w > 0) & ~origin_rule
    assert dropped.sum() > 0  # the toy world has episodes that end
    assert narrow.counts.used == wide.counts.used - int(dropped.sum())
    assert narrow.counts.not_at_risk == wide.counts.not_at_risk + int(dropped.sum())
    with pytest.raises(DesignError, match="train_at_risk = 'start'"):
        build_design(panel, horizon=2, train_at_risk="start")


def test_bad_inputs_raise_clear_errors():
    panel, _ = toy_panel(7)
    with pytest.raises(DesignError, match="horizon"):
        build_design(panel, horizon=3)
    with pytest.raises(DesignError, match="missing"):
        build_design(panel, horizon=1, missing="drop")
    with pytest.raises(DesignError, match="through"):
        build_design(panel, horizon=2, through=2000)
    with pytest.raises(DesignError, match="'onset'"):
        build_design(panel.drop_vars("onset"), horizon=1)
    d = build_design(panel, horizon=1)
    with pytest.raises(DesignError, match="origin_year"):
        origin_design(panel, 1990, d.standardisation, d.crimes)
    with pytest.raises(DesignError, match="indicator"):
        origin_design(panel.isel(indicator=[0, 1]), 2005, d.standardisation, d.crimes)


def _noisy_panel(seed: int = 11):
    """Toy panel whose first indicator is measured with known, unequal error variances."""
    panel, _ = toy_panel(seed, n_countries=60, n_years=30, missing_rate=0.1)
    rng = np.random.default_rng(seed)
    x = panel["X"].values.copy()
    x_true = x[..., 0].copy()
    err_var = rng.choice([0.0, 0.25, 1.0, 3.0], size=x_true.shape)  # 0: exact
    x[..., 0] = x_true + rng.normal(size=x_true.shape) * np.sqrt(err_var)
    x_var = np.where(np.isnan(x), np.nan, 0.0)
    x_var[..., 0] = np.where(np.isnan(x_true), np.nan, err_var)
    return panel.assign(X=(panel["X"].dims, x), X_var=(panel["X"].dims, x_var)), x_true


def test_regression_calibration_of_noisy_indicators():
    panel, x_true = _noisy_panel()
    d = build_design(panel, horizon=1)
    std = d.standardisation
    raw, xv = panel["X"].values, panel["X_var"].values
    obs = ~np.isnan(raw[..., 0])
    # closed form: v = observed variance - mean error variance; x = lambda (x - m) / s
    v = np.nanvar(raw[..., 0]) - xv[..., 0][obs].mean()
    assert std.true_var[0] == pytest.approx(v, rel=1e-10)
    assert np.isinf(std.true_var[1:]).all()  # exact indicators: no calibration
    lam = v / (v + xv[..., 0])
    want = lam * (raw[..., 0] - std.mean[0]) / std.sd[0]
    np.testing.assert_allclose(d.x[..., 0][obs], want[obs], rtol=1e-12)
    exact = ~np.isnan(raw[..., 1])
    np.testing.assert_allclose(d.x[..., 1][exact],
                               ((raw[..., 1] - std.mean[1]) / std.sd[1])[exact], rtol=1e-12)
    # what the calibration is for: the calibrated value is an unbiased predictor of the
    # true value (regression slope of truth on it ~1), the raw noisy value is not
    z_true = (x_true[obs] - std.mean[0]) / std.sd[0]
    slope_raw = np.polyfit(((raw[..., 0] - std.mean[0]) / std.sd[0])[obs], z_true, 1)[0]
    slope_cal = np.polyfit(d.x[..., 0][obs], z_true, 1)[0]
    assert slope_raw < 0.75
    assert slope_cal == pytest.approx(1.0, abs=0.08)


def test_regression_calibration_at_forecast_time_and_in_saved_parameters():
    panel, _ = _noisy_panel(12)
    d = build_design(panel, horizon=1)
    od = origin_design(panel, 2005, d.standardisation, d.crimes)
    t = list(d.years).index(2005)
    np.testing.assert_allclose(od.x, d.x[:, t])  # same shrinkage, carried forward too
    back = type(d.standardisation).from_dataset(d.standardisation.to_dataset())
    np.testing.assert_array_equal(back.true_var, d.standardisation.true_var)
    bad = panel.copy()
    bad["X_var"] = -bad["X_var"]
    with pytest.raises(DesignError, match="X_var"):
        build_design(bad, horizon=1)


def test_fits_and_forecasts_through_a_year_do_not_see_later_reports(tmp_path) -> None:
    """Changing only reports of years after t changes the loaded panel before t (the fusion
    re-estimates the sources), but not the design of a fit through t nor the predictors
    of a forecast from origin t: what a backtest at t sees."""
    import pandas as pd

    from r2p_models.data.panel import load_panel
    from r2p_models.data.simulate import simulate_world, write_world

    cfg = write_world(simulate_world(3, n_years=10, scale=0.1), tmp_path)
    before = load_panel(cfg)
    t = int(before.year.values[5])
    path = cfg.parent / "reports.csv"
    rep = pd.read_csv(path, dtype={"country": str})
    late = rep.year > t
    assert late.any()
    rep.loc[late & (rep.source == "media"), "value"] += 3.0  # a source turned biased later
    rep.to_csv(path, index=False)
    after = load_panel(cfg)
    fused = [str(p) for p, f in zip(after.indicator.values, after.fused_from.values,
                                    strict=True) if f]
    early = dict(indicator=fused, year=slice(None, t))
    assert not np.allclose(before.X.sel(**early).values, after.X.sel(**early).values,
                           equal_nan=True)

    d0 = build_design(before, horizon=1, through=t)
    d1 = build_design(after, horizon=1, through=t)
    np.testing.assert_array_equal(d0.x, d1.x)
    np.testing.assert_array_equal(d0.flags, d1.flags)
    np.testing.assert_array_equal(d0.standardisation.true_var, d1.standardisation.true_var)
    o0 = origin_design(before, t, d0.standardisation, d0.crimes)
    o1 = origin_design(after, t, d0.standardisation, d0.crimes)
    np.testing.assert_array_equal(o0.x, o1.x)
