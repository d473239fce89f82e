"""Tests of evidence fusion against simulations with known reliabilities and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import optimize, stats

from r2p_models.data.fusion import FusionError, FusionResult, FusionWarning, fuse_reports

# Two indicators on different scales, four sources with known error variances, biases that
# sum to zero (the identification fuse_reports uses) and reporting probabilities < 1.
TRUTH_PARAMS = {
    "killings": {
        "mu": 2.0,
        "tau2": 1.0,
        "sig2": {"un": 0.2, "gov": 0.5, "ngo": 1.0, "media": 2.0},
        "bias": {"un": -0.4, "gov": 0.1, "ngo": 0.5, "media": -0.2},
        "p": {"un": 0.9, "gov": 0.8, "ngo": 0.6, "media": 0.4},
    },
    "displacement": {
        "mu": -10.0,
        "tau2": 9.0,
        "sig2": {"un": 2.0, "gov": 9.0, "ngo": 4.0},
        "bias": {"un": 1.0, "gov": -3.0, "ngo": 2.0},
        "p": {"un": 0.7, "gov": 0.9, "ngo": 0.5},
    },
}
N_COUNTRIES, N_YEARS = 250, 40  # 10 000 country-years per indicator


def simulate(
    seed: int, n_countries: int = N_COUNTRIES, n_years: int = N_YEARS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reports (long table) and the true values, indexed by (country, year, indicator)."""
    rng = np.random.default_rng(seed)
    countries = np.repeat([f"C{i:04d}" for i in range(n_countries)], n_years)
    years = np.tile(np.arange(1980, 1980 + n_years), n_countries)
    reports, truths = [], []
    for ind, par in TRUTH_PARAMS.items():
        truth = rng.normal(par["mu"], np.sqrt(par["tau2"]), countries.size)
        truths.append(pd.DataFrame({"country": countries, "year": years, "indicator": ind,
                                    "truth": truth}))
        for src, sig2 in par["sig2"].items():
            keep = rng.random(countries.size) < par["p"][src]
            value = truth + par["bias"][src] + rng.normal(0, np.sqrt(sig2), countries.size)
            reports.append(pd.DataFrame({"country": countries[keep], "year": years[keep],
                                         "indicator": ind, "source": src,
                                         "value": value[keep]}))
    rep = pd.concat(reports, ignore_index=True)
    rep = rep.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # order is irrelevant
    truth = pd.concat(truths).set_index(["country", "year", "indicator"])["truth"]
    return rep, truth


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, pd.Series, FusionResult]:
    rep, truth = simulate(20240611)
    return rep, truth, fuse_reports(rep)


def _long(res: FusionResult) -> pd.DataFrame:
    df = pd.DataFrame({
        "estimate": res.estimate.to_series(),
        "variance": res.variance.to_series(),
        "n_sources": res.n_sources.to_series(),
    })
    return df[df["n_sources"] > 0]


# ------------------------------------------------------------------ recovery of known truth
# Tolerances come from the sampling spread of the estimates in this very design, measured over
# 30 replications (seeds 0-29): SD of the relative error of sigma2 <= 0.040 (the most precise
# sources, whose error is hard to separate from the others'; 0.020-0.032 for the rest), of the
# bias 0.011 and of mu 0.011 (in units of sqrt(tau2)), of the reliability 0.0063, of the
# relative error of tau2 0.014. The bounds below are about 4 SD or more.


def test_error_variances_and_reliabilities_recovered(sim):
    _, _, res = sim
    for ind, par in TRUTH_PARAMS.items():
        for src, sig2 in par["sig2"].items():
            row = res.sources.loc[(ind, src)]
            assert bool(row["estimated"])
            assert row["error_variance"] == pytest.approx(sig2, rel=0.15), (ind, src)
            true_rel = par["tau2"] / (par["tau2"] + sig2)
            assert row["reliability"] == pytest.approx(true_rel, abs=0.03), (ind, src)


