"""Evaluation against the Early Warning Project's published forecasts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from r2p_models.backtest import base_rate_forecaster
from r2p_models.crimes import CRIMES
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger
from r2p_models.studies.peer import (
    PEER_SOURCE,
    FourCrimeEvaluation,
    PeerEvaluation,
    evaluate_against_peer,
    evaluate_four_crimes,
    peer_forecast_rows,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("R2P_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
needs_data = pytest.mark.skipif(
    not (SHARED / "ewp" / "out_of_sample_forecasts_1994_2008.csv").exists(),
    reason=f"real data not found at {SHARED} (set R2P_SHARED_DATASETS)",
)


def _foos(tmp_path: Path, rows: list[tuple]) -> Path:
    path = tmp_path / "foos.csv"
    pd.DataFrame(rows, columns=["year", "ccode", "prev_year", "risk_prev"]).to_csv(
        path, index=False)
    return path


def test_peer_rows_are_two_year_windows_from_the_previous_year(tmp_path) -> None:
    path = _foos(tmp_path, [(1994, 2, 1993, 0.02), (1995, 2, 1994, np.nan),
                            (1995, 490, 1994, 0.3)])
    rows, blank = peer_forecast_rows(path)
    assert blank == 1
    assert rows.to_dict("records") == [
        {"origin_year": 1993, "country": "2", "crime": "crimes_against_humanity",
         "target_start": 1994, "target_end": 1995, "p_mean": 0.02},
        {"origin_year": 1994, "country": "490", "crime": "crimes_against_humanity",
         "target_start": 1995, "target_end": 1996, "p_mean": 0.3},
    ]


def test_peer_file_errors(tmp_path) -> None:
    with pytest.raises(InputError, match=r"prev_year' is not year - 1 at rows \[2\]"):
        peer_forecast_rows(_foos(tmp_path, [(1994, 2, 1993, 0.1), (1995, 2, 1993, 0.1)]))
    with pytest.raises(InputError, match="file not found"):
        peer_forecast_rows(tmp_path / "nope.csv")


@needs_data
def test_comparison_on_the_same_cases_matches_an_independent_computation(tmp_path) -> None:
    origins = [2000, 2001, 2002, 2003]
    res = evaluate_against_peer(SHARED, tmp_path / "eval", origins=origins,
                                variants=["pooled"], forecaster=base_rate_forecaster,
                                n_boot=50, warmup=0)
    # independent: the peer's file joined with the EWP panel's yearly onsets
    foos = pd.read_csv(SHARED / "ewp" / "out_of_sample_forecasts_1994_2008.csv")
    panel = pd.read_csv(SHARED / "ewp" / "prepared_predictors_1960_2008.csv")
    onset = panel.set_index(["ccode", "year"])["mk_onset"]
    foos = foos[foos["prev_year"].isin(origins) & foos["risk_prev"].notna()].copy()
    y1 = onset.reindex(list(zip(foos.ccode, foos.year, strict=True))).to_numpy()
    y2 = onset.reindex(list(zip(foos.ccode, foos.year + 1, strict=True))).to_numpy()
    foos["y"] = np.where((y1 == 1) | (y2 == 1), 1.0, np.where(np.isnan(y1 + y2), np.nan, 0.0))
    # a country with an onset in the origin year is in an episode: not at risk, no forecast
    y0 = onset.reindex(list(zip(foos.ccode, foos.prev_year, strict=True))).to_numpy()
    foos = foos[foos["y"].notna() & (y0 != 1)]
    assert res.n_cases == len(foos)
    assert res.n_events == int(foos["y"].sum()) > 0
    peer = res.scores[(res.scores.source == PEER_SOURCE)].set_index("metric")["estimate"]
    assert peer["brier"] == pytest.approx(brier_score_loss(foos["y"], foos["risk_prev"]),
                                          abs=1e-12)
    assert peer["auc"] == pytest.approx(roc_auc_score(foos["y"], foos["risk_prev"]), abs=1e-12)
    # within-year AUC: the pairs of the same origin year only (brute force)
    num = den = 0.0
    for _, g in foos.groupby("prev_year"):
        pos, neg = g.risk_prev[g.y == 1].to_numpy(), g.risk_prev[g.y == 0].to_numpy()
        num += (pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum()
        den += pos.size * neg.size
    assert peer["auc_within"] == pytest.approx(num / den, abs=1e-12)
    # every source is also scored recalibrated on its own track record; origins 2000 and
    # 2001 have no resolved two-year window before them, so they are left as issued
    recal = f"{PEER_SOURCE} recalibrated"
    assert res.sources[-1] == PEER_SOURCE and recal in res.sources
    with Ledger(res.ledger, create=False) as led:
        rows = led.rows()
    key = ["origin_year", "country"]
    both = rows[rows.source == PEER_SOURCE].merge(rows[rows.source == recal], on=key)
    early = both.origin_year <= 2001
    np.testing.assert_allclose(both.p_mean_x[early], both.p_mean_y[early], rtol=1e-12)
    assert (both.p_mean_y[~early] < both.p_mean_x[~early]).all()  # the peer over-forecast
    # a shift per origin leaves each year's ranking, hence the within-year AUC, unchanged
    recal_est = res.scores[res.scores.source == recal].set_index("metric")["estimate"]
    assert recal_est["auc_within"] == pytest.approx(peer["auc_within"], abs=1e-12)
    # the paired differences are computed against the peer, on the same cases
    assert set(res.differences["b"]) == {PEER_SOURCE}
    assert (res.differences["n"] == res.n_cases).all()
    for key in ("scores", "differences", "markdown", "report"):
        assert Path(res.files[key]).exists()
    assert "| brier |" in Path(res.files["markdown"]).read_text()
    # the stored results load back to the same tables
    back = PeerEvaluation.load(tmp_path / "eval")
    assert back.markdown() == res.markdown()
    assert back.sources == res.sources and back.n_cases == res.n_cases
    # the three targets, against the peer as published, for every other source
    t = res.targets().set_index("source")
    assert list(t.index) == res.sources[:-1]
    assert t["auc_peer"].tolist() == pytest.approx(
        [roc_auc_score(foos["y"], foos["risk_prev"])] * len(t), abs=1e-12)
    ours = res.sources[0]
    ours_est = res.scores[res.scores.source == ours].set_index("metric")["estimate"]
    assert t.loc[ours, "mcb_ratio"] == pytest.approx(ours_est["mcb_brier"]
                                                     / peer["mcb_brier"], rel=1e-12)
    assert t.loc[ours, "auc_met"] == (ours_est["auc"] >= peer["auc"])
    assert t["all_met"].tolist() == (t.auc_met & t.mcb_met & t.skill_met).tolist()
    assert "| all three |" in res.markdown()
    assert t.loc[ours, "auc_within_peer"] == pytest.approx(peer["auc_within"], abs=1e-12)
    # results stored before auc_within existed still load and print (as n/a)
    older = PeerEvaluation(ledger=res.ledger, sources=res.sources, n_cases=res.n_cases,
                           n_events=res.n_events,
                           scores=res.scores[res.scores.metric != "auc_within"],
                           differences=res.differences)
    assert "| n/a (n/a) |" in older.markdown()


@needs_data
def test_warmup_origins_give_the_first_compared_origin_a_track_record(tmp_path) -> None:
    from scipy.special import expit, logit

    from r2p_models.calibration.recalibrate import SHIFT_PRIOR_SD

    origins = [2002, 2003]
    kw = dict(variants=["pooled"], forecaster=base_rate_forecaster, n_boot=20)
    res = evaluate_against_peer(SHARED, tmp_path / "warm", origins=origins, warmup=2, **kw)
    cold = evaluate_against_peer(SHARED, tmp_path / "cold", origins=origins, warmup=0, **kw)
    with Ledger(res.ledger, create=False) as led:
        rows = led.rows()
    ours = res.sources[0]
    # the warm-up origins are backtested and recorded, for us and the peer ...
    for source in (ours, PEER_SOURCE):
        assert sorted(rows.loc[rows.source == source, "origin_year"].unique()) == [
            2000, 2001, 2002, 2003]
    # ... but only the compared origins are scored: the same cases, the same scores as
    # issued, as without a warm-up
    assert (res.n_cases, res.n_events) == (cold.n_cases, cold.n_events)
    def est(r, source):
        return r.scores[r.scores.source == source].set_index("metric")["estimate"]
    for source in (ours, PEER_SOURCE):
        pd.testing.assert_series_equal(est(res, source), est(cold, source))
    # the first compared origin now has a history (origin 2000, window 2001-02), and its
    # recalibrated forecasts carry the shift that solves that history's score equation
    key = ["country", "origin_year"]
    for source in (ours, PEER_SOURCE):
        issued = rows[(rows.source == source) & (rows.outcome_status == "observed")]
        recal = rows[rows.source == f"{source} recalibrated"]
        both = issued.merge(recal, on=key, suffixes=("", "_r"))
        first = both[both.origin_year == 2002]
        a = logit(first.p_mean_r) - logit(first.p_mean)
        assert np.ptp(a) < 1e-9 and abs(a.iloc[0]) > 0.01
        hist = issued[issued.origin_year == 2000]
        z = logit(hist.p_mean.to_numpy())
        score = np.sum(hist.outcome - expit(z + a.iloc[0])) - a.iloc[0] / SHIFT_PRIOR_SD**2
        assert abs(score) < 1e-6
    back = PeerEvaluation.load(tmp_path / "warm")  # the compared cases, not the warm-up's
    assert (back.n_cases, back.n_events) == (res.n_cases, res.n_events)
    with pytest.raises(InputError, match="warmup"):
        evaluate_against_peer(SHARED, tmp_path / "bad", origins=origins, warmup=-1, **kw)
    assert not (tmp_path / "bad").exists()


def test_cli_refuses_a_bad_warmup_before_any_work(tmp_path, capsys) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, main

    out = tmp_path / "eval"
    assert main(["evaluate-peer", "--data", str(tmp_path), "--out", str(out),
                 "--warmup", "-1"]) == EXIT_BAD_INPUT
    assert "warmup must be a whole number of origins >= 0; got -1" in capsys.readouterr().err
    assert not out.exists()


@needs_data
def test_four_crime_evaluation_scores_each_crime_on_shared_cases(tmp_path) -> None:
    origins = [2002, 2004]
    res = evaluate_four_crimes(SHARED, tmp_path / "eval", origins=origins,
                               variants=["hierarchical", "independent"],
                               forecaster=base_rate_forecaster, n_boot=50)
    assert res.origins == origins
    assert set(res.cases["crime"]) == set(CRIMES)
    for crime, grp in res.cases.groupby("crime"):
        a = grp[grp["source"] == res.sources[0]]
        b = grp[grp["source"] == res.sources[1]]
        assert len(a) == len(b) > 0  # the same cases for both variants
        sc = res.scores[(res.scores["crime"] == crime)
                        & (res.scores["source"] == res.sources[0])].set_index("metric")
        # per-crime scores agree with scikit-learn on that crime's cases
        assert sc.loc["brier", "estimate"] == pytest.approx(
            brier_score_loss(a["outcome"], a["p_mean"]), abs=1e-12)
        # the base-rate forecaster is the issue-time climatology of its own crime,
        # so its skill against that reference is exactly zero
        assert sc.loc["brier_skill_climatology", "estimate"] == pytest.approx(0.0, abs=1e-12)
    # identical forecasters: every paired difference is zero
    diffs = res.differences.dropna(subset=["difference"])
    assert len(diffs) > 0 and np.allclose(diffs["difference"], 0.0)
    text = Path(res.files["markdown"]).read_text()
    assert all(f"| {crime} |" in text for crime in CRIMES)
    assert Path(res.files["report"]).exists()
    back = FourCrimeEvaluation.load(tmp_path / "eval")
    assert back.markdown() == res.markdown()
    with pytest.raises(InputError, match="no stored evaluation result"):
        FourCrimeEvaluation.load(tmp_path)


def test_four_crime_evaluation_needs_two_variants(tmp_path) -> None:
    with pytest.raises(InputError, match="need two to compare"):
        evaluate_four_crimes(tmp_path, tmp_path / "out", variants=["hierarchical"])


def _fake_data(tmp_path: Path, foos_rows: list[tuple], *, link_panel: bool) -> Path:
    """A data folder with a peer file of our own and, optionally, the real EWP panel."""
    data = tmp_path / "data"
    (data / "ewp").mkdir(parents=True)
    _foos(tmp_path, foos_rows).rename(data / "ewp" / "out_of_sample_forecasts_1994_2008.csv")
    if link_panel:
        name = "prepared_predictors_1960_2008.csv"
        (data / "ewp" / name).symlink_to(SHARED / "ewp" / name)
    return data


def _no_fit(*args, **kwargs):
    raise AssertionError("a model was fitted before the inputs were checked")


def test_an_unknown_variant_is_refused_before_anything_is_written(tmp_path) -> None:
    data = _fake_data(tmp_path, [(1994, 2, 1993, 0.02)], link_panel=False)
    out = tmp_path / "eval"
    with pytest.raises(InputError, match=r"variant = 'foo': expected one of"):
        evaluate_against_peer(data, out, variants=["pooled", "foo"], forecaster=_no_fit)
    with pytest.raises(InputError, match=r"variant = 'foo': expected one of"):
        evaluate_four_crimes(data, out, variants=["hierarchical", "foo"], forecaster=_no_fit)
    assert not out.exists()


@needs_data
def test_a_bad_peer_file_is_refused_before_the_first_fit(tmp_path) -> None:
    data = _fake_data(tmp_path, [(2001, 2, 2000, 0.1), (2002, 2, 2000, 0.1)], link_panel=True)
    out = tmp_path / "eval"
    with pytest.raises(InputError, match=r"prev_year' is not year - 1 at rows \[2\]"):
        evaluate_against_peer(data, out, origins=[2001, 2002], variants=["pooled"],
                              forecaster=_no_fit, warmup=0)
    assert not out.exists()


@needs_data
def test_origins_outside_the_panel_are_refused_in_the_users_terms(tmp_path, capsys) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, main

    out = tmp_path / "ev4"
    assert main(["--log-format", "text", "evaluate-peer", "--data", str(SHARED),
                 "--out", str(out), "--origins", "2030"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    # the EWP panel covers 1960-2008; two warm-up origins precede the first compared one
    assert "origins [2030]: each compared origin must lie in 1964-2008" in err
    assert "2028" not in err and "2029" not in err
    assert not out.exists()
    with pytest.raises(InputError, match=r"origins \[1963\]: .* 1964-2008"):
        evaluate_against_peer(SHARED, out, origins=[1963, 1990], forecaster=_no_fit)
    with pytest.raises(InputError, match=r"origins \[2009\]: .* 1962-2008"):
        evaluate_four_crimes(SHARED, out, origins=[2000, 2009], forecaster=_no_fit)
    assert not out.exists()
