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

Modules
-------
The package is split by concept; every public name is also importable from
:mod:`r2p_models.ledger` itself:

- :mod:`.schema`: schema version, columns, SQL tables and triggers, the hash chain;
- :mod:`.validate`: validation of forecast rows and names before they are issued;
- :mod:`.store`: :class:`Ledger`, :func:`export_ledger_csv`, :func:`verify_ledger`;
- :mod:`.resolve`: the resolution rules (outcomes of windows from newer data);
- :mod:`.csvio`: the analyst CSV format;
- :mod:`.lock`: the advisory run lock, :func:`ledger_lock`;
- :mod:`.access`: checks of a ledger path before anything is opened;
- :mod:`.errors`: the errors and the warning.
"""

from __future__ import annotations

from r2p_models.ledger.errors import (
    LedgerAccessError,
    LedgerBusyError,
    LedgerConflictError,
    LedgerError,
    LedgerIntegrityError,
    LedgerLockedError,
    LedgerNotFoundError,
    LedgerResolutionWarning,
    LedgerSchemaError,
    LedgerValidationError,
)
from r2p_models.ledger.lock import ledger_lock
from r2p_models.ledger.schema import (
    COLUMNS,
    EXPORT_COLUMNS,
    KEY_COLUMNS,
    KINDS,
    P_ATOL,
    POOL_COLUMNS,
    POOL_METHODS,
    POOL_PARAMETERS,
    SCHEMA_VERSION,
    STATUSES,
    YEAR_MAX,
    YEAR_MIN,
)
from r2p_models.ledger.store import (
    DEFAULT_BUSY_TIMEOUT,
    IssueResult,
    Ledger,
    LedgerCheck,
    export_ledger_csv,
    verify_ledger,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_BUSY_TIMEOUT",
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
