"""The forecast ledger: an append-only record of issued forecasts and their outcomes.

The ledger is one SQLite file (stdlib :mod:`sqlite3`; transactions, constraints and
triggers enforced by the database itself, so even a hand-written SQL statement cannot
break the contract below).

Rows
----
A row of table ``forecasts`` is one issued probability that an episode of ``crime``
begins in ``country`` at least once in the target window ``[target_start, target_end]``
(inclusive calendar years), issued with data up to ``origin_year``:

- ``source``: who issued it, a model name, version and variant (``"r2p-models 0.1.0
  hierarchical"``, see :func:`r2p_models.backtest.model_source`) or an analyst id. A new
  model version is a new source.
- ``kind``: ``'forecast'`` (a model's real-time forecast), ``'backtest'`` (a postdiction
  made after the fact by a rolling-origin evaluation; never to be mixed with real-time
  skill) or ``'analyst'`` (a human assessment, imported with
  :meth:`Ledger.import_analyst_csv` or :meth:`Ledger.issue`). Analysts are thus marked by
  ``kind``, not by a convention on the source name.
- ``run_id``, ``issued_at`` (UTC, ``YYYY-MM-DDTHH:MM:SSZ``), ``data_hash``,
  ``config_hash`` (required except for analysts) identify the run that first issued it.
- ``origin_year``, ``country``, ``crime`` (one of :data:`r2p_models.crimes.CRIMES`),
  ``target_start > origin_year``, ``target_end >= target_start`` and
  ``horizon = target_end - origin_year`` (years from origin to the end of the window).
- ``p_mean`` (required) and the posterior quantiles ``p_q05 <= p_q50 <= p_q95`` (NULL when
  not given, e.g. for an analyst giving only ``p``), all in ``[0, 1]``.
- ``outcome_status``: ``'pending'`` until resolved, then ``'observed'`` with ``outcome`` 1
  or 0, or ``'not_at_risk'`` (outcome NULL) when the country was not at risk at the origin
  (an onset in the origin year or an episode under way) or in an ongoing episode in every
  year of the window; ``resolved_at`` and ``outcome_source`` say when and from what.

Immutability
------------
The key is ``(source, kind, origin_year, country, crime, target_start, target_end)``
(UNIQUE). Issuing a row whose key exists with the same probabilities (equal to within
``1e-12``; hashes and run id are not compared) is a no-op counted as ``unchanged``, so a
rerun on the same inputs is idempotent and the stored row keeps its first run id. The same
key with a different ``p_mean`` or quantile is refused with :class:`LedgerConflictError`,
and nothing from that call is written. Rows are never deleted, replaced or updated except
to resolve a pending outcome, once: SQLite triggers abort anything else, for any client
that opens the file, including ``INSERT OR REPLACE`` / ``REPLACE`` (which would delete the
old row without firing a delete trigger) on an issued key or id and on the append-only
logs. An analyst revising an assessment for the same origin and case therefore records it
under a new source (e.g. ``"jdoe/rev2"``).

Each issued row also gets a link of a hash chain when it is issued (table
``forecast_chain``: the sha256 of the previous row's hash and the row's issued values, in
id order; see :func:`_row_hash`). :meth:`Ledger.verify` (``r2p ledger verify``) checks
SQLite's ``integrity_check``, that every table, index and trigger is as defined here, and
the chain, so a file edited outside SQLite's rules (a trigger dropped, a value changed,
the trigger put back) is detected, naming the first bad row. The chain cannot tell a
rewrite of the whole chain from scratch: record the head hash that ``verify`` prints
elsewhere to detect that too. Outcomes (the resolution columns) are not chained.

Resolution
----------
:meth:`Ledger.resolve` takes a newer panel's ``onset(country, year, crime)`` (1/0/NaN)
and optionally ``ongoing`` and, for each row whose ``target_end <= observed_through``,
classifies each year of the window: *event* (onset 1), *not at risk* (ongoing 1 without
onset), *no event* (onset 0) or *unknown* (onset NaN, or the country, year or crime absent
from the panel, or ``present`` false). A row whose origin year is an event or not at risk
(the country was not at risk of onset when the forecast was made) is ``not_at_risk``.
Otherwise the window is: ``observed``/1 if any year is an event; left pending if any year
is unknown (it is re-tried at the next resolution); else ``observed``/0 if the country was
at risk in at least one year; else ``not_at_risk`` (never scored as a zero). Windows
ending after ``observed_through`` are never touched, even when an onset has already been
seen. A resolved row never changes: if a newer panel
disagrees with a stored resolution, :meth:`Ledger.resolve` raises
:class:`LedgerConflictError` and writes nothing (default), or with ``on_conflict="warn"``
keeps the stored outcomes, resolves the rest and emits a :class:`LedgerResolutionWarning`.

Transactions and concurrency
----------------------------
Every write (:meth:`Ledger.issue`, :meth:`Ledger.import_analyst_csv`,
:meth:`Ledger.resolve`) is one ``BEGIN IMMEDIATE ... COMMIT`` transaction with SQLite's
rollback journal (``synchronous=FULL``): a crash or an exception mid-write leaves the ledger
exactly as it was. A second writer waits up to ``busy_timeout`` seconds (default 30) for the
first to commit, then fails with :class:`LedgerBusyError`. Every r2p command and function
that writes to a ledger additionally holds an advisory lock for its whole run,
:func:`ledger_lock` / :meth:`Ledger.run_lock` (``fcntl.flock`` on ``<ledger>.lock``,
re-entrant in its thread, the file removed when released), so only one writing run at a
time works on a ledger; a second one is refused with :class:`LedgerLockedError` naming the
holder's pid. Readers do not take it.

A ledger path that is a folder, a file that cannot be read, or (for writers) a file or
folder that cannot be written is refused with :class:`LedgerAccessError` before anything
is created (no lock file either); an SQLite refusal to write is one too.

Schema
------
Table ``meta`` holds ``schema_version`` (:data:`SCHEMA_VERSION`); a ledger with a newer or
unknown version is refused with :class:`LedgerSchemaError`. Tables ``issue_log`` (one row
per committed issue call, including fully idempotent ones) and ``resolution_log`` (one row
per committed resolution) are append-only audit trails; ``forecast_chain`` holds the hash
chain. A ledger of version 1 (no REPLACE guards, no chain) is upgraded in place when the
package opens it where it can be written, in one transaction: the guards are added, the
rows it holds are chained in id order, and ``meta`` records ``upgraded_at`` and
``rows_at_upgrade`` (those rows' hashes date from the upgrade, not from their issue).

Schema version 3 adds table ``pool_weights``: the weights (and, for a beta-transformed
linear pool, the recalibration parameters ``beta_a``, ``beta_b``) that
:func:`r2p_models.pool.pool_sources` learned for a pooled source at each origin, with a
90 % interval, the number of training cases and the pooling configuration (JSON). It is
append-only like the logs (no update, delete or replace; key ``(pooled_source, kind,
origin_year, parameter, input_source)``), written in the same transaction as the pooled
forecasts, and checked by :meth:`Ledger.verify` like every table; its rows are not
hash-chained (the pooled forecasts they produced are). A ledger of version 1 or 2 gets it
when opened writable (``meta`` records ``upgraded_to_3_at``); a ledger of version 3 is
refused by releases that only know version 2.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import hashlib
import io
import json
import numbers
import os
import re
import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.atomic import atomic_path
from r2p_models.crimes import CRIMES
from r2p_models.errors import InputError

__all__ = [
    "COLUMNS",
    "EXPORT_COLUMNS",
    "KINDS",
    "POOL_COLUMNS",
    "POOL_METHODS",
    "SCHEMA_VERSION",
    "YEAR_MAX",
    "YEAR_MIN",
    "IssueResult",
    "Ledger",
    "LedgerAccessError",
    "LedgerBusyError",
    "LedgerCheck",
    "LedgerConflictError",
    "LedgerError",
    "LedgerIntegrityError",
    "LedgerLockedError",
    "LedgerNotFoundError",
    "LedgerResolutionWarning",
    "LedgerSchemaError",
    "LedgerValidationError",
    "export_ledger_csv",
    "ledger_lock",
    "verify_ledger",
]

#: Version of the database layout written by this module (1: before the REPLACE guards and
#: the hash chain; 2: before table ``pool_weights``; an older ledger is upgraded in place
#: when opened writable).
SCHEMA_VERSION = 3
#: Plausible calendar years of ``origin_year``, ``target_start`` and ``target_end``.
YEAR_MIN, YEAR_MAX = 1800, 2200
#: Kinds of rows: real-time model forecasts, backtest postdictions, analyst assessments.
KINDS: tuple[str, ...] = ("forecast", "backtest", "analyst")
#: Outcome states of a row.
STATUSES: tuple[str, ...] = ("pending", "observed", "not_at_risk")
#: Columns of table ``forecasts`` (and of :meth:`Ledger.rows`), in order.
COLUMNS: tuple[str, ...] = (
    "id", "source", "kind", "run_id", "issued_at", "origin_year", "country", "crime",
    "horizon", "target_start", "target_end", "p_mean", "p_q05", "p_q50", "p_q95",
    "data_hash", "config_hash", "outcome", "outcome_status", "resolved_at", "outcome_source",
)
#: Columns of :meth:`Ledger.export_csv`.
EXPORT_COLUMNS: tuple[str, ...] = COLUMNS
#: Columns identifying a forecast; UNIQUE in the database.
KEY_COLUMNS: tuple[str, ...] = (
    "source", "kind", "origin_year", "country", "crime", "target_start", "target_end",
)
_CASE = ("origin_year", "country", "crime", "target_start", "target_end")
_YEARS = ("origin_year", "target_start", "target_end")
_PROBS = ("p_mean", "p_q05", "p_q50", "p_q95")
_FRAME_REQUIRED = (*_CASE, "p_mean")
_FRAME_OPTIONAL = ("horizon", "p_q05", "p_q50", "p_q95")
_CSV_REQUIRED = ("origin_year", "country", "crime", "target_start", "target_end", "p")
_CSV_OPTIONAL = ("p_q05", "p_q50", "p_q95")
#: Pooling methods and parameters recorded in table ``pool_weights``.
POOL_METHODS: tuple[str, ...] = ("linear", "log", "beta")
POOL_PARAMETERS: tuple[str, ...] = ("weight", "beta_a", "beta_b")
#: Columns of table ``pool_weights`` (and of :meth:`Ledger.pool_weights`), in order.
POOL_COLUMNS: tuple[str, ...] = (
    "id", "pooled_source", "kind", "method", "origin_year", "parameter", "input_source",
    "value", "lo", "hi", "prior", "n_cases", "config", "run_id", "created_at",
)
_POOL_KEY = ("pooled_source", "kind", "origin_year", "parameter", "input_source")
#: Probabilities closer than this count as the same issued value.
P_ATOL = 1e-12
DEFAULT_BUSY_TIMEOUT = 30.0
_APPLICATION = "r2p-models forecast ledger"
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_SHOW = 5  # bad rows shown in an error message


class LedgerError(Exception):
    """Base class of ledger errors."""


class LedgerValidationError(LedgerError, InputError):
    """Input rows that cannot be issued; the message names the column and the first bad rows."""


class LedgerConflictError(LedgerError, InputError):
    """A write that would change an issued forecast or a resolved outcome; nothing was written."""


class LedgerSchemaError(LedgerError, InputError):
    """The file is not a ledger this version of r2p-models can read."""


class LedgerNotFoundError(LedgerError, InputError, FileNotFoundError):
    """The ledger file does not exist and was not to be created."""


class LedgerBusyError(LedgerError, TimeoutError):
    """Another process kept the ledger locked for longer than the busy timeout."""


class LedgerLockedError(LedgerError, RuntimeError):
    """Another run holds the ledger's advisory run lock."""


