"""Proper scores, skill scores and the issue-time base rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.metrics import brier_score_loss, log_loss

from r2p_models.calibration import (
    LOG_EPS,
    CalibrationInputError,
    brier_score,
    issue_time_base_rate,
    log_score,
    skill_score,
)


@pytest.fixture
def sample():
    rng = np.random.default_rng(11)
    p = rng.beta(0.8, 12, 3000)
    y = (rng.random(3000) < p).astype(int)
    return p, y


def test_brier_closed_form():
    assert brier_score([0.1, 0.8], [0, 1]) == pytest.approx((0.01 + 0.04) / 2, abs=1e-15)


def test_brier_matches_sklearn(sample):
    p, y = sample
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_log_score_closed_form():
    assert log_score([0.5, 0.5], [0, 1]) == pytest.approx(np.log(2), abs=1e-15)
    assert log_score([0.2, 0.9], [1, 0]) == pytest.approx(-(np.log(0.2) + np.log(0.1)) / 2)


def test_log_score_matches_sklearn(sample):
    p, y = sample
    assert log_score(p, y) == pytest.approx(log_loss(y, p), abs=1e-9)


def test_log_score_clips_certain_forecasts():
    # A certain forecast that is wrong scores -log(eps), not infinity.
    wrong = log_score([0.0, 1.0], [1, 0], per_case=True)
    np.testing.assert_allclose(wrong, [-np.log(LOG_EPS)] * 2, rtol=1e-12)
    assert np.isfinite(wrong).all()
    right = log_score([0.0, 1.0], [0, 1], per_case=True)
    np.testing.assert_allclose(right, [0.0, 0.0], atol=1e-14)
    assert log_score([0.0], [1], eps=1e-6) == pytest.approx(-np.log(1e-6))


def test_per_case_keeps_dataarray_shape_and_coords():
    p = xr.DataArray(
        [[0.1, 0.2], [0.3, 0.4]],
        dims=("country", "year"),
        coords={"country": ["A", "B"], "year": [2000, 2001]},
    )
    # outcomes with dims in the other order: aligned by name
    y = xr.DataArray([[0, 1], [1, 0]], dims=("year", "country"),
                     coords={"year": [2000, 2001], "country": ["A", "B"]})
    s = brier_score(p, y, per_case=True)
    assert isinstance(s, xr.DataArray)
    assert s.dims == ("country", "year")
    # country B, year 2000: p=0.3, y=1
    assert float(s.sel(country="B", year=2000)) == pytest.approx(0.49)
    assert float(s.sel(country="A", year=2001)) == pytest.approx(0.64)  # y=1, p=0.2
    assert brier_score(p, y) == pytest.approx(float(s.mean()))


def test_skill_closed_form():
    p = np.array([0.2, 0.6, 0.1, 0.9])
    y = np.array([0, 1, 0, 1])
    ref = np.full(4, 0.5)
    s = np.mean((p - y) ** 2)
    assert skill_score(p, y, ref) == pytest.approx(1 - s / 0.25, abs=1e-15)
    s_log = -np.mean(np.log([0.8, 0.6, 0.9, 0.9]))
    assert skill_score(p, y, ref, score="log") == pytest.approx(1 - s_log / np.log(2))
    # the reference against itself has no skill
    assert skill_score(ref, y, ref) == 0.0


def test_skill_against_persistence_with_zero_one_reference():
    y = np.array([0, 1, 1, 0])
    persistence = np.array([0, 1, 0, 0])  # last observed state
    p = np.array([0.1, 0.7, 0.4, 0.1])
    expected = 1 - np.mean((p - y) ** 2) / np.mean((persistence - y) ** 2)
    assert skill_score(p, y, persistence) == pytest.approx(expected)


def test_skill_undefined_for_perfect_reference():
    with pytest.raises(CalibrationInputError, match="reference forecast scores 0"):
        skill_score([0.2, 0.3], [0, 1], [0, 1])


def _ledger():
    # two crimes, origin years 2000-2003, horizon 1 (target_end = origin_year)
    rows = []
    outcomes = {
        ("g", 2000): [1, 0, 0, 0],
        ("g", 2001): [0, 0, 0, 0],
        ("g", 2002): [1, 1, 0, 0],
        ("g", 2003): [0, 0, 0, 0],
        ("w", 2000): [0, 0, 0, 0],
        ("w", 2001): [1, 1, 1, 0],
        ("w", 2002): [0, 0, 0, 0],
        ("w", 2003): [1, 0, 0, 0],
    }
    for (crime, year), ys in outcomes.items():
        for i, v in enumerate(ys):
            rows.append({"country": f"C{i}", "crime": crime, "origin_year": year,
                         "target_end": year, "p": 0.1, "outcome": v})
    return pd.DataFrame(rows)


def test_issue_time_base_rate_uses_only_earlier_years():
    df = _ledger()
    rate = issue_time_base_rate(df)
    by = df.assign(rate=rate).groupby(["crime", "origin_year"])["rate"].first()
    assert np.isnan(by["g", 2000])  # nothing resolved before 2000
    assert by["g", 2001] == pytest.approx(1 / 4)
    assert by["g", 2002] == pytest.approx(1 / 8)
    assert by["g", 2003] == pytest.approx(3 / 12)
    assert by["w", 2002] == pytest.approx(3 / 8)
    assert by["w", 2003] == pytest.approx(3 / 12)


def test_issue_time_base_rate_has_no_leakage():
    df = _ledger()
    before = issue_time_base_rate(df)
    changed = df.copy()
    late = changed["origin_year"] >= 2002
    changed.loc[late, "outcome"] = 1 - changed.loc[late, "outcome"]
    after = issue_time_base_rate(changed)
    keep = df["origin_year"] <= 2002
    pd.testing.assert_series_equal(before[keep], after[keep])


def test_issue_time_base_rate_waits_for_target_end_and_counts_cases_once():
    df = _ledger()
    df["target_end"] = df["origin_year"] + 1  # two-year horizon: known a year later
    two_sources = pd.concat([df.assign(source="m1"), df.assign(source="m2")])
    rate = issue_time_base_rate(two_sources.reset_index(drop=True))
    out = two_sources.reset_index(drop=True).assign(rate=rate)
    by = out.groupby(["source", "crime", "origin_year"])["rate"].first()
    assert np.isnan(by["m1", "g", 2001])  # 2000's cases end in 2001: not known yet
    assert by["m1", "g", 2002] == pytest.approx(1 / 4)  # not 2/8: duplicates counted once
    assert by["m2", "g", 2003] == pytest.approx(1 / 8)


def test_issue_time_base_rate_prior_and_unresolved():
    df = _ledger()
    df.loc[(df["origin_year"] == 2001) & (df["crime"] == "g"), "outcome"] = np.nan
    rate = issue_time_base_rate(df, prior_rate=0.5, prior_weight=2)
    by = df.assign(rate=rate).groupby(["crime", "origin_year"])["rate"].first()
    assert by["g", 2000] == pytest.approx(0.5)  # prior only
    assert by["g", 2002] == pytest.approx((1 + 1) / (4 + 2))  # 2001 unresolved: skipped


def test_issue_time_base_rate_bad_input():
    df = _ledger()
    with pytest.raises(CalibrationInputError, match="lacks column"):
        issue_time_base_rate(df.drop(columns="origin_year"))
    bad = df.copy()
    bad.loc[3, "outcome"] = 2
    with pytest.raises(CalibrationInputError, match=r"cases: column 'outcome' must be 0 or 1; "
                                                     r"found 2 at row 3$"):
        issue_time_base_rate(bad)


def test_issue_time_base_rate_with_duplicated_index_labels():
    """Tables joined with pd.concat keep their row labels; the rates must not depend on them."""
    df = _ledger()
    expected = issue_time_base_rate(df)
    halves = pd.concat([df.iloc[::2], df.iloc[1::2]])  # labels 0, 2, ... then 1, 3, ...
    halves.index = np.r_[np.arange(len(df.iloc[::2])), np.arange(len(df.iloc[1::2]))]
    assert halves.index.duplicated().any()
    got = issue_time_base_rate(halves)
    assert got.index.equals(halves.index)
    np.testing.assert_array_equal(
        got.to_numpy(), expected.to_numpy()[np.r_[np.arange(0, len(df), 2),
                                                  np.arange(1, len(df), 2)]])
