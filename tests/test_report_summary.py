"""The report leads with the answer, and what a reader saw wrong is fixed (issue 23, item 4).

- the executive summary at the top: the true top five per crime with their intervals (from
  the ledger rows, computed here with pandas), the changes since the last run (the same as
  the "What changed" section's), a calibration verdict in plain words from observed and
  expected events (computed here), with a fallback when the track record is too short;
- a region without events says "no events" instead of a skill of +0.99;
- skill axes show whole intervals; the vintage is the data year, not a wall-clock time;
- no rolling-window caption when no window is drawn; PAV lines stay off the edge of a
  logit axis;
- the default ``r2p pipeline`` report shows skill at more than one origin, and a rolling
  window (the outcome history warms up the climatology reference; no fit is added).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import parse_report
from matplotlib.lines import Line2D
from scipy.stats import chi2

from r2p_models.calibration import plot_reliability, reliability
from r2p_models.ledger import COLUMNS, Ledger
from r2p_models.report import SECTIONS, build_report, report_content
from r2p_models.report.example import example_ledger
from r2p_models.report.figures import plot_over_time, plot_region_audit, plot_watchlist

N_BOOT = 10


def _svg(img: dict[str, str]) -> str:
    return base64.b64decode(img["src"].split(",", 1)[1]).decode("utf-8")


# ----------------------------------------------------------------------------- ledgers


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small example ledger: backtests 2008-2011, real time 2012-2019 (two versions)."""
    folder = tmp_path_factory.mktemp("summary")
    path, panel = example_ledger(folder / "ledger.sqlite", scale=0.3,
                                 backtest_origins=range(2008, 2012),
                                 forecast_origins=range(2012, 2020))
    with Ledger(path, readonly=True) as led:
        rows = led.rows()
    html = build_report(path, region_of=panel["region"], proxies=panel["proxy"],
                        n_boot=N_BOOT, seed=1)
    return path, panel, rows, html, parse_report(html)


def _rows(n_countries: int, origins: range, *, p: float, events: int,
          source: str = "model 1.0", kind: str = "forecast", pending: tuple[int, ...] = (),
          issued: str = "2026-12-02T10:00:00Z", crime: str = "genocide") -> pd.DataFrame:
    """Hand-made ledger rows: every country forecast ``p`` at every origin, with exactly
    ``events`` onsets spread evenly over the resolved ones, origins in ``pending``
    unresolved."""
    frames = []
    for t in origins:
        frames.append(pd.DataFrame({
            "source": source, "kind": kind, "run_id": f"run-{t}", "issued_at": issued,
            "origin_year": t, "country": [f"C{i:03d}" for i in range(n_countries)],
            "crime": crime, "horizon": 1, "target_start": t + 1, "target_end": t + 1,
            "p_mean": p, "p_q05": p / 2, "p_q50": p, "p_q95": min(1.0, 2 * p),
            "data_hash": "d", "config_hash": "c",
        }))
    df = pd.concat(frames, ignore_index=True)
    resolved = ~df["origin_year"].isin(pending)
    df["outcome"] = np.where(resolved, 0.0, np.nan)
    done = df.index[resolved]
    if events:
        df.loc[done[np.linspace(0, len(done) - 1, events).astype(int)], "outcome"] = 1.0
    df["outcome_status"] = np.where(resolved, "observed", "pending")
    df["resolved_at"] = np.where(resolved, "2026-12-02T11:00:00Z", None)
    df["outcome_source"] = np.where(resolved, "hand-made", None)
    df.insert(0, "id", np.arange(1, len(df) + 1))
    return df[list(COLUMNS)]


# ----------------------------------------------------------------------------- the answer


