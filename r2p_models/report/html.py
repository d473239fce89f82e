"""Render :class:`~r2p_models.report.build.ReportContent` as one self-contained HTML page.

The rendering side of the report, in four modules that read the content modules
(:mod:`~r2p_models.report.build`, :mod:`~r2p_models.report.summary`,
:mod:`~r2p_models.report.infogap`), which never import them:

- :mod:`~r2p_models.report.html_blocks`: the building blocks (``esc``, ``num``,
  ``table``, ``figure``, ``empty``, labels) and the prose assets;
- :mod:`~r2p_models.report.html_accuracy`: the sections on accuracy (ledger summary,
  headline scores, reliability, accuracy over time, region and development breakdowns,
  side by side);
- :mod:`~r2p_models.report.html_watch`: the sections for acting early (brief, what
  changed, watchlist, lead time, information gaps);
- this module: the page, its header, "About this report", "Methods and caveats", and
  :func:`render`, which puts the sections in :data:`SECTIONS` order.

Plain f-strings and :func:`html.escape` (no template engine): the page has a fixed
structure, and every value that comes from the ledger is escaped in one place (``esc``).
No script, no web font, no external resource: figures are SVG ``data:`` URIs, styles are
inline, so the file opens offline and prints as it shows. The style sheet
(``assets/report.css``) and the prose of "Methods and caveats" (``assets/methods.html``)
are package data files, read with :mod:`importlib.resources`.

Machine-readable numbers: every numeric table cell carries ``data-metric``,
``data-value`` (full precision) and, with an interval, ``data-lower`` / ``data-upper``;
rows carry ``data-track`` / ``data-crime`` / ``data-region``. Sections have stable ``id``
attributes (:data:`SECTIONS`).
"""

from __future__ import annotations

import pandas as pd

from r2p_models.report.build import (
    FEW_EVENTS,
    KIND_LABELS,
    LEVEL,
    ReportContent,
)
from r2p_models.report.html_accuracy import (
    render_development,
    render_headline,
    render_over_time,
    render_pool_weights,
    render_regions,
    render_reliability,
    render_side_by_side,
    render_summary,
)
from r2p_models.report.html_blocks import (
    asset,
    crime_label,
    esc,
    prose,
)
from r2p_models.report.html_watch import (
    render_brief,
    render_changes,
    render_infogap,
    render_lead_time,
    render_watchlist,
)

__all__ = ["SECTIONS", "render", "render_development", "render_infogap"]

#: Section ids and headings, in page order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("brief", "In brief"),
    ("changes", "What changed since the last run"),
    ("summary", "What the ledger holds"),
    ("headline", "Headline scores"),
    ("reliability", "Reliability"),
    ("over-time", "Accuracy over time"),
    ("regions", "Breakdown by region"),
    ("development", "Breakdown by development level"),
    ("side-by-side", "Models and analysts side by side"),
    ("lead-time", "How early did warnings come?"),
    ("watchlist", "Current watchlist"),
    ("information-gaps", "Where missing information matters"),
    ("methods", "Methods and caveats"),
)


def data_vintage(c: ReportContent) -> str:
    """The data year the report covers, in words: ``"data through 2019"`` (the newest
    origin year in the ledger: its newest forecasts use data up to that year), or
    ``"empty ledger"``. Not the wall-clock time of any entry."""
    if c.rows.empty:
        return "empty ledger"
    return f"data through {int(c.rows['origin_year'].max())}"


def _written(c: ReportContent) -> str:
    """Date of the newest entry in the ledger (issue or resolution), ``YYYY-MM-DD``."""
    stamps = pd.concat([c.rows["issued_at"], c.rows["resolved_at"]]).dropna()
    return str(stamps.max())[:10] if not stamps.empty else ""


def _header(c: ReportContent) -> str:
    """The page's title and one line on what it covers (the answer follows at once)."""
    vintage = data_vintage(c)
    return (
        f'<header class="top"><h1>{esc(c.title)}</h1>'
        f'<p class="subtitle">Atrocity-risk forecasts and how good they have been: '
        f'<span data-vintage="{esc(vintage)}">{esc(vintage)}</span>'
        + (f", current model {esc(c.primary)}" if c.primary else "")
        + ". The answer first; the evidence below it.</p></header>"
    )


