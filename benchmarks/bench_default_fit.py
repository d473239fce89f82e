"""One full fit of the default model against the previous default, in one run, per panel.

Issue 22's speed and memory budget: a full fit of the package's default configuration at
most 2x the time of the default it replaced, on the default world and on the EWP panel,
with the same convergence gate, and a peak resident set of at most 4 GB on the default
world. For each panel this writes two run configs that differ only in ``[model]``:

- default world: the previous default (the joint ``hierarchical`` model, learned effect
  scale, 500 tuning steps and 1500 draws a chain, as the embedded run config had it) and
  today's (``datasets/default_world/run.toml`` as committed);
- EWP panel (needs ``--data``, e.g. ``../shared/datasets``): the previous run config
  (``pooled``, effect scale by rolling-origin CV, 1000 tuning steps and draws) and
  today's (``r2p adapt ewp`` as written now: smooth terms, 500 / 800);

and runs ``r2p fit --through YEAR`` with each in turn, A B A B ... (``--pairs``), each in a
fresh process, reporting wall and CPU seconds and peak resident memory (``os.wait4`` of the
child), the ratio new / previous pair by pair, and the convergence summary each fit
recorded (r_hat, bulk and tail ESS, divergences).

Usage (from the project root; a few minutes a pair on 2 idle cores)::

    .venv/bin/python benchmarks/bench_default_fit.py --pairs 2 --data ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: ``[model]`` of the previous defaults (see the module docstring)
PREVIOUS = {
    "default_world": 'variant = "hierarchical"\neffect_scale = "learned"\nhorizon = 2\n'
                     "tune = 500\ndraws = 1500\n",
    "ewp": 'variant = "pooled"\neffect_scale = "rolling_cv"\n',
}
THROUGH = {"default_world": 2017, "ewp": 2006}


def _with_model(text: str, model: str) -> str:
    """A run config's text with its ``[model]`` section's settings replaced."""
    head, sep, rest = text.partition("[model]\n")
    if not sep:
        return text + "\n[model]\n" + model
    nxt = re.search(r"^\[", rest, flags=re.M)
    tail = rest[nxt.start():] if nxt else ""
    return head + "[model]\n" + model + "\n" + tail


def _configs(work: Path, data: Path | None) -> dict[str, dict[str, Path]]:
    """Run configs of the previous and today's default, per panel."""
    import shutil

    out: dict[str, dict[str, Path]] = {}
    shutil.copytree(ROOT / "datasets" / "default_world", work / "default_world")
    world = work / "default_world" / "run.toml"
    prev = world.parent / "run.previous-default.toml"
    out["default_world"] = {"previous": prev, "today": world}
    prev.write_text(_with_model(world.read_text(), PREVIOUS["default_world"]))
    if data is not None:
        subprocess.check_call([sys.executable, "-m", "r2p_models.cli", "adapt", "ewp",
                               "--data", str(data), "--out", str(work / "ewp")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        today = work / "ewp" / "run.toml"
        prev_ewp = work / "ewp" / "run.previous-default.toml"
        prev_ewp.write_text(_with_model(today.read_text(), PREVIOUS["ewp"]))
        out["ewp"] = {"previous": prev_ewp, "today": today}
    return out


def _fit(config: Path, through: int, out: Path, log: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "r2p_models.cli", "--log-format", "json", "fit",
           "--config", str(config), "--through", str(through), "--out", str(out)]
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    result = {"exit": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
              "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}
    if out.exists():
        import xarray as xr

        with xr.open_datatree(out, engine="h5netcdf") as tree:
            diag = json.loads(tree.attrs["diagnostics"])
        result.update({k: diag[k] for k in ("max_rhat", "min_ess_bulk", "min_ess_tail",
                                            "divergences", "sampling_seconds")})
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--data", type=Path, default=None,
                    help="the real data (../shared/datasets) for the EWP panel")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="r2p-fit-bench-"))
    print(f"work folder (logs, models): {work}", flush=True)
    configs = _configs(work, args.data)
    for panel, pair in configs.items():
        rows = []
        for i in range(args.pairs):
            for name in ("previous", "today"):
                r = _fit(pair[name], THROUGH[panel], work / f"{panel}-{name}-{i}.nc",
                         work / f"{panel}-{name}-{i}.log")
                rows.append({"panel": panel, "config": name, "pair": i, **r})
                print(json.dumps(rows[-1]), flush=True)
        wall = {n: [r["wall_s"] for r in rows if r["config"] == n]
                for n in ("previous", "today")}
        ratio = np.array(wall["today"]) / np.array(wall["previous"])
        print(f"{panel}: wall s median previous {np.median(wall['previous']):.1f}, today "
              f"{np.median(wall['today']):.1f}; ratio today / previous pair by pair "
              f"{np.round(ratio, 2).tolist()}; peak RSS MB max "
              f"{max(r['peak_rss_mb'] for r in rows):.0f}", flush=True)


if __name__ == "__main__":
    main()
