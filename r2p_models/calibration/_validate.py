"""Input checks shared by the calibration toolkit.

Every public function funnels its probabilities and outcomes through
:func:`as_cases`, so bad input fails in one place with one clear message that
names the argument, the first offending position (or coordinates, for xarray
input) and what is wrong.

How cases are paired:

- two pandas Series (forecasts and outcomes) are paired by index label: the outcomes
  are put in the forecasts' order. Their labels must be unique and the same set, else
  the input is refused (pairing them by position would silently score the wrong
  cases). Other per-case Series (reference forecasts, clusters, ranking groups) are
  paired with the forecasts' labels in the same way (:func:`align_to_cases`);
- two xarray DataArrays are paired by coordinates (same dims and coordinates; the
  order of dims may differ);
- anything else (lists, numpy arrays, a Series next to an array) is paired by position.

Values must be numbers (or booleans): text such as ``"0"`` or ``"0.3"`` is refused,
not cast, so a column read as strings is noticed rather than scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.checks import (
    Rows,
    binary,
    has_columns,
    numeric,
    probabilities,
    required,
)
from r2p_models.errors import InputError

__all__ = [
    "CalibrationInputError",
    "NoEventsError",
    "align_to_cases",
    "as_cases",
    "as_rng",
    "check_column",
    "check_level",
    "require_events",
]


class CalibrationInputError(InputError):
    """Probabilities, outcomes or options that cannot be scored (a ValueError)."""


class NoEventsError(CalibrationInputError):
    """A metric that needs events (or non-events) got none."""


@dataclass(frozen=True)
class CaseLayout:
    """How flat case arrays map back to the caller's shape (for per-case outputs)."""

    shape: tuple[int, ...]
    template: xr.DataArray | None = None
    index: pd.Index | None = None

    def wrap(
        self, values: np.ndarray, name: str | None = None
    ) -> np.ndarray | xr.DataArray | pd.Series:
        """Reshape flat per-case values to the input's shape.

        A DataArray if one came in; a Series with the forecasts' index if two Series
        were paired by label; else an ndarray.
        """
        values = np.asarray(values).reshape(self.shape)
        if self.index is not None:
            return pd.Series(values, index=self.index, name=name)
        if self.template is None:
            return values
        out = self.template.copy(data=values)
        out.name = name
        out.attrs = {}
        return out

    def rows(self, source: str = "", subject: str = "{}") -> Rows:
        """How :mod:`r2p_models.checks` names the cases: as :meth:`where` does."""
        if self.index is not None:
            return Rows.index(source, self.index, CalibrationInputError, subject=subject)
        if self.template is None and len(self.shape) <= 1:
            return Rows.positions(source, CalibrationInputError, subject=subject)
        return Rows(source, CalibrationInputError, noun="", label=self.where, subject=subject)

    def where(self, flat_index: int) -> str:
        """Describe a flat position: coordinates for a DataArray, else the position."""
        if self.index is not None:
            label = self.index[flat_index]
            return f"row {label.item() if hasattr(label, 'item') else label!r}"
        if self.template is None:
            if len(self.shape) <= 1:
                return f"position {flat_index}"
            return f"index {tuple(int(i) for i in np.unravel_index(flat_index, self.shape))}"
        idx = np.unravel_index(flat_index, self.shape)
        parts = []
        for dim, i in zip(self.template.dims, idx, strict=True):
            if dim in self.template.coords:
                parts.append(f"{dim}={self.template[dim].values[i].item()!r}")
            else:
                parts.append(f"{dim}[{i}]")
        return ", ".join(parts)


def _to_numeric(values: Any, name: str, template: xr.DataArray | None = None,
                index: pd.Index | None = None) -> np.ndarray:
    """Values as a float array; refuse text (never cast ``"0"`` to 0) and other non-numbers.

    Booleans become 0.0/1.0; missing values (None, ``pd.NA`` of nullable numbers) become
    NaN (caught later, with the usual message). Bad values are named as the cases they
    are paired with are (``template``'s coordinates, ``index`` labels, else positions).
    """
    try:
        shape = np.shape(values)
    except ValueError:  # ragged nested lists
        shape = ()
    fits = len(shape) > 0
    layout = CaseLayout(
        shape=shape,
        template=template if fits and template is not None and template.shape == shape
        else None,
        index=index if fits and index is not None and shape == (len(index),) else None,
    )
    return numeric(values, name, layout.rows(), text=False, booleans=True, finite=False)


def _label(label: Any) -> str:
    return repr(label.item() if hasattr(label, "item") else label)


