"""The published calibration report: one self-contained HTML file built from the ledger.

:func:`build_report` computes every section from the ledger's rows with
the calibration toolkit (:mod:`r2p_models.calibration`) and returns the page;
:func:`write_report` writes it atomically; :func:`write_pdf` prints it to PDF with headless
Chromium when that is installed. The HTML is deterministic: an unchanged ledger gives the
same bytes.

The modules are split into what the report says and how it is drawn, and the first never
import the second. Content: :mod:`~r2p_models.report.build` (:class:`ReportContent`, every
number and table, from the ledger), :mod:`~r2p_models.report.summary` (the answer first),
:mod:`~r2p_models.report.changes` (what changed since the last run),
:mod:`~r2p_models.report.development` (development groups) and
:mod:`~r2p_models.report.infogap` (information gaps). Rendering:
:mod:`~r2p_models.report.html` (the page; its style sheet and the prose of its methods
section are the package data files ``assets/report.css`` and ``assets/methods.html``),
:mod:`~r2p_models.report.figures` and :mod:`~r2p_models.report.pdf`.

Examples
--------
>>> html = build_report("ledger.sqlite", region_of=panel["region"],
...                     proxies=panel["proxy"])  # doctest: +SKIP
>>> write_report("report.html", html)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import xarray as xr

from r2p_models.atomic import atomic_write_text
from r2p_models.report.build import ReportContent, ReportInputError, load_rows, report_content
from r2p_models.report.html import SECTIONS, render
from r2p_models.report.pdf import write_pdf

__all__ = [
    "SECTIONS",
    "ReportContent",
    "ReportInputError",
    "build_report",
    "load_rows",
    "report_content",
    "write_pdf",
    "write_report",
]


def build_report(
    ledger_path_or_rows: str | os.PathLike[str] | pd.DataFrame,
    *,
    title: str = "r2p-models calibration report",
    region_of: Mapping[str, str] | pd.Series | xr.DataArray | None = None,
    proxies: Mapping[str, str] | pd.Series | xr.DataArray | None = None,
    watchlist: pd.DataFrame | None = None,
    explanations: pd.DataFrame | None = None,
    top_n: int = 30,
    n_boot: int = 200,
    seed: int = 0,
    infogap: xr.Dataset | Mapping[str, pd.DataFrame] | None = None,
    development_of: Mapping[str, str] | pd.Series | None = None,
    history: xr.Dataset | None = None,
    names: Mapping[str, str] | pd.Series | xr.DataArray | None = None,
) -> str:
    """Build the calibration report from a ledger.

    Parameters
    ----------
    ledger_path_or_rows : path or pandas.DataFrame
        A ledger file (read-only; a missing file is an error, never created) or its rows
        (:meth:`r2p_models.ledger.Ledger.rows`, or a CSV export read back).
    title : str
        Page title.
    region_of : mapping, pandas.Series or xarray.DataArray, optional
        Country id -> region (e.g. ``panel["region"]``), for the breakdown by region. The
        ledger does not hold regions; without this the section says it is not available.
    proxies : mapping, pandas.Series or xarray.DataArray, optional
        Crime -> the outcome proxy it stands for (e.g. ``panel["proxy"]``), named in the
        summary and the methods note.
    watchlist : pandas.DataFrame, optional
        A watchlist to show instead of the one taken from the ledger (columns ``country,
        crime, p_mean`` and optionally ``p_q05, p_q95, rank, region, risk_factors``).
        By default: the ``top_n`` highest ``kind='forecast'`` rows per crime of the newest
        origin, from the current model.
    explanations : pandas.DataFrame, optional
        ``country, crime, risk_factor, contribution`` (log-odds contributions, e.g. from the
        model's ``explain()``); the three largest positive ones are the leading risk factors
        of a watchlist entry. Without it the watchlist says "not available".
    top_n : int, default 30
        Watchlist length and the alert budget of the top-N capture metric.
    n_boot : int, default 200
        Bootstrap replicates (and consistency resamples) per interval.
    seed : int, default 0
        Seed of every resampling (the report is reproducible).
    infogap : xarray.Dataset or mapping, optional
        The information-gap analysis of the current forecast
        (:func:`r2p_models.infogap.information_gaps`, or its ``"ranking"`` and ``"voi"``
        tables), for the section "Where missing information matters"; without it the
        section says it is not available.
    development_of : mapping or pandas.Series, optional
        Country id -> development group (e.g.
        :func:`r2p_models.report.development.development_groups`: terciles of GDP per
        capita or infant mortality), for the breakdown by development level.
    history : xarray.Dataset, optional
        The outcome history (a panel with ``onset`` and, when it has them, ``ongoing`` and
        ``present``, e.g. the panel the forecasts were made from). Its resolved windows are
        a warm-up of the climatology reference of the skill scores: the base rate known
        at issue time then counts every window of the history that had ended before the
        origin, not only the ledger's own resolved cases, so the first origins of a short
        track record get a reference (and a skill score) too. Never scored.
    names : mapping, pandas.Series or xarray.DataArray, optional
        Country id -> country name (e.g. ``panel["name"]``): wherever the report lists a
        country for a reader it shows ``"Name (id)"``. By default the ``name`` coordinate
        of ``history`` when it has one; a country without a name keeps its id.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    ReportInputError
        Bad arguments or ledger rows (the message names which).
    r2p_models.ledger.LedgerNotFoundError
        If the ledger file does not exist.

    Notes
    -----
    An empty ledger, a ledger without resolved outcomes, or one with a single crime gives a
    report that says so in each section rather than an error.
    """
    content = report_content(
        ledger_path_or_rows, title=title, region_of=region_of, proxies=proxies,
        watchlist=watchlist, explanations=explanations, top_n=top_n, n_boot=n_boot, seed=seed,
        infogap=infogap, development_of=development_of,
        history=history, names=names,
    )
    return render(content)


def write_report(path: str | os.PathLike[str], html: str) -> Path:
    """Write the report atomically (a reader sees the old file or the new one).

    Parameters
    ----------
    path : path
        Output file (its folder is created if needed).
    html : str
        From :func:`build_report`.

    Returns
    -------
    Path
        The written file.
    """
    if not isinstance(html, str) or not html.lstrip().startswith("<!DOCTYPE html>"):
        raise ReportInputError("write_report: html must be the page from build_report()")
    path = Path(path)
    atomic_write_text(path, html)
    return path
