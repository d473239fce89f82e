"""Information-gap shares and value of information against values worked out by hand.

The models here are not fitted: their "posterior" is prior draws overwritten with chosen
values (intercepts, one known coefficient, no country, region or missingness-flag
effect), so the log-odds is ``alpha + beta * x`` and every expected value follows in
closed form from the predictive distribution of the one uncertain input.
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import integrate, stats
from scipy.special import expit

from r2p_models import infogap
from r2p_models.cli import EXIT_BAD_INPUT, EXIT_OK, main
from r2p_models.config import ModelConfig, load_config
from r2p_models.data.panel import load_panel
from r2p_models.model import build_design, build_model
from r2p_models.model.fit import KEEP, ConvergenceReport, assemble
from r2p_models.model.toy import toy_panel

ORIGIN = 2007
CRIMES = ("genocide", "war_crimes")
GAP = ("C003", "conflict")  # the one uncertain input
S = 400


def _panel() -> object:
    panel, _ = toy_panel(5, n_countries=8, n_years=8, missing_rate=0.0, crimes=CRIMES)
    # everyone at risk at the origin (the last year: no outcome of it is used in training)
    panel["onset"].loc[{"year": ORIGIN}] = 0.0
    panel["ongoing"].loc[{"year": ORIGIN}] = 0.0
    panel["X"].loc[{"country": GAP[0], "year": ORIGIN, "indicator": GAP[1]}] = np.nan
    panel["X_var"].loc[{"country": GAP[0], "year": ORIGIN, "indicator": GAP[1]}] = np.nan
    return panel


def _report() -> ConvergenceReport:
    return ConvergenceReport(ok=True, max_rhat=1.0, min_ess_bulk=1e3, min_ess_tail=1e3,
                             divergences=0, worst={}, sampler="prior", sampling_seconds=1.0,
                             compile_seconds=0.0)


def _model(panel, mode: str, alpha: np.ndarray, beta: dict[str, tuple[float, ...]],
           config: ModelConfig | None = None, config_hash: str | None = None):
    """A model whose draws are ``alpha`` (draw, crime) and the given constant coefficients
    (indicator -> one per crime; the others 0); no other effect."""
    design = build_design(panel, horizon=1, missing=mode)
    with build_model(design):
        prior = pm.sample_prior_predictive(draws=S, random_seed=3).prior
    post = prior[[v for v in KEEP if v in prior]].copy(deep=True)
    post["alpha"].values[0] = alpha
    b = np.zeros(post["beta"].shape[2:])
    for name, values in beta.items():
        b[:, list(design.indicators).index(name)] = values
    post["beta"].values[0] = b
    for name in ("a_country", "a_region", "beta_missing"):
        if name in post:
            post[name].values[:] = 0.0
    cfg = config or ModelConfig(horizon=1, missing=mode)
    return assemble(az.InferenceData(posterior=post), _report(), design, cfg, panel,
                    config_hash_value=config_hash)


def _impute(fm) -> tuple[float, float]:
    """The model's imputation distribution of the gap (bayes mode)."""
    const = fm.idata.constant_data
    mu = float(const["impute_mean"].sel(country=GAP[0], indicator=GAP[1]))
    return mu, float(const["impute_sd"].sel(indicator=GAP[1]))


def _x_std(fm, panel) -> pd.Series:
    """Standardised values of the gap's indicator at the origin (no measurement error)."""
    std = fm.standardisation
    j = list(std.indicators).index(GAP[1])
    raw = panel["X"].sel(year=ORIGIN, indicator=GAP[1]).to_series()
    return (raw - std.mean[j]) / std.sd[j]