class LedgerAccessError(LedgerError, InputError, PermissionError):
    """The ledger path is a folder, or the file or its folder cannot be read or written."""


class LedgerIntegrityError(LedgerError):
    """:meth:`Ledger.verify` found the file damaged or edited outside r2p-models."""


class LedgerResolutionWarning(UserWarning):
    """A newer panel disagrees with outcomes already resolved (kept unchanged)."""


@dataclass(frozen=True)
class IssueResult:
    """What one :meth:`Ledger.issue` call did.

    Attributes
    ----------
    run_id, source, kind, issued_at : str
        As recorded.
    inserted : int
        New rows written.
    unchanged : int
        Rows already issued with the same values (idempotent rerun), not rewritten.
    """

    run_id: str
    source: str
    kind: str
    issued_at: str
    inserted: int
    unchanged: int


# --------------------------------------------------------------------------- schema

_CRIME_LIST = ", ".join(f"'{c}'" for c in CRIMES)
_KIND_LIST = ", ".join(f"'{k}'" for k in KINDS)
_STATUS_LIST = ", ".join(f"'{s}'" for s in STATUSES)
_STAMP_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z"
_ISSUED = [c for c in COLUMNS if c not in ("outcome", "outcome_status", "resolved_at",
                                           "outcome_source")]

_IMMUTABLE = ("r2p ledger: issued forecasts are immutable; only a pending outcome can be "
              "resolved, once")
