"""The resolution rules: the outcome of each forecast window from a newer panel (each year
of the window an event, no event, not at risk or unknown; the origin year decides whether
the country was at risk at all; see :mod:`r2p_models.ledger`), and the message when a
newer panel disagrees with a stored outcome. Used by
:meth:`~r2p_models.ledger.store.Ledger.resolve` and by the report's lead times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.checks import show
from r2p_models.crimes import CRIMES
from r2p_models.ledger.errors import LedgerValidationError

__all__: list[str] = []  # helpers of the ledger package (and r2p_models.report.build)

def _as_cyk(da: xr.DataArray, name: str) -> xr.DataArray:
    dims = {"country", "year", "crime"}
    if set(da.dims) != dims:
        raise LedgerValidationError(f"{name} must have dims (country, year, crime), got {da.dims}")
    unknown = sorted(set(map(str, da["crime"].values)) - set(CRIMES))
    if unknown:
        raise LedgerValidationError(f"{name}: unknown crime name(s) {unknown}; expected some of "
                         f"{list(CRIMES)}")
    years = np.asarray(da["year"].values)
    if not np.issubdtype(years.dtype, np.integer):
        if not (np.issubdtype(years.dtype, np.floating) and np.all(years == np.round(years))):
            raise LedgerValidationError(
                f"{name}: year coordinate must be integer years, got {years.dtype}"
            )
    da = da.transpose("country", "year", "crime")
    return da.assign_coords(
        country=np.asarray(da["country"].values).astype(str),
        year=years.astype("int64"),
        crime=np.asarray(da["crime"].values).astype(str),
    )


def _year_status(
    outcomes: xr.DataArray | xr.Dataset, ongoing: xr.DataArray | None,
) -> pd.Series:
    """Per (country, year, crime): 'event', 'no_event', 'not_at_risk' or 'unknown'."""
    present = None
    if isinstance(outcomes, xr.Dataset):
        if "onset" not in outcomes:
            raise LedgerValidationError("outcomes: Dataset has no variable 'onset'")
        if ongoing is None and "ongoing" in outcomes:
            ongoing = outcomes["ongoing"]
        if "present" in outcomes:
            present = outcomes["present"]
        onset = outcomes["onset"]
    elif isinstance(outcomes, xr.DataArray):
        onset = outcomes
    else:
        raise TypeError(f"outcomes must be an xarray DataArray or Dataset, got "
                        f"{type(outcomes).__name__}")
    onset = _as_cyk(onset, "onset").astype("float64")
    vals = onset.values
    bad = ~np.isnan(vals) & (vals != 0) & (vals != 1)
    if bad.any():
        c, y, k = (int(a[0]) for a in np.nonzero(bad))
        raise LedgerValidationError(
            f"onset: values must be 1, 0 or NaN; found {show(vals[c, y, k])} at country "
            f"{show(onset.country.values[c])}, year {onset.year.values[y]}, crime "
            f"{show(onset.crime.values[k])} ({int(bad.sum())} bad values)"
        )
    if ongoing is not None:
        ongoing = _as_cyk(ongoing, "ongoing").astype("float64")
        ongoing = ongoing.reindex_like(onset)  # absent: NaN (not known to be ongoing)
        is_ongoing = (ongoing == 1).values
    else:
        is_ongoing = np.zeros(vals.shape, dtype=bool)
    absent = np.zeros(vals.shape, dtype=bool)
    if present is not None:
        if set(present.dims) != {"country", "year"}:
            raise LedgerValidationError(
                f"present must have dims (country, year), got {present.dims}"
            )
        pres = present.assign_coords(
            country=np.asarray(present["country"].values).astype(str),
            year=np.asarray(present["year"].values).astype("int64"),
        ).reindex(country=onset.country, year=onset.year, fill_value=False)
        absent |= ~pres.transpose("country", "year").values.astype(bool)[:, :, None]
    event = (vals == 1) & ~absent
    not_at_risk = ~event & is_ongoing & ~absent
    no_event = (vals == 0) & ~is_ongoing & ~absent
    out = np.full(vals.shape, "unknown", dtype=object)
    out[no_event] = "no_event"
    out[not_at_risk] = "not_at_risk"
    out[event] = "event"
    index = pd.MultiIndex.from_product(
        [onset.country.values, onset.year.values, onset.crime.values],
        names=["country", "year", "crime"],
    )
    return pd.Series(out.ravel(), index=index)


def _window_outcomes(cand: pd.DataFrame, status: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Status ('observed', 'not_at_risk', 'pending') and outcome (1/0/NaN) per row."""
    start = cand.target_start.to_numpy("int64")
    length = cand.target_end.to_numpy("int64") - start + 1
    row = np.repeat(np.arange(len(cand)), length)
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    year = start[row] + (np.arange(length.sum()) - first[row])
    keys = pd.MultiIndex.from_arrays(
        [cand.country.to_numpy()[row], year, cand.crime.to_numpy()[row]],
        names=["country", "year", "crime"],
    )
    per_year = status.reindex(keys).fillna("unknown").to_numpy()
    any_of = {
        s: np.logical_or.reduceat(per_year == s, first)
        for s in ("event", "unknown", "no_event")
    }
    st = np.where(any_of["event"], "observed",
                  np.where(any_of["unknown"], "pending",
                           np.where(any_of["no_event"], "observed", "not_at_risk")))
    outcome = np.where(any_of["event"], 1.0,
                       np.where(~any_of["unknown"] & any_of["no_event"], 0.0, np.nan))
    # Not at risk at the origin (an onset in the origin year or an episode under way): no
    # onset forecast applies, whatever the window holds (the rule of the model's forecasts,
    # r2p_models.backtest.forecast_rows; it keeps other sources' rows, e.g. a peer's or an
    # analyst's, off the scored cases and out of their track records too).
    origin_keys = pd.MultiIndex.from_arrays(
        [cand.country.to_numpy(), cand.origin_year.to_numpy("int64"), cand.crime.to_numpy()],
        names=["country", "year", "crime"],
    )
    at_origin = status.reindex(origin_keys).fillna("unknown").to_numpy()
    busy = (at_origin == "event") | (at_origin == "not_at_risk")
    st = np.where(busy, "not_at_risk", st)
    outcome = np.where(busy, np.nan, outcome)
    return pd.Series(st, index=cand.index), pd.Series(outcome, index=cand.index)


def _describe_outcome(status: str, outcome: float) -> str:
    if status == "observed":
        return f"outcome {int(outcome)}"
    return status.replace("_", " ")


def _resolution_conflict_message(
    rows: pd.DataFrame, new_status: pd.Series, new_outcome: pd.Series, outcome_source: str,
    *, kept: bool = False,
) -> str:
    r = rows.iloc[0]
    old = _describe_outcome(r.outcome_status, np.nan if pd.isna(r.outcome) else r.outcome)
    new = _describe_outcome(new_status.iloc[0], float(new_outcome.iloc[0]))
    head = (f"{len(rows)} resolved row(s) disagree with {outcome_source!r}, e.g. id {r.id} "
            f"(source {r.source!r}, origin {r.origin_year}, country {r.country!r}, crime "
            f"{r.crime!r}, window {r.target_start}-{r.target_end}): stored {old} "
            f"(from {r.outcome_source!r}), new {new}")
    if kept:
        return head + "; resolved outcomes never change, the stored ones were kept"
    return (head + "; resolved outcomes never change, nothing was written (pass "
            "on_conflict='warn' to keep the stored outcomes and resolve the rest)")
