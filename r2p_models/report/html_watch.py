"""The report's sections for acting early: the brief (the answer first), what changed
since the last run, the current watchlist, how early warnings came (lead time), and where
missing information matters (information gaps and the value of information).

Each section is a function of :class:`~r2p_models.report.build.ReportContent` (or, for
:func:`render_infogap`, of its information-gap content) returning its HTML body;
:func:`r2p_models.report.html.render` assembles the page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from r2p_models.report.build import (
    LEVEL,
    ReportContent,
    country_label,
)
from r2p_models.report.figures import (
    figure_uri,
    plot_lead_times,
    plot_watchlist,
)
from r2p_models.report.html_blocks import (
    country_th,
    crime_heading,
    crime_label,
    empty,
    esc,
    figure,
    finite,
    fmt,
    num,
    slug,
    table,
    td,
    tr,
    track_th,
    value_attr,
)
from r2p_models.report.infogap import INFOGAP_ROWS
from r2p_models.report.summary import TOP

__all__ = [
    "render_brief", "render_changes", "render_infogap", "render_lead_time", "render_watchlist",
]


def _ordinal_list(items: list[str], more: int) -> str:
    """``a, b and c`` (plus ``and k more``)."""
    if more:
        return ", ".join(items) + f" and {more} more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _who(c: ReportContent, r: Any, change: str, detail: str) -> str:
    """A country in a sentence: ``Name (code, detail)``, or ``code (detail)`` without a
    name."""
    code = str(r.country)
    name = c.names.get(code, "")
    said = name or code
    paren = ", ".join(x for x in ((code if name else ""), detail) if x)
    return (f'<span class="who" data-change="{change}" data-crime="{esc(r.crime)}" '
            f'data-country="{esc(code)}">{esc(said)}</span>'
            + (f" ({esc(paren)})" if paren else ""))


def _p_ci(p: Any, lo: Any, hi: Any) -> str:
    """``4.1% (2.2%–7.0%)``, or the probability alone without an interval."""
    if finite(lo) and finite(hi):
        return f"{fmt(p, 'pct')} ({fmt(lo, 'pct')}–{fmt(hi, 'pct')})"
    return fmt(p, "pct")


#: Countries named per list of entrants or exits in a crime's summary (the rest are
#: counted), and largest rises and falls named.
_BRIEF_NAMES = 4
_BRIEF_MOVES = 2


def _brief_changes(c: ReportContent, crime: str) -> str:
    """The changes since the last run of one crime, in two or three short sentences."""
    b, ch = c.brief, c.changes
    if ch is None or ch.previous is None:
        return ""
    out = []
    for name, label, col, det in (("entrants", f"New in the top {ch.top_n}", "rank_now",
                                   "rank {}"),
                                  ("exits", f"Out of the top {ch.top_n}", "rank_before",
                                   "was {}")):
        t = getattr(b, name).get(crime, pd.DataFrame())
        if t.empty:
            continue
        t = t.sort_values(col, kind="stable")
        shown = [_who(c, r, name[:-1], det.format(_rank(getattr(r, col)))
                      if finite(getattr(r, col)) else "not forecast now")
                 for r in t.head(_BRIEF_NAMES).itertuples()]
        out.append(f"{label}: {_ordinal_list(shown, max(0, len(t) - _BRIEF_NAMES))}.")
    if not out:
        out.append(f"The same countries as in the last run are in the top {ch.top_n}.")
    for name, label in (("risers", "Rose most"), ("fallers", "Fell most")):
        t = getattr(b, name).get(crime, pd.DataFrame())
        if t.empty:
            continue
        moves = [_who(c, r, name[:-1], "") + " from "
                 + _p_ci(r.p_before, r.p_before_q05, r.p_before_q95) + " to "
                 + _p_ci(r.p_now, r.p_now_q05, r.p_now_q95)
                 for r in t.head(_BRIEF_MOVES).itertuples()]
        out.append(f"{label}: {'; '.join(moves)}.")
    unit = "origin" if isinstance(ch.latest, int) else "run"
    return (f'<p class="changes"><strong>Since the last run</strong> ({unit} {esc(ch.previous)}'
            f" to {esc(ch.latest)}): " + " ".join(out) + "</p>")


def render_brief(c: ReportContent) -> str:
    """The executive summary: per crime the five highest forecasts with their intervals,
    what changed since the last run and one sentence on calibration; then the details."""
    b = c.brief
    if b is None or not b.top:
        note = (b.note if b is not None and b.note else "No current forecasts to summarise.")
        return empty(note)
    parts = []
    window = f" in {esc(b.window)}" if b.window else ""
    count = {3: "three", 5: "five", 10: "ten"}.get(TOP, str(TOP))
    what = (f"<p>Per crime, the {count} countries with the highest probability of an onset"
            if len(b.crimes) > 1 else  # one crime (the EWP panel): name it
            f"<p>The {count} countries with the highest probability of an onset of "
            f"{esc(crime_label(b.crimes[0]).lower())}")
    lede = (f"{what}{window}, from {esc(b.source or 'the given watchlist')}"
            + (f" (data through {b.origin})" if b.origin is not None else "")
            + f", each with its {LEVEL:.0%} interval (5th to 95th percentile of the "
            "posterior). A probability is the chance that a crime begins in the window, not "
            "a finding that one is under way.</p>")
    parts.append(lede)
    pooled = b.verdicts.get("all")
    if pooled is not None and len(b.crimes) > 1:
        parts.append(f'<p class="verdict verdict-{slug(pooled.status)}" data-crime="all" '
                     f'data-status="{esc(pooled.status)}"><strong>Calibration, all crimes:'
                     f"</strong> {esc(pooled.sentence)}</p>")
    if b.changes_note:
        parts.append(f'<p class="changes">{esc(b.changes_note)}</p>')
    cards = []
    for crime in b.crimes:
        top = b.top[crime]
        trs = [tr([num(r.rank, "int", metric="rank"), country_th(c, r.country),
                   td(getattr(r, "region", "") or "—"),
                   num(r.p_mean, "pct", metric="p_mean", lower=r.p_q05, upper=r.p_q95)],
                  crime=crime, country=r.country) for r in top.itertuples()]
        v = b.verdicts.get(crime)
        verdict = ("" if v is None else
                   f'<p class="verdict verdict-{slug(v.status)}" data-crime="{esc(crime)}" '
                   f'data-status="{esc(v.status)}"><strong>Calibration:</strong> '
                   f"{esc(v.sentence)}</p>")
        cards.append(
            f'<div class="card" data-crime="{esc(crime)}"><h3 id="brief-{esc(crime)}">'
            f"{crime_heading(c, crime)}</h3>"
            + table(["Rank", "Country", "Region",
                     ("Probability", f"mean, with the {LEVEL:.0%} interval beside it")], trs,
                    cls="text")
            + _brief_changes(c, crime) + verdict + "</div>")
    parts.append(f'<div class="brief-grid">{"".join(cards)}</div>')
    parts.append('<p class="then">The details follow: the full <a href="#watchlist">watchlist'
                 '</a>, <a href="#changes">what changed</a>, and how good the forecasts have '
                 'been (<a href="#headline">scores</a>, <a href="#reliability">reliability</a>, '
                 '<a href="#over-time">accuracy over time</a>).</p>')
    return "\n".join(parts)


def render_watchlist(c: ReportContent) -> str:
    """The section "Current watchlist": per crime, the highest probabilities with intervals and
    leading risk factors."""
    wl, info = c.watchlist, c.watchlist_info
    if wl.empty:
        return empty(info.get("note", "No watchlist."))
    parts = []
    if info.get("given"):
        parts.append("<p>The watchlist was supplied with the report.</p>")
    else:
        window = f"{wl['target_start'].min()}–{wl['target_end'].max()}"
        others = info.get("other_sources") or []
        parts.append(
            f"<p>The {c.top_n} highest real-time forecasts per crime of the newest origin "
            f"year, {info['origin']} (onset in {window}), from {esc(info['source'])}, with "
            "their 90% posterior intervals (5th to 95th percentile)."
            + (f" Other sources forecasting this origin: {esc(', '.join(others))}."
               if others else "")
            + " A country where an episode of a crime was under way, or began, in "
            f"{info['origin']} is not at risk of its onset and gets no forecast of it, so it "
            "is not on that crime's list.</p>")
    if not c.explanations_given and not info.get("given"):
        parts.append("<p>Leading risk factors: not available (no explanations were given to "
                     "the report).</p>")
    for crime in [x for x in c.crimes if x in set(wl["crime"])]:
        w = wl[wl["crime"] == crime].sort_values("rank")
        labels = [f"{r} {c.country(k)}" for r, k in zip(w["rank"], w["country"], strict=True)]
        fig = plot_watchlist(w.assign(label=labels),
                             title=f"{crime_label(crime)}: top {len(w)}")
        top = w.head(3)
        alt = (f"Dot plot of the {len(w)} highest forecasts of {crime_label(crime)} with 90% "
               "intervals. Highest: " + "; ".join(
                   f"{c.country(r.country)} {fmt(r.p_mean, 'pct')}" for r in top.itertuples())
               + ". The full list is in the table below.")
        trs = []
        for r in w.itertuples():
            trs.append(tr([
                num(r.rank, "int", metric="rank"), country_th(c, r.country),
                td(r.region or "—"),
                num(r.p_mean, "pct", metric="p_mean", lower=r.p_q05, upper=r.p_q95),
                td(getattr(r, "risk_factors", "") or "—"),
                td(getattr(r, "outcome_status", "") or "—"),
            ], crime=crime, country=r.country))
        parts.append(f'<h3 id="watchlist-{crime}">{crime_heading(c, crime)}</h3>')
        parts.append(figure(figure_uri(fig), alt, f"{esc(crime_label(crime))}: watchlist.",
                            fig_id=f"watch-{crime}"))
        parts.append(table(["Rank", "Country", "Region",
                            ("Probability", "mean, with the 90% interval below"),
                            "Leading risk factors", "Outcome"], trs,
                           caption=f"Watchlist: {crime_label(crime)}", cls="text"))
    return "\n".join(parts)


def _rank(v: Any) -> str:
    return "not forecast" if not finite(v) else f"{int(v)}"


def render_changes(c: ReportContent) -> str:
    """The section "What changed since the last run": entrants, exits, risers and fallers, and
    what moved them."""
    ch = c.changes
    if ch is None:
        return empty("Not computed.")
    if ch.previous is None:
        return f"<p>{esc(ch.note)}</p>"
    unit = "origin" if isinstance(ch.latest, int) else "run"
    parts = [
        f"<p>The latest real-time forecasts of {esc(ch.source)} ({unit} {esc(ch.latest)}, run "
        f"<code>{esc(ch.latest_run)}</code>) against the run before ({unit} "
        f"{esc(ch.previous)}, run <code>{esc(ch.previous_run)}</code>). The watchlist is the "
        f"{ch.top_n} highest forecasts of each crime.</p>"]
    for title, t, rank_col in (("New on the watchlist", ch.entrants, "rank_now"),
                               ("Off the watchlist", ch.exits, "rank_before")):
        if t.empty:
            parts.append(f"<p><strong>{title}:</strong> none.</p>")
            continue
        trs = [tr([td(crime_label(r.crime)), country_th(c, r.country),
                   td(_rank(r.rank_before)), td(_rank(r.rank_now)),
                   num(r.p_before, "pct", metric="p_before"),
                   num(r.p_now, "pct", metric="p_now"), td(r.note or "—")],
                  crime=r.crime, country=r.country, change=title)
               for r in t.sort_values(["crime", rank_col]).itertuples()]
        parts.append(table(["Crime", "Country", "Rank before", "Rank now",
                            "Probability before", "Probability now", "Note"], trs,
                           caption=title, cls="text"))
    for title, t in (("Largest rises", ch.risers), ("Largest falls", ch.fallers)):
        if t.empty:
            parts.append(f"<p><strong>{title}:</strong> none.</p>")
            continue
        head: list[str | tuple[str, str]] = [
            "Crime", "Country", ("Before", "probability with its 90% interval"),
            ("Now", "probability with its 90% interval"), ("Change", "now minus before"),
            "Rank before", "Rank now"]
        if ch.explained:
            head.append(("Risk factors that moved most",
                         "change of each risk factor's contribution (log-odds) between the "
                         "two runs"))
        trs = []
        for r in t.itertuples():
            cells = [td(crime_label(r.crime)), country_th(c, r.country),
                     num(r.p_before, "pct", metric="p_before", lower=r.p_before_q05,
                         upper=r.p_before_q95),
                     num(r.p_now, "pct", metric="p_now", lower=r.p_now_q05, upper=r.p_now_q95),
                     num(r.change, "pct", metric="change"), td(_rank(r.rank_before)),
                     td(_rank(r.rank_now))]
            if ch.explained:
                cells.append(td(r.drivers))
            trs.append(tr(cells, crime=r.crime, country=r.country, change=title))
        parts.append(table(head, trs, caption=title, cls="text"))
    if not ch.explained:
        parts.append("<p>The risk factors behind these changes are not shown: the "
                     "explanations of both runs were not found (the scheduled rerun saves "
                     "them as <code>runs/&lt;run id&gt;/explanations.csv</code> beside the "
                     "ledger).</p>")
    return "\n".join(parts)


def _years(v: Any) -> str:
    return "—" if not finite(v) else f"{float(v):.1f}".removesuffix(".0")


def render_lead_time(c: ReportContent) -> str:
    """The section "How early did warnings come?": lead times per crime and source, and the
    paired comparison."""
    lt = c.lead_time
    n = lt.get("top_n", c.top_n)
    intro = (
        "<p>For every onset of an atrocity crime the ledger has recorded: how many years "
        f"before it began was the country already on the watchlist (the {n} highest "
        "forecasts of its crime that year) and kept there without a break until the onset? "
        "An onset that was not on the list in the last forecast before it counts as "
        "<em>missed</em>, even if it had been listed earlier and then dropped. Only the "
        "forecasts made before the onset count, up to 10 years back.</p>")
    if not lt.get("onsets"):
        return intro + empty("The ledger has no resolved onsets yet, so there is nothing "
                             "to measure lead times on.")
    if "summary" not in lt:
        return intro + empty(f"The ledger records {lt['onsets']} onset(s), but no source "
                             "forecast them before they happened.")
    s = lt["summary"]
    parts = [intro]

    def rows_of(t: pd.DataFrame) -> list[str]:
        out = []
        for r in t.itertuples():
            spread = (f"{_years(r.q25_lead)} to {_years(r.q75_lead)}"
                      if finite(r.q25_lead) else "")
            out.append(tr([
                track_th(r.track), td(crime_label(r.crime)),
                num(r.onsets, "int", metric="onsets"),
                num(r.flagged, "int", metric="flagged"),
                num(r.share_flagged, "pct", metric="share_flagged"),
                num(r.dropped, "int", metric="dropped"),
                f'<td class="num" data-metric="median_lead" '
                f'data-value="{value_attr(r.median_lead)}">{_years(r.median_lead)}'
                f'<span class="ci">{esc(spread)}</span></td>',
                num(r.mean_warning_years, "years", metric="mean_warning_years"),
            ], track=r.track, crime=r.crime))
        return out

    head: list[str | tuple[str, str]] = [
        "Source", "Crime", ("Onsets", "onsets the source forecast before they happened"),
        ("Warned in time", "on the watchlist in the last forecast before the onset"),
        ("Share warned", "warned in time / onsets"),
        ("Dropped", "listed at some point, but no longer when the onset came"),
        ("Median lead (years)", "years on the list before the onset, over the onsets warned "
                                "in time; below, the middle half (quartiles)"),
        ("Average years of warning", "over all onsets, a missed one counting 0")]
    pooled = s[s["crime"] == "all"] if (s["crime"] == "all").any() else s
    parts.append(table(head, rows_of(pooled), caption=f"Lead times, top {n} watchlist",
                       cls="text"))
    if (s["crime"] == "all").any():
        parts.append('<details class="print-open"><summary>By crime</summary>'
                     + table(head, rows_of(s[s["crime"] != "all"]),
                             caption=f"Lead times by crime, top {n} watchlist", cls="text")
                     + "</details>")
    main, hist = lt["main"], lt["history"]
    crimes = [x for x in c.crimes if x in set(hist["crime"])]
    if crimes:
        fig = plot_lead_times(hist, top_n=n, crimes=crimes,
                              labels={k: crime_label(k) for k in crimes},
                              title=f"Rank before each onset: {main}")
        m = pooled[pooled["track"] == main]
        said = (f"{int(m['flagged'].iloc[0])} of {int(m['onsets'].iloc[0])} onsets were on "
                "the list when they began" if not m.empty else "")
        alt = (f"Lines, one per onset, of the rank {main} gave the country in each year "
               f"before the onset, one panel per crime, with the top-{n} cut-off. {said}. "
               "The numbers are in the table above.")
        parts.append(figure(figure_uri(fig), alt,
                            f"Each line is one onset: the country's rank in {esc(main)}'s "
                            "forecasts in the years before it began (1 is the highest "
                            f"risk). Below the dotted line it was on the top-{n} watchlist; "
                            "ranks far down are drawn at the bottom edge.",
                            fig_id="lead-time-ranks"))
    b = lt["budget"]
    if not b.empty:
        b = b[b["crime"] == "all"] if (b["crime"] == "all").any() else b
        trs = [tr([num(r.budget, "int", metric="budget"), num(r.onsets, "int", metric="onsets"),
                   num(r.flagged, "int", metric="flagged"),
                   num(r.share_flagged, "pct", metric="share_flagged"),
                   num(r.median_lead, "years", metric="median_lead"),
                   num(r.mean_warning_years, "years", metric="mean_warning_years")],
                  track=main, budget=r.budget) for r in b.itertuples()]
        parts.append(f"<h3>If only a few countries a year can be watched</h3><p>The same "
                     f"for {esc(main)} with watchlists of different lengths (countries a "
                     "year per crime): a shorter list is cheaper to follow but warns of "
                     "fewer onsets, and later.</p>")
        parts.append(table(["Countries a year", "Onsets", "Warned in time", "Share warned",
                            "Median lead (years)", "Average years of warning"], trs,
                           caption=f"Alert budgets: {main}"))
    cmp_ = lt["compare"]
    if not cmp_.empty:
        cm = cmp_[cmp_["crime"] == "all"] if (cmp_["crime"] == "all").any() else cmp_
        trs = [tr([track_th(r.track_b), num(r.onsets, "int", metric="onsets"),
                   num(r.both, "int", metric="both"), num(r.a_only, "int", metric="a_only"),
                   num(r.b_only, "int", metric="b_only"),
                   num(r.neither, "int", metric="neither"),
                   num(r.difference, "years", metric="difference", lower=r.lower,
                       upper=r.upper)],
                  track=r.track_b) for r in cm.itertuples()]
        parts.append(f"<h3>{esc(main)} against the other sources</h3><p>On the onsets both "
                     "sources forecast: how many each warned of in time, and how many more "
                     f"years of warning per onset {esc(main)} gave on average (negative: "
                     f"fewer), with a {LEVEL:.0%} interval from resampling the onsets.</p>")
        parts.append(table(["Other source", "Shared onsets", "Both warned",
                            f"Only {main}", "Only the other", "Neither",
                            ("Extra years of warning", "average years of warning of "
                             f"{main} minus the other's (missed = 0), with its interval")],
                           trs, caption="Lead times on shared onsets"))
    parts.append(
        "<p>How this is counted: an onset is a country, crime and year read from the "
        "resolved forecast windows (a window that saw an onset, together with the windows "
        "around it, dates it; where they cannot tell the exact year, the earliest possible "
        "one is taken, which shortens the lead time). Each forecast year the country's rank "
        "is its place among the source's forecasts of that crime; equal probabilities are "
        "ordered by country code, so a source that gives every country the same "
        "probability (such as a climatology) has no meaningful lead time. A source that began "
        "issuing forecasts only a few years ago cannot show a longer lead time than that: "
        "compare sources on the onsets both forecast (the table above).</p>")
    return "\n".join(parts)


def render_infogap(content: dict[str, Any], crimes: list[str],
                   names: dict[str, str] | None = None) -> str:
    """The section "Where missing information matters" from
    :func:`r2p_models.report.infogap.infogap_content`; countries are named from ``names``
    (country id -> name) or else the tables' own ``name`` column."""
    from r2p_models.infogap import plot_information_gaps

    intro = (
        "<p>Where does a forecast rest on what we do not know? For each country and crime "
        "at the current origin, the share of the uncertainty of its log-odds that comes "
        "from indicators missing that year or fused from unreliable sources, as against "
        "the uncertainty of the model's parameters; and, for each missing or unreliable "
        "indicator, the <em>value of information</em>: by how much collecting it would be "
        "expected to move the country's watchlist probability and its chance of being on "
        "the watchlist. Each missing value is drawn from the model's imputation "
        "distribution and each fused value from its measurement-error distribution; the "
        "expected absolute change is what collecting it would be worth (a change of the "
        "forecast in either direction).</p>")
    if not content:
        return intro + empty("Not available: no information-gap analysis was given to the "
                             "report (r2p rerun and r2p pipeline add it; or run "
                             "r2p infogap).")
    ranking, voi = content["ranking"], content["voi"]
    known: dict[str, str] = {}
    for t in (voi, ranking):
        if "name" in t.columns:
            known.update(zip(t["country"].astype(str), t["name"].fillna("").astype(str),
                             strict=True))
    known.update(names or {})

    def country(code: Any) -> str:
        return country_label(code, known)

    def indicator(code: Any, description: Any) -> str:
        # the panel's words first, the code after them (tables read back from a run's CSV
        # files written before descriptions were kept have only the code)
        if not isinstance(code, str) or not code:
            return "—"
        text = description.strip() if isinstance(description, str) else ""
        return f"{text} ({code})" if text and text != code else code

    n = content.get("top_n") or "N"
    parts = [intro]
    shown = [k for k in crimes if k in set(ranking["crime"])] or sorted(set(ranking["crime"]))
    if not ranking.empty:
        fig = plot_information_gaps(ranking, labels={k: crime_label(k) for k in shown})
        at_risk = ranking[ranking["at_risk"]]
        mean_share = at_risk.groupby("country")["share_gap"].mean()
        top = mean_share.sort_values(ascending=False).head(3)
        alt = ("Grid of countries by region, each cell coloured by the share of its "
               "forecast variance that comes from missing or unreliable data, averaged over "
               "crimes. Largest: " + "; ".join(f"{country(k)} {100 * v:.0f}%"
                                              for k, v in top.items())
               + ". The ranking is in the table below.")
        parts.append(figure(figure_uri(fig), alt,
                            "Countries by region (not a map). Darker: more of the forecast's "
                            "uncertainty comes from what is not known about the country's "
                            "indicators; grey and hatched: not at risk of any onset, so not "
                            "forecast.",
                            fig_id="infogap-map"))
    per, n_voi = INFOGAP_ROWS
    trs = []
    for crime in shown:
        # countries without a gap (no missing or unreliable input) have nothing to show
        gap = (ranking["share_gap"] > 0) | (ranking["voi_p"] > 0)
        g = ranking[(ranking["crime"] == crime) & ranking["at_risk"] & gap].sort_values("rank")
        for r in g.head(per).itertuples():
            trs.append(tr([
                td(crime_label(crime)), num(r.rank, "int", metric="rank"),
                f'<th scope="row">{esc(country(r.country))}</th>', td(r.region or "—"),
                num(r.p_mean, "pct", metric="p_mean"),
                num(r.share_gap, "pct", metric="share_gap"),
                num(r.share_missing, "pct", metric="share_missing"),
                num(r.share_unreliable, "pct", metric="share_unreliable"),
                td(indicator(r.best_indicator, getattr(r, "best_description", ""))),
                num(100 * r.voi_p, "small", metric="voi_p_points"),
                num(100 * r.voi_top_n, "small", metric="voi_top_n_points"),
            ], crime=crime, country=r.country))
    if trs:
        parts.append(table(
            ["Crime", "Rank", "Country", "Region",
             ("Probability", "watchlist probability with the gaps integrated over"),
             ("Gap share", "share of the log-odds variance from missing or unreliable "
                           "indicators"),
             ("Missing", "share from missing indicators"),
             ("Unreliable", "share from unreliable fused sources"),
             ("Best to collect", "the indicator whose collection would move the "
                                 "probability most"),
             ("Δ probability (points)", "expected absolute change of the watchlist "
                                        "probability, percentage points, from collecting it"),
             (f"Δ P(top {n}) (points)", "expected absolute change of the chance of being in "
                                        f"the top {n}, percentage points")],
            trs, caption=f"Where missing information matters most: up to {per} per crime "
                         "among the countries with a missing or unreliable indicator, ranked "
                         "by the expected change of the probability", cls="text"))
    else:
        parts.append(empty("No country at risk has a missing or unreliable indicator."))
    v = voi.sort_values("voi_p", ascending=False).head(n_voi)
    if not v.empty:
        items = "".join(f"<li>{esc(s)}.</li>" for s in v["statement"].head(5)) \
            if "statement" in v.columns else ""
        vtrs = [tr([f'<th scope="row">{esc(country(r.country))}</th>',
                    td(crime_label(r.crime)),
                    td(indicator(r.indicator, getattr(r, "description", ""))), td(r.kind),
                    num(r.p_mean, "pct", metric="p_mean"),
                    num(100 * r.voi_p, "small", metric="voi_p_points"),
                    num(100 * r.voi_top_n, "small", metric="voi_top_n_points"),
                    num(r.var_share, "pct", metric="var_share")],
                   crime=r.crime, country=r.country, indicator=r.indicator)
                for r in v.itertuples()]
        parts.append(f"<h3>What would be worth collecting</h3><p>The {len(v)} (country, "
                     "indicator) pairs whose collection would move a watchlist probability "
                     "most, over all crimes; the first five in words:</p>")
        if items:
            parts.append(f"<ul>{items}</ul>")
        parts.append(table(
            ["Country", "Crime", "Indicator", "Gap", "Probability",
             ("Δ probability (points)", "expected absolute change, percentage points"),
             (f"Δ P(top {n}) (points)", "expected absolute change, percentage points"),
             ("Variance share", "this input's share of the log-odds variance")],
            vtrs, caption="Value of information", cls="text"))
    parts.append(
        "<p>How this is computed: the log-odds is a sum of one term per indicator, so "
        "with each uncertain indicator drawn independently of the posterior, the law of "
        "total variance splits its variance exactly into the parameter part (the variance "
        "over posterior draws of the log-odds averaged over the uncertain indicators) and "
        "the gap part (each indicator term's variance over the indicator's predictive "
        "distribution, averaged over draws, summed over the indicators: for a linear term "
        "the squared coefficient times the indicator's variance). Missingness flags are "
        "kept as they are "
        "(that a country did not report is itself a signal that collecting a value does "
        "not erase). The value of information integrates over the indicator's predictive "
        "distribution at fixed quantile nodes; see r2p_models.infogap.</p>")
    return "\n".join(parts)


# ------------------------------------------------------------------------ page


