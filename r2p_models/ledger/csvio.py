"""The analyst CSV format read by :meth:`~r2p_models.ledger.store.Ledger.import_analyst_csv`:
its columns, and a reader that keeps the file line of every record so errors name the line
an analyst sees in an editor. (The export, :meth:`~r2p_models.ledger.store.Ledger.export_csv`
and :func:`~r2p_models.ledger.store.export_ledger_csv`, opens a ledger and so lives in
:mod:`r2p_models.ledger.store`.)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from r2p_models.ledger.errors import LedgerValidationError

__all__: list[str] = []  # helpers of the ledger package only

_CSV_REQUIRED = ("origin_year", "country", "crime", "target_start", "target_end", "p")
_CSV_OPTIONAL = ("p_q05", "p_q50", "p_q95")


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
