"""Does PyTensor's BLAS setting matter to the default sampler (nutpie)?

PyTensor warns "could not link to a BLAS installation" in a plain pip venv. The warning
is about PyTensor's C backend; nutpie compiles the model through PyTensor's Numba backend,
whose matrix products call SciPy's bundled BLAS. This script runs, per BLAS setting, a
fresh process (its own PyTensor compile folder) that:

- times the BLAS detection (reading ``pytensor.config.blas__ldflags``) and records whether
  the warning was raised;
- compiles the full default model (hierarchical, horizon 1, default world) with nutpie
  and samples it briefly (2 chains, 100 tuning + 100 draws, seed 1), timing both in wall
  and CPU seconds (the CPU figure is the one to compare on a loaded machine);
- lists the BLAS libraries loaded into the process afterwards (``threadpoolctl``).

Settings: ``default`` (nothing set: PyTensor searches and, on Debian with
libopenblas-dev, finds nothing), ``openblas`` (``blas__ldflags=-lopenblas``) and ``empty``
(``blas__ldflags=`` set to nothing: no search, no warning, the same code as ``default``).

Usage (from the project root; a few minutes)::

    nice -n 10 .venv/bin/python benchmarks/bench_blas.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "default": "",
    "openblas": "blas__ldflags=-lopenblas",
    "empty": "blas__ldflags=",
}


def child() -> None:
    import warnings

    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import pytensor

        flags = pytensor.config.blas__ldflags
    detect = time.perf_counter() - t0, time.process_time() - c0
    warned = any("could not link to a BLAS" in str(w.message) for w in caught)
    warnings.filterwarnings("ignore")

    import nutpie
    from threadpoolctl import threadpool_info, threadpool_limits

    from r2p_models.data.simulate import simulate_world
    from r2p_models.model.build import build_model
    from r2p_models.model.design import build_design

    model = build_model(build_design(simulate_world(2005).panel, horizon=1))
    out: dict[str, object] = {"blas__ldflags": flags, "warned": warned,
                              "detect_wall_s": round(detect[0], 2),
                              "detect_cpu_s": round(detect[1], 2)}
    with threadpool_limits(limits=1, user_api="blas"):  # as r2p_models.model.fit does
        t, c = time.perf_counter(), time.process_time()
        compiled = nutpie.compile_pymc_model(model, backend="numba")
        out["compile_wall_s"] = round(time.perf_counter() - t, 1)
        out["compile_cpu_s"] = round(time.process_time() - c, 1)
        t, c = time.perf_counter(), time.process_time()
        idata = nutpie.sample(compiled, chains=2, cores=2, tune=100, draws=100, seed=1,
                              progress_bar=False, low_rank_modified_mass_matrix=True)
        out["sample_wall_s"] = round(time.perf_counter() - t, 1)
        out["sample_cpu_s"] = round(time.process_time() - c, 1)
    steps = idata.sample_stats["n_steps"].values
    out["uptime"] = Path("/proc/loadavg").read_text().split()[:3]
    out["leapfrog_steps"] = int(steps.sum())
    out["cpu_us_per_step"] = round(1e6 * float(out["sample_cpu_s"]) / int(steps.sum()), 1)
    out["blas_loaded"] = [f"{lib['filepath']} ({lib['num_threads']} threads)"
                          for lib in threadpool_info() if lib["user_api"] == "blas"]
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds over the settings (the first one fills each compile folder)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return
    root = Path(__file__).resolve().parent.parent
    for name in [n for _ in range(args.repeat) for n in args.settings]:
        compiledir = Path(tempfile.gettempdir()) / f"ptc_bench_blas_{name}"
        flags = ",".join(f for f in (f"compiledir={compiledir}", SETTINGS[name]) if f)
        env = {**os.environ, "PYTENSOR_FLAGS": flags,
               "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        started = time.strftime("%H:%M:%S", time.gmtime())
        res = subprocess.run([sys.executable, __file__, "--child"], env=env, cwd=root,
                             capture_output=True, text=True)
        line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(name, "failed:", res.stderr[-2000:])
            continue
        print(json.dumps({"setting": name, "PYTENSOR_FLAGS": flags, "started": started,
                          **json.loads(line[len("RESULT "):])}), flush=True)


if __name__ == "__main__":
    main()