def _expected_abs_dev(f, mu: float, tau: float) -> float:
    """E|f(X) - E f(X)| for X ~ Normal(mu, tau^2), by adaptive quadrature."""
    pdf = stats.norm(mu, tau).pdf
    lo, hi = mu - 12 * tau, mu + 12 * tau
    mean = integrate.quad(lambda x: f(x) * pdf(x), lo, hi, limit=200)[0]
    return integrate.quad(lambda x: abs(f(x) - mean) * pdf(x), lo, hi, limit=200)[0]


@pytest.fixture(scope="module")
def panel():
    return _panel()


def test_variance_share_is_beta_squared_tau_squared_over_the_total(panel):
    rng = np.random.default_rng(0)
    alpha = rng.normal(-2.0, 0.3, size=(S, 2))
    b = (0.8, 0.4)
    fm = _model(panel, "bayes", alpha, {GAP[1]: b})
    g = infogap.information_gaps(fm, panel, ORIGIN, top_n=3)
    mu, tau = _impute(fm)
    assert g["kind"].sel(country=GAP[0], indicator=GAP[1]) == "missing"
    assert float(g["mu"].sel(country=GAP[0], indicator=GAP[1])) == pytest.approx(mu)
    assert float(g["tau"].sel(country=GAP[0], indicator=GAP[1])) == pytest.approx(tau)
    for k, crime in enumerate(CRIMES):
        gap = b[k] ** 2 * tau**2
        param = alpha[:, k].var()
        c = g.sel(country=GAP[0], crime=crime)
        assert float(c["var_param"]) == pytest.approx(param, rel=1e-9)
        assert float(c["var_gap"]) == pytest.approx(gap, rel=1e-9)
        assert float(c["var_missing"]) == pytest.approx(gap, rel=1e-9)
        assert float(c["var_unreliable"]) == 0.0
        assert float(c["share_gap"]) == pytest.approx(gap / (gap + param), rel=1e-9)
    # every other country has no gap: share 0 and VOI 0, exactly
    others = g.drop_sel(country=GAP[0])
    assert (others["share_gap"] == 0).all() and (others["voi_p"] == 0).all()
    assert (others["voi_top_n"] == 0).all()
    assert (others["kind"] == "").all()


def test_the_decomposition_is_the_law_of_total_variance(panel):
    """Simulating the input alongside the draws gives the same variance, within the
    Monte Carlo error of a variance estimate (sd ~ var * sqrt(2 / n) for near-normal)."""
    rng = np.random.default_rng(1)
    alpha = rng.normal(-2.0, 0.5, size=(S, 2))
    fm = _model(panel, "bayes", alpha, {GAP[1]: (1.2, -0.5)})
    # coefficients that vary by draw: E[beta^2] is what counts
    beta = fm.idata.posterior["beta"]
    j = list(beta["indicator"].values).index(GAP[1])
    beta.values[0, :, 0, j] = rng.normal(1.2, 0.4, size=S)
    g = infogap.information_gaps(fm, panel, ORIGIN)
    mu, tau = _impute(fm)
    b = beta.values[0, :, 0, j]
    assert float(g["var_gap"].sel(country=GAP[0], crime="genocide")) == pytest.approx(
        (b**2).mean() * tau**2, rel=1e-9)
    reps = 200
    z = rng.standard_normal((reps, S))
    eta = alpha[None, :, 0] + b[None] * (mu + tau * z)
    total = float(g["var_param"].sel(country=GAP[0], crime="genocide")
                  + g["var_gap"].sel(country=GAP[0], crime="genocide"))
    assert float(g["var_param"].sel(country=GAP[0], crime="genocide")) == pytest.approx(
        (alpha[:, 0] + b * mu).var(), rel=1e-9)
    assert eta.var() == pytest.approx(total, abs=5 * total * np.sqrt(2 / eta.size))


