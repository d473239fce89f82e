"""The calibration report: every section, numbers equal to independent references, bad input.

The ledger is made on the default world (seed 2005, 170 countries) by the example
forecasters of :mod:`r2p_models.report.example`; the expected numbers come from scikit-learn,
closed forms and direct pandas computations on the ledger rows, and (for bootstrap intervals
and consistency tests, which have no closed form) from the calibration toolkit itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ReportPage, parse_report
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from r2p_models.calibration import (
    calibration_in_the_large,
    corp_decomposition,
    reliability,
    score_table,
    top_k_capture,
)
from r2p_models.ledger import Ledger, LedgerNotFoundError
from r2p_models.report import (
    SECTIONS,
    ReportInputError,
    build_report,
    report_content,
    write_report,
)
from r2p_models.report.example import example_ledger

N_BOOT = 40
SEED = 3


def _cell(page: ReportPage, section: str, metric: str, **row: str) -> dict[str, str]:
    found = [c for c in page.cells if c["section"] == section and c["metric"] == metric
             and all(c.get(k) == v for k, v in row.items())]
    assert len(found) == 1, (section, metric, row, len(found))
    return found[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A ledger on the default world: backtests 2004-2009, real time 2010-2019."""
    folder = tmp_path_factory.mktemp("report")
    path, panel = example_ledger(folder / "ledger.sqlite",
                                 backtest_origins=range(2004, 2010),
                                 forecast_origins=range(2010, 2020))
    with Ledger(path) as led:
        rows = led.rows()
    return path, panel, rows


@pytest.fixture(scope="module")
def report(world):
    path, panel, _ = world
    html = build_report(path, region_of=panel["region"], proxies=panel["proxy"],
                        n_boot=N_BOOT, seed=SEED)
    return html, parse_report(html)


def _track(source: str, kind: str) -> str:
    return f"{source} ({ {'forecast': 'real time', 'backtest': 'backtest'}.get(kind, kind)})"


def _scored(rows: pd.DataFrame, source: str, kind: str, crime: str | None = None):
    r = rows[(rows.source == source) & (rows.kind == kind) & (rows.outcome_status == "observed")]
    return r if crime is None else r[r.crime == crime]


def test_every_section_is_present_in_order(report) -> None:
    html, page = report
    assert page.sections == [sid for sid, _ in SECTIONS]
    assert html.startswith("<!DOCTYPE html>")
    # self-contained: no resource is fetched from anywhere
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "@import" not in html and "url(http" not in html and "<script" not in html


def test_headline_matches_independent_scores(world, report) -> None:
    _, _, rows = world
    _, page = report
    checked = 0
    for (source, kind, crime), g in rows[rows.outcome_status == "observed"].groupby(
            ["source", "kind", "crime"]):
        p, y = g.p_mean.to_numpy(), g.outcome.to_numpy()
        if y.sum() == 0 or y.sum() == y.size:
            continue
        row = {"track": _track(source, kind), "crime": crime}

        def cell(metric: str, row: dict[str, str] = row) -> float:
            return float(_cell(page, "headline", metric, **row)["value"])

        assert cell("brier") == pytest.approx(brier_score_loss(y, p), rel=1e-10)
        assert cell("log") == pytest.approx(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)),
                                            rel=1e-9)
        assert cell("auc") == pytest.approx(roc_auc_score(y, p), rel=1e-10)
        d = corp_decomposition(p, y)
        assert cell("mcb_brier") == pytest.approx(d.mcb, abs=1e-12)
        assert cell("dsc_brier") == pytest.approx(d.dsc, abs=1e-12)
        assert cell("unc_brier") == pytest.approx(y.mean() * (1 - y.mean()), rel=1e-10)
        cap = top_k_capture(p, y, k=[30], groups=g.origin_year.to_numpy())
        assert cell("capture_top30") == pytest.approx(cap[30], rel=1e-10)
        cases = _cell(page, "headline", "cases", **row)
        assert (int(cases["value"]), int(cases["events"])) == (len(g), int(y.sum()))
        checked += 1
    assert checked >= 20  # 7 tracks x 4 crimes, less the ones without events


