"""Validation of forecast rows before they are issued (a frame given to
:meth:`~r2p_models.ledger.store.Ledger.issue` or the cells of an analyst CSV): years,
names, crimes, windows and probabilities, with one-line errors naming the column and the
first bad rows; and the checks of single names (source, run id, ...). The rules are those
of :mod:`r2p_models.checks`, raising :class:`LedgerValidationError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from r2p_models.checks import (
    Rows,
    in_range,
    labels,
    numeric,
    one_of,
    probabilities,
    required,
    unique,
    whole,
)
from r2p_models.checks import name as check_name
from r2p_models.crimes import CRIMES
from r2p_models.ledger.errors import LedgerValidationError
from r2p_models.ledger.schema import _CASE, _PROBS, _YEARS, P_ATOL, YEAR_MAX, YEAR_MIN

__all__: list[str] = []  # helpers of the ledger package only

_FRAME_REQUIRED = (*_CASE, "p_mean")
_FRAME_OPTIONAL = ("horizon", "p_q05", "p_q50", "p_q95")


def _text(name: str, value: Any) -> str:
    return check_name(name, value, LedgerValidationError)


def _opt_text(name: str, value: Any, *, optional: bool) -> str | None:
    return None if value is None and optional else _text(name, value)


def _years(s: pd.Series, column: str, rows: Rows, *, text: bool,
           span: tuple[int, int] = (YEAR_MIN, YEAR_MAX), what: str = "a year") -> np.ndarray:
    """Column of whole numbers in ``span`` (calendar years by default) as int64."""
    num = numeric(s, column, rows, text=text)
    required(num, column, rows)
    whole(num, column, rows, what=f"a whole {what.removeprefix('a ')}", shown=s)
    in_range(num, column, rows, *span, what=what, shown=s)  # before the cast to int64
    return num.astype("int64")


def _validate(frame: pd.DataFrame, rows: Rows, names: Mapping[str, str], *,
              text: bool) -> pd.DataFrame:
    """Validate forecast rows; return them with canonical columns and a positional index.

    ``frame`` has canonical column names (``p_mean``); ``names`` maps them back to the
    user's names for messages. ``text``: cells are strings (from a CSV) to be parsed.
    """
    def col(c: str) -> str:
        return names.get(c, c)

    out: dict[str, np.ndarray] = {}
    for c in _YEARS:
        out[c] = _years(frame[c], col(c), rows, text=text)
    out["country"] = labels(frame["country"], col("country"), rows, clean=True)
    out["crime"] = one_of(labels(frame["crime"], col("crime"), rows, clean=True), col("crime"),
                          rows, CRIMES)
    rows.fail(out["target_start"] <= out["origin_year"], "must be after origin_year",
              column=col("target_start"), shown=frame["target_start"])
    rows.fail(out["target_end"] < out["target_start"], "must not be before target_start",
              column=col("target_end"), shown=frame["target_end"])
    horizon = out["target_end"] - out["origin_year"]
    if "horizon" in frame:
        given = _years(frame["horizon"], col("horizon"), rows, text=text,
                       span=(YEAR_MIN - YEAR_MAX, YEAR_MAX - YEAR_MIN), what="a number")
        rows.fail(given != horizon, "must equal target_end - origin_year",
                  column=col("horizon"), shown=frame["horizon"])
    out["horizon"] = horizon
    for c in _PROBS:
        if c not in frame:
            out[c] = np.full(len(frame), np.nan)
            continue
        p = numeric(frame[c], col(c), rows, text=text)
        if c == "p_mean":
            required(p, col(c), rows, hint="; a probability is required")
        out[c] = probabilities(p, col(c), rows, shown=frame[c])
    for lo, hi in (("p_q05", "p_q50"), ("p_q50", "p_q95"), ("p_q05", "p_q95")):
        if lo in frame and hi in frame:
            shown = frame[lo].astype(str) + " > " + frame[hi].astype(str)
            with np.errstate(invalid="ignore"):
                rows.fail(out[lo] > out[hi], f"must not exceed {col(hi)!r}", column=col(lo),
                          shown=shown)
    result = pd.DataFrame(out)[[*_CASE, "horizon", *_PROBS]]
    unique(result[list(_CASE)], rows,
           f"columns ({', '.join(map(col, _CASE))}) have duplicate forecasts for the same case")
    return result


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= P_ATOL
    return both_nan | close


def _sql_none(values: list[Any]) -> list[Any]:
    return [None if isinstance(v, float) and np.isnan(v) else v for v in values]
