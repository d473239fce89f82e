"""Errors and warnings of the forecast ledger: :class:`LedgerError` and what each refusal
means (see :mod:`r2p_models.ledger` for the contract they enforce)."""

from __future__ import annotations

from r2p_models.errors import InputError

__all__ = [
    "LedgerAccessError",
    "LedgerBusyError",
    "LedgerConflictError",
    "LedgerError",
    "LedgerIntegrityError",
    "LedgerLockedError",
    "LedgerNotFoundError",
    "LedgerResolutionWarning",
    "LedgerSchemaError",
    "LedgerValidationError",
]

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