def test_the_summary_comes_first_and_lists_the_true_top_five(world) -> None:
    _, _, rows, html, page = world
    assert page.sections[0] == "brief" == SECTIONS[0][0]
    # nothing but the title and one line above it
    assert html.index('<section id="brief"') < html.index("About this report") < html.index(
        '<section id="changes"') < html.index('<section id="summary"')
    fc = rows[rows.kind == "forecast"]
    newest = fc[fc.origin_year == fc.origin_year.max()]
    last = newest.groupby("source").issued_at.max()
    current = max(last.index[last == last.max()])  # the newest issue; a tie by name
    assert current == "sim-oracle 2.0"
    checked = 0
    for crime, g in newest[newest.source == current].groupby("crime"):
        top = g.sort_values(["p_mean", "country"], ascending=[False, True]).head(5)
        cells = [c for c in page.cells if c["section"] == "brief" and c["metric"] == "p_mean"
                 and c["crime"] == crime]
        assert [c["country"] for c in cells] == top.country.tolist()
        assert [float(c["value"]) for c in cells] == pytest.approx(top.p_mean.tolist())
        assert [float(c["lower"]) for c in cells] == pytest.approx(top.p_q05.tolist())
        assert [float(c["upper"]) for c in cells] == pytest.approx(top.p_q95.tolist())
        checked += 1
    assert checked == 4


def test_the_summary_changes_are_the_changes_since_the_last_run(world) -> None:
    _, _, rows, _, page = world
    fc = rows[(rows.kind == "forecast") & (rows.source == "sim-oracle 2.0")]
    now_year, before_year = sorted(fc.origin_year.unique())[-1], sorted(fc.origin_year.unique())[-2]

    def top30(year: int, crime: str) -> list[str]:
        g = fc[(fc.origin_year == year) & (fc.crime == crime)]
        return g.sort_values(["p_mean", "country"], ascending=[False, True]).country.head(
            30).tolist()

    seen = 0
    for crime in fc.crime.unique():
        now, before = top30(now_year, crime), top30(before_year, crime)
        entrants = [c for c in now if c not in before]  # in rank order now
        exits = [c for c in before if c not in now]
        shown_in = [s["country"] for s in page.changes if s["section"] == "brief"
                    and s["crime"] == crime and s["change"] == "entrant"]
        shown_out = [s["country"] for s in page.changes if s["section"] == "brief"
                     and s["crime"] == crime and s["change"] == "exit"]
        assert shown_in == entrants[:4]
        assert shown_out == exits[:4]
        seen += len(entrants) + len(exits)
        # the largest rises and falls named are the "What changed" section's, in its order
        for kind, title in (("riser", "Largest rises"), ("faller", "Largest falls")):
            named = [s["country"] for s in page.changes if s["section"] == "brief"
                     and s["crime"] == crime and s["change"] == kind]
            listed = list(dict.fromkeys(
                c["country"] for c in page.cells if c["section"] == "changes"
                and c.get("change") == title and c["crime"] == crime))
            assert named == listed[:2]
    assert seen > 0  # the example's runs differ


def _verdicts(html: str) -> dict[str, dict[str, str]]:
    return {v["crime"]: v for v in parse_report(html).verdicts if v["section"] == "brief"}


def test_calibration_verdict_in_plain_words() -> None:
    # 3,000 resolved real-time forecasts of 4% with 60 onsets: expected 120, 2x too high
    high = _rows(600, range(2010, 2016), p=0.04, events=60, pending=(2015,))
    v = _verdicts(build_report(high, n_boot=N_BOOT))["genocide"]
    resolved = high[high.outcome_status == "observed"]
    o, e = resolved.outcome.sum(), resolved.p_mean.sum()
    assert (o, round(e, 6)) == (60, 120.0)
    lo, hi = chi2.ppf(0.05, 2 * o) / 2 / e, chi2.ppf(0.95, 2 * o + 2) / 2 / e
    assert v["status"] == "too high"
    assert v["text"].startswith(f"Calibration: Forecasts so far ran {e / o:.1f}x too high: "
                                f"{o:.0f} onsets happened where the forecasts expected "
                                f"{e:.1f}, over {len(resolved):,} resolved forecasts in real "
                                "time")
    assert f"{lo:.2f}–{hi:.2f}" in v["text"] and "not recalibrated" in v["text"]
    # a recalibrated version in the ledger is named
    recal = _rows(600, range(2010, 2016), p=0.02, events=60, pending=(2015,),
                  source="model 1.0 recalibrated")
    both = pd.concat([high, recal.assign(id=recal.id + len(high))], ignore_index=True)
    v = _verdicts(build_report(both, n_boot=N_BOOT))["genocide"]
    assert "A recalibrated version, model 1.0 recalibrated, is issued beside them" in v["text"]

    # forecasts of 2% with 60 onsets in 3,000: as many as expected
    fair = _rows(600, range(2010, 2016), p=0.02, events=60, pending=(2015,))
    v = _verdicts(build_report(fair, n_boot=N_BOOT))["genocide"]
    assert v["status"] == "calibrated"
    assert v["text"].startswith("Calibration: No evidence of miscalibration: 60 onsets "
                                "happened where the forecasts expected 60.0")

    # too short a track record: 1 onset, 2 expected; and none at all
    short = _rows(100, range(2013, 2016), p=0.01, events=1, pending=(2015,))
    v = _verdicts(build_report(short, n_boot=N_BOOT))["genocide"]
    assert v["status"] == "too little"
    assert "Too little track record to judge calibration yet: 1 onset happened where the " \
           "forecasts expected 2.0" in v["text"]
    assert "No evidence" not in v["text"]
    none = _rows(100, range(2014, 2016), p=0.01, events=0, pending=(2014, 2015))
    v = _verdicts(build_report(none, n_boot=N_BOOT))["genocide"]
    assert v["status"] == "none" and "no track record" in v["text"]