def test_voi_matches_the_closed_form_expectations(panel):
    a, b, n_nodes = -1.5, (0.9, 0.5), 2000
    fm = _model(panel, "bayes", np.full((S, 2), a), {GAP[1]: b})
    g = infogap.information_gaps(fm, panel, ORIGIN, top_n=1, n_nodes=n_nodes)
    mu, tau = _impute(fm)
    tol = 1.5 / n_nodes  # Koksma-Hlawka bound of the quantile nodes (module docstring)
    x = _x_std(fm, panel).drop(GAP[0])
    for k, crime in enumerate(CRIMES):
        c = g.sel(country=GAP[0], crime=crime, indicator=GAP[1])
        expected = _expected_abs_dev(lambda v, bk=b[k]: expit(a + bk * v), mu, tau)
        assert expected > 0.01
        assert float(c["voi_p"]) == pytest.approx(expected, abs=tol)
        # top 1: in the top iff b (mu + tau Z) beats the best other country
        best = (b[k] * x).max()
        pi = float(stats.norm.sf((best / b[k] - mu) / tau))
        # P(top N) itself integrates the input over S stratified draws (error <= 1/(2S))
        assert float(g["p_top_n"].sel(country=GAP[0], crime=crime)) == pytest.approx(
            pi, abs=1 / (2 * S) + 1e-12)
        assert float(c["voi_top_n"]) == pytest.approx(2 * pi * (1 - pi), abs=tol)
        # no parameter uncertainty: the gap is all of the variance
        assert float(g["share_gap"].sel(country=GAP[0], crime=crime)) == 1.0
    assert g.attrs["voi_error_bound"] == pytest.approx(tol)


def test_voi_is_zero_for_a_zero_effect_and_grows_with_the_input_spread(panel):
    rng = np.random.default_rng(2)
    alpha = rng.normal(-2.0, 0.3, size=(S, 2))
    zero = _model(panel, "bayes", alpha, {GAP[1]: (0.0, 0.0), "weakness": (0.7, 0.7)})
    g0 = infogap.information_gaps(zero, panel, ORIGIN)
    assert (g0["voi_p"] == 0).all() and (g0["voi_top_n"] == 0).all()
    assert (g0["var_gap"] == 0).all() and (g0["share_gap"] == 0).all()

    fm = _model(panel, "bayes", alpha, {GAP[1]: (0.6, 0.3)})
    g1 = infogap.information_gaps(fm, panel, ORIGIN)
    fm.idata.constant_data["impute_sd"].values[:] *= 2.0
    g2 = infogap.information_gaps(fm, panel, ORIGIN)
    sel = {"country": GAP[0], "indicator": GAP[1]}
    assert (g2["voi_p"].sel(**sel) > g1["voi_p"].sel(**sel)).all()
    np.testing.assert_allclose(g2["var_gap"].sel(country=GAP[0]),
                               4 * g1["var_gap"].sel(country=GAP[0]), rtol=1e-12)


def test_carried_forward_gap_uses_the_pooled_within_country_spread(panel):
    fm = _model(panel, "carry_forward", np.full((S, 2), -2.0), {GAP[1]: (0.8, 0.4)})
    unc = infogap.input_uncertainty(fm, panel, ORIGIN)
    std = fm.standardisation
    j = list(std.indicators).index(GAP[1])
    z = ((panel["X"].sel(indicator=GAP[1]).to_pandas() - std.mean[j]) / std.sd[j])
    dev = z.sub(z.mean(axis=1), axis=0)  # deviation from each country's mean
    dof = (z.notna().sum(axis=1) - 1).clip(lower=0).sum()
    within = np.sqrt((dev**2).sum().sum() / dof)
    assert float(unc["tau"].sel(country=GAP[0], indicator=GAP[1])) == pytest.approx(within)
    # centred on the carried-forward value the forecast uses
    last = z.loc[GAP[0], ORIGIN - 1]
    assert float(unc["mu"].sel(country=GAP[0], indicator=GAP[1])) == pytest.approx(last)
    assert float(unc["x_std"].sel(country=GAP[0], indicator=GAP[1])) == pytest.approx(last)


