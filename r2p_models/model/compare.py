"""Compare model variants with PSIS-LOO (ArviZ).

The pointwise log-likelihood of every usable observation is computed here from the
kept posterior draws (thinned first: 26 000 observations x 4 000 draws would be
0.8 GB), never stored in a saved model. All variants share the same observations, so
their ELPDs are comparable.
"""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import log_expit

from r2p_models.config import ModelConfig
from r2p_models.model.design import Design, DesignError, build_design
from r2p_models.model.fit import fit
from r2p_models.model.fitted import FittedModel
from r2p_models.model.predict import posterior_arrays

__all__ = ["compare_variants", "loo", "pointwise_loglik"]


def pointwise_loglik(fm: FittedModel, design: Design | None = None, *,
                     max_draws: int = 1000) -> xr.DataArray:
    """Log-likelihood of each usable observation for (thinned) posterior draws.

    Parameters
    ----------
    fm : FittedModel
    design : Design, optional
        The design the model was fitted on; defaults to ``fm.design`` (kept after
        :func:`fit`, absent after loading: rebuild it with ``build_design``).
    max_draws : int
        Draws kept per chain at most (evenly thinned).

    Returns
    -------
    xarray.DataArray
        dims ``(chain, draw, obs)``.
    """
    design = design if design is not None else fm.design
    if design is None:
        raise DesignError("pointwise_loglik: pass the design the model was fitted on")
    if fm.config.missing == "bayes":
        raise DesignError("pointwise_loglik: not available for missing = 'bayes' (the latent "
                          "imputed values are not kept)")
    post = fm.idata.posterior
    _check_labels(post, design)
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    step = max(1, int(np.ceil(n_draw / max_draws)))
    thinned = fm.idata.posterior.isel(draw=slice(None, None, step))
    sub = type(fm)(idata=az.InferenceData(posterior=thinned), config=fm.config,
                   diagnostics=fm.diagnostics, meta=fm.meta)
    d = posterior_arrays(sub)
    S = d["alpha"].shape[0]
    ci, ti, ki = np.nonzero(design.w > 0)
    y = design.y[ci, ti, ki]
    x = design.x[ci, ti]
    f = design.flags[ci, ti]
    r = design.rule_x[ci, ti] if design.rule_names else np.zeros((len(ci), 0))
    sm = design.smooth_x[ci, ti] if design.smooth_names else np.zeros((len(ci), 0))
    hist = design.history[ci, ti] if design.history_names else np.zeros((len(ci), 0))
    out = np.empty((S, len(ci)))
    for s in range(S):
        eta = d["alpha"][s, ki] + np.einsum("nj,nj->n", x, d["beta"][s, ki])
        if f.shape[1] and "beta_missing" in d:
            eta += np.einsum("nf,nf->n", f, d["beta_missing"][s, ki])
        if r.shape[1] and "beta_rule" in d:
            eta += np.einsum("nr,nr->n", r, d["beta_rule"][s, ki])
        if sm.shape[1] and "beta_smooth" in d:
            eta += np.einsum("nm,nm->n", sm, d["beta_smooth"][s, ki])
        if hist.shape[1] and "beta_history" in d:
            eta += np.einsum("nh,nh->n", hist, d["beta_history"][s, ki])
        if "a_region" in d:
            eta += d["a_region"][s, design.region_idx[ci], ki]
        if "a_country" in d:
            eta += d["a_country"][s, ci, ki]
        out[s] = np.where(y == 1, log_expit(eta), log_expit(-eta))
    n_kept = thinned.sizes["draw"]
    return xr.DataArray(out.reshape(n_chain, n_kept, -1), dims=("chain", "draw", "obs"),
                        name="onset")


def _check_labels(post: xr.Dataset, design: Design) -> None:
    """The design's axes are the posterior's, label for label and in the same order.

    The log-likelihood pairs draws with observations by position, so a design rebuilt from
    a panel that has since gained, lost or reordered a country would pair them silently
    wrong.
    """
    for dim, labels in (("crime", design.crimes), ("region", design.regions),
                        ("country", design.countries), ("indicator", design.indicators),
                        ("flag", design.flag_names), ("rule", design.rule_names),
                        ("smooth", design.smooth_names)):
        if dim not in post.coords:
            continue
        fitted = [str(v) for v in post[dim].values]
        given = [str(v) for v in labels]
        if fitted != given:
            at = next((i for i, (a, b) in enumerate(zip(fitted, given, strict=False)) if a != b),
                      min(len(fitted), len(given)))
            raise DesignError(
                f"pointwise_loglik: the design's {dim} axis is not the fitted model's "
                f"({len(given)} vs {len(fitted)} labels; first difference at position {at}: "
                f"{given[at] if at < len(given) else '(none)'!r} vs "
                f"{fitted[at] if at < len(fitted) else '(none)'!r}); rebuild the design from "
                "the panel and settings the model was fitted on")


def loo(fm: FittedModel, design: Design | None = None, *, max_draws: int = 1000) -> Any:
    """PSIS-LOO of a fitted model (``arviz.loo``) from thinned draws."""
    ll = pointwise_loglik(fm, design, max_draws=max_draws)
    post = fm.idata.posterior.isel(draw=slice(None, None, max(1, int(np.ceil(
        fm.idata.posterior.sizes["draw"] / max_draws)))))
    idata = az.InferenceData(posterior=post.assign_coords(draw=ll["draw"].values
                                                          if "draw" in ll.coords
                                                          else np.arange(ll.sizes["draw"])),
                             log_likelihood=xr.Dataset({"onset": ll}))
    return az.loo(idata, pointwise=True)


def compare_variants(
    panel: xr.Dataset,
    config: ModelConfig,
    variants: tuple[str, ...] = ("hierarchical", "pooled", "no_country", "independent"),
    *,
    through: int | None = None,
    max_draws: int = 1000,
    **fit_kwargs: Any,
) -> tuple[pd.DataFrame, dict[str, FittedModel]]:
    """Fit each variant with the same settings and compare them by PSIS-LOO.

    PSIS-LOO leaves out one observation (a country-year) and keeps the country's other
    years, later ones included, so it measures how well a variant interpolates a panel,
    not how well it forecasts: on the EWP panel it preferred the hierarchical model,
    which the rolling-origin backtest ranked worst (``docs/results/``). Choose a
    forecasting variant with the rolling-origin backtest (:func:`r2p_models.backtest.run_backtest`,
    ``r2p backtest``); use this for in-sample fit and for checking that the structure a
    world was simulated from is found.

    Returns
    -------
    table : pandas.DataFrame
        ``arviz.compare`` output (rank, elpd_loo, p_loo, elpd_diff, weight, se, dse,
        warning) plus each fit's convergence status.
    fits : dict
        Variant name -> FittedModel.
    """
    design = build_design(panel, horizon=config.horizon, through=through,
                          missing=config.missing, train_at_risk=config.train_at_risk,
                          rules=config.rules, rule_seed=config.seed, history=config.history,
                          smooth=config.smooth,
                          smooth_basis=config.smooth_basis)
    fits: dict[str, FittedModel] = {}
    loos: dict[str, Any] = {}
    for v in variants:
        cfg = ModelConfig(**{**config.to_dict(), "variant": v})
        fm = fit(panel, cfg, through=through, **fit_kwargs)
        fits[v] = fm
        loos[v] = loo(fm, design, max_draws=max_draws)
    table = az.compare(loos)
    table["status"] = [fits[str(v)].status for v in table.index]
    return table, fits
