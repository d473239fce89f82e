"""Benchmark: CORP decomposition plus consistency bands on 100,000 forecasts.

Ours: :func:`r2p_models.calibration.reliability` with 200 resamples, which computes the
CORP decomposition of the Brier and log scores, the PAV curve, the 90% consistency band
and the miscalibration test.

Baseline, in the same run on the same data: the straightforward implementation with the
reference libraries, i.e. ``model_diagnostics.scoring.decompose`` (Brier and log) on the
data, then for each of the 200 resamples ``decompose`` again (the resampled MCB for the
test) and scikit-learn's ``IsotonicRegression`` fitted and evaluated on the band grid
(what ``model_diagnostics.calibration.plot_reliability_diagram`` does per bootstrap
replicate). The baseline draws the same random outcomes, so the two must agree to
rounding; the script checks that.

A second, smaller benchmark times block-bootstrap intervals (1,000 replicates resampling
countries) for a ledger-sized table (170 countries x 40 years x 4 crimes) against
scikit-learn's ``roc_auc_score`` run on each resample.

Usage::

    nice -n 10 .venv/bin/python benchmarks/bench_calibration.py [--n 100000]
        [--resamples 200] [--repeats 3] [--skip-tables]

Timings are wall-clock seconds (best of ``--repeats`` for ours; the baseline runs once).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from model_diagnostics.scoring import LogLoss, SquaredError, decompose
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from r2p_models.calibration import bootstrap_metric, reliability
from r2p_models.calibration.reliability import _Sorted


def simulate(n: int, seed: int = 20240601) -> tuple[np.ndarray, np.ndarray]:
    """Rare-event forecasts (median 1%, long upper tail) and outcomes drawn from them."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-4.5, 1.2, n)))
    y = (rng.random(n) < p).astype(float)
    return p, y


def ours(p: np.ndarray, y: np.ndarray, resamples: int, seed: int):
    return reliability(p, y, n_resamples=resamples, rng=seed)


def baseline(p: np.ndarray, y: np.ndarray, grid: np.ndarray, resamples: int, seed: int):
    """model-diagnostics + scikit-learn, resample by resample."""
    brier = decompose(y_obs=y, y_pred=p, scoring_function=SquaredError()).row(0, named=True)
    log = decompose(y_obs=y, y_pred=p, scoring_function=LogLoss()).row(0, named=True)
    rng = np.random.default_rng(seed)
    xs = np.sort(p)  # the same order as ours, so the same random outcomes
    null = np.empty(resamples)
    curves = np.empty((resamples, grid.size))
    for b in range(resamples):
        ystar = (rng.random(xs.size) < xs).astype(float)
        null[b] = decompose(y_obs=ystar, y_pred=xs, scoring_function=SquaredError())[
            "miscalibration"][0]
        iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(xs, ystar)
        curves[b] = iso.predict(grid)
    lo, hi = np.quantile(curves, [0.05, 0.95], axis=0)
    p_value = (1 + np.sum(null >= brier["miscalibration"] - 1e-12)) / (1 + resamples)
    return brier, log, lo, hi, p_value


def bench_reliability(n: int, resamples: int, repeats: int, seed: int = 1) -> dict:
    p, y = simulate(n)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rel = ours(p, y, resamples, seed)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    rel_rs = reliability(p, y, n_resamples=resamples, rng=seed, resample_forecasts=True)
    t_rs = time.perf_counter() - t0
    grid = rel.band["forecast"].to_numpy()
    t0 = time.perf_counter()
    brier, log, lo, hi, p_value = baseline(p, y, grid, resamples, seed)
    t_base = time.perf_counter() - t0
    d = rel.decomposition.set_index("score")
    agree = max(
        abs(d.loc["brier", "mcb"] - brier["miscalibration"]),
        abs(d.loc["brier", "dsc"] - brier["discrimination"]),
        abs(d.loc["brier", "unc"] - brier["uncertainty"]),
        abs(d.loc["log", "mcb"] - log["miscalibration"]),
        abs(d.loc["log", "dsc"] - log["discrimination"]),
        abs(d.loc["log", "unc"] - log["uncertainty"]),
    )
    band = max(np.max(np.abs(rel.band["band_lower"] - lo)),
               np.max(np.abs(rel.band["band_upper"] - hi)))
    return {
        "n": n, "events": int(y.sum()), "unique": int(_Sorted(p, None, 1e-15).x.size),
        "grid": grid.size, "resamples": resamples,
        "ours_best": min(times), "ours_median": float(np.median(times)),
        "ours_resampled_x": t_rs, "baseline": t_base,
        "decomposition_diff": agree, "band_diff": float(band),
        "p_value": float(d.loc["brier", "p_value"]), "p_value_baseline": float(p_value),
        "p_value_resampled_x": float(rel_rs.decomposition.set_index("score").loc[
            "brier", "p_value"]),
    }


