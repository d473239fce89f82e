"""Benchmark `r2p pipeline` on the default world against a baseline release, in one run.

Checks out the baseline (``--baseline``, a git revision; default the 0.1.0 release commit)
into a temporary worktree, then runs the baseline's and this checkout's pipeline in turn,
A B A B ... (``--pairs``), each in a fresh process with its own output folder and with
the same Python environment, and reports per run the wall time, the CPU time and the
peak resident memory (of the process and its children), with the ratio baseline / ours
pair by pair. Afterwards it checks that the two agree: for every backtest and current
forecast both issued (same source, country, crime and origin), the difference of the
posterior means against their Monte Carlo error (``sd / sqrt(ESS)`` of each, the sd from
the 90 % interval, ESS taken
as 400, the convergence gate's floor: the largest Monte Carlo error a passing fit has).

Usage (from the project root; each pipeline takes several minutes, 10-50 on a loaded
2-core machine; without ``nice``, so that both runs compete with the rest of the machine
on equal terms)::

    nohup .venv/bin/python benchmarks/bench_pipeline.py --pairs 1 > bench_pipeline.log &

The baseline runs first in each pair, so it also fills PyTensor's compile cache
(``~/.pytensor``) when that is empty; the logs, ledgers and ``results.json`` stay in the
printed work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
#: The 0.1.0 release as measured in the issues (the last commit before the speed work).
BASELINE = "c39a21b"


def _run(src: Path, out: Path, log: Path) -> dict[str, float]:
    """One pipeline in a child process; wall, CPU seconds and peak RSS (MB) of that child.

    The resource usage comes from ``os.wait4`` on the child itself: ``RUSAGE_CHILDREN``
    would report the largest peak RSS of *every* child waited for so far, so the second
    run of a pair would inherit the first one's peak.
    """
    env = {**os.environ, "PYTHONPATH": str(src)}
    # the package imported must be the one under test (an editable install elsewhere
    # must not shadow it)
    where = subprocess.check_output(
        [sys.executable, "-c", "import r2p_models; print(r2p_models.__file__)"],
        cwd=src, env=env, text=True, stderr=subprocess.DEVNULL).strip()
    if not Path(where).resolve().is_relative_to(src.resolve()):
        raise RuntimeError(f"{src}: the child imports r2p_models from {where}")
    cmd = [sys.executable, "-m", "r2p_models.cli", "--log-format", "json", "pipeline",
           "--config", str(src / "datasets" / "default_world" / "run.toml"), "--out", str(out)]
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=src, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return {"exit": proc.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def _rows(ledger: Path) -> pd.DataFrame:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as con:
        rows = pd.read_sql("select source, kind, country, crime, origin_year, p_mean, p_q05, "
                           "p_q95 from forecasts where kind in ('backtest', 'forecast')", con)
    # posterior sd from the 90 % interval (normal approximation: width / 3.29)
    rows["p_sd"] = (rows["p_q95"] - rows["p_q05"]) / 3.29
    return rows


def agreement(base: Path, ours: Path) -> dict[str, float]:
    """Forecasts both ledgers issued, compared against their Monte Carlo error."""
    a, b = _rows(base), _rows(ours)
    key = ["kind", "country", "crime", "origin_year"]
    # the source without the version, which may differ: "<name> <version> <variant> ..."
    a["src"] = a["source"].str.split(n=2).str[-1]
    b["src"] = b["source"].str.split(n=2).str[-1]
    m = a.merge(b, on=[*key, "src"], suffixes=("_a", "_b"))
    if m.empty:  # the two issue different models (the default changed): nothing to pair
        return {"cases": 0, "sources_a": sorted(set(a["source"])),
                "sources_b": sorted(set(b["source"]))}
    se = np.sqrt((m["p_sd_a"] ** 2 + m["p_sd_b"] ** 2) / 400.0)
    z = (m["p_mean_a"] - m["p_mean_b"]).abs() / se
    return {"cases": len(m), "max_abs_diff": float((m["p_mean_a"] - m["p_mean_b"]).abs().max()),
            "median_z": float(z.median()), "share_within_3_mc_se": float((z <= 3).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the baseline")
    ap.add_argument("--pairs", type=int, default=1, help="baseline/ours pairs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="r2p-bench-"))
    base_src = work / "baseline"
    print(f"work folder (logs, ledgers): {work}", flush=True)
    subprocess.check_call(["git", "worktree", "add", "--detach", str(base_src), args.baseline],
                          cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        results: list[dict[str, object]] = []
        for i in range(args.pairs):
            for name, src in (("baseline", base_src), ("ours", ROOT)):
                out = work / f"{name}-{i}"
                r = _run(src, out, work / f"{name}-{i}.log")
                results.append({"run": name, "pair": i, **r})
                print(json.dumps(results[-1]), flush=True)
        df = pd.DataFrame(results)
        piv = df.pivot(index="pair", columns="run", values="wall_s")
        print("\nwall seconds, median:", df.groupby("run")["wall_s"].median().round(1).to_dict())
        print("ratio baseline / ours, pair by pair:",
              (piv["baseline"] / piv["ours"]).round(2).tolist())
        print("peak RSS MB, max:", df.groupby("run")["peak_rss_mb"].max().round(0).to_dict())
        agree = agreement(work / f"baseline-{args.pairs - 1}" / "ledger.sqlite",
                          work / f"ours-{args.pairs - 1}" / "ledger.sqlite")
        print("agreement of the last pair:", agree)
        (work / "results.json").write_text(json.dumps({"runs": results, "agreement": agree},
                                                      indent=1))
    finally:
        subprocess.call(["git", "worktree", "remove", "--force", str(base_src)], cwd=ROOT)


if __name__ == "__main__":
    main()