def test_verdict_falls_back_on_backtests_and_says_so() -> None:
    rt = _rows(100, range(2014, 2016), p=0.02, events=1, pending=(2015,))
    bt = _rows(600, range(2008, 2013), p=0.04, events=30, kind="backtest")
    rows = pd.concat([rt, bt.assign(id=bt.id + len(rt))], ignore_index=True)
    v = _verdicts(build_report(rows, n_boot=N_BOOT))["genocide"]
    assert v["status"] == "too high"
    assert "in backtests (postdictions)" in v["text"]
    assert f"expected {0.04 * 3000:.1f}" in v["text"]


# ----------------------------------------------------------------------------- fixes


def test_a_region_without_events_says_no_events() -> None:
    rows = _rows(200, range(2010, 2015), p=0.03, events=25)
    busy = set(rows.loc[rows.outcome == 1, "country"])
    region_of = {c: "Busy" if c in busy else "Quiet" for c in rows.country.unique()}
    c = report_content(rows, region_of=region_of, n_boot=N_BOOT)
    page = parse_report(build_report(rows, region_of=region_of, n_boot=N_BOOT))
    quiet = [x for x in page.cells if x["section"] == "regions"
             and x["metric"] == "brier_skill_climatology" and x["region"] == "Quiet"]
    assert len(quiet) == 1
    assert quiet[0]["value"] == "nan" and quiet[0]["text"] == "no events"
    loud = [x for x in page.cells if x["section"] == "regions"
            and x["metric"] == "brier_skill_climatology" and x["region"] == "Busy"]
    assert np.isfinite(float(loud[0]["value"]))
    # the figure writes "no events" on the quiet region's row and plots no point there
    fig = plot_region_audit(c.regions[c.regions.track == "model 1.0 (real time)"],
                            track="model 1.0 (real time)")
    ax = fig.axes[1]
    assert [t.get_text() for t in ax.texts] == ["no events"]
    quiet_row = sorted(set(region_of.values())).index("Quiet")
    points = [ln for ln in ax.lines if ln.get_marker() not in (None, "None", "")]
    assert points
    for line in points:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        assert not np.isfinite(x[y == quiet_row]).any()
        assert np.isfinite(x[y != quiet_row]).any()


def _tidy(track: str, key: str, values: list[tuple[int, float, float, float]],
          metric: str = "brier_skill_climatology") -> pd.DataFrame:
    return pd.DataFrame([{"track": track, key: k, "metric": metric, "estimate": e,
                          "lower": lo, "upper": hi, "events": 5, "note": ""}
                         for k, e, lo, hi in values])


