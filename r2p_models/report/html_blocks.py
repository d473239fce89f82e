"""The HTML building blocks of the report: escaping, number formats, cells, tables,
figures, labels, and the prose read from the package's assets.

Every value that comes from the ledger is escaped here (:func:`esc`). Numeric cells carry
``data-metric``, ``data-value`` (full precision) and, with an interval, ``data-lower`` /
``data-upper`` (:func:`num`). The section modules (:mod:`~r2p_models.report.html_accuracy`,
:mod:`~r2p_models.report.html_watch`) and the page (:mod:`~r2p_models.report.html`) build
on these.
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

from r2p_models.crimes import CRIME_LABELS
from r2p_models.report.build import (
    FEW_EVENTS,
    NO_EVENTS,
    ReportContent,
    proxy_short,
)

__all__ = [
    "asset", "country_th", "crime_heading", "crime_label", "empty", "esc", "events_text",
    "figure", "finite", "fmt", "fmt_ci", "metric_cell", "metric_of", "num", "prose",
    "pvalue_text", "slug", "table", "td", "tr", "track_th", "value_attr",
]


@functools.cache
def asset(name: str) -> str:
    """A file of the package data folder ``r2p_models/report/assets``, as text."""
    return (resources.files("r2p_models.report") / "assets" / name).read_text(encoding="utf-8")


@functools.cache
def _methods_prose() -> dict[str, str]:
    """The blocks of ``assets/methods.html``: name -> its text on one line, with
    ``{fields}`` (the file's first comment says how it is written)."""
    parts = re.split(r"^<!-- block: (\S+) -->$", asset("methods.html"), flags=re.M)
    return {name: " ".join(line.strip() for line in body.strip().splitlines())
            for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def prose(name: str, **fields: Any) -> str:
    """A block of the methods prose with its fields filled in."""
    return _methods_prose()[name].format(**fields)


# ------------------------------------------------------------------------ formatting


def esc(value: Any) -> str:
    """Escape any value for HTML text or attributes."""
    return html.escape(str(value), quote=True)


def finite(v: Any) -> bool:
    """True for a value that converts to a finite float (False for None, NaN, text)."""
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
    if not finite(v):
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


def value_attr(v: Any) -> str:
    """A number for a ``data-value`` attribute: full precision, ``nan`` when not finite."""
    return repr(float(v)) if finite(v) else "nan"


def num(
    v: Any, style_: str, *, metric: str = "", lower: Any = None, upper: Any = None,
    mark: str = "", extra: str = "",
) -> str:
    """A numeric cell with machine-readable attributes and an optional interval."""
    attrs = f' data-metric="{esc(metric)}"' if metric else ""
    attrs += f' data-value="{value_attr(v)}"'
    ci = ""
    if lower is not None or upper is not None:
        attrs += f' data-lower="{value_attr(lower)}" data-upper="{value_attr(upper)}"'
        if finite(lower) and finite(upper):
            ci = (f'<span class="ci">{fmt_ci(lower, style_)} to '
                  f"{fmt_ci(upper, style_)}</span>")
    m = f'<span class="few" title="fewer than {FEW_EVENTS} events">{esc(mark)}</span>' \
        if mark else ""
    return f'<td class="num"{attrs}{extra}>{fmt(v, style_)}{m}{ci}</td>'


def td(text: Any, *, raw: bool = False, cls: str = "") -> str:
    """A table cell, its text escaped unless ``raw``."""
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
    """A table row; each keyword becomes a ``data-<key>`` attribute (escaped)."""
    attrs = "".join(f' data-{k.replace("_", "-")}="{esc(v)}"' for k, v in data.items())
    return f"<tr{attrs}>{''.join(cells)}</tr>"


def figure(uri: str, alt: str, caption: str, *, fig_id: str = "") -> str:
    """A figure with its image (a ``data:`` URI), alt text and caption (caption HTML as given)."""
    i = f' id="{esc(fig_id)}"' if fig_id else ""
    return (f'<figure{i}><img src="{uri}" alt="{esc(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def empty(text: str) -> str:
    """A paragraph saying why a section or table has nothing to show."""
    return f'<p class="empty">{esc(text)}</p>'


def crime_label(crime: str) -> str:
    """A crime's label for a reader ("All crimes" for ``"all"``)."""
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


def slug(text: str) -> str:
    """Lower-case text with every non-alphanumeric character a hyphen, for ids."""
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def metric_of(table_: pd.DataFrame, metric: str) -> pd.Series | None:
    """One row of a tidy table with the given metric (None if absent)."""
    if table_.empty:
        return None
    t = table_[table_["metric"] == metric]
    return None if t.empty else t.iloc[0]


#: Skill metrics: blanked ("no events") in groups without events.
_SKILL_METRICS = ("brier_skill_climatology", "log_skill_climatology")


def metric_cell(t: pd.DataFrame, metric: str, style_: str, *, mark: str = "") -> str:
    """The numeric cell of one metric of a tidy score table, with its interval; a skill score
    where no event happened says so instead of a number."""
    r = metric_of(t, metric)
    if r is None:
        return num(float("nan"), style_, metric=metric)
    if r.get("note") == NO_EVENTS and metric in _SKILL_METRICS:
        return (f'<td class="num noev" data-metric="{esc(metric)}" data-value="nan" '
                f'data-note="{NO_EVENTS}" title="no event happened: a skill score would only '
                f'reward forecasting less">{NO_EVENTS}</td>')
    note = f' title="{esc(r["note"])}"' if isinstance(r.get("note"), str) and r["note"] else ""
    return num(r["estimate"], style_, metric=metric, lower=r["lower"], upper=r["upper"],
               mark=mark, extra=note)


def events_text(n: int) -> str:
    """"1 event" / "n events", with thousands separators."""
    return f"{n:,} event" + ("" if n == 1 else "s")


def pvalue_text(v: float, n: int) -> str:
    """A p-value for display; 0 (no resample as extreme) reads "< 1/n" for ``n`` resamples."""
    if not finite(v):
        return "—"
    if v == 0:
        return f"< {1 / n:.3g}"
    return fmt(v, "p")
