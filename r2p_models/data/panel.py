"""Build and validate the panel from a tidy table and a run config.

The panel's schema is described in :mod:`r2p_models.data`. Every check here fails
with a one-line :class:`PanelError` that names the file, the column and the first
offending rows (row numbers count data rows from 1, the header excluded, in the
order of the file), and nothing is built from a table that fails a check. The rules
are those of :mod:`r2p_models.checks`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.checks import (
    Rows,
    binary,
    csv_records,
    has_columns,
    in_range,
    numeric,
    required,
    unique,
    whole,
)
from r2p_models.config import DataConfig, RunConfig, load_config
from r2p_models.crimes import CRIMES
from r2p_models.errors import InputError, decode_utf8

__all__ = [
    "PanelError",
    "build_panel",
    "load_panel",
    "panel_as_of",
    "panel_summary",
    "read_table",
]

log = logging.getLogger(__name__)


class PanelError(InputError):
    """Input data that cannot become a panel; the message names file, column and rows."""


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table, with a clear error when it cannot be read.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (UTF-8, comma-separated, header row, blank = missing) or ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        With a default ``RangeIndex`` in file order.

    Raises
    ------
    PanelError
        The file is missing or cannot be parsed; a CSV has a byte that is not UTF-8 (the
        message names its line and column) or a record with more or fewer fields than the
        header (naming its line); the table has no rows.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise PanelError(f"{path}: unsupported table format {suffix!r} (use .csv or .parquet)")
    try:
        if suffix == ".csv":
            text = decode_utf8(path.read_bytes(), str(path), PanelError)
            csv_records(text, str(path), PanelError)  # every record as wide as the header
            # keep_default_na=False + na_values=[""] so that only blank cells are missing:
            # strings such as "NA" or "n/a" are reported as non-numeric, not silently taken.
            df = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""],
                             low_memory=False)
        else:
            df = pd.read_parquet(path)
    except FileNotFoundError:
        raise PanelError(f"{path}: file not found") from None
    except PanelError:
        raise
    except Exception as err:  # any parser error becomes a one-line message naming the file
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PanelError(f"{path}: cannot read table ({msg})") from None
    if df.empty:
        raise PanelError(f"{path}: the table has no rows")
    return df.reset_index(drop=True)


def _in_years(x: np.ndarray, values: pd.Series, col: str, rows: Rows,
              bounds: tuple[int, int]) -> None:
    """Refuse years outside ``[data] years``, before anything is sized by them."""
    in_range(x, col, rows, *bounds, shown=values,
             hint=f"; widen [data] years = [{bounds[0]}, {bounds[1]}] if they are real")


def _ids(values: pd.Series) -> pd.Series:
    """Country ids as strings; integral numbers are written without a decimal point."""
    if pd.api.types.is_numeric_dtype(values):
        num = values.to_numpy(dtype=float)
        if np.all(np.isnan(num) | (num == np.round(num))):
            return pd.Series(
                [None if np.isnan(v) else str(int(v)) for v in num],
                index=values.index,
                dtype=object,
            )
    return (
        values.astype(object)
        .where(values.notna(), None)
        .map(lambda v: None if v is None else str(v).strip())
    )


def _per_country(
    df: pd.DataFrame, col: str, ids: pd.Series, rows: Rows, needed: bool
) -> dict[str, str]:
    values = df[col].astype(object).where(df[col].notna(), None)
    values = values.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip())
    if needed:
        required(values, col, rows)
    out: dict[str, str] = {}
    for cid, group in values.groupby(ids, sort=False):
        distinct = group.dropna().unique()
        if len(distinct) > 1:
            rows.fail((ids == cid) & values.isin(distinct[1:]),
                      f"differs within country {cid!r} ({sorted(map(str, distinct))[:3]})",
                      column=col)
        out[str(cid)] = str(distinct[0]) if len(distinct) else ""
    return out


def build_panel(
    table: pd.DataFrame,
    data: DataConfig,
    *,
    where: str = "<table>",
    reports: pd.DataFrame | None = None,
    data_hash: str | None = None,
    reports_where: str = "<reports>",
) -> xr.Dataset:
    """Validate a tidy country-year table and turn it into a panel Dataset.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per country-year, in file order (row numbers in errors follow it).
    data : DataConfig
        The roles of the columns (``[data]``, ``[outcomes]``, ``[ongoing]``, ...).
    where : str
        Name of the input (the file path) used in error messages.
    reports : pandas.DataFrame, optional
        Long table of multi-source reports (``country, year, indicator, source, value``);
        predictors that are not columns of ``table`` are fused from it
        (see :func:`r2p_models.data.fusion.fuse_reports`).
    data_hash : str, optional
        Hash of the input bytes; computed from the frames when omitted.
    reports_where : str
        Name of the reports input (the file path) used in error messages.

    Returns
    -------
    xarray.Dataset
        The panel (schema in :mod:`r2p_models.data`).

    Raises
    ------
    PanelError
        Missing column, blank or duplicate country-year, non-integer year or one outside
        ``data.years`` (in the table or the reports), outcome not in
        {0, 1, blank}, non-numeric or infinite indicator, undeclared gap in a country's
        years, country without a region (where regions are used), or a predictor found
        neither in the table nor in the reports; a report of an indicator that is not a
        fused predictor, or of a country not in the table.

    Warns
    -----
    A logged warning (logger ``r2p_models.data.panel``) names reports of years outside the
    table's span or of country-years without a table row: they inform the sources' biases
    and error variances but give no panel value.
    """
    table = table.reset_index(drop=True)
    report_indicators: set[str] = set()
    if reports is not None:
        if "indicator" not in reports.columns:
            raise PanelError(f"{where}: reports table has no column 'indicator'")
        report_indicators = set(reports["indicator"].astype(str).unique())

    # 1. every named column exists
    needed = [data.country, data.year, *data.outcomes.values(), *data.ongoing.values()]
    needed += [c for c in (data.name, data.region) if c]
    for p in data.predictors:
        if p in table.columns and p in report_indicators:
            raise PanelError(
                f"{where}: predictor {p!r} is both a table column and an indicator of the reports "
                "table; rename one"
            )
    rows = Rows(where, PanelError)
    has_columns(table.columns, [*needed, *(p for p in data.predictors
                                          if p not in report_indicators)], rows)

    # 2. keys
    ids = _ids(table[data.country])
    required(ids, data.country, rows)
    raw_years = table[data.year]
    years_f = numeric(raw_years, data.year, rows)
    required(years_f, data.year, rows)
    whole(years_f, data.year, rows, what="a whole year", shown=raw_years)
    _in_years(years_f, raw_years, data.year, rows, data.years)  # before any grid of years
    years = years_f.astype(int)
    unique(pd.DataFrame({"c": ids, "y": years}), rows,
           f"duplicate country-years in columns {data.country!r}, {data.year!r}")
    if not data.allow_gaps:
        for cid, ys in pd.Series(years).groupby(ids.to_numpy(), sort=False):
            span = ys.max() - ys.min() + 1
            if span != len(ys):
                gaps = sorted(set(range(ys.min(), ys.max() + 1)) - set(ys))
                raise PanelError(
                    f"{where}: country {cid!r} (column {data.country!r}) has no rows for years "
                    f"{gaps[:5]} inside its span {ys.min()}-{ys.max()}; fill them or set "
                    "[data] allow_gaps = true"
                )

    # 3. values
    def zero_one(col: str) -> np.ndarray:
        return binary(numeric(table[col], col, rows, booleans=True), col, rows,
                      shown=table[col])

    onset = {c: zero_one(col) for c, col in data.outcomes.items()}
    ongoing = {c: zero_one(col) for c, col in data.ongoing.items()}
    table_preds = [p for p in data.predictors if p in table.columns]
    xvals = {p: numeric(table[p], p, rows, booleans=True) for p in table_preds}
    names = _per_country(table, data.name, ids, rows, needed=False) if data.name else {}
    regions = _per_country(table, data.region, ids, rows, needed=True) if data.region else {}

    # 4. grid
    countries = list(dict.fromkeys(ids))  # first-seen order
    countries = sorted(countries, key=lambda c: (regions.get(c, ""), c))
    all_years = np.arange(years.min(), years.max() + 1)
    ci = pd.Index(countries).get_indexer(ids)
    yi = years - all_years[0]
    shape = (len(countries), len(all_years))
    present = np.zeros(shape, dtype=bool)
    present[ci, yi] = True

    crimes = [c for c in CRIMES if c in data.outcomes]
    onset_arr = np.full((*shape, len(crimes)), np.nan)
    ongoing_arr = np.zeros((*shape, len(crimes)))
    ongoing_arr[~present] = np.nan
    for k, crime in enumerate(crimes):
        onset_arr[ci, yi, k] = onset[crime]
        if crime in ongoing:
            og = ongoing[crime]
            ongoing_arr[ci, yi, k] = np.where(np.isnan(og), 0.0, og)
            both = (og == 1) & (onset[crime] == 1)
            if both.any():
                rows.refuse(
                    f"rows mark both an onset ({data.outcomes[crime]!r}) and an ongoing "
                    f"episode ({data.ongoing[crime]!r}) of {crime}; ongoing means an episode that "
                    f"began in an earlier year: {rows.named(both)}"
                )

    indicators = list(data.predictors)
    X = np.full((*shape, len(indicators)), np.nan)
    X_var = np.full_like(X, np.nan)
    fused_from = {p: "" for p in indicators}
    for j, p in enumerate(indicators):
        if p in xvals:
            X[ci, yi, j] = xvals[p]
            X_var[ci, yi, j] = np.where(np.isnan(xvals[p]), np.nan, 0.0)
    fused = [p for p in indicators if p not in xvals]
    if reports is not None:
        from r2p_models.data.fusion import REPORT_COLUMNS

        # every row is used: rows of other indicators or countries are errors, not dropped,
        # and positions stay those of the file (fusion names bad rows counted from 1)
        rep = reports.loc[:, list(REPORT_COLUMNS)].reset_index(drop=True)
        rep_rows = Rows(reports_where, PanelError)
        # numeric report years are bounded like the table's (the fusion refuses the others)
        _in_years(pd.to_numeric(rep["year"], errors="coerce").to_numpy(dtype=float),
                  rep["year"], "year", rep_rows, data.years)
        given = rep["indicator"].notna() & rep["country"].notna()
        other = given & ~rep["indicator"].astype(str).isin(fused)
        if other.any():
            names = sorted(set(rep.loc[other, "indicator"].astype(str)))
            rep_rows.refuse(
                f"indicator(s) {names[:5]} at {rep_rows.named(other)} are not "
                f"predictors fused from the reports ({fused}); list them in [data] "
                "predictors or remove the rows"
            )
        rep["country"] = _ids(rep["country"])
        stranger = given & ~rep["country"].isin(countries)
        if stranger.any():
            names = sorted(set(rep.loc[stranger, "country"]))
            rep_rows.refuse(
                f"countries {names[:5]} at {rep_rows.named(stranger)} are not in the "
                f"table {where} (column {data.country!r})"
            )
        est, var = _fused_values(rep, fused, countries, all_years, present,
                                 data.error_variance, where=reports_where)
        _warn_unused_reports(rep, countries, all_years, present, reports_where)
        for i, p in enumerate(fused):
            j = indicators.index(p)
            X[:, :, j] = est[:, :, i]
            X_var[:, :, j] = var[:, :, i]
            sources = sorted(set(rep.loc[rep["indicator"].astype(str) == p, "source"].astype(str)))
            fused_from[p] = ",".join(sources)

    meta = data.indicators
    if data_hash is None:
        h = hashlib.sha256(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
        if reports is not None:
            h.update(pd.util.hash_pandas_object(reports, index=False).to_numpy().tobytes())
        h.update(repr(sorted(_roles(data, drop=()).items())).encode())
        data_hash = h.hexdigest()

    ds = xr.Dataset(
        {
            "X": (("country", "year", "indicator"), X),
            "X_var": (("country", "year", "indicator"), X_var),
            "onset": (("country", "year", "crime"), onset_arr),
            "ongoing": (("country", "year", "crime"), ongoing_arr),
            "present": (("country", "year"), present),
        },
        coords={
            "country": np.array(countries, dtype=object),
            "year": all_years,
            "indicator": np.array(indicators, dtype=object),
            "crime": np.array(crimes, dtype=object),
            "name": ("country", np.array([names.get(c, "") or c for c in countries], dtype=object)),
            "region": ("country", np.array([regions.get(c, "") for c in countries], dtype=object)),
            "description": (
                "indicator",
                np.array(
                    [meta[p].description if p in meta else "" for p in indicators], dtype=object
                ),
            ),
            "risk_factors": (
                "indicator",
                np.array(
                    [
                        ",".join(map(str, meta[p].risk_factors)) if p in meta else ""
                        for p in indicators
                    ],
                    dtype=object,
                ),
            ),
            "source": (
                "indicator",
                np.array(
                    [
                        meta[p].source if p in meta and meta[p].source else fused_from[p]
                        for p in indicators
                    ],
                    dtype=object,
                ),
            ),
            "fused_from": (
                "indicator",
                np.array([fused_from[p] for p in indicators], dtype=object),
            ),
            "transform": (
                "indicator",
                np.array(
                    [meta[p].transform if p in meta else "" for p in indicators], dtype=object
                ),
            ),
            "outcome_column": ("crime", np.array([data.outcomes[c] for c in crimes], dtype=object)),
            "proxy": ("crime", np.array([data.proxies.get(c, "") for c in crimes], dtype=object)),
        },
        attrs={
            "source_file": where,
            "data_hash": data_hash,
            "uses_regions": int(bool(data.region)),
        },
    )
    if reports is not None:
        # the reports themselves, so that a backtest can fuse them as they stood at each
        # origin (panel_as_of); fusion accepted them, so the conversions cannot fail
        ds = ds.assign({
            "report_country": ("report", rep["country"].astype(str).to_numpy(dtype=object)),
            "report_year": ("report", pd.to_numeric(rep["year"]).to_numpy().astype(np.int64)),
            "report_indicator": ("report", rep["indicator"].astype(str).to_numpy(dtype=object)),
            "report_source": ("report", rep["source"].astype(str).to_numpy(dtype=object)),
            "report_value": ("report", pd.to_numeric(rep["value"]).to_numpy(dtype=float)),
        })
        ds.attrs["error_variance"] = json.dumps(
            sorted([k[0], k[1], float(v)] for k, v in data.error_variance.items()))
    ds["X"].attrs["description"] = "precursor indicators, NaN where unknown"
    ds["onset"].attrs["description"] = "1 if an episode began that year, 0 if not, NaN if unknown"
    ds["ongoing"].attrs["description"] = "1 while an episode that began earlier is under way"
    return ds


def _fused_values(rep: pd.DataFrame, fused: Sequence[str], countries: Sequence[str],
                  years: np.ndarray, present: np.ndarray,
                  error_variance: Mapping[tuple[str, str], float] | None,
                  where: str = "reports") -> tuple[np.ndarray, np.ndarray]:
    """Fuse ``rep`` and lay the estimates and variances of ``fused`` on the panel grid.

    Returns two arrays ``(country, year, len(fused))``, NaN where no source reported or the
    country-year has no row. A bad row of ``rep`` is a :class:`PanelError` naming ``where``.
    """
    from r2p_models.data.fusion import FusionError, fuse_reports

    try:
        result = fuse_reports(rep, error_variance=error_variance or None, where=where)
    except FusionError as err:  # names the file, the column and the rows already
        raise PanelError(str(err)) from None
    est = result.estimate.reindex(country=list(countries), year=years,
                                  indicator=list(fused))
    var = result.variance.reindex(country=list(countries), year=years,
                                  indicator=list(fused))
    keep = present[:, :, None]
    return (np.where(keep, est.transpose("country", "year", "indicator").values, np.nan),
            np.where(keep, var.transpose("country", "year", "indicator").values, np.nan))


def panel_as_of(panel: xr.Dataset, year: int) -> xr.Dataset:
    """The panel as its fused indicators stood at the end of ``year``.

    A backtest forecast from origin ``year`` must not use what was reported later. For
    the indicators fused from several sources (:mod:`r2p_models.data.fusion`) that means
    more than dropping later years: the sources' biases and error variances, and so every
    fused value, are estimated from the reports. This re-fuses the reports of years up to
    ``year`` (with the run config's known error variances) and returns a panel whose fused
    ``X`` and ``X_var`` are those values, NaN for later years, and whose reports are those
    up to ``year`` only (so a panel as of ``year`` cannot be brought forward again).
    ``attrs["fused_as_of"]`` records the year.

    Model fits through a year and forecasts from an origin call this
    (:func:`r2p_models.model.design.build_design`, :func:`~r2p_models.model.design.origin_design`).
    Columns of the table are taken as they are: a table has no revision history.
    Outcomes after ``year`` are excluded by the fit's ``through``.

    Parameters
    ----------
    panel : xarray.Dataset
        A panel from :func:`build_panel`; without reports it is returned unchanged.
    year : int

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    PanelError
        The reports up to ``year`` cannot be fused (e.g. a source that had not yet shared a
        country-year with another one, whose error variance is therefore not identified).

    Notes
    -----
    Re-fusing is the costly part of a fit's design (a backtest asks for the same years
    again and again: each origin's effect-scale CV and forecasts), so the results are
    kept, per panel object and year, for as long as the panel lives (at most
    :data:`AS_OF_CACHE_SIZE` of them). The key includes a fingerprint of everything the
    result is computed from, so a panel changed in place is fused again; a hit returns a
    copy of the kept one and re-issues the warnings of the first call.

    Warns
    -----
    FusionWarning
        As :func:`r2p_models.data.fusion.fuse_reports`, the message prefixed with the year.
    """
    if "report_value" not in panel:
        return panel
    year = int(year)
    key = (id(panel), year, _as_of_fingerprint(panel))
    hit = _AS_OF_CACHE.get(key)
    if hit is None or hit[0]() is not panel:
        out, emitted = _fuse_as_of(panel, year)
        _AS_OF_CACHE[key] = (weakref.ref(panel), out, emitted)
        while len(_AS_OF_CACHE) > AS_OF_CACHE_SIZE:
            _AS_OF_CACHE.pop(next(iter(_AS_OF_CACHE)))
    else:
        _AS_OF_CACHE.move_to_end(key)
    _, out, emitted = _AS_OF_CACHE[key]
    for message, category in emitted:
        warnings.warn(message, category, stacklevel=2)  # type: ignore[arg-type]
    # a copy for the caller: fresh arrays (numpy's copy of an object array copies the
    # references, and the strings it holds are immutable: xarray's deep copy would copy
    # each of them, several times slower than the fusion itself)
    copy = out.copy(deep=False)
    for name, var in out.data_vars.items():
        copy[name] = var.copy(data=var.values.copy())
    return copy


#: How many fused panels :func:`panel_as_of` keeps (each about the size of the panel).
AS_OF_CACHE_SIZE = 48
_AS_OF_CACHE: OrderedDict[tuple[int, int, str],
                          tuple[weakref.ref, xr.Dataset,
                                list[tuple[object, type[Warning]]]]] = OrderedDict()


def _as_of_fingerprint(panel: xr.Dataset) -> str:
    """Digest of what :func:`panel_as_of` reads: values, reports, grid and attributes."""
    h = hashlib.blake2b(digest_size=16)
    for name in ("X", "X_var", "present", "fused_from", "report_country", "report_year",
                 "report_indicator", "report_source", "report_value", "country", "year",
                 "indicator"):
        a = np.asarray(panel[name].values)
        h.update(name.encode())
        h.update(pd.util.hash_array(a.ravel()).tobytes() if a.dtype == object
                 else np.ascontiguousarray(a).tobytes())
    h.update(json.dumps(panel.attrs, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _fuse_as_of(panel: xr.Dataset, year: int
                ) -> tuple[xr.Dataset, list[tuple[object, type[Warning]]]]:
    """The work of :func:`panel_as_of`, with the warnings returned rather than issued."""
    from r2p_models.data.fusion import REPORT_COLUMNS, FusionWarning

    emitted: list[tuple[object, type[Warning]]] = []
    known = panel["report_year"].values <= year
    rep = pd.DataFrame({c: panel[f"report_{c}"].values[known] for c in REPORT_COLUMNS})
    indicators = [str(i) for i in panel["indicator"].values]
    fused = [p for p, f in zip(indicators, panel["fused_from"].values, strict=True) if f]
    years = panel["year"].values.astype(int)
    shape = (panel.sizes["country"], years.size, len(fused))
    est = var = np.full(shape, np.nan)
    if len(rep):
        pairs = set(zip(rep["indicator"], rep["source"], strict=True))
        given = {(k, s): v for k, s, v in json.loads(panel.attrs.get("error_variance", "[]"))
                 if (k, s) in pairs}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                est, var = _fused_values(rep, fused, list(map(str, panel["country"].values)),
                                         years, panel["present"].values.astype(bool), given)
            except ValueError as err:
                raise PanelError(f"{panel.attrs.get('source_file', '<panel>')}: the reports "
                                 f"up to {year} cannot be fused: {err}") from None
        for w in caught:
            if issubclass(w.category, FusionWarning):
                emitted.append((f"reports up to {year}: {w.message}", FusionWarning))
            else:
                emitted.append((w.message, w.category))
    later = years > year
    est = np.where(later[None, :, None], np.nan, est)
    var = np.where(later[None, :, None], np.nan, var)
    X = panel["X"].transpose("country", "year", "indicator").values.copy()
    X_var = panel["X_var"].transpose("country", "year", "indicator").values.copy()
    for i, p in enumerate(fused):
        j = indicators.index(p)
        X[:, :, j] = est[:, :, i]
        X_var[:, :, j] = var[:, :, i]
    out = panel.isel(report=np.flatnonzero(known))
    dims = ("country", "year", "indicator")
    out["X"] = xr.DataArray(X, dims=dims, attrs=panel["X"].attrs)
    out["X_var"] = xr.DataArray(X_var, dims=dims, attrs=panel["X_var"].attrs)
    out.attrs["fused_as_of"] = year
    return out, emitted


def _warn_unused_reports(rep: pd.DataFrame, countries: list[str], years: np.ndarray,
                         present: np.ndarray, where: str) -> None:
    """Log the reports (rows counted from 1) whose country-year has no row in the table."""
    year = pd.to_numeric(rep["year"]).to_numpy(dtype=float).astype(np.int64)
    ci = pd.Index(countries).get_indexer(rep["country"])
    inside = (year >= years[0]) & (year <= years[-1])
    has_row = np.zeros(len(rep), dtype=bool)
    has_row[inside] = present[ci[inside], year[inside] - years[0]]
    if not has_row.all():
        log.warning(
            "%s: %d report(s) at %s are of country-years without a row in the table "
            "(years %s; the table covers %d-%d): used to estimate the sources' biases and "
            "error variances, but they give no panel value",
            where, int((~has_row).sum()), Rows(where).named(~has_row),
            sorted(set(year[~has_row].tolist()))[:5], years[0], years[-1],
        )


def _roles(data: DataConfig, drop: Sequence[str]) -> dict[str, object]:
    """The config's data roles that enter the data hash (an unset error_variance does not,
    so hashes of configs without one are those of earlier versions; the year range is a
    check, not a role, and never does)."""
    return {k: v for k, v in vars(data).items()
            if k not in drop and k != "years" and not (k == "error_variance" and not v)}


def _file_hash(paths: Sequence[Path], data: DataConfig) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    roles = _roles(data, drop=("table", "reports"))
    h.update(repr(sorted(roles.items())).encode())
    return h.hexdigest()


def load_panel(config: RunConfig | str | Path) -> xr.Dataset:
    """Read, validate and build the panel a run config names.

    Parameters
    ----------
    config : RunConfig or path to a run config TOML

    Returns
    -------
    xarray.Dataset
        The panel; ``attrs["data_hash"]`` is the sha256 of the input files and roles.
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    data = cfg.data
    table = read_table(data.table)
    reports = None
    files = [data.table]
    if data.reports is not None:
        reports = read_table(data.reports)
        need = ["country", "year", "indicator", "source", "value"]
        has_columns(reports.columns, need, Rows(str(data.reports), PanelError),
                    hint=f"; expected {need}")
        files.append(data.reports)
    try:
        return build_panel(
            table,
            data,
            where=str(data.table),
            reports=reports,
            data_hash=_file_hash(files, data),
            reports_where=str(data.reports),
        )
    except ValueError as err:
        if isinstance(err, PanelError):
            raise
        # errors raised by the fusion step name the reports file
        raise PanelError(f"{data.reports}: {err}") from None