def test_skill_axes_hold_whole_intervals() -> None:
    yearly = pd.concat([
        _tidy("m", "origin_year", [(2015, 0.05, -0.02, 0.09), (2016, 0.04, -0.6, 0.45),
                                   (2017, 0.02, -2.29, 0.3)]),
        _tidy("m", "origin_year", [(2015, 0.8, 0.7, 0.9), (2016, 0.8, 0.7, 0.9),
                                   (2017, 0.8, 0.7, 0.9)], metric="auc")])
    fig = plot_over_time(yearly, None, series=["m"], window=None, metrics=[
        ("brier_skill_climatology", "Brier skill", 0.0), ("auc", "AUC", 0.5)])
    lo, hi = fig.axes[0].get_ylim()
    assert lo < -2.29 and hi > 0.45  # every interval whole
    regions = pd.DataFrame([
        {"region": r, "metric": m, "estimate": e, "lower": a, "upper": b, "events": 4,
         "note": ""}
        for r, (e, a, b) in {"South and Central Asia": (-0.5, -2.29, 0.4),
                             "Far": (0.1, -7.0, 0.5), "Near": (0.3, 0.1, 0.5)}.items()
        for m in ("brier_skill_climatology", "base_rate", "mean_forecast")])
    fig = plot_region_audit(regions, track="m")
    ax = fig.axes[1]
    lo, hi = ax.get_xlim()
    assert lo < -2.29 and hi > 0.5
    # an interval beyond the floor of the axis is marked at the edge with its true end
    assert lo > -7.0 and "-7.00" in [t.get_text() for t in ax.texts]


def test_vintage_is_the_data_year_not_a_clock_time() -> None:
    rows = _rows(50, range(2012, 2016), p=0.05, events=8, pending=(2015,),
                 issued="2026-12-02T10:00:00Z")
    html = build_report(rows, n_boot=N_BOOT)
    vintage = re.search(r"<dt>Vintage</dt><dd>(.*?)</dd>", html).group(1)
    assert vintage.startswith("data through 2015")
    assert "T10:00:00Z" not in vintage and "T11:00:00Z" not in vintage
    assert '<meta name="r2p-vintage" content="data through 2015">' in html
    assert "Vintage: data through 2015" in html  # footer
    assert "data through 2015" in html[:html.index('<section id="brief"')]  # top line


def test_no_window_caption_without_a_window() -> None:
    two = _rows(300, range(2013, 2015), p=0.03, events=20)
    html = build_report(two, n_boot=N_BOOT)
    page = parse_report(html)
    svg = _svg(next(i for i in page.images if i["section"] == "over-time"))
    assert "-year windows" not in svg and "no rolling window drawn" in svg
    over = html[html.index('<section id="over-time"'):html.index('<section id="regions"')]
    assert "No rolling window is drawn" in over and "lines and bands are rolling" not in over
    assert "no rolling window" in over.split("<figcaption>", 1)[1].split("</figcaption>")[0]
    assert report_content(two, n_boot=N_BOOT).window is None


def test_pav_lines_stay_off_the_edge_of_a_logit_axis() -> None:
    rng = np.random.default_rng(4)
    p = 10 ** rng.uniform(-4, -0.5, 1500)
    y = (rng.uniform(size=p.size) < p).astype(float)
    y[p < 0.01] = 0.0  # the lowest block has no events: a PAV rate of exactly 0
    rel = reliability(p, y, n_resamples=20, rng=1)
    assert (rel.curve["observed_rate"] == 0).any()
    fig = plot_reliability(rel, scale="logit")
    ax = fig.axes[0]
    pav = [ln for ln in ax.lines if ln.get_label() == "PAV recalibrated (CORP)"]
    assert len(pav) == 1
    ys = np.asarray(pav[0].get_ydata(), float)
    finite = ys[np.isfinite(ys)]
    assert finite.size and (finite > 0).all() and (finite < 1).all()
    lo = ax.get_ylim()[0]
    edge = [ln for ln in ax.lines if isinstance(ln, Line2D) and ln.get_linestyle() == "--"
            and len(ln.get_ydata()) and np.allclose(np.asarray(ln.get_ydata(), float), lo)]
    zero = rel.curve[rel.curve["observed_rate"] == 0]
    assert len(edge) == len(zero)  # each zero block drawn along the bottom edge


# ----------------------------------------------------------------------------- pipeline


