"""Figures of the calibration report, embedded in the HTML as SVG data URIs.

Every figure is a :class:`matplotlib.figure.Figure` made without pyplot (no global state,
no display needed) and saved as SVG with fixed metadata and a fixed hash salt, so the same
numbers give the same bytes (a rerun that changes nothing rewrites an identical report).
Text stays text in the SVG (``svg.fonttype = "none"``): smaller files that print sharply.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies); series are also told apart by marker and line style, never by colour alone.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = [
    "PALETTE",
    "figure_uri",
    "plot_lead_times",
    "plot_over_time",
    "plot_region_audit",
    "plot_watchlist",
]

#: Okabe-Ito colours (black left out: it is the colour of reference lines).
PALETTE: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "r2p-models report",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "path.simplify": True,
}


def figure_uri(fig: Figure) -> str:
    """Render a figure to a deterministic SVG ``data:`` URI (base64).

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        ``data:image/svg+xml;base64,...``; identical for identical figures.
    """
    buf = io.BytesIO()
    with mpl.rc_context(_STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "r2p-models"})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def style() -> mpl.rc_context:  # type: ignore[valid-type]
    """Context in which report figures are built (fonts, sizes)."""
    return mpl.rc_context(_STYLE)


def _series_style(i: int) -> dict[str, object]:
    return {"color": PALETTE[i % len(PALETTE)], "marker": _MARKERS[i % len(_MARKERS)]}


def _rate(v: float, _: object = None) -> str:
    return "0" if v == 0 else f"{100 * v:.3g}%"


#: Skill axes reach down to here at most (a skill of -3 is four times the climatology's
#: error). An interval reaching further is drawn to the edge with an arrow and its end
#: written beside it: nothing is cut silently. The tables carry every value.
SKILL_FLOOR = -3.0


def _values(yearly: pd.DataFrame, rolling: pd.DataFrame | None, metric: str,
            series: Sequence[str]) -> np.ndarray:
    """Estimates and interval ends of single years and of rolling windows (everything
    drawn), for choosing axis limits."""
    y = yearly[(yearly["metric"] == metric) & yearly["track"].isin(series)]
    vals = [y["estimate"].to_numpy(float), y["lower"].to_numpy(float),
            y["upper"].to_numpy(float)]
    if rolling is not None and not rolling.empty:
        r = rolling[(rolling["metric"] == metric) & rolling["track"].isin(series)]
        vals += [r["estimate"].to_numpy(float), r["lower"].to_numpy(float),
                 r["upper"].to_numpy(float)]
    out = np.concatenate(vals)
    return out[np.isfinite(out)]


def skill_limits(values: np.ndarray, *, floor: float = SKILL_FLOOR) -> tuple[float, float]:
    """Axis limits of a skill axis: every value in view (with a margin), down to ``floor``.

    Parameters
    ----------
    values : ndarray
        Estimates and interval ends drawn on the axis (finite).
    floor : float
        Lowest value shown; values below it are marked at the edge (:func:`_mark_beyond`).

    Returns
    -------
    (float, float)
        Lower and upper limit; at least -0.1 to 0.1, so that the zero line shows.
    """
    if values.size == 0:
        return -0.1, 0.1
    lo = max(min(float(values.min()), -0.1), floor)
    hi = max(float(values.max()), 0.1)
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def _mark_beyond(ax: Any, pos: Any, lower: Any, limit: float, *, color: str,
                 horizontal: bool = False) -> int:
    """Arrow at the axis edge, and the value, for each interval whose lower end lies below
    the axis (``limit``). Returns how many were marked."""
    pos, lower = np.asarray(pos, float), np.asarray(lower, float)
    beyond = np.isfinite(lower) & (lower < limit)
    for x, v in zip(pos[beyond], lower[beyond], strict=True):
        if horizontal:
            ax.plot([limit], [x], marker="<", color=color, markersize=6, clip_on=False)
            ax.annotate(f"{v:.2f}", (limit, x), xytext=(3, 4), textcoords="offset points",
                        fontsize=7.5, color=color, ha="left", va="bottom")
        else:
            ax.plot([x], [limit], marker="v", color=color, markersize=6, clip_on=False)
            ax.annotate(f"{v:.2f}", (x, limit), xytext=(4, 2), textcoords="offset points",
                        fontsize=7.5, color=color, ha="left", va="bottom")
    return int(beyond.sum())


def _intervals(
    ax: Any, pos: Any, est: Any, lower: Any, upper: Any, *, color: str, marker: str,
    horizontal: bool = False, size: float = 5.0, width: float = 1.2, alpha: float = 1.0,
    label: str | None = None,
) -> None:
    """Estimates as markers and intervals as lines from lower to upper end.

    Not ``errorbar``: a bootstrap percentile interval need not contain its estimate (e.g. for
    a biased statistic such as MCB), and it is drawn as it is.
    """
    pos, est = np.asarray(pos, float), np.asarray(est, float)
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if horizontal:
        ax.hlines(pos[ok], lo[ok], hi[ok], color=color, linewidth=width, alpha=alpha)
        ax.plot(est, pos, marker, color=color, markersize=size, alpha=alpha,
                linestyle="none", label=label)
    else:
        ax.vlines(pos[ok], lo[ok], hi[ok], color=color, linewidth=width, alpha=alpha)
        ax.plot(pos, est, marker, color=color, markersize=size, alpha=alpha,
                linestyle="none", label=label)


def plot_over_time(
    yearly: pd.DataFrame,
    rolling: pd.DataFrame | None,
    *,
    metrics: Sequence[tuple[str, str, float | None]],
    series: Sequence[str],
    window: int | None,
) -> Figure:
    """Metrics by issue year: single years as points with intervals, rolling windows as
    lines with bands.

    Parameters
    ----------
    yearly : pandas.DataFrame
        Tidy table (``track, origin_year, metric, estimate, lower, upper``).
    rolling : pandas.DataFrame or None
        Tidy table (``track, window_end, metric, estimate, lower, upper``).
    metrics : sequence of (metric, label, reference line)
        One panel each.
    series : sequence of str
        Tracks to draw, in legend order.
    window : int or None
        Rolling window length (for the axis label; None, or no rolling rows for these
        series: the label says no window is drawn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    with style():
        fig = Figure(figsize=(9.0, 3.3 * len(metrics)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(metrics), 1, sharex=True))
        for ax, (metric, label, ref) in zip(axes, metrics, strict=True):
            for i, track in enumerate(series):
                st = _series_style(i)
                y = yearly[(yearly["track"] == track) & (yearly["metric"] == metric)]
                y = y.sort_values("origin_year")
                if not y.empty:
                    x = y["origin_year"] + (i - (len(series) - 1) / 2) * 0.08
                    _intervals(ax, x, y["estimate"], y["lower"], y["upper"],
                               color=str(st["color"]), marker=str(st["marker"]), size=3.5,
                               width=0.7, alpha=0.55)
                if rolling is not None and not rolling.empty:
                    r = rolling[(rolling["track"] == track) & (rolling["metric"] == metric)]
                    r = r.sort_values("window_end")
                    if not r.empty:
                        ax.fill_between(r["window_end"], r["lower"], r["upper"],
                                        color=str(st["color"]), alpha=0.15, linewidth=0)
                        ax.plot(r["window_end"], r["estimate"], color=str(st["color"]),
                                linewidth=1.8, marker=str(st["marker"]), markersize=4,
                                label=track)
                        continue
                if not y.empty:
                    ax.plot([], [], color=str(st["color"]), marker=str(st["marker"]),
                            linestyle="none", label=track)
            if ref is not None:
                ax.axhline(ref, color="0.3", linestyle=":", linewidth=1.0)
            ax.set_ylabel(label)
            ax.grid(True, color="0.9", linewidth=0.7)
            if "skill" in metric:
                lo, hi = skill_limits(_values(yearly, rolling, metric, series))
                ax.set_ylim(lo, hi)
                for i, track in enumerate(series):
                    st = _series_style(i)
                    y = yearly[(yearly["track"] == track) & (yearly["metric"] == metric)]
                    _mark_beyond(ax, y["origin_year"] + (i - (len(series) - 1) / 2) * 0.08,
                                 y["lower"], lo, color=str(st["color"]))
                    if rolling is not None and not rolling.empty:
                        r = rolling[(rolling["track"] == track) & (rolling["metric"] == metric)]
                        _mark_beyond(ax, r["window_end"], r["lower"], lo,
                                     color=str(st["color"]))
        axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
        has_lines = (rolling is not None and not rolling.empty and window is not None
                     and rolling["track"].isin(series).any())
        axes[-1].set_xlabel(
            f"Issue (origin) year; points: single years, lines: {window}-year windows "
            "ending that year" if has_lines else
            "Issue (origin) year; points: single years (no rolling window drawn)"
        )
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)),
                       frameon=False)
    return fig


