"""The report's section "Where missing information matters" (:mod:`r2p_models.infogap`).

Kept apart from :mod:`r2p_models.report.html` so that the section's content and markup
live in one place: :func:`infogap_content` checks and normalises what the report is given
(the Dataset of :func:`~r2p_models.infogap.information_gaps`, or the ranking and VOI
tables a run saved as CSV), :func:`render_infogap` renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import xarray as xr

from r2p_models.errors import InputError

__all__ = ["INFOGAP_ROWS", "infogap_content", "render_infogap"]

#: Rows per crime of the ranking table, and rows of the value-of-information table.
INFOGAP_ROWS = (5, 15)
_RANKING_COLUMNS = ("crime", "rank", "country", "region", "at_risk", "p_mean", "share_gap",
                    "share_missing", "share_unreliable", "voi_p", "voi_top_n",
                    "best_indicator")
_VOI_COLUMNS = ("country", "crime", "indicator", "kind", "p_mean", "voi_p", "voi_top_n",
                "var_share")


def infogap_content(infogap: xr.Dataset | Mapping[str, pd.DataFrame] | None,
                    ) -> dict[str, Any]:
    """What the report shows about information gaps.

    Parameters
    ----------
    infogap : xarray.Dataset, mapping or None
        The result of :func:`r2p_models.infogap.information_gaps`, or a mapping with
        ``"ranking"`` (:func:`~r2p_models.infogap.gap_ranking` with
        ``at_risk_only=False``) and ``"voi"`` (:func:`~r2p_models.infogap.voi_table`)
        tables, e.g. read back from a run's CSV files. None: the section says it is not
        available.

    Returns
    -------
    dict
        Empty when not given; else ``ranking``, ``voi`` (DataFrames), ``origin_year`` and
        ``top_n``.

    Raises
    ------
    InputError
        A table lacks a column the section needs (named in the message).
    """
    if infogap is None:
        return {}
    from r2p_models.infogap import gap_ranking, voi_table

    if isinstance(infogap, xr.Dataset):
        ranking = gap_ranking(infogap, at_risk_only=False)
        voi = voi_table(infogap)
        top_n = int(infogap.attrs.get("top_n", 0))
    elif isinstance(infogap, Mapping):
        ranking, voi = infogap.get("ranking"), infogap.get("voi")
        top_n = int(infogap.get("top_n", 0) or 0)
        for name, frame, cols in (("ranking", ranking, _RANKING_COLUMNS),
                                  ("voi", voi, _VOI_COLUMNS)):
            if not isinstance(frame, pd.DataFrame):
                raise InputError(f"infogap[{name!r}]: expected a DataFrame")
            lacking = [c for c in cols if c not in frame.columns]
            if lacking:
                raise InputError(f"infogap[{name!r}]: lacks column(s) {lacking}")
    else:
        raise InputError("infogap: expected the Dataset of r2p_models.infogap."
                         "information_gaps() or a mapping of 'ranking' and 'voi' tables, "
                         f"got {type(infogap).__name__}")
    ranking = ranking.assign(country=ranking["country"].astype(str),
                             at_risk=ranking["at_risk"].astype(bool))
    voi = voi.assign(country=voi["country"].astype(str))
    origin = (ranking["origin_year"].iloc[0] if "origin_year" in ranking.columns
              and len(ranking) else None)
    return {"ranking": ranking, "voi": voi, "top_n": top_n,
            "origin_year": None if origin is None or pd.isna(origin) else int(origin)}


def render_infogap(content: dict[str, Any], crimes: list[str]) -> str:
    """The section's HTML (see :func:`infogap_content`)."""
    from r2p_models.infogap import plot_information_gaps
    from r2p_models.report.figures import figure_uri
    from r2p_models.report.html import (
        crime_label,
        empty,
        esc,
        figure,
        num,
        table,
        td,
        tr,
    )

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
               "crimes. Largest: " + "; ".join(f"{c} {100 * v:.0f}%" for c, v in top.items())
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
                f'<th scope="row">{esc(r.country)}</th>', td(r.region or "—"),
                num(r.p_mean, "pct", metric="p_mean"),
                num(r.share_gap, "pct", metric="share_gap"),
                num(r.share_missing, "pct", metric="share_missing"),
                num(r.share_unreliable, "pct", metric="share_unreliable"),
                td(r.best_indicator if isinstance(r.best_indicator, str)
                   and r.best_indicator else "—"),
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
        vtrs = [tr([f'<th scope="row">{esc(r.country)}</th>', td(crime_label(r.crime)),
                    td(r.indicator), td(r.kind), num(r.p_mean, "pct", metric="p_mean"),
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
        "<p>How this is computed: the log-odds is linear in the indicators, so with each "
        "uncertain indicator drawn independently of the posterior, the law of total "
        "variance splits its variance exactly into the parameter part (the variance over "
        "posterior draws with every indicator at its expected value) and the gap part "
        "(the squared coefficient, averaged over draws, times the indicator's predictive "
        "variance, summed over the indicators). Missingness flags are kept as they are "
        "(that a country did not report is itself a signal that collecting a value does "
        "not erase). The value of information integrates over the indicator's predictive "
        "distribution at fixed quantile nodes; see r2p_models.infogap.</p>")
    return "\n".join(parts)