def test_biases_and_truth_distribution_recovered(sim):
    _, _, res = sim
    for ind, par in TRUTH_PARAMS.items():
        sd = np.sqrt(par["tau2"])
        for src, bias in par["bias"].items():
            assert res.sources.loc[(ind, src), "bias"] == pytest.approx(bias, abs=0.05 * sd)
        assert res.sources.loc[ind, "bias"].sum() == pytest.approx(0.0, abs=1e-9)
        assert res.indicators.loc[ind, "mu"] == pytest.approx(par["mu"], abs=0.05 * sd)
        assert res.indicators.loc[ind, "tau2"] == pytest.approx(par["tau2"], rel=0.06)
        assert bool(res.indicators.loc[ind, "converged"])


def test_fused_estimate_beats_every_single_source(sim):
    rep, truth, res = sim
    fused = _long(res)
    for (ind, src), grp in rep.groupby(["indicator", "source"]):
        key = pd.MultiIndex.from_arrays([grp["country"], grp["year"], grp["indicator"]])
        err_src = grp["value"].to_numpy() - TRUTH_PARAMS[ind]["bias"][src] - truth.loc[key]
        err_fused = fused["estimate"].loc[key].to_numpy() - truth.loc[key].to_numpy()
        # the source alone, even corrected with its *true* bias, is worse on its own units
        assert np.mean(err_fused**2) < 0.9 * np.mean(err_src.to_numpy() ** 2), (ind, src)


def test_stated_variance_matches_empirical_error(sim):
    _, truth, res = sim
    fused = _long(res)
    err2 = (fused["estimate"] - truth.loc[fused.index]) ** 2
    z2 = err2 / fused["variance"]
    # E[z^2] = 1 with SD sqrt(2 / n) if the variance is right; check overall and per number
    # of reporting sources (the variance differs by a factor of ~10 between these groups)
    for n_src, grp in z2.groupby(fused["n_sources"]):
        n = len(grp)
        if n < 200:
            continue
        assert grp.mean() == pytest.approx(1.0, abs=4 * np.sqrt(2 / n)), n_src
    for ind in TRUTH_PARAMS:
        sel = fused.index.get_level_values("indicator") == ind
        assert err2[sel].mean() / fused["variance"][sel].mean() == pytest.approx(1.0, abs=0.06)


def test_dims_coords_and_missing(sim):
    rep, _, res = sim
    for arr in (res.estimate, res.variance, res.n_sources):
        assert arr.dims == ("country", "year", "indicator")
    assert res.n_sources.dtype.kind == "i"
    assert list(res.estimate["indicator"].values) == sorted(TRUTH_PARAMS)
    assert res.estimate["year"].dtype.kind == "i"
    missing = res.n_sources.values == 0
    assert missing.any()
    assert np.isnan(res.estimate.values[missing]).all()
    assert np.isnan(res.variance.values[missing]).all()
    assert np.isfinite(res.estimate.values[~missing]).all()
    n_rep = rep.groupby(["country", "year", "indicator"]).size()
    got = res.n_sources.to_series()
    assert (got.loc[n_rep.index] == n_rep).all()
    assert got.sum() == len(rep)
    assert (res.sources["n_reports"] == rep.groupby(["indicator", "source"]).size()).all()


# ------------------------------------------------------------------ closed forms, direct ML


def _reports(data: dict[str, np.ndarray], indicator: str = "x", year: int = 2000) -> pd.DataFrame:
    rows = [
        pd.DataFrame({"country": [f"c{i:04d}" for i in np.flatnonzero(~np.isnan(v))],
                      "year": year, "indicator": indicator, "source": src,
                      "value": v[~np.isnan(v)]})
        for src, v in data.items()
    ]
    return pd.concat(rows, ignore_index=True)


