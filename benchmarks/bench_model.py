"""Benchmark the full default model with each sampler in one run.

Fits the hierarchical model (horizon 1) to the embedded default world (170 countries x 40
years x 4 crimes, seed 2005) with every sampler asked for, each in a fresh child process
(so compilation, memory and thread pools are measured separately), and reports wall time,
compile time, sampling time, min bulk ESS per second of sampling, leapfrog steps per
draw and min bulk ESS per 1000 gradient evaluations (kept draws), max r_hat, divergences
and peak memory, with min-ESS/s as a ratio to PyMC's own sampler measured in the same run.

Usage (from the project root; takes several minutes)::

    nice -n 10 .venv/bin/python benchmarks/bench_model.py                 # all samplers
    nice -n 10 .venv/bin/python benchmarks/bench_model.py --samplers nutpie pymc --draws 1000

numpyro needs ``jax`` and ``numpyro`` (skipped with a note when absent).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(args: argparse.Namespace) -> None:
    if args.sampler == "numpyro":
        os.environ.setdefault("XLA_FLAGS",
                              f"--xla_force_host_platform_device_count={os.cpu_count()}")
    import warnings

    import xarray as xr

    from r2p_models.config import ModelConfig
    from r2p_models.model import fit

    warnings.filterwarnings("ignore")
    panel = xr.open_dataset(args.panel).load()
    cfg = ModelConfig(sampler=args.sampler, horizon=1, chains=args.chains, draws=args.draws,
                      tune=args.tune, seed=args.seed, retries=0,
                      extend=0)  # one attempt: what is timed
    t0 = time.perf_counter()
    fm = fit(panel, cfg, warn=False)
    wall = time.perf_counter() - t0
    d = fm.diagnostics
    out = tempfile.NamedTemporaryFile(suffix=".nc", delete=False).name
    fm.save(out)
    size = Path(out).stat().st_size
    Path(out).unlink()
    # Leapfrog steps (one gradient each) of the kept draws: min ESS per 1000 gradients
    # separates how well a sampler explores from how fast its gradient runs.
    ss = fm.idata.sample_stats
    steps = float(ss["n_steps"].sum()) if "n_steps" in ss else float("nan")
    per_draw = steps / (args.chains * args.draws)
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print("RESULT " + json.dumps({
        "sampler": args.sampler, "wall_s": wall, "compile_s": d.compile_seconds,
        "sampling_s": d.sampling_seconds, "min_ess_bulk": d.min_ess_bulk,
        "min_ess_tail": d.min_ess_tail, "min_ess_bulk_per_s": d.min_ess_per_second,
        "max_rhat": d.max_rhat, "divergences": d.divergences, "ok": d.ok,
        "worst": d.worst, "peak_mb": peak, "saved_mb": size / 1e6,
        "steps_per_draw": per_draw, "ess_per_1k_grad": d.min_ess_bulk / steps * 1000,
    }), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samplers", nargs="+", default=["pymc", "nutpie", "numpyro"])
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seed", type=int, default=20051)
    p.add_argument("--world-seed", type=int, default=2005)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds allowed per sampler (a stuck chain is reported as such)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sampler", help=argparse.SUPPRESS)
    p.add_argument("--panel", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return

    from r2p_models.data.simulate import simulate_world

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        panel_path = Path(tmp) / "panel.nc"
        simulate_world(args.world_seed).panel.to_netcdf(panel_path)
        for s in args.samplers:
            if s == "numpyro":
                try:
                    import numpyro  # noqa: F401
                except ImportError:
                    print("numpyro: skipped (pip install numpyro)")
                    continue
            cmd = [sys.executable, __file__, "--child", "--sampler", s, "--panel",
                   str(panel_path), "--draws", str(args.draws), "--tune", str(args.tune),
                   "--chains", str(args.chains), "--seed", str(args.seed)]
            print(f"{s}: running ...", flush=True)
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                      timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{s}: did not finish within {args.timeout:.0f} s")
                results.append({"sampler": s, "timeout": args.timeout})
                continue
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(f"{s}: failed\n{proc.stderr[-2000:]}")
                continue
            results.append(json.loads(lines[-1][7:]))
            print(json.dumps(results[-1]), flush=True)
    base = next((r["min_ess_bulk_per_s"] for r in results
                 if r["sampler"] == "pymc" and "timeout" not in r), None)
    print(f"\n{args.chains} chains x {args.draws} draws (+{args.tune} tune), default world "
          f"seed {args.world_seed}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n")
    print("| sampler | wall s | compile s | sampling s | min bulk ESS | min ESS/s | vs PyMC | "
          "leapfrog steps a draw | min ESS per 1000 gradients | max r_hat | divergences | "
          "peak MB | converged |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "timeout" in r:
            print(f"| {r['sampler']} | > {r['timeout']:.0f} (stopped) | | | | | | | | | | | "
                  "False |")
            continue
        ratio = r["min_ess_bulk_per_s"] / base if base else float("nan")
        print(f"| {r['sampler']} | {r['wall_s']:.0f} | {r['compile_s']:.0f} | "
              f"{r['sampling_s']:.0f} | {r['min_ess_bulk']:.0f} | {r['min_ess_bulk_per_s']:.2f} "
              f"| {ratio:.2f} | {r['steps_per_draw']:.1f} | {r['ess_per_1k_grad']:.2f} "
              f"| {r['max_rhat']:.3f} | {r['divergences']} | {r['peak_mb']:.0f} | {r['ok']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
