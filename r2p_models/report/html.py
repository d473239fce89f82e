"""Render :class:`~r2p_models.report.build.ReportContent` as one self-contained HTML page.

The rendering side of the report: the HTML building blocks (``esc``, ``num``, ``table``,
``figure``, ``empty``, :func:`group_audit` ...) and every section's markup, including
those of the development audit (:func:`render_development`) and the information gaps
(:func:`render_infogap`). It reads the content modules (:mod:`~r2p_models.report.build`,
:mod:`~r2p_models.report.summary`, :mod:`~r2p_models.report.infogap`), which never import
it.

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

import functools
import html
import math
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import pandas as pd

from r2p_models.calibration import plot_reliability
from r2p_models.crimes import CRIME_LABELS
from r2p_models.report.build import (
    FEW_EVENTS,
    KIND_LABELS,
    LEVEL,
    NO_EVENTS,
    WINDOW,
    ReportContent,
    country_label,
    proxy_short,
)
from r2p_models.report.figures import (
    figure_uri,
    plot_lead_times,
    plot_over_time,
    plot_region_audit,
    plot_watchlist,
    style,
    tidy_logit_axes,
)
from r2p_models.report.infogap import INFOGAP_ROWS
from r2p_models.report.summary import TOP

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


@functools.cache
def _asset(name: str) -> str:
    """A file of the package data folder ``r2p_models/report/assets``, as text."""
    return (resources.files("r2p_models.report") / "assets" / name).read_text(encoding="utf-8")


@functools.cache
def _methods_prose() -> dict[str, str]:
    """The blocks of ``assets/methods.html``: name -> its text on one line, with
    ``{fields}`` (the file's first comment says how it is written)."""
    parts = re.split(r"^<!-- block: (\S+) -->$", _asset("methods.html"), flags=re.M)
    return {name: " ".join(line.strip() for line in body.strip().splitlines())
            for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _prose(name: str, **fields: Any) -> str:
    """A block of the methods prose with its fields filled in."""
    return _methods_prose()[name].format(**fields)


# ------------------------------------------------------------------------ formatting


def esc(value: Any) -> str:
    """Escape any value for HTML text or attributes."""
    return html.escape(str(value), quote=True)


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt(v: Any, style_: str) -> str:
    """Format a number for display; ``"—"`` when missing.

    Styles: ``score`` (4 significant digits), ``milli`` (times 1000, for Brier-scale
    numbers), ``small`` (3 significant digits), ``skill`` (signed, 3 decimals), ``auc``
    (3 decimals), ``pct`` (percent), ``int``, ``p`` (p-value), ``years`` (1 decimal).
    """
    if not _finite(v):
        return "—"
    v = float(v)
    if style_ == "score":
        out = f"{v:.4g}"
    elif style_ == "milli":
        x = 1000 * v
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2 if abs(x) >= 1 else 3
        out = f"{x:.{digits}f}"
    elif style_ == "small":
        out = f"{v:.3g}"
    elif style_ == "skill":
        out = f"{v:+.3f}" if abs(v) < 10 else f"{v:+.0f}"
    elif style_ == "auc":
        out = f"{v:.3f}"
    elif style_ == "years":
        out = f"{v:.1f}"
    elif style_ == "pct":
        if v != 0 and abs(v) < 0.001:
            out = f"{100 * v:.2g}%"
        else:
            out = f"{100 * v:.1f}%" if abs(v) < 0.1 else f"{100 * v:.0f}%"
    elif style_ == "int":
        out = f"{round(v):,}"
    elif style_ == "p":
        out = f"{v:.2f}" if v >= 0.01 else f"{v:.3f}"
    else:
        out = f"{v:.4g}"
    return _no_negative_zero(out)


def _no_negative_zero(text: str) -> str:
    """``-0.000`` and ``+0.000`` read as zero: drop the sign when no digit is non-zero."""
    if text[:1] in "+-" and not any(ch in "123456789" for ch in text.split("e")[0]):
        return text[1:]
    return text


#: How interval ends are shown (shorter than the estimate).
_CI_STYLE = {"score": "small", "small": "small2", "skill": "skill2", "auc": "auc2"}


def fmt_ci(v: Any, style_: str) -> str:
    """Format an interval end (one digit less than the estimate where that helps)."""
    s = _CI_STYLE.get(style_, style_)
    if s == "small2":
        return _no_negative_zero(f"{float(v):.2g}")
    if s == "skill2":
        return _no_negative_zero(f"{float(v):+.2f}") if abs(float(v)) < 10 else fmt(v, "skill")
    if s == "auc2":
        return _no_negative_zero(f"{float(v):.2f}")
    return fmt(v, s)


def _value_attr(v: Any) -> str:
    return repr(float(v)) if _finite(v) else "nan"


def num(
    v: Any, style_: str, *, metric: str = "", lower: Any = None, upper: Any = None,
    mark: str = "", extra: str = "",
) -> str:
    """A numeric cell with machine-readable attributes and an optional interval."""
    attrs = f' data-metric="{esc(metric)}"' if metric else ""
    attrs += f' data-value="{_value_attr(v)}"'
    ci = ""
    if lower is not None or upper is not None:
        attrs += f' data-lower="{_value_attr(lower)}" data-upper="{_value_attr(upper)}"'
        if _finite(lower) and _finite(upper):
            ci = (f'<span class="ci">{fmt_ci(lower, style_)} to '
                  f"{fmt_ci(upper, style_)}</span>")
    m = f'<span class="few" title="fewer than {FEW_EVENTS} events">{esc(mark)}</span>' \
        if mark else ""
    return f'<td class="num"{attrs}{extra}>{fmt(v, style_)}{m}{ci}</td>'


def td(text: Any, *, raw: bool = False, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<td{c}>{text if raw else esc(text)}</td>"


def track_th(track: str) -> str:
    """Row header naming a track: the source, its kind on a second line."""
    source, _, kind = track.rpartition(" (")
    if not source:
        return f'<th scope="row">{esc(track)}</th>'
    return f'<th scope="row">{esc(source)}<span class="ci">{esc(kind.rstrip(")"))}</span></th>'


def table(
    head: Sequence[str | tuple[str, str]], rows: Iterable[str], *, caption: str = "",
    cls: str = "",
) -> str:
    """A table; ``head`` items are labels or ``(label, title)``; ``rows`` are ``<tr>``."""
    ths = []
    for i, h in enumerate(head):
        label, title = (h, "") if isinstance(h, str) else h
        t = f' title="{esc(title)}"' if title else ""
        num_cls = ' class="num"' if i > 0 and cls != "text" else ""
        ths.append(f'<th scope="col"{num_cls}{t}>{esc(label)}</th>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    body = "\n".join(rows)
    return (f'<div class="table-wrap"><table>{cap}<thead><tr>{"".join(ths)}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>")


def tr(cells: Sequence[str], **data: Any) -> str:
    attrs = "".join(f' data-{k.replace("_", "-")}="{esc(v)}"' for k, v in data.items())
    return f"<tr{attrs}>{''.join(cells)}</tr>"


def figure(uri: str, alt: str, caption: str, *, fig_id: str = "") -> str:
    i = f' id="{esc(fig_id)}"' if fig_id else ""
    return (f'<figure{i}><img src="{uri}" alt="{esc(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def crime_label(crime: str) -> str:
    return "All crimes" if crime == "all" else CRIME_LABELS.get(crime, crime)


def crime_heading(c: ReportContent, crime: str) -> str:
    """A crime's label as a heading (escaped HTML), with what its outcome data record when
    a proxy is known: "Crimes against humanity <span>measured as EWP mass-killing
    onset</span>" on the EWP panel."""
    measured = proxy_short((c.proxies or {}).get(crime))
    return esc(crime_label(crime)) + (
        f' <span class="measured">measured as {esc(measured)}</span>' if measured else "")


def country_th(c: ReportContent, code: Any) -> str:
    """A row header naming a country for a reader (``"Name (code)"`` or the code)."""
    return f'<th scope="row">{esc(c.country(code))}</th>'


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _metric(table_: pd.DataFrame, metric: str) -> pd.Series | None:
    """One row of a tidy table with the given metric (None if absent)."""
    if table_.empty:
        return None
    t = table_[table_["metric"] == metric]
    return None if t.empty else t.iloc[0]


#: Skill metrics: blanked ("no events") in groups without events.
_SKILL_METRICS = ("brier_skill_climatology", "log_skill_climatology")


def _cell(t: pd.DataFrame, metric: str, style_: str, *, mark: str = "") -> str:
    r = _metric(t, metric)
    if r is None:
        return num(float("nan"), style_, metric=metric)
    if r.get("note") == NO_EVENTS and metric in _SKILL_METRICS:
        return (f'<td class="num noev" data-metric="{esc(metric)}" data-value="nan" '
                f'data-note="{NO_EVENTS}" title="no event happened: a skill score would only '
                f'reward forecasting less">{NO_EVENTS}</td>')
    note = f' title="{esc(r["note"])}"' if isinstance(r.get("note"), str) and r["note"] else ""
    return num(r["estimate"], style_, metric=metric, lower=r["lower"], upper=r["upper"],
               mark=mark, extra=note)


def _events(n: int) -> str:
    return f"{n:,} event" + ("" if n == 1 else "s")


def _pvalue(v: float, n: int) -> str:
    if not _finite(v):
        return "—"
    if v == 0:
        return f"< {1 / n:.3g}"
    return fmt(v, "p")


# ------------------------------------------------------------------------ sections


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
    if _finite(lo) and _finite(hi):
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
                      if _finite(getattr(r, col)) else "not forecast now")
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


def _brief(c: ReportContent) -> str:
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
        parts.append(f'<p class="verdict verdict-{_slug(pooled.status)}" data-crime="all" '
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
                   f'<p class="verdict verdict-{_slug(v.status)}" data-crime="{esc(crime)}" '
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


def _summary(c: ReportContent) -> str:
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


def _headline(c: ReportContent) -> str:
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
            b = _metric(t, "brier")
            n, ev = (int(b["n"]), int(b["events"])) if b is not None else (0, 0)
            rate = _metric(t, "base_rate")
            few = f'<span class="few" title="fewer than {FEW_EVENTS} events"> †</span>' \
                if ev < FEW_EVENTS else ""
            mean = _metric(t, "mean_forecast")
            rate_v = None if rate is None else rate["estimate"]
            mean_v = None if mean is None else mean["estimate"]
            cells = [track_th(track),
                     f'<td class="num" data-metric="cases" data-value="{n}" '
                     f'data-events="{ev}" data-base-rate="{_value_attr(rate_v)}" '
                     f'data-mean-forecast="{_value_attr(mean_v)}">{n:,}'
                     f'<span class="ci">{_events(ev)}{few}</span>'
                     f'<span class="ci">observed {fmt(rate_v, "pct")}</span>'
                     f'<span class="ci">forecast {fmt(mean_v, "pct")}</span></td>']
            cells += [_cell(t, m, s) for m, _, s, _ in _HEAD_COLS]
            cells.append(_cell(t, cap, "pct"))
            trs.append(tr(cells, track=track, crime=crime))
        parts.append(f'<h3 id="headline-{_slug(crime)}">{esc(crime_label(crime))}</h3>')
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
    p = _pvalue(d.loc["brier", "p_value"], rel.n_resamples)
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
        f'<td class="num" data-metric="expected" data-value="{_value_attr(c.expected)}" '
        f'data-events="{c.observed}"{span}>{fmt(c.expected, "small")}'
        f'<span class="ci">{c.observed:,} observed</span></td>',
        num(c.ratio, "small", metric="oe_ratio", lower=c.lower, upper=c.upper, extra=span),
        f'<td class="num" data-metric="citl_p" data-value="{_value_attr(c.p_value)}"{span}>'
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
            f'data-value="{_value_attr(r["p_value"])}">'
            f"{_pvalue(r['p_value'], rel.n_resamples)}</td>",
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


def _reliability(c: ReportContent) -> str:
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
        parts.append(f'<h3 id="reliability-{_slug(track)}">{esc(track)}</h3>')
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
                   f"{_pvalue(d.loc['brier', 'p_value'], rel.n_resamples)}. "
                   f"{esc(_citl_sentence(rel))}"
                   + (' <span class="few">† Few events.</span>' if rel.events < FEW_EVENTS
                      else ""))
            figs.append(figure(figure_uri(fig), _reliability_alt(track, crime, rel), cap,
                               fig_id=f"rel-{_slug(track)}-{crime}"))
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
            b = _metric(g, "brier")
            label = (f"{int(g['window_start'].iloc[0])}–{int(xv)}" if x == "window_end"
                     else str(int(xv)))
            n = int(b["n"]) if b is not None else 0
            ev = int(b["events"]) if b is not None else 0
            trs.append(tr([
                track_th(track), td(label),
                num(n, "int", metric="n"), num(ev, "int", metric="events",
                                               mark="†" if ev < FEW_EVENTS else ""),
                _cell(g, "brier", "score"), _cell(g, "brier_skill_climatology", "skill"),
                _cell(g, "log_skill_climatology", "skill"), _cell(g, "auc", "auc"),
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
    attrs = (f' data-metric="{esc(metric)}_difference" data-value="{_value_attr(r["difference"])}"'
             f' data-lower="{_value_attr(r["lower"])}" data-upper="{_value_attr(r["upper"])}"'
             f' data-a="{_value_attr(r["estimate_a"])}" data-b="{_value_attr(r["estimate_b"])}"')
    ci = (f'<span class="ci">{fmt_ci(r["lower"], st)} to {fmt_ci(r["upper"], st)}</span>'
          if _finite(r["lower"]) else "")
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
                          f'{int(first["n"]):,}<span class="ci">{_events(ev)}{few}</span></td>']
        for metric, _, st in _COMPARE:
            cells.append(_diff_cell(_metric(part, metric), metric, st, names))
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


def _over_time(c: ReportContent) -> str:
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
    base, mf = _metric(g, "base_rate"), _metric(g, "mean_forecast")
    sk = _metric(g, "brier_skill_climatology")
    if base is None or base["events"] < FEW_EVENTS:
        return "too few events to judge"
    flags = []
    if mf is not None and _finite(base["lower"]):
        if mf["estimate"] > base["upper"]:
            flags.append("over-forecast")
        elif mf["estimate"] < base["lower"]:
            flags.append("under-forecast")
    if sk is not None and _finite(sk["upper"]) and sk["upper"] < 0:
        flags.append("worse than climatology")
    return ", ".join(flags) or "—"


_QUIET_FLAGS = ("—", "too few events to judge")


def _region_table(t: pd.DataFrame, track: str, noun: str = "region") -> str:
    trs = []
    for region, g in t.groupby("region", sort=True):
        b = _metric(g, "brier")
        n, ev = (int(b["n"]), int(b["events"])) if b is not None else (0, 0)
        flag = _flag(g)
        trs.append(tr([
            f'<th scope="row">{esc(region)}</th>', num(n, "int", metric="n"),
            num(ev, "int", metric="events", mark="†" if ev < FEW_EVENTS else ""),
            _cell(g, "base_rate", "pct"), _cell(g, "mean_forecast", "pct"),
            _cell(g, "brier", "milli"), _cell(g, "brier_skill_climatology", "skill"),
            _cell(g, "auc", "auc"),
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


def _regions(c: ReportContent) -> str:
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


def _side_by_side(c: ReportContent) -> str:
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


def _watchlist(c: ReportContent) -> str:
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


def _methods(c: ReportContent) -> str:
    """The section "Methods and caveats": the blocks of ``assets/methods.html`` that apply."""
    rows = c.rows
    items = []
    named = {k: v for k, v in (c.proxies or {}).items() if v}
    if named:
        prox = "; ".join(f"{crime_label(k)}: {named.get(k) or 'no proxy recorded'}"
                         for k in c.crimes or sorted(named))
        items.append(_prose("proxies-named", proxies=esc(prox)))
    elif c.proxies is not None:
        items.append(_prose("proxies-none-recorded"))
    else:
        items.append(_prose("proxies-not-given"))
    if not rows.empty:
        counts = rows.groupby(["kind", "outcome_status"]).size()
        desc = "; ".join(f"{KIND_LABELS[k]} {s.replace('_', ' ')}: {n:,}"
                         for (k, s), n in counts.items())
        items.append(_prose("backtests", counts=esc(desc)))
    items.append(_prose("scored"))
    items.append(_prose("intervals", level=LEVEL, n_boot=c.n_boot, seed=c.seed))
    history = (" " + _prose("climatology-history", cases=c.history_cases,
                            start=c.history_from) if c.history_cases else "")
    excluded = (_prose("climatology-excluded", rows=c.skill_excluded)
                if c.skill_excluded else "")
    items.append(_prose("climatology", history=history, excluded=excluded))
    items.append(_prose("calibration", n_boot=c.n_boot, level=LEVEL))
    items.append(_prose("discrimination", top_n=c.top_n))
    few = []
    if not c.headline.empty:
        b = c.headline[(c.headline["metric"] == "brier") & (c.headline["crime"] != "all")]
        few = [f"{crime_label(r.crime)} / {r.track} ({int(r.events)})"
               for r in b.itertuples() if r.events < FEW_EVENTS]
    groups = (_prose("small-counts-few", few_events=FEW_EVENTS, groups=esc("; ".join(few)))
              if few else _prose("small-counts-none", few_events=FEW_EVENTS)
              if not c.headline.empty else _prose("small-counts-unresolved"))
    items.append(_prose("small-counts", groups=groups))
    items.append(_prose("regions-given" if c.region_given else "regions-not-given"))
    items.append(_prose("reproducibility"))
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _pool_weights_block(c: ReportContent) -> str:
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


def _rank(v: Any) -> str:
    return "not forecast" if not _finite(v) else f"{int(v)}"


def _changes(c: ReportContent) -> str:
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
    return "—" if not _finite(v) else f"{float(v):.1f}".removesuffix(".0")


def _lead_time(c: ReportContent) -> str:
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
                      if _finite(r.q25_lead) else "")
            out.append(tr([
                track_th(r.track), td(crime_label(r.crime)),
                num(r.onsets, "int", metric="onsets"),
                num(r.flagged, "int", metric="flagged"),
                num(r.share_flagged, "pct", metric="share_flagged"),
                num(r.dropped, "int", metric="dropped"),
                f'<td class="num" data-metric="median_lead" '
                f'data-value="{_value_attr(r.median_lead)}">{_years(r.median_lead)}'
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
                            "indicators; hatched: not at risk of any onset.",
                            fig_id="infogap-map"))
    per, n_voi = INFOGAP_ROWS
    trs = []
    for crime in shown:
        g = ranking[(ranking["crime"] == crime) & ranking["at_risk"]].sort_values("rank")
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
            trs, caption=f"Where missing information matters most: top {per} per crime, "
                         "ranked by the expected change of the probability", cls="text"))
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


def render(c: ReportContent) -> str:
    """The report page as one HTML string."""
    builders = {
        "brief": _brief, "summary": _summary, "headline": _headline, "reliability": _reliability,
        "over-time": _over_time, "regions": _regions, "side-by-side": _side_by_side,
        "watchlist": _watchlist, "methods": _methods,
        "changes": _changes, "lead-time": _lead_time,
        "information-gaps": lambda c: render_infogap(c.infogap, c.crimes, names=c.names),
        "development": render_development,
    }
    sections = []
    for sid, heading in SECTIONS:
        body = builders[sid](c)
        if sid == "summary":
            body += _pool_weights_block(c)
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
        f"<title>{esc(c.title)}</title>\n<style>\n{_asset('report.css')}</style>\n"
        "</head>\n<body>\n"
        f"{_header(c)}\n<main>\n" + "\n".join(sections) + "\n</main>\n"
        f"<footer><p>{esc(c.title)}. Vintage: {esc(vintage)}"
        + (f" (ledger last written {esc(_written(c))})" if not c.rows.empty else "")
        + ". Made by r2p-models from the "
        "forecast ledger; self-contained (no network needed).</p></footer>\n</body>\n</html>\n"
    )
