"""The report renders in a real browser: headless Chromium, offline, without console errors.

Needs the Debian packages ``chromium`` (and ``chromium-driver`` for tools that drive it);
the tests skip cleanly when ``chromium`` is not on the PATH. Chromium runs with networking
pointed at a dead proxy, so a page that needed the network would show it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r2p_models.report import ReportInputError, build_report, write_pdf, write_report
from r2p_models.report.example import example_ledger

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium chromium-driver)",
)
WIDTH, HEIGHT = 1280, 2000
#: Console output of the page (messages, uncaught exceptions) in Chromium's log.
CONSOLE = re.compile(r":CONSOLE[(:]|Uncaught")


def _screenshot(page: Path, out: Path, profile: Path) -> str:
    """Render ``page`` headless to ``out``; return Chromium's log (stderr)."""
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0",
        f"--screenshot={out}", f"--window-size={WIDTH},{HEIGHT}", page.resolve().as_uri(),
    ]
    env = {**os.environ, "HOME": str(profile)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def test_console_errors_are_detected(tmp_path) -> None:
    """The check below can fail: a page with a script error is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p>"
                    "<script>undefinedFunction();</script></body></html>")
    log = _screenshot(page, tmp_path / "broken.png", tmp_path / "profile")
    assert CONSOLE.search(log)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    ledger, panel = example_ledger(folder / "ledger.sqlite", scale=0.3,
                                   backtest_origins=range(2002, 2010),
                                   forecast_origins=range(2010, 2020))
    html = build_report(ledger, region_of=panel["region"], proxies=panel["proxy"], n_boot=20)
    page = write_report(folder / "report.html", html)
    shot = folder / "report.png"
    log = _screenshot(page, shot, folder / "profile")
    return shot, log


def test_report_renders_without_console_errors(rendered) -> None:
    shot, log = rendered
    assert not CONSOLE.search(log), [line for line in log.splitlines() if CONSOLE.search(line)]
    image = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert image.shape == (HEIGHT, WIDTH, 3)
    # not blank: text, tables and colour are on the page
    ink = (image < 200).any(axis=2)
    assert ink.mean() > 0.03
    assert image.std() > 20
    # the top of the page carries the title (dark text in the first 120 pixel rows)
    assert ink[:120].mean() > 0.01
    # laid out for the window: nothing runs off to the right (a 1280-px laptop screen)
    assert ink[:, -20:].mean() < 0.01


def test_pdf_from_the_same_page(rendered, tmp_path) -> None:
    shot, _ = rendered
    pdf = write_pdf(shot.with_name("report.html"), tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3  # several A4 pages
    with pytest.raises(ReportInputError, match="does not exist"):
        write_pdf(tmp_path / "missing.html", tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
