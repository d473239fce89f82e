"""The ledger's database layout: the schema version and the other constants of the
contract, the columns, the SQL tables, indexes and triggers of each schema version (a
version 1 or 2 ledger gets the later ones when upgraded), and the hash chain of issued rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from r2p_models.crimes import CRIMES
from r2p_models.ledger.errors import LedgerValidationError

__all__ = [
    "COLUMNS",
    "EXPORT_COLUMNS",
    "KEY_COLUMNS",
    "KINDS",
    "POOL_COLUMNS",
    "POOL_METHODS",
    "POOL_PARAMETERS",
    "P_ATOL",
    "SCHEMA_VERSION",
    "STATUSES",
    "YEAR_MAX",
    "YEAR_MIN",
]

#: Version of the database layout written by this package (1: before the REPLACE guards and
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


_APPLICATION = "r2p-models forecast ledger"
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


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
#: The layout this package writes (schema version :data:`SCHEMA_VERSION`).
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
