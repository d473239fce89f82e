"""The simulated default world: determinism, realism, and a truth that explains the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from r2p_models.crimes import CRIMES, indicator_relevance
from r2p_models.data.panel import load_panel
from r2p_models.data.simulate import (
    DEFAULT_SEED,
    INDICATORS,
    REGIONS,
    SOURCES,
    simulate_world,
    write_world,
)

EMBEDDED = Path(__file__).resolve().parents[1] / "datasets" / "default_world"


@pytest.fixture(scope="module")
def world():
    return simulate_world(DEFAULT_SEED)


def test_same_seed_same_bytes_and_the_embedded_copy_is_current(world, tmp_path) -> None:
    write_world(world, tmp_path / "a")
    write_world(simulate_world(DEFAULT_SEED), tmp_path / "b")
    for name in ("panel.csv", "reports.csv", "run.toml"):
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes()
        assert a == (EMBEDDED / name).read_bytes(), f"datasets/default_world/{name} is stale"
    other = simulate_world(DEFAULT_SEED + 1)
    assert not other.table.equals(world.table)


def test_shape_regions_and_names(world) -> None:
    t = world.table
    assert t["country"].nunique() == sum(n for _, n in REGIONS.values()) == 170
    assert t["year"].nunique() == 40
    assert set(t["region"]) == set(REGIONS)
    # fictional countries only: no real country is given a simulated risk
    assert t["country_name"].str.startswith("Simulated ").all()


def test_base_rates_are_those_of_rare_atrocities(world) -> None:
    t = world.table
    for crime in CRIMES:
        at_risk = t[f"{crime}_ongoing"] == 0
        rate = t.loc[at_risk, f"{crime}_onset"].mean()
        assert 0.002 <= rate <= 0.02, (crime, rate)
        # an onset never happens while an episode of the same crime is under way
        assert not ((t[f"{crime}_onset"] == 1) & (t[f"{crime}_ongoing"] == 1)).any()


def test_truth_reproduces_probabilities_from_parameters(world) -> None:
    tr = world.truth
    region_of = dict(zip(world.table["country"], world.table["region"], strict=False))
    a_reg = tr["a_region"].sel(region=[region_of[c] for c in tr.country.values]).values
    x_prev = tr["x"].values[:, :-1]  # predictors of year t-1 ...
    eta = (tr["alpha"].values + a_reg[:, None, :] + tr["a_country"].values[:, None, :]
           + np.einsum("ctj,kj->ctk", x_prev, tr["beta"].values))
    np.testing.assert_allclose(expit(eta), tr["p"].values[:, 1:], rtol=1e-10)  # ... give p of t


def test_truth_explains_the_loaded_panels_onsets(world) -> None:
    """``truth.p`` of year t is the chance of the loaded panel's onset in year t (by label)."""
    panel = load_panel(EMBEDDED / "run.toml")
    p = world.truth["p"].sel(country=panel.country, year=panel.year, crime=panel.crime)
    for crime in panel.crime.values:
        at_risk = (panel["ongoing"].sel(crime=crime) == 0).values
        y = panel["onset"].sel(crime=crime).values[at_risk]
        q = p.sel(crime=crime).values[at_risk]
        expected = q.sum()
        # onset counts are sums of independent Bernoulli(q): within 3.5 sd of their mean
        assert abs(y.sum() - expected) <= 3.5 * np.sqrt((q * (1 - q)).sum()), crime
        # and the true probabilities rank them far better than chance (0.89-0.94 here;
        # 0.43-0.58 when the truth is read in the panel's order by position)
        assert roc_auc_score(y, q) > 0.85, crime


def test_indicator_effects_follow_the_un_framework(world) -> None:
    beta = world.truth["beta"]
    for ind, (_, rfs, _, _) in INDICATORS.items():
        relevant = indicator_relevance(rfs, CRIMES)
        for crime, rel in zip(CRIMES, relevant, strict=True):
            value = float(beta.sel(crime=crime, indicator=ind))
            assert (value != 0) == rel, (ind, crime)


def test_crime_risks_are_correlated(world) -> None:
    a = world.truth["a_country"].values
    corr = np.corrcoef(a.T)
    assert corr[np.triu_indices(4, 1)].min() > 0.3


def test_missingness_rises_with_risk(world) -> None:
    t = world.table
    frag = world.truth["fragility"].to_series()
    high = t["country"].map(frag) > frag.quantile(0.75)
    low = t["country"].map(frag) < frag.quantile(0.25)
    miss = t["state_weakness"].isna()
    assert miss[high].mean() > 2 * miss[low].mean()


def test_sources_have_their_stated_reliability(world) -> None:
    rep = world.reports
    x = world.truth["x"]
    truth = x.sel(
        country=x.country.isin(rep["country"].unique()),
    ).to_series()
    joined = rep.join(truth.rename("truth"), on=["country", "year", "indicator"])
    err = joined["value"] - joined["truth"]
    for src, (bias, sd, _, _) in SOURCES.items():
        e = err[joined["source"] == src]
        n = len(e)
        assert abs(e.mean() - bias) < 4 * sd / np.sqrt(n)
        # variance within ~4 standard errors of its sampling distribution (normal errors)
        assert abs(e.var() - sd**2) < 4 * sd**2 * np.sqrt(2 / n), src
    # the UN channel loses access where risk is high
    frag = world.truth["fragility"].to_series()
    high = rep["country"].map(frag) > frag.median()
    share = rep[rep["source"] == "un_field"].groupby(high[rep["source"] == "un_field"]).size()
    assert share[True] < share[False]


def test_panel_loads_through_the_ordinary_loader(world) -> None:
    panel = load_panel(EMBEDDED / "run.toml")
    n_reports = sum(1 for _ in open(EMBEDDED / "reports.csv")) - 1  # every report is kept
    assert dict(panel.sizes) == {"country": 170, "year": 40, "indicator": 12, "crime": 4,
                                 "report": n_reports}
    assert list(panel.crime.values) == list(CRIMES)
    fused = [i for i in panel.indicator.values if panel["fused_from"].sel(indicator=i).item()]
    assert sorted(fused) == ["civilian_attacks", "hate_speech", "ihl_violations"]
    # fused values track the truth better than the noisiest channel alone
    x_true = world.truth["x"].sel(indicator="civilian_attacks")
    fused_err = (panel["X"].sel(indicator="civilian_attacks") - x_true).var().item()
    assert fused_err < SOURCES["media"][1] ** 2


def test_small_worlds_for_tests() -> None:
    small = simulate_world(7, n_years=12, scale=0.2)
    assert small.table["year"].nunique() == 12
    assert small.table["region"].nunique() == len(REGIONS)  # at least one country per region
    assert small.table["country"].nunique() < 40
