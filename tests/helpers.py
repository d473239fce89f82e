"""Helpers shared by several test files (imported as ``from helpers import ...``)."""

from __future__ import annotations

import sqlite3
from html.parser import HTMLParser
from pathlib import Path


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every table's full content, read with a raw connection (independent of Ledger)."""
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: con.execute(f"SELECT * FROM {n} ORDER BY rowid").fetchall() for n in names}
    finally:
        con.close()


class ReportPage(HTMLParser):
    """What tests read off a report page: sections in order, numeric cells (with their
    row's data attributes, the text of the row's header as ``row_header`` when the header
    comes before the cell, and the cell's text), spans with a ``data-change`` (with their
    text), verdict paragraphs (with their text), images, each with its section, and the
    page's visible text (``text``: what a reader sees, no tags or attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.cells: list[dict[str, str]] = []
        self.changes: list[dict[str, str]] = []
        self.verdicts: list[dict[str, str]] = []
        self.images: list[dict[str, str]] = []
        self._section = ""
        self._row: dict[str, str] = {}
        self._verdict: dict[str, str] | None = None
        self._cell: dict[str, str] | None = None
        self._header = False
        self._span: dict[str, str] | None = None
        self._style = False
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self._section = a["id"]
            self.sections.append(a["id"])
        elif tag == "tr":
            self._row = {k[5:]: v for k, v in a.items() if k.startswith("data-")}
        elif tag == "td" and "data-metric" in a:
            self._cell = {"section": self._section, **self._row, "text": ""}
            self._cell.update({k[5:]: v for k, v in a.items() if k.startswith("data-")})
            self.cells.append(self._cell)
        elif tag == "th" and a.get("scope") == "row":
            self._header = True
            self._row["row_header"] = ""
        elif tag == "span" and "data-change" in a:
            self._span = {"section": self._section, "text": "",
                          **{k[5:]: v for k, v in a.items() if k.startswith("data-")}}
            self.changes.append(self._span)
        elif tag in ("style", "title"):
            self._style = True
        elif tag == "p" and "verdict" in a.get("class", ""):
            self._verdict = {"section": self._section, "text": "",
                             **{k[5:]: v for k, v in a.items() if k.startswith("data-")}}
            self.verdicts.append(self._verdict)
        elif tag == "img":
            self.images.append({"section": self._section, **a})

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._verdict = None
        elif tag == "td":
            self._cell = None
        elif tag == "th":
            self._header = False
        elif tag == "span":
            self._span = None
        elif tag in ("style", "title"):
            self._style = False

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.text += data
        if self._header:
            self._row["row_header"] += data
        if self._span is not None:
            self._span["text"] += data
        if self._verdict is not None:
            self._verdict["text"] += data
        if self._cell is not None:
            self._cell["text"] += data


def parse_report(html: str) -> ReportPage:
    """The :class:`ReportPage` of a report's HTML."""
    page = ReportPage()
    page.feed(html)
    return page


def oos_squared_error(fm, panel, truth, through: int, crime: str = "genocide") -> float:
    """Mean squared distance of a toy-panel fit's one-year forecasts from the true
    probabilities, over the origins after ``through`` and the countries at risk."""
    import numpy as np

    sq = []
    for t in range(through, int(panel.year[-1])):
        p = fm.predict(panel, t).mean("draw").sel(crime=crime)
        true = truth["p"].sel(year=t + 1, crime=crime, country=p.country)
        sq.append(((p - true) ** 2).values[p.at_risk.values])
    return float(np.mean(np.concatenate(sq)))


def assert_log_odds_adds_up(fm, panel, through: int, country: str, crime: str = "genocide"):
    """A fitted model's explanation and log-odds terms add up to its forecast.

    The per-term contributions of ``explain`` sum to its ``total``, and the model's
    log-odds terms (intercept, region, country, indicator, missingness and history terms)
    give the forecast probability draw by draw. Returns the explanation (indexed by
    term) for further checks.
    """
    import numpy as np
    from scipy.special import expit

    from r2p_models.forecast import explain

    e = explain(fm, panel, through, country, crime).set_index("term")
    assert np.isclose(e.loc[e["kind"] != "total", "mean"].sum(), e.loc["total", "mean"])
    p = fm.predict(panel, through).sel(country=country, crime=crime).values
    t = fm.log_odds_terms(panel, through, countries=[country]).sel(country=country,
                                                                   crime=crime)
    total = (t["intercept"] + t["region"] + t["country_effect"]
             + t["indicator_term"].sum("indicator") + t["missing_term"].sum("flag")
             + t["history_term"].sum("history"))
    np.testing.assert_allclose(expit(total.values), p, rtol=1e-12)
    return e