def bench_tables(n_boot: int = 1000, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    countries, years, crimes = 170, 40, 4
    country = np.repeat(np.arange(countries), years * crimes)
    risk = np.repeat(rng.normal(-4, 1, countries), years * crimes)
    p = 1 / (1 + np.exp(-(risk + rng.normal(0, 0.6, risk.size))))
    y = (rng.random(p.size) < p).astype(float)
    t0 = time.perf_counter()
    fast = bootstrap_metric(p, y, "auc", clusters=country, n_boot=n_boot, rng=seed)
    t_fast = time.perf_counter() - t0
    n_slow = max(50, n_boot // 10)  # the loop is slow: time a tenth, scale up
    t0 = time.perf_counter()
    slow = bootstrap_metric(p, y, lambda a, b: roc_auc_score(b, a), clusters=country,
                            n_boot=n_slow, rng=seed)
    t_slow = (time.perf_counter() - t0) * n_boot / n_slow
    diff = float(np.max(np.abs(fast.replicates[:n_slow] - slow.replicates)))
    return {"cases": p.size, "n_boot": n_boot, "ours": t_fast, "baseline": t_slow,
            "replicate_diff": diff}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-tables", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load:.2f}, numpy {np.__version__}")
    r = bench_reliability(args.n, args.resamples, args.repeats)
    print(f"\nCORP decomposition + consistency bands: n = {r['n']:,} forecasts "
          f"({r['unique']:,} unique, {r['events']:,} events), {r['resamples']} resamples, "
          f"band on {r['grid']} forecast values")
    print("| implementation | seconds |")
    print("|---|---|")
    print(f"| r2p_models (best of {args.repeats}; median {r['ours_median']:.2f}) "
          f"| {r['ours_best']:.2f} |")
    print(f"| r2p_models, resample_forecasts=True | {r['ours_resampled_x']:.2f} |")
    print(f"| model-diagnostics decompose + scikit-learn isotonic, per resample "
          f"| {r['baseline']:.2f} |")
    print(f"ratio baseline / ours: {r['baseline'] / r['ours_best']:.1f}x")
    print(f"agreement: decomposition max |diff| {r['decomposition_diff']:.1e}, "
          f"band max |diff| {r['band_diff']:.1e}, test p-value {r['p_value']:.3f} "
          f"(baseline {r['p_value_baseline']:.3f}; resampled forecasts "
          f"{r['p_value_resampled_x']:.3f})")
    if not args.skip_tables:
        t = bench_tables()
        print(f"\nBlock-bootstrap AUC interval: {t['cases']:,} cases, 170 countries, "
              f"{t['n_boot']} replicates")
        print("| implementation | seconds |")
        print("|---|---|")
        print(f"| r2p_models weighted kernel | {t['ours']:.2f} |")
        print(f"| scikit-learn roc_auc_score per resample (scaled from a tenth) "
              f"| {t['baseline']:.2f} |")
        print(f"ratio: {t['baseline'] / t['ours']:.1f}x; replicates max |diff| "
              f"{t['replicate_diff']:.1e}")


if __name__ == "__main__":
    main()
