"""Progress over a sequence of model fits: a bar for people, structured events for logs.

A backtest, a rerun and the pipeline run several fits of a minute or more each.
:class:`FitProgress` tells how far they are:

- interactively (a terminal or Jupyter, ``show_bar=True``) a progress bar, ``fit 3 of 5,
  origin 2016, 1:12 elapsed, ETA 2:30`` (tqdm; the sampler shows its own bar inside each
  fit);
- always, one log record per event on the ``r2p_models.progress`` logger: ``fit_started``
  and ``fit_done`` (and ``fit_skipped``) with the fit's index, the total, the origin, the
  elapsed seconds, an ETA and, when done, the fit's seconds and its convergence figures
  rounded. In the CLI's JSON log mode each is one JSON object with these fields (INFO;
  DEBUG while a bar is shown, so bar and log lines do not interleave).

The ETA is the mean time of the fits done so far times the fits left.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

__all__ = ["FitProgress", "rounded_diagnostics"]

log = logging.getLogger(__name__)


def _clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``); ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def rounded_diagnostics(diag: dict[str, Any]) -> dict[str, Any]:
    """Convergence figures as people read them: r_hat to 3 decimals, ESS and seconds to
    whole numbers or tenths (``{"max_rhat": 1.007, "min_ess_bulk": 1017, ...}``)."""
    out: dict[str, Any] = {}
    for key, value in diag.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            out[key] = value
        elif "rhat" in key:
            out[key] = round(float(value), 3)
        elif "ess" in key or key in ("divergences", "draws", "chains"):
            out[key] = round(float(value)) if math.isfinite(value) else value
        else:
            out[key] = round(float(value), 1)
    return out


class FitProgress:
    """Tracks ``total`` fits: call :meth:`started` and :meth:`done` (or :meth:`skipped`)
    around each.

    Parameters
    ----------
    total : int
        Fits expected.
    show_bar : bool
        Draw a progress bar (tqdm's ``auto`` flavour: a widget in Jupyter, text on a
        terminal's stderr).
    what : str
        Word for one unit in the messages (``"fit"``).
    parallel : int
        Fits that run at once (parallel backtest workers): the ETA divides the remaining
        work among them. With several, :meth:`started` marks a fit handed to a worker, and
        the fits end in any order: :meth:`done` counts the finished ones.
    """

    def __init__(self, total: int, *, show_bar: bool = False, what: str = "fit",
                 parallel: int = 1) -> None:
        self.total = int(total)
        self.what = what
        self.parallel = max(int(parallel), 1)
        self.index = 0
        self.finished = 0
        self.t0 = time.monotonic()
        self._fit_t0: float | None = None
        self._fit_seconds: list[float] = []
        self._bar: Any = None
        if show_bar and self.total > 0:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, bar_format="{desc} |{bar}| {n_fmt}/{total_fmt}",
                             leave=True, dynamic_ncols=True)
        self._level = logging.DEBUG if self._bar is not None else logging.INFO

    @property
    def elapsed(self) -> float:
        """Seconds since the tracker was made."""
        return time.monotonic() - self.t0

    def eta(self) -> float | None:
        """Seconds left by the mean time of the finished fits; None before the first."""
        if not self._fit_seconds:
            return None
        left = max(self.total - self.finished, 0)
        mean = sum(self._fit_seconds) / len(self._fit_seconds)
        if self.parallel > 1:  # the workers share what is left
            return mean * left / self.parallel
        running = 0.0 if self._fit_t0 is None else min(time.monotonic() - self._fit_t0, mean)
        return max(mean * left - running, 0.0)

    def _event(self, event: str, message: str, **fields: Any) -> None:
        fields = {"index": self.index, "total": self.total, **fields,
                  "elapsed_s": round(self.elapsed, 1),
                  "eta_s": None if self.eta() is None else round(self.eta() or 0.0, 1)}
        log.log(self._level, message, extra={"event": event, "fields": fields})

    def _describe(self, label: str, index: int | None = None) -> str:
        index = self.index if index is None else index
        return (f"{self.what} {index} of {self.total}{', ' + label if label else ''}, "
                f"{_clock(self.elapsed)} elapsed, ETA {_clock(self.eta())}")

    def started(self, label: str = "", **fields: Any) -> None:
        """A fit begins (``label`` such as ``"origin 2016"``; ``fields`` go in the event)."""
        self.index = min(self.index + 1, max(self.total, 1))
        self._fit_t0 = time.monotonic()
        text = self._describe(label)
        if self._bar is not None:
            self._bar.set_description_str(text)
        self._event("fit_started", text, **fields)

    def done(self, label: str = "", seconds: float | None = None,
             diagnostics: dict[str, Any] | None = None, **fields: Any) -> None:
        """A fit ended: its wall time (measured since :meth:`started` when not given) and
        convergence figures."""
        if seconds is None:
            seconds = 0.0 if self._fit_t0 is None else time.monotonic() - self._fit_t0
        self._fit_seconds.append(float(seconds))
        self.finished += 1
        self._fit_t0 = None
        diag = rounded_diagnostics({k: v for k, v in (diagnostics or {}).items()
                                    if k != "seconds"})
        # the finished count: with parallel workers fits end in any order
        text = f"{self._describe(label, self.finished)}: done in {_clock(seconds)}"
        if "max_rhat" in diag:
            text += (f" (r_hat {diag['max_rhat']:.3f}, ESS "
                     f"{diag.get('min_ess_bulk', float('nan'))}, "
                     f"{diag.get('divergences', 0)} divergences)")
        if self._bar is not None:
            self._bar.set_description_str(text)
            self._bar.update(1)
        self._event("fit_done", text, seconds=round(float(seconds), 1), **diag,
                    **{"index": self.finished, **fields})

    def skipped(self, label: str = "", reason: str = "", **fields: Any) -> None:
        """A fit that was expected is not needed (e.g. already in the ledger)."""
        self.total = max(self.total - 1, self.finished)
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()
        self._event("fit_skipped", f"{self.what} skipped{': ' + label if label else ''}"
                    f"{' (' + reason + ')' if reason else ''}", reason=reason, **fields)

    def close(self) -> None:
        """Close the bar (events stay logged)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