def plot_region_audit(table: pd.DataFrame, *, track: str) -> Figure:
    """Observed event rate against mean forecast per region, and Brier skill per region.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy table (``region, metric, estimate, lower, upper``, and ``events``, ``note``)
        for one track with the metrics ``mean_forecast``, ``base_rate`` and optionally
        ``brier`` and ``brier_skill_climatology``. A region without events (``events`` of
        its ``brier`` row 0, or a skill note ``"no events"``) gets the words "no events" in
        the skill panel instead of a point: with no event to warn of, a skill score only
        rewards forecasting less.
    track : str
        For the title.

    Returns
    -------
    matplotlib.figure.Figure
        The legend sits below the panels, outside them, so that it never covers a marker.
    """
    regions = sorted(table["region"].unique())
    pos = np.arange(len(regions))

    def get(metric: str) -> pd.DataFrame:
        t = table[table["metric"] == metric].set_index("region")
        return t.reindex(regions)

    with style():
        fig = Figure(figsize=(9.0, 0.45 * len(regions) + 1.6), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        for k, (metric, name, offset) in enumerate(
            (("base_rate", "Observed event rate", -0.12), ("mean_forecast", "Mean forecast", 0.12))
        ):
            t = get(metric)
            _intervals(ax1, pos + offset, t["estimate"], t["lower"], t["upper"],
                       color=PALETTE[k], marker=_MARKERS[k], horizontal=True, label=name)
        ax1.set_yticks(pos, regions)
        ax1.invert_yaxis()
        ax1.set_xlabel("Rate per case, 90% intervals")
        ax1.set_xlim(left=0)
        # a little room left of 0, so that a rate of 0 shows a whole marker, not half
        ax1.set_xlim(left=-0.03 * ax1.get_xlim()[1])
        ax1.xaxis.set_major_formatter(FuncFormatter(_rate))
        # below the panels, outside every axes: a legend inside could cover a group's marker
        handles, names = ax1.get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=len(names),
                   frameon=False)
        ax1.grid(True, axis="x", color="0.9")
        ax1.set_title("Calibration in the large")
        t = get("brier_skill_climatology")
        brier = get("brier")
        events = (brier["events"] if "events" in brier.columns
                  else pd.Series(np.nan, index=brier.index))
        no_events = (events == 0).to_numpy(copy=True)
        if "note" in t.columns:
            no_events = no_events | (t["note"] == "no events").to_numpy()
        est = t["estimate"].where(~no_events)
        lower, upper = t["lower"].where(~no_events), t["upper"].where(~no_events)
        if est.notna().any():
            _intervals(ax2, pos, est, lower, upper, color=PALETTE[2], marker="o",
                       horizontal=True)
        elif not no_events.any():
            ax2.text(0.5, 0.5, "no skill estimates", transform=ax2.transAxes, ha="center")
        ax2.axvline(0, color="0.3", linestyle=":", linewidth=1.0)
        ax2.set_xlabel("Brier skill (0 = climatology)")
        vals = np.concatenate([est, lower, upper]).astype(float)
        lo, hi = skill_limits(vals[np.isfinite(vals)])
        ax2.set_xlim(lo, hi)
        ax2.xaxis.set_major_locator(MaxNLocator(nbins=4))  # legible in a narrow panel
        _mark_beyond(ax2, pos, lower, lo, color=PALETTE[2], horizontal=True)
        for y_pos in pos[no_events]:
            ax2.text(0.5, y_pos, "no events", transform=ax2.get_yaxis_transform(),
                     ha="center", va="center", fontsize=8.5, color="0.35", style="italic",
                     bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5})
        ax2.grid(True, axis="x", color="0.9")
        ax2.set_title("Skill")
        fig.suptitle(f"Regions: {track}")
    return fig