def _align_series(
    target: pd.Index, obj: pd.Series, target_name: str, name: str
) -> pd.Series:
    """``obj`` put in the order of the (unique) labels ``target``; refuse other label sets."""
    if obj.index.equals(target):
        return obj
    _check_unique_index(obj.index, name)
    if len(obj) != len(target):
        raise CalibrationInputError(
            f"{target_name} has {len(target)} values but {name} has {len(obj)}; "
            "they must describe the same cases"
        )
    only_target = ~target.isin(obj.index)
    if only_target.any():
        label = target[only_target][0]
        raise CalibrationInputError(
            f"{target_name} and {name} have different index labels: {_label(label)} is in "
            f"{target_name} but not in {name} ({int(only_target.sum())} such label(s)); "
            "pandas inputs are paired by index label (pass .to_numpy() to pair by position)"
        )
    return obj.reindex(target)


def _check_unique_index(index: pd.Index, name: str) -> None:
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise CalibrationInputError(
            f"{name} has duplicated index label {_label(dup)}; pandas inputs are paired by "
            "index label, so each label must be unique (pass .to_numpy() to pair by position)"
        )


def align_to_cases(obj: Any, layout: CaseLayout, name: str) -> Any:
    """Pair a per-case argument (reference, clusters, groups) with the checked cases.

    Parameters
    ----------
    obj : Any
        The argument as the caller passed it.
    layout : CaseLayout
        From :func:`as_cases`.
    name : str
        Name used in error messages.

    Returns
    -------
    Any
        ``obj`` in the cases' order if it is a pandas Series and the cases were paired
        by index label (see the module docstring); otherwise ``obj`` unchanged (paired
        by position).

    Raises
    ------
    CalibrationInputError
        The Series' labels are duplicated or not those of the cases.
    """
    if layout.index is None or not isinstance(obj, pd.Series):
        return obj
    return _align_series(layout.index, obj, "p", name)


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
    _probabilities(p, name, layout.rows())


def _probabilities(p: np.ndarray, name: str, rows: Rows) -> None:
    required(p, name, rows, hint="; drop cases without a forecast before scoring")
    probabilities(p, name, rows)


def check_outcomes(y: np.ndarray, name: str, layout: CaseLayout) -> None:
    """Raise unless every value of ``y`` is 0 or 1."""
    _outcomes(y, name, layout.rows())


def _outcomes(y: np.ndarray, name: str, rows: Rows) -> None:
    required(y, name, rows, hint="; unresolved cases cannot be scored, drop them first "
             "(ledger rows: keep outcome_status == 'observed', which also drops not_at_risk "
             "rows; score_table and compare_table: unresolved='drop')")
    binary(y, name, rows, blank=False)


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
    p, y : array-like, pandas.Series or xarray.DataArray
        Forecast probabilities and 0/1 outcomes of the same shape, paired as the module
        docstring says: two Series by index label (``y`` is put in ``p``'s order), two
        DataArrays by coordinates, anything else by position.
    p_name, y_name : str
        Names used in error messages.

    Returns
    -------
    p, y : ndarray of float, 1-D
        In ``p``'s order.
    layout : CaseLayout
        To map per-case results back to the input shape.

    Raises
    ------
    CalibrationInputError
        Lengths or shapes differ, no cases, two Series with duplicated or different
        index labels, text instead of numbers, NaN, probabilities outside [0, 1],
        outcomes not 0/1.
    """
    template: xr.DataArray | None = None
    index: pd.Index | None = None
    if isinstance(p, pd.Series) and isinstance(y, pd.Series):
        _check_unique_index(p.index, p_name)
        y = _align_series(p.index, y, p_name, y_name)
        index = p.index
        p_arr = _to_numeric(p, p_name, index=index)
        y_arr = _to_numeric(y, y_name, index=index)
    elif isinstance(p, xr.DataArray):
        template = p
        if isinstance(y, xr.DataArray):
            y = _align_dataarrays(p, y, p_name, y_name)
        p_arr = _to_numeric(p.values, p_name, template)
        y_arr = _to_numeric(y.values if isinstance(y, xr.DataArray) else y, y_name, template)
    elif isinstance(y, xr.DataArray):
        template = y
        p_arr = _to_numeric(p, p_name, template)
        y_arr = _to_numeric(y.values, y_name, template)
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
    layout = CaseLayout(shape=p_arr.shape, template=template, index=index)
    check_probabilities(p_arr, p_name, layout)
    check_outcomes(y_arr, y_name, layout)
    return p_arr.ravel(), y_arr.ravel(), layout


def check_column(frame: pd.DataFrame, column: str, kind: str, *,
                 frame_name: str = "cases") -> np.ndarray:
    """Check a DataFrame column of probabilities (``kind="p"``) or 0/1 outcomes (``"y"``).

    Errors name the frame (``frame_name``), the column and the first offending row labels.
    """
    rows = Rows.index(frame_name, frame.index, CalibrationInputError)
    has_columns(frame.columns, [column], rows)
    values = numeric(frame[column], column, rows, text=False, booleans=True, finite=False)
    if kind == "p":
        _probabilities(values, column, rows)
    else:
        _outcomes(values, column, rows)
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
