"""Lead time of warnings and what changed between runs, on hand-worked tiny ledgers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from r2p_models.calibration import CalibrationInputError
from r2p_models.calibration.leadtime import (
    compare_lead_times,
    find_onsets,
    lead_time_at_budget,
    lead_time_summary,
    lead_times,
    onset_histories,
)
from r2p_models.ledger import Ledger

T0 = dt.datetime(2020, 1, 15, 12, 0, tzinfo=dt.UTC)
MODEL = "r2p-hier 1.0"
ANALYST = "analyst/desk"
#: p_mean of (country, origin) for the model, genocide, window origin+1 (one year).
#: Ranks: 2010 B A C; 2011-2012 A B C; 2013 A C B; 2014 C B A; 2015 A B C.
P = {
    "A": {2010: 0.20, 2011: 0.30, 2012: 0.40, 2013: 0.50, 2014: 0.01, 2015: 0.30},
    "B": {2010: 0.25, 2011: 0.20, 2012: 0.20, 2013: 0.02, 2014: 0.10, 2015: 0.20},
    "C": {2010: 0.05, 2011: 0.05, 2012: 0.05, 2013: 0.10, 2014: 0.20, 2015: 0.10},
}
#: Onsets: A in 2014, B in 2015, C in 2013.
ONSETS = {"A": 2014, "B": 2015, "C": 2013}


def _rows(p: dict[str, dict[int, float]], horizon: int = 1) -> pd.DataFrame:
    return pd.DataFrame([
        {"origin_year": o, "country": c, "crime": "genocide", "target_start": o + 1,
         "target_end": o + horizon, "p_mean": v}
        for c, by in p.items() for o, v in by.items()])


def _panel(onsets: dict[str, int], years: range = range(2008, 2018)) -> xr.DataArray:
    countries = sorted(onsets)
    vals = np.zeros((len(countries), len(years), 1))
    for i, c in enumerate(countries):
        vals[i, list(years).index(onsets[c]), 0] = 1
    return xr.DataArray(vals, dims=("country", "year", "crime"),
                        coords={"country": countries, "year": list(years),
                                "crime": ["genocide"]})


def _ledger(path, *, horizon: int = 1, analyst: bool = True) -> pd.DataFrame:
    with Ledger(path) as led:
        led.issue(_rows(P, horizon), source=MODEL, kind="forecast", run_id="r1",
                  data_hash="d", config_hash="c", issued_at=T0)
        if analyst:
            # the analyst puts C first at 2011 and 2012 only
            pa = {"A": {2011: 0.1, 2012: 0.1}, "B": {2011: 0.05, 2012: 0.05},
                  "C": {2011: 0.3, 2012: 0.3}}
            led.issue(_rows(pa, horizon), source=ANALYST, kind="analyst", run_id="a1",
                      data_hash=None, config_hash=None, issued_at=T0)
        led.resolve(_panel(ONSETS), outcome_source="hand", observed_through=2017,
                    resolved_at=T0)
        return led.rows()


@pytest.fixture
def rows(tmp_path) -> pd.DataFrame:
    return _ledger(tmp_path / "ledger.sqlite")


def _one(lt: pd.DataFrame, country: str, source: str = MODEL) -> pd.Series:
    r = lt[(lt["country"] == country) & (lt["source"] == source)]
    assert len(r) == 1
    return r.iloc[0]


def test_onsets_are_read_from_the_resolved_windows(rows, tmp_path) -> None:
    ons = find_onsets(rows)
    assert list(zip(ons["country"], ons["onset_year"], strict=True)) == [
        ("C", 2013), ("A", 2014), ("B", 2015)]
    assert ons["onset_exact"].all()
    # two-year windows: each onset is in two positive windows; still one onset, its year
    # the one year those windows share (or the earliest one no zero window rules out)
    two = _ledger(tmp_path / "two.sqlite", horizon=2, analyst=False)
    ons2 = find_onsets(two)
    assert dict(zip(ons2["country"], ons2["onset_year"], strict=True)) == ONSETS
    assert (ons2["windows"] >= 1).all()


def test_lead_time_top_n(rows) -> None:
    lt = lead_times(rows, top_n=1, sources=[MODEL])
    a = _one(lt, "A")
    # ranked 1st at origins 2011, 2012, 2013 (2nd at 2010): 3 years before the 2014 onset
    assert (a.flagged, a.lead_time, a.entered, a.origins, a.last_origin) == (
        True, 3.0, 2011, 4, 2013)
    b = _one(lt, "B")  # 1st at 2010 only, then dropped: missed, though flagged once
    assert not b.flagged and np.isnan(b.lead_time) and b.ever_flagged
    assert b.first_flagged == 2010 and b.rank_last == 2
    c = _one(lt, "C")  # never on the list: missed
    assert not c.flagged and not c.ever_flagged and np.isnan(c.lead_time)
    # top 2: B is back on the list at 2014 only (3rd at 2013), so 1 year
    lt2 = lead_times(rows, top_n=2, sources=[MODEL])
    assert _one(lt2, "B").lead_time == 1.0 and _one(lt2, "A").lead_time == 4.0
    # origins at or after the onset never count
    h = onset_histories(rows, sources=[MODEL])
    assert (h["origin_year"] < h["onset_year"]).all()
    assert set(h.loc[h["country"] == "C", "origin_year"]) == {2010, 2011, 2012}


def test_lead_time_threshold_and_lookback(rows) -> None:
    lt = lead_times(rows, top_n=None, threshold=0.25, sources=[MODEL])
    assert set(lt["rule"]) == {"p >= 0.25"}
    assert _one(lt, "A").lead_time == 3.0  # 0.30, 0.40, 0.50 from 2011
    assert not _one(lt, "B").flagged  # 0.25 at 2010 only
    assert _one(lead_times(rows, top_n=None, threshold=0.45, sources=[MODEL]),
                "A").lead_time == 1.0
    both = lead_times(rows, top_n=1, threshold=0.25, sources=[MODEL])
    assert set(both["rule"]) == {"top 1", "p >= 0.25"}
    short = lead_times(rows, top_n=1, max_lookback=2, sources=[MODEL])
    assert _one(short, "A").lead_time == 2.0 and _one(short, "A").origins == 2


def test_summary_per_source_and_crime(rows) -> None:
    s = lead_time_summary(lead_times(rows, top_n=2))
    m = s[s["source"] == MODEL].iloc[0]
    assert (m.crime, m.onsets, m.flagged, m.dropped) == ("genocide", 3, 2, 0)
    assert m.share_flagged == pytest.approx(2 / 3)
    assert m.median_lead == 2.5 and m.q25_lead == 1.75 and m.q75_lead == 3.25  # {1, 4}
    assert m.mean_warning_years == pytest.approx(5 / 3)
    a = s[s["source"] == ANALYST].iloc[0]
    assert a.onsets == 3  # the analyst covered A (2014), B (2015) and C (2013)


def test_paired_comparison(rows) -> None:
    lt = lead_times(rows, top_n=1)
    assert _one(lt, "C", ANALYST).lead_time == 2.0  # 1st at 2011 and 2012
    cmp = compare_lead_times(lt, MODEL, ANALYST, n_boot=500, seed=1)
    r = cmp.iloc[0]
    assert (r.onsets, r.both, r.a_only, r.b_only, r.neither) == (3, 0, 1, 1, 1)
    assert r.mean_a == pytest.approx(1.0) and r.mean_b == pytest.approx(2 / 3)
    assert r.difference == pytest.approx(1 / 3)
    assert r.lower <= r.difference <= r.upper and r.lower < 0 < r.upper
    assert np.isnan(r.median_diff_both)
    with pytest.raises(CalibrationInputError, match="no lead times of source"):
        compare_lead_times(lt, MODEL, "nobody")


def test_alert_budget(rows) -> None:
    b = lead_time_at_budget(rows, budgets=[1, 2, 3], sources=[MODEL])
    got = b.set_index("budget")[["flagged", "median_lead"]]
    assert got.loc[1].tolist() == [1, 3.0]
    assert got.loc[2].tolist() == [2, 2.5]
    assert got.loc[3, "flagged"] == 3  # every country is on a list of 3


def test_bad_input_is_named(rows) -> None:
    with pytest.raises(CalibrationInputError, match="unknown source"):
        lead_times(rows, sources=["nobody"])
    with pytest.raises(CalibrationInputError, match="top_n"):
        lead_times(rows, top_n=0)
    with pytest.raises(CalibrationInputError, match="threshold"):
        lead_times(rows, threshold=1.5)
    with pytest.raises(CalibrationInputError, match="lack column"):
        lead_times(rows.drop(columns="p_mean"))
    empty = lead_times(rows[rows["outcome_status"] != "observed"], top_n=1)
    assert empty.empty and lead_time_summary(empty).empty


# ----------------------------------------------------------------------------- what changed

V19 = {"A": 0.5, "B": 0.4, "C": 0.3, "D": 0.2, "E": 0.1}
V20 = {"A": 0.45, "C": 0.6, "B": 0.1, "D": 0.25}  # E no longer at risk: not forecast


def _vintage_rows(p: dict[str, float], origin: int) -> pd.DataFrame:
    df = pd.DataFrame({"country": list(p), "p_mean": list(p.values())})
    df["origin_year"], df["crime"] = origin, "genocide"
    df["target_start"], df["target_end"] = origin + 1, origin + 2
    df["p_q05"] = (df["p_mean"] - 0.05).clip(0, 1)
    df["p_q50"] = df["p_mean"]
    df["p_q95"] = (df["p_mean"] + 0.05).clip(0, 1)
    return df


def _two_vintages(path, both: bool = True) -> pd.DataFrame:
    with Ledger(path) as led:
        for origin, p in ((2019, V19), (2020, V20))[: 2 if both else 1]:
            led.issue(_vintage_rows(p, origin), source=MODEL, kind="forecast",
                      run_id=f"r{origin}", data_hash="d", config_hash="c",
                      issued_at=dt.datetime(origin + 1, 3, 1, tzinfo=dt.UTC))
        return led.rows()


EXPLAIN = {
    "r2019": pd.DataFrame({"country": ["C", "C", "B"], "crime": "genocide",
                           "risk_factor": ["1 Armed conflict", "9 Tensions", "1 Armed conflict"],
                           "contribution": [0.2, 0.1, 0.5]}),
    "r2020": pd.DataFrame({"country": ["C", "C", "C"], "crime": "genocide",
                           "risk_factor": ["1 Armed conflict", "9 Tensions",
                                           "3 Weakness of State structures"],
                           "contribution": [0.9, 0.1, -0.3]}),
}


def test_what_changed_between_two_vintages(tmp_path) -> None:
    from r2p_models.report.changes import what_changed

    rows = _two_vintages(tmp_path / "l.sqlite")
    ch = what_changed(rows, top_n=2, n=5)
    assert (ch.source, ch.latest, ch.previous, ch.latest_run, ch.previous_run) == (
        MODEL, 2020, 2019, "r2020", "r2019")
    assert ch.entrants[["country", "rank_now", "rank_before"]].values.tolist() == [["C", 1, 3]]
    assert ch.exits[["country", "rank_before", "rank_now"]].values.tolist() == [["B", 2, 4]]
    assert ch.risers["country"].tolist() == ["C", "D"]
    assert ch.fallers["country"].tolist() == ["B", "A"]
    c = ch.risers.iloc[0]
    assert c.change == pytest.approx(0.3)
    assert (c.p_before_q05, c.p_before_q95, c.p_now_q05, c.p_now_q95) == pytest.approx(
        (0.25, 0.35, 0.55, 0.65))
    assert not ch.explained and "drivers" not in ch.risers.columns
    # E left the forecasts (not at risk) but was never on the top 2: not an exit
    wide = what_changed(rows, top_n=5, n=1)
    assert wide.exits[["country", "note"]].values.tolist() == [
        ["E", "not forecast in the latest run"]]
    assert len(wide.risers) == len(wide.fallers) == 1
    assert what_changed(rows, top_n=2, by="run").entrants["country"].tolist() == ["C"]


def test_what_changed_shows_the_risk_factors_that_moved(tmp_path) -> None:
    from r2p_models.report.changes import run_explanations, what_changed

    rows = _two_vintages(tmp_path / "l.sqlite")
    for run, df in EXPLAIN.items():
        (tmp_path / "runs" / run).mkdir(parents=True)
        df.to_csv(tmp_path / "runs" / run / "explanations.csv", index=False)
    ex = run_explanations(tmp_path / "l.sqlite", ["r2019", "r2020", "r-missing"])
    assert sorted(ex) == ["r2019", "r2020"]
    ch = what_changed(rows, top_n=2, explanations=ex)
    assert ch.explained
    drivers = dict(zip(ch.risers["country"], ch.risers["drivers"], strict=True))
    assert drivers["C"] == "1 Armed conflict (+0.70); 3 Weakness of State structures (-0.30)"
    assert dict(zip(ch.fallers["country"], ch.fallers["drivers"], strict=True))["B"] == \
        "not recorded in both runs"


def test_what_changed_with_one_vintage_or_none(tmp_path) -> None:
    from r2p_models.errors import InputError
    from r2p_models.report.changes import what_changed

    rows = _two_vintages(tmp_path / "l.sqlite", both=False)
    ch = what_changed(rows)
    assert ch.previous is None and "Only one real-time run" in ch.note
    assert ch.entrants.empty and ch.risers.empty
    assert "no real-time forecasts" in what_changed(rows.iloc[:0]).note
    with pytest.raises(InputError, match="unknown source"):
        what_changed(rows, "nobody")


# ----------------------------------------------------------------------------- CLI


def test_cli_prints_the_summary_and_writes_the_lead_times(tmp_path, capsys) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, EXIT_OK, main

    path = tmp_path / "ledger.sqlite"
    _ledger(path)
    out = tmp_path / "sub" / "lead.csv"
    assert main(["--log-format", "text", "leadtime", "--ledger", str(path), "--top-n", "1",
                 "--threshold", "0.25", "--source", MODEL, "--out", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "median_lead" in printed and "top 1" in printed and "p >= 0.25" in printed
    assert ANALYST not in printed
    lt = pd.read_csv(out)
    assert len(lt) == 6 and set(lt["source"]) == {MODEL}
    for argv, message in (
        (["--source", "nobody"], "unknown source(s) ['nobody']"),
        (["--threshold", "2"], "threshold must be a probability"),
    ):
        assert main(["--log-format", "text", "leadtime", "--ledger", str(path), *argv]) \
            == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and err[0].startswith("r2p leadtime: error")
    assert main(["leadtime", "--ledger", str(tmp_path / "missing.sqlite")]) == EXIT_BAD_INPUT
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(SystemExit) as exc:
        main(["leadtime", "--ledger", str(path), "--top-n", "0"])
    assert exc.value.code == EXIT_BAD_INPUT


# ----------------------------------------------------------------------------- report


def _section(html: str, sid: str) -> str:
    start = html.index(f'<section id="{sid}"')
    return html[start:html.index("</section>", start)]


def test_report_shows_lead_times_when_there_are_onsets(tmp_path) -> None:
    from r2p_models.report import SECTIONS, build_report

    path = tmp_path / "ledger.sqlite"
    _ledger(path)
    html = build_report(path, top_n=1, n_boot=20)
    ids = [sid for sid, _ in SECTIONS]
    assert ids.index("changes") == 1 and "lead-time" in ids
    sec = _section(html, "lead-time")
    assert "How early did warnings come?" in sec
    assert 'data-track="r2p-hier 1.0 (real time)"' in sec
    row = sec[sec.index('data-track="r2p-hier 1.0 (real time)" data-crime="genocide"'):]
    assert 'data-metric="onsets" data-value="3.0"' in row
    assert 'data-metric="flagged" data-value="1.0"' in row
    assert 'data-metric="median_lead" data-value="3.0"' in row
    assert 'id="lead-time-ranks"' in sec and "<img" in sec  # the figure
    assert "Alert budgets" in sec and "against the other sources" in sec
    # each origin is a vintage: the last two are compared
    assert "origin 2015" in _section(html, "changes")


def test_report_says_plainly_when_there_are_no_onsets(tmp_path) -> None:
    from r2p_models.report import build_report

    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as led:
        led.issue(_rows(P), source=MODEL, kind="forecast", run_id="r1", data_hash="d",
                  config_hash="c", issued_at=T0)
        led.resolve(_panel({"A": 2030, "B": 2030, "C": 2030}, range(2008, 2031)),
                    outcome_source="hand", observed_through=2017, resolved_at=T0)
    html = build_report(path, n_boot=20)
    assert "The ledger has no resolved onsets yet" in _section(html, "lead-time")


def test_report_shows_what_changed_with_the_risk_factors(tmp_path) -> None:
    from r2p_models.report import build_report

    path = tmp_path / "l.sqlite"
    _two_vintages(path)
    sec = _section(build_report(path, top_n=2, n_boot=20), "changes")
    assert "origin 2020" in sec and "origin 2019" in sec
    assert 'data-country="C" data-change="New on the watchlist"' in sec
    assert 'data-country="B" data-change="Off the watchlist"' in sec
    assert "Risk factors that moved most" not in sec and "not found" in sec
    for run, df in EXPLAIN.items():
        (tmp_path / "runs" / run).mkdir(parents=True)
        df.to_csv(tmp_path / "runs" / run / "explanations.csv", index=False)
    sec = _section(build_report(path, top_n=2, n_boot=20), "changes")
    assert "Risk factors that moved most" in sec
    assert "1 Armed conflict (+0.70)" in sec
    rise = sec[sec.index('data-country="C" data-change="Largest rises"'):]
    assert 'data-metric="p_now" data-value="0.6" data-lower="0.5' in rise
