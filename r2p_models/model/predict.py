"""Forecast draws and log-odds terms from a fitted model.

A country the model was not fitted on gets a country effect drawn from the fitted
population distribution ``MvNormal(0, diag(sigma) Omega diag(sigma))`` (one draw per
posterior draw), and an unknown region an effect from ``Normal(0, sigma_region)``. These
draws use a random generator seeded from the model's seed and the country's id, so the
same model gives the same forecasts every time, before and after saving.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import arviz as az
import numpy as np
import xarray as xr
from scipy.special import expit

from r2p_models.config import ModelConfig
from r2p_models.model.design import DesignError, OriginDesign, Standardisation, origin_design


class _Fitted(Protocol):
    """What these functions read of a fitted model
    (:class:`r2p_models.model.fitted.FittedModel`, which calls them: a protocol here, so
    this module does not import the one that imports it)."""

    idata: az.InferenceData
    config: ModelConfig
    meta: dict[str, Any]

    @property
    def standardisation(self) -> Standardisation: ...

    @property
    def crimes(self) -> tuple[str, ...]: ...

    @property
    def horizon(self) -> int: ...

    @property
    def status(self) -> str: ...


__all__ = ["coefficients", "log_odds_terms", "posterior_arrays", "predict"]


def posterior_arrays(fm: _Fitted) -> dict[str, np.ndarray]:
    """Posterior draws with chain and draw stacked into a leading axis."""
    post = fm.idata.posterior
    out = {}
    for name, da in post.data_vars.items():
        v = da.values
        out[name] = v.reshape(v.shape[0] * v.shape[1], *v.shape[2:])
    return out


def _rng(seed: int, *keys: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join([str(seed), *keys]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _terms(fm: _Fitted, od: OriginDesign) -> dict[str, np.ndarray]:
    """Draws of each additive term: (draw, country, crime[, indicator/flag])."""
    d = posterior_arrays(fm)
    S = d["alpha"].shape[0]
    K = len(fm.crimes)
    C = len(od.countries)
    seed = int(fm.meta.get("seed", fm.config.seed))
    const = fm.idata.constant_data
    train_countries = [str(c) for c in const["country"].values]
    index = {c: i for i, c in enumerate(train_countries)}

    region = np.zeros((S, C, K))
    if "a_region" in d:
        regions = [str(r) for r in fm.idata.posterior["region"].values]
        sig = d["sigma_region"]
        for ci, r in enumerate(od.regions):
            if r in regions:
                region[:, ci] = d["a_region"][:, regions.index(r)]
            else:
                z = _rng(seed, "region", r).standard_normal((S, K))
                region[:, ci] = z * (sig if sig.ndim == 2 else sig[:, None])
    country = np.zeros((S, C, K))
    if "a_country" in d:
        sd = d["sigma_country"]
        corr = d["corr_country"]
        chol = None
        for ci, c in enumerate(od.countries):
            if c in index:
                country[:, ci] = d["a_country"][:, index[c]]
                continue
            if chol is None:
                cov = sd[:, :, None] * corr * sd[:, None, :]
                chol = np.linalg.cholesky(cov + 1e-12 * np.eye(K))
            z = _rng(seed, "country", c).standard_normal((S, K))
            country[:, ci] = np.einsum("skl,sl->sk", chol, z)

    x = np.broadcast_to(od.x, (S, *od.x.shape)).copy()
    if fm.config.missing == "bayes":
        std = fm.standardisation
        mean = np.zeros((C, len(std.indicators)))
        if "impute_mean" in const:
            im = const["impute_mean"].values
            for ci, c in enumerate(od.countries):
                if c in index:
                    mean[ci] = im[index[c]]
        isd = const["impute_sd"].values if "impute_sd" in const else np.ones(len(std.indicators))
        for ci, c in enumerate(od.countries):
            miss = np.flatnonzero(od.missing[ci])
            if miss.size:
                z = _rng(seed, "impute", c, str(od.origin_year)).standard_normal((S, miss.size))
                x[:, ci, miss] = mean[ci, miss] + isd[miss] * z
    ind = np.einsum("scj,skj->sckj", x, d["beta"])
    rules = fm.standardisation.rules
    if rules is not None and "beta_rule" in d:
        # each rule's term shared equally among the indicators it tests (its Shapley
        # value as a conjunction: see r2p_models.model.rules), so the per-indicator terms
        # still add up to the log-odds
        # (rules are evaluated on the design's imputed values, as in training)
        rule = np.einsum("cr,skr->sckr", od.rules, d["beta_rule"])
        ind = ind + np.einsum("sckr,rj->sckj", rule, rules.share_matrix(x.shape[-1]))
    smooth = fm.standardisation.smooth
    if smooth is not None and "beta_smooth" in d:
        # an indicator's smooth terms are part of its term (each column depends on it alone)
        sm = np.einsum("cm,skm->sckm", od.smooth, d["beta_smooth"])
        ind = ind + np.einsum("sckm,mj->sckj", sm, smooth.share_matrix(x.shape[-1]))
    beta_m = d.get("beta_missing", np.zeros((S, K, od.flags.shape[1])))
    flag = np.einsum("cf,skf->sckf", od.flags, beta_m)
    alpha = np.broadcast_to(d["alpha"][:, None, :], (S, C, K))
    H = od.history.shape[1] if "beta_history" in d else 0
    hist = (np.einsum("ch,skh->sckh", od.history, d["beta_history"]) if H
            else np.zeros((S, C, K, 0)))
    return {"intercept": alpha, "region": region, "country": country, "indicator": ind,
            "missing": flag, "history": hist}


def _origin(fm: _Fitted, panel: xr.Dataset, origin_year: int,
            horizon: int | None) -> OriginDesign:
    if horizon is not None and int(horizon) != fm.horizon:
        raise DesignError(
            f"horizon = {horizon}: this model was fitted for horizon {fm.horizon}; fit one "
            f"with [model] horizon = {horizon}"
        )
    return origin_design(panel, origin_year, fm.standardisation, fm.crimes)


def predict(fm: _Fitted, panel: xr.Dataset, origin_year: int, *,
            horizon: int | None = None) -> xr.DataArray:
    """See :meth:`r2p_models.model.fitted.FittedModel.predict`."""
    od = _origin(fm, panel, origin_year, horizon)
    t = _terms(fm, od)
    eta = t["intercept"] + t["region"] + t["country"] + t["indicator"].sum(-1) + \
        t["missing"].sum(-1) + t["history"].sum(-1)
    p = expit(eta).transpose(1, 2, 0)  # country, crime, draw
    h = fm.horizon
    return xr.DataArray(
        p, dims=("country", "crime", "draw"),
        coords={"country": list(od.countries), "crime": list(fm.crimes),
                "draw": np.arange(p.shape[2]), "region": ("country", list(od.regions)),
                "at_risk": (("country", "crime"), od.at_risk)},
        name="p",
        attrs={"origin_year": int(origin_year), "horizon": h,
               "target_start": int(origin_year) + 1, "target_end": int(origin_year) + h,
               "model_status": fm.status, "config_hash": fm.meta.get("config_hash", ""),
               "data_hash": fm.meta.get("data_hash", ""),
               "description": "posterior draws of P(onset within the horizon | at risk)"},
    )


def log_odds_terms(fm: _Fitted, panel: xr.Dataset, origin_year: int,
                   countries: list[str] | None = None) -> xr.Dataset:
    """Per-draw additive terms of each country's log-odds at an origin year.

    ``intercept + region + country_effect + indicator_term.sum("indicator")
    + missing_term.sum("flag") + history_term.sum("history")``
    equals the log-odds behind :meth:`FittedModel.predict`. With interaction rules
    (``[model] rules``) an indicator's term includes its equal share of every rule that
    tests it; with smooth terms (``[model] smooth``), its smooth terms.
    """
    od = _origin(fm, panel, origin_year, None)
    if countries is not None:
        unknown = [c for c in countries if c not in od.countries]
        if unknown:
            raise DesignError(f"countries: {unknown} are not in the panel")
        idx = [od.countries.index(c) for c in countries]
        od = OriginDesign(
            countries=tuple(countries), regions=tuple(od.regions[i] for i in idx),
            origin_year=od.origin_year, x=od.x[idx], flags=od.flags[idx],
            missing=od.missing[idx], at_risk=od.at_risk[idx], crimes=od.crimes,
            rules=od.rules[idx], history=od.history[idx], smooth=od.smooth[idx],
        )
    t = _terms(fm, od)
    std = fm.standardisation
    S = t["intercept"].shape[0]
    coords = {"draw": np.arange(S), "country": list(od.countries), "crime": list(fm.crimes),
              "indicator": list(std.indicators), "flag": list(std.flags),
              "history": list(std.history_names)}
    return xr.Dataset(
        {
            "intercept": (("draw", "country", "crime"), t["intercept"]),
            "region": (("draw", "country", "crime"), t["region"]),
            "country_effect": (("draw", "country", "crime"), t["country"]),
            "indicator_term": (("draw", "country", "crime", "indicator"), t["indicator"]),
            "missing_term": (("draw", "country", "crime", "flag"), t["missing"]),
            "history_term": (("draw", "country", "crime", "history"), t["history"]),
            "x_std": (("country", "indicator"), od.x),
            "x_missing": (("country", "indicator"), od.missing),
        },
        coords=coords,
        attrs={"origin_year": int(origin_year), "horizon": fm.horizon},
    ).transpose("country", "crime", ..., "draw")


def coefficients(fm: _Fitted, scale: str = "raw") -> xr.Dataset:
    """See :meth:`r2p_models.model.fitted.FittedModel.coefficients`."""
    if scale not in ("raw", "standardised"):
        raise ValueError(f"scale = {scale!r}: expected 'raw' or 'standardised'")
    post = fm.idata.posterior
    alpha, beta = post["alpha"], post["beta"]
    if scale == "standardised":
        return xr.Dataset({"alpha": alpha, "beta": beta})
    const = fm.idata.constant_data
    sd = const["x_sd"]
    beta_raw = beta / sd
    alpha_raw = alpha - (beta * const["x_mean"] / sd).sum("indicator")
    if const.sizes.get("flag", 0) and "beta_missing" in post:
        alpha_raw = alpha_raw - (post["beta_missing"] * const["flag_mean"]).sum("flag")
    return xr.Dataset({"alpha": alpha_raw, "beta": beta_raw})