def _prefill(cfg, ledger: Path) -> list[int]:
    """The ledger the default pipeline would write, with cheap forecasts in place of the
    model's (so the pipeline finds every origin done and fits nothing)."""
    from scipy.special import expit

    from r2p_models.backtest import forecast_rows, model_source
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import default_origins, latest_origin

    panel = load_panel(cfg)
    h = cfg.model.horizon
    origins = default_origins(panel, h)
    at_risk = (panel["ongoing"] == 0) & panel["present"] & (panel["onset"] != 1)
    with Ledger(ledger) as led:
        for kind, years in (("backtest", origins), ("forecast", [latest_origin(panel)])):
            for t in years:
                x = panel["X"].sel(year=t, indicator="armed_conflict").fillna(0.0)
                p = expit(-4.0 + 1.2 * x).broadcast_like(at_risk.sel(year=t))
                draws = p.where(at_risk.sel(year=t)).expand_dims(draw=[0]).transpose(
                    "country", "crime", "draw")
                led.issue(forecast_rows(draws, t, h), source=model_source(cfg), kind=kind,
                          run_id=kind if kind == "backtest" else f"{kind}-{t}",
                          data_hash=str(panel.attrs["data_hash"]),
                          config_hash=cfg.hash())
    return origins


def test_default_pipeline_shows_accuracy_at_more_than_one_origin(tmp_path, monkeypatch
                                                                 ) -> None:
    from r2p_models import backtest
    from r2p_models import model as model_pkg
    from r2p_models.cli import DEFAULT_WORLD
    from r2p_models.config import load_config
    from r2p_models.rerun import pipeline

    def no_fit(*args, **kwargs):
        raise AssertionError("a model was fitted")

    monkeypatch.setattr(model_pkg, "fit", no_fit)
    monkeypatch.setattr(backtest, "model_forecaster", no_fit)
    cfg = load_config(DEFAULT_WORLD)
    out = tmp_path / "default"
    out.mkdir()
    origins = _prefill(cfg, out / "ledger.sqlite")
    assert len(origins) == 4 and cfg.model.horizon == 2  # the default pipeline's backtest
    result = pipeline(cfg, out=out)
    html = Path(result.report).read_text()
    page = parse_report(html)
    skill = [c for c in page.cells if c["section"] == "over-time"
             and c["metric"] == "brier_skill_climatology" and "origin-year" in c]
    finite = sorted(int(c["origin-year"]) for c in skill if np.isfinite(float(c["value"])))
    assert finite == origins  # a skill score at every backtest origin, not only the last
    windows = [c for c in page.cells if c["section"] == "over-time"
               and c["metric"] == "brier_skill_climatology" and "window-end" in c]
    assert len(windows) >= 2  # and a rolling window line of more than one point
    over = html[html.index('<section id="over-time"'):html.index('<section id="regions"')]
    assert "from the outcome history" in over


# ----------------------------------------------------------------------------- names


def _brief_rows(page) -> list[dict[str, str]]:
    return [c for c in page.cells if c["section"] == "brief" and c["metric"] == "p_mean"]


def test_the_summary_names_countries_and_keeps_codes_without_a_name(world) -> None:
    path, panel, _, _, page = world
    plain = _brief_rows(page)
    # built without names: the codes, as before
    assert plain and all(c["row_header"] == c["country"] for c in plain)
    shown = [c["country"] for c in plain]
    unnamed = set(shown[:2])  # no name known for these two
    blank = shown[2]  # a name that is its code is no name either
    names = panel["name"].to_series().drop(sorted(unnamed))
    names[blank] = blank
    full = dict(zip(panel.country.values, panel["name"].values, strict=True))
    assert full[shown[3]] != shown[3]  # the example's countries have names
    html = build_report(path, region_of=panel["region"], proxies=panel["proxy"],
                        names=names, n_boot=N_BOOT, seed=1)
    named = parse_report(html)
    cells = _brief_rows(named)
    assert [c["country"] for c in cells] == shown  # the same top five, same order
    for c in cells:
        code = c["country"]
        if code in unnamed or code == blank:
            assert c["row_header"] == code
        else:
            assert c["row_header"] == f"{full[code]} ({code})"
    assert sum(c["row_header"] != c["country"] for c in cells) >= 10  # most are named
    # the changes since the last run, in the summary's sentences and in their section
    moves = [s for s in named.changes if s["section"] == "brief"]
    assert moves
    for s in moves:
        assert s["text"] == (s["country"] if s["country"] in unnamed | {blank}
                             else full[s["country"]])
    rows = [c for c in named.cells if c["section"] == "changes"]
    assert rows and all(c["row_header"] == (
        c["country"] if c["country"] in unnamed | {blank}
        else f"{full[c['country']]} ({c['country']})") for c in rows)
    watch = [c for c in named.cells if c["section"] == "watchlist" and c["metric"] == "p_mean"]
    assert {c["row_header"] for c in watch} >= {f"{full[shown[3]]} ({shown[3]})"}


