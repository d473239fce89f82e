"""What changed between the two latest real-time vintages of a source in the ledger.

A *vintage* is one real-time run of a source: its ``kind='forecast'`` rows of one origin
year (``by="origin"``, the default: a source issues one origin once, the ledger being
immutable) or of one ``run_id`` (``by="run"``, ordered by the run's newest
``issued_at``). Within a vintage each country and crime has one forecast, the one with the
shortest horizon when several were issued, ranked per crime (highest ``p_mean`` first, ties
by country id, as the report's watchlist). Between the latest vintage and the one before:

- *entrants*: in the top ``top_n`` of a crime now, not before (or not forecast before);
- *exits*: in the top ``top_n`` before, not now (or not forecast now, e.g. no longer at
  risk because an episode began);
- *risers* and *fallers*: the ``n`` largest increases and decreases of ``p_mean`` over
  all crimes among the countries forecast in both, with both 90 % intervals
  (``p_q05``-``p_q95``, NaN when not recorded);
- *drivers* (when the risk-factor explanations of both runs are given, e.g. the
  ``runs/<run id>/explanations.csv`` that :func:`r2p_models.rerun.rerun` writes beside
  the ledger, see :func:`run_explanations`): the three risk factors whose log-odds
  contributions changed most for each riser and faller.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from r2p_models.calibration.recalibrate import RECALIBRATED
from r2p_models.errors import InputError

__all__ = ["Changes", "run_explanations", "what_changed"]

_EXPLAIN = ("country", "crime", "risk_factor", "contribution")


@dataclass(frozen=True)
class Changes:
    """The result of :func:`what_changed`.

    Attributes
    ----------
    source : str or None
        The source compared (None: no real-time forecasts).
    latest, previous : int, str or None
        The two vintages (origin years, or run ids with ``by="run"``); ``previous`` is
        None when there is one vintage only.
    latest_run, previous_run : str or None
        The run ids behind them.
    top_n, n : int
    entrants, exits : pandas.DataFrame
        ``crime, country, rank_now, rank_before, p_now, p_before, note``.
    risers, fallers : pandas.DataFrame
        ``crime, country, p_before, p_before_q05, p_before_q95, p_now, p_now_q05,
        p_now_q95, change, rank_before, rank_now`` and ``drivers`` when ``explained``.
    explained : bool
        Whether the explanations of both runs were available.
    note : str
        A plain sentence when there is nothing to compare (else empty).
    """

    source: str | None
    latest: int | str | None
    previous: int | str | None
    latest_run: str | None
    previous_run: str | None
    top_n: int
    n: int
    entrants: pd.DataFrame = field(default_factory=pd.DataFrame)
    exits: pd.DataFrame = field(default_factory=pd.DataFrame)
    risers: pd.DataFrame = field(default_factory=pd.DataFrame)
    fallers: pd.DataFrame = field(default_factory=pd.DataFrame)
    explained: bool = False
    note: str = ""


def run_explanations(
    ledger: str | os.PathLike[str], run_ids: list[str],
) -> dict[str, pd.DataFrame]:
    """The explanations rerun saved for these runs (``<ledger folder>/runs/<run id>/
    explanations.csv``), for the runs that have one and whose file reads."""
    out = {}
    for run in run_ids:
        path = Path(ledger).parent / "runs" / str(run) / "explanations.csv"
        if not path.is_file():
            continue
        try:
            df = pd.read_csv(path, dtype={"country": str})
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        if all(c in df.columns for c in _EXPLAIN):
            out[str(run)] = df
    return out


def _default_source(fc: pd.DataFrame) -> str:
    own = fc[~fc["source"].astype(str).str.endswith(RECALIBRATED)]
    fc = own if not own.empty else fc
    last = fc.groupby("source")["issued_at"].max()
    return str(last.sort_index().idxmax())


def _vintage(fc: pd.DataFrame) -> pd.DataFrame:
    v = fc.assign(_h=fc["target_end"] - fc["origin_year"]).sort_values(
        ["crime", "country", "_h"], kind="stable").drop_duplicates(["crime", "country"])
    v = v.sort_values(["crime", "p_mean", "country"], ascending=[True, False, True],
                      kind="stable")
    v["rank"] = v.groupby("crime").cumcount() + 1
    return v[["crime", "country", "rank", "p_mean", "p_q05", "p_q95"]]


def _drivers(before: pd.DataFrame, now: pd.DataFrame, country: str, crime: str) -> str:
    def part(e: pd.DataFrame) -> pd.Series:
        e = e[(e["country"].astype(str) == country) & (e["crime"] == crime)]
        return pd.to_numeric(e.groupby("risk_factor")["contribution"].sum(), errors="coerce")

    b, a = part(before), part(now)
    if b.empty or a.empty:
        return "not recorded in both runs"
    d = a.sub(b, fill_value=0.0).dropna()
    d = d[d.abs() > 0.005]
    if d.empty:
        return "no risk factor moved"
    d = d.reindex(d.abs().sort_values(ascending=False, kind="stable").index).head(3)
    return "; ".join(f"{k} ({v:+.2f})" for k, v in d.items())


def what_changed(
    rows: pd.DataFrame,
    source: str | None = None,
    *,
    top_n: int = 10,
    n: int = 5,
    by: str = "origin",
    explanations: Mapping[str, pd.DataFrame] | None = None,
) -> Changes:
    """Entrants, exits, risers and fallers between the two latest vintages of a source.

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows (only ``kind='forecast'`` rows are used).
    source : str, optional
        Default: the source of the newest real-time forecasts (a model's own forecasts
        over its recalibration).
    top_n : int, default 10
        Watchlist length per crime.
    n : int, default 5
        Risers and fallers shown.
    by : {'origin', 'run'}
        What a vintage is (see the module docstring).
    explanations : mapping, optional
        Run id -> ``country, crime, risk_factor, contribution``; drivers are shown when
        both runs have one.

    Returns
    -------
    Changes

    Raises
    ------
    InputError
        An unknown source, or bad ``top_n``, ``n`` or ``by``.
    """
    for name, v in (("top_n", top_n), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise InputError(f"{name} must be a whole number >= 1, got {v!r}")
    if by not in ("origin", "run"):
        raise InputError(f"by must be 'origin' or 'run', got {by!r}")
    fc = rows[rows["kind"] == "forecast"]
    if fc.empty:
        return Changes(None, None, None, None, None, top_n, n,
                       note="The ledger holds no real-time forecasts, so there is no run "
                            "to compare.")
    if source is None:
        source = _default_source(fc)
    elif source not in set(fc["source"]):
        raise InputError(f"unknown source {source!r}; real-time sources are "
                         f"{sorted(set(fc['source']))}")
    fc = fc[fc["source"] == source]
    col = "origin_year" if by == "origin" else "run_id"
    order = fc.groupby(col)["issued_at"].max() if by == "run" else None
    keys = (sorted(fc[col].unique()) if by == "origin"
            else order.sort_values(kind="stable").index.tolist())  # type: ignore[union-attr]
    latest = keys[-1]
    runs = {k: str(fc.loc[fc[col] == k, "run_id"].mode().iloc[0]) for k in keys[-2:]}
    if len(keys) < 2:
        what = f"origin {latest}" if by == "origin" else f"run {latest}"
        return Changes(source, _py(latest), None, runs[latest], None, top_n, n,
                       note=f"Only one real-time run of {source} is in the ledger ({what}), "
                            "so there is nothing to compare it with yet.")
    previous = keys[-2]
    now = _vintage(fc[fc[col] == latest])
    before = _vintage(fc[fc[col] == previous])
    m = now.merge(before, on=["crime", "country"], how="outer", suffixes=("_now", "_before"))
    in_now = m["rank_now"] <= top_n
    in_before = m["rank_before"] <= top_n
    cols = ["crime", "country", "rank_now", "rank_before", "p_now", "p_before", "note"]
    m = m.rename(columns={"p_mean_now": "p_now", "p_mean_before": "p_before"})
    m["note"] = np.where(m["rank_before"].isna(), "not forecast in the previous run",
                         np.where(m["rank_now"].isna(), "not forecast in the latest run", ""))
    entrants = m[in_now & ~in_before].sort_values(["crime", "rank_now"])[cols]
    exits = m[in_before & ~in_now].sort_values(["crime", "rank_before"])[cols]
    both = m.dropna(subset=["p_now", "p_before"]).copy()
    both["change"] = both["p_now"] - both["p_before"]
    both = both.rename(columns={"p_q05_now": "p_now_q05", "p_q95_now": "p_now_q95",
                                "p_q05_before": "p_before_q05",
                                "p_q95_before": "p_before_q95"})
    mcols = ["crime", "country", "p_before", "p_before_q05", "p_before_q95", "p_now",
             "p_now_q05", "p_now_q95", "change", "rank_before", "rank_now"]
    order_cols = ["change", "crime", "country"]
    risers = both[both["change"] > 0].sort_values(order_cols, ascending=[False, True, True],
                                                  kind="stable").head(n)[mcols]
    fallers = both[both["change"] < 0].sort_values(order_cols, ascending=[True, True, True],
                                                   kind="stable").head(n)[mcols]
    ex = explanations or {}
    explained = runs[latest] in ex and runs[previous] in ex
    if explained:
        e_now, e_before = ex[runs[latest]], ex[runs[previous]]
        for t in (risers, fallers):
            t["drivers"] = [_drivers(e_before, e_now, c, k)
                            for c, k in zip(t["country"], t["crime"], strict=True)]
    reset = {"drop": True}
    return Changes(source, _py(latest), _py(previous), runs[latest], runs[previous], top_n,
                   n, entrants.reset_index(**reset), exits.reset_index(**reset),
                   risers.reset_index(**reset), fallers.reset_index(**reset), explained)


def _py(v: object) -> int | str:
    return int(v) if isinstance(v, int | np.integer) else str(v)
