"""Forecast summaries, watchlists and explanations from posterior draws.

Input is what :meth:`r2p_models.model.FittedModel.predict` returns: posterior draws of
P(onset within the horizon | at risk) with dims ``(country, crime, draw)`` and an
``at_risk(country, crime)`` coordinate.

- :func:`summarise`: mean, 5/50/95 % quantiles, rank of the mean and P(in the top N)
  per country and crime (ranks and P(top N) among the countries at risk);
- :func:`to_table` / :func:`watchlist`: the same as a tidy table, and its top N per crime;
- :func:`explain`: one country's log-odds split into baseline, region, country and
  per-indicator contributions (and missing-data flags) with intervals;
  :func:`explain_risk_factors` aggregates the indicator contributions into the UN
  Framework's risk factors.

Attribution to risk factors: an indicator that informs several risk factors has its
contribution split equally between them, so the risk-factor rows still add up (with
the baseline, region, country and missing-data rows) to the log-odds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.crimes import RISK_FACTORS

if TYPE_CHECKING:
    from r2p_models.model.fitted import FittedModel

__all__ = [
    "QUANTILES",
    "explain",
    "explain_risk_factors",
    "forecast_table",
    "summarise",
    "to_table",
    "watchlist",
]

QUANTILES = (0.05, 0.5, 0.95)


def _check_draws(draws: xr.DataArray) -> None:
    if not isinstance(draws, xr.DataArray) or set(draws.dims) != {"country", "crime", "draw"}:
        raise ValueError("draws: expected a DataArray with dims (country, crime, draw), as "
                         "returned by FittedModel.predict")


def summarise(draws: xr.DataArray, *, top_n: int = 20, at_risk_only: bool = True) -> xr.Dataset:
    """Posterior summaries of forecast draws.

    Parameters
    ----------
    draws : xarray.DataArray
        dims ``(country, crime, draw)``.
    top_n : int
        N of ``p_top_n``: the share of draws in which the country is among the N highest
        probabilities of that crime.
    at_risk_only : bool
        Rank only countries at risk at the origin (the ``at_risk`` coordinate); the others
        get rank NaN and ``p_top_n`` NaN.

    Returns
    -------
    xarray.Dataset
        ``mean``, ``q05``, ``q50``, ``q95``, ``rank`` (1 = highest mean) and ``p_top_n``,
        each with dims ``(country, crime)``; attributes of ``draws`` are kept.
    """
    _check_draws(draws)
    if not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ValueError(f"top_n = {top_n!r}: expected a positive integer")
    draws = draws.transpose("country", "crime", "draw")
    p = draws.values
    if at_risk_only and "at_risk" in draws.coords:
        eligible = draws["at_risk"].transpose("country", "crime").values.astype(bool)
    else:
        eligible = np.ones(p.shape[:2], dtype=bool)
    qs = np.quantile(p, QUANTILES, axis=2)
    mean = p.mean(axis=2)
    masked = np.where(eligible[:, :, None], p, -np.inf)
    # rank of each country within each draw (0 = highest), among eligible countries
    order = np.argsort(-masked, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(p.shape[0])[:, None, None], axis=0)
    n = min(int(top_n), p.shape[0])
    p_top = (ranks < n).mean(axis=2)
    mean_masked = np.where(eligible, mean, -np.inf)
    rank_order = np.argsort(-mean_masked, axis=0, kind="stable")
    rank = np.empty(mean.shape)
    np.put_along_axis(rank, rank_order, np.arange(1, p.shape[0] + 1)[:, None], axis=0)
    rank = np.where(eligible, rank, np.nan)
    p_top = np.where(eligible, p_top, np.nan)
    dims = ("country", "crime")
    coords = {k: v for k, v in draws.coords.items() if "draw" not in v.dims}
    ds = xr.Dataset(
        {"mean": (dims, mean), "q05": (dims, qs[0]), "q50": (dims, qs[1]),
         "q95": (dims, qs[2]), "rank": (dims, rank), "p_top_n": (dims, p_top)},
        coords=coords, attrs={**draws.attrs, "top_n": n},
    )
    return ds


def to_table(summary: xr.Dataset) -> pd.DataFrame:
    """A summary as a tidy table, one row per (country, crime), sorted by crime and rank."""
    cols = ["mean", "q05", "q50", "q95", "rank", "p_top_n"]
    df = summary[cols].to_dataframe().reset_index()
    extra = [c for c in ("region", "at_risk") if c in df.columns]
    df = df[["country", "crime", *extra, *cols]]
    for key in ("origin_year", "horizon", "target_start", "target_end"):
        if key in summary.attrs:
            df[key] = summary.attrs[key]
    df = df.sort_values(["crime", "rank", "country"], na_position="last", kind="stable")
    return df.reset_index(drop=True)


def forecast_table(fm: FittedModel, panel: xr.Dataset, origin_year: int, *,
                   top_n: int = 20) -> pd.DataFrame:
    """Forecasts of every country and crime at an origin year, as one table (for notebooks;
    the ledger rows of the CLI come from :func:`r2p_models.backtest.forecast_rows`).

    Columns: ``country``, ``name`` (when the panel has names), ``crime``, ``region``,
    ``at_risk``, ``mean``, ``q05``, ``q50``, ``q95``, ``rank``, ``p_top_n``, ``origin_year``,
    ``horizon``, ``target_start``, ``target_end``, ``model_status``, ``config_hash``,
    ``data_hash``.
    """
    draws = fm.predict(panel, origin_year)
    table = to_table(summarise(draws, top_n=top_n))
    if "name" in panel.coords:
        names = dict(zip(map(str, panel["country"].values), map(str, panel["name"].values),
                         strict=True))
        table.insert(1, "name", table["country"].map(names))
    for key in ("model_status", "config_hash", "data_hash"):
        table[key] = draws.attrs.get(key, "")
    return table


def watchlist(draws: xr.DataArray | xr.Dataset, *, top_n: int = 20,
              crimes: list[str] | None = None) -> pd.DataFrame:
    """The top N countries at risk per crime by posterior mean, with intervals and P(top N).

    ``draws`` may be the draws of :meth:`FittedModel.predict` or a :func:`summarise` result
    (then its own ``top_n`` is used for ``p_top_n``).
    """
    summary = draws if isinstance(draws, xr.Dataset) else summarise(draws, top_n=top_n)
    table = to_table(summary)
    if crimes is not None:
        unknown = sorted(set(crimes) - set(table["crime"]))
        if unknown:
            raise ValueError(f"crimes: {unknown} are not in the forecasts")
        table = table[table["crime"].isin(crimes)]
    table = table[table["rank"] <= top_n]
    return table.reset_index(drop=True)


def _interval_rows(name: str, kind: str, values: np.ndarray) -> dict[str, object]:
    q = np.quantile(values, QUANTILES)
    return {"term": name, "kind": kind, "mean": float(values.mean()), "q05": float(q[0]),
            "q50": float(q[1]), "q95": float(q[2])}


def _total_log_odds(t: xr.Dataset) -> xr.DataArray:
    """The log-odds as the sum of its additive terms (one crime, per draw)."""
    return (t["intercept"] + t["region"] + t["country_effect"]
            + t["indicator_term"].sum("indicator") + t["missing_term"].sum("flag")
            + t["history_term"].sum("history"))


def explain(fm: FittedModel, panel: xr.Dataset, origin_year: int, country: str,
            crime: str | None = None) -> pd.DataFrame:
    """Split a country's log-odds into additive contributions, with intervals.

    Parameters
    ----------
    fm : FittedModel
    panel : xarray.Dataset
    origin_year : int
    country : str
    crime : str, optional
        One crime; all the model's crimes when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per (crime, term): ``term`` (``baseline``, ``region``, ``country``, an
        indicator name, ``missing:<indicator>``, ``history:<crime>`` with ``[model]
        history``, and ``total``), ``kind`` (``base``, ``indicator``, ``missing``,
        ``history``, ``total``), ``value`` (the indicator's raw value in the
        origin year, NaN when missing), ``x_std`` (standardised, as used), and the mean
        and 5/50/95 % quantiles of the contribution to the log-odds. The ``total`` row
        is the log-odds; its probability is ``1 / (1 + exp(-total))``.
    """
    if crime is not None and crime not in fm.crimes:
        raise ValueError(f"crime = {crime!r}: the model has {list(fm.crimes)}")
    terms = fm.log_odds_terms(panel, origin_year, countries=[country]).sel(country=country)
    raw = panel["X"].sel(country=country, year=origin_year)
    rows: list[dict[str, object]] = []
    for k in ([crime] if crime else list(fm.crimes)):
        t = terms.sel(crime=k)
        parts: list[dict[str, object]] = [
            _interval_rows("baseline", "base", t["intercept"].values),
            _interval_rows("region", "base", t["region"].values),
            _interval_rows("country", "base", t["country_effect"].values),
        ]
        for ind in t["indicator"].values:
            r = _interval_rows(str(ind), "indicator", t["indicator_term"].sel(indicator=ind).values)
            r["value"] = float(raw.sel(indicator=ind))
            r["x_std"] = float(t["x_std"].sel(indicator=ind))
            parts.append(r)
        for f in t["flag"].values:
            parts.append(_interval_rows(f"missing:{f}", "missing",
                                        t["missing_term"].sel(flag=f).values))
        for h in t["history"].values:
            parts.append(_interval_rows(str(h), "history",
                                        t["history_term"].sel(history=h).values))
        parts.append(_interval_rows("total", "total", _total_log_odds(t).values))
        for r in parts:
            r["crime"] = k
            r["country"] = country
        rows += parts
    df = pd.DataFrame(rows)
    cols = ["country", "crime", "term", "kind", "value", "x_std", "mean", "q05", "q50", "q95"]
    return df.reindex(columns=cols)


def explain_risk_factors(fm: FittedModel, panel: xr.Dataset, origin_year: int, country: str,
                         crime: str | None = None) -> pd.DataFrame:
    """:func:`explain` aggregated into UN Framework risk factors.

    Returns one row per (crime, term) where ``term`` is ``baseline``, ``region``,
    ``country``, ``RF<n>: <title>`` for each risk factor the indicators inform,
    ``unmapped indicators`` (indicators without a risk factor), ``missing data``,
    ``episode history`` (with ``[model] history``) and ``total``; means and 5/50/95 %
    quantiles are computed draw by draw from the summed
    contributions (an indicator informing several factors is split equally).
    """
    import json

    if crime is not None and crime not in fm.crimes:
        raise ValueError(f"crime = {crime!r}: the model has {list(fm.crimes)}")
    terms = fm.log_odds_terms(panel, origin_year, countries=[country]).sel(country=country)
    rfs = json.loads(fm.meta["risk_factors"]) if "risk_factors" in fm.meta else {}
    rows: list[dict[str, object]] = []
    for k in ([crime] if crime else list(fm.crimes)):
        t = terms.sel(crime=k)
        S = t.sizes["draw"]
        groups: dict[str, np.ndarray] = {}
        for ind in t["indicator"].values:
            contrib = t["indicator_term"].sel(indicator=ind).values
            factors = rfs.get(str(ind), [])
            if not factors:
                key = "unmapped indicators"
                groups[key] = groups.get(key, np.zeros(S)) + contrib
                continue
            for n in factors:
                key = f"RF{n}: {RISK_FACTORS[int(n)].title}"
                groups[key] = groups.get(key, np.zeros(S)) + contrib / len(factors)
        parts = [
            _interval_rows("baseline", "base", t["intercept"].values),
            _interval_rows("region", "base", t["region"].values),
            _interval_rows("country", "base", t["country_effect"].values),
        ]
        def _rf_number(key: str) -> int:
            return int(key[2:].split(":")[0]) if key.startswith("RF") else 99

        for key in sorted(groups, key=_rf_number):
            parts.append(_interval_rows(key, "risk_factor", groups[key]))
        parts.append(_interval_rows("missing data", "missing",
                                    t["missing_term"].sum("flag").values))
        if t.sizes.get("history", 0):
            parts.append(_interval_rows("episode history", "history",
                                        t["history_term"].sum("history").values))
        parts.append(_interval_rows("total", "total", _total_log_odds(t).values))
        for r in parts:
            r["crime"] = k
            r["country"] = country
        rows += parts
    return pd.DataFrame(rows).reindex(
        columns=["country", "crime", "term", "kind", "mean", "q05", "q50", "q95"])
