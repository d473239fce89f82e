"""Tidy metric tables: breakdowns, rolling windows, paired comparisons."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from r2p_models.calibration import (
    TABLE_COLUMNS,
    CalibrationInputError,
    brier_score,
    compare_table,
    corp_decomposition,
    log_score,
    plot_metric_over_time,
    pr_auc,
    roc_auc,
    rolling_table,
    score_table,
    skill_score,
    top_k_capture,
)


def _cases(seed: int = 0, countries: int = 40, years=range(2000, 2010)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.normal(-3, 1, countries)
    rows = []
    for c in range(countries):
        for t in years:
            for k, shift in (("genocide", -0.5), ("war_crimes", 0.3)):
                lp = risk[c] + shift + rng.normal(0, 0.5)
                q = 1 / (1 + np.exp(-lp))
                rows.append({
                    "country": f"C{c:02d}", "region": f"R{c % 4}", "crime": k,
                    "origin_year": t, "target_end": t, "p": q,
                    "outcome": int(rng.random() < q),
                })
    return pd.DataFrame(rows)


def test_breakdown_matches_standalone_functions():
    df = _cases()
    tab = score_table(df, by=["crime"], n_boot=50)
    assert list(tab.columns) == ["crime", *TABLE_COLUMNS]
    for crime, part in df.groupby("crime"):
        got = tab[tab["crime"] == crime].set_index("metric")
        p, y = part["p"].to_numpy(), part["outcome"].to_numpy()
        d = corp_decomposition(p, y)
        cap = top_k_capture(p, y, k=(10, 20, 30), groups=part["origin_year"])
        expected = {
            "brier": brier_score(p, y), "log": log_score(p, y),
            "auc": roc_auc(p, y), "pr_auc": pr_auc(p, y),
            "mcb_brier": d.mcb, "dsc_brier": d.dsc, "unc_brier": d.unc,
            "mcb_log": corp_decomposition(p, y, score="log").mcb,
            "base_rate": y.mean(), "mean_forecast": p.mean(),
            "capture_top10": cap[10], "capture_top20": cap[20], "capture_top30": cap[30],
        }
        for metric, value in expected.items():
            assert got.loc[metric, "estimate"] == pytest.approx(value, abs=1e-12), metric
        assert (got["n"] == len(part)).all() and (got["events"] == y.sum()).all()
        assert (got["clusters"] == 40).all()
        assert (got["lower"] <= got["upper"]).all()
        b = got.loc["brier"]
        assert b["lower"] <= b["estimate"] <= b["upper"]


def test_skill_against_named_references():
    df = _cases()
    df["clim"] = 0.05
    tab = score_table(df, metrics=["brier_skill_clim", "log_skill_clim"],
                      references={"clim": "clim"}, n_boot=30).set_index("metric")
    p, y = df["p"], df["outcome"]
    assert tab.loc["brier_skill_clim", "estimate"] == pytest.approx(
        skill_score(p, y, df["clim"]), abs=1e-12)
    assert tab.loc["log_skill_clim", "estimate"] == pytest.approx(
        skill_score(p, y, df["clim"], score="log"), abs=1e-12)
    # the defaults add skill against every reference
    full = score_table(df, references={"clim": "clim"}, n_boot=5)
    assert {"brier_skill_clim", "log_skill_clim"} <= set(full["metric"])


def test_groups_without_events_get_notes_not_errors():
    df = _cases()
    df.loc[df["region"] == "R0", "outcome"] = 0
    tab = score_table(df, by=["region"], metrics=["brier", "auc", "mcb_brier"], n_boot=20)
    r0 = tab[tab["region"] == "R0"].set_index("metric")
    assert np.isnan(r0.loc["auc", "estimate"]) and r0.loc["auc", "note"] == "no events"
    assert r0.loc["mcb_brier", "note"] == "no events"
    assert r0.loc["brier", "estimate"] == pytest.approx((df.loc[df.region == "R0", "p"] ** 2)
                                                        .mean())
    assert r0.loc["brier", "note"] == ""


def test_ledger_columns_and_unresolved_rows():
    df = _cases().rename(columns={"p": "p_mean"})
    df.loc[5, "outcome"] = np.nan
    with pytest.raises(CalibrationInputError, match=r"cases: column 'outcome' has no value "
                                                     r"\(blank or NaN\) at row 5; unresolved"):
        score_table(df, p_col="p_mean", n_boot=5)
    tab = score_table(df, p_col="p_mean", unresolved="drop", metrics=["brier"], n_boot=5)
    assert tab["n"].iloc[0] == len(df) - 1


def test_table_bad_input():
    df = _cases()
    with pytest.raises(CalibrationInputError, match=r"lacks column\(s\) \['horizon'\]"):
        score_table(df, by=["horizon"])
    bad = df.copy()
    bad.loc[7, "p"] = 1.5
    with pytest.raises(CalibrationInputError, match=r"cases: column 'p' must be a probability "
                                                     r"in \[0, 1\]; found 1.5 at row 7$"):
        score_table(bad)
    bad = df.copy()
    bad.loc[3, "outcome"] = 2
    with pytest.raises(CalibrationInputError, match=r"column 'outcome' must be 0 or 1; found 2 at "
                                                     r"row 3$"):
        score_table(bad)
    with pytest.raises(CalibrationInputError, match="unknown metric"):
        score_table(df, metrics=["ece"])


def test_mixed_sources_warn():
    df = pd.concat([_cases().assign(source="m1"), _cases(1).assign(source="m2")])
    with pytest.warns(UserWarning, match="mix 2 values of 'source'"):
        score_table(df, metrics=["brier"], n_boot=5)
    tab = score_table(df, by=["source"], metrics=["brier"], n_boot=5)
    assert list(tab["source"]) == ["m1", "m2"]


def test_reproducible_with_seed():
    df = _cases()
    a = score_table(df, metrics=["auc"], n_boot=50, rng=3)
    b = score_table(df, metrics=["auc"], n_boot=50, rng=3)
    c = score_table(df, metrics=["auc"], n_boot=50, rng=4)
    pd.testing.assert_frame_equal(a, b)
    assert a["lower"].iloc[0] != c["lower"].iloc[0]


def test_rolling_windows():
    df = _cases()
    tab = rolling_table(df, window=4, metrics=["brier", "base_rate"], n_boot=10)
    ends = sorted(tab["window_end"].unique())
    assert ends == list(range(2003, 2010))
    row = tab[(tab["window_end"] == 2005) & (tab["metric"] == "base_rate")].iloc[0]
    part = df[df["origin_year"].between(2002, 2005)]
    assert row["window_start"] == 2002
    assert row["n"] == len(part)
    assert row["estimate"] == pytest.approx(part["outcome"].mean())
    with pytest.raises(CalibrationInputError, match="no full window"):
        rolling_table(df, window=20)


def _two_sources():
    df = _cases(countries=120)
    rng = np.random.default_rng(9)
    noisy = df.copy()
    noisy["p"] = np.clip(df["p"] * np.exp(rng.normal(0, 2.0, len(df))), 0, 1)
    return pd.concat([df.assign(source="model"), noisy.assign(source="analyst")],
                     ignore_index=True)


def test_compare_paired_difference():
    both = _two_sources()
    tab = compare_table(both, a="model", b="analyst", metrics=["brier", "auc"], n_boot=200)
    t = tab.set_index("metric")
    m = both[both.source == "model"]
    a = both[both.source == "analyst"]
    assert t.loc["brier", "estimate_a"] == pytest.approx(brier_score(m.p, m.outcome))
    assert t.loc["brier", "estimate_b"] == pytest.approx(brier_score(a.p, a.outcome))
    assert t.loc["brier", "difference"] == pytest.approx(
        t.loc["brier", "estimate_a"] - t.loc["brier", "estimate_b"])
    # the noisy analyst is worse: lower Brier and higher AUC for the model
    assert t.loc["brier", "upper"] < 0 and t.loc["brier", "better"] == "model"
    assert t.loc["auc", "lower"] > 0 and t.loc["auc", "better"] == "model"


def test_compare_identical_forecasters_is_exactly_zero():
    df = _cases()
    both = pd.concat([df.assign(run_id="v1"), df.assign(run_id="v2")], ignore_index=True)
    tab = compare_table(both, col="run_id", a="v1", b="v2", by=["crime"],
                        metrics=["brier", "mcb_log", "capture_top10"], n_boot=50)
    assert (tab["difference"] == 0).all()
    assert (tab["lower"] == 0).all() and (tab["upper"] == 0).all()
    assert (tab["better"] == "unclear").all()
    assert set(tab["crime"]) == {"genocide", "war_crimes"}


def test_compare_checks_cases():
    both = _two_sources()
    bad = both.copy()
    bad.loc[bad.index[-1], "outcome"] = 1 - bad.loc[bad.index[-1], "outcome"]
    with pytest.raises(CalibrationInputError, match="outcomes differ"):
        compare_table(bad, a="model", b="analyst", metrics=["brier"], n_boot=5)
    dup = pd.concat([both, both.iloc[[0]]], ignore_index=True)
    with pytest.raises(CalibrationInputError, match="repeated cases"):
        compare_table(dup, a="model", b="analyst", metrics=["brier"], n_boot=5)
    with pytest.raises(CalibrationInputError, match="no rows with source == 'x'"):
        compare_table(both, a="model", b="x")
    fewer = both.drop(index=both.index[-3:])
    with pytest.warns(UserWarning, match="3 case"):
        tab = compare_table(fewer, a="model", b="analyst", metrics=["brier"], n_boot=5)
    assert tab["n"].iloc[0] == (both.source == "model").sum() - 3


def test_plot_over_time():
    df = _cases()
    tab = score_table(df, by=["origin_year"], metrics=["brier", "auc"], n_boot=20)
    fig = plot_metric_over_time(tab, "auc", reference=0.5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Issue year"
    assert ax.get_ylabel() == "AUC (ROC)"
    assert len(ax.collections) == 1  # the interval band
    roll = rolling_table(df, window=3, metrics=["brier"], by=["crime"], n_boot=10)
    fig = plot_metric_over_time(roll, "brier", hue="crime")
    assert "3-year window" in fig.axes[0].get_xlabel()
    with pytest.raises(CalibrationInputError, match="no rows for metric"):
        plot_metric_over_time(tab, "log")


def test_case_bootstrap_and_horizon_breakdown():
    df = _cases()
    df["horizon"] = np.where(df.index % 2 == 0, 1, 2)
    tab = score_table(df, by=["horizon"], metrics=["brier"], cluster_col=None, n_boot=20)
    assert list(tab["horizon"]) == [1, 2]
    assert (tab["clusters"] == tab["n"]).all()  # each case its own resampling unit
    blocks = score_table(df, by=["horizon"], metrics=["brier"], n_boot=20)
    assert (blocks["clusters"] == 40).all()


def _within_year_auc(p: np.ndarray, y: np.ndarray, years: np.ndarray) -> float:
    """Brute force: every (event, non-event) pair of the same year, ties one half."""
    num = den = 0.0
    for t in np.unique(years):
        pos, neg = p[(years == t) & (y == 1)], p[(years == t) & (y == 0)]
        num += (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        den += pos.size * neg.size
    return num / den


def test_auc_within_years_counts_same_year_pairs_only():
    df = _cases(seed=5)
    df["p"] = df["p"].round(2)  # ties within and across years
    tab = score_table(df, by=["crime"], metrics=["auc", "auc_within"], n_boot=20)
    for crime, part in df.groupby("crime"):
        got = tab[tab["crime"] == crime].set_index("metric")["estimate"]
        p, y, t = (part[c].to_numpy() for c in ("p", "outcome", "origin_year"))
        assert got["auc_within"] == pytest.approx(_within_year_auc(p, y, t), abs=1e-12)
        assert got["auc"] == pytest.approx(roc_auc(p, y), abs=1e-12)
    # one ranking over all cases: the pooled AUC
    one = score_table(df, metrics=["auc", "auc_within"], year_col=None, n_boot=20)
    est = one.set_index("metric")["estimate"]
    assert est["auc_within"] == pytest.approx(est["auc"], abs=1e-12)


def test_auc_within_years_ignores_a_shift_per_year():
    # a recalibration moves each year's forecasts by its own shift: same-year rankings,
    # hence the within-year AUC, stay; the pooled AUC changes
    df = _cases(seed=6)
    shift = {t: 0.8 * ((t % 3) - 1) for t in df["origin_year"].unique()}
    lo = np.log(df["p"] / (1 - df["p"])) + df["origin_year"].map(shift)
    moved = df.assign(p=1 / (1 + np.exp(-lo)))
    a = score_table(df, metrics=["auc", "auc_within"], n_boot=10).set_index("metric")
    b = score_table(moved, metrics=["auc", "auc_within"], n_boot=10).set_index("metric")
    assert b.loc["auc_within", "estimate"] == pytest.approx(a.loc["auc_within", "estimate"],
                                                            abs=1e-12)
    assert abs(b.loc["auc", "estimate"] - a.loc["auc", "estimate"]) > 1e-3


def test_auc_within_years_bootstrap_weights_repeat_cases():
    # a bootstrap replicate weights each case by its country's draw count; the kernel must
    # give the brute-force value on the data with each case repeated that many times
    from r2p_models.calibration._kernels import PreparedCases, auc_within_kernel

    df = _cases(seed=7, countries=15)
    df["p"] = df["p"].round(2)
    p, y, t = (df[c].to_numpy() for c in ("p", "outcome", "origin_year"))
    codes = pd.factorize(df["country"], sort=True)[0]
    cases = PreparedCases(p, y.astype(float), clusters=codes, n_clusters=15, rank_groups=t)
    counts = np.random.default_rng(0).multinomial(15, np.full(15, 1 / 15), size=4)
    got = auc_within_kernel(cases, cases.weights(counts))
    for b in range(4):
        rep = np.repeat(np.arange(len(df)), counts[b, codes])
        assert got[b] == pytest.approx(_within_year_auc(p[rep], y[rep], t[rep]), abs=1e-12)


def test_the_readme_snippet_on_ledger_rows_with_a_pending_row() -> None:
    """docs/methods/calibration.md: score resolved ledger rows per source; pending ones named."""
    from r2p_models.calibration import CalibrationInputError, score_table

    rng = np.random.default_rng(3)
    rows = []
    for source, shift in (("model", 0.0), ("jdoe", 0.05)):
        for i in range(60):
            p = 0.1 + 0.6 * (i % 10) / 10 + shift
            rows.append({"source": source, "origin_year": 2000 + i % 5, "country": f"C{i}",
                         "crime": "genocide", "p_mean": p, "outcome": float(rng.random() < p),
                         "outcome_status": "observed"})
    rows.append({**rows[0], "country": "C99", "outcome": np.nan, "outcome_status": "pending"})
    ledger_rows = pd.DataFrame(rows)
    with pytest.raises(CalibrationInputError, match="outcome_status == 'observed'"):
        score_table(ledger_rows, p_col="p_mean", by=["source", "crime"])
    observed = ledger_rows[ledger_rows["outcome_status"] == "observed"]
    table = score_table(observed, p_col="p_mean", by=["source", "crime"], n_boot=20, rng=0)
    brier = table[table["metric"] == "brier"].set_index("source")["estimate"]
    for source, grp in observed.groupby("source"):  # one row per source, never pooled
        assert brier[source] == pytest.approx(np.mean((grp.p_mean - grp.outcome) ** 2))
