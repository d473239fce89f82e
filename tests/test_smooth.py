"""Smooth terms (r2p_models.model.smooth): the basis, its settings, and information gaps."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_log_odds_adds_up, oos_squared_error
from scipy.stats import norm

from r2p_models.config import ConfigError, ModelConfig
from r2p_models.infogap import _gap_core, _InputEffects
from r2p_models.model.smooth import DEGREE, MIN_DISTINCT, SplineSet, learn_splines
from r2p_models.model.toy import THRESHOLD


def _panel_x(seed: int = 0, C: int = 40, T: int = 25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(C, T, 3))
    x[..., 1] = rng.random((C, T)) < 0.3  # binary: stays linear
    # mostly 0 with a continuous tail: the lower quantile knots coincide
    x[..., 2] = np.where(rng.random((C, T)) < 0.6, 0.0, rng.exponential(1.0, (C, T)))
    return x


def test_basis_is_scikit_learns_spline_transformer_and_columns_its_curvature():
    """The raw basis is SplineTransformer(knots="quantile", extrapolation="constant")
    fitted on the training cells, inside and outside the training range; the model's
    columns are that basis with the line removed and whitened on the training cells."""
    from sklearn.preprocessing import SplineTransformer

    x = _panel_x()
    used = np.ones(x.shape[:2], dtype=bool)
    used[:, -5:] = False  # the last years are not training cells
    s = learn_splines(x, used, 5)
    assert list(s.feature) == [0, 2] and s.per_feature == 5
    ref = SplineTransformer(n_knots=5, degree=DEGREE, knots="quantile",
                            extrapolation="constant").fit(x[used][:, [0]])
    test = np.concatenate([x[:, :, 0].ravel(), [-50.0, 50.0]])
    grid = np.zeros((test.size, 3))
    grid[:, 0] = test
    np.testing.assert_allclose(s.basis(grid)[:, :5 + DEGREE - 1],
                               ref.transform(test[:, None]), atol=1e-12)
    # on the training cells: mean 0, an indicator's columns uncorrelated with each other
    # (variance 1 each) and with the indicator itself
    cols, xt = s.transform(x[used]), x[used][:, [0, 2]]
    np.testing.assert_allclose(cols.mean(axis=0), 0.0, atol=1e-10)
    cov = np.cov(np.column_stack([cols, xt]).T, bias=True)
    for block in (slice(0, 5), slice(5, 10)):
        np.testing.assert_allclose(cov[block, block], np.eye(5), atol=1e-10)
    np.testing.assert_allclose(cov[:5, len(s)], 0.0, atol=1e-10)  # indicator 0's own line
    np.testing.assert_allclose(cov[5:len(s), len(s) + 1], 0.0, atol=1e-10)  # indicator 2's
    # they span what the raw basis adds to the line: a least-squares fit of any curve
    # of x by [1, x, columns] equals its fit by [1, x, raw basis]
    curve = np.sin(2 * xt[:, 0]) + (xt[:, 0] > 0.5)
    raw = s.basis(x[used])[:, :5 + DEGREE - 1]
    one = np.ones((len(curve), 1))

    def residual(design: np.ndarray) -> np.ndarray:
        return curve - design @ np.linalg.lstsq(design, curve, rcond=None)[0]

    np.testing.assert_allclose(residual(np.hstack([one, xt[:, :1], cols[:, :5]])),
                               residual(np.hstack([one, xt[:, :1], raw])), atol=1e-8)
    # one indicator's columns alone are the same columns
    where, own = s.columns_of(2, x[:, :, 2].ravel())
    np.testing.assert_allclose(own, s.transform(x).reshape(-1, len(s))[:, where])
    assert s.columns_of(1, np.zeros(3))[1].shape == (3, 0)


def test_scaled_basis_keeps_the_standardised_raw_prior_less_the_line():
    """``basis="scaled"``: with coefficients N(0, 1), the prior covariance of a curve over
    the training cells is that of scikit-learn's B-spline columns each standardised, less
    their projection on [1, x]; the columns are orthogonal, uncorrelated with x, and span
    the whitened basis's space."""
    from sklearn.preprocessing import SplineTransformer

    x = _panel_x(3)
    used = np.ones(x.shape[:2], dtype=bool)
    used[:, -4:] = False
    white, scaled = (learn_splines(x, used, 5, b) for b in ("whitened", "scaled"))
    xt = x[used][:, 0]
    raw = SplineTransformer(n_knots=5, degree=DEGREE, knots="quantile",
                            extrapolation="constant").fit_transform(xt[:, None])
    z = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    line = np.column_stack([np.ones_like(xt), xt])
    resid = z - line @ np.linalg.lstsq(line, z, rcond=None)[0]
    cols = scaled.transform(x[used])[:, :5]
    np.testing.assert_allclose(cols @ cols.T, resid @ resid.T, atol=1e-8)
    gram = cols.T @ cols
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-8)
    assert np.all(np.diff(np.diag(gram)) <= 1e-9)  # principal axes, widest first
    np.testing.assert_allclose(cols.T @ (xt - xt.mean()), 0.0, atol=1e-8)
    w = white.transform(x[used])[:, :5]  # the same space as the whitened columns
    np.testing.assert_allclose(w @ np.linalg.lstsq(w, cols, rcond=None)[0], cols, atol=1e-8)
    with pytest.raises(ValueError, match="basis"):
        learn_splines(x, used, 5, "raw")