def test_an_unreliable_fused_value_has_the_regression_calibration_variance():
    panel = _panel()
    cell = {"country": "C005", "year": ORIGIN, "indicator": "weakness"}
    panel["X_var"].loc[cell] = 0.5
    fm = _model(panel, "carry_forward", np.full((S, 2), -2.0), {"weakness": (0.5, 1.0)})
    std = fm.standardisation
    j = list(std.indicators).index("weakness")
    v = std.true_var[j]
    assert np.isfinite(v)
    lam = v / (v + 0.5)  # reliability; Var[true | measured] = lam * X_var (raw scale)
    tau2 = lam * 0.5 / std.sd[j] ** 2
    g = infogap.information_gaps(fm, panel, ORIGIN)
    at = {"country": "C005", "indicator": "weakness"}
    assert g["kind"].sel(**at) == "unreliable"
    assert float(g["tau"].sel(**at)) ** 2 == pytest.approx(tau2)
    for k, crime in enumerate(CRIMES):
        c = g.sel(country="C005", crime=crime)
        assert float(c["var_unreliable"]) == pytest.approx((0.5, 1.0)[k] ** 2 * tau2)
        assert float(c["share_unreliable"]) == float(c["share_gap"]) == 1.0  # no param var
        assert float(c["var_missing"]) == 0.0


def test_ranking_and_voi_table_follow_the_gaps(panel):
    p2 = _panel()
    p2["X"].loc[{"country": "C006", "year": ORIGIN, "indicator": "repression"}] = np.nan
    p2["ongoing"].loc[{"country": "C007", "year": ORIGIN}] = 1.0  # not at risk
    words = "Armed conflict under way"  # how a reader knows GAP[1]; repression: no words
    p2 = p2.assign_coords(description=("indicator", [
        words if i == GAP[1] else "" for i in p2["indicator"].values]))
    rng = np.random.default_rng(4)
    fm = _model(p2, "bayes", rng.normal(-2.0, 0.3, size=(S, 2)),
                {GAP[1]: (1.0, 1.0), "repression": (0.2, 0.2)})
    g = infogap.information_gaps(fm, p2, ORIGIN, top_n=2)
    for by in ("voi_p", "share_gap", "var_gap", "voi_top_n"):
        r = infogap.gap_ranking(g, by=by, crime="genocide")
        assert list(r["rank"]) == list(range(1, 8)) and "C007" not in set(r["country"])
        assert r[by].is_monotonic_decreasing
    everyone = infogap.gap_ranking(g, crime="genocide", at_risk_only=False)
    assert len(everyone) == 8 and np.isnan(
        everyone.set_index("country").loc["C007", "rank"])
    assert list(everyone["rank"].dropna()) == list(range(1, 8))
    r = infogap.gap_ranking(g)
    gen = r[r["crime"] == "genocide"].set_index("country")
    assert gen.loc[GAP[0], "rank"] == 1 and gen.loc[GAP[0], "best_indicator"] == GAP[1]
    assert gen.loc["C006", "rank"] == 2 and gen.loc["C006", "best_indicator"] == "repression"
    assert gen.loc[GAP[0], "best_description"] == words
    assert gen.loc["C006", "best_description"] == "repression"  # no words: the code
    assert (gen.drop(index=[GAP[0], "C006"])["voi_p"] == 0).all()
    assert (gen.drop(index=[GAP[0], "C006"])["best_indicator"] == "").all()
    table = infogap.voi_table(g)
    assert len(table) == 4  # two gaps x two crimes (C007, not at risk, has none)
    assert table["voi_p"].is_monotonic_decreasing
    first = table.iloc[0]
    assert first["country"] == GAP[0] and first["indicator"] == GAP[1]
    assert first["description"] == words
    assert first["statement"].startswith(
        f"collecting {words} ({GAP[1]}), missing, in Toy {GAP[0]}")
    other = table[table["indicator"] == "repression"].iloc[0]
    assert other["statement"].startswith("collecting repression, missing, in Toy C006")
    assert f"{100 * first['voi_p']:.2f} percentage points" in first["statement"]
    assert f"genocide watchlist probability ({100 * first['p_mean']:.1f} %)" in first[
        "statement"] or f"war crimes watchlist probability ({100 * first['p_mean']:.1f} %)" \
        in first["statement"]
    assert len(infogap.voi_table(g, min_voi=float(table["voi_p"].max()) + 1e-9)) == 0
    fig = infogap.plot_information_gaps(g, crime="genocide")
    assert len(fig.axes) == 2
    # the country not at risk is not forecast: grey, and outside the colour scale
    from matplotlib.colors import to_rgba

    ax = fig.axes[0]
    codes = [str(c) for c in g["country"].values]
    labels = [t.get_text() for t in ax.texts if t.get_text() in codes]
    colours = dict(zip(labels, (p.get_facecolor() for p in ax.patches), strict=True))
    assert colours["C007"] == to_rgba("#e6e6e6")
    assert all(colours[c] != to_rgba("#e6e6e6") for c in codes if c != "C007")
    risky = everyone[everyone["at_risk"]]["share_gap"]
    vmax = fig.axes[1].collections[0].norm.vmax if fig.axes[1].collections else None
    assert vmax is None or vmax == pytest.approx(max(0.1, np.ceil(risky.max() * 10) / 10))


