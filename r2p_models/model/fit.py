"""Fitting: samplers, the sampler cache, convergence checks and retries.

:func:`fit` builds the design and the model, samples it, checks the fit and returns a
:class:`~r2p_models.model.fitted.FittedModel` (that class, its convergence report and its
file live in :mod:`r2p_models.model.fitted`; they are also importable from here).

Every fit is checked (:func:`check_convergence`): ``r_hat <= 1.01``, bulk and tail ESS
``>= 400`` and no divergent transition, over every parameter kept in the posterior. A
failed check does not raise: it is a visible status (``FittedModel.diagnostics.ok`` is
False, ``FittedModel.status`` says why), a :class:`ConvergenceWarning` in notebooks, and
the CLI exits non-zero on it (:meth:`FittedModel.check` with ``raise_on_fail=True`` raises
:class:`ConvergenceError`). ADVI and Pathfinder fits are previews: never ``ok``.

Samplers: ``nutpie`` (default, Numba backend), ``numpyro`` (needs ``jax`` and
``numpyro``), ``pymc`` (PyMC's own NUTS, the fallback), ``advi`` and ``pathfinder``
(previews; Pathfinder needs ``pymc-extras``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import asdict, replace
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from r2p_models._version import __version__
from r2p_models.config import PREVIEW_SAMPLERS, ModelConfig
from r2p_models.model.build import Priors, build_model
from r2p_models.model.design import Design, DesignError, build_design
from r2p_models.model.fitted import (
    ConvergenceError,  # noqa: F401  (imported from here before it moved to fitted)
    ConvergenceReport,
    FittedModel,
)

# ConvergenceError, ConvergenceReport and FittedModel stay importable from here; they are
# documented in r2p_models.model.fitted (their home), so they are not in __all__.

__all__ = [
    "SHARED_SAMPLERS",
    "ConvergenceWarning",
    "SamplerCache",
    "assemble",
    "check_convergence",
    "config_hash",
    "fit",
    "panel_hash",
    "sample_model",
]

RHAT_MAX = 1.01
ESS_MIN = 400.0

#: Posterior variables a fitted model keeps (those the variant has).
KEEP = ("alpha", "alpha_m", "beta", "beta_missing", "beta_rule", "beta_smooth", "beta_history",
        "a_region", "a_country", "sigma_region", "sigma_country", "corr_country", "mu", "tau",
        "sigma_beta")


class ConvergenceWarning(UserWarning):
    """A fit failed its convergence check."""


log = logging.getLogger(__name__)

#: Samplers whose fits are checked and retried (ADVI and Pathfinder are previews).
NUTS_SAMPLERS = ("nutpie", "numpyro", "pymc")


def _worst(ds: xr.Dataset, reduce: str) -> tuple[float, str]:
    best_val, best_name = (-np.inf if reduce == "max" else np.inf), ""
    for name, da in ds.data_vars.items():
        vals = np.asarray(da.values, dtype=float)
        if not np.isfinite(vals).any():
            continue
        idx = np.nanargmax(vals) if reduce == "max" else np.nanargmin(vals)
        v = vals.flat[idx]
        if (reduce == "max" and v > best_val) or (reduce == "min" and v < best_val):
            pos = np.unravel_index(idx, vals.shape)
            label = ", ".join(str(da[d].values[i]) for d, i in zip(da.dims, pos, strict=True))
            best_val, best_name = float(v), f"{name}[{label}]" if label else name
    return best_val, best_name


def check_convergence(idata: az.InferenceData, *, sampler: str, sampling_seconds: float = 0.0,
                      compile_seconds: float = 0.0, preview: bool = False) -> ConvergenceReport:
    """Check r_hat, bulk/tail ESS and divergences over every posterior variable.

    Elements that are constant across draws (e.g. the diagonal of a correlation matrix)
    have no r_hat and are skipped.
    """
    post = idata.posterior
    # drop constant elements (NaN r_hat) by masking after the fact; their 0/0 would
    # otherwise print a numpy RuntimeWarning into every scheduled run's log
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(post)
        ess_b = az.ess(post, method="bulk")
        ess_t = az.ess(post, method="tail")
    const = {n: post[n].std(("chain", "draw")) == 0 for n in post.data_vars}
    rhat = xr.Dataset({n: rhat[n].where(~const[n]) for n in rhat.data_vars})
    ess_b = xr.Dataset({n: ess_b[n].where(~const[n]) for n in ess_b.data_vars})
    ess_t = xr.Dataset({n: ess_t[n].where(~const[n]) for n in ess_t.data_vars})
    max_rhat, w_rhat = _worst(rhat, "max")
    min_b, w_b = _worst(ess_b, "min")
    min_t, w_t = _worst(ess_t, "min")
    div = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        div = int(idata.sample_stats["diverging"].sum())
    problems: list[str] = []
    if preview:
        problems.append(f"{sampler} is an approximation for previews, not a checked MCMC fit")
    else:
        if post.sizes.get("chain", 1) < 2:
            problems.append("r_hat needs at least 2 chains")
        elif not max_rhat <= RHAT_MAX:
            problems.append(f"r_hat {max_rhat:.3f} > {RHAT_MAX} at {w_rhat}")
        if not min_b >= ESS_MIN:
            problems.append(f"bulk ESS {min_b:.0f} < {ESS_MIN:.0f} at {w_b}")
        if not min_t >= ESS_MIN:
            problems.append(f"tail ESS {min_t:.0f} < {ESS_MIN:.0f} at {w_t}")
        if div:
            problems.append(f"{div} divergent transitions")
    return ConvergenceReport(
        ok=not problems, max_rhat=max_rhat, min_ess_bulk=min_b, min_ess_tail=min_t,
        divergences=div, worst={"rhat": w_rhat, "ess_bulk": w_b, "ess_tail": w_t},
        sampler=sampler, sampling_seconds=float(sampling_seconds),
        compile_seconds=float(compile_seconds), problems=tuple(problems),
    )


def config_hash(config: ModelConfig) -> str:
    """sha256 of a model config's settings.

    ``effect_scale``, ``train_at_risk``, ``extend``, ``rules``, ``history`` and ``smooth``
    enter only when they are not the values they had before they existed (``"learned"``,
    ``"target_year"``, 1, 0, false, 0), so the hashes of configs (and the files and ledger
    entries that carry them) from before the settings existed stay valid.
    """
    settings = config.to_dict()
    if settings.get("effect_scale") == "learned":
        del settings["effect_scale"]
    if settings.get("train_at_risk") == "target_year":
        del settings["train_at_risk"]
    if settings.get("extend") == 1:
        del settings["extend"]
    if settings.get("rules") == 0:  # the rule scale only matters with rules
        del settings["rules"]
        settings.pop("rule_scale", None)
    if settings.get("history") is False:
        del settings["history"]
    if settings.get("smooth") == 0:  # the smooth scale only matters with smooth terms
        del settings["smooth"]
        settings.pop("smooth_scale", None)
        settings.pop("smooth_basis", None)
    if settings.get("smooth_basis") == "whitened":  # the basis before it was a setting
        del settings["smooth_basis"]
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def panel_hash(panel: xr.Dataset) -> str:
    """The panel's ``data_hash`` attribute, or a sha256 of its variables when absent."""
    if panel.attrs.get("data_hash"):
        return str(panel.attrs["data_hash"])
    h = hashlib.sha256()
    for name in ("X", "onset", "ongoing"):
        h.update(np.ascontiguousarray(panel[name].values, dtype=float).tobytes())
    for name in ("country", "year", "indicator", "crime"):
        h.update(repr(list(map(str, panel[name].values))).encode())
    return h.hexdigest()