def test_knots_are_evenly_spaced_where_quantiles_coincide():
    x = _panel_x()
    s = learn_splines(x, np.ones(x.shape[:2], dtype=bool), 4)
    t = s.knots[1][DEGREE:-DEGREE]  # indicator 2's base knots
    v = x[..., 2]
    np.testing.assert_allclose(t, np.linspace(v.min(), v.max(), 4))
    # the basis is a partition of unity inside the range and constant outside it
    nb = 4 + DEGREE - 1
    b = s.basis(np.array([[0.0, 0.0, -3.0], [0.0, 0.0, 0.5], [0.0, 0.0, 99.0],
                          [0.0, 0.0, v.max()]]))[:, nb:]
    np.testing.assert_allclose(b.sum(axis=1), 1.0)
    np.testing.assert_allclose(b[2], b[3])


def test_few_valued_indicators_get_no_smooth_terms():
    x = np.zeros((10, 10, 2))
    x[..., 0] = np.arange(100).reshape(10, 10) % (MIN_DISTINCT)  # MIN_DISTINCT values
    x[..., 1] = np.arange(100).reshape(10, 10) % (MIN_DISTINCT + 1)
    s = learn_splines(x, np.ones((10, 10), dtype=bool), 4)
    assert list(s.feature) == [1]
    assert learn_splines(x[..., :1], np.ones((10, 10), dtype=bool), 4) is None


def test_saved_set_round_trips():
    x = _panel_x(3)
    s = learn_splines(x, np.ones(x.shape[:2], dtype=bool), 4)
    back = SplineSet.from_dataset(s.to_dataset())
    np.testing.assert_array_equal(back.transform(x), s.transform(x))
    assert s.names(("a", "b", "c"))[:2] == ("smooth:a:0", "smooth:a:1")


@pytest.mark.parametrize(("kw", "match"), [
    ({"smooth": 2}, r"smooth = 2: expected 0 .* from 3 to 12"),
    ({"smooth": 13}, "smooth = 13"),
    ({"smooth": 1.5}, "smooth = 1.5"),
    ({"smooth": 4, "missing": "bayes"}, "needs missing = \"carry_forward\""),
    ({"smooth_scale": 0}, r"smooth_scale = 0: expected a number in \(0, 4\]"),
    ({"smooth_scale": True}, "smooth_scale = True"),
    ({"smooth_basis": "raw"}, r"smooth_basis = 'raw': expected one of \['scaled', 'whitened'\]"),
])
def test_bad_smooth_settings_are_refused(kw, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**kw)


# --- information gaps of a smooth input --------------------------------------------------