def test_bad_arguments_are_refused_with_a_clear_message(panel):
    fm = _model(panel, "bayes", np.full((S, 2), -2.0), {GAP[1]: (1.0, 1.0)})
    with pytest.raises(infogap.InfoGapError, match="top_n"):
        infogap.information_gaps(fm, panel, ORIGIN, top_n=0)
    with pytest.raises(infogap.InfoGapError, match="n_nodes"):
        infogap.information_gaps(fm, panel, ORIGIN, n_nodes=1)
    with pytest.raises(Exception, match="origin_year"):
        infogap.information_gaps(fm, panel, 1990)
    g = infogap.information_gaps(fm, panel, ORIGIN, n_nodes=10)
    with pytest.raises(infogap.InfoGapError, match="by"):
        infogap.gap_ranking(g, by="size")
    with pytest.raises(infogap.InfoGapError, match="crime"):
        infogap.gap_ranking(g, crime="piracy")
    with pytest.raises(infogap.InfoGapError, match="information_gaps"):
        infogap.voi_table(g[["share_gap"]])
    with pytest.raises(infogap.InfoGapError, match="min_voi"):
        infogap.voi_table(g, min_voi=-1)


CONFIG = """
[data]
table = "panel.csv"
country = "ccode"
year = "year"
predictors = ["x", "z"]
[outcomes]
genocide = "onset"
war_crimes = "onset2"
[ledger]
path = "out/ledger.sqlite"
"""


def test_cli_writes_the_voi_table_ranking_and_figure(tmp_path: Path, capsys):
    rng = np.random.default_rng(5)
    rows = [{"ccode": c, "year": y, "x": rng.normal(), "z": rng.normal(),
             "onset": int((c, y) == (3, 2001)), "onset2": int((c, y) == (1, 2002))}
            for c in range(6) for y in range(2000, 2006)]
    df = pd.DataFrame(rows)
    df.loc[(df["ccode"] == 2) & (df["year"] == 2005), "x"] = np.nan
    df.to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "run.toml").write_text(CONFIG)
    cfg = load_config(tmp_path / "run.toml")
    panel = load_panel(cfg)
    fm = _model(panel, cfg.model.missing, np.full((S, 2), -2.0), {"x": (1.0, 1.0)},
                config=cfg.model, config_hash=cfg.hash())
    run = tmp_path / "out" / "runs" / "r1"
    run.mkdir(parents=True)
    fm.save(run / "model.nc")
    out, ranking, fig = tmp_path / "voi.csv", tmp_path / "rank.csv", tmp_path / "map.png"
    code = main(["infogap", "--config", str(tmp_path / "run.toml"), "--run", str(run),
                 "--out", str(out), "--ranking", str(ranking), "--figure", str(fig)])
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "origin 2005" in printed and "collecting x, missing, in 2" in printed
    voi = pd.read_csv(out)
    assert set(voi["indicator"]) == {"x"} and set(voi["country"].astype(str)) == {"2"}
    assert pd.read_csv(ranking).groupby("crime")["rank"].min().eq(1).all()
    assert fig.stat().st_size > 1000
    # a folder without a model is named in the error
    assert main(["infogap", "--config", str(tmp_path / "run.toml"), "--run",
                 str(tmp_path)]) == EXIT_BAD_INPUT
    assert "no model.nc" in capsys.readouterr().err


