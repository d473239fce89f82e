"""One input-checking layer: the rules user input is checked by, with one-line errors.

The panel (:mod:`r2p_models.data.panel`), the real-data adapters
(:mod:`r2p_models.data.adapters`), the ledger's forecast rows
(:meth:`r2p_models.ledger.Ledger.issue`, :meth:`~r2p_models.ledger.Ledger.import_analyst_csv`),
the evidence fusion (:func:`r2p_models.data.fusion.fuse_reports`) and the calibration
toolkit (:mod:`r2p_models.calibration`) check their input with these functions. Each
function is one rule (numbers, no blanks, whole numbers, a range, 0/1, probabilities,
labels, unique keys, required columns, CSV cells per line). It takes the values of one
column (or argument), the column's name and a :class:`Rows`, which says where the values
come from (a file path or a frame's name), how its rows are named (data rows counted
from 1, CSV lines, index labels, positions) and which :class:`~r2p_models.errors.InputError`
subclass to raise (each layer keeps its own). A failed rule raises one line naming the
input, the column, the first offending rows and, where it helps, their values::

    data/panel.csv: column 'coup' must be numeric; found 'yes' at row 3, 'n/a' at row 9
    data/panel.csv: column 'region' has no value (blank or NaN) at rows 12, 15 and 4 more
    analyst.csv: column 'p' must be a probability in [0, 1]; found '1.6' at row 4 (line 5)
    rows: column 'crime' must be one of [...]; found 'genocidee' at row 4
    p must be a probability in [0, 1]; found 1.2 at position 1

At most :data:`SHOWN` rows are named, then how many more there are.

A leaf module: it imports nothing of the package but :mod:`r2p_models.errors`.
"""

from __future__ import annotations

import csv
import io
import numbers as _numbers
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from r2p_models.errors import InputError

__all__ = [
    "CONTROL",
    "SHOWN",
    "Rows",
    "binary",
    "csv_records",
    "has_columns",
    "in_range",
    "labels",
    "name",
    "numeric",
    "one_of",
    "probabilities",
    "required",
    "show",
    "unique",
    "whole",
]

#: Offending rows named in a message; the others are counted ("and 4 more").
SHOWN = 5