def _one_smooth_input(seed: int = 0) -> tuple[SplineSet, np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(60, 30, 1))
    s = learn_splines(x, np.ones((60, 30), dtype=bool), 5)
    rng = np.random.default_rng(seed + 1)
    beta = rng.normal(0.3, 0.05, size=(200, 1, 1))
    gamma = rng.normal(0.0, 0.4, size=(200, 1, len(s)))
    return s, beta, gamma


def test_gap_variance_of_a_smooth_input_is_its_variance_over_the_input():
    """Var over x ~ Normal(mu, tau^2) of g(x) = beta x + B(x) gamma, averaged over the
    draws: the quadrature against a fine-grid integral of the same function."""
    s, beta, gamma = _one_smooth_input()
    eff = _InputEffects(beta, s, gamma)
    mu, tau = np.array([[0.4]]), np.array([[0.8]])
    eta_c = -3.0 + eff.at(0, mu[0]).reshape(200, 1, 1)  # (draw, country, crime) at mu
    core = _gap_core(eta_c, eff, tau, np.ones((1, 1), bool), 1, 400,
                     np.random.default_rng(0), mu=mu)
    grid = np.linspace(mu[0, 0] - 8 * tau[0, 0], mu[0, 0] + 8 * tau[0, 0], 20001)
    w = norm.pdf(grid, mu[0, 0], tau[0, 0])
    w /= w.sum()
    g = eff.at(0, grid)[:, 0, :]  # (draw, grid)
    m1 = g @ w
    want = ((g**2) @ w - m1**2).mean()
    np.testing.assert_allclose(core["var_ind"][0, 0, 0], want, rtol=2e-3)
    # the parameter part is the spread over draws of the mean over the input (here the
    # rest of the log-odds is the same in every draw)
    np.testing.assert_allclose(core["var_param"][0, 0], m1.var(), rtol=2e-3)


def test_voi_of_a_smooth_input_is_zero_without_effect_and_grows_with_uncertainty():
    s, beta, gamma = _one_smooth_input(4)
    mu = np.zeros((3, 1))
    eta_c = np.full((200, 3, 1), -2.0)
    eligible = np.ones((3, 1), bool)

    def voi(b, g, tau):
        return _gap_core(eta_c, _InputEffects(b, s, g), tau, eligible, 1, 50,
                         np.random.default_rng(1), mu=mu)["voi_p"][:, 0, 0]

    tau = np.array([[0.2], [0.6], [1.2]])
    assert np.all(voi(0 * beta, 0 * gamma, tau) == 0.0)
    v = voi(beta, gamma, tau)
    assert 0 < v[0] < v[1] < v[2]
    # a linear-only effect gives the closed-form linear path's VOI
    lin = _gap_core(eta_c, beta, tau, eligible, 1, 50, np.random.default_rng(1))["voi_p"]
    np.testing.assert_allclose(voi(beta, 0 * gamma, tau), lin[:, 0, 0], rtol=1e-12)


# --- fits: recovery of a threshold, save / load / predict, explanations ------------------

STEP = 2.5


@pytest.fixture(scope="module")
def step_fits():
    """A linear pooled logit and one with smooth terms, fitted to a toy panel whose
    log-odds rise by STEP where 'weakness' exceeds THRESHOLD (0.5)."""
    import warnings

    from r2p_models.model import fit
    from r2p_models.model.toy import toy_panel

    panel, truth = toy_panel(5, n_countries=200, n_years=25, crimes=("genocide",),
                             step=STEP, base_logit=-3.5, missing_rate=0.05,
                             sigma_country=0.0)
    through = 2020
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for knots in (0, 4):
            cfg = ModelConfig(variant="pooled", horizon=1, chains=2, draws=300, tune=300,
                              retries=0, effect_scale=0.75, smooth=knots, smooth_scale=1.5)
            out[knots] = fit(panel, cfg, through=through)
    return panel, truth, through, out


def _curve(fm, name: str, x_raw: np.ndarray) -> np.ndarray:
    """Draws of an indicator's term (linear plus smooth) at raw values: (draw, value)."""
    from r2p_models.model.predict import posterior_arrays

    std = fm.standardisation
    j = std.indicators.index(name)
    x = (np.asarray(x_raw) - std.mean[j]) / std.sd[j]
    d = posterior_arrays(fm)
    g = d["beta"][:, 0, j, None] * x[None]
    if std.smooth is not None:
        cols, b = std.smooth.columns_of(j, x)
        g = g + d["beta_smooth"][:, 0, cols] @ b.T
    return g