def test_two_sources_full_overlap_closed_form():
    # With two sources reporting every unit the model is saturated (5 parameters for the
    # 2 means and 3 (co)variances), so the MLE is the sample moments:
    # tau2 = S_ab, sigma2_a = S_aa - S_ab, sigma2_b = S_bb - S_ab, bias_a = (mean_a - mean_b)/2.
    rng = np.random.default_rng(1)
    t = rng.normal(0.5, 1.0, 400)
    a = t + 0.3 + rng.normal(0, 0.6, t.size)
    b = t - 0.3 + rng.normal(0, 1.1, t.size)
    res = fuse_reports(_reports({"a": a, "b": b}), tol=1e-12, max_iter=2000)
    cov = np.cov(a, b, bias=True)
    src = res.sources.loc["x"]
    assert src.loc["a", "error_variance"] == pytest.approx(cov[0, 0] - cov[0, 1], rel=1e-6)
    assert src.loc["b", "error_variance"] == pytest.approx(cov[1, 1] - cov[0, 1], rel=1e-6)
    assert src.loc["a", "bias"] == pytest.approx((a.mean() - b.mean()) / 2, rel=1e-6)
    assert src.loc["b", "bias"] == pytest.approx(-(a.mean() - b.mean()) / 2, rel=1e-6)
    assert res.indicators.loc["x", "tau2"] == pytest.approx(cov[0, 1], rel=1e-6)
    assert res.indicators.loc["x", "mu"] == pytest.approx((a.mean() + b.mean()) / 2, rel=1e-6)
    wa, wb = 1 / src.loc["a", "error_variance"], 1 / src.loc["b", "error_variance"]
    expected = (wa * (a - src.loc["a", "bias"]) + wb * (b - src.loc["b", "bias"])) / (wa + wb)
    got = res.estimate.sel(year=2000, indicator="x").values
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    np.testing.assert_allclose(res.variance.values, 1 / (wa + wb), rtol=1e-12)


def test_matches_direct_maximum_likelihood():
    # Three sources with missing reports (every unit reported by >= 2): maximise the marginal
    # likelihood N(mu + bias, tau2 11' + diag(sigma2)) directly with scipy and compare.
    rng = np.random.default_rng(3)
    n, sig2, bias = 300, np.array([0.3, 0.8, 1.5]), np.array([0.5, -0.2, -0.3])
    t = rng.normal(1.0, 1.0, n)
    obs = rng.random((3, n)) < np.array([0.9, 0.7, 0.6])[:, None]
    obs[:, obs.sum(axis=0) < 2] = True
    y = t + bias[:, None] + rng.normal(0, 1, (3, n)) * np.sqrt(sig2)[:, None]
    patterns, inv = np.unique(obs.T, axis=0, return_inverse=True)

    def nll(th: np.ndarray) -> float:
        b = np.r_[th[2:4], -th[2:4].sum()]
        s2 = np.exp(th[4:])
        total = 0.0
        for i, pat in enumerate(patterns):
            cov = np.exp(th[1]) * np.ones((pat.sum(), pat.sum())) + np.diag(s2[pat])
            vals = y[pat][:, inv.ravel() == i].T
            total += stats.multivariate_normal(th[0] + b[pat], cov).logpdf(vals).sum()
        return -total

    opt = optimize.minimize(nll, np.zeros(7), method="BFGS", options={"gtol": 1e-7})
    data = {f"s{s}": np.where(obs[s], y[s], np.nan) for s in range(3)}
    res = fuse_reports(_reports(data))
    src = res.sources.loc["x"]
    np.testing.assert_allclose(src["error_variance"].to_numpy(), np.exp(opt.x[4:]), rtol=1e-3)
    np.testing.assert_allclose(src["bias"].to_numpy(), np.r_[opt.x[2:4], -opt.x[2:4].sum()],
                               atol=1e-4)
    assert res.indicators.loc["x", "tau2"] == pytest.approx(np.exp(opt.x[1]), rel=1e-3)
    assert res.indicators.loc["x", "mu"] == pytest.approx(opt.x[0], abs=1e-4)