def test_headline_intervals_are_the_calibration_modules(world, report) -> None:
    _, _, rows = world
    _, page = report
    obs = rows[rows.outcome_status == "observed"]
    metrics = ["brier", "log", "mcb_brier", "dsc_brier", "unc_brier", "auc", "pr_auc",
               "base_rate", "mean_forecast", "capture_top30"]
    with pytest.warns(UserWarning, match="run_id"):
        expected = score_table(obs, by=["crime", "source", "kind"], metrics=metrics,
                               p_col="p_mean", n_boot=N_BOOT, level=0.9, rng=SEED)
    for r in expected.itertuples():
        row = {"track": _track(r.source, r.kind), "crime": r.crime}
        if r.metric in ("base_rate", "mean_forecast"):  # shown in the cases cell
            cases = _cell(page, "headline", "cases", **row)
            assert float(cases[r.metric.replace("_", "-")]) == pytest.approx(r.estimate)
            continue
        cell = _cell(page, "headline", r.metric, **row)
        for attr, value in (("value", r.estimate), ("lower", r.lower), ("upper", r.upper)):
            if np.isnan(value):
                assert cell[attr] == "nan"
            else:
                assert float(cell[attr]) == pytest.approx(value, rel=1e-12, abs=1e-15)
    # mean scores (unlike MCB, a biased statistic) sit inside their percentile intervals
    for c in page.cells:
        if c["section"] == "headline" and c["metric"] in ("brier", "log"):
            assert float(c["lower"]) <= float(c["value"]) <= float(c["upper"])


def test_skill_uses_the_base_rate_known_at_issue_time(world, report) -> None:
    """Brier skill against climatology, with the reference computed from scratch."""
    _, _, rows = world
    _, page = report
    source, kind, crime = "sim-oracle 2.0", "backtest", "war_crimes"
    cases = rows[rows.crime == crime].drop_duplicates(
        ["country", "crime", "target_start", "target_end"])
    resolved = cases[cases.outcome_status == "observed"]
    g = _scored(rows, source, kind, crime)
    ref = []
    for t in g.origin_year:
        known = resolved[resolved.target_end < t]
        ref.append((known.outcome.sum() + 0.5) / (len(known) + 1) if len(known) else np.nan)
    ref = np.array(ref)
    has = ~np.isnan(ref)
    assert 0 < has.sum() < len(g)  # the first origins have no earlier resolved case
    y, p = g.outcome.to_numpy()[has], g.p_mean.to_numpy()[has]
    expected = 1 - np.mean((p - y) ** 2) / np.mean((ref[has] - y) ** 2)
    cell = _cell(page, "headline", "brier_skill_climatology", track=_track(source, kind),
                 crime=crime)
    assert float(cell["value"]) == pytest.approx(expected, rel=1e-10)


def test_reliability_figures_and_tables(world, report) -> None:
    _, _, rows = world
    html, page = report
    rel_imgs = [i for i in page.images if i["section"] == "reliability"]
    # the current model (real time and backtest) and the analyst: one diagram per crime
    # with events
    assert len(rel_imgs) >= 10
    for img in page.images:
        assert img["alt"].strip() and len(img["alt"]) > 40
        assert img["src"].startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(img["src"].split(",", 1)[1])
        assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    g = _scored(rows, "sim-oracle 2.0", "backtest", "war_crimes")
    rel = reliability(g.p_mean.to_numpy(), g.outcome.to_numpy(), n_resamples=N_BOOT,
                      level=0.9, grid_size=150, rng=SEED)
    d = rel.decomposition.set_index("score")
    row = {"track": "sim-oracle 2.0 (backtest)", "crime": "war_crimes"}
    for score in ("brier", "log"):
        assert float(_cell(page, "reliability", f"p_value_{score}", **row)["value"]) == \
            pytest.approx(d.loc[score, "p_value"])
        assert float(_cell(page, "reliability", f"mcb_{score}", **row)["value"]) == \
            pytest.approx(d.loc[score, "mcb"], rel=1e-9, abs=1e-15)
    assert 'id="rel-sim-oracle-2-0--backtest-war_crimes"' in html