# ----------------------------------------------------------------------------- legends


def _legend_clear_of_axes(fig) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()
    inside = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert not inside and len(fig.legends) == 1  # one legend, on the figure
    box = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), ax.get_title()
    page = fig.bbox  # and the legend is whole, not cut at the figure's edge
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0


def test_audit_watchlist_and_reliability_legends_cannot_cover_a_marker() -> None:
    # the last group's rates sit in the lower right corner, where the legend used to be
    groups = {"1. lowest third": (0.0, 0.0, 0.004), "2. middle third": (0.004, 0.001, 0.01),
              "3. highest third": (0.06, 0.04, 0.09)}
    table = pd.DataFrame([
        {"region": g, "metric": m, "estimate": e * k, "lower": lo * k, "upper": hi * k,
         "events": 5, "note": ""}
        for g, (e, lo, hi) in groups.items()
        for m, k in (("base_rate", 1.0), ("mean_forecast", 0.55),
                     ("brier_skill_climatology", 2.0))])
    fig = plot_region_audit(table, track="m")
    _legend_clear_of_axes(fig)
    # a rate of 0 shows a whole marker: the axis starts a little left of 0
    assert fig.axes[0].get_xlim()[0] < 0
    wl = pd.DataFrame({"label": [f"{i} Country {i}" for i in range(1, 11)],
                       "p_mean": np.linspace(0.3, 0.01, 10), "p_q05": np.linspace(0.2, 0.0, 10),
                       "p_q95": np.linspace(0.5, 0.3, 10)})
    _legend_clear_of_axes(plot_watchlist(wl, title="t"))
    rng = np.random.default_rng(2)
    p = rng.uniform(0.001, 0.6, 400)
    rel = reliability(p, (rng.uniform(size=p.size) < p).astype(float), n_resamples=20, rng=1)
    _legend_clear_of_axes(plot_reliability(rel, scale="logit"))


# ----------------------------------------------------------------------------- EWP panel

#: COW codes and names as on the EWP panel (626 is left without a name).
_EWP = {"2": "United States", "20": "Canada", "40": "Cuba", "70": "Mexico",
        "90": "Guatemala", "100": "Colombia", "130": "Ecuador", "135": "Peru",
        "140": "Brazil", "160": "Argentina", "200": "United Kingdom", "220": "France",
        "255": "Germany", "345": "Yugoslavia", "365": "Russia", "432": "Mali",
        "433": "Senegal", "451": "Sierra Leone", "475": "Nigeria",
        "482": "Central African Republic", "483": "Chad", "490": "DR Congo", "500": "Uganda",
        "501": "Kenya", "516": "Burundi", "517": "Rwanda", "520": "Somalia",
        "530": "Ethiopia", "540": "Angola", "541": "Mozambique", "625": "Sudan",
        "626": "", "630": "Iran", "645": "Iraq", "652": "Syria", "700": "Afghanistan",
        "750": "India", "770": "Pakistan", "775": "Myanmar", "850": "Indonesia"}
_EWP_PROXY = ("EWP mass-killing onset (a state-led or non-state-led episode of 1,000 or more "
              "non-combatants deliberately killed began in the country-year), a proxy for "
              "crimes against humanity")