#: Control characters (C0, DEL, C1, Unicode line and paragraph separators): refused in
#: names and labels, which appear in one-line messages, CSV exports and reports.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def show(value: Any) -> str:
    """A cell as a message shows it: ``repr``, with whole floats written as integers.

    ``2.0`` is shown ``2`` and ``1700.0`` ``1700`` (a column of numbers with one blank is
    read as floats), ``2000.5``, ``1e+30``, ``nan``, ``'yes'`` and ``None`` as they are.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isfinite(value) and value.is_integer() \
            and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


class Rows:
    """Where checked values come from, how their rows are named, and what to raise.

    The constructors :meth:`lines`, :meth:`index` and :meth:`positions` cover the usual
    ways of naming rows besides data rows counted from 1.

    Parameters
    ----------
    source : str
        The input named at the start of every message: a file path, or a frame's or an
        argument's name (``"rows"``, ``"reports"``, ``"cases"``). Empty: no prefix.
    error : type of InputError
        The exception raised (each layer's own subclass, e.g. ``PanelError``).
    first : int
        Without ``label``: position ``i`` is row ``i + first`` (default: data rows
        counted from 1, the header excluded).
    noun : str
        What a row is called (``"row"``, ``"position"``; ``""``: the label alone).
    label : callable, optional
        The label of the row at position ``i`` (after ``noun``): e.g. ``"3 (line 5)"`` or
        ``"'c3'"``. Default: ``str(i + first)``.
    subject : str
        How a column is named, with ``{!r}`` for its name (``"column {!r}"``; ``"{}"``
        for an argument such as ``p``).
    """

    def __init__(
        self,
        source: str,
        error: type[InputError] = InputError,
        *,
        first: int = 1,
        noun: str = "row",
        label: Callable[[int], str] | None = None,
        subject: str = "column {!r}",
    ) -> None:
        self.source = source
        self.error = error
        self.first = first
        self.noun = noun
        self._label = label
        self.subject = subject

    @classmethod
    def lines(cls, source: str, lines: Sequence[int], error: type[InputError] = InputError,
              ) -> Rows:
        """Data rows counted from 1, each with the file line it starts on (``row 3 (line 5)``)."""
        return cls(source, error, label=lambda i: f"{i + 1} (line {lines[i]})")

    @classmethod
    def index(cls, source: str, index: pd.Index | Sequence[Any],
              error: type[InputError] = InputError, *, subject: str = "column {!r}") -> Rows:
        """Rows named by index label (``row 7``, ``row 'c3'``): a frame given in Python."""
        return cls(source, error, label=lambda i: show(index[i]), subject=subject)

    @classmethod
    def positions(cls, source: str, error: type[InputError] = InputError, *,
                  subject: str = "column {!r}") -> Rows:
        """Positions counted from 0 (``position 2``): an array given in Python."""
        return cls(source, error, first=0, noun="position", subject=subject)

    def label(self, i: int) -> str:
        """The label of the row at position ``i`` (without the noun)."""
        return self._label(i) if self._label is not None else str(i + self.first)

    def name(self, i: int) -> str:
        """The row at position ``i`` as a message names it (``row 3``)."""
        return f"{self.noun} {self.label(i)}" if self.noun else self.label(i)

    def column(self, column: str) -> str:
        """A column as a message names it (``column 'coup'``)."""
        return self.subject.format(column)

    def named(self, bad: Any) -> str:
        """The first rows where ``bad`` is true: ``rows 3, 7, 12 and 4 more``."""
        idx = _positions(bad)
        shown = [self.label(int(i)) for i in idx[:SHOWN]]
        sep = ", " if self.noun else "; "
        head = f"{self.noun}{'s' if len(idx) > 1 else ''} " if self.noun else ""
        return head + sep.join(shown) + _more(idx.size)

    def found(self, bad: Any, shown: Any) -> str:
        """The first rows where ``bad`` is true with their values: ``'x' at row 3, ...``."""
        idx = _positions(bad)
        cells = _flat(shown)
        sep = ", " if self.noun else "; "
        return sep.join(f"{show(cells[i])} at {self.name(int(i))}"
                        for i in idx[:SHOWN]) + _more(idx.size)

    def refuse(self, message: str) -> NoReturn:
        """Raise ``error`` with ``message`` after the source (``"<source>: <message>"``)."""
        raise self.error(f"{self.source}: {message}" if self.source else message)

    def fail(self, bad: Any, problem: str, *, column: str | None = None, shown: Any = None,
             hint: str = "") -> None:
        """Raise if any of ``bad`` is true, naming the rows (and their ``shown`` values).

        The message is ``"<source>: <column> <problem>; found <value> at <row>, ...<hint>"``
        with ``shown`` values, else ``"<source>: <column> <problem> at <rows><hint>"``;
        ``hint`` is appended as it is (start it with ``"; "``).
        """
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return
        what = f"{self.column(column)} {problem}" if column is not None else problem
        where = f"; found {self.found(bad, shown)}" if shown is not None else \
            f" at {self.named(bad)}"
        self.refuse(f"{what}{where}{hint}")


def _positions(bad: Any) -> np.ndarray:
    return np.flatnonzero(np.asarray(bad, dtype=bool).ravel())


def _more(n: int) -> str:
    return f" and {n - SHOWN} more" if n > SHOWN else ""


def _flat(values: Any) -> Any:
    """Positional access to the cells of a Series, Index, array or list."""
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=object)
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return np.asarray(values, dtype=object)
    return np.asarray(values, dtype=object).ravel()


# --------------------------------------------------------------------------- numbers


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # e.g. a list in a cell
        return False


def numeric(
    values: Any,
    column: str,
    rows: Rows,
    *,
    text: bool = True,
    booleans: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Values as floats, NaN where blank; refuse what is not a number.

    Parameters
    ----------
    values : pandas.Series, array-like
        The cells, in row order (any shape: positions are counted in C order).
    column : str
        The column's (or argument's) name, for messages.
    rows : Rows
    text : bool
        Whether text is parsed (cells of a CSV, where blank or spaces-only text is a
        blank and ``"NA"`` is text that is not a number) or refused (a frame or array
        given in Python, where ``"0.3"`` means a column read as strings).
    booleans : bool
        Whether ``True``/``False`` are taken as 1/0 (else they are not numbers).
    finite : bool
        Whether infinities are refused.

    Returns
    -------
    numpy.ndarray of float
        The shape of ``np.asarray(values)``; NaN where a cell is blank (None, NaN,
        ``pd.NA``, empty text).

    Raises
    ------
    InputError
        Of ``rows.error``: ``must be numeric`` (``, not text`` when text is refused),
        ``must be a finite number``; naming the first offending rows and their values.
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ) and not isinstance(dtype, pd.CategoricalDtype):
        cells = pd.array(values)
        if pd.api.types.is_bool_dtype(dtype) and not booleans:
            rows.fail(~np.asarray(pd.isna(cells), dtype=bool), "must be numeric",
                      column=column, shown=values)
        x = cells.to_numpy(dtype=float, na_value=np.nan)
    else:
        arr = np.asarray(values)
        if arr.dtype.kind == "b":
            if not booleans:
                rows.fail(np.ones(arr.shape, dtype=bool), "must be numeric", column=column,
                          shown=arr)
            x = arr.astype(float)
        elif arr.dtype.kind in "iuf":
            x = arr.astype(float, copy=False)
        else:
            x = _cells_as_float(arr, column, rows, text=text, booleans=booleans)
    if finite:
        with np.errstate(invalid="ignore"):
            rows.fail(np.isinf(x), "must be a finite number", column=column, shown=values)
    return x


def _cells_as_float(arr: np.ndarray, column: str, rows: Rows, *, text: bool,
                    booleans: bool) -> np.ndarray:
    """Cells of an object (or text, dates, ...) array as floats, refusing non-numbers."""
    flat = arr.astype(object).ravel()
    x = np.full(flat.size, np.nan)
    is_text = np.zeros(flat.size, dtype=bool)
    other = np.zeros(flat.size, dtype=bool)
    strings: list[str] = []
    where: list[int] = []
    for i, v in enumerate(flat):
        if isinstance(v, str):
            is_text[i] = True
            if text and v.strip():
                strings.append(v.strip())
                where.append(i)
        elif isinstance(v, bool | np.bool_):
            if booleans:
                x[i] = float(v)
            else:
                other[i] = True
        elif isinstance(v, _numbers.Real):
            x[i] = float(v)
        elif not _is_missing(v):
            other[i] = True
    if not text:
        rows.fail(is_text, "must be numeric, not text", column=column, shown=flat,
                  hint="; convert it first (e.g. pandas.to_numeric) if the text holds numbers")
    elif strings:
        parsed = pd.to_numeric(pd.Series(strings, dtype=object), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        x[where] = parsed
        other[np.asarray(where)[np.isnan(parsed)]] = True  # text that is not a number
    rows.fail(other, "must be numeric", column=column, shown=flat)
    return x.reshape(arr.shape)


def required(values: Any, column: str, rows: Rows, *, hint: str = "") -> None:
    """Refuse blanks: NaN, None, ``pd.NA`` or empty text (e.g. a year, a probability).

    Raises ``"<column> has no value (blank or NaN) at rows ..."``.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        blank = np.zeros(arr.shape, dtype=bool)
    elif arr.dtype.kind == "f":
        blank = np.isnan(arr)
    else:
        cells = pd.Series(arr.astype(object).ravel(), dtype=object)
        blank = cells.isna().to_numpy() | cells.map(
            lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
    rows.fail(blank, "has no value (blank or NaN)", column=column, hint=hint)


def whole(x: np.ndarray, column: str, rows: Rows, *, what: str = "a whole number",
          shown: Any = None) -> np.ndarray:
    """Refuse fractions (NaN is left to :func:`required`); returns ``x`` unchanged.

    Raises ``"<column> must be <what>; found 2000.5 at row 3"``.
    """
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(x) & (x != np.round(x))
    rows.fail(bad, f"must be {what}", column=column, shown=x if shown is None else shown)
    return x


def in_range(x: np.ndarray, column: str, rows: Rows, lo: float, hi: float, *,
             what: str = "a year", hint: str = "", shown: Any = None) -> np.ndarray:
    """Refuse values outside ``[lo, hi]`` (NaN is left to :func:`required`); returns ``x``.

    Raises ``"<column> must be <what> in <lo>-<hi>; found 1700 at row 3<hint>"``. Check
    before casting to integers: a number too large for int64 would wrap around.
    """
    with np.errstate(invalid="ignore"):
        bad = (x < lo) | (x > hi)
    rows.fail(bad, f"must be {what} in {lo}-{hi}", column=column,
              shown=x if shown is None else shown, hint=hint)
    return x


def binary(x: np.ndarray, column: str, rows: Rows, *, blank: bool = True,
           shown: Any = None) -> np.ndarray:
    """Refuse values other than 0 and 1 (and NaN, unless ``blank``); returns ``x``.

    Raises ``"<column> must be 0, 1 or blank; found 2 at row 7"`` (``must be 0 or 1``
    when blanks are refused).
    """
    bad = ~((x == 0) | (x == 1))
    if blank:
        bad &= ~np.isnan(x)
    rows.fail(bad, "must be 0, 1 or blank" if blank else "must be 0 or 1", column=column,
              shown=x if shown is None else shown)
    return x


def probabilities(x: np.ndarray, column: str, rows: Rows, *, shown: Any = None) -> np.ndarray:
    """Refuse values outside [0, 1] (NaN is left to :func:`required`); returns ``x``.

    Raises ``"<column> must be a probability in [0, 1]; found 1.2 at row 3"``.
    """
    with np.errstate(invalid="ignore"):
        bad = (x < 0) | (x > 1)
    rows.fail(bad, "must be a probability in [0, 1]", column=column,
              shown=x if shown is None else shown)
    return x


# --------------------------------------------------------------------------- labels


def labels(values: Any, column: str, rows: Rows, *, clean: bool = False) -> np.ndarray:
    """Refuse cells that are not non-empty text; returns the cells as an object array.

    With ``clean``, also refuse text that starts or ends with spaces or holds control
    characters (:data:`CONTROL`): names that are stored and shown again (a ledger's
    countries and crimes).

    Raises ``"<column> must be a non-empty string; found None at row 2"`` (``... without
    surrounding spaces`` when clean), ``"<column> must not contain control characters
    (newline, tab, ...); found ..."``.
    """
    cells = _flat(values)
    ok = np.array([isinstance(v, str) and v.strip() != "" and (not clean or v == v.strip())
                   for v in cells], dtype=bool)
    rows.fail(~ok, "must be a non-empty string" + (" without surrounding spaces" if clean
                                                   else ""),
              column=column, shown=cells)
    if clean:
        rows.fail(np.array([bool(CONTROL.search(v)) for v in cells], dtype=bool),
                  "must not contain control characters (newline, tab, ...)", column=column,
                  shown=cells)
    return cells


def one_of(values: Any, column: str, rows: Rows, allowed: Iterable[str]) -> np.ndarray:
    """Refuse cells not in ``allowed``; returns the cells as an object array.

    Raises ``"<column> must be one of ['a', 'b']; found 'c' at row 4"``.
    """
    allowed = list(allowed)
    cells = _flat(values)
    rows.fail(~pd.Series(cells, dtype=object).isin(allowed).to_numpy(),
              f"must be one of {allowed}", column=column, shown=cells)
    return cells


def name(what: str, value: Any, error: type[InputError] = InputError) -> str:
    """Check one name (a source, a run id, an analyst id): non-empty text, no control
    characters, no surrounding spaces; returns it.

    Raises ``"<what> must be a non-empty string, got 5"``, ``"<what> must not contain
    control characters (newline, tab, ...), got 'a\\nb'"``, ``"<what> must not start or
    end with whitespace, got ' a'"``.
    """
    if not isinstance(value, str) or not value.strip():
        raise error(f"{what} must be a non-empty string, got {value!r}")
    if CONTROL.search(value):
        raise error(f"{what} must not contain control characters (newline, tab, ...), "
                    f"got {value!r}")
    if value != value.strip():
        raise error(f"{what} must not start or end with whitespace, got {value!r}")
    return value


# --------------------------------------------------------------------------- tables


class _Shown(str):
    """Text a message shows as it is (not quoted)."""

    def __repr__(self) -> str:
        return str(self)


def unique(keys: pd.DataFrame, rows: Rows, problem: str, *, hint: str = "") -> None:
    """Refuse rows whose key (the columns of ``keys``) repeats another row's.

    Raises ``"<problem>; found ('SDN', 2001) at row 4, ('SDN', 2001) at row 16<hint>"``,
    naming every row of a repeated key.
    """
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        first = np.flatnonzero(dup)[:SHOWN]
        shown = np.full(len(keys), None, dtype=object)
        for i in first:
            shown[i] = _Shown("(" + ", ".join(show(v) for v in keys.iloc[i]) + ")")
        rows.fail(dup, problem, shown=shown, hint=hint)


def has_columns(columns: Iterable[Any], needed: Iterable[str], rows: Rows, *,
                hint: str = "") -> None:
    """Refuse a table without each of the ``needed`` columns.

    Raises ``"<source>: missing column(s) ['x']; the table has ['a', 'b', ...]<hint>"``
    (its first 12 columns).
    """
    have = list(columns)
    missing = [c for c in dict.fromkeys(needed) if c not in have]
    if missing:
        more = " ..." if len(have) > 12 else ""
        rows.refuse(f"missing column(s) {missing}; the table has {have[:12]}{more}{hint}")


def csv_records(text: str, source: str, error: type[InputError] = InputError,
                ) -> tuple[list[str], list[list[str]], list[int]]:
    """The records of a CSV, each with as many cells as the header.

    Blank lines (no cells, or only spaces) are skipped, as pandas skips them; quoted
    cells may span lines.

    Returns
    -------
    header : list of str
        The first record (empty if the text has none).
    records : list of list of str
        The other records, cells as written.
    lines : list of int
        The line (counted from 1, the header included) each record starts on.

    Raises
    ------
    InputError
        Of type ``error``: ``"<source>: line 6 has 4 cells, the header has 8"`` for a
        record with more or fewer cells than the header (pandas would read a short one as
        blanks), ``"<source>: line 6: cannot read the CSV (<reason>)"``.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for record in reader:
            if len(record) > 1 or (record and record[0].strip()):
                if header is None:
                    header = record
                elif len(record) != len(header):
                    n = len(record)
                    raise error(f"{source}: line {start} has {n} cell{'s' if n != 1 else ''}, "
                                f"the header has {len(header)}")
                else:
                    records.append(record)
                    lines.append(start)
            start = reader.line_num + 1
    except csv.Error as err:
        raise error(f"{source}: line {start}: cannot read the CSV ({err})") from None
    return header or [], records, lines
