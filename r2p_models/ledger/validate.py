"""Validation of forecast rows before they are issued (a frame given to
:meth:`~r2p_models.ledger.store.Ledger.issue` or the cells of an analyst CSV): years,
names, crimes, windows and probabilities, with one-line errors naming the column and the
first bad rows; and the checks of single names (source, run id, ...).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from r2p_models.crimes import CRIMES
from r2p_models.ledger.errors import LedgerValidationError
from r2p_models.ledger.schema import _CASE, _PROBS, _YEARS, P_ATOL, YEAR_MAX, YEAR_MIN

__all__: list[str] = []  # helpers of the ledger package only

_FRAME_REQUIRED = (*_CASE, "p_mean")
_FRAME_OPTIONAL = ("horizon", "p_q05", "p_q50", "p_q95")


_SHOW = 5  # bad rows shown in an error message


#: Control characters (C0, DEL, C1, Unicode line and paragraph separators): refused in
#: names, which appear in one-line messages, CSV exports and reports.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LedgerValidationError(f"{name} must be a non-empty string, got {value!r}")
    if _CONTROL.search(value):
        raise LedgerValidationError(
            f"{name} must not contain control characters (newline, tab, ...), got {value!r}"
        )
    if value != value.strip():
        raise LedgerValidationError(f"{name} must not start or end with whitespace, got {value!r}")
    return value


def _opt_text(name: str, value: Any, *, optional: bool) -> str | None:
    return None if value is None and optional else _text(name, value)


def _show(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


class _Rows:
    """Names the bad rows of a frame being validated, in one-line errors."""

    def __init__(self, where: str, labels: Sequence[str], names: Mapping[str, str]) -> None:
        self.where = where
        self.labels = list(labels)
        self.names = dict(names)

    def col(self, column: str) -> str:
        """The user's name of a canonical column (e.g. ``p`` for ``p_mean`` in a CSV)."""
        return self.names.get(column, column)

    def fail(self, what: str, problem: str, bad: Any, shown: pd.Series) -> None:
        """Raise naming ``what`` (e.g. "column 'p'") and the first rows where ``bad``."""
        idx = np.flatnonzero(np.asarray(bad, dtype=bool))
        if idx.size == 0:
            return
        items = ", ".join(f"{self.labels[i]} ({_show(shown.iloc[i])})" for i in idx[:_SHOW])
        more = f" and {idx.size - _SHOW} more" if idx.size > _SHOW else ""
        raise LedgerValidationError(f"{self.where}: {what} {problem}; bad rows: {items}{more}")

    def fail_col(self, column: str, problem: str, bad: Any, shown: pd.Series) -> None:
        self.fail(f"column {self.col(column)!r}", problem, bad, shown)


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))


def _numbers(s: pd.Series, column: str, rows: _Rows, *, text: bool) -> np.ndarray:
    """Column as float64 (NaN where empty); refuses non-numeric types or cells."""
    if text:
        stripped = s.astype(str).str.strip()
        num = pd.to_numeric(stripped, errors="coerce")
        rows.fail_col(column, "is not a number", (stripped != "") & num.isna(), s)
        return num.to_numpy(dtype="float64")
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        rows.fail_col(column, f"must be numeric (dtype is {s.dtype})",
                      ~s.map(_is_number).to_numpy(dtype=bool), s)
    return pd.to_numeric(s).to_numpy(dtype="float64", na_value=np.nan)


def _whole(s: pd.Series, column: str, rows: _Rows, *, text: bool,
           span: tuple[int, int] | None = None, what: str = "a year") -> np.ndarray:
    """Column as int64; refuses empty or fractional cells, and values outside ``span``."""
    num = _numbers(s, column, rows, text=text)
    rows.fail_col(column, "is empty", np.isnan(num), s)
    rows.fail_col(column, "must be a whole year", ~np.isfinite(num) | (num != np.round(num)), s)
    if span is not None:  # before the cast: a huge number would wrap around in int64
        rows.fail_col(column, f"must be {what} in {span[0]}-{span[1]}",
                      (num < span[0]) | (num > span[1]), s)
    return num.astype("int64")


