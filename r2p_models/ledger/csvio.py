"""The analyst CSV format read by :meth:`~r2p_models.ledger.store.Ledger.import_analyst_csv`:
its columns, and a reader that keeps the file line of every record so errors name the line
an analyst sees in an editor. (The export, :meth:`~r2p_models.ledger.store.Ledger.export_csv`
and :func:`~r2p_models.ledger.store.export_ledger_csv`, opens a ledger and so lives in
:mod:`r2p_models.ledger.store`.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from r2p_models.checks import csv_records
from r2p_models.errors import decode_utf8
from r2p_models.ledger.errors import LedgerValidationError

__all__: list[str] = []  # helpers of the ledger package only

_CSV_REQUIRED = ("origin_year", "country", "crime", "target_start", "target_end", "p")
_CSV_OPTIONAL = ("p_q05", "p_q50", "p_q95")


def _read_csv_cells(path: Path, raw: bytes) -> tuple[pd.DataFrame, list[int]]:
    """CSV cells as stripped strings, with the file line each data row starts on.

    The stdlib reader is used (not pandas) because it reports the exact line of every
    record, so errors can name the line an analyst sees in an editor. Rows whose cells are
    all blank are skipped, as blank lines are.
    """
    text = decode_utf8(raw, str(path), LedgerValidationError)
    header, records, lines = csv_records(text, str(path), LedgerValidationError)
    if not header:
        raise LedgerValidationError(f"{path}: empty file (no header)")
    header = [c.strip() for c in header]
    dups = sorted({c for c in header if header.count(c) > 1})
    if dups:
        raise LedgerValidationError(f"{path}: duplicate column(s) {dups}")
    keep = [i for i, cells in enumerate(records) if any(c.strip() for c in cells)]
    cells = [[c.strip() for c in records[i]] for i in keep]
    return pd.DataFrame(cells, columns=header, dtype=object), [lines[i] for i in keep]