def _about(c: ReportContent) -> str:
    """Facts about the ledger, notices about thin input, and the contents."""
    rows = c.rows
    facts: list[tuple[str, str]] = []
    if rows.empty:
        facts.append(("Ledger", "empty"))
    else:
        facts.append(("Vintage", (
            f"{esc(data_vintage(c))} (the newest forecasts, origin "
            f"{int(rows['origin_year'].max())}, use data up to that year; the ledger was last "
            f"written on {esc(_written(c))})")))
        resolved = rows["resolved_at"].dropna()
        # the date outcomes were last entered, not when anything happened (a clock time
        # there read as the date of an event)
        facts.append(("Outcomes last entered",
                      esc(str(resolved.max())[:10]) if not resolved.empty else "none yet"))
        facts.append(("Period", (
            f"forecasts issued for origin years {rows['origin_year'].min()}–"
            f"{rows['origin_year'].max()}, target windows {rows['target_start'].min()}–"
            f"{rows['target_end'].max()}")))
        obs = c.scored
        if not obs.empty:
            facts.append(("Outcomes observed through", esc(obs["target_end"].max())))
        counts = rows["outcome_status"].value_counts()
        facts.append(("Ledger rows", (
            f"{len(rows):,}: {counts.get('observed', 0):,} resolved, "
            f"{counts.get('pending', 0):,} pending, "
            f"{counts.get('not_at_risk', 0):,} not at risk (never scored)")))
        facts.append(("Current model", esc(c.primary) if c.primary else "none"))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    notices = ""
    if c.notices:
        items = "".join(f"<li>{esc(n)}</li>" for n in c.notices)
        notices = ('<div class="notice" role="note"><strong>Please note</strong>'
                   f"<ul>{items}</ul></div>")
    toc = "".join(f'<li><a href="#{i}">{esc(h)}</a></li>' for i, h in SECTIONS)
    return (
        '<div class="about"><h2 id="h-about">About this report</h2>'
        '<p>How good are the atrocity-risk assessments, and are they improving? Built only '
        "from the forecast ledger; every number has a "
        f"{LEVEL:.0%} interval from a block bootstrap over countries.</p>"
        f'<dl class="facts">{dl}</dl>{notices}'
        f'<nav class="toc" aria-label="Contents"><ol>{toc}</ol></nav></div>'
    )


def render_methods(c: ReportContent) -> str:
    """The section "Methods and caveats": the blocks of ``assets/methods.html`` that apply."""
    rows = c.rows
    items = []
    named = {k: v for k, v in (c.proxies or {}).items() if v}
    if named:
        prox = "; ".join(f"{crime_label(k)}: {named.get(k) or 'no proxy recorded'}"
                         for k in c.crimes or sorted(named))
        items.append(prose("proxies-named", proxies=esc(prox)))
    elif c.proxies is not None:
        items.append(prose("proxies-none-recorded"))
    else:
        items.append(prose("proxies-not-given"))
    if not rows.empty:
        counts = rows.groupby(["kind", "outcome_status"]).size()
        desc = "; ".join(f"{KIND_LABELS[k]} {s.replace('_', ' ')}: {n:,}"
                         for (k, s), n in counts.items())
        items.append(prose("backtests", counts=esc(desc)))
    items.append(prose("scored"))
    items.append(prose("intervals", level=LEVEL, n_boot=c.n_boot, seed=c.seed))
    history = (" " + prose("climatology-history", cases=c.history_cases,
                            start=c.history_from) if c.history_cases else "")
    excluded = (prose("climatology-excluded", rows=c.skill_excluded)
                if c.skill_excluded else "")
    items.append(prose("climatology", history=history, excluded=excluded))
    items.append(prose("calibration", n_boot=c.n_boot, level=LEVEL))
    items.append(prose("discrimination", top_n=c.top_n))
    few = []
    if not c.headline.empty:
        b = c.headline[(c.headline["metric"] == "brier") & (c.headline["crime"] != "all")]
        few = [f"{crime_label(r.crime)} / {r.track} ({int(r.events)})"
               for r in b.itertuples() if r.events < FEW_EVENTS]
    groups = (prose("small-counts-few", few_events=FEW_EVENTS, groups=esc("; ".join(few)))
              if few else prose("small-counts-none", few_events=FEW_EVENTS)
              if not c.headline.empty else prose("small-counts-unresolved"))
    items.append(prose("small-counts", groups=groups))
    items.append(prose("regions-given" if c.region_given else "regions-not-given"))
    items.append(prose("reproducibility"))
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def render(c: ReportContent) -> str:
    """The report page as one HTML string."""
    builders = {
        "brief": render_brief, "summary": render_summary, "headline": render_headline,
        "reliability": render_reliability, "over-time": render_over_time,
        "regions": render_regions, "side-by-side": render_side_by_side,
        "watchlist": render_watchlist, "methods": render_methods,
        "changes": render_changes, "lead-time": render_lead_time,
        "information-gaps": lambda c: render_infogap(c.infogap, c.crimes, names=c.names),
        "development": render_development,
    }
    sections = []
    for sid, heading in SECTIONS:
        body = builders[sid](c)
        if sid == "summary":
            body += render_pool_weights(c)
        sections.append(f'<section id="{sid}" data-section="{sid}" aria-labelledby="h-{sid}">'
                        f'<h2 id="h-{sid}">{esc(heading)}</h2>\n{body}\n</section>')
        if sid == "brief":
            sections.append(_about(c))
    vintage = data_vintage(c)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="r2p-models report">\n'
        f'<meta name="r2p-vintage" content="{esc(vintage)}">\n'
        f"<title>{esc(c.title)}</title>\n<style>\n{asset('report.css')}</style>\n"
        "</head>\n<body>\n"
        f"{_header(c)}\n<main>\n" + "\n".join(sections) + "\n</main>\n"
        f"<footer><p>{esc(c.title)}. Vintage: {esc(vintage)}"
        + (f" (ledger last written {esc(_written(c))})" if not c.rows.empty else "")
        + ". Made by r2p-models from the "
        "forecast ledger; self-contained (no network needed).</p></footer>\n</body>\n</html>\n"
    )