def test_report_section_shows_the_ranking_the_voi_and_the_map(panel, tmp_path: Path):
    from html.parser import HTMLParser

    from r2p_models.ledger import Ledger
    from r2p_models.report import ReportInputError, build_report

    rng = np.random.default_rng(6)
    fm = _model(panel, "bayes", rng.normal(-2.0, 0.3, size=(S, 2)), {GAP[1]: (0.9, 0.5)})
    gaps = infogap.information_gaps(fm, panel, ORIGIN, top_n=3)
    path = tmp_path / "empty.sqlite"
    Ledger(path).close()

    class Page(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.section, self.row, self.cells, self.images = "", {}, [], []

        def handle_starttag(self, tag, attrs):
            a = {k: v or "" for k, v in attrs}
            if tag == "section":
                self.section = a["id"]
            elif tag == "tr":
                self.row = {k[5:]: v for k, v in a.items() if k.startswith("data-")}
            elif tag == "td" and "data-metric" in a:
                self.cells.append({"section": self.section, **self.row,
                                   "metric": a["data-metric"], "value": a["data-value"]})
            elif tag == "img":
                self.images.append(self.section)

    html = build_report(path, n_boot=10, infogap=gaps)
    page = Page()
    page.feed(html)
    cells = [c for c in page.cells if c["section"] == "information-gaps"]
    voi = [c for c in cells if c["metric"] == "voi_p_points" and c.get("country") == GAP[0]
           and c.get("crime") == "genocide"]
    expected = 100 * float(gaps["voi_p"].sel(country=GAP[0], crime="genocide",
                                             indicator=GAP[1]))
    assert voi and all(float(c["value"]) == pytest.approx(expected) for c in voi)
    share = [c for c in cells if c["metric"] == "share_gap" and c.get("country") == GAP[0]
             and c.get("crime") == "genocide"]
    assert float(share[0]["value"]) == pytest.approx(
        float(gaps["share_gap"].sel(country=GAP[0], crime="genocide")))
    assert "information-gaps" in page.images
    assert f"collecting {GAP[1]}, missing, in Toy {GAP[0]}" in html
    # the tables a run saves as CSV give the same section
    tables = {"ranking": infogap.gap_ranking(gaps, at_risk_only=False),
              "voi": infogap.voi_table(gaps)}
    for key, frame in tables.items():
        frame.to_csv(tmp_path / f"{key}.csv", index=False)
    back = {k: pd.read_csv(tmp_path / f"{k}.csv", dtype={"country": str}) for k in tables}
    back["ranking"]["best_indicator"] = back["ranking"]["best_indicator"].fillna("")
    assert build_report(path, n_boot=10, infogap={**back, "top_n": 3}) == html
    assert "Not available: no information-gap analysis" in build_report(path, n_boot=10)
    with pytest.raises(ReportInputError, match="lacks column"):
        build_report(path, n_boot=10, infogap={"ranking": back["ranking"][["crime"]],
                                               "voi": back["voi"]})