def _ewp_like(seed: int = 3):
    """A one-outcome panel shaped like the EWP's (COW codes, names, the mass-killing
    proxy as ``crimes_against_humanity``), real-time forecast rows of two-year windows
    resolved against it, and information-gap tables of the newest origin."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    codes = list(_EWP)
    years = np.arange(1995, 2016)
    risk = np.linspace(-1.5, -5.0, len(codes))
    rng.shuffle(risk)
    risk[codes.index("626")] = 0.5  # the country without a name: the highest risk
    onset = (rng.uniform(size=(len(codes), len(years))) < 1 / (1 + np.exp(-risk[:, None])))
    crime = "crimes_against_humanity"
    panel = xr.Dataset(
        {"onset": (("country", "year", "crime"), onset[..., None].astype(float))},
        coords={"country": np.array(codes, dtype=object), "year": years,
                "crime": [crime],
                "name": ("country", np.array([_EWP[c] or c for c in codes], dtype=object)),
                "region": ("country", np.array(["Sub-Saharan Africa" if "400" <= c.zfill(3)
                                                 < "627" else "Rest of world"
                                                 for c in codes], dtype=object)),
                "proxy": ("crime", np.array([_EWP_PROXY], dtype=object))})
    frames = []
    for t in range(2006, 2016):
        p = 1 / (1 + np.exp(-(risk + 0.9 + 0.5 * rng.normal(size=len(codes)))))
        window = panel["onset"].sel(year=slice(t + 1, t + 2), crime=crime)
        done = t + 2 <= years.max()
        frames.append(pd.DataFrame({
            "source": "ewp-like 1.0", "kind": "forecast", "run_id": f"run-{t}",
            "issued_at": f"{t + 1}-03-01T09:00:00Z", "origin_year": t, "country": codes,
            "crime": crime, "horizon": 2, "target_start": t + 1, "target_end": t + 2,
            "p_mean": p, "p_q05": p / 2, "p_q50": p, "p_q95": np.minimum(1.0, 1.8 * p),
            "data_hash": "d", "config_hash": "c",
            "outcome": window.max("year").values if done else np.nan,
            "outcome_status": "observed" if done else "pending",
            "resolved_at": "2016-02-01T09:00:00Z" if done else None,
            "outcome_source": "EWP-like panel" if done else None}))
    rows = pd.concat(frames, ignore_index=True)
    rows.insert(0, "id", np.arange(1, len(rows) + 1))
    newest = rows[rows.origin_year == rows.origin_year.max()].sort_values(
        "p_mean", ascending=False).reset_index(drop=True)
    ranking = pd.DataFrame({
        "crime": crime, "rank": np.arange(1, len(newest) + 1), "country": newest.country,
        "region": [str(panel.region.sel(country=c).values) for c in newest.country],
        "at_risk": True, "p_mean": newest.p_mean, "share_gap": np.linspace(0.6, 0.01, 40),
        "share_missing": np.linspace(0.4, 0.0, 40), "share_unreliable": 0.05,
        "voi_p": np.linspace(0.05, 0.0, 40), "voi_top_n": np.linspace(0.2, 0.0, 40),
        "best_indicator": "civil_society", "best_description": "Civil society repressed",
        "origin_year": 2015})
    voi = pd.DataFrame({"country": newest.country.head(6), "crime": crime,
                        "indicator": "civil_society", "description": "Civil society repressed",
                        "kind": "missing",
                        "p_mean": newest.p_mean.head(6), "voi_p": np.linspace(0.05, 0.01, 6),
                        "voi_top_n": 0.1, "var_share": 0.3})
    return panel, rows[list(COLUMNS)], {"ranking": ranking, "voi": voi, "top_n": 10}


def test_a_report_on_an_ewp_like_panel_names_countries_and_the_outcome() -> None:
    panel, rows, gaps = _ewp_like()
    html = build_report(rows, region_of=panel["region"], proxies=panel["proxy"],
                        history=panel, infogap=gaps, top_n=10, n_boot=N_BOOT)
    page = parse_report(html)
    assert page.sections == [sid for sid, _ in SECTIONS]

    def label(code: str) -> str:
        return f"{_EWP[code]} ({code})" if _EWP[code] else code

    # names come from the panel (history): top five, changes, information gaps
    top = _brief_rows(page)
    assert len(top) == 5 and {c["crime"] for c in top} == {"crimes_against_humanity"}
    assert "626" in [c["country"] for c in top]  # the one without a name: its code
    assert [c["row_header"] for c in top] == [label(c["country"]) for c in top]
    for section in ("changes", "information-gaps", "watchlist"):
        cells = [c for c in page.cells if c["section"] == section and "row_header" in c]
        assert cells, section
        assert all(c["row_header"] == label(c["country"]) for c in cells), section
    spans = [s for s in page.changes if s["section"] == "brief"]
    assert spans and all(s["text"] == (_EWP[s["country"]] or s["country"]) for s in spans)
    # the outcome is named for a reader: the crime's label and what the data record
    brief = html[html.index('<section id="brief"'):html.index('<section id="changes"')]
    assert "Crimes against humanity" in brief and "measured as EWP mass-killing onset" in brief
    assert ("one crime only (crimes against humanity, measured as EWP mass-killing onset)"
            in page.text)
    assert "crimes_against_humanity" not in page.text  # never the code
    # indicators by their description, the code after it; tables saved before
    # descriptions were kept show the code
    gap_section = html[html.index('<section id="information-gaps"'):]
    gap_section = gap_section[:gap_section.index("</section>")]
    assert gap_section.count("Civil society repressed (civil_society)") == 5 + 6
    old = {"ranking": gaps["ranking"].drop(columns="best_description"),
           "voi": gaps["voi"].drop(columns="description"), "top_n": 10}
    html_old = build_report(rows, proxies=panel["proxy"], infogap=old, top_n=10,
                            n_boot=N_BOOT)
    assert "Civil society repressed" not in html_old
    assert html_old.count("<td>civil_society</td>") == 5 + 6
    # countries at risk without a missing or unreliable input are not in the ranking
    ranking = gaps["ranking"].copy()
    none = ranking["rank"] <= 2
    ranking.loc[none, ["share_gap", "share_missing", "share_unreliable", "voi_p",
                       "voi_top_n"]] = 0.0
    page_none = parse_report(build_report(
        rows, proxies=panel["proxy"], top_n=10, n_boot=N_BOOT,
        infogap={**gaps, "ranking": ranking,  # (and out of the VOI table, shown below it)
                 "voi": gaps["voi"][~gaps["voi"]["country"].isin(ranking.loc[none,
                                                                             "country"])]}))
    shown = {c["country"] for c in page_none.cells
             if c["section"] == "information-gaps" and "row_header" in c}
    assert not shown & set(ranking.loc[none, "country"])
    assert set(ranking.loc[ranking["rank"].between(3, 7), "country"]) <= shown
    # without names, the codes
    bare = parse_report(build_report(rows, proxies=panel["proxy"], infogap=gaps, top_n=10,
                                     n_boot=N_BOOT))
    assert all(c["row_header"] == c["country"] for c in _brief_rows(bare))


def test_r2p_report_shows_the_newest_runs_risk_factors_and_country_names(tmp_path) -> None:
    """`r2p report` rebuilds what the run wrote: the leading risk factors saved beside the
    ledger (runs/<run id>/explanations.csv), and the panel's country names."""
    from r2p_models.cli import DEFAULT_WORLD
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import write_report_for

    cfg = load_config(DEFAULT_WORLD)
    ledger = tmp_path / "ledger.sqlite"
    _prefill(cfg, ledger)
    with Ledger(ledger, readonly=True) as led:
        fc = led.rows(kind="forecast")
    top = fc.sort_values(["p_mean", "country"], ascending=[False, True]).iloc[0]
    run = tmp_path / "runs" / str(top.run_id)
    run.mkdir(parents=True)
    pd.DataFrame({"country": [top.country], "crime": [top.crime],
                  "risk_factor": ["RF1: Situations of armed conflict"],
                  "contribution": [1.23]}).to_csv(run / "explanations.csv", index=False)
    panel = load_panel(cfg)
    html = write_report_for(cfg.with_outputs(report=tmp_path / "r.html"), panel,
                            ledger).read_text()
    assert "RF1: Situations of armed conflict (+1.23)" in html
    assert "no explanations were given" not in html
    name = str(panel["name"].sel(country=top.country).values)
    assert name != top.country and f"{name} ({top.country})" in html