def panel_summary(panel: xr.Dataset) -> str:
    """A short human-readable summary: countries, years, events per crime, missing shares."""
    present = panel["present"]
    lines = [
        f"panel {panel.attrs.get('source_file', '')}",
        f"  countries: {panel.sizes['country']}  years: {int(panel.year.min())}-"
        f"{int(panel.year.max())}  country-years: {int(present.sum())}",
    ]
    if panel.attrs.get("uses_regions"):
        regions = pd.Series(panel["region"].values).value_counts().sort_index()
        lines.append("  regions: " + ", ".join(f"{r} {n}" for r, n in regions.items()))
    lines.append("  events per crime (onsets / at-risk country-years, known outcomes):")
    for crime in panel.crime.values:
        onset = panel["onset"].sel(crime=crime)
        at_risk = present & (panel["ongoing"].sel(crime=crime) == 0) & onset.notnull()
        n_events = int((onset == 1).where(at_risk, False).sum())
        n = int(at_risk.sum())
        rate = n_events / n if n else float("nan")
        proxy = panel["proxy"].sel(crime=crime).item()
        tag = f"  [proxy: {proxy}]" if proxy else ""
        lines.append(f"    {crime:<24} {n_events:>4} / {n:<6} ({rate:.2%} a year){tag}")
    lines.append("  missing share per indicator:")
    x = panel["X"].where(present)
    miss = x.isnull().where(present).sum(["country", "year"]) / present.sum()
    for ind in panel.indicator.values:
        fused = panel["fused_from"].sel(indicator=ind).item()
        tag = f"  (fused from {fused})" if fused else ""
        lines.append(f"    {ind:<28} {float(miss.sel(indicator=ind)):.1%}{tag}")
    return "\n".join(lines)
