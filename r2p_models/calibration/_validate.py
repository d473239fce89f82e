"""Input checks shared by the calibration toolkit.

Every public function funnels its probabilities and outcomes through
:func:`as_cases`, so bad input fails in one place with one clear message that
names the argument, the first offending position (or coordinates, for xarray
input) and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "CalibrationInputError",
    "NoEventsError",
    "as_cases",
    "as_rng",
    "check_column",
    "check_level",
    "require_events",
]


class CalibrationInputError(ValueError):
    """Probabilities, outcomes or options that cannot be scored."""


class NoEventsError(CalibrationInputError):
    """A metric that needs events (or non-events) got none."""


@dataclass(frozen=True)
class CaseLayout:
    """How flat case arrays map back to the caller's shape (for per-case outputs)."""

    shape: tuple[int, ...]
    template: xr.DataArray | None = None
    index: pd.Index | None = None

    def wrap(self, values: np.ndarray, name: str | None = None) -> np.ndarray | xr.DataArray:
        """Reshape flat per-case values to the input's shape (a DataArray if one came in)."""
        values = np.asarray(values).reshape(self.shape)
        if self.template is None:
            return values
        out = self.template.copy(data=values)
        out.name = name
        out.attrs = {}
        return out

    def where(self, flat_index: int) -> str:
        """Describe a flat position: coordinates for a DataArray, else the position."""
        if self.index is not None:
            label = self.index[flat_index]
            return f"row {label.item() if hasattr(label, 'item') else label!r}"
        if self.template is None:
            if len(self.shape) <= 1:
                return f"position {flat_index}"
            return f"index {np.unravel_index(flat_index, self.shape)}"
        idx = np.unravel_index(flat_index, self.shape)
        parts = []
        for dim, i in zip(self.template.dims, idx, strict=True):
            if dim in self.template.coords:
                parts.append(f"{dim}={self.template[dim].values[i].item()!r}")
            else:
                parts.append(f"{dim}[{i}]")
        return ", ".join(parts)