def test_reliability_shows_observed_against_expected_events(world, report) -> None:
    _, _, rows = world
    html, page = report
    checked = 0
    for track, source, kind in (("sim-oracle 2.0 (backtest)", "sim-oracle 2.0", "backtest"),
                                ("sim-oracle 2.0 (real time)", "sim-oracle 2.0", "forecast")):
        for crime in ("war_crimes", "genocide"):
            g = _scored(rows, source, kind, crime)
            if g.outcome.sum() == 0:
                continue
            row = {"track": track, "crime": crime}
            expected = _cell(page, "reliability", "expected", **row)
            # observed and expected events: plain sums of the ledger rows
            assert int(expected["events"]) == int(g.outcome.sum())
            assert float(expected["value"]) == pytest.approx(g.p_mean.sum(), rel=1e-12)
            citl = calibration_in_the_large(g.p_mean.to_numpy(), g.outcome.to_numpy())
            oe = _cell(page, "reliability", "oe_ratio", **row)
            assert float(oe["value"]) == pytest.approx(g.outcome.sum() / g.p_mean.sum())
            assert float(oe["lower"]) == pytest.approx(citl.lower)
            assert float(oe["upper"]) == pytest.approx(citl.upper)
            assert float(_cell(page, "reliability", "citl_p", **row)["value"]) == \
                pytest.approx(citl.p_value)
            # in plain words under the diagram
            text = citl.describe()
            assert f"{text[0].upper()}{text[1:]}." in html
            assert text.startswith(f"observed {int(g.outcome.sum()):,} event")
            checked += 1
    assert checked >= 3


def test_regions_vintages_analysts_and_watchlist(world, report) -> None:
    _, panel, rows = world
    html, page = report
    region_of = dict(zip(panel.country.values, panel["region"].values, strict=True))
    # observed rate per region: plain pandas
    g = _scored(rows, "sim-oracle 2.0", "backtest")
    rate = g.groupby(g.country.map(region_of)).outcome.mean()
    for region, value in rate.items():
        cell = _cell(page, "regions", "base_rate", track="sim-oracle 2.0 (backtest)",
                     region=region)
        assert float(cell["value"]) == pytest.approx(value, rel=1e-12)
    assert set(rate.index) == set(region_of.values())

    keys = ["country", "crime", "origin_year", "target_start", "target_end"]
    # the newest model version against the previous one, on shared backtest cases
    new, old = _scored(rows, "sim-oracle 2.0", "backtest"), _scored(rows, "sim-oracle 1.0",
                                                                    "backtest")
    m = new.merge(old, on=keys, suffixes=("_n", "_o"))
    diff = np.mean((m.p_mean_n - m.outcome_n) ** 2) - np.mean((m.p_mean_o - m.outcome_o) ** 2)
    cell = _cell(page, "over-time", "brier_difference", crime="all", kind="backtest")
    assert float(cell["value"]) == pytest.approx(diff, rel=1e-10)
    assert float(cell["lower"]) < float(cell["value"]) < float(cell["upper"])

    # analyst beside the model on the cases both assessed
    a = rows[(rows.kind == "analyst") & (rows.outcome_status == "observed")]
    m = a.merge(_scored(rows, "sim-oracle 2.0", "forecast"), on=keys, suffixes=("_a", "_m"))
    diff = np.mean((m.p_mean_a - m.outcome_a) ** 2) - np.mean((m.p_mean_m - m.outcome_m) ** 2)
    cell = _cell(page, "side-by-side", "brier_difference", model="sim-oracle 2.0 (real time)")
    assert float(cell["value"]) == pytest.approx(diff, rel=1e-10)

    # watchlist: the current model's newest origin, highest first, with its intervals
    fc = rows[(rows.kind == "forecast") & (rows.source == "sim-oracle 2.0")
              & (rows.origin_year == 2019)]
    for crime, f in fc.groupby("crime"):
        top = f.sort_values(["p_mean", "country"], ascending=[False, True]).head(30)
        cells = [c for c in page.cells if c["section"] == "watchlist"
                 and c["metric"] == "p_mean" and c["crime"] == crime]
        assert [c["country"] for c in cells] == top.country.tolist()
        assert [float(c["lower"]) for c in cells] == pytest.approx(top.p_q05.tolist())
        assert [float(c["upper"]) for c in cells] == pytest.approx(top.p_q95.tolist())
        # no country in an episode of the crime at the origin is on its list, and the
        # reader is told why
        at = panel.sel(year=2019, crime=crime)
        busy = set(panel.country.values[((at["ongoing"] == 1) | (at["onset"] == 1)).values])
        assert busy and not busy & {c["country"] for c in cells}
    assert "is not at risk of its onset and gets no forecast of it" in html
    assert "Leading risk factors: not available" in html


