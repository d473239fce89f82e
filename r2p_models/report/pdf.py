"""The report as PDF, printed from the same HTML by headless Chromium.

Chromium lays out the page with the report's print styles (A4 landscape, tables at print
size, the tables behind the time and region figures expanded) and embeds the SVG figures as
vectors, which no pure-Python HTML-to-PDF converter does as faithfully. It is a system
package (Debian: ``apt-get install chromium``), not a Python dependency; without it,
:func:`write_pdf` says so. Unlike the HTML, the PDF is not byte-identical between runs
(Chromium stamps its creation date).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from r2p_models.atomic import atomic_path
from r2p_models.report.build import ReportInputError

__all__ = ["find_chromium", "write_pdf"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable on the PATH, or None."""
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pdf(
    html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str], *,
    chromium: str | None = None, timeout: float = 300.0,
) -> Path:
    """Print a report written by :func:`r2p_models.report.write_report` to PDF.

    Parameters
    ----------
    html_path : path
        The HTML report.
    pdf_path : path
        Output file, written atomically (a failed print leaves an existing file as it was).
    chromium : str, optional
        Browser executable; default: the first of chromium, chromium-browser,
        google-chrome on the PATH.
    timeout : float, default 300
        Seconds before the browser is given up on.

    Returns
    -------
    Path
        The PDF.

    Raises
    ------
    ReportInputError
        If the HTML file does not exist or no browser is found.
    RuntimeError
        If the browser fails to print.
    """
    html_path = Path(html_path)
    if not html_path.is_file():
        raise ReportInputError(f"write_pdf: {html_path} does not exist")
    exe = chromium or find_chromium()
    if exe is None:
        raise ReportInputError(
            "write_pdf needs Chromium to print the report (Debian: apt-get install chromium)"
        )
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="r2p-chromium-") as profile, \
            atomic_path(pdf_path) as tmp:
        cmd = [
            exe, "--headless", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            f"--user-data-dir={profile}", "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}", html_path.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(2, "--no-sandbox")  # Chromium refuses to sandbox as root
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False, env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"write_pdf: {exe} did not finish within {timeout:g} s") from None
        if proc.returncode != 0 or not tmp.is_file() or tmp.read_bytes()[:5] != b"%PDF-":
            tail = proc.stderr.strip().splitlines()[-3:]
            raise RuntimeError(f"write_pdf: {exe} failed (exit {proc.returncode}): "
                               + " | ".join(tail))
    return pdf_path