class SamplerCache:
    """Compiled nutpie samplers kept between the fits of one process.

    The fits of a backtest, and the pipeline's final fit, build models of one structure
    on one panel: only their data containers (:func:`r2p_models.model.build.model_data`)
    differ. nutpie compiles a model in 15 to 40 s; with a cache each structure is
    compiled once and later fits swap their data in (``CompiledPyMCModel.with_data``),
    which gives the same sampler as a fresh compilation. At most ``size`` structures are
    kept; the least recently used is dropped.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = int(size)
        self._compiled: dict[str, tuple[Any, Any]] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(design: Design, variant: str, priors: Priors) -> str:
        """Fingerprint of everything that is compiled into the sampler (not data)."""
        from r2p_models.model.build import usable_span

        span = usable_span(design)
        h = hashlib.sha256()
        h.update(json.dumps([variant, priors.to_dict(), design.missing_mode, design.countries,
                             design.crimes, design.indicators, design.regions,
                             design.flag_names, design.rule_names, design.history_names,
                             design.smooth_names, [span.start, span.stop]],
                            default=str).encode())
        for arr in (design.region_idx, design.relevance):
            h.update(np.ascontiguousarray(arr).tobytes())
        if design.missing_mode == "bayes":  # latent cells and their priors are constants
            for arr in (design.missing[:, span] & (design.w[:, span].max(axis=2) > 0)[
                    :, :, None], design.impute_mean, design.impute_sd):
                h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def compiled(self, model: Any, design: Design, variant: str, priors: Priors) -> Any:
        """nutpie's compiled ``model``, from the cache with ``design``'s data if it holds
        the structure, else compiled now and kept."""
        import nutpie
        import pymc as pm

        from r2p_models.model.build import model_data

        key = self.key(design, variant, priors)
        if key in self._compiled:
            self.hits += 1
            compiled, first = self._compiled.pop(key)
            self._compiled[key] = compiled, first  # most recently used last
            data = model_data(design, priors)
            # the chains' initial point is computed from the first model's data containers
            # (the intercepts start at their prior centre): give them this fit's data too
            pm.set_data(data, model=first)
            return compiled.with_data(**data)
        self.misses += 1
        compiled = nutpie.compile_pymc_model(model, backend="numba", var_names=_kept(model))
        self._compiled[key] = compiled, model
        while len(self._compiled) > self.size:
            self._compiled.pop(next(iter(self._compiled)))
        return compiled


#: The cache the package's own backtests, reruns and pipeline share in a process.
SHARED_SAMPLERS = SamplerCache()


def _nutpie(model: Any, config: ModelConfig, progress: bool, cache: dict[str, Any] | None = None,
            **extra: Any) -> tuple[az.InferenceData, float, float]:
    import nutpie

    t0 = time.perf_counter()
    cache = {} if cache is None else cache
    if "nutpie" not in cache:  # a retry of the same model samples the compiled one again
        cache["nutpie"] = nutpie.compile_pymc_model(model, backend="numba",
                                                    var_names=_kept(model))
    compiled = cache["nutpie"]
    t1 = time.perf_counter()
    cores = min(config.chains, os.cpu_count() or 1)
    # The low-rank modified mass matrix captures the correlation between the country-effect
    # scales and the effects of the countries with events: on the default world it raised
    # the min ESS about fivefold over nutpie's diagonal default at the same cost per draw.
    settings = {"low_rank_modified_mass_matrix": True, **extra}
    idata = nutpie.sample(
        compiled, draws=config.draws, tune=config.tune, chains=config.chains, cores=cores,
        seed=config.seed, target_accept=config.target_accept, progress_bar=progress,
        save_warmup=False, **settings,
    )
    return idata, time.perf_counter() - t1, t1 - t0


def _pymc_nuts(model: Any, config: ModelConfig, progress: bool,
               nuts_sampler: str = "pymc") -> tuple[az.InferenceData, float, float]:
    import pymc as pm

    kwargs: dict[str, Any] = {}
    if nuts_sampler == "numpyro":
        import sys

        if "jax" not in sys.modules and "XLA_FLAGS" not in os.environ:
            # one XLA CPU device per core, so numpyro can run chains in parallel
            os.environ["XLA_FLAGS"] = \
                f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise DesignError(
                "sampler = 'numpyro' needs the packages jax and numpyro "
                "(pip install -e \".[numpyro]\", or pip install numpyro)"
            ) from None
        from r2p_models.model.loglik import register_jax

        register_jax()
        kwargs["nuts_sampler_kwargs"] = {"chain_method": "parallel"
                                         if _jax_devices() >= 2 else "vectorized"}
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=config.draws, tune=config.tune, chains=config.chains,
            cores=min(config.chains, os.cpu_count() or 1), random_seed=config.seed,
            target_accept=config.target_accept, progressbar=progress,
            compute_convergence_checks=False, nuts_sampler=nuts_sampler,
            var_names=_kept(model), **kwargs,
        )
    return idata, time.perf_counter() - t0, 0.0


def _jax_devices() -> int:
    import jax

    return jax.local_device_count()


def _approx(model: Any, config: ModelConfig, progress: bool,
            method: str) -> tuple[az.InferenceData, float, float]:
    import pymc as pm

    t0 = time.perf_counter()
    with model:
        if method == "advi":
            approx = pm.fit(n=20_000, method="advi", random_seed=config.seed,
                            progressbar=progress)
            idata = approx.sample(config.draws * config.chains, random_seed=config.seed)
        else:
            try:
                import pymc_extras as pmx
            except ImportError:
                raise DesignError(
                    "sampler = 'pathfinder' needs the package pymc-extras"
                ) from None
            idata = pmx.fit(method="pathfinder", num_draws=config.draws * config.chains,
                            random_seed=config.seed, progressbar=progress)
    post = idata.posterior
    if post.sizes["chain"] == 1 and config.chains > 1:  # split one long run into chains
        n = post.sizes["draw"] // config.chains
        post = post.isel(chain=0, draw=slice(0, n * config.chains)).drop_vars(["chain", "draw"])
        post = post.assign_coords(draw=np.arange(n * config.chains)).coarsen(
            draw=n).construct(draw=("chain", "draw"))
        post = post.assign_coords(chain=np.arange(config.chains), draw=np.arange(n))
        idata = az.InferenceData(posterior=post)
    return idata, time.perf_counter() - t0, 0.0


def _kept(model: Any) -> list[str]:
    names = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    return [n for n in KEEP if n in names]


def sample_model(model: Any, config: ModelConfig, *, progress: bool = False,
                 cache: dict[str, Any] | None = None,
                 **sampler_kwargs: Any) -> tuple[az.InferenceData, ConvergenceReport]:
    """Sample a built model with the configured sampler and check it.

    Returns the InferenceData (posterior restricted to :data:`KEEP` variables and
    ``sample_stats``) and its :class:`ConvergenceReport`. ``cache`` (a dict the caller
    keeps) holds nutpie's compiled model between calls on the same model.
    """
    from threadpoolctl import threadpool_limits

    s = config.sampler
    # One BLAS thread: chains already run in parallel, and a multi-threaded BLAS on the
    # small matrix products here oversubscribes the cores (measured 20x slower gradients
    # on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        if s == "nutpie":
            idata, secs, comp = _nutpie(model, config, progress, cache, **sampler_kwargs)
        elif s in ("pymc", "numpyro"):
            idata, secs, comp = _pymc_nuts(model, config, progress, nuts_sampler=s)
        else:
            idata, secs, comp = _approx(model, config, progress, s)
    keep = [n for n in _kept(model) if n in idata.posterior]
    post = idata.posterior[keep]
    used = {d for n in keep for d in post[n].dims}
    post = post.drop_vars([c for c in post.coords if c not in used])
    groups: dict[str, Any] = {"posterior": post}
    if "sample_stats" in idata.groups():
        stats = [v for v in ("diverging", "tree_depth", "n_steps", "step_size", "lp",
                             "energy") if v in idata.sample_stats]
        groups["sample_stats"] = idata.sample_stats[stats]
    idata = az.InferenceData(**groups)
    report = check_convergence(idata, sampler=s, sampling_seconds=secs, compile_seconds=comp,
                               preview=s in PREVIEW_SAMPLERS)
    return idata, report


#: Largest r_hat a fit may have and still be extended rather than retried: beyond it a
#: chain is more likely stuck than short.
EXTEND_RHAT_MAX = 1.05


def _short_only(report: ConvergenceReport) -> bool:
    """The fit failed only for want of draws: no divergence, r_hat below
    :data:`EXTEND_RHAT_MAX`, effective sample size short."""
    return (not report.ok and report.divergences == 0 and report.max_rhat <= EXTEND_RHAT_MAX
            and not (report.min_ess_bulk >= ESS_MIN and report.min_ess_tail >= ESS_MIN
                     and report.max_rhat <= RHAT_MAX))


def _extend(model: Any, config: ModelConfig, idata: az.InferenceData,
            report: ConvergenceReport, progress: bool, cache: dict[str, Any],
            **sampler_kwargs: Any) -> tuple[az.InferenceData, ConvergenceReport, int]:
    """Pool further sets of chains into a fit that is short of draws (``config.extend``).

    Extension ``k`` samples ``config.chains`` more chains with seed ``seed + 1000 k``;
    the pooled chains are checked as one fit. Returns the fit, its report and the number
    of extensions made.
    """
    done = 0
    while (config.sampler in NUTS_SAMPLERS and done < config.extend and _short_only(report)):
        done += 1
        more = replace(config, seed=(config.seed + 1000 * done) % 2**32)
        log.info("fit %s; extending it with %d more chains (seed %d)", report.summary(),
                 config.chains, more.seed)
        extra, extra_report = sample_model(model, more, progress=progress, cache=cache,
                                           **sampler_kwargs)
        idata = _pool_chains(idata, extra)
        report = check_convergence(
            idata, sampler=config.sampler,
            sampling_seconds=report.sampling_seconds + extra_report.sampling_seconds,
            compile_seconds=report.compile_seconds)
    return idata, report, done


def _pool_chains(a: az.InferenceData, b: az.InferenceData) -> az.InferenceData:
    """The chains of two fits of one model as one InferenceData (chains renumbered)."""
    n = a.posterior.sizes["chain"]
    groups: dict[str, Any] = {}
    for g in a.groups():
        left, right = a[g], b[g]
        right = right.assign_coords(chain=right.chain.values + n)
        groups[g] = xr.concat([left, right], dim="chain")
    return az.InferenceData(**groups)


def assemble(idata: az.InferenceData, report: ConvergenceReport, design: Design,
             config: ModelConfig, panel: xr.Dataset, *, through: int | None = None,
             priors: Priors | None = None, config_hash_value: str | None = None,
             ) -> FittedModel:
    """A :class:`FittedModel` from posterior draws of a model built on ``design``.

    Adds the ``constant_data`` group (standardisation, regions of the training countries,
    imputation parameters) and the provenance attributes.
    """
    const = design.standardisation.to_dataset()
    const["country_region"] = ("country", np.array([design.regions[i]
                                                    for i in design.region_idx], dtype=object))
    const = const.assign_coords(country=list(design.countries))
    if design.missing_mode == "bayes":
        const["impute_mean"] = (("country", "indicator"), design.impute_mean)
        const["impute_sd"] = (("indicator",), design.impute_sd)
    idata.add_groups({"constant_data": const})
    meta = {
        "config_hash": config_hash_value or config_hash(config),
        "model_config_hash": config_hash(config),
        "data_hash": panel_hash(panel),
        "package_version": __version__,
        "seed": int(config.seed),
        "through": -1 if through is None else int(through),
        "horizon": int(config.horizon),
        "variant": config.variant,
        "missing": config.missing,
        "priors": json.dumps((priors or Priors()).to_dict()),
        "design_counts": json.dumps(asdict(design.counts)),
        "risk_factors": json.dumps({i: list(r) for i, r in
                                    zip(design.indicators, design.risk_factors, strict=True)}),
    }
    return FittedModel(idata=idata, config=config, diagnostics=report, meta=meta,
                       design=design)


def fit(
    panel: xr.Dataset,
    config: ModelConfig | None = None,
    *,
    through: int | None = None,
    progress: bool = False,
    priors: Priors | None = None,
    config_hash_value: str | None = None,
    warn: bool = True,
    samplers: SamplerCache | None = None,
    **sampler_kwargs: Any,
) -> FittedModel:
    """Fit the model a config describes to a panel.

    Parameters
    ----------
    panel : xarray.Dataset
        The panel (schema in :mod:`r2p_models.data`).
    config : ModelConfig, optional
        ``[model]`` settings; defaults to ``ModelConfig()``.
    through : int, optional
        Fit only on what was known by the end of this year (observations with
        ``origin + horizon <= through``); at most the panel's last year (a later one is a
        :class:`~r2p_models.model.design.DesignError`, raised before any sampling).
    progress : bool
        Show the sampler's progress bar.
    priors : Priors, optional
        Prior scales (defaults in :class:`r2p_models.model.build.Priors`). With
        ``config.effect_scale`` other than ``"learned"`` the effect scale in them is
        replaced by the fixed or cross-validated one (:mod:`r2p_models.model.scale`; the
        selection is recorded as ``meta["effect_scale_cv"]``).
    config_hash_value : str, optional
        Hash recorded as ``config_hash`` (e.g. the run config's hash); defaults to
        :func:`config_hash` of ``config``.
    warn : bool
        Emit a :class:`ConvergenceWarning` when the check fails.
    samplers : SamplerCache, optional
        Compiled samplers to reuse (nutpie only): a fit of a structure the cache holds
        swaps its data into the compiled sampler instead of compiling again. The
        package's backtests, reruns and pipeline pass :data:`SHARED_SAMPLERS`.
    **sampler_kwargs
        Passed to ``nutpie.sample`` (e.g. ``low_rank_modified_mass_matrix=True``).

    Returns
    -------
    FittedModel
    """
    from r2p_models.model.scale import effect_priors

    config = config or ModelConfig()
    design = build_design(panel, horizon=config.horizon, through=through,
                          missing=config.missing, train_at_risk=config.train_at_risk,
                          rules=config.rules, rule_seed=config.seed,
                          history=config.history, smooth=config.smooth,
                          smooth_basis=config.smooth_basis)
    priors, selection = effect_priors(panel, config, priors, through=through)
    priors = replace(priors, rule_scale=float(config.rule_scale),
                     smooth_scale=float(config.smooth_scale))
    if selection is not None:
        log.info("effect scale %.3g chosen by rolling-origin CV (origins %d-%d, %d cases, "
                 "%d onsets)", selection.scale, selection.origins[0], selection.origins[-1],
                 selection.cases, selection.events)
    model = build_model(design, config.variant, priors)
    run, cache = config, {}
    compile_s = None
    if samplers is not None and config.sampler == "nutpie":
        t0 = time.perf_counter()
        cache["nutpie"] = samplers.compiled(model, design, config.variant, priors)
        compile_s = time.perf_counter() - t0
    idata, report = sample_model(model, run, progress=progress, cache=cache, **sampler_kwargs)
    if compile_s is not None:
        report = replace(report, compile_seconds=compile_s)
    idata, report, extended = _extend(model, config, idata, report, progress, cache,
                                      **sampler_kwargs)
    attempt = 0
    while not report.ok and attempt < config.retries and config.sampler in NUTS_SAMPLERS:
        attempt += 1
        run = replace(config, draws=config.draws * 2 ** attempt, seed=config.seed + attempt)
        log.warning("fit %s; retry %d of %d with %d draws a chain and seed %d",
                    report.summary(), attempt, config.retries, run.draws, run.seed)
        idata, report = sample_model(model, run, progress=progress, cache=cache,
                                     **sampler_kwargs)
        extended = 0
    fitted = assemble(idata, report, design, config, panel, through=through, priors=priors,
                      config_hash_value=config_hash_value)
    fitted.meta.update(attempts=attempt + 1, draws_used=int(run.draws), seed_used=int(run.seed),
                       chains_used=int(idata.posterior.sizes["chain"]), extensions=extended)
    if selection is not None:
        fitted.meta["effect_scale_cv"] = selection.to_json()
    if warn and not report.ok:
        warnings.warn(f"model fit {report.summary()}", ConvergenceWarning, stacklevel=2)
    return fitted
