"""Cost of one log-density + gradient evaluation of the full default model, per backend.

Every NUTS sampler spends its time in this call (about 30 of them a draw), so its cost
under each backend bounds what a sampler on that backend can gain over PyMC's own
sampler, which uses PyTensor's C backend (the baseline here, timed in the same process).
The model is the hierarchical default (horizon 1) on the embedded default world;
the point is the ratio, not the absolute time. One BLAS thread, one XLA device, as when
the chains run in parallel on the 2 cores.

Usage (from the project root; under a minute)::

    nice -n 10 .venv/bin/python benchmarks/bench_gradient.py
"""

from __future__ import annotations

import os
import time
import warnings

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")


def _time(f, x, n: int = 2000) -> tuple[float, float]:
    """Best of 3 loops of ``n`` calls: (wall, CPU) microseconds per call.

    The CPU time (of the whole process, every thread) is the figure to read on a loaded
    machine: the wall time also counts the time the process waited for a core.
    """
    for _ in range(50):
        f(x)
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            f(x)
        best_wall = min(best_wall, (time.perf_counter() - t) / n)
        best_cpu = min(best_cpu, (time.process_time() - c) / n)
    return best_wall * 1e6, best_cpu * 1e6


def _blas_ops(f) -> str:
    """The matrix-product Ops of a compiled PyMC logp/dlogp function, counted by name."""
    from collections import Counter

    nodes = f._pytensor_function.maker.fgraph.apply_nodes
    names = Counter(type(node.op).__name__ for node in nodes)
    dots = {k: v for k, v in names.items() if "Gem" in k or "Dot" in k or "Ger" in k}
    return ", ".join(f"{k} x{v}" for k, v in sorted(dots.items())) or "none"


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)  # BLAS, JAX float32 casts
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from r2p_models.data.simulate import simulate_world
    from r2p_models.model.build import build_model
    from r2p_models.model.design import build_design

    model = build_model(build_design(simulate_world(2005).panel, horizon=1))
    ip = model.initial_point()
    x0 = np.concatenate([np.asarray(ip[v.name]).ravel() for v in model.value_vars])
    x = x0 + 0.1 * np.random.default_rng(0).standard_normal(x0.size)
    import pytensor

    print(f"PYTENSOR_FLAGS={os.environ.get('PYTENSOR_FLAGS', '')!r}; "
          f"blas__ldflags={pytensor.config.blas__ldflags!r}")
    results: dict[str, tuple[float, float]] = {}
    values: dict[str, float] = {}
    with threadpool_limits(1):
        for name, mode in (("pytensor C (PyMC's sampler)", "FAST_RUN"),
                           ("pytensor Numba (nutpie)", "NUMBA")):
            f = model.logp_dlogp_function(ravel_inputs=True, mode=mode)
            f.set_extra_values({})
            values[name] = float(f(x)[0])
            results[name] = _time(f, x)
            print(f"{name}: matrix-product Ops {_blas_ops(f)}")
        # BLAS libraries loaded by now and their threads (a library loaded after
        # threadpool_limits was entered, e.g. one the C module links, is not limited)
        for lib in threadpool_info():
            if lib["user_api"] == "blas":
                print(f"BLAS loaded: {lib['filepath']} ({lib['internal_api']}, "
                      f"{lib['num_threads']} threads)")
        try:
            import jax
        except ImportError:
            print("jax not installed: JAX rows skipped")
        else:
            from pymc.sampling.jax import get_jaxified_logp

            from r2p_models.model.loglik import register_jax

            register_jax()
            logp = get_jaxified_logp(model)
            shapes = [np.asarray(ip[v.name]).shape for v in model.value_vars]
            parts = np.split(x, np.cumsum([int(np.prod(s)) for s in shapes])[:-1])
            for bits in (64, 32):
                jax.config.update("jax_enable_x64", bits == 64)
                dt = np.float64 if bits == 64 else np.float32
                xs = [jax.numpy.asarray(p.reshape(s), dtype=dt)
                      for p, s in zip(parts, shapes, strict=True)]
                vg = jax.jit(jax.value_and_grad(lambda v: logp(v)))
                name = f"JAX float{bits} (numpyro, blackjax)"
                values[name] = float(vg(xs)[0])

                def call(v, vg=vg):
                    return jax.block_until_ready(vg(v))
                results[name] = _time(call, xs)
    base = results["pytensor C (PyMC's sampler)"]
    print(f"{'backend':40s} {'us per call':>12s} {'CPU us':>8s} {'vs C':>6s} {'log density':>14s}")
    for name, (us, cpu) in results.items():
        print(f"{name:40s} {us:12.0f} {cpu:8.0f} {cpu / base[1]:6.2f} {values[name]:14.4f}")

if __name__ == "__main__":
    main()