_KEY_MATCH = " AND ".join(f"{c} = NEW.{c}" for c in KEY_COLUMNS)
#: The layout of schema version 1.
_DDL_1: tuple[str, ...] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    f"""CREATE TABLE forecasts (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL CHECK (length(trim(source)) > 0),
    kind TEXT NOT NULL CHECK (kind IN ({_KIND_LIST})),
    run_id TEXT NOT NULL CHECK (length(trim(run_id)) > 0),
    issued_at TEXT NOT NULL CHECK (issued_at GLOB '{_STAMP_GLOB}'),
    origin_year INTEGER NOT NULL,
    country TEXT NOT NULL CHECK (length(trim(country)) > 0),
    crime TEXT NOT NULL CHECK (crime IN ({_CRIME_LIST})),
    horizon INTEGER NOT NULL CHECK (horizon = target_end - origin_year),
    target_start INTEGER NOT NULL CHECK (target_start > origin_year),
    target_end INTEGER NOT NULL CHECK (target_end >= target_start),
    p_mean REAL NOT NULL CHECK (p_mean BETWEEN 0 AND 1),
    p_q05 REAL CHECK (p_q05 BETWEEN 0 AND 1),
    p_q50 REAL CHECK (p_q50 BETWEEN 0 AND 1),
    p_q95 REAL CHECK (p_q95 BETWEEN 0 AND 1),
    data_hash TEXT,
    config_hash TEXT,
    outcome INTEGER CHECK (outcome IN (0, 1)),
    outcome_status TEXT NOT NULL DEFAULT 'pending' CHECK (outcome_status IN ({_STATUS_LIST})),
    resolved_at TEXT CHECK (resolved_at GLOB '{_STAMP_GLOB}'),
    outcome_source TEXT,
    CHECK (p_q05 <= p_q50),
    CHECK (p_q50 <= p_q95),
    CHECK (p_q05 <= p_q95),
    CHECK (kind = 'analyst' OR (data_hash IS NOT NULL AND config_hash IS NOT NULL)),
    CHECK (CASE outcome_status
        WHEN 'pending' THEN outcome IS NULL AND resolved_at IS NULL AND outcome_source IS NULL
        WHEN 'observed' THEN outcome IS NOT NULL AND resolved_at IS NOT NULL
                             AND outcome_source IS NOT NULL
        ELSE outcome IS NULL AND resolved_at IS NOT NULL AND outcome_source IS NOT NULL END),
    UNIQUE (source, kind, origin_year, country, crime, target_start, target_end)
) STRICT""",
    "CREATE INDEX forecasts_pending ON forecasts (outcome_status, target_end)",
    "CREATE INDEX forecasts_run ON forecasts (run_id)",
    f"""CREATE TABLE issue_log (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ({_KIND_LIST})),
    issued_at TEXT NOT NULL,
    data_hash TEXT,
    config_hash TEXT,
    n_inserted INTEGER NOT NULL CHECK (n_inserted >= 0),
    n_unchanged INTEGER NOT NULL CHECK (n_unchanged >= 0)
) STRICT""",
    """CREATE TABLE resolution_log (
    id INTEGER PRIMARY KEY,
    resolved_at TEXT NOT NULL,
    outcome_source TEXT NOT NULL,
    observed_through INTEGER NOT NULL,
    n_resolved INTEGER NOT NULL CHECK (n_resolved >= 0),
    n_conflicts INTEGER NOT NULL CHECK (n_conflicts >= 0)
) STRICT""",
    """CREATE TRIGGER forecasts_no_delete BEFORE DELETE ON forecasts BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: issued forecasts are never deleted');
END""",
    f"""CREATE TRIGGER forecasts_immutable BEFORE UPDATE ON forecasts
WHEN OLD.outcome_status <> 'pending' OR {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _ISSUED)}
BEGIN
    SELECT RAISE(ABORT, '{_IMMUTABLE}');
END""",
    *(
        f"""CREATE TRIGGER {table}_{op.lower()} BEFORE {op} ON {table} BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: {table} is append-only');
END"""
        for table in ("issue_log", "resolution_log")
        for op in ("UPDATE", "DELETE")
    ),
)
#: Added by schema version 2: guards against ``INSERT OR REPLACE`` / ``REPLACE`` (which
#: deletes the old row without firing a delete trigger) and the hash chain of issued rows.
#: In a BEFORE INSERT trigger ``NEW.id`` is -1 when no id is given, so no row may have an
#: id below 1 (the AFTER INSERT triggers) for the "id already taken" test to be exact.
_DDL_2: tuple[str, ...] = (
    """CREATE TABLE forecast_chain (
    forecast_id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT""",
    f"""CREATE TRIGGER forecasts_no_replace BEFORE INSERT ON forecasts
WHEN EXISTS (SELECT 1 FROM forecasts WHERE id = NEW.id)
  OR EXISTS (SELECT 1 FROM forecasts WHERE {_KEY_MATCH})
BEGIN
    SELECT RAISE(ABORT,
        'r2p ledger: this forecast is already issued (same key or id); it is never replaced');
END""",
    *(
        f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: {table} is append-only');
END"""
        for table in ("issue_log", "resolution_log")
    ),
    *(
        f"""CREATE TRIGGER {table}_id_positive AFTER INSERT ON {table} WHEN NEW.id < 1
BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: {table} ids start at 1');
END"""
        for table in ("forecasts", "issue_log", "resolution_log")
    ),
    """CREATE TRIGGER forecast_chain_no_replace BEFORE INSERT ON forecast_chain
WHEN EXISTS (SELECT 1 FROM forecast_chain WHERE forecast_id = NEW.forecast_id)
  OR NOT EXISTS (SELECT 1 FROM forecasts WHERE id = NEW.forecast_id)
BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: forecast_chain is append-only, one hash per issued row');
END""",
    *(
        f"""CREATE TRIGGER forecast_chain_{op.lower()} BEFORE {op} ON forecast_chain BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: forecast_chain is append-only');
END"""
        for op in ("UPDATE", "DELETE")
    ),
)
_POOL_MATCH = " AND ".join(f"{c} = NEW.{c}" for c in _POOL_KEY)
#: Added by schema version 3: the weights of pooled sources (r2p_models.pool), append-only
#: with the same guards as the logs (no update, delete or replace of an id or key).
_DDL_3: tuple[str, ...] = (
    f"""CREATE TABLE pool_weights (
    id INTEGER PRIMARY KEY,
    pooled_source TEXT NOT NULL CHECK (length(trim(pooled_source)) > 0),
    kind TEXT NOT NULL CHECK (kind IN ('forecast', 'backtest')),
    method TEXT NOT NULL CHECK (method IN ({", ".join(f"'{m}'" for m in POOL_METHODS)})),
    origin_year INTEGER NOT NULL,
    parameter TEXT NOT NULL CHECK (parameter IN ({", ".join(f"'{m}'" for m in POOL_PARAMETERS)})),
    input_source TEXT NOT NULL,
    value REAL NOT NULL,
    lo REAL,
    hi REAL,
    prior REAL,
    n_cases INTEGER NOT NULL CHECK (n_cases >= 0),
    config TEXT NOT NULL,
    run_id TEXT NOT NULL CHECK (length(trim(run_id)) > 0),
    created_at TEXT NOT NULL CHECK (created_at GLOB '{_STAMP_GLOB}'),
    CHECK ((parameter = 'weight') = (length(input_source) > 0)),
    CHECK (parameter <> 'weight' OR (value BETWEEN 0 AND 1 AND lo BETWEEN 0 AND 1
                                     AND hi BETWEEN 0 AND 1 AND prior BETWEEN 0 AND 1)),
    CHECK (parameter = 'weight' OR (value > 0 AND lo > 0 AND hi > 0)),
    CHECK (lo <= value AND value <= hi),
    UNIQUE (pooled_source, kind, origin_year, parameter, input_source)
) STRICT""",
    *(
        f"""CREATE TRIGGER pool_weights_{op.lower()} BEFORE {op} ON pool_weights BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: pool_weights is append-only');
END"""
        for op in ("UPDATE", "DELETE")
    ),
    f"""CREATE TRIGGER pool_weights_no_replace BEFORE INSERT ON pool_weights
WHEN EXISTS (SELECT 1 FROM pool_weights WHERE id = NEW.id)
  OR EXISTS (SELECT 1 FROM pool_weights WHERE {_POOL_MATCH})
BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: pool_weights is append-only');
END""",
    """CREATE TRIGGER pool_weights_id_positive AFTER INSERT ON pool_weights WHEN NEW.id < 1
BEGIN
    SELECT RAISE(ABORT, 'r2p ledger: pool_weights ids start at 1');
END""",
)
#: The layout this module writes (schema version :data:`SCHEMA_VERSION`).
_DDL: tuple[str, ...] = (*_DDL_1, *_DDL_2, *_DDL_3)
#: First link of the hash chain (the "previous hash" of the first issued row).
_GENESIS = "0" * 64


def _row_hash(prev: str, values: Sequence[Any]) -> str:
    """The chain hash of an issued row: sha256 of the previous hash and the row's values.

    ``values`` are the row's issued columns (``id`` to ``config_hash``, the order of
    :data:`COLUMNS` without the outcome columns) as SQLite returns them. The hashed text
    is ``prev + "\n" + json.dumps(values, separators=(",", ":"), ensure_ascii=False)``
    (UTF-8), so the chain can be checked without r2p-models.
    """
    text = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()


def _schema_objects(con: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """``(type, name) -> SQL`` of a database's tables, indexes and triggers (SQLite's own
    automatic indexes left out)."""
    return {(t, n): sql for t, n, sql in con.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite%'")}


def _expected_schema() -> dict[tuple[str, str], str]:
    """:func:`_schema_objects` of a new ledger (built in memory from :data:`_DDL`)."""
    con = sqlite3.connect(":memory:")
    try:
        for stmt in _DDL:
            con.execute(stmt)
        return _schema_objects(con)
    finally:
        con.close()


def _utc_stamp(when: dt.datetime | None = None, *, what: str = "issued_at") -> str:
    if when is None:
        when = dt.datetime.now(dt.UTC)
    if not isinstance(when, dt.datetime):
        raise TypeError(f"{what} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None:
        raise LedgerValidationError(
            f"{what} must be timezone-aware (UTC), got naive {when.isoformat()}"
        )
    return when.astimezone(dt.UTC).strftime(_STAMP)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


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


# ------------------------------------------------------------------------ validation

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


# ---------------------------------------------------------------------------- access

def _writable(path: Path) -> bool:
    """Whether a write to the ledger ``path`` can succeed: file (if any) and folder writable."""
    return ((not path.exists() or os.access(path, os.W_OK))
            and os.access(path.parent, os.W_OK | os.X_OK))


def _check_path(path: Path, *, write: bool, create: bool = True) -> None:
    """Refuse a ledger path that cannot be opened (or, with ``write``, written) as a ledger.

    Raises
    ------
    LedgerAccessError
        The path is a folder; the file is not readable; with ``write``, the file is
        read-only or its folder is not writable (SQLite keeps the rollback journal there,
        and the run lock its file).
    LedgerNotFoundError
        The file does not exist and ``create`` is false, or its folder does not exist.
    """
    if path.is_dir():
        raise LedgerAccessError(f"ledger {path}: is a folder, not a ledger file; give the "
                                f"file's path (e.g. {path / 'ledger.sqlite'})")
    if not create and not path.exists():
        raise LedgerNotFoundError(f"ledger {path} does not exist")
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            raise LedgerAccessError(f"ledger {path}: {folder} is a file, not a folder")
        raise LedgerNotFoundError(f"ledger {path}: folder {folder} does not exist")
    if path.exists() and not os.access(path, os.R_OK):
        raise LedgerAccessError(f"ledger {path}: the file is not readable (no read permission)")
    if write:
        if path.exists() and not os.access(path, os.W_OK):
            raise LedgerAccessError(
                f"ledger {path}: the file is read-only (no write permission); nothing was "
                "written"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise LedgerAccessError(
                f"ledger {path}: folder {folder} is not writable (SQLite needs it for the "
                "ledger's journal, the run lock for its lock file); nothing was written"
            )


def _error_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


@dataclass(frozen=True)
class LedgerCheck:
    """What :meth:`Ledger.verify` checked, on a ledger that passed.

    Attributes
    ----------
    path : Path
    schema_version : int
    n_forecasts : int
        Issued rows, each with a valid link of the hash chain.
    head : str
        The chain hash of the last issued row (64 hex digits; all zeros for an empty
        ledger). Recording it elsewhere lets a later check detect a chain rewritten from
        scratch.
    n_triggers : int
        Protective triggers found, all as the schema defines them.
    upgraded : str or None
        For a ledger created with schema version 1: when it was upgraded and how many rows
        it held then (their hashes date from the upgrade, not from their issue).
    """

    path: Path
    schema_version: int
    n_forecasts: int
    head: str
    n_triggers: int
    upgraded: str | None = None

    def summary(self) -> str:
        """One line: ``OK: ledger PATH: ...`` (what ``r2p ledger verify`` prints)."""
        line = (f"OK: ledger {self.path}: integrity_check ok, schema {self.schema_version} "
                f"with all {self.n_triggers} protective triggers, {self.n_forecasts} "
                f"forecasts hash-chained, head {self.head}")
        if self.upgraded:
            line += f" ({self.upgraded})"
        return line


# ---------------------------------------------------------------------------- ledger

class Ledger:
    """An open forecast ledger (one SQLite file); see the module docstring for the contract.

    Parameters
    ----------
    path : str or Path
        The ledger file. Created with the schema if it does not exist (and ``create``).
    create : bool, default True
        Whether to create a new ledger; if False a missing file raises
        :class:`LedgerNotFoundError`.
    busy_timeout : float, default 30
        Seconds a writer (or reader) waits for another process's transaction before
        :class:`LedgerBusyError`.
    readonly : bool, default False
        Open for reading only (never creates the file; SQLite refuses writes through this
        connection). A read-only open does not need write permission; without ``readonly``
        a file or folder that cannot be written is refused at once with
        :class:`LedgerAccessError`.

    Notes
    -----
    A ledger of schema version 1 is upgraded in place to version 2 when opened (in one
    transaction; readonly opens too, if the file can be written; one that cannot is read as
    it is): the REPLACE guards are added and the rows it holds are hash-chained in id order.

    Examples
    --------
    >>> with Ledger("ledger.sqlite") as led:  # doctest: +SKIP
    ...     led.issue(frame, source="r2p-models 0.1.0 hierarchical", kind="forecast",
    ...               run_id="2026-05-01", data_hash=h, config_hash=c)
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT, readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)
        self.readonly = bool(readonly)
        create = create and not self.readonly
        self._con: sqlite3.Connection | None = None
        _check_path(self.path, write=not self.readonly, create=create)
        # a reader of a file it cannot write opens it read-only (and does not upgrade it)
        can_write = not self.readonly or _writable(self.path)
        mode = "rwc" if create else "rw" if can_write else "ro"
        uri = f"{self.path.resolve().as_uri()}?mode={mode}"
        try:
            self._con = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout,
                                        isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            self._query("PRAGMA synchronous = FULL")  # durable commits (rollback journal)
            self._open_schema(create, upgrade=can_write)
            if self.readonly:
                self._query("PRAGMA query_only = ON")
        except BaseException:
            self.close()
            raise

    # ---- connection and transactions

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def __len__(self) -> int:
        return int(self._query("SELECT count(*) FROM forecasts")[0][0])

    def close(self) -> None:
        """Close the connection (an open transaction, if any, is rolled back)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> sqlite3.Connection:
        """The underlying connection (read-only use; writes go through the methods)."""
        if self._con is None:
            raise LedgerError(f"ledger {self.path} is closed")
        return self._con

    def _error(self, exc: sqlite3.Error) -> Exception:
        """The ledger error for an SQLite error (the caller chains ``exc`` as the cause)."""
        code = _error_code(exc)
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return LedgerBusyError(
                f"ledger {self.path} stayed locked by another process for more than "
                f"{self.busy_timeout:g} s (busy timeout); try again later or raise "
                "busy_timeout"
            )
        if code == sqlite3.SQLITE_READONLY or "readonly database" in str(exc):
            why = "opened read-only" if self.readonly else "the file, its folder or the file " \
                  "system is read-only"
            return LedgerAccessError(f"ledger {self.path}: SQLite cannot write ({why}: {exc}); "
                                     "nothing was written")
        if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
            return LedgerAccessError(f"ledger {self.path}: SQLite cannot open the file ({exc})")
        if isinstance(exc, sqlite3.IntegrityError):
            return LedgerValidationError(
                f"ledger {self.path}: database constraint refused the write: {exc}"
            )
        if isinstance(exc, sqlite3.OperationalError):
            return exc
        if isinstance(exc, sqlite3.DatabaseError):
            return LedgerSchemaError(f"ledger {self.path}: not readable as SQLite: {exc}")
        return exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            err = self._error(exc)
            if err is exc:
                raise
            raise err from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception."""
        con = self.con
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            err = self._error(exc)
            if err is exc:
                raise
            raise err from exc
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                err = self._error(exc)
                if err is not exc:
                    raise err from exc
            raise

    def _open_schema(self, create: bool, *, upgrade: bool) -> None:
        tables = {r[0] for r in self._query("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            if not create:
                raise LedgerSchemaError(f"ledger {self.path} is empty (not an r2p ledger)")
            with self._transaction() as con:
                # re-check inside the write lock: another process may have created it
                if not con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    for stmt in _DDL:
                        con.execute(stmt)
                    con.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("schema_version", str(SCHEMA_VERSION)),
                         ("application", _APPLICATION),
                         ("created_at", _utc_stamp(what="created_at"))],
                    )
            tables = {
                r[0] for r in self._query("SELECT name FROM sqlite_master WHERE type='table'")
            }
        if "meta" not in tables:
            raise LedgerSchemaError(
                f"ledger {self.path} is not an r2p ledger (no table 'meta'; tables: "
                f"{sorted(tables)})"
            )
        meta = dict(self._query("SELECT key, value FROM meta"))
        version = meta.get("schema_version")
        if meta.get("application") != _APPLICATION:
            raise LedgerSchemaError(
                f"ledger {self.path} is not an r2p ledger (meta application="
                f"{meta.get('application')!r})"
            )
        if version is None or not str(version).isdigit() or int(version) < 1:
            raise LedgerSchemaError(
                f"ledger {self.path} has an unknown schema version {version!r}"
            )
        if int(version) > SCHEMA_VERSION:
            raise LedgerSchemaError(
                f"ledger {self.path} has schema version {version}, newer than this "
                f"r2p-models supports ({SCHEMA_VERSION}); upgrade r2p-models"
            )
        missing = {"forecasts", "issue_log", "resolution_log"} - tables
        if missing:
            raise LedgerSchemaError(f"ledger {self.path} is damaged: missing tables "
                                    f"{sorted(missing)}")
        self.schema_version = int(version)
        if self.schema_version < SCHEMA_VERSION and upgrade:
            self._upgrade()

    def _upgrade(self) -> None:
        """Upgrade a ledger of schema version 1 or 2 to the current one, in one transaction.

        From version 1: adds :data:`_DDL_2` (the REPLACE guards and table
        ``forecast_chain``), chains the rows it holds in id order, and records
        ``upgraded_at`` and ``rows_at_upgrade`` in ``meta``. From version 1 or 2: adds
        :data:`_DDL_3` (table ``pool_weights``) and records ``upgraded_to_3_at``. Another
        process may have upgraded it meanwhile: checked inside the lock.
        """
        with self._transaction() as con:
            (version,) = con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if int(version) >= SCHEMA_VERSION:
                self.schema_version = int(version)
                return
            stamp = _utc_stamp(what="upgraded_at")
            if int(version) < 2:
                for stmt in _DDL_2:
                    con.execute(stmt)
                n = self._chain(con, after_id=0)
                con.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                [("upgraded_at", stamp), ("rows_at_upgrade", str(n))])
            for stmt in _DDL_3:
                con.execute(stmt)
            con.execute("INSERT INTO meta (key, value) VALUES ('upgraded_to_3_at', ?)",
                        (stamp,))
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                        (str(SCHEMA_VERSION),))
        self.schema_version = SCHEMA_VERSION

    @staticmethod
    def _chain(con: sqlite3.Connection, *, after_id: int) -> int:
        """Append the chain hashes of the forecasts with ``id > after_id`` (in the caller's
        transaction, in id order, linked to the last hash stored); returns their count."""
        last = con.execute(
            "SELECT hash FROM forecast_chain ORDER BY forecast_id DESC LIMIT 1").fetchone()
        prev = _GENESIS if last is None else last[0]
        links = []
        for values in con.execute(
                f"SELECT {', '.join(_ISSUED)} FROM forecasts WHERE id > ? ORDER BY id",
                (after_id,)).fetchall():
            prev = _row_hash(prev, values)
            links.append((values[0], prev))
        con.executemany("INSERT INTO forecast_chain (forecast_id, hash) VALUES (?, ?)", links)
        return len(links)

    # ---- issuing

    def issue(
        self,
        rows: pd.DataFrame,
        *,
        source: str,
        kind: Literal["forecast", "backtest", "analyst"],
        run_id: str,
        data_hash: str | None,
        config_hash: str | None,
        issued_at: dt.datetime | None = None,
        ignore_extra_columns: bool = False,
    ) -> IssueResult:
        """Record forecasts, all or nothing.

        Parameters
        ----------
        rows : pandas.DataFrame
            One row per forecast with columns ``origin_year``, ``country``, ``crime``,
            ``target_start``, ``target_end``, ``p_mean`` and optionally ``p_q05``,
            ``p_q50``, ``p_q95`` (NaN: not given) and ``horizon`` (checked to equal
            ``target_end - origin_year``).
        source : str
            Model name and version, or analyst id.
        kind : {'forecast', 'backtest', 'analyst'}
            Real-time forecast, backtest postdiction, or analyst assessment.
        run_id : str
            Identifier of the issuing run.
        data_hash, config_hash : str
            Hashes of the input data and configuration (may be None for analysts only).
        issued_at : datetime, optional
            Timezone-aware issue time; now (UTC) by default.
        ignore_extra_columns : bool, default False
            Whether to ignore columns other than the ones above (else they are an error,
            so a misspelt quantile column is not silently dropped).

        Returns
        -------
        IssueResult
            Counts of inserted and unchanged (already issued, identical) rows.

        Raises
        ------
        LedgerValidationError
            If a column is missing, of the wrong type or out of range (naming the column
            and the first bad rows), or a case appears twice.
        LedgerConflictError
            If a case was already issued by this source and kind with a different value;
            nothing is written.
        LedgerBusyError
            If another writer held the ledger beyond the busy timeout.
        """
        source = _text("source", source)
        run_id = _text("run_id", run_id)
        if kind not in KINDS:
            raise LedgerValidationError(f"kind must be one of {list(KINDS)}, got {kind!r}")
        optional = kind == "analyst"
        data_hash = _opt_text("data_hash", data_hash, optional=optional)
        config_hash = _opt_text("config_hash", config_hash, optional=optional)
        stamp = _utc_stamp(issued_at)
        frame = self._issue_rows(rows, ignore_extra_columns)
        return self._issue_frame(frame, source=source, kind=kind, run_id=run_id,
                                 data_hash=data_hash, config_hash=config_hash, stamp=stamp)

    @staticmethod
    def _issue_rows(rows: pd.DataFrame, ignore_extra_columns: bool) -> pd.DataFrame:
        """The rows of :meth:`issue`, checked, with canonical columns."""
        if not isinstance(rows, pd.DataFrame):
            raise TypeError(f"rows must be a pandas DataFrame, got {type(rows).__name__}")
        missing = [c for c in _FRAME_REQUIRED if c not in rows.columns]
        if missing:
            raise LedgerValidationError(
                f"rows: missing column(s) {missing}; got {list(map(str, rows.columns))}"
            )
        extra = [c for c in rows.columns if c not in (*_FRAME_REQUIRED, *_FRAME_OPTIONAL)]
        if extra and not ignore_extra_columns:
            raise LedgerValidationError(
                f"rows: unexpected column(s) {extra}; allowed: "
                f"{[*_FRAME_REQUIRED, *_FRAME_OPTIONAL]} (or pass ignore_extra_columns=True)"
            )
        if rows.columns.duplicated().any():
            raise LedgerValidationError(
                f"rows: duplicate column name(s) "
                f"{sorted(set(rows.columns[rows.columns.duplicated()]))}"
            )
        if len(rows) == 0:
            raise LedgerValidationError("rows: no forecasts to issue (empty frame)")
        checker = _Rows("rows", [f"row {label!r}" for label in rows.index], {})
        return _validate(rows, checker, text=False)

    def issue_pool(
        self,
        rows: pd.DataFrame,
        weights: pd.DataFrame,
        *,
        source: str,
        kind: Literal["forecast", "backtest"],
        method: str,
        config: str,
        run_id: str,
        data_hash: str,
        config_hash: str,
        issued_at: dt.datetime | None = None,
    ) -> IssueResult:
        """Record a pooled source's forecasts and the weights behind them, all or nothing.

        Used by :func:`r2p_models.pool.pool_sources`. ``rows`` are issued as by
        :meth:`issue` (same checks, idempotence and conflicts) and ``weights`` appended to
        table ``pool_weights`` in the same transaction.

        Parameters
        ----------
        rows : pandas.DataFrame
            The pooled forecasts (columns of :meth:`issue`).
        weights : pandas.DataFrame
            Columns ``origin_year, parameter, input_source, value, lo, hi, prior,
            n_cases`` (may be empty: origins pooled before keep their stored weights).
        source, kind, run_id, data_hash, config_hash, issued_at
            As for :meth:`issue` (``kind`` 'forecast' or 'backtest').
        method : {'linear', 'log', 'beta'}
        config : str
            The pooling configuration (JSON), recorded with each weight.

        Raises
        ------
        LedgerValidationError
            Bad rows or weights (a weight outside [0, 1], a key already recorded, ...).
        LedgerConflictError
            As for :meth:`issue`.
        """
        source = _text("source", source)
        run_id = _text("run_id", run_id)
        if kind not in ("forecast", "backtest"):
            raise LedgerValidationError(f"kind of a pooled source must be 'forecast' or "
                                        f"'backtest', got {kind!r}")
        if method not in POOL_METHODS:
            raise LedgerValidationError(f"method must be one of {list(POOL_METHODS)}, "
                                        f"got {method!r}")
        stamp = _utc_stamp(issued_at)
        frame = self._issue_rows(rows, False)
        cols = [c for c in POOL_COLUMNS if c not in ("id", "pooled_source", "kind", "method",
                                                     "config", "run_id", "created_at")]
        missing = [c for c in cols if c not in weights.columns]
        if missing:
            raise LedgerValidationError(f"weights: missing column(s) {missing}")
        records = [
            (source, kind, method, int(r.origin_year), str(r.parameter), str(r.input_source),
             *(None if pd.isna(v) else float(v) for v in (r.value, r.lo, r.hi, r.prior)),
             int(r.n_cases), config, run_id, stamp)
            for r in weights[cols].itertuples(index=False)
        ]
        names = POOL_COLUMNS[1:]

        def add_weights(con: sqlite3.Connection) -> None:
            con.executemany(f"INSERT INTO pool_weights ({', '.join(names)}) VALUES "
                            f"({', '.join('?' * len(names))})", records)

        return self._issue_frame(frame, source=source, kind=kind, run_id=run_id,
                                 data_hash=_text("data_hash", data_hash),
                                 config_hash=_text("config_hash", config_hash), stamp=stamp,
                                 also=add_weights)

    def _issue_frame(
        self, frame: pd.DataFrame, *, source: str, kind: str, run_id: str,
        data_hash: str | None, config_hash: str | None, stamp: str,
        also: Any = None,
    ) -> IssueResult:
        """Issue checked rows in one transaction (``also(con)``, if given, runs in it)."""
        with self._transaction() as con:
            existing = pd.DataFrame(
                con.execute(
                    f"SELECT {', '.join(_CASE)}, {', '.join(_PROBS)}, run_id, issued_at "
                    "FROM forecasts WHERE source = ? AND kind = ? AND origin_year BETWEEN ? AND ?",
                    (source, kind, int(frame.origin_year.min()), int(frame.origin_year.max())),
                ).fetchall(),
                columns=[*_CASE, *_PROBS, "run_id", "issued_at"],
            )
            existing = existing.astype({c: "int64" for c in _YEARS} |
                                       {c: "float64" for c in _PROBS})
            # a left merge keeps the frame's row order; keys are unique on both sides
            merged = frame.merge(
                existing, on=list(_CASE), how="left", suffixes=("", "_old"), indicator=True
            )
            old = (merged["_merge"] == "both").to_numpy()
            same = np.ones(len(merged), dtype=bool)
            for c in _PROBS:
                same &= _same(merged[c].to_numpy(float), merged[f"{c}_old"].to_numpy(float))
            conflict = old & ~same
            if conflict.any():
                raise LedgerConflictError(_conflict_message(merged[conflict], source, kind,
                                                            self.path))
            new = frame.loc[~old]
            (last_id,) = con.execute("SELECT coalesce(max(id), 0) FROM forecasts").fetchone()
            self._insert(con, self._records(new, source=source, kind=kind, run_id=run_id,
                                            stamp=stamp, data_hash=data_hash,
                                            config_hash=config_hash))
            self._chain(con, after_id=last_id)  # the rows just inserted, in issue order
            con.execute(
                "INSERT INTO issue_log (run_id, source, kind, issued_at, data_hash, config_hash,"
                " n_inserted, n_unchanged) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, source, kind, stamp, data_hash, config_hash, len(new), int(old.sum())),
            )
            if also is not None:
                also(con)
        return IssueResult(run_id=run_id, source=source, kind=kind, issued_at=stamp,
                           inserted=len(new), unchanged=int(old.sum()))

    @staticmethod
    def _records(frame: pd.DataFrame, **const: Any) -> list[tuple[Any, ...]]:
        n = len(frame)
        cols: list[list[Any]] = []
        for c in _ISSUED[1:]:  # all but id
            if c in ("source", "kind", "run_id", "data_hash", "config_hash"):
                cols.append([const[c]] * n)
            elif c == "issued_at":
                cols.append([const["stamp"]] * n)
            else:
                cols.append(_sql_none(frame[c].tolist()))
        return list(zip(*cols, strict=True))

    def _insert(self, con: sqlite3.Connection, records: list[tuple[Any, ...]]) -> None:
        """Insert issued rows (inside the caller's transaction)."""
        names = _ISSUED[1:]
        con.executemany(
            f"INSERT INTO forecasts ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            records,
        )

    def import_analyst_csv(
        self, path: str | os.PathLike[str], *, analyst_id: str, run_id: str | None = None,
        issued_at: dt.datetime | None = None,
    ) -> IssueResult:
        """Import a human analyst's assessments from CSV, all or nothing.

        Parameters
        ----------
        path : str or Path
            CSV with a header and columns ``origin_year``, ``country``, ``crime``,
            ``target_start``, ``target_end``, ``p`` and optionally ``p_q05``, ``p_q50``,
            ``p_q95`` (empty cell: not given). Other columns are an error.
        analyst_id : str
            The source recorded for these rows (kind ``'analyst'``).
        run_id : str, optional
            Defaults to ``analyst:<analyst_id>:<first 12 hex digits of the file's sha256>``,
            so re-importing the same file is an idempotent no-op.
        issued_at : datetime, optional
            Timezone-aware issue time; now (UTC) by default.

        Returns
        -------
        IssueResult

        Raises
        ------
        LedgerValidationError
            Naming the file, the column and the first bad rows (data row number and file
            line): among others, quantiles out of order (``p_q05 <= p_q50 <= p_q95``) or
            outside ``p`` (``p_q05 <= p <= p_q95``, where given).
        LedgerConflictError
            If the analyst already issued a case with a different value.
        """
        path = Path(path)
        analyst_id = _text("analyst_id", analyst_id)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LedgerValidationError(f"{path}: cannot read analyst CSV: {exc}") from exc
        digest = hashlib.sha256(raw).hexdigest()
        if run_id is None:
            run_id = f"analyst:{analyst_id}:{digest[:12]}"
        run_id = _text("run_id", run_id)
        stamp = _utc_stamp(issued_at)
        table, labels = _read_csv_cells(path, raw)
        missing = [c for c in _CSV_REQUIRED if c not in table.columns]
        if missing:
            raise LedgerValidationError(
                f"{path}: missing column(s) {missing}; got {list(table.columns)}"
            )
        extra = [c for c in table.columns if c not in (*_CSV_REQUIRED, *_CSV_OPTIONAL)]
        if extra:
            raise LedgerValidationError(
                f"{path}: unexpected column(s) {extra}; allowed: "
                f"{[*_CSV_REQUIRED, *_CSV_OPTIONAL]}"
            )
        if len(table) == 0:
            raise LedgerValidationError(f"{path}: no assessments (header only)")
        table = table.rename(columns={"p": "p_mean"})
        checker = _Rows(str(path), labels, {"p_mean": "p"})
        frame = _validate(table, checker, text=True)
        # an analyst's own interval must contain the point forecast (a model's posterior
        # mean can lie outside its 5-95 % interval when the draws are skewed: not checked)
        for lo, hi in (("p_q05", "p_mean"), ("p_mean", "p_q95")):
            if lo in table and hi in table:
                shown = table[lo].astype(str) + " > " + table[hi].astype(str)
                with np.errstate(invalid="ignore"):
                    checker.fail_col(lo, f"must not exceed {checker.col(hi)!r}",
                                     frame[lo].to_numpy() > frame[hi].to_numpy(), shown)
        return self._issue_frame(frame, source=analyst_id, kind="analyst", run_id=run_id,
                                 data_hash=f"sha256:{digest}", config_hash=None, stamp=stamp)

    # ---- resolution

    def resolve(
        self,
        outcomes: xr.DataArray | xr.Dataset,
        *,
        outcome_source: str,
        observed_through: int,
        ongoing: xr.DataArray | None = None,
        on_conflict: Literal["raise", "warn"] = "raise",
        resolved_at: dt.datetime | None = None,
    ) -> int:
        """Fill in outcomes of pending rows whose window has been observed.

        Parameters
        ----------
        outcomes : xarray.DataArray or xarray.Dataset
            ``onset(country, year, crime)`` with values 1, 0 or NaN, or a panel Dataset
            (its ``onset``, and ``ongoing`` and ``present`` when it has them).
        outcome_source : str
            What the outcomes come from (e.g. file name and data hash), recorded per row.
        observed_through : int
            Last year whose outcomes are known. Windows ending later are never resolved.
        ongoing : xarray.DataArray, optional
            ``ongoing(country, year, crime)``, 1 while an episode is under way (such a year
            is not at risk of onset). Overrides the Dataset's ``ongoing``.
        on_conflict : {'raise', 'warn'}, default 'raise'
            What to do if the outcomes disagree with an already resolved row: raise
            :class:`LedgerConflictError` and write nothing, or keep the stored outcome,
            warn (:class:`LedgerResolutionWarning`) and resolve the rest.
        resolved_at : datetime, optional
            Timezone-aware resolution time; now (UTC) by default.

        Returns
        -------
        int
            Rows newly resolved (``observed`` or ``not_at_risk``) by this call.
        """
        outcome_source = _text("outcome_source", outcome_source)
        if isinstance(observed_through, bool) or not isinstance(observed_through,
                                                                numbers.Integral):
            raise LedgerValidationError(
                f"observed_through must be an integer year, got {observed_through!r}"
            )
        observed_through = int(observed_through)
        if on_conflict not in ("raise", "warn"):
            raise LedgerValidationError(
                f"on_conflict must be 'raise' or 'warn', got {on_conflict!r}"
            )
        stamp = _utc_stamp(resolved_at, what="resolved_at")
        status = _year_status(outcomes, ongoing)

        with self._transaction() as con:
            cand = pd.DataFrame(
                con.execute(
                    "SELECT id, source, origin_year, country, crime, target_start, target_end, "
                    "outcome, outcome_status, outcome_source FROM forecasts "
                    "WHERE target_end <= ? ORDER BY id",
                    (observed_through,),
                ).fetchall(),
                columns=["id", "source", "origin_year", "country", "crime", "target_start",
                         "target_end", "outcome", "outcome_status", "outcome_source"],
            )
            if cand.empty:
                new_status = pd.Series([], dtype=object)
                new_outcome = pd.Series([], dtype="float64")
            else:
                new_status, new_outcome = _window_outcomes(cand, status)
            pending = (cand.outcome_status == "pending").to_numpy()
            known = (new_status != "pending").to_numpy()
            old_outcome = cand.outcome.astype("float64").to_numpy()
            differs = (
                (new_status.to_numpy() != cand.outcome_status.to_numpy())
                | ~_same(new_outcome.to_numpy(float), old_outcome)
            )
            conflict = ~pending & known & differs
            if conflict.any() and on_conflict == "raise":
                raise LedgerConflictError(
                    _resolution_conflict_message(cand[conflict], new_status[conflict],
                                                 new_outcome[conflict], outcome_source)
                )
            todo = pending & known
            updates = [
                (None if np.isnan(o) else int(o), s, stamp, outcome_source, int(i))
                for o, s, i in zip(new_outcome[todo], new_status[todo], cand.id[todo],
                                   strict=True)
            ]
            con.executemany(
                "UPDATE forecasts SET outcome = ?, outcome_status = ?, resolved_at = ?, "
                "outcome_source = ? WHERE id = ? AND outcome_status = 'pending'",
                updates,
            )
            con.execute(
                "INSERT INTO resolution_log (resolved_at, outcome_source, observed_through, "
                "n_resolved, n_conflicts) VALUES (?, ?, ?, ?, ?)",
                (stamp, outcome_source, observed_through, len(updates), int(conflict.sum())),
            )
        if conflict.any():
            warnings.warn(
                _resolution_conflict_message(cand[conflict], new_status[conflict],
                                             new_outcome[conflict], outcome_source,
                                             kept=True),
                LedgerResolutionWarning,
                stacklevel=2,
            )
        return len(updates)

    # ---- reading

    def rows(self, **filters: Any) -> pd.DataFrame:
        """Rows of the ledger as a DataFrame, optionally filtered by column values.

        Parameters
        ----------
        **filters
            ``column=value`` (equality; None: IS NULL) or ``column=[v1, v2]`` (any of).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`COLUMNS` in order, sorted by ``id``: years and ``id`` int64,
            probabilities and ``outcome`` float64 (NaN: not given / not resolved), text
            columns strings (missing when NULL).
        """
        where, params = [], []
        for col, value in filters.items():
            if col not in COLUMNS:
                raise LedgerValidationError(
                    f"rows(): unknown column {col!r}; columns are {list(COLUMNS)}"
                )
            if value is None:
                where.append(f"{col} IS NULL")
            elif isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Index)):
                vals = [v.item() if isinstance(v, np.generic) else v for v in value]
                if not vals:
                    where.append("0")
                    continue
                where.append(f"{col} IN ({', '.join('?' * len(vals))})")
                params.extend(vals)
            else:
                where.append(f"{col} = ?")
                params.append(value.item() if isinstance(value, np.generic) else value)
        sql = f"SELECT {', '.join(COLUMNS)} FROM forecasts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        df = pd.DataFrame(self._query(sql + " ORDER BY id", params), columns=list(COLUMNS))
        ints = ("id", "origin_year", "horizon", "target_start", "target_end")
        floats = (*_PROBS, "outcome")
        return df.astype({c: "int64" for c in ints} | {c: "float64" for c in floats})

    def pool_weights(self, pooled_source: str | None = None) -> pd.DataFrame:
        """The weights of pooled sources (table ``pool_weights``), sorted by ``id``.

        Parameters
        ----------
        pooled_source : str, optional
            Only this pooled source's rows.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`POOL_COLUMNS`: per pooled source, kind and origin, one
            ``parameter='weight'`` row per input source (``value`` the weight, ``lo``/``hi``
            its interval, ``prior`` its prior weight, ``n_cases`` the training cases) and,
            for the beta pool, rows ``beta_a`` and ``beta_b`` (``input_source`` empty).
            Empty for a ledger that predates the table (schema 2, read where it cannot be
            upgraded).
        """
        present = self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                              "'pool_weights'")
        rows: list[tuple[Any, ...]] = []
        if present:
            sql = f"SELECT {', '.join(POOL_COLUMNS)} FROM pool_weights"
            params: tuple[Any, ...] = ()
            if pooled_source is not None:
                sql += " WHERE pooled_source = ?"
                params = (pooled_source,)
            rows = self._query(sql + " ORDER BY id", params)
        df = pd.DataFrame(rows, columns=list(POOL_COLUMNS))
        return df.astype({"id": "int64", "origin_year": "int64", "n_cases": "int64",
                          "value": "float64", "lo": "float64", "hi": "float64",
                          "prior": "float64"})

    def runs(self) -> pd.DataFrame:
        """The runs that issued to this ledger, from the issue log.

        Returns
        -------
        pandas.DataFrame
            One row per (run_id, source, kind, data_hash, config_hash), in order of first
            issue: ``issued_at`` (first), ``n_rows`` (rows it inserted), ``n_unchanged``
            (already issued, identical), ``n_calls`` and ``n_resolved`` (of its rows).
        """
        cols = ["run_id", "source", "kind", "issued_at", "n_rows", "n_unchanged", "n_calls",
                "n_resolved", "data_hash", "config_hash"]
        sql = """
            SELECT l.run_id, l.source, l.kind, min(l.issued_at), sum(l.n_inserted),
                   sum(l.n_unchanged), count(*),
                   (SELECT count(*) FROM forecasts f WHERE f.run_id = l.run_id
                       AND f.source = l.source AND f.kind = l.kind
                       AND f.outcome_status <> 'pending'),
                   l.data_hash, l.config_hash
            FROM issue_log l
            GROUP BY l.run_id, l.source, l.kind, l.data_hash, l.config_hash
            ORDER BY min(l.id)"""
        df = pd.DataFrame(self._query(sql), columns=cols)
        return df.astype({c: "int64" for c in ("n_rows", "n_unchanged", "n_calls",
                                                "n_resolved")})

    def export_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write every row to CSV atomically (temp file in the same folder, then rename).

        Columns are :data:`EXPORT_COLUMNS`; ``outcome`` is written as 1, 0 or empty.
        Probabilities are written with full precision (they read back bit-identical).

        Returns
        -------
        Path
            The written file.
        """
        path = Path(path)
        df = self.rows()
        df["outcome"] = df["outcome"].astype("Int64")
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False, lineterminator="\n")
        return path

    # ---- verification

    def verify(self) -> LedgerCheck:
        """Check that the file is sound and that no issued row was changed behind r2p's back.

        In order: SQLite's ``PRAGMA integrity_check``; the schema version; every table,
        index and trigger exactly as :data:`SCHEMA_VERSION` defines it, and no other (a
        dropped, changed or added trigger could let rows be rewritten); then the hash chain:
        each issued row must have the hash stored when it was issued, the sha256 of the
        previous row's hash and its own issued values (:func:`_row_hash`), so a value
        edited with the triggers dropped, or a row written outside r2p-models, is found
        even when the triggers were put back. Reads only, in one read transaction.

        Returns
        -------
        LedgerCheck
            What was checked (:meth:`LedgerCheck.summary` is a one-line report).

        Raises
        ------
        LedgerIntegrityError
            Naming the ledger and the first problem (the first bad row: id, source, case).
        """
        con = self.con
        con.execute("BEGIN")  # one snapshot: a writer committing meanwhile is not seen
        try:
            return self._verify(con)
        except sqlite3.DatabaseError as exc:
            raise LedgerIntegrityError(
                f"ledger {self.path}: damaged, SQLite cannot read it: {exc}") from exc
        finally:
            con.execute("ROLLBACK")

    def _verify(self, con: sqlite3.Connection) -> LedgerCheck:
        where = f"ledger {self.path}"
        problems = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise LedgerIntegrityError(f"{where}: PRAGMA integrity_check found {len(problems)}"
                                       f" problem(s), e.g. {problems[0]!r}")
        if self.schema_version < SCHEMA_VERSION:
            lacks = ("the REPLACE guards and the hash chain" if self.schema_version < 2
                     else "table pool_weights")
            raise LedgerIntegrityError(
                f"{where}: schema version {self.schema_version} predates {lacks}, and the "
                "file could not be upgraded (it is not writable here); open it once where it "
                "is writable (any r2p command upgrades it)"
            )
        expected = _expected_schema()
        found = _schema_objects(con)
        for (kind, name), sql in expected.items():
            if (kind, name) not in found:
                raise LedgerIntegrityError(f"{where}: {kind} {name!r} is missing")
            if found[(kind, name)] != sql:
                raise LedgerIntegrityError(f"{where}: {kind} {name!r} differs from the r2p "
                                           f"schema: {found[(kind, name)]!r}")
        extra = sorted(set(found) - set(expected))
        if extra:
            raise LedgerIntegrityError(f"{where}: {extra[0][0]} {extra[0][1]!r} is not part "
                                       "of the r2p schema")
        names = ", ".join(f"f.{c}" for c in _ISSUED)
        rows = con.execute(f"SELECT {names}, c.hash FROM forecasts f LEFT JOIN forecast_chain "
                           "c ON c.forecast_id = f.id ORDER BY f.id").fetchall()
        prev, bad = _GENESIS, []
        for *values, stored in rows:
            if stored is None:
                bad.append((values, "has no chain hash (written outside r2p-models)"))
                continue
            if _row_hash(prev, values) != stored:
                bad.append((values, "does not match the hash chained when it was issued "
                                    "(its issued values or the chain were edited)"))
            prev = stored
        if bad:
            values, problem = bad[0]
            r = dict(zip(_ISSUED, values, strict=True))
            more = f"; {len(bad)} bad rows in all" if len(bad) > 1 else ""
            raise LedgerIntegrityError(
                f"{where}: forecast id {r['id']} (source {r['source']!r}, {r['kind']}, origin "
                f"{r['origin_year']}, country {r['country']!r}, crime {r['crime']!r}, window "
                f"{r['target_start']}-{r['target_end']}, issued {r['issued_at']}) "
                f"{problem}{more}"
            )
        orphan = con.execute("SELECT min(forecast_id), count(*) FROM forecast_chain WHERE "
                             "forecast_id NOT IN (SELECT id FROM forecasts)").fetchone()
        if orphan[1]:
            raise LedgerIntegrityError(f"{where}: forecast_chain has {orphan[1]} hash(es) of "
                                       f"rows that are gone, e.g. forecast id {orphan[0]}")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        upgraded = None
        if "upgraded_at" in meta:
            upgraded = (f"upgraded from schema 1 at {meta['upgraded_at']}: the "
                        f"{meta.get('rows_at_upgrade', '?')} rows it held were chained then")
        return LedgerCheck(
            path=self.path, schema_version=self.schema_version, n_forecasts=len(rows),
            head=prev, n_triggers=sum(kind == "trigger" for kind, _ in expected),
            upgraded=upgraded,
        )

    # ---- locking

    def run_lock(self, wait: bool | float = False) -> contextlib.AbstractContextManager[Path]:
        """The advisory one-run-at-a-time lock of this ledger; see :func:`ledger_lock`."""
        return ledger_lock(self.path, wait=wait)


# ------------------------------------------------------------------- resolution helpers

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
            f"onset: values must be 1, 0 or NaN; found {_show(vals[c, y, k])} at country "
            f"{_show(onset.country.values[c])}, year {onset.year.values[y]}, crime "
            f"{_show(onset.crime.values[k])} ({int(bad.sum())} bad values)"
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


def _prob(v: Any) -> str:
    v = float(v)
    return "none" if np.isnan(v) else repr(v)


def _conflict_message(conf: pd.DataFrame, source: str, kind: str, path: Path) -> str:
    r = conf.iloc[0]
    diffs = [f"{c} {_prob(r[f'{c}_old'])} (now {_prob(r[c])})" for c in _PROBS
             if not _same(np.array([r[c]], float), np.array([r[f"{c}_old"]], float))[0]]
    return (
        f"ledger {path}: {len(conf)} forecast(s) already issued with different values; "
        f"e.g. source {source!r} ({kind}), origin {r.origin_year}, country {r.country!r}, "
        f"crime {r.crime!r}, window {r.target_start}-{r.target_end}: issued "
        f"{', '.join(diffs)} in run {r.run_id!r} at {r.issued_at}; issued forecasts are "
        "immutable (issue a new model version as a new source); nothing was written"
    )


# ------------------------------------------------------------------------ file helpers

def _read_csv_cells(path: Path, raw: bytes) -> tuple[pd.DataFrame, list[str]]:
    """CSV cells as stripped strings, with a label per data row naming its file line.

    The stdlib reader is used (not pandas) because it reports the exact line of every
    record, so errors can name the line an analyst sees in an editor.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LedgerValidationError(f"{path}: not UTF-8 text: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[list[str]] = []
    labels: list[str] = []
    try:
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue  # blank line
            if header is None:
                header = [c.strip() for c in cells]
                dups = sorted({c for c in header if header.count(c) > 1})
                if dups:
                    raise LedgerValidationError(f"{path}: duplicate column(s) {dups}")
                continue
            if len(cells) != len(header):
                raise LedgerValidationError(
                    f"{path}: line {reader.line_num} has {len(cells)} cells, the header "
                    f"has {len(header)}"
                )
            records.append([c.strip() for c in cells])
            labels.append(f"row {len(records)} (line {reader.line_num})")
    except csv.Error as exc:
        raise LedgerValidationError(f"{path}: line {reader.line_num}: bad CSV: {exc}") from exc
    if header is None:
        raise LedgerValidationError(f"{path}: empty file (no header)")
    return pd.DataFrame(records, columns=header, dtype=object), labels


def export_ledger_csv(ledger: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Export an existing ledger to CSV (``r2p ledger export --ledger PATH --out rows.csv``).

    Raises
    ------
    LedgerNotFoundError
        If ``ledger`` does not exist (it is never created by an export).
    """
    with Ledger(ledger, readonly=True) as led:
        return led.export_csv(out)


def verify_ledger(ledger: str | os.PathLike[str]) -> LedgerCheck:
    """Verify an existing ledger (``r2p ledger verify --ledger PATH``); see
    :meth:`Ledger.verify`. Reads only (a schema-1 ledger that can be written is upgraded
    when opened, as by any r2p command).

    Raises
    ------
    LedgerIntegrityError
        Naming the first problem found.
    LedgerNotFoundError, LedgerAccessError, LedgerSchemaError
        If the file does not exist, cannot be read, or is not an r2p ledger.
    """
    with Ledger(ledger, readonly=True) as led:
        return led.verify()


#: Run locks held by this process: lock file -> [pid, thread, depth] (the pid tells a forked
#: child, which inherits this dict but not the lock, from its parent).
_HELD: dict[str, list[int]] = {}


@contextlib.contextmanager
def ledger_lock(path: str | os.PathLike[str], wait: bool | float = False) -> Iterator[Path]:
    """Hold the advisory run lock of a ledger: one writing run at a time.

    Every r2p command that writes to a ledger holds it for the whole run (``rerun``,
    ``pipeline``, ``backtest``, ``resolve``, ``ledger import-analyst``, ``ledger
    recalibrate``); readers do not take it. An exclusive ``fcntl.flock`` on
    ``<ledger>.lock``, released when the block exits or the process dies. The holder's pid,
    host and start time are written into the file for the error message of the next
    contender; the file is removed when the lock is released (a contender that locked a
    file removed meanwhile retries on the new one). The lock is advisory: it orders runs;
    single writes are protected by SQLite's own locking anyway.

    The lock is re-entrant in the thread that holds it (``pipeline`` holds it and calls
    ``run_backtest`` and ``rerun``, which take it too): an inner block is a no-op and the
    lock is released when the outermost block exits. Another thread or process is refused.

    Parameters
    ----------
    path : str or Path
        The ledger file (need not exist yet; its folder must).
    wait : bool or float, default False
        False: refuse at once if held; True: wait as long as needed; a number: wait up to
        that many seconds.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    LedgerLockedError
        If another run (another process, or another thread of this one) holds the lock.
    LedgerAccessError, LedgerNotFoundError
        If ``path`` is a folder, the ledger or its folder is not writable, or the folder
        does not exist (checked before the lock file is created).
    """
    path = Path(path)
    _check_path(path, write=True)
    lock_path = Path(f"{os.fspath(path)}.lock")
    key = os.path.realpath(lock_path)
    held = _HELD.get(key)
    if held is not None and held[:2] == [os.getpid(), threading.get_ident()]:
        held[2] += 1
        try:
            yield lock_path
        finally:
            held[2] -= 1
        return
    fd = _acquire(path, lock_path, wait)
    try:
        _HELD[key] = [os.getpid(), threading.get_ident(), 1]
        info = f"pid {os.getpid()} on {socket.gethostname()} since {_utc_stamp()}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        try:
            yield lock_path
        finally:
            del _HELD[key]
            lock_path.unlink(missing_ok=True)  # while still holding it: see _acquire
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(path: Path, lock_path: Path, wait: bool | float) -> int:
    """Open and flock ``lock_path``; return the descriptor of the locked file.

    A holder removes the file before it unlocks it, so a contender that was waiting on the
    old file gets a lock on a file no longer at ``lock_path``: it then retries on the file
    now there (created anew if needed), so two runs never hold locks on different files.
    """
    timeout = None if wait is True else 0.0 if wait is False else float(wait)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerAccessError(f"ledger {path}: cannot create its lock file {lock_path}: "
                                    f"{exc.strerror}") from exc
        try:
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
                            raise LedgerLockedError(
                                f"ledger {path} is locked by another run "
                                f"({holder or 'holder unknown'}; lock file {lock_path})"
                                + (f"; waited {timeout:g} s" if timeout else "")
                            ) from None
                        time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
            mine = os.fstat(fd)
            try:
                there = os.stat(lock_path)
            except FileNotFoundError:
                there = None
        except BaseException:
            os.close(fd)
            raise
        if there is not None and (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)  # locked a file its holder had removed: retry on the current one
