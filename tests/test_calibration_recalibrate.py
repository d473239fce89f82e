"""Recalibration on the track record: closed forms, no look-ahead, a simulation with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import optimize, stats
from scipy.special import expit, logit

from r2p_models.calibration import (
    CalibrationInputError,
    intercept_shift,
    recalibrate_on_track_record,
)
from r2p_models.cli import EXIT_BAD_INPUT, main
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger
from r2p_models.rerun import issue_recalibrated


def test_shift_without_prior_matches_the_observed_rate() -> None:
    # constant forecast p0, k events in n: the ML shift is logit(k / n) - logit(p0)
    p = np.full(400, 0.08)
    y = np.zeros(400)
    y[:10] = 1
    a = intercept_shift(p, y, prior_sd=np.inf)
    assert a == pytest.approx(logit(10 / 400) - logit(0.08), abs=1e-8)


def test_shift_is_the_posterior_mode() -> None:
    rng = np.random.default_rng(3)
    p = expit(rng.normal(-3, 1, 300))
    y = rng.binomial(1, p / 2).astype(float)

    def neg_log_post(a: float) -> float:  # independent: scipy's Bernoulli and normal densities
        q = expit(logit(p) + a)
        return -(stats.bernoulli.logpmf(y, q).sum() + stats.norm.logpdf(a, 0, 0.7))

    ref = optimize.minimize_scalar(neg_log_post, bounds=(-5, 5), method="bounded",
                                   options={"xatol": 1e-9}).x
    assert intercept_shift(p, y, prior_sd=0.7) == pytest.approx(ref, abs=1e-5)


def test_shift_edge_cases() -> None:
    assert intercept_shift(np.array([]), np.array([])) == 0.0
    # no events: the prior keeps the shift finite, and it points down
    a = intercept_shift(np.full(50, 0.05), np.zeros(50))
    assert -5 < a < 0
    with pytest.raises(CalibrationInputError, match="does not exist"):
        intercept_shift(np.full(50, 0.05), np.zeros(50), prior_sd=np.inf)
    with pytest.raises(CalibrationInputError, match="prior_sd"):
        intercept_shift(np.full(5, 0.05), np.zeros(5), prior_sd=0)


def _rows(rng: np.random.Generator, origins: range, n: int, factor: float,
          horizon: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """A stationary world whose forecaster's odds are ``factor`` times the truth's."""
    frames, truth = [], []
    for t in origins:
        true = expit(rng.normal(-3.5, 1.0, n))
        p = expit(logit(true) + np.log(factor))
        frames.append(pd.DataFrame({
            "source": "m", "crime": "genocide", "origin_year": t, "country": np.arange(n),
            "target_start": t + 1, "target_end": t + horizon, "p_mean": p,
            "p_q05": p / 2, "p_q50": p, "p_q95": np.minimum(2 * p, 1.0),
            "outcome": rng.binomial(1, true).astype(float), "outcome_status": "observed"}))
        truth.append(true)
    return pd.concat(frames, ignore_index=True), np.concatenate(truth)


def test_history_is_only_what_was_resolved_by_the_origin() -> None:
    rng = np.random.default_rng(0)
    rows, _ = _rows(rng, range(2000, 2008), 300, factor=2.0)
    out = recalibrate_on_track_record(rows)
    for t in (2000, 2001, 2004, 2007):
        hist = rows[rows["target_end"] <= t]
        expected = intercept_shift(hist["p_mean"].to_numpy(), hist["outcome"].to_numpy())
        got = out.loc[out["origin_year"] == t, "shift"].unique()
        assert got == pytest.approx([expected], abs=1e-12)
        assert (out.loc[out["origin_year"] == t, "history_cases"] == len(hist)).all()
    # no history for the first two origins (two-year windows): unchanged forecasts
    first = out["origin_year"] <= 2001
    np.testing.assert_allclose(out.loc[first, "p_mean"], rows.loc[first, "p_mean"], rtol=1e-12)
    # outcomes of later windows (and unresolved rows) do not reach back
    changed = rows.copy()
    late = changed["target_end"] > 2004
    changed.loc[late, "outcome"] = 1 - changed.loc[late, "outcome"]
    changed.loc[changed["origin_year"] == 2000, "outcome_status"] = "pending"
    changed.loc[changed["origin_year"] == 2000, "outcome"] = np.nan
    again = recalibrate_on_track_record(changed)
    at = again["origin_year"] == 2004
    assert again.loc[at, "shift"].iloc[0] == pytest.approx(
        intercept_shift(rows.loc[(rows["target_end"] <= 2004) & (rows["origin_year"] > 2000),
                             "p_mean"].to_numpy(),
                        rows.loc[(rows["target_end"] <= 2004) & (rows["origin_year"] > 2000),
                                 "outcome"].to_numpy()), abs=1e-12)


def test_recalibration_removes_a_known_bias() -> None:
    rng = np.random.default_rng(1)
    rows, truth = _rows(rng, range(1990, 2010), 2000, factor=3.0)
    out = recalibrate_on_track_record(rows)
    late = (rows["origin_year"] >= 2000).to_numpy()
    # the learned shift approaches the true bias, -log(3)
    assert out.loc[late, "shift"].mean() == pytest.approx(-np.log(3), abs=0.12)
    # expected Brier score against the true probabilities improves
    def expected_brier(p: np.ndarray) -> float:
        return float(np.mean(truth[late] * (1 - p) ** 2 + (1 - truth[late]) * p**2))
    assert expected_brier(out["p_mean"].to_numpy()[late]) < expected_brier(
        rows["p_mean"].to_numpy()[late])
    assert out["p_mean"].to_numpy()[late].mean() == pytest.approx(truth[late].mean(), rel=0.1)
    # monotone map: quantiles stay ordered and ranks within an origin are kept
    assert (out["p_q05"] <= out["p_q50"]).all() and (out["p_q50"] <= out["p_q95"]).all()
    for t, grp in out.groupby("origin_year"):
        raw = rows.loc[grp.index, "p_mean"]
        assert (np.argsort(grp["p_mean"].to_numpy(), kind="stable")
                == np.argsort(raw.to_numpy(), kind="stable")).all(), t
    assert set(out["source"]) == {"m recalibrated"}


def test_groups_are_recalibrated_separately() -> None:
    rng = np.random.default_rng(2)
    a, _ = _rows(rng, range(2000, 2010), 1500, factor=3.0)
    b, _ = _rows(rng, range(2000, 2010), 1500, factor=1 / 3)
    b["crime"] = "war_crimes"
    out = recalibrate_on_track_record(pd.concat([a, b], ignore_index=True))
    last = out[out["origin_year"] == 2009].groupby("crime")["shift"].first()
    assert last["genocide"] < -0.7 and last["war_crimes"] > 0.7


def test_bad_rows_name_the_column_and_row() -> None:
    rng = np.random.default_rng(4)
    rows, _ = _rows(rng, range(2000, 2004), 20, factor=1.0)
    with pytest.raises(CalibrationInputError, match="outcome_status"):
        recalibrate_on_track_record(rows.drop(columns="outcome_status"))
    bad = rows.copy()
    bad.loc[7, "p_mean"] = 1.5
    with pytest.raises(CalibrationInputError, match=r"'p_mean'.*row 7"):
        recalibrate_on_track_record(bad)
    bad = rows.copy()
    bad.loc[3, "outcome"] = 2
    with pytest.raises(CalibrationInputError, match=r"'outcome'.*row 3"):
        recalibrate_on_track_record(bad)
    with pytest.raises(CalibrationInputError, match="by"):
        recalibrate_on_track_record(rows, by=["source", "region"])


def test_issue_recalibrated_records_a_new_source_once(tmp_path, capsys) -> None:
    rng = np.random.default_rng(5)
    rows, _ = _rows(rng, range(2000, 2006), 30, factor=2.0, horizon=1)
    rows["country"] = rows["country"].astype(str)
    years = np.arange(2000, 2008)
    onset = xr.DataArray(np.zeros((30, years.size, 1)), dims=("country", "year", "crime"),
                         coords={"country": [str(i) for i in range(30)], "year": years,
                                 "crime": ["genocide"]})
    for r in rows[rows["outcome"] == 1].itertuples():
        onset.loc[r.country, r.target_end, "genocide"] = 1
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as led:
        led.issue(rows.drop(columns=["outcome", "outcome_status"]), source="m", kind="backtest",
                  run_id="r1", data_hash="d", config_hash="c", ignore_extra_columns=True)
        led.resolve(onset, outcome_source="test", observed_through=2003)
    # recalibrated as known in 2003: later origins get the history resolved by then
    assert issue_recalibrated(path, ["m"]) == ["m recalibrated"]
    with Ledger(path, create=False) as led:
        first = led.rows(source="m recalibrated").set_index(["origin_year", "country"])
        led.resolve(onset, outcome_source="test", observed_through=2007)
    # the history has grown; issued forecasts stay as issued (no conflict, nothing rewritten)
    assert main(["ledger", "recalibrate", "--ledger", str(path), "--source", "m"]) == 0
    assert "'m recalibrated'" in capsys.readouterr().out
    with Ledger(path, create=False) as led:
        again = led.rows(source="m recalibrated").set_index(["origin_year", "country"])
    np.testing.assert_array_equal(again.loc[first.index, "p_mean"], first["p_mean"])
    # a fresh ledger recalibrated with everything resolved uses the longer history
    fresh = tmp_path / "fresh.sqlite"
    with Ledger(fresh) as led:
        led.issue(rows.drop(columns=["outcome", "outcome_status"]), source="m", kind="backtest",
                  run_id="r1", data_hash="d", config_hash="c", ignore_extra_columns=True)
        led.resolve(onset, outcome_source="test", observed_through=2007)
    path = fresh
    assert issue_recalibrated(path, ["m"]) == ["m recalibrated"]
    assert issue_recalibrated(path, ["m"]) == ["m recalibrated"]  # a no-op the second time
    with Ledger(path, create=False) as led:
        stored = led.rows()
    late = stored[(stored.source == "m recalibrated") & (stored.origin_year == 2005)]
    assert not np.allclose(late.sort_values("country")["p_mean"],
                           first.loc[2005].sort_index()["p_mean"])
    mine = stored[stored["source"] == "m recalibrated"].sort_values(["origin_year", "country"])
    assert len(mine) == len(rows)
    assert (mine["outcome_status"] == "pending").all()
    expected = recalibrate_on_track_record(
        stored[stored["source"] == "m"]).sort_values(["origin_year", "country"])
    np.testing.assert_allclose(mine["p_mean"], expected["p_mean"], rtol=1e-9)
    assert mine["config_hash"].iloc[0].startswith("c recalibrated")
    with pytest.raises(InputError, match="no forecasts of source"):
        issue_recalibrated(path, ["nobody"])
    before = len(stored)
    assert main(["ledger", "recalibrate", "--ledger", str(path), "--source", "nobody"]) \
        == EXIT_BAD_INPUT
    with Ledger(path, create=False) as led:
        assert len(led.rows()) == before  # nothing written
