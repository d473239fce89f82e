"""Assemble the calibration report's content from a ledger.

Everything here is computed from the ledger's rows (plus the optional region, proxy and
explanation tables, which the ledger does not hold) with the calibration toolkit:
:func:`~r2p_models.calibration.score_table`, :func:`~r2p_models.calibration.rolling_table`
and :func:`~r2p_models.calibration.compare_table` for every number with its block-bootstrap
interval (countries resampled), :func:`~r2p_models.calibration.reliability` for the
diagrams. Rendering to HTML is :mod:`r2p_models.report.html`: this module and the other
content modules (:mod:`~r2p_models.report.summary`, :mod:`~r2p_models.report.changes`,
:mod:`~r2p_models.report.development`, :mod:`~r2p_models.report.infogap`) never import the
rendering ones (:mod:`~r2p_models.report.html`, :mod:`~r2p_models.report.figures`,
:mod:`~r2p_models.report.pdf`).

Units of evaluation
-------------------
A *track* is one ``(source, kind)``: a model version's real-time forecasts, the same
version's backtest postdictions and an analyst's assessments are scored separately and
never pooled (postdictions are not real-time skill). Only rows with
``outcome_status == 'observed'`` are scored; ``pending`` and ``not_at_risk`` rows are
counted, never scored as zeros.

Climatology reference
---------------------
Skill scores compare with the base rate *known at issue time*: for a case issued in origin
year ``t``, the event rate of the crime among the ledger's cases resolved with
``target_end < t`` (:func:`~r2p_models.calibration.issue_time_base_rate`), with half an
event and one case of prior weight (Jeffreys) so that a run of years without events does
not give a reference of exactly 0. Cases issued before any case of their crime had been
resolved have no reference and are left out of the skill scores (and only of those); the
report says how many.

Determinism
-----------
The content depends only on the ledger rows and the arguments: bootstrap and consistency
resamples use fixed seeds, tables are sorted, and the report's date is the newest
``issued_at`` / ``resolved_at`` in the ledger, not the time of the build.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.calibration import (
    CalibrationInputError,
    Reliability,
    compare_table,
    issue_time_base_rate,
    reliability,
    rolling_table,
    score_table,
)
from r2p_models.calibration.recalibrate import RECALIBRATED
from r2p_models.crimes import CRIME_LABELS, CRIMES
from r2p_models.errors import InputError
from r2p_models.ledger import COLUMNS, Ledger

__all__ = [
    "KIND_LABELS",
    "ReportContent",
    "ReportInputError",
    "country_label",
    "load_rows",
    "proxy_short",
    "report_content",
]

#: How each ledger kind is named in the report.
KIND_LABELS: dict[str, str] = {
    "forecast": "real time",
    "backtest": "backtest",
    "analyst": "analyst",
}
_KIND_ORDER = {"forecast": 0, "backtest": 1, "analyst": 2}
#: Fewer events than this in a group get a "few events" caveat.
FEW_EVENTS = 10
#: Level of every interval and band.
LEVEL = 0.9
#: Issue years per rolling window (shortened when the track record is shorter, see
#: :func:`window_length`).
WINDOW = 5
#: Note of a skill score left out because its group had no events.
NO_EVENTS = "no events"
REFERENCE = "climatology"
_SKILL = ("brier_skill_climatology", "log_skill_climatology")
_CASE = ["country", "crime", "target_start", "target_end"]
_EXPLAIN_COLUMNS = ("country", "crime", "risk_factor", "contribution")
_VERSION = re.compile(r"^v?\d+([.\-_]\w+)*$", re.IGNORECASE)


class ReportInputError(InputError):
    """An argument of the report that cannot be used (named in the message)."""


@dataclass
class ReportContent:
    """The numbers behind the report (every table is a tidy pandas DataFrame).

    Attributes
    ----------
    title : str
    rows : pandas.DataFrame
        All ledger rows with ``track`` and ``kind_label`` columns added.
    scored : pandas.DataFrame
        The observed rows that are scored, with ``base_rate_ref`` (the issue-time
        climatology; NaN where unknown) and ``region``.
    tracks : list of str
        Tracks in display order.
    primary : str or None
        The current model's track (newest real-time source, else newest backtest source;
        a model's own source before its recalibration).
    featured : list of str
        Tracks whose reliability diagrams are drawn: the current model (real time and
        backtest) and the analysts. The others get the decomposition table only.
    crimes : list of str
        Crimes in the ledger, canonical order.
    headline : pandas.DataFrame
        :func:`score_table` rows by ``crime`` (``"all"`` for all crimes pooled) and track.
    reliability : dict
        ``(track, crime) -> Reliability``.
    reliability_notes : dict
        ``(track, crime) -> str`` where no diagram could be drawn.
    yearly, rolling : pandas.DataFrame
        Metrics by track and issue year, and over rolling windows of issue years.
    vintages : pandas.DataFrame
        :func:`compare_table` rows of each newest model version against the previous one.
    regions : pandas.DataFrame
        Metrics by track and region.
    side_by_side : pandas.DataFrame
        :func:`compare_table` rows of analysts against models on shared cases.
    watchlist : pandas.DataFrame
        The top forecasts per crime of the newest origin.
    notices : list of str
        Plain-language statements about missing or thin input, shown at the top.
    """

    title: str
    rows: pd.DataFrame
    scored: pd.DataFrame
    tracks: list[str]
    primary: str | None
    featured: list[str]
    crimes: list[str]
    headline: pd.DataFrame
    reliability: dict[tuple[str, str], Reliability]
    reliability_notes: dict[tuple[str, str], str]
    yearly: pd.DataFrame
    rolling: pd.DataFrame
    vintages: pd.DataFrame
    vintage_notes: list[str]
    regions: pd.DataFrame
    side_by_side: pd.DataFrame
    side_notes: list[str]
    watchlist: pd.DataFrame
    watchlist_info: dict[str, Any]
    proxies: dict[str, str] | None
    region_given: bool
    explanations_given: bool
    top_n: int
    n_boot: int
    seed: int
    notices: list[str] = field(default_factory=list)
    skill_excluded: int = 0
    #: The ledger's table pool_weights (r2p_models.pool); None when built from rows.
    pool_weights: pd.DataFrame | None = None
    #: "How early did warnings come?" (:func:`_lead_time_content`).
    lead_time: dict[str, Any] = field(default_factory=dict)
    #: "What changed since the last run" (:class:`r2p_models.report.changes.Changes`).
    changes: Any = None
    #: "Where missing information matters" (:func:`r2p_models.report.infogap.infogap_content`).
    infogap: dict[str, Any] = field(default_factory=dict)
    #: Metrics by development group (:mod:`r2p_models.report.development`), as ``regions``.
    development: pd.DataFrame = field(default_factory=pd.DataFrame)
    development_info: dict[str, Any] = field(default_factory=dict)
    #: Issue years per rolling window (:func:`window_length`); None: no window.
    window: int | None = WINDOW
    #: Resolved windows of the outcome history used by the climatology reference (0: the
    #: reference comes from the ledger alone).
    history_cases: int = 0
    #: First origin year of the outcome history's windows (None without a history).
    history_from: int | None = None
    #: The executive summary (:class:`r2p_models.report.summary.Brief`).
    brief: Any = None
    #: Country id -> name, for the reader (:func:`country_label`); empty: ids only.
    names: dict[str, str] = field(default_factory=dict)

    def country(self, code: Any) -> str:
        """How a country is shown to a reader: ``"Name (code)"``, or the code alone when
        no name is known (:func:`country_label`)."""
        return country_label(code, self.names)


# ----------------------------------------------------------------------------- input


def load_rows(ledger_path_or_rows: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Ledger rows from a ledger file or a DataFrame of rows (e.g. a CSV export).

    Parameters
    ----------
    ledger_path_or_rows : path or pandas.DataFrame
        A ledger file (opened read-only, never created) or rows with the ledger's
        columns (:data:`r2p_models.ledger.COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        Rows sorted by ``id``.

    Raises
    ------
    ReportInputError
        Missing columns or unknown kinds / crimes / statuses.
    LedgerNotFoundError
        If the file does not exist.
    """
    if isinstance(ledger_path_or_rows, pd.DataFrame):
        rows = ledger_path_or_rows.copy()
        missing = [c for c in COLUMNS if c not in rows.columns]
        if missing:
            raise ReportInputError(f"ledger rows lack column(s) {missing}")
        rows = rows[list(COLUMNS)]
    elif isinstance(ledger_path_or_rows, str | os.PathLike):
        with Ledger(Path(ledger_path_or_rows), readonly=True) as led:
            rows = led.rows()
    else:
        raise ReportInputError(
            "ledger_path_or_rows must be a ledger file path or a DataFrame of ledger rows, "
            f"got {type(ledger_path_or_rows).__name__}"
        )
    for col, allowed in (("kind", tuple(KIND_LABELS)), ("crime", CRIMES),
                         ("outcome_status", ("pending", "observed", "not_at_risk"))):
        bad = sorted(set(rows[col].dropna().astype(str)) - set(allowed))
        if bad:
            raise ReportInputError(f"ledger rows: column {col!r} has unknown value(s) {bad}")
    for col in ("origin_year", "target_start", "target_end"):
        rows[col] = pd.to_numeric(rows[col], errors="raise").astype("int64")
    for col in ("p_mean", "p_q05", "p_q50", "p_q95", "outcome"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype("float64")
    observed = rows["outcome_status"] == "observed"
    bad = observed & ~rows["outcome"].isin([0.0, 1.0])
    if bad.any():
        raise ReportInputError(
            f"ledger rows: {int(bad.sum())} observed row(s) without a 0/1 outcome, e.g. id "
            f"{rows.loc[bad, 'id'].iloc[0]!r}"
        )
    return rows.sort_values("id", kind="stable").reset_index(drop=True)


def _as_mapping(obj: Any, name: str, dim: str) -> dict[str, str] | None:
    """A mapping from a dict, a pandas Series or a 1-D DataArray over ``dim``."""
    if obj is None:
        return None
    if isinstance(obj, xr.DataArray):
        if obj.dims != (dim,):
            raise ReportInputError(f"{name} must be a DataArray over {dim!r}, got dims {obj.dims}")
        keys, values = obj[dim].values, obj.values
    elif isinstance(obj, pd.Series):
        keys, values = obj.index.to_numpy(), obj.to_numpy()
    elif isinstance(obj, Mapping):
        keys, values = list(obj.keys()), list(obj.values())
    else:
        raise ReportInputError(
            f"{name} must be a mapping, a pandas Series or an xarray DataArray, got "
            f"{type(obj).__name__}"
        )
    out = {}
    for k, v in zip(keys, values, strict=True):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            v = ""
        out[str(k)] = str(v)
    return out


def _check_explanations(explanations: pd.DataFrame | None) -> pd.DataFrame | None:
    if explanations is None:
        return None
    if not isinstance(explanations, pd.DataFrame):
        raise ReportInputError(
            f"explanations must be a DataFrame, got {type(explanations).__name__}"
        )
    missing = [c for c in _EXPLAIN_COLUMNS if c not in explanations.columns]
    if missing:
        raise ReportInputError(
            f"explanations lacks column(s) {missing}; expected {list(_EXPLAIN_COLUMNS)}"
        )
    ex = explanations[list(_EXPLAIN_COLUMNS)].copy()
    ex["contribution"] = pd.to_numeric(ex["contribution"], errors="coerce")
    return ex


# ----------------------------------------------------------------------------- helpers


def country_label(code: Any, names: Mapping[str, str] | None) -> str:
    """A country as a reader sees it: ``"Name (code)"`` when ``names`` knows a name for
    it that is not the code itself, else the code.

    Examples
    --------
    >>> country_label("625", {"625": "Sudan"})
    'Sudan (625)'
    >>> country_label("EAP01", {})
    'EAP01'
    """
    code = str(code)
    name = (names or {}).get(code, "").strip()
    return f"{name} ({code})" if name and name != code else code


def _country_names(names: Any, history: xr.Dataset | None) -> dict[str, str]:
    """Country id -> name from ``names`` (a mapping, Series or DataArray over
    ``country``), else from the ``name`` coordinate of the outcome history (the panel);
    names that are empty or the id itself are left out."""
    if names is None and isinstance(history, xr.Dataset) and "name" in history.coords:
        names = history["name"]
    mapping = _as_mapping(names, "names", "country") or {}
    return {k: v.strip() for k, v in mapping.items()
            if v.strip() and v.strip() not in (k, "nan", "None")}


def proxy_short(proxy: str | None) -> str:
    """The first words of an outcome proxy's description, before any parenthesis, comma,
    colon or semicolon (``"EWP mass-killing onset (a state-led ...), a proxy for crimes
    against humanity"`` -> ``"EWP mass-killing onset"``); ``""`` for none."""
    text = str(proxy or "").strip()
    return re.split(r"\s*[(,;:]", text, maxsplit=1)[0].strip() if text else ""


def _track(source: str, kind: str) -> str:
    return f"{source} ({KIND_LABELS[kind]})"


def _family(source: str) -> str:
    """A model's name without its version tokens (``"r2p-hier 0.3.1 pooled"`` -> ``"r2p-hier
    pooled"``), to find successive versions of one model."""
    return " ".join(t for t in source.split() if not _VERSION.match(t))


def _quiet(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call a toolkit function, collecting its UserWarnings as notes (the report is the
    place to say them) instead of letting them escape."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        out = func(*args, **kwargs)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
             and "which are pooled" not in str(w.message)]
    return out, notes


def _scored_table(
    frame: pd.DataFrame, *, by: list[str], metrics: list[str], skill: bool, n_boot: int,
    seed: int, rolling: bool = False, window: int = WINDOW,
) -> pd.DataFrame:
    """score_table (or rolling_table over ``window`` issue years) of ``metrics`` on all
    rows, plus the skill metrics on the rows that have an issue-time reference.

    A skill score of a group without events is blanked (NaN, note ``"no events"``): with
    no event to warn of, a forecaster beats climatology just by forecasting less, so a
    skill of +0.99 there says nothing about warning skill.
    """
    func = rolling_table if rolling else score_table
    extra: dict[str, Any] = {"window": window} if rolling else {}
    common = dict(p_col="p_mean", y_col="outcome", cluster_col="country",
                  year_col="origin_year", n_boot=n_boot, level=LEVEL, rng=seed, **extra)
    tables = []
    try:
        t, _ = _quiet(func, frame, by=by, metrics=metrics, **common)
        tables.append(t)
    except CalibrationInputError:
        pass  # no full rolling window
    ref = frame[frame["base_rate_ref"].notna()]
    if skill and not ref.empty:
        try:
            t, _ = _quiet(func, ref, by=by, metrics=list(_SKILL),
                          references={REFERENCE: "base_rate_ref"}, **common)
            tables.append(t)
        except CalibrationInputError:
            pass
    if not tables:
        return pd.DataFrame()
    out = pd.concat(tables, ignore_index=True)
    blank = out["metric"].isin(_SKILL) & (out["events"] == 0)
    out.loc[blank, ["estimate", "lower", "upper"]] = np.nan
    out.loc[blank, "note"] = NO_EVENTS
    return out


def _add_track(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return table
    table = table.copy()
    table.insert(0, "track", [_track(s, k) for s, k in zip(table["source"], table["kind"],
                                                           strict=True)])
    return table


def history_cases(history: xr.Dataset, rows: pd.DataFrame) -> pd.DataFrame:
    """The resolved windows of an outcome history, shaped like the ledger's windows.

    For every window shape of the ledger's rows (years from origin to window start, and
    window length), every country, crime and origin year of ``history``: the window's
    outcome by the ledger's own resolution rule (:meth:`r2p_models.ledger.Ledger.resolve`:
    an onset in the window is 1, a window without one 0; not at risk at the origin, or
    with a year not yet known, is left out).

    Parameters
    ----------
    history : xarray.Dataset
        A panel with ``onset(country, year, crime)`` and, when it has them, ``ongoing``
        and ``present`` (e.g. :func:`r2p_models.data.panel.load_panel`).
    rows : pandas.DataFrame
        Ledger rows (for the window shapes and the crimes).

    Returns
    -------
    pandas.DataFrame
        ``country, crime, origin_year, target_start, target_end, outcome``: the observed
        windows only.
    """
    from r2p_models.ledger.resolve import _window_outcomes, _year_status

    cols = ["country", "crime", "origin_year", "target_start", "target_end", "outcome"]
    if not isinstance(history, xr.Dataset) or "onset" not in history:
        raise ReportInputError("history must be a panel Dataset with an 'onset' variable, "
                               f"got {type(history).__name__}")
    if rows.empty:
        return pd.DataFrame(columns=cols)
    crimes = [k for k in np.asarray(history["crime"].values).astype(str)
              if k in set(rows["crime"])]
    status = _year_status(history.sel(crime=crimes), None)
    countries = np.asarray(history["country"].values).astype(str)
    years = np.asarray(history["year"].values).astype("int64")
    shapes = (rows.assign(_lead=rows["target_start"] - rows["origin_year"],
                          _len=rows["target_end"] - rows["target_start"])
              [["_lead", "_len"]].drop_duplicates())
    grid = pd.MultiIndex.from_product([countries, crimes, years],
                                      names=["country", "crime", "origin_year"]).to_frame(
                                          index=False)
    tables = []
    for lead, length in zip(shapes["_lead"], shapes["_len"], strict=True):
        cand = grid.assign(target_start=grid["origin_year"] + int(lead))
        cand["target_end"] = cand["target_start"] + int(length)
        cand = cand[cand["target_end"] <= years.max()].reset_index(drop=True)
        st, outcome = _window_outcomes(cand, status)
        tables.append(cand.assign(outcome=outcome)[st.to_numpy() == "observed"])
    return pd.concat(tables, ignore_index=True)[cols]


def _issue_time_reference(rows: pd.DataFrame, history: pd.DataFrame | None = None,
                          ) -> pd.Series:
    """Climatology known at issue time for every row (NaN before any resolved case), from
    the ledger's resolved cases and, when given, the resolved windows of an outcome history
    (:func:`history_cases`; a case in both counts once)."""
    cases = rows.copy()
    if history is not None and not history.empty:
        cases = pd.concat([cases, history], ignore_index=True)
    plain = issue_time_base_rate(cases, y_col="outcome", by=["crime"])
    shrunk = issue_time_base_rate(cases, y_col="outcome", by=["crime"], prior_rate=0.5,
                                  prior_weight=1.0)
    return shrunk.where(plain.notna()).iloc[:len(rows)].set_axis(rows.index)


def window_length(scored: pd.DataFrame) -> int | None:
    """Issue years per rolling window: :data:`WINDOW`, or fewer when no track spans enough
    issue years for two full windows (a track of 4 issue years gets 3-year windows, two of
    them); None when no track spans 3 issue years (a window would be the whole record)."""
    if scored.empty:
        return None
    years = scored.groupby("track")["origin_year"].agg(["min", "max"])
    span = int((years["max"] - years["min"]).max()) + 1
    if span >= WINDOW + 1:
        return WINDOW
    return span - 1 if span >= 3 else None


# ----------------------------------------------------------------------------- sections


def _headline(scored: pd.DataFrame, top_n: int, n_boot: int, seed: int) -> pd.DataFrame:
    metrics = ["brier", "log", "mcb_brier", "dsc_brier", "unc_brier", "auc", "auc_within",
               "pr_auc", "base_rate", "mean_forecast", f"capture_top{top_n}"]
    by_crime = _scored_table(scored, by=["crime", "source", "kind"], metrics=metrics,
                             skill=True, n_boot=n_boot, seed=seed)
    pooled = _scored_table(scored, by=["source", "kind"], metrics=metrics, skill=True,
                           n_boot=n_boot, seed=seed)
    if not pooled.empty:
        pooled.insert(0, "crime", "all")
    return _add_track(pd.concat([by_crime, pooled], ignore_index=True))


def _reliabilities(
    scored: pd.DataFrame, tracks: list[str], crimes: list[str], n_boot: int, seed: int,
) -> tuple[dict[tuple[str, str], Reliability], dict[tuple[str, str], str]]:
    out: dict[tuple[str, str], Reliability] = {}
    notes: dict[tuple[str, str], str] = {}
    for track in tracks:
        for crime in crimes:
            part = scored[(scored["track"] == track) & (scored["crime"] == crime)]
            if part.empty:
                notes[(track, crime)] = "no resolved cases"
                continue
            if part["outcome"].sum() == 0:
                notes[(track, crime)] = f"{len(part):,} resolved cases, none an event"
                continue
            try:
                out[(track, crime)] = reliability(
                    part["p_mean"].to_numpy(), part["outcome"].to_numpy(),
                    n_resamples=n_boot, level=LEVEL, grid_size=150, rng=seed,
                )
            except CalibrationInputError as exc:
                notes[(track, crime)] = str(exc)
    return out, notes


def _vintages(
    scored: pd.DataFrame, rows: pd.DataFrame, n_boot: int, seed: int,
) -> tuple[pd.DataFrame, list[str]]:
    """Each model family's newest version against the previous one, on shared cases."""
    model = rows[rows["kind"] != "analyst"]
    notes: list[str] = []
    if model.empty:
        return pd.DataFrame(), ["No model forecasts in the ledger."]
    first = model.groupby("source")["issued_at"].min()
    fam = pd.DataFrame({"first": first, "family": [_family(s) for s in first.index]})
    tables = []
    for family, g in fam.groupby("family", sort=True):
        if len(g) < 2:
            continue
        order = g.sort_values(["first"], kind="stable").index.tolist()
        new, old = order[-1], order[-2]
        for kind in ("forecast", "backtest"):
            part = scored[(scored["kind"] == kind) & scored["source"].isin([new, old])]
            shared = part.groupby(["country", "crime", "origin_year", "target_start",
                                   "target_end"]).size()
            if not (shared == 2).any():
                continue
            metrics = ["brier", "log", "mcb_brier", "dsc_brier", "auc", "auc_within", "pr_auc"]
            for by in (["crime"], []):
                try:
                    t, w = _quiet(compare_table, part, a=new, b=old, col="source", by=by,
                                  metrics=metrics, p_col="p_mean", y_col="outcome",
                                  n_boot=n_boot, level=LEVEL, rng=seed)
                except CalibrationInputError as exc:
                    notes.append(f"{new} vs {old} ({KIND_LABELS[kind]}): {exc}")
                    continue
                if not by:
                    t.insert(0, "crime", "all")
                    notes += [f"{new} vs {old} ({KIND_LABELS[kind]}): {m}" for m in w]
                t.insert(0, "kind", kind)
                t.insert(0, "family", family)
                tables.append(t)
    if not tables:
        notes.append(
            "Only one version of each model has resolved forecasts on shared cases, so there "
            "is no earlier vintage to compare with yet."
        )
        return pd.DataFrame(), notes
    return pd.concat(tables, ignore_index=True), notes


def _regions(scored: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    metrics = ["brier", "mean_forecast", "base_rate", "auc"]
    return _add_track(_scored_table(scored, by=["source", "kind", "region"], metrics=metrics,
                                    skill=True, n_boot=n_boot, seed=seed))


def _side_by_side(
    scored: pd.DataFrame, tracks: list[str], n_boot: int, seed: int,
) -> tuple[pd.DataFrame, list[str]]:
    analysts = [t for t in tracks if t.endswith(f"({KIND_LABELS['analyst']})")]
    models = [t for t in tracks if t not in analysts]
    if not analysts:
        return pd.DataFrame(), ["No analyst assessments in the ledger, so there is nothing to "
                                "set beside the model."]
    if not models:
        return pd.DataFrame(), ["No model forecasts in the ledger to set beside the analysts."]
    tables, notes = [], []
    keys = ["country", "crime", "origin_year", "target_start", "target_end"]
    for analyst in analysts:
        a_cases = scored.loc[scored["track"] == analyst, keys]
        for model in models:
            part = scored[scored["track"].isin([analyst, model])]
            m_cases = part.loc[part["track"] == model, keys]
            if a_cases.merge(m_cases, on=keys).empty:
                continue
            try:
                t, _ = _quiet(compare_table, part, a=analyst, b=model, col="track",
                              case_cols=keys,
                              metrics=["brier", "log", "mcb_brier", "dsc_brier", "auc",
                                       "auc_within", "pr_auc"],
                              p_col="p_mean", y_col="outcome", n_boot=n_boot, level=LEVEL,
                              rng=seed)
            except CalibrationInputError as exc:
                notes.append(f"{analyst} vs {model}: {exc}")
                continue
            tables.append(t)
    if not tables:
        notes.append("Analysts and models share no resolved cases yet.")
        return pd.DataFrame(), notes
    return pd.concat(tables, ignore_index=True), notes


def _watchlist(
    rows: pd.DataFrame, primary: str | None, crimes: list[str], top_n: int,
    region_of: dict[str, str] | None, explanations: pd.DataFrame | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    fc = rows[rows["kind"] == "forecast"]
    info: dict[str, Any] = {}
    if fc.empty:
        info["note"] = "No real-time forecasts (kind 'forecast') in the ledger."
        return pd.DataFrame(), info
    origin = int(fc["origin_year"].max())
    newest = fc[fc["origin_year"] == origin]
    sources = sorted(newest["source"].unique())
    primary_source = None
    if primary is not None:
        primary_source = next((s for s in sources if _track(s, "forecast") == primary), None)
    if primary_source is None:
        last = newest.groupby("source")["issued_at"].max()
        primary_source = str(last.sort_index().idxmax())
    info.update(origin=origin, source=primary_source, other_sources=[
        s for s in sources if s != primary_source])
    part = newest[newest["source"] == primary_source]
    tables = []
    for crime in crimes:
        c = part[part["crime"] == crime]
        if c.empty:
            continue
        c = c.sort_values(["p_mean", "country"], ascending=[False, True], kind="stable")
        c = c.head(top_n).copy()
        c.insert(0, "rank", np.arange(1, len(c) + 1))
        tables.append(c)
    if not tables:
        info["note"] = f"The newest real-time forecasts (origin {origin}) have no rows."
        return pd.DataFrame(), info
    wl = pd.concat(tables, ignore_index=True)
    wl["region"] = [(region_of or {}).get(c, "") for c in wl["country"]]
    if explanations is None:
        wl["risk_factors"] = "not available"
    else:
        leads = []
        for country, crime in zip(wl["country"], wl["crime"], strict=True):
            e = explanations[(explanations["country"].astype(str) == country)
                             & (explanations["crime"] == crime)]
            if e.empty:  # not explained (e.g. ranked below the run's explained countries)
                leads.append("not explained in this run")
                continue
            e = e[e["contribution"] > 0].sort_values(["contribution", "risk_factor"],
                                                     ascending=[False, True])
            leads.append("; ".join(f"{r} (+{v:.2f})" for r, v in
                                   zip(e["risk_factor"].head(3), e["contribution"].head(3),
                                       strict=True)) or "none raising the risk")
        wl["risk_factors"] = leads
    return wl, info


def _track_parts(rows: pd.DataFrame, track: str | None) -> tuple[str, str] | None:
    if track is None:
        return None
    r = rows[rows["track"] == track]
    return None if r.empty else (str(r["source"].iloc[0]), str(r["kind"].iloc[0]))


#: Alert budgets (countries a year per crime) of the lead-time section, with the report's
#: top_n added.
LEAD_BUDGETS = (5, 10, 20)


def _lead_time_content(
    rows: pd.DataFrame, primary: str | None, top_n: int, n_boot: int, seed: int,
) -> dict[str, Any]:
    """Lead times of every track's warnings of the ledger's onsets (watchlist rule, top
    ``top_n``), their summary, the featured track's rank histories and alert budgets, and
    the featured track against every other source on shared onsets."""
    from r2p_models.calibration.leadtime import (
        compare_lead_times,
        find_onsets,
        lead_time_at_budget,
        lead_time_summary,
        lead_times,
        onset_histories,
    )

    out: dict[str, Any] = {"onsets": 0, "top_n": top_n}
    if rows.empty:
        return out
    onsets = find_onsets(rows)
    out["onsets"] = len(onsets)
    lt = lead_times(rows, top_n=top_n)
    if onsets.empty or lt.empty:
        return out
    lt["track"] = [_track(s, k) for s, k in zip(lt["source"], lt["kind"], strict=True)]
    summary = lead_time_summary(lt)
    summary.insert(0, "track", [_track(s, k) for s, k in zip(summary["source"],
                                                             summary["kind"], strict=True)])
    covered = lt.groupby("track").size()
    main = primary if primary in covered.index else str(covered.sort_index().idxmax())
    source, kind = _track_parts(rows, main) or (None, None)
    hist = onset_histories(rows, sources=[source], kinds=[kind])
    hist = hist.merge(lt.loc[lt["track"] == main, ["country", "crime", "onset_year",
                                                   "flagged"]],
                      on=["country", "crime", "onset_year"], how="left")
    budgets = sorted({*LEAD_BUDGETS, top_n})
    budget = lead_time_at_budget(rows, budgets, sources=[source], kinds=[kind])
    comps = []
    for other in sorted(set(lt["track"]) - {main}):
        o_source, o_kind = _track_parts(rows, other) or ("", "")
        if o_source == source or o_kind not in (kind, "analyst"):
            continue  # real time beside real time and analysts; backtests beside backtests
        try:
            comps.append(compare_lead_times(lt, (source, kind), (o_source, o_kind),
                                            n_boot=n_boot, level=LEVEL, seed=seed))
        except CalibrationInputError:
            continue
    compare = pd.concat(comps, ignore_index=True) if comps else pd.DataFrame()
    if not compare.empty:
        compare = compare[compare["onsets"] > 0]
        compare.insert(3, "track_b", [_track(s, k) for s, k in zip(
            compare["b"], compare["kind_b"], strict=True)])
    out.update(lead=lt, summary=summary, main=main, history=hist, budget=budget,
               compare=compare)
    return out


def _changes_content(
    rows: pd.DataFrame, primary: str | None, top_n: int,
    ledger_path_or_rows: str | os.PathLike[str] | pd.DataFrame,
) -> Any:
    """What changed between the two latest real-time runs of the current model, with the
    risk factors that moved when rerun's explanations of both runs sit beside the ledger."""
    from r2p_models.report.changes import run_explanations, what_changed

    parts = _track_parts(rows, primary)
    fc = rows[rows["kind"] == "forecast"]
    source = parts[0] if parts and parts[1] == "forecast" and parts[0] in set(
        fc["source"]) else None
    changes = what_changed(rows, source, top_n=top_n)
    if changes.previous is not None and not isinstance(ledger_path_or_rows, pd.DataFrame):
        ex = run_explanations(ledger_path_or_rows, [changes.latest_run, changes.previous_run])
        if len(ex) == 2:
            changes = what_changed(rows, source, top_n=top_n, explanations=ex)
    return changes


# ----------------------------------------------------------------------------- main


def report_content(
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
    infogap: Any = None,
    development_of: Mapping[str, str] | pd.Series | None = None,
    history: xr.Dataset | None = None,
    names: Mapping[str, str] | pd.Series | xr.DataArray | None = None,
) -> ReportContent:
    """Compute everything the report shows (see :func:`r2p_models.report.build_report`)."""
    if isinstance(top_n, bool) or not isinstance(top_n, int | np.integer) or top_n < 1:
        raise ReportInputError(f"top_n must be a positive whole number, got {top_n!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 10:
        raise ReportInputError(f"n_boot must be a whole number >= 10, got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ReportInputError(f"seed must be an integer, got {seed!r}")
    top_n, n_boot, seed = int(top_n), int(n_boot), int(seed)
    rows = load_rows(ledger_path_or_rows)
    regions = _as_mapping(region_of, "region_of", "country")
    proxy_map = _as_mapping(proxies, "proxies", "crime")
    unknown = sorted(set(proxy_map or {}) - set(CRIMES))
    if unknown:
        raise ReportInputError(f"proxies: unknown crime(s) {unknown}; expected {list(CRIMES)}")
    ex = _check_explanations(explanations)
    country_names = _country_names(names, history)
    notices: list[str] = []

    rows["kind_label"] = rows["kind"].map(KIND_LABELS)
    rows["track"] = [_track(s, k) for s, k in zip(rows["source"], rows["kind"], strict=True)]
    order = (rows.assign(_k=rows["kind"].map(_KIND_ORDER))
             .groupby("track")[["_k", "source"]].first().sort_values(["_k", "source"]))
    tracks = order.index.tolist()
    crimes = [c for c in CRIMES if c in set(rows["crime"])]

    if rows.empty:
        notices.append("The ledger is empty: no forecast has been issued yet, so there is "
                       "nothing to score and no watchlist.")
    hist = history_cases(history, rows) if history is not None else None
    rows["base_rate_ref"] = _issue_time_reference(rows, hist) if not rows.empty else np.nan
    scored = rows[rows["outcome_status"] == "observed"].copy()
    scored["outcome"] = scored["outcome"].astype(float)
    scored["region"] = [(regions or {}).get(c, "(region unknown)") for c in scored["country"]]
    if not rows.empty and scored.empty:
        notices.append("No outcome has been resolved yet: every forecast is still pending or "
                       "its country was not at risk, so accuracy cannot be measured. The "
                       "watchlist and the ledger summary are shown.")
    if len(crimes) == 1:
        measured = proxy_short((proxy_map or {}).get(crimes[0]))
        notices.append(f"The ledger holds forecasts of one crime only "
                       f"({CRIME_LABELS[crimes[0]].lower()}"
                       + (f", measured as {measured}" if measured else "")
                       + "); the other crimes have no rows and are not shown.")
    elif rows.shape[0] and len(crimes) < len(CRIMES):
        missing = [CRIME_LABELS[c].lower() for c in CRIMES if c not in crimes]
        notices.append(f"No forecasts of {', '.join(missing)} in the ledger.")
    if regions is None:
        notices.append("No region information was given (region_of), so the breakdown by "
                       "region (the objectivity audit) is not available.")

    primary = None
    for kind in ("forecast", "backtest"):
        k = rows[rows["kind"] == kind]
        own = k[~k["source"].astype(str).str.endswith(RECALIBRATED)]
        k = own if not own.empty else k  # feature a model's own forecasts over a recalibration
        if not k.empty:
            newest = k.sort_values(["issued_at", "origin_year", "source"]).iloc[-1]
            primary = _track(newest["source"], kind)
            break

    featured = []
    if primary is not None:
        source = rows.loc[rows["track"] == primary, "source"].iloc[0]
        featured = [t for t in (_track(source, "forecast"), _track(source, "backtest"))
                    if t in tracks]
    featured += [t for t in tracks if t.endswith(f"({KIND_LABELS['analyst']})")]

    empty = pd.DataFrame()
    if scored.empty:
        headline = yearly = rolled = region_table = empty
        window = None
        rel: dict[tuple[str, str], Reliability] = {}
        rel_notes: dict[tuple[str, str], str] = {}
        vintages, vintage_notes = empty, ["No resolved outcomes yet."]
        side, side_notes = empty, ["No resolved outcomes yet."]
    else:
        headline = _headline(scored, top_n, n_boot, seed)
        scored_tracks = [t for t in tracks if t in set(scored["track"])]
        rel, rel_notes = _reliabilities(scored, scored_tracks, crimes, n_boot, seed)
        time_metrics = ["brier", "auc", "base_rate"]
        yearly = _add_track(_scored_table(scored, by=["source", "kind", "origin_year"],
                                          metrics=time_metrics, skill=True, n_boot=n_boot,
                                          seed=seed))
        # windows per track, so that each is a full window of that track's issue years
        window = window_length(scored)
        rolled = empty if window is None else _add_track(pd.concat(
            [_scored_table(part, by=["source", "kind"], metrics=time_metrics, skill=True,
                           n_boot=n_boot, seed=seed, rolling=True, window=window)
             for _, part in scored.groupby("track", sort=True)], ignore_index=True))
        vintages, vintage_notes = _vintages(scored, rows, n_boot, seed)
        region_table = _regions(scored, n_boot, seed) if regions is not None else empty
        side, side_notes = _side_by_side(scored, scored_tracks, n_boot, seed)
        few = headline[(headline["metric"] == "brier") & (headline["crime"] != "all")
                       & (headline["events"] < FEW_EVENTS)]
        if not few.empty:
            notices.append(
                f"{len(few)} crime-and-source group(s) have fewer than {FEW_EVENTS} events "
                "(marked †): their scores and intervals rest on very little evidence."
            )
    if watchlist is not None:
        if not isinstance(watchlist, pd.DataFrame):
            raise ReportInputError(f"watchlist must be a DataFrame, got {type(watchlist)}")
        wl = watchlist.copy()
        need = ["country", "crime", "p_mean"]
        miss = [c for c in need if c not in wl.columns]
        if miss:
            raise ReportInputError(f"watchlist lacks column(s) {miss}")
        for c in ("p_q05", "p_q95", "region", "risk_factors"):
            if c not in wl.columns:
                wl[c] = np.nan if c.startswith("p_") else ""
        if "rank" not in wl.columns:
            wl = wl.sort_values(["crime", "p_mean"], ascending=[True, False])
            wl.insert(0, "rank", wl.groupby("crime").cumcount() + 1)
        wl_info: dict[str, Any] = {"given": True}
    else:
        wl, wl_info = _watchlist(rows, primary, crimes, top_n, regions, ex)
    if not wl.empty:
        if "name" in wl.columns:  # a given watchlist's names count too
            given = _country_names(dict(zip(wl["country"].astype(str),
                                            wl["name"].fillna("").astype(str),
                                            strict=True)), None)
            country_names = {**given, **country_names}
        wl["name"] = [country_names.get(str(k), "") for k in wl["country"]]

    changes = _changes_content(rows, primary, top_n, ledger_path_or_rows)
    from r2p_models.report.summary import executive_summary

    brief = executive_summary(rows=rows, headline=headline, watchlist=wl, watchlist_info=wl_info,
                              changes=changes, crimes=crimes, few=FEW_EVENTS, level=LEVEL,
                              track=_track)
    return ReportContent(
        title=title, rows=rows, scored=scored, tracks=tracks, primary=primary,
        featured=featured, crimes=crimes,
        headline=headline, reliability=rel, reliability_notes=rel_notes, yearly=yearly,
        rolling=rolled, vintages=vintages, vintage_notes=vintage_notes, regions=region_table,
        side_by_side=side, side_notes=side_notes, watchlist=wl, watchlist_info=wl_info,
        proxies=proxy_map, region_given=regions is not None, explanations_given=ex is not None,
        top_n=top_n, n_boot=n_boot, seed=seed, notices=notices,
        skill_excluded=int(scored["base_rate_ref"].isna().sum()) if not scored.empty else 0,
        pool_weights=_pool_weights(ledger_path_or_rows),
        lead_time=_lead_time_content(rows, primary, top_n, n_boot, seed),
        infogap=_infogap_content(infogap),
        **_development_content(scored, development_of, n_boot, seed),
        changes=changes, window=window,
        history_cases=0 if hist is None else len(hist),
        history_from=None if hist is None or hist.empty else int(hist["origin_year"].min()),
        brief=brief, names=country_names,
    )


def _development_content(scored: pd.DataFrame, development_of: Any, n_boot: int,
                         seed: int) -> dict[str, Any]:
    """Metrics by development group, computed as those by region
    (:mod:`r2p_models.report.development`)."""
    from r2p_models.report.development import _groups_of

    try:
        groups = _groups_of(development_of)
    except InputError as exc:
        raise ReportInputError(str(exc)) from exc
    if groups is None:
        return {"development": pd.DataFrame(), "development_info": {"given": False}}
    label = str(getattr(development_of, "name", "") or "a development indicator")
    info: dict[str, Any] = {"given": True, "label": label}
    description = str(getattr(development_of, "attrs", {}).get("description", "") or "")
    if description and description != label:
        info["description"] = description
    if scored.empty:
        return {"development": pd.DataFrame(), "development_info": info}
    by_group = scored.assign(region=[groups.get(str(c), "(no data)")
                                     for c in scored["country"]])
    return {"development": _regions(by_group, n_boot, seed), "development_info": info}


def _infogap_content(infogap: Any) -> dict[str, Any]:
    """The information-gap section's content (:mod:`r2p_models.report.infogap`)."""
    from r2p_models.report.infogap import infogap_content

    try:
        return infogap_content(infogap)
    except InputError as exc:
        raise ReportInputError(str(exc)) from exc


def _pool_weights(ledger_path_or_rows: str | os.PathLike[str] | pd.DataFrame,
                  ) -> pd.DataFrame | None:
    """The ledger's pooled-source weights (None for rows given as a DataFrame)."""
    if isinstance(ledger_path_or_rows, pd.DataFrame):
        return None
    with Ledger(Path(ledger_path_or_rows), readonly=True) as led:
        return led.pool_weights()