def plot_watchlist(table: pd.DataFrame, *, title: str) -> Figure:
    """Forecast probabilities with their 90% intervals, highest first.

    Parameters
    ----------
    table : pandas.DataFrame
        ``label, p_mean, p_q05, p_q95`` (intervals may be NaN), in rank order.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(table)
    pos = np.arange(n)
    with style():
        fig = Figure(figsize=(6.2, 0.22 * n + 1.3), layout="constrained")
        ax = fig.subplots()
        has = (table["p_q05"].notna() & table["p_q95"].notna()).to_numpy()
        _intervals(ax, pos[has], table["p_mean"][has], table["p_q05"][has],
                   table["p_q95"][has], color=PALETTE[0], marker="o", size=4,
                   horizontal=True, label="Mean with 90% interval")
        if (~has).any():
            ax.plot(table["p_mean"][~has], pos[~has], "s", color=PALETTE[1], markersize=4,
                    linestyle="none", label="Mean (no interval recorded)")
        ax.set_yticks(pos, table["label"], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(FuncFormatter(_rate))
        ax.set_xlabel("Probability of an onset in the window")
        ax.grid(True, axis="x", color="0.9")
        ax.set_title(title)
        # below the axes: inside, it could cover the lowest entries' intervals
        handles, names = ax.get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=len(names),
                   frameon=False)
    return fig


def plot_lead_times(
    history: pd.DataFrame, *, top_n: int, crimes: Sequence[str], labels: dict[str, str],
    title: str,
) -> Figure:
    """Rank of each onset's country at the origins before the onset, one panel per crime.

    Parameters
    ----------
    history : pandas.DataFrame
        :func:`r2p_models.calibration.leadtime.onset_histories` rows of one source, with a
        boolean ``flagged`` column (warning in place when the onset came).
    top_n : int
        Watchlist length (the cut-off line).
    crimes : sequence of str
        Crimes to draw, in order (one panel each).
    labels : dict
        Crime -> panel title.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    cap = max(10 * top_n, int(history["rank"].max()) if history["rank"].notna().any() else 1)
    ncols = min(2, max(1, len(crimes)))
    nrows = -(-max(1, len(crimes)) // ncols)
    styles = {True: ("Warned in time (on the list when the onset came)", PALETTE[0], "o", "-"),
              False: ("Missed (not on the list when the onset came)", PALETTE[1], "s", "--")}
    with style():
        fig = Figure(figsize=(4.6 * ncols, 3.0 * nrows + 0.8), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
        for i, (ax, crime) in enumerate(zip(axes, crimes, strict=False)):
            h = history[history["crime"] == crime]
            for (_, _), g in h.groupby(["country", "onset_year"], sort=True):
                g = g.sort_values("years_before", ascending=False)
                label, color, marker, line = styles[bool(g["flagged"].iloc[0])]
                ax.plot(-g["years_before"], g["rank"].clip(upper=cap), color=color,
                        marker=marker, linestyle=line, linewidth=1.0, markersize=3.5,
                        alpha=0.75)
            ax.axhline(top_n + 0.5, color="0.3", linestyle=":", linewidth=1.0)
            ax.set_yscale("log")
            ax.set_ylim(cap * 1.3, 0.8)
            ax.set_xlim(right=-0.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.grid(True, color="0.9", linewidth=0.7)
            n_onsets = h.groupby(["country", "onset_year"]).ngroups
            ax.set_title(f"{labels.get(crime, crime)} ({n_onsets} onsets)")
            if i + ncols >= len(crimes):
                ax.set_xlabel("Years before the onset")
            if i % ncols == 0:
                ax.set_ylabel("Rank (1 = highest risk)")
        for ax in axes[len(crimes):]:
            ax.set_visible(False)
        for flagged in (True, False):
            label, color, marker, line = styles[flagged]
            axes[0].plot([], [], color=color, marker=marker, linestyle=line, label=label)
        handles, names = axes[0].get_legend_handles_labels()
        axes[0].plot([], [], color="0.3", linestyle=":", label=f"Top-{top_n} cut-off")
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle(title)
    return fig


#: Candidate tick sets for logit axes, sparsest first.
_LOGIT_TICKS: tuple[tuple[float, ...], ...] = (
    (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999),
    (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.99, 0.999),
    (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95,
     0.98, 0.99),
)


def _percent(v: float, _: object = None) -> str:
    return f"{100 * v:.2g}%" if v < 0.01 else f"{100 * v:.3g}%"


def tidy_logit_axes(fig: Figure, max_ticks: int = 6) -> None:
    """Give logit axes a few labelled ticks in percent and no minor ticks.

    Matplotlib's default logit locators put many crowded labels on a rare-event range and
    are slow to lay out; a report needs a handful of readable ones.
    """
    from matplotlib.ticker import FixedLocator, NullLocator

    for ax in fig.axes:
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "logit":
                continue
            lo, hi = min(lo, hi), max(lo, hi)
            chosen = [t for t in _LOGIT_TICKS[0] if lo <= t <= hi]
            while len(chosen) > max_ticks:
                chosen = chosen[::2]
            for cand in _LOGIT_TICKS[1:]:
                ticks = [t for t in cand if lo <= t <= hi]
                if len(ticks) > max_ticks:
                    break
                chosen = ticks
            axis.set_major_locator(FixedLocator(chosen))
            axis.set_minor_locator(NullLocator())
            axis.set_major_formatter(FuncFormatter(_percent))