def _to_numeric(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(float)
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise CalibrationInputError(
                f"{name} must be numeric; got values of type {arr.dtype}"
            ) from None
    return arr.astype(float, copy=False)


def _align_dataarrays(p: xr.DataArray, y: xr.DataArray, p_name: str, y_name: str) -> xr.DataArray:
    if set(p.dims) != set(y.dims):
        raise CalibrationInputError(
            f"{p_name} has dims {p.dims} but {y_name} has dims {y.dims}; they must match"
        )
    y = y.transpose(*p.dims)
    try:
        xr.align(p, y, join="exact")
    except ValueError:
        bad = [
            d for d in p.dims
            if d in p.coords and d in y.coords and not p[d].equals(y[d])
        ]
        raise CalibrationInputError(
            f"{p_name} and {y_name} have different coordinates on dim(s) {bad}; "
            "select the same cases in both"
        ) from None
    return y


def check_probabilities(p: np.ndarray, name: str, layout: CaseLayout) -> None:
    """Raise unless every value of ``p`` is a number in [0, 1]."""
    nan = np.isnan(p)
    if nan.any():
        first = int(np.flatnonzero(nan.ravel())[0])
        raise CalibrationInputError(
            f"{name} has {int(nan.sum())} NaN value(s) (first at {layout.where(first)}); "
            "drop cases without a forecast before scoring"
        )
    bad = (p < 0) | (p > 1)
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise CalibrationInputError(
            f"{name} must be probabilities in [0, 1]; found {float(p.ravel()[first])!r} at "
            f"{layout.where(first)} ({int(bad.sum())} value(s) outside)"
        )


def check_outcomes(y: np.ndarray, name: str, layout: CaseLayout) -> None:
    """Raise unless every value of ``y`` is 0 or 1."""
    nan = np.isnan(y)
    if nan.any():
        first = int(np.flatnonzero(nan.ravel())[0])
        raise CalibrationInputError(
            f"{name} has {int(nan.sum())} NaN value(s) (first at {layout.where(first)}); "
            "unresolved cases cannot be scored, drop them first (ledger rows: keep "
            "outcome_status == 'observed', which also drops not_at_risk rows; "
            "score_table and compare_table: unresolved='drop')"
        )
    bad = (y != 0) & (y != 1)
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise CalibrationInputError(
            f"{name} must be 0/1 outcomes; found {float(y.ravel()[first])!r} at "
            f"{layout.where(first)}"
        )


def as_cases(
    p: Any,
    y: Any,
    *,
    p_name: str = "p",
    y_name: str = "y",
) -> tuple[np.ndarray, np.ndarray, CaseLayout]:
    """Check and flatten probabilities and outcomes.

    Parameters
    ----------
    p, y : array-like or xarray.DataArray
        Forecast probabilities and 0/1 outcomes of the same shape (DataArrays
        must have the same dims and coordinates; order of dims may differ).
    p_name, y_name : str
        Names used in error messages.

    Returns
    -------
    p, y : ndarray of float, 1-D
    layout : CaseLayout
        To map per-case results back to the input shape.

    Raises
    ------
    CalibrationInputError
        Lengths or shapes differ, no cases, NaN, probabilities outside [0, 1],
        outcomes not 0/1.
    """
    template: xr.DataArray | None = None
    if isinstance(p, xr.DataArray):
        template = p
        if isinstance(y, xr.DataArray):
            y = _align_dataarrays(p, y, p_name, y_name)
        p_arr = _to_numeric(p.values, p_name)
        y_arr = _to_numeric(y.values if isinstance(y, xr.DataArray) else y, y_name)
    elif isinstance(y, xr.DataArray):
        template = y
        p_arr = _to_numeric(p.values if isinstance(p, pd.Series) else p, p_name)
        y_arr = _to_numeric(y.values, y_name)
    else:
        p_arr = _to_numeric(p, p_name)
        y_arr = _to_numeric(y, y_name)
    if p_arr.ndim == 0 or y_arr.ndim == 0:
        raise CalibrationInputError(f"{p_name} and {y_name} must be arrays of cases, not scalars")
    if p_arr.shape != y_arr.shape:
        if p_arr.ndim == 1 and y_arr.ndim == 1:
            msg = f"{p_name} has {p_arr.size} values but {y_name} has {y_arr.size}"
        else:
            msg = f"{p_name} has shape {p_arr.shape} but {y_name} has shape {y_arr.shape}"
        raise CalibrationInputError(msg + "; they must describe the same cases")
    if p_arr.size == 0:
        raise CalibrationInputError(f"{p_name} and {y_name} are empty: no cases to score")
    layout = CaseLayout(shape=p_arr.shape, template=template)
    check_probabilities(p_arr, p_name, layout)
    check_outcomes(y_arr, y_name, layout)
    return p_arr.ravel(), y_arr.ravel(), layout


def check_column(frame: pd.DataFrame, column: str, kind: str) -> np.ndarray:
    """Check a DataFrame column of probabilities (``kind="p"``) or 0/1 outcomes (``"y"``).

    Errors name the column and the first offending row label.
    """
    if column not in frame.columns:
        raise CalibrationInputError(
            f"cases lacks column {column!r}; available: {list(frame.columns)}"
        )
    values = _to_numeric(frame[column].to_numpy(), f"column {column!r}")
    layout = CaseLayout(shape=values.shape, index=frame.index)
    if kind == "p":
        check_probabilities(values, f"column {column!r}", layout)
    else:
        check_outcomes(values, f"column {column!r}", layout)
    return values


def require_events(y: np.ndarray, what: str, *, nonevents: bool = False) -> None:
    """Raise :class:`NoEventsError` if ``y`` has no events (or, optionally, no non-events)."""
    events = float(np.sum(y))
    if events == 0:
        raise NoEventsError(f"{what} needs at least one event; the {y.size} cases have none")
    if nonevents and events == y.size:
        raise NoEventsError(f"{what} needs at least one non-event; all {y.size} cases are events")


def check_level(level: float) -> float:
    """Check an interval level in (0, 1)."""
    if not 0 < level < 1:
        raise CalibrationInputError(f"level must be in (0, 1), e.g. 0.9; got {level!r}")
    return float(level)


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, int | np.integer):
        return np.random.default_rng(rng)
    raise CalibrationInputError(f"rng must be a numpy Generator, an int seed or None; got {rng!r}")