def _years(s: pd.Series, column: str, rows: _Rows, *, text: bool) -> np.ndarray:
    """Column of calendar years (:data:`YEAR_MIN` to :data:`YEAR_MAX`) as int64."""
    return _whole(s, column, rows, text=text, span=(YEAR_MIN, YEAR_MAX))


def _labels(s: pd.Series, column: str, rows: _Rows, allowed: Sequence[str] | None) -> np.ndarray:
    ok = s.map(lambda v: isinstance(v, str) and v.strip() != "" and v == v.strip())
    rows.fail_col(column, "must be a non-empty string without surrounding spaces",
                  ~ok.to_numpy(dtype=bool), s)
    rows.fail_col(column, "must not contain control characters (newline, tab, ...)",
                  s.map(lambda v: bool(_CONTROL.search(v))).to_numpy(dtype=bool), s)
    if allowed is not None:
        rows.fail_col(column, f"must be one of {list(allowed)}", ~s.isin(allowed).to_numpy(), s)
    return s.to_numpy(dtype=object)


def _validate(frame: pd.DataFrame, rows: _Rows, *, text: bool) -> pd.DataFrame:
    """Validate forecast rows; return them with canonical columns and a positional index.

    ``frame`` has canonical column names (``p_mean``); ``rows`` maps them back to the
    user's names for messages. ``text``: cells are strings (from a CSV) to be parsed.
    """
    out: dict[str, np.ndarray] = {}
    for c in _YEARS:
        out[c] = _years(frame[c], c, rows, text=text)
    out["country"] = _labels(frame["country"], "country", rows, None)
    out["crime"] = _labels(frame["crime"], "crime", rows, CRIMES)
    rows.fail_col("target_start", "must be after origin_year",
                  out["target_start"] <= out["origin_year"], frame["target_start"])
    rows.fail_col("target_end", "must not be before target_start",
                  out["target_end"] < out["target_start"], frame["target_end"])
    horizon = out["target_end"] - out["origin_year"]
    if "horizon" in frame:
        given = _whole(frame["horizon"], "horizon", rows, text=text,
                       span=(YEAR_MIN - YEAR_MAX, YEAR_MAX - YEAR_MIN), what="a number")
        rows.fail_col("horizon", "must equal target_end - origin_year", given != horizon,
                      frame["horizon"])
    out["horizon"] = horizon
    for c in _PROBS:
        if c not in frame:
            out[c] = np.full(len(frame), np.nan)
            continue
        p = _numbers(frame[c], c, rows, text=text)
        if c == "p_mean":
            rows.fail_col(c, "is empty (a probability is required)", np.isnan(p), frame[c])
        with np.errstate(invalid="ignore"):
            rows.fail_col(c, "must be a probability in [0, 1]",
                          ~np.isnan(p) & ~((p >= 0) & (p <= 1)), frame[c])
        out[c] = p
    for lo, hi in (("p_q05", "p_q50"), ("p_q50", "p_q95"), ("p_q05", "p_q95")):
        if lo in frame and hi in frame:
            shown = frame[lo].astype(str) + " > " + frame[hi].astype(str)
            with np.errstate(invalid="ignore"):
                rows.fail_col(lo, f"must not exceed {rows.col(hi)!r}", out[lo] > out[hi], shown)
    result = pd.DataFrame(out)[[*_CASE, "horizon", *_PROBS]]
    dup = result.duplicated(list(_CASE), keep=False).to_numpy()
    if dup.any():
        key = result[list(_CASE)].astype(str).agg("/".join, axis=1)
        rows.fail(f"columns ({', '.join(map(rows.col, _CASE))})",
                  "have duplicate forecasts for the same case", dup, key)
    return result


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= P_ATOL
    return both_nan | close


def _sql_none(values: list[Any]) -> list[Any]:
    return [None if isinstance(v, float) and np.isnan(v) else v for v in values]
