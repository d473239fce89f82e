"""The report's sections on accuracy: what the ledger holds, headline scores,
reliability, accuracy over time, the breakdowns by region and by development level, and
models and analysts side by side (with the pooled sources' weights).

Each section is a function of :class:`~r2p_models.report.build.ReportContent` returning
its HTML body; :func:`r2p_models.report.html.render` assembles the page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from r2p_models.calibration import plot_reliability
from r2p_models.report.build import (
    FEW_EVENTS,
    KIND_LABELS,
    LEVEL,
    WINDOW,
    ReportContent,
)
from r2p_models.report.figures import (
    figure_uri,
    plot_over_time,
    plot_region_audit,
    style,
    tidy_logit_axes,
)
from r2p_models.report.html_blocks import (
    crime_label,
    empty,
    esc,
    events_text,
    figure,
    finite,
    fmt,
    fmt_ci,
    metric_cell,
    metric_of,
    num,
    pvalue_text,
    slug,
    table,
    td,
    tr,
    track_th,
    value_attr,
)

__all__ = [
    "group_audit", "render_development", "render_headline", "render_over_time",
    "render_pool_weights", "render_regions", "render_reliability", "render_side_by_side",
    "render_summary",
]


def render_summary(c: ReportContent) -> str:
    """The section "What the ledger holds": cases and events per crime, sources and model
    versions, where outcomes come from."""
    rows = c.rows
    if rows.empty:
        return empty("The ledger has no rows.")
    parts = []
    # cases and events per crime (each case once, whoever forecast it)
    obs = c.scored.drop_duplicates(["country", "crime", "target_start", "target_end"])
    trs = []
    for crime in c.crimes:
        o = obs[obs["crime"] == crime]
        r = rows[rows["crime"] == crime]
        cases = r.drop_duplicates(["country", "crime", "target_start", "target_end"])
        pend = int((cases["outcome_status"] == "pending").sum())
        nar = int((cases["outcome_status"] == "not_at_risk").sum())
        events = int(o["outcome"].sum())
        rate = events / len(o) if len(o) else float("nan")
        mark = " †" if len(o) and events < FEW_EVENTS else ""
        trs.append(tr([
            f'<th scope="row">{esc(crime_label(crime))}</th>',
            num(len(o), "int", metric="cases"), num(events, "int", metric="events",
                                                     mark=mark.strip()),
            num(rate, "pct", metric="base_rate"), num(pend, "int", metric="pending"),
            num(nar, "int", metric="not_at_risk"),
            td("not given" if c.proxies is None else c.proxies.get(crime) or "none recorded"),
        ], crime=crime))
    parts.append(table(
        ["Crime", ("Resolved cases", "distinct country x crime x window, whoever forecast it"),
         "Events", ("Base rate", "events / resolved cases"), "Pending",
         ("Not at risk", "an episode was under way in every year of the window"),
         ("Outcome proxy", "what the outcome data actually record")],
        trs, caption="Cases and events per crime"))
    # sources and versions
    trs = []
    for track in c.tracks:
        r = rows[rows["track"] == track]
        hashes = sorted(set(r["config_hash"].dropna().astype(str)))
        data = r.sort_values("issued_at")["data_hash"].dropna().astype(str)
        trs.append(tr([
            f'<th scope="row">{esc(r["source"].iloc[0])}</th>',
            td(KIND_LABELS[r["kind"].iloc[0]]),
            num(len(r), "int", metric="rows"),
            num(int((r["outcome_status"] == "observed").sum()), "int", metric="resolved"),
            td(f"{r['origin_year'].min()}–{r['origin_year'].max()}"),
            td(f"{r['issued_at'].min()[:10]} to {r['issued_at'].max()[:10]}"),
            td(", ".join(h[:12] for h in hashes[:3]) + (" …" if len(hashes) > 3 else "")
               or "—"),
            td(data.iloc[-1][:12] if not data.empty else "—"),
        ], track=track))
    parts.append(table(
        ["Source (model version or analyst)", "Kind", "Rows", "Resolved", "Origin years",
         "Issued", ("Config", "configuration hash(es), first 12 characters"),
         ("Data vintage", "hash of the data behind the newest rows, first 12 characters")],
        trs, caption="Sources and model versions", cls="text"))
    out = rows.dropna(subset=["outcome_source"]).groupby("outcome_source").agg(
        rows=("id", "size"), resolved=("resolved_at", "max")).reset_index()
    if not out.empty:
        trs = [tr([td(r.outcome_source), num(r.rows, "int", metric="rows"), td(r.resolved)])
               for r in out.itertuples()]
        parts.append(table(["Outcome data", "Rows resolved", "Last resolution"], trs,
                           caption="Where the outcomes come from", cls="text"))
    return "\n".join(parts)


_HEAD_COLS: tuple[tuple[str, str, str, str], ...] = (
    ("brier", "Brier ×1000", "milli",
     "mean squared error of the probability, times 1000; lower is better"),
    ("brier_skill_climatology", "Brier skill", "skill",
     "1 - Brier / Brier of the issue-time base rate; above 0 beats climatology"),
    ("log", "Log score", "small", "mean -log probability of what happened; lower is better"),
    ("log_skill_climatology", "Log skill", "skill", "as Brier skill, for the log score"),
    ("mcb_brier", "MCB ×1000", "milli",
     "miscalibration part of the Brier score (CORP), times 1000; lower is better"),
    ("dsc_brier", "DSC ×1000", "milli",
     "discrimination part of the Brier score (CORP), times 1000; higher is better"),
    ("unc_brier", "UNC ×1000", "milli",
     "uncertainty of the outcomes (CORP), times 1000: the Brier score of the base rate"),
    ("auc", "AUC", "auc", "area under the ROC curve; 0.5 is no skill"),
    ("auc_within", "AUC in year", "auc",
     "AUC over pairs of cases of the same issue year: how well each year's watchlist is "
     "ranked (a recalibration shift per year leaves it unchanged)"),
    ("pr_auc", "PR AUC", "auc", "average precision; no skill scores the base rate"),
)


def render_headline(c: ReportContent) -> str:
    """The section "Headline scores": one row per source and kind, with intervals, per crime."""
    h = c.headline
    if h.empty:
        return empty("No resolved outcomes: nothing to score yet.")
    cap = f"capture_top{c.top_n}"
    head: list[str | tuple[str, str]] = [
        "Source", ("Cases", "resolved cases, events, observed event rate and mean forecast "
                            "(calibration in the large)")]
    head += [(label, tip) for _, label, _, tip in _HEAD_COLS]
    head.append((f"Top-{c.top_n} capture",
                 f"share of events among the {c.top_n} highest forecasts of each issue year"))
    parts = [
        "<p>One row per source and kind: real-time forecasts, backtest postdictions and "
        "analyst assessments are scored separately and never pooled. Under each value, its "
        f"{LEVEL:.0%} interval (block bootstrap over countries, {c.n_boot} replicates). "
        "Brier = MCB − DSC + UNC exactly. Hover a column heading for its definition. "
        f"† marks fewer than {FEW_EVENTS} events.</p>"
    ]
    # all crimes pooled first, unless there is only one crime (the same numbers twice)
    for crime in (["all"] if len(c.crimes) > 1 else []) + c.crimes:
        part = h[h["crime"] == crime]
        if part.empty:
            continue
        trs = []
        for track in c.tracks:
            t = part[part["track"] == track]
            if t.empty:
                continue
            b = metric_of(t, "brier")
            n, ev = (int(b["n"]), int(b["events"])) if b is not None else (0, 0)
            rate = metric_of(t, "base_rate")
            few = f'<span class="few" title="fewer than {FEW_EVENTS} events"> †</span>' \
                if ev < FEW_EVENTS else ""
            mean = metric_of(t, "mean_forecast")
            rate_v = None if rate is None else rate["estimate"]
            mean_v = None if mean is None else mean["estimate"]
            cells = [track_th(track),
                     f'<td class="num" data-metric="cases" data-value="{n}" '
                     f'data-events="{ev}" data-base-rate="{value_attr(rate_v)}" '
                     f'data-mean-forecast="{value_attr(mean_v)}">{n:,}'
                     f'<span class="ci">{events_text(ev)}{few}</span>'
                     f'<span class="ci">observed {fmt(rate_v, "pct")}</span>'
                     f'<span class="ci">forecast {fmt(mean_v, "pct")}</span></td>']
            cells += [metric_cell(t, m, s) for m, _, s, _ in _HEAD_COLS]
            cells.append(metric_cell(t, cap, "pct"))
            trs.append(tr(cells, track=track, crime=crime))
        parts.append(f'<h3 id="headline-{slug(crime)}">{esc(crime_label(crime))}</h3>')
        parts.append(table(head, trs, caption=f"Headline scores: {crime_label(crime)}"))
    if c.skill_excluded:
        parts.append(
            f"<p>Skill scores leave out {c.skill_excluded:,} resolved row(s) issued before any "
            "case of their crime had been resolved in the ledger (no climatology known at "
            "issue time); the other columns use every resolved row.</p>")
    return "\n".join(parts)


def _reliability_alt(track: str, crime: str, rel: Any) -> str:
    d = rel.decomposition.set_index("score")
    inside = int(rel.curve["inside_band"].sum())
    p = pvalue_text(d.loc["brier", "p_value"], rel.n_resamples)
    return (
        f"Reliability diagram for {crime_label(crime)}, {track}: {rel.n:,} cases, "
        f"{rel.events:,} events. The recalibrated (PAV) curve lies inside the "
        f"{rel.level:.0%} consistency band for {inside} of {len(rel.curve)} blocks of "
        f"forecasts; miscalibration test p = {p}. {_citl_sentence(rel)} "
        f"Brier {fmt(d.loc['brier', 'mean'], 'score')} = MCB {fmt(d.loc['brier', 'mcb'], 'small')}"
        f" minus DSC {fmt(d.loc['brier', 'dsc'], 'small')} plus UNC "
        f"{fmt(d.loc['brier', 'unc'], 'small')}. The numbers are in the table below."
    )


def _citl_sentence(rel: Any) -> str:
    """Observed against expected events in plain words, as a sentence."""
    text = rel.citl.describe()
    return f"{text[0].upper()}{text[1:]}."


def _citl_cells(rel: Any) -> list[str]:
    """Observed vs expected events, O/E with its interval, and the test's p-value.

    One set per diagram (both score rows share it: ``rowspan=2``).
    """
    c = rel.citl
    span = ' rowspan="2"'
    return [
        f'<td class="num" data-metric="expected" data-value="{value_attr(c.expected)}" '
        f'data-events="{c.observed}"{span}>{fmt(c.expected, "small")}'
        f'<span class="ci">{c.observed:,} observed</span></td>',
        num(c.ratio, "small", metric="oe_ratio", lower=c.lower, upper=c.upper, extra=span),
        f'<td class="num" data-metric="citl_p" data-value="{value_attr(c.p_value)}"{span}>'
        f'{"< 0.001" if c.p_value < 0.001 else fmt(c.p_value, "p")}</td>',
    ]


def _decomposition_rows(track: str, crime: str, rel: Any, *, with_track: bool) -> list[str]:
    d = rel.decomposition.set_index("score")
    out = []
    for score in ("brier", "log"):
        r = d.loc[score]
        st = "milli" if score == "brier" else "score"
        small = "milli" if score == "brier" else "small"
        out.append(tr([
            *([track_th(track)] if with_track else []),
            f'<th scope="row">{esc(crime_label(crime))}</th>',
            td("Brier ×1000" if score == "brier" else "Log"),
            num(r["n"], "int", metric="n"),
            num(r["events"], "int", metric="events",
                mark="†" if r["events"] < FEW_EVENTS else ""),
            num(r["mean"], st, metric=score), num(r["mcb"], small, metric=f"mcb_{score}"),
            num(r["dsc"], small, metric=f"dsc_{score}"),
            num(r["unc"], small, metric=f"unc_{score}"),
            f'<td class="num" data-metric="p_value_{score}" '
            f'data-value="{value_attr(r["p_value"])}">'
            f"{pvalue_text(r['p_value'], rel.n_resamples)}</td>",
            *(_citl_cells(rel) if score == "brier" else []),
        ], track=track, crime=crime))
    return out


_DECOMP_HEAD: list[str | tuple[str, str]] = [
    "Source", "Crime", "Score", "Cases", "Events", "Mean score", "MCB", "DSC", "UNC",
    ("Test p", "miscalibration test: share of resamples of a calibrated forecaster with a "
               "larger MCB; small values mean miscalibrated"),
    ("Expected events", "events the forecasts expected (the sum of their probabilities), "
                        "above the events observed"),
    ("Observed / expected", f"observed over expected events, with its {LEVEL:.0%} exact "
                            "Poisson interval below: under 1 the forecasts ran high, over 1 "
                            "low"),
    ("Level test p", "calibration in the large: the chance, for calibrated forecasts, of a "
                     "count of events as unlikely as the observed one (exact); small values "
                     "mean the forecasts' overall level is off"),
]


def _blocks_table(crime: str, rel: Any) -> str:
    btrs = [tr([num(b.forecast_from, "pct", metric="forecast_from"),
                num(b.forecast_to, "pct", metric="forecast_to"),
                num(b.mean_forecast, "pct", metric="mean_forecast"),
                num(b.cases, "int", metric="cases"), num(b.events, "int", metric="events"),
                num(b.observed_rate, "pct", metric="observed_rate",
                    lower=b.band_lower, upper=b.band_upper),
                td("yes" if b.inside_band else "no")])
            for b in rel.curve.itertuples()]
    return table(
        ["Forecasts from", "to", "Mean forecast", "Cases", "Events",
         ("Observed rate (PAV)", f"with the {LEVEL:.0%} consistency band below"),
         "Inside band"], btrs, caption=f"{crime_label(crime)}: blocks of the PAV curve")


def render_reliability(c: ReportContent) -> str:
    """The section "Reliability": reliability diagrams, calibration in the large and the score
    decompositions."""
    if not c.reliability and not c.reliability_notes:
        return empty("No resolved outcomes: no reliability diagram yet.")
    parts = [
        "<p>Each diagram plots the observed event rate against the forecast probability, "
        "both on a logit scale so that rare-event forecasts get room. The red step curve is "
        "the isotonic (PAV) recalibration of the forecasts (the CORP method of Dimitriadis, "
        "Gneiting and Jordan, 2021); the blue band is where the curve of a calibrated "
        f"forecaster would fall {LEVEL:.0%} of the time ({c.n_boot} resamples). A curve "
        "that leaves the band, and a small miscalibration-test p-value, point to "
        "miscalibration; a curve above the diagonal means events were more frequent than "
        "forecast. The histogram below each diagram counts the forecasts. Under each "
        "diagram, and in the table, observed events are set against the number the "
        "forecasts expected (calibration in the large), with the ratio's "
        f"{LEVEL:.0%} interval and an exact test: with rare events it is the sharper check "
        "of forecasts that run too high or too low overall, which the miscalibration test "
        "often misses.</p>"
    ]
    shown = [t for t in c.featured if any((t, x) in c.reliability for x in c.crimes)]
    for track in shown:
        parts.append(f'<h3 id="reliability-{slug(track)}">{esc(track)}</h3>')
        figs, trs, details = [], [], []
        for crime in c.crimes:
            key = (track, crime)
            if key not in c.reliability:
                if key in c.reliability_notes:
                    figs.append(f"<div><h4>{esc(crime_label(crime))}</h4>"
                                f"{empty('No diagram: ' + c.reliability_notes[key])}</div>")
                continue
            rel = c.reliability[key]
            with style():
                # the numbers of the box are in the caption and the table below; in the
                # diagram the box could cover the curve
                fig = plot_reliability(rel, scale="logit", stats=False, title=(
                    f"{crime_label(crime)} (n = {rel.n:,}, events = {rel.events:,})"))
                tidy_logit_axes(fig)
            d = rel.decomposition.set_index("score")
            cap = (f"{esc(crime_label(crime))}, {esc(track)}: miscalibration test p = "
                   f"{pvalue_text(d.loc['brier', 'p_value'], rel.n_resamples)}. "
                   f"{esc(_citl_sentence(rel))}"
                   + (' <span class="few">† Few events.</span>' if rel.events < FEW_EVENTS
                      else ""))
            figs.append(figure(figure_uri(fig), _reliability_alt(track, crime, rel), cap,
                               fig_id=f"rel-{slug(track)}-{crime}"))
            trs += _decomposition_rows(track, crime, rel, with_track=False)
            details.append(_blocks_table(crime, rel))
        parts.append(f'<div class="grid">{"".join(figs)}</div>')
        if trs:
            parts.append(table(_DECOMP_HEAD[1:], trs,
                               caption=f"Decomposition and miscalibration test: {track}"))
            parts.append("<details><summary>Numbers behind the diagrams: blocks of the PAV "
                         f"curve, {esc(track)}</summary>{''.join(details)}</details>")
    others = [t for t in c.tracks if t not in shown]
    trs = [row for t in others for crime in c.crimes if (t, crime) in c.reliability
           for row in _decomposition_rows(t, crime, c.reliability[(t, crime)], with_track=True)]
    if trs:
        parts.append('<h3 id="reliability-others">Other sources</h3>')
        parts.append("<p>Diagrams are drawn for the current model and the analysts; for the "
                     "other sources (earlier versions, references) the decomposition and "
                     "the miscalibration test are listed here.</p>")
        parts.append(table(_DECOMP_HEAD, trs, caption="Decomposition and miscalibration "
                                                      "test: other sources"))
    missing = [f"{crime_label(x)} / {t}: {note}" for (t, x), note in
               sorted(c.reliability_notes.items()) if t not in shown]
    if missing:
        parts.append("<p>Not assessable: " + esc("; ".join(missing)) + ".</p>")
    return "\n".join(parts)


def _time_table(t: pd.DataFrame, x: str, tracks: list[str]) -> str:
    trs = []
    for track in tracks:
        part = t[t["track"] == track]
        for xv, g in part.groupby(x, sort=True):
            b = metric_of(g, "brier")
            label = (f"{int(g['window_start'].iloc[0])}–{int(xv)}" if x == "window_end"
                     else str(int(xv)))
            n = int(b["n"]) if b is not None else 0
            ev = int(b["events"]) if b is not None else 0
            trs.append(tr([
                track_th(track), td(label),
                num(n, "int", metric="n"), num(ev, "int", metric="events",
                                               mark="†" if ev < FEW_EVENTS else ""),
                metric_cell(g, "brier", "score"),
                metric_cell(g, "brier_skill_climatology", "skill"),
                metric_cell(g, "log_skill_climatology", "skill"), metric_cell(g, "auc", "auc"),
            ], track=track, **{x.replace("_", "-"): int(xv)}))
    return table(["Source", "Issue years" if x == "window_end" else "Issue year", "Cases",
                  "Events", "Brier", "Brier skill", "Log skill", "AUC"], trs,
                 caption="Rolling windows" if x == "window_end" else "Single issue years")


#: Metrics of the paired comparisons: (metric, heading, display style).
_COMPARE: tuple[tuple[str, str, str], ...] = (
    ("brier", "Brier ×1000", "milli"),
    ("log", "Log score", "small"),
    ("mcb_brier", "MCB ×1000", "milli"),
    ("dsc_brier", "DSC ×1000", "milli"),
    ("auc", "AUC", "auc"),
    ("auc_within", "AUC in year", "auc"),
    ("pr_auc", "PR AUC", "auc"),
)


def _diff_cell(r: pd.Series | None, metric: str, st: str, names: tuple[str, str]) -> str:
    """A paired difference ``a - b`` with its interval, both values and the verdict."""
    if r is None:
        return num(float("nan"), st, metric=f"{metric}_difference")
    a_name, b_name = names
    verdict, cls = "", ""
    if r["better"] == r["a"]:
        verdict, cls = f"{a_name} better", "better"
    elif r["better"] == r["b"]:
        verdict, cls = f"{b_name} better", "worse"
    attrs = (f' data-metric="{esc(metric)}_difference" data-value="{value_attr(r["difference"])}"'
             f' data-lower="{value_attr(r["lower"])}" data-upper="{value_attr(r["upper"])}"'
             f' data-a="{value_attr(r["estimate_a"])}" data-b="{value_attr(r["estimate_b"])}"')
    ci = (f'<span class="ci">{fmt_ci(r["lower"], st)} to {fmt_ci(r["upper"], st)}</span>'
          if finite(r["lower"]) else "")
    both = (f'<span class="ci">{esc(a_name)} {fmt(r["estimate_a"], st)}</span>'
            f'<span class="ci">{esc(b_name)} {fmt(r["estimate_b"], st)}</span>')
    v = f'<span class="ci {cls}">{esc(verdict)}</span>' if verdict else ""
    return f'<td class="num"{attrs}>{fmt(r["difference"], st)}{ci}{both}{v}</td>'


def _compare_rows(g: pd.DataFrame, key: str, keys: list[str], head: Any,
                  names: tuple[str, str], **data: Any) -> list[str]:
    trs = []
    for k in keys:
        part = g[g[key] == k]
        if part.empty:
            continue
        first = part.iloc[0]
        ev = int(first["events"])
        few = '<span class="few"> †</span>' if ev < FEW_EVENTS else ""
        cells = [head(k), f'<td class="num" data-metric="n" data-value="{int(first["n"])}">'
                          f'{int(first["n"]):,}<span class="ci">{events_text(ev)}{few}</span></td>']
        for metric, _, st in _COMPARE:
            cells.append(_diff_cell(metric_of(part, metric), metric, st, names))
        trs.append(tr(cells, **{key: k}, **data))
    return trs


def _vintage_table(v: pd.DataFrame, crimes: list[str]) -> str:
    parts = []
    for (family, kind, a, b), g in v.groupby(["family", "kind", "a", "b"], sort=True):
        trs = _compare_rows(
            g, "crime", ["all", *crimes],
            lambda k: f'<th scope="row">{esc(crime_label(k))}</th>', ("new", "previous"),
            family=family, kind=kind)
        parts.append(table(
            ["Crime", "Shared cases",
             *[(f"Δ {label}", "new minus previous, with its paired interval; then both "
                              "values") for _, label, _ in _COMPARE]],
            trs, caption=f"{family}: new {a} against previous {b} "
                         f"({KIND_LABELS[kind]}, same cases)"))
    return "\n".join(parts)


def render_over_time(c: ReportContent) -> str:
    """The section "Accuracy over time": skill by origin year, rolling windows and vintages."""
    if c.yearly.empty:
        return empty("No resolved outcomes: nothing to track yet.")
    w = c.window
    span = int(c.scored.groupby("track")["origin_year"].agg(lambda v: v.max() - v.min()).max()
               ) + 1
    if w is None:
        windows = (f", with {LEVEL:.0%} intervals. Points are single issue years. No rolling "
                   f"window is drawn: the longest track record spans {span} issue "
                   f"year{'' if span == 1 else 's'}, too few for a window that is not the "
                   "whole record.")
    else:
        windows = (f" and over {w}-year rolling windows"
                   + (f" (shorter than the usual {WINDOW} years: the longest track record "
                      f"spans {span} issue years)" if w < WINDOW else "")
                   + f", with {LEVEL:.0%} intervals. Points are single issue years; lines and "
                   "bands are rolling windows ending in that year.")
    ref = (f" The climatology of the skill scores is the base rate known at each issue "
           f"year, from the outcome history ({c.history_cases:,} resolved windows from origin "
           f"{c.history_from} on) and the ledger's resolved cases, so the first issue years "
           "have a skill score too." if c.history_cases else "")
    parts = [
        "<p>Brier skill against climatology and AUC per issue year (all crimes pooled: per "
        f"crime and year there are only a handful of events){windows}{ref} A year or "
        "window without events has no skill score (marked “no events”).</p>"
    ]
    groups = [("Real-time forecasts and analyst assessments",
               [t for t in c.tracks if not t.endswith(f"({KIND_LABELS['backtest']})")]),
              ("Backtests (postdictions)",
               [t for t in c.tracks if t.endswith(f"({KIND_LABELS['backtest']})")])]
    for i, (name, tracks) in enumerate(groups):
        tracks = [t for t in tracks if t in set(c.yearly["track"])]
        if not tracks:
            continue
        fig = plot_over_time(c.yearly, c.rolling, series=tracks, window=w, metrics=[
            ("brier_skill_climatology", "Brier skill vs climatology", 0.0),
            ("auc", "AUC", 0.5)])
        y = c.yearly
        summary = []
        for t in tracks:
            s = y[(y["track"] == t) & (y["metric"] == "brier_skill_climatology")]
            s = s.dropna(subset=["estimate"])
            if not s.empty:
                summary.append(f"{t}: Brier skill {fmt(s['estimate'].iloc[0], 'skill')} in "
                               f"{int(s['origin_year'].iloc[0])} and "
                               f"{fmt(s['estimate'].iloc[-1], 'skill')} in "
                               f"{int(s['origin_year'].iloc[-1])}")
        alt = (f"Two panels over issue years for {name.lower()}: Brier skill against "
               f"climatology (0 means no better) and AUC (0.5 means no skill). "
               + "; ".join(summary) + ". The numbers are in the tables below.")
        parts.append(f"<h3>{esc(name)}</h3>")
        drawn = [t for t in tracks if not c.rolling.empty and t in set(c.rolling["track"])]
        if drawn:
            short = ", ".join(t for t in tracks if t not in drawn)
            cap = (f"{esc(name)}: accuracy by issue year (points) and over {w}-year windows "
                   "(lines)" + (f"; no window for {esc(short)}, whose record is shorter than "
                                f"{w} issue years" if short else "") + ".")
        else:
            cap = (f"{esc(name)}: accuracy by single issue year (no rolling window: "
                   + (f"no track here spans {w} issue years" if w else "too short a record")
                   + ").")
        parts.append(figure(figure_uri(fig), alt, cap, fig_id=f"time-{i}"))
        parts.append('<details class="print-open"><summary>Numbers behind the figure</summary>'
                     + _time_table(c.yearly, "origin_year", tracks)
                     + (_time_table(c.rolling, "window_end", tracks)
                        if not c.rolling.empty else "")
                     + "</details>")
    parts.append('<h3 id="vintages">Change against the previous vintage</h3>')
    parts.append(
        "<p>Each model's newest version against the version before it, on the cases both "
        "forecast (same countries, crimes and windows), with a paired interval for the "
        "difference: the same countries are drawn for both in every bootstrap replicate. "
        "A change counts only when its interval excludes zero; for Brier, log score and "
        "MCB a negative difference is an improvement, for DSC, AUC and PR AUC a positive "
        "one.</p>")
    if not c.vintages.empty:
        parts.append(_vintage_table(c.vintages, c.crimes))
    parts += [f"<p>{esc(n)}</p>" for n in c.vintage_notes]
    return "\n".join(parts)


def _flag(g: pd.DataFrame) -> str:
    base, mf = metric_of(g, "base_rate"), metric_of(g, "mean_forecast")
    sk = metric_of(g, "brier_skill_climatology")
    if base is None or base["events"] < FEW_EVENTS:
        return "too few events to judge"
    flags = []
    if mf is not None and finite(base["lower"]):
        if mf["estimate"] > base["upper"]:
            flags.append("over-forecast")
        elif mf["estimate"] < base["lower"]:
            flags.append("under-forecast")
    if sk is not None and finite(sk["upper"]) and sk["upper"] < 0:
        flags.append("worse than climatology")
    return ", ".join(flags) or "—"


_QUIET_FLAGS = ("—", "too few events to judge")


def _region_table(t: pd.DataFrame, track: str, noun: str = "region") -> str:
    trs = []
    for region, g in t.groupby("region", sort=True):
        b = metric_of(g, "brier")
        n, ev = (int(b["n"]), int(b["events"])) if b is not None else (0, 0)
        flag = _flag(g)
        trs.append(tr([
            f'<th scope="row">{esc(region)}</th>', num(n, "int", metric="n"),
            num(ev, "int", metric="events", mark="†" if ev < FEW_EVENTS else ""),
            metric_cell(g, "base_rate", "pct"), metric_cell(g, "mean_forecast", "pct"),
            metric_cell(g, "brier", "milli"), metric_cell(g, "brier_skill_climatology", "skill"),
            metric_cell(g, "auc", "auc"),
            td(flag, cls="" if flag in _QUIET_FLAGS else "worse"),
        ], track=track, region=region))
    return table([noun.capitalize(), "Cases", "Events", "Observed rate", "Mean forecast",
                  "Brier ×1000",
                  "Brier skill", "AUC", ("Flag", "mean forecast outside the interval of the "
                                                 "observed rate, or skill clearly below 0")],
                 trs, caption=f"By {noun}: {track}")


def group_audit(c: ReportContent, groups: pd.DataFrame, *, noun: str, title: str,
                fig_id: str) -> tuple[list[str], list[str]]:
    """The figure and table of each featured track of an audit by group (regions,
    development groups): metrics per group in a ``region`` column, as
    :func:`r2p_models.report.build` computes them. Returns the HTML blocks and the tracks
    not shown."""
    tracks = [t for t in c.tracks if t in set(groups["track"])]
    shown = [t for t in c.featured if t in tracks and not t.endswith(
        f"({KIND_LABELS['analyst']})")] or tracks[:1]
    parts = []
    for i, main in enumerate(shown):
        t = groups[groups["track"] == main]
        fig = plot_region_audit(t, track=main)
        fig.suptitle(f"{title}: {main}")
        flags = [f"{r}: {_flag(g)}" for r, g in t.groupby("region", sort=True)
                 if _flag(g) not in _QUIET_FLAGS]
        alt = (f"Two dot plots by {noun} for {main}: observed event rate and mean forecast "
               "with intervals, and Brier skill against climatology. "
               + ("Flags: " + "; ".join(flags) + "." if flags else f"No {noun} is flagged.")
               + " The numbers are in the table below.")
        parts.append(f"<h3>{esc(main)}</h3>")
        parts.append(figure(figure_uri(fig), alt, f"{title}, {esc(main)}.",
                            fig_id=f"{fig_id}-{i}"))
        parts.append(_region_table(t, main, noun=noun))
    return parts, [x for x in tracks if x not in shown]


def render_regions(c: ReportContent) -> str:
    """The section "Breakdown by region": the objectivity audit by region."""
    if not c.region_given:
        return empty("No region information was given to the report (region_of), so the "
                     "audit by region cannot be made.")
    if c.regions.empty:
        return empty("No resolved outcomes: nothing to break down yet.")
    parts = [
        "<p>The objectivity audit: does the method serve every region equally? For each "
        "region, the observed event rate against the mean forecast (calibration in the "
        "large: a region whose risk is systematically over- or under-stated shows a gap), "
        "the Brier skill against climatology and the AUC within the region, all crimes "
        f"pooled, with {LEVEL:.0%} intervals. Regions with few events have wide intervals; "
        "read a flag there as a question, not a finding.</p>"
    ]
    blocks, others = group_audit(c, c.regions, noun="region", title="Regions",
                                 fig_id="regions")
    parts += blocks
    if others:
        parts.append('<details class="print-open"><summary>Other sources by region</summary>'
                     + "".join(_region_table(c.regions[c.regions["track"] == x], x)
                               for x in others) + "</details>")
    return "\n".join(parts)


def render_side_by_side(c: ReportContent) -> str:
    """The section "Models and analysts side by side": paired comparisons on shared cases."""
    s = c.side_by_side
    parts = ["<p>Where an analyst and a model assessed the same cases (same country, crime, "
             "origin and window), both are scored on exactly those cases, with a paired "
             f"{LEVEL:.0%} interval for the difference (analyst minus model): for Brier, log "
             "score and MCB a negative difference favours the analyst, for DSC, AUC and PR "
             "AUC a positive one.</p>"]
    if s.empty:
        parts += [empty(n) for n in c.side_notes] or [empty("Nothing to compare.")]
        return "\n".join(parts)
    for analyst, g in s.groupby("a", sort=True):
        models = [t for t in c.tracks if t in set(g["b"])]
        trs = _compare_rows(g.rename(columns={"b": "model"}).assign(b=g["b"]), "model",
                            models, track_th, ("analyst", "model"), analyst=analyst)
        parts.append(f"<h3>{esc(analyst)}</h3>")
        parts.append(table(
            ["Model", "Shared cases",
             *[(f"Δ {label}", "analyst minus model, with its paired interval; then both "
                              "values") for _, label, _ in _COMPARE]],
            trs, caption=f"{analyst} beside the models (all crimes)"))
    parts += [f"<p>{esc(n)}</p>" for n in c.side_notes]
    return "\n".join(parts)


def render_pool_weights(c: ReportContent) -> str:
    """Table "Pooled sources: weights": each pooled source's parameters at its newest
    origin, with their 90 % intervals (empty when the ledger has no pooled source)."""
    w = c.pool_weights
    if w is None or w.empty:
        return ""
    newest = w.groupby(["pooled_source", "kind"])["origin_year"].transform("max")
    w = w[w["origin_year"] == newest]
    body = [tr([track_th(f"{r.pooled_source} ({r.kind})"), td(r.method), td(r.origin_year),
                td(r.input_source or r.parameter.replace("beta_", "beta ")),
                num(r.value, "auc", metric="pool_weight", lower=r.lo, upper=r.hi),
                num(r.prior, "auc"), num(r.n_cases, "int")])
            for r in w.itertuples()]
    return ("<h3>Pooled sources: weights</h3><p>Weights (and the beta pool's a, b) learned at "
            "each pooled source's newest origin from the outcomes resolved by then, with 90 % "
            "block-bootstrap intervals over countries (r2p pool).</p>"
            + table(["Pooled source", "Method", "Origin", "Input", "Weight (90% interval)",
                     "Prior", "Training cases"], body))


def render_development(c: Any) -> str:
    """The section "Breakdown by development level" from
    :class:`~r2p_models.report.build.ReportContent` (groups from
    :mod:`r2p_models.report.development`)."""
    info = c.development_info
    if not info.get("given"):
        return empty(info.get("note") or "No development groups were given to the report "
                     "(development_of), so the audit by development level cannot be made.")
    if c.development.empty:
        return empty("No resolved outcomes: nothing to break down yet.")
    label = esc(info.get("label", "a development indicator"))
    if info.get("description"):  # what the indicator is, in words, before its name
        label = f"{esc(info['description'])}, indicator <code>{label}</code>"
    parts = [
        "<p>The objectivity audit by development level: countries are grouped into "
        f"equal-count groups by {label} (each "
        "country's mean over the years it reported), and for each group the observed event "
        "rate is set against the mean forecast, with the Brier skill against climatology "
        f"and the AUC, all crimes pooled, with {LEVEL:.0%} intervals. A method that "
        "under-states risk where data are poorest would show it here.</p>"]
    blocks, _ = group_audit(c, c.development, noun="development group",
                            title="Development groups", fig_id="development")
    parts += blocks
    return "\n".join(parts)