def test_location_scale_equivariance(sim):
    rep, _, res = sim
    sub = rep[rep["indicator"] == "killings"]
    base = fuse_reports(sub)
    moved = fuse_reports(sub.assign(value=3.0 - 10.0 * sub["value"]))
    np.testing.assert_allclose(moved.estimate.values, 3.0 - 10.0 * base.estimate.values,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(moved.variance.values, 100.0 * base.variance.values, rtol=1e-4)
    np.testing.assert_allclose(moved.sources["reliability"], base.sources["reliability"],
                               rtol=1e-4)
    # fusing one indicator alone gives what it got when fused together with the others
    np.testing.assert_allclose(base.estimate.values[..., 0],
                               res.estimate.sel(indicator="killings").values, rtol=1e-6)


# ------------------------------------------------------------------ user-given variances


def test_user_given_error_variance_is_respected(sim):
    rep, _, _ = sim
    sub = rep[rep["indicator"] == "killings"]
    res = fuse_reports(sub, error_variance={("killings", "gov"): 3.0})
    row = res.sources.loc[("killings", "gov")]
    assert row["error_variance"] == 3.0
    assert not row["estimated"]
    assert row["reliability"] == pytest.approx(
        res.indicators.loc["killings", "tau2"] / (res.indicators.loc["killings", "tau2"] + 3.0)
    )
    assert res.sources.loc[("killings", "un"), "estimated"]
    # a country-year reported by gov alone carries gov's given variance
    only_gov = sub.groupby(["country", "year"]).filter(lambda g: list(g["source"]) == ["gov"])
    r = only_gov.iloc[0]
    assert res.variance.sel(country=r["country"], year=r["year"], indicator="killings") == 3.0


def test_single_source_passes_through():
    values = np.array([0.0, 1.5, -2.25, 1e6, 3.0])
    rep = _reports({"wb": values}, indicator="gdp")
    with pytest.raises(ValueError, match=r"source 'wb' of indicator 'gdp'.*error_variance"):
        fuse_reports(rep)
    exact = fuse_reports(rep, error_variance={("gdp", "wb"): 0.0})
    np.testing.assert_array_equal(exact.estimate.values.ravel(), values)
    np.testing.assert_array_equal(exact.variance.values.ravel(), 0.0)
    assert exact.sources.loc[("gdp", "wb"), "bias"] == 0.0
    assert exact.sources.loc[("gdp", "wb"), "reliability"] == 1.0
    noisy = fuse_reports(rep, error_variance={("gdp", "wb"): 0.3})
    np.testing.assert_array_equal(noisy.estimate.values.ravel(), values)
    np.testing.assert_array_equal(noisy.variance.values.ravel(), 0.3)
    # reliability = tau2 / (tau2 + 0.3) with the ML tau2 = var(values) - 0.3 (equal variances)
    tau2 = values.var() - 0.3
    assert noisy.indicators.loc["gdp", "tau2"] == pytest.approx(tau2, rel=1e-6)


def test_exact_source_pins_the_estimate():
    rng = np.random.default_rng(5)
    t = rng.normal(0, 1, 300)
    exact = t.copy()
    noisy = np.where(np.arange(300) % 2 == 0, t + 0.5 + rng.normal(0, 0.7, 300), np.nan)
    noisy2 = np.where(np.arange(300) % 3 == 0, t - 0.1 + rng.normal(0, 1.2, 300), np.nan)
    res = fuse_reports(_reports({"exact": exact, "noisy": noisy, "noisy2": noisy2}),
                       error_variance={("x", "exact"): 0.0})
    src = res.sources.loc["x"]
    # bias differences to an exact source are the mean differences, biases sum to zero
    d1 = np.nanmean(noisy - exact)
    d2 = np.nanmean(noisy2 - exact)
    assert src.loc["noisy", "bias"] - src.loc["exact", "bias"] == pytest.approx(d1, abs=1e-6)
    assert src.loc["noisy2", "bias"] - src.loc["exact", "bias"] == pytest.approx(d2, abs=1e-6)
    assert src["bias"].sum() == pytest.approx(0.0, abs=1e-12)
    got = res.estimate.sel(year=2000, indicator="x").values
    np.testing.assert_allclose(got, exact - src.loc["exact", "bias"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.variance.values, 0.0)


def test_source_that_never_overlaps():
    rng = np.random.default_rng(7)
    t = rng.normal(0, 1, 200)
    a = t + rng.normal(0, 0.5, 200)
    b = t + rng.normal(0, 0.8, 200)
    rep = _reports({"a": a, "b": b})
    lonely = _reports({"lonely": np.array([10.0, 11.0, 12.0])}, year=1999)
    both = pd.concat([rep, lonely], ignore_index=True)
    with pytest.raises(ValueError, match=r"source 'lonely' of indicator 'x' never reports"):
        fuse_reports(both)
    res = fuse_reports(both, error_variance={("x", "lonely"): 2.5})
    row = res.sources.loc[("x", "lonely")]
    assert (row["bias"], row["error_variance"], row["n_overlap"]) == (0.0, 2.5, 0)
    assert not row["estimated"]
    np.testing.assert_array_equal(
        res.estimate.sel(year=1999, indicator="x").dropna("country").values, [10.0, 11.0, 12.0]
    )
    np.testing.assert_array_equal(
        res.variance.sel(year=1999, indicator="x").dropna("country").values, 2.5
    )
    # the lonely source changes nothing for the others
    alone = fuse_reports(rep)
    np.testing.assert_allclose(res.sources.loc[("x", "a"), "error_variance"],
                               alone.sources.loc[("x", "a"), "error_variance"], rtol=1e-9)


# ------------------------------------------------------------------ panel arrays


def test_to_panel_arrays_reindexes(sim):
    _, _, res = sim
    countries = ["ZZZ", "C0001", "C0000"]
    years = list(range(1978, 1983))
    ds = res.to_panel_arrays(countries, years, indicator=["displacement", "nothing"])
    assert ds["X"].dims == ds["X_var"].dims == ("country", "year", "indicator")
    assert list(ds["country"].values) == countries
    assert list(ds["year"].values) == years
    assert np.isnan(ds["X"].sel(country="ZZZ")).all()
    assert np.isnan(ds["X"].sel(year=1978)).all()
    assert np.isnan(ds["X"].sel(indicator="nothing")).all()
    assert (ds["n_sources"].sel(country="ZZZ") == 0).all()
    assert ds["n_sources"].dtype.kind == "i"
    cell = dict(country="C0001", year=1981, indicator="displacement")
    assert ds["X"].sel(cell).item() == res.estimate.sel(cell).item()
    assert ds["X_var"].sel(cell).item() == res.variance.sel(cell).item()
    assert (np.isnan(ds["X"]) == np.isnan(ds["X_var"])).all()
    with pytest.raises(ValueError, match="country coordinates contain duplicates"):
        res.to_panel_arrays(["C0001", "C0001"], years)


# ------------------------------------------------------------------ warnings


def test_warns_on_few_overlaps_and_non_convergence():
    rng = np.random.default_rng(2)
    t = rng.normal(0, 1, 50)
    a = t + rng.normal(0, 0.5, 50)
    b = np.where(np.arange(50) < 5, t + rng.normal(0, 0.5, 50), np.nan)
    with pytest.warns(FusionWarning, match=r"source 'b' of indicator 'x' .* only 5 overlapping"):
        fuse_reports(_reports({"a": a, "b": b}), error_variance={("x", "a"): 0.25})
    c = t + rng.normal(0, 0.9, 50)
    with pytest.warns(FusionWarning, match=r"did not converge within max_iter=1 .*'x'"):
        fuse_reports(_reports({"a": a, "c": c}), max_iter=1)


# ------------------------------------------------------------------ bad input


def _good() -> pd.DataFrame:
    return pd.DataFrame({
        "country": ["AFG", "AFG", "SDN", "SDN"],
        "year": [2001, 2001, 2001, 2002],
        "indicator": ["x", "x", "x", "x"],
        "source": ["un", "ngo", "un", "un"],
        "value": [1.0, 2.0, 3.0, 4.0],
    })


GOOD_VARIANCES = {("x", "un"): 0.5, ("x", "ngo"): 1.0}


def _with(col: str, values: list) -> pd.DataFrame:
    df = _good()
    df[col] = pd.Series(values, dtype=object)
    return df


@pytest.mark.parametrize(
    ("reports", "pattern"),
    [
        ("not a table", r"reports must be a pandas DataFrame"),
        (_good().drop(columns="value"), r"missing column\(s\) \['value'\]"),
        (_good().drop(columns=["country", "source"]),
         r"missing column\(s\) \['country', 'source'\]"),
        (_good().assign(note="x"), r"unexpected column\(s\) \['note'\]"),
        (_good().iloc[:0], r"reports is empty"),
        (pd.concat([_good(), _good().iloc[[2]]], ignore_index=True),
         r"reports: duplicate \(country, year, indicator, source\) rows; found \('SDN', 2001, "
         r"'x', 'un'\) at row 3, \('SDN', 2001, 'x', 'un'\) at row 5; each source reports"),
        (_with("value", [1.0, "high", 3.0, 4.0]),
         r"reports: column 'value' must be numeric; found 'high' at row 2$"),
        (_with("value", [1.0, 2.0, "three", 4.0]),
         r"'value' must be numeric; found 'three' at row 3"),
        (_with("value", [1.0, 2.0, True, 4.0]), r"'value' must be numeric; found True at row 3$"),
        (_good().assign(value=[True, False, True, True]), r"column 'value' must be numeric"),
        (_good().assign(value=[1.0, np.nan, 3.0, np.nan]),
         r"column 'value' has no value \(blank or NaN\) at rows 2, 4; drop rows"),
        (_with("value", [1.0, None, 3.0, 4.0]), r"'value' has no value \(blank or NaN\) at row 2;"),
        (_good().assign(value=[1.0, 2.0, -np.inf, 4.0]),
         r"column 'value' must be a finite number; found -inf at row 3"),
        (_good().assign(year=[2001.0, 2001.5, 2001.0, 2002.0]),
         r"column 'year' must be a whole year; found 2001.5 at row 2"),
        (_good().assign(year=[2001, 2001, np.nan, 2002]), r"'year' has no value .* at row 3"),
        (_with("year", [2001, "2001x", 2001, 2002]),
         r"'year' must be numeric; found '2001x' at row 2"),
        (_with("year", [2001, "2001.5", 2001, 2002]), r"'year' must be a whole year; .* at row 2"),
        (_with("country", ["AFG", None, "SDN", "SDN"]),
         r"column 'country' must be a non-empty string; found None at row 2"),
        (_with("country", ["AFG", "AFG", 700, "SDN"]), r"'country' .*found 700 at row 3"),
        (_with("source", ["un", "", "un", "un"]), r"'source' .*found '' at row 2"),
        (_with("indicator", ["x", "x", "x", np.nan]), r"'indicator' .*found nan at row 4"),
    ],
)
def test_bad_reports_raise(reports, pattern):
    with pytest.raises(FusionError, match=pattern) as info:
        fuse_reports(reports, error_variance=None)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_numbers_written_as_text_are_read_as_numbers():
    """A CSV column with one text cell holds every cell as text: only that cell is bad."""
    as_text = _good().astype({"year": str, "value": str})
    assert as_text["value"].map(type).eq(str).all()
    got = fuse_reports(as_text, error_variance=GOOD_VARIANCES)
    want = fuse_reports(_good(), error_variance=GOOD_VARIANCES)
    xr.testing.assert_identical(got.estimate, want.estimate)
    as_text.loc[2, "value"] = "high"
    with pytest.raises(FusionError, match=r"^reports: column 'value' must be numeric; found "
                                          r"'high' at row 3$"):
        fuse_reports(as_text, error_variance=GOOD_VARIANCES)


@pytest.mark.parametrize(
    ("error_variance", "pattern"),
    [
        ({("x", "wfp"): 1.0}, r"error_variance: \('x', 'wfp'\) does not occur in reports"),
        ({("x", "ngo"): -1.0}, r"error_variance\[\('x', 'ngo'\)\] must be finite and >= 0"),
        ({("x", "ngo"): np.inf}, r"must be finite and >= 0"),
        ({("x", "ngo"): "1"}, r"error_variance\[\('x', 'ngo'\)\] must be a number"),
        ({"ngo": 1.0}, r"key 'ngo' is not an \(indicator, source\) tuple"),
        ([1.0], r"error_variance must be a mapping"),
    ],
)
def test_bad_error_variance_raises(error_variance, pattern):
    with pytest.raises(ValueError, match=pattern):
        fuse_reports(_good(), error_variance=error_variance)


@pytest.mark.parametrize(("kw", "pattern"), [
    ({"max_iter": 0}, "max_iter must be a positive integer"),
    ({"tol": 0.0}, "tol must be a positive number"),
])
def test_bad_options_raise(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        fuse_reports(_good(), **kw)


def test_input_is_not_modified():
    df = _good()
    df["year"] = df["year"].astype(float)
    before = df.copy()
    fuse_reports(df, error_variance=GOOD_VARIANCES)
    pd.testing.assert_frame_equal(df, before)


def test_accepts_pandas_string_and_nullable_dtypes():
    df = _good().astype({"country": "string", "source": "string", "indicator": "string",
                         "year": "Int64", "value": "Float64"})
    res = fuse_reports(df, error_variance=GOOD_VARIANCES)
    ref = fuse_reports(_good(), error_variance=GOOD_VARIANCES)
    np.testing.assert_array_equal(res.estimate.values, ref.estimate.values)
    assert list(res.estimate["country"].values) == ["AFG", "SDN"]
