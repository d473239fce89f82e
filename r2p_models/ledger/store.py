"""The store: :class:`Ledger`, an open ledger file (issuing, resolving, reading, exporting
and verifying rows, each write one transaction), and the one-call openers
:func:`export_ledger_csv` and :func:`verify_ledger`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import numbers
import os
import sqlite3
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.atomic import atomic_path
from r2p_models.checks import Rows, has_columns
from r2p_models.ledger.access import _check_path, _writable
from r2p_models.ledger.csvio import _CSV_OPTIONAL, _CSV_REQUIRED, _read_csv_cells
from r2p_models.ledger.errors import (
    LedgerAccessError,
    LedgerBusyError,
    LedgerConflictError,
    LedgerError,
    LedgerIntegrityError,
    LedgerResolutionWarning,
    LedgerSchemaError,
    LedgerValidationError,
)
from r2p_models.ledger.lock import ledger_lock
from r2p_models.ledger.resolve import (
    _resolution_conflict_message,
    _window_outcomes,
    _year_status,
)
from r2p_models.ledger.schema import (
    _APPLICATION,
    _CASE,
    _DDL,
    _DDL_2,
    _DDL_3,
    _GENESIS,
    _ISSUED,
    _PROBS,
    _YEARS,
    COLUMNS,
    KINDS,
    POOL_COLUMNS,
    POOL_METHODS,
    SCHEMA_VERSION,
    _expected_schema,
    _row_hash,
    _schema_objects,
    _utc_stamp,
)
from r2p_models.ledger.validate import (
    _FRAME_OPTIONAL,
    _FRAME_REQUIRED,
    _opt_text,
    _same,
    _sql_none,
    _text,
    _validate,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "IssueResult",
    "Ledger",
    "LedgerCheck",
    "export_ledger_csv",
    "verify_ledger",
]

DEFAULT_BUSY_TIMEOUT = 30.0


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


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


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


class Ledger:
    """An open forecast ledger (one SQLite file); see :mod:`r2p_models.ledger` for the contract.

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
        checker = Rows.index("rows", rows.index, LedgerValidationError)
        has_columns(rows.columns, _FRAME_REQUIRED, checker)
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
        return _validate(rows, checker, {}, text=False)

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
        table, lines = _read_csv_cells(path, raw)
        checker = Rows.lines(str(path), lines, LedgerValidationError)
        has_columns(table.columns, _CSV_REQUIRED, checker)
        extra = [c for c in table.columns if c not in (*_CSV_REQUIRED, *_CSV_OPTIONAL)]
        if extra:
            raise LedgerValidationError(
                f"{path}: unexpected column(s) {extra}; allowed: "
                f"{[*_CSV_REQUIRED, *_CSV_OPTIONAL]}"
            )
        if len(table) == 0:
            raise LedgerValidationError(f"{path}: no assessments (header only)")
        table = table.rename(columns={"p": "p_mean"})
        names = {"p_mean": "p"}
        frame = _validate(table, checker, names, text=True)
        # an analyst's own interval must contain the point forecast (a model's posterior
        # mean can lie outside its 5-95 % interval when the draws are skewed: not checked)
        for lo, hi in (("p_q05", "p_mean"), ("p_mean", "p_q95")):
            if lo in table and hi in table:
                shown = table[lo].astype(str) + " > " + table[hi].astype(str)
                with np.errstate(invalid="ignore"):
                    checker.fail(frame[lo].to_numpy() > frame[hi].to_numpy(),
                                 f"must not exceed {names.get(hi, hi)!r}",
                                 column=names.get(lo, lo), shown=shown)
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
