"""Exception types shared by every layer (a leaf module: imports nothing of the package)."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from a user: a config, a table, a ledger file, an argument.

    The message is one line that names the file, the column or key and the first
    offending rows, and nothing has been written. The CLI turns it into exit code 2.
    """