def test_methods_note_names_proxies_backtests_and_small_counts(report) -> None:
    html, _ = report
    methods = html[html.index('id="methods"'):]
    assert "No proxy is recorded for any crime" in methods  # the simulated world
    assert "postdictions" in methods and "backtest observed:" in methods
    assert "Small event counts" in methods and "fewer than 10 events" in methods


def test_proxies_are_named(world) -> None:
    _, _, rows = world
    proxies = {"genocide": "PITF genocide/politicide onset", "war_crimes": "UCDP one-sided"}
    mine = rows[(rows.crime == "genocide") & (rows.source == "sim-oracle 2.0")]
    html = build_report(mine, proxies=proxies, n_boot=10)
    assert "PITF genocide/politicide onset" in html
    with pytest.raises(ReportInputError, match="unknown crime"):
        build_report(mine, proxies={"piracy": "x"}, n_boot=10)


def test_rebuild_gives_the_same_bytes_and_leaves_the_ledger_alone(world, report) -> None:
    path, panel, _ = world
    html, _ = report
    before = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    again = build_report(path, region_of=panel["region"], proxies=panel["proxy"],
                         n_boot=N_BOOT, seed=SEED)
    assert again == html  # figures included: no timestamp, fixed SVG ids
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == before


def test_write_report_is_atomic(report, tmp_path) -> None:
    html, _ = report
    out = write_report(tmp_path / "sub" / "report.html", html)
    assert out.read_bytes() == html.encode("utf-8")
    with pytest.raises(ReportInputError):
        write_report(out, "not a page")
    assert out.read_bytes() == html.encode("utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp file left


def test_explanations_give_leading_risk_factors(world) -> None:
    _, _, rows = world
    top = rows[(rows.kind == "forecast") & (rows.source == "sim-oracle 2.0")
               & (rows.origin_year == 2019) & (rows.crime == "genocide")]
    first = top.sort_values("p_mean", ascending=False).country.iloc[0]
    ex = pd.DataFrame({
        "country": first, "crime": "genocide",
        "risk_factor": ["3 Weakness of State structures", "1 Armed conflict", "9 Tensions",
                        "6 Absence of mitigating factors"],
        "contribution": [0.4, 1.2, 0.7, -0.3],
    })
    mine = rows[(rows.source == "sim-oracle 2.0") & (rows.crime == "genocide")]
    html = build_report(mine, explanations=ex, n_boot=10, top_n=5)
    watchlist = html[html.index('<section id="watchlist"'):]  # (the summary lists it too)
    row = re.search(rf'data-crime="genocide" data-country="{first}">(.*?)</tr>',
                    watchlist).group(1)
    assert "1 Armed conflict (+1.20); 9 Tensions (+0.70); 3 Weakness of State structures " \
           "(+0.40)" in row
    assert "Absence" not in row
    # a listed country the run did not explain says so (it is not "none raising the risk")
    second = top.sort_values("p_mean", ascending=False).country.iloc[1]
    row2 = re.search(rf'data-crime="genocide" data-country="{second}">(.*?)</tr>',
                     watchlist).group(1)
    assert "not explained in this run" in row2 and "none raising" not in row2
    only_down = ex.assign(contribution=-ex["contribution"].abs())
    html = build_report(mine, explanations=only_down, n_boot=10, top_n=5)
    watchlist = html[html.index('<section id="watchlist"'):]
    row = re.search(rf'data-crime="genocide" data-country="{first}">(.*?)</tr>',
                    watchlist).group(1)
    assert "none raising the risk" in row
    with pytest.raises(ReportInputError, match="contribution"):
        build_report(mine, explanations=ex.drop(columns="contribution"), n_boot=10)


def test_empty_ledger_gives_a_report_that_says_so(tmp_path) -> None:
    path = tmp_path / "empty.sqlite"
    Ledger(path).close()
    html = build_report(path, n_boot=10)
    page = parse_report(html)
    assert page.sections == [sid for sid, _ in SECTIONS]
    assert "The ledger is empty" in html
    assert "No real-time forecasts" in html and not page.images


def test_no_resolved_outcomes_and_one_crime_only(tmp_path) -> None:
    path, panel = example_ledger(tmp_path / "pending.sqlite", scale=0.25,
                                 backtest_origins=[], forecast_origins=[2017, 2018],
                                 resolve=False, analyst=False)
    html = build_report(path, region_of=panel["region"], n_boot=10)
    page = parse_report(html)
    assert page.sections == [sid for sid, _ in SECTIONS]
    assert "No outcome has been resolved yet" in html
    assert not [c for c in page.cells if c["section"] == "headline"]
    assert [c for c in page.cells if c["section"] == "watchlist"]  # still shown

    path, panel = example_ledger(tmp_path / "one.sqlite", scale=0.25, crimes=["genocide"],
                                 backtest_origins=range(2009, 2012), forecast_origins=[2012],
                                 analyst=False)
    c = report_content(path, region_of=panel["region"], n_boot=10)
    html = build_report(path, region_of=panel["region"], n_boot=10)
    assert "one crime only (genocide)" in html
    assert set(c.headline["crime"]) <= {"genocide", "all"}
    assert {x["crime"] for x in parse_report(html).cells if x["section"] == "headline"} <= {
        "genocide", "all"}


def test_bad_arguments_are_named(world, tmp_path) -> None:
    path, _, rows = world
    with pytest.raises(LedgerNotFoundError):
        build_report(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(ReportInputError, match="outcome_status"):
        build_report(rows.drop(columns="outcome_status"))
    with pytest.raises(ReportInputError, match="top_n"):
        build_report(path, top_n=0)
    with pytest.raises(ReportInputError, match="region_of"):
        build_report(path, region_of=["EUR01"])


def test_a_given_watchlist_replaces_the_ledgers(world) -> None:
    _, _, rows = world
    mine = rows[(rows.source == "sim-oracle 2.0") & (rows.crime == "genocide")]
    given = pd.DataFrame({"country": ["EUR01", "SSA02"], "crime": "genocide",
                          "p_mean": [0.1, 0.3], "p_q05": [0.05, 0.2], "p_q95": [0.2, 0.4]})
    page = parse_report(build_report(mine, watchlist=given, n_boot=10))
    cells = [c for c in page.cells if c["section"] == "watchlist" and c["metric"] == "p_mean"]
    assert [(c["country"], float(c["value"]), float(c["lower"])) for c in cells] == [
        ("SSA02", 0.3, 0.2), ("EUR01", 0.1, 0.05)]
    with pytest.raises(ReportInputError, match="p_mean"):
        build_report(mine, watchlist=given.drop(columns="p_mean"), n_boot=10)