def test_smooth_terms_recover_a_threshold_the_linear_model_misses(step_fits):
    panel, truth, through, fits = step_fits
    assert all(f.diagnostics.max_rhat < 1.05 for f in fits.values())
    # the shape of weakness's effect on x in [-2, 2] (density-weighted, each curve centred):
    # every draw of the smooth model's curve is closer to the true one (a line with a step
    # of STEP at 0.5) than nearly every draw of the linear model's
    xs = np.linspace(-2.0, 2.0, 41)
    w = np.exp(-xs**2 / 2) / np.exp(-xs**2 / 2).sum()
    true = truth["beta"].sel(crime="genocide", indicator="weakness").item() * xs \
        + STEP * (xs > THRESHOLD)

    def errors(fm) -> np.ndarray:
        g = _curve(fm, "weakness", xs)
        return ((g - (g @ w)[:, None]) - (true - w @ true)) ** 2 @ w

    smooth, linear = errors(fits[4]), errors(fits[0])
    assert np.quantile(smooth, 0.9) < np.quantile(linear, 0.1), (smooth.mean(), linear.mean())
    # out of sample (origins after `through`), the linear model is measurably further from
    # the true probabilities
    err = {knots: oos_squared_error(m, panel, truth, through) for knots, m in fits.items()}
    assert err[4] < 0.9 * err[0], err


def test_smooth_model_saves_loads_predicts_explains_and_has_information_gaps(step_fits,
                                                                             tmp_path):
    from scipy.special import expit

    from r2p_models.infogap import information_gaps
    from r2p_models.model import load_model

    panel, _, through, fits = step_fits
    fm = fits[4]
    back = load_model(fm.save(tmp_path / "m.nc"))
    np.testing.assert_array_equal(back.predict(panel, through).values,
                                  fm.predict(panel, through).values)
    np.testing.assert_array_equal(back.standardisation.smooth.weights,
                                  fm.standardisation.smooth.weights)
    # the per-indicator contributions (smooth terms inside their indicator's) add up to the
    # forecast's log-odds
    country = str(panel.country.values[0])
    assert_log_odds_adds_up(back, panel, through, country)
    # information gaps of a smooth model: for a country whose one uncertain input is the
    # smoothed 'weakness', the watchlist probability with the gap integrated over is the
    # brute-force average of expit(log-odds) over the posterior draws and 400 draws of the
    # input from its predictive distribution; known inputs carry no value of information
    gaps = information_gaps(back, panel, through, top_n=10, n_nodes=20)
    tau = gaps["tau"].to_pandas()
    only = tau.index[(tau["weakness"] > 0) & ((tau > 0).sum(axis=1) == 1)]
    assert len(only) >= 1
    c = str(only[0])
    terms = back.log_odds_terms(panel, through, countries=[c]).sel(country=c,
                                                                  crime="genocide")
    rest = (terms["intercept"] + terms["region"] + terms["country_effect"]
            + terms["indicator_term"].sum("indicator") - terms["indicator_term"].sel(
                indicator="weakness") + terms["missing_term"].sum("flag")).values
    mu = gaps["mu"].sel(country=c, indicator="weakness").item()
    x = mu + tau.loc[c, "weakness"] * np.random.default_rng(0).standard_normal(400)
    std = back.standardisation
    j = std.indicators.index("weakness")
    g = _curve(back, "weakness", x * std.sd[j] + std.mean[j])  # (draw, 400)
    want = expit(rest[:, None] + g).mean()
    np.testing.assert_allclose(gaps["p_mean"].sel(country=c, crime="genocide").item(), want,
                               atol=0.005)
    known = gaps["tau"].values == 0
    assert np.all(gaps["voi_p"].values[:, 0, :][known] == 0)
    assert gaps["voi_p"].sel(country=c, crime="genocide", indicator="weakness").item() > 0
