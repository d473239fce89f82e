"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every module that writes a user-visible file (tables, configs, saved models, reports,
exports) goes through here, so "writes are atomic" is true in one place.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "remove_stale_temporaries"]

#: Names of the temporary files of :func:`atomic_path`: ``.<name>.<8 random chars>.tmp``
#: (:func:`tempfile.mkstemp`'s random part).
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with atomic_path("model.nc") as tmp:  # doctest: +SKIP
    ...     idata.to_netcdf(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` left in ``folder`` (not below it).

    A process killed while writing (e.g. during a model save) leaves its
    ``.<name>.<random>.tmp`` behind; the target file was never replaced. Call this only
    when no other writer can be working in ``folder`` (e.g. under the ledger's run lock,
    for a run folder): a temporary being written is indistinguishable from a stale one.

    Returns
    -------
    list of Path
        The files removed, sorted.
    """
    folder = Path(folder)
    stale = sorted(p for p in folder.iterdir() if _TEMPORARY.fullmatch(p.name) and p.is_file())
    for p in stale:
        p.unlink()
    return stale


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
