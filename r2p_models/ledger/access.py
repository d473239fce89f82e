"""Checks of a ledger path before anything is opened or created: a folder, a missing file
or folder, or a file or folder that cannot be read (or, for a writer, written) is refused
with a one-line error, before SQLite or the run lock creates any file.
"""

from __future__ import annotations

import os
from pathlib import Path

from r2p_models.ledger.errors import LedgerAccessError, LedgerNotFoundError

__all__: list[str] = []  # helpers of the ledger package only

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
