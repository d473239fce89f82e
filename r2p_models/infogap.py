"""Information gaps and the value of information: where what we don't know matters.

A forecast rests on indicator values that are sometimes missing at the origin year and
sometimes fused from unreliable sources (:mod:`r2p_models.data.fusion`, the panel's
``X_var``). This module says, per country and crime, how much of the forecast's
uncertainty comes from those gaps, and, per (country, indicator), how much collecting the
value would be expected to move the forecast.

Predictive distribution of an uncertain input
---------------------------------------------
Every value is on the model's standardised scale (:class:`~r2p_models.model.design.
Standardisation`), ``x = lambda (x_raw - m) / sd`` as the model uses it. For country ``c``
and indicator ``j`` at the origin, the true value is taken to be
``x[c, j] ~ Normal(mu[c, j], tau[c, j]**2)``, independently across cells and of the
posterior:

- **missing, model fitted with** ``missing="bayes"``: the model's own imputation
  distribution, ``mu = impute_mean[c, j]`` (0 for a country the model was not fitted on)
  and ``tau = impute_sd[j]`` (:mod:`r2p_models.model.design`);
- **missing, carried forward** (``missing="carry_forward"``): ``mu`` is the value the
  model uses (the last observed value, shrunk by its reliability) and ``tau**2`` is the
  indicator's pooled within-country variance of standardised values (the spread the
  ``bayes`` mode imputes with, computed from the panel years up to the origin) plus the
  carried value's own measurement variance ``lambda X_var / sd**2``; for a country never
  observed, ``mu = 0`` (the training mean, which the model uses) and ``tau = 1`` (the
  indicator's marginal spread);
- **observed but fused with error** (``X_var > 0``): regression calibration gives
  ``mu`` = the value used, ``E[x | x_obs]``, and the normal measurement model gives
  ``Var[x | x_obs] = lambda X_var`` on the raw scale, so ``tau**2 = lambda X_var / sd**2``
  (``lambda = v / (v + X_var)``, ``v`` the true-score variance);
- observed exactly: ``tau = 0`` (no gap).

Missingness flags are held fixed at their observed value: the flag records that the
country's data were not reported, a signal about its situation that an analyst filling
the gap does not remove.

Variance decomposition
----------------------
The log-odds of country ``c`` and crime ``k`` in posterior draw ``s`` is additive in the
inputs, ``eta_s(x) = a_s + sum_j g_skj(x_j)`` (``a_s``: intercept, region, country
effect, missingness-flag and history terms), with ``g_skj(x) = beta_skj x`` for an
indicator with a linear effect and ``beta_skj x`` plus its smooth terms
(:mod:`r2p_models.model.smooth`) for one with a smooth effect. With ``x`` drawn from its
predictive distribution independently of the draw ``s``, the law of total variance over
(draw, input) gives::

    Var(eta) = Var_s(E[eta | s])                + E_s(Var[eta | s])
             = Var_s(a_s + sum_j E[g_skj(x_j)]) + sum_j E_s[Var(g_skj(x_j))]
               (parameter part)                   (information-gap part)

For a linear effect ``E[g(x_j)] = g(mu_j)`` and ``Var(g(x_j)) = beta_skj**2 tau_j**2``, in
closed form (exact given the posterior draws, no simulation); for a smooth effect both
moments are taken by Gauss-Hermite quadrature with :data:`HERMITE_NODES` nodes (exact for
a polynomial of degree below twice that; the spline is piecewise cubic and held constant
outside its knots, so the moments are within a fraction of a percent).

The *gap share* is the second term over the sum; it splits into a missing-value part and
an unreliable-source part (and by indicator). A country with no missing value and no
unreliable source has share exactly 0.

Value of information
--------------------
The decision quantities are the watchlist probability ``p = E[expit(eta)]`` (the posterior
mean the watchlist ranks by) and ``P(in top N)`` among the countries at risk, both taken
over the posterior draws and over every uncertain input (each drawn once per posterior
draw: its ``S`` quantile nodes in an order shuffled by a generator seeded from the
model's seed, a Latin hypercube, so that with one uncertain input these are within
``1 / (2 S)`` of their value given the draws, for ``S`` posterior draws). Learning
``x_j = z`` replaces that input's draws by ``z`` (its term by ``g_skj(z)``); by iterated
expectation the expected revised forecast equals the current one, so the expected value
of information is the expected absolute revision::

    VOI_p[c, k, j] = E_z | E[expit(eta) | x_j = z] - E[expit(eta)] |

(and likewise for ``P(in top N)``, ranking against the other countries' draws). The
expectation over ``z ~ Normal(mu, tau**2)`` uses ``n_nodes`` equally weighted quantile
nodes ``mu + tau Phi^{-1}((m - 1/2) / n_nodes)``: by the Koksma-Hlawka inequality in one
dimension the error of each expectation is at most the integrand's total variation (at
most 2 for these bounded quantities) times ``1 / (2 n_nodes)``, so the VOI is within
``1.5 / n_nodes`` of its value given the draws. An input whose coefficient is 0 in every
draw, or that is known (``tau = 0``), has VOI exactly 0.

What it offers:

- :func:`input_uncertainty`: ``mu``, ``tau`` and the kind of gap of every (country,
  indicator);
- :func:`information_gaps`: the decomposition and the VOI as one :class:`xarray.Dataset`
  with dims ``(country, crime, indicator)``;
- :func:`gap_ranking`: countries ranked by where what we don't know matters most;
- :func:`voi_table`: one row per (country, crime, indicator) with a sentence
  "collecting X in C would move its watchlist probability by ...";
- :func:`plot_information_gaps`: countries by region on a grid, coloured by gap share.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, ndtri

from r2p_models.crimes import CRIME_LABELS
from r2p_models.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from r2p_models.model.fitted import FittedModel

__all__ = [
    "GAP_KINDS",
    "InfoGapError",
    "gap_ranking",
    "information_gaps",
    "input_uncertainty",
    "plot_information_gaps",
    "voi_table",
]

#: Gauss-Hermite nodes of the moments of a smooth input's term (see the module docstring).
HERMITE_NODES = 128
#: Kinds of information gap of one (country, indicator) at the origin ("" = none).
GAP_KINDS = ("missing", "unreliable")
_RANK_KEYS = ("share_gap", "voi_p", "voi_top_n", "var_gap")


class InfoGapError(InputError):
    """An argument of the information-gap analysis that cannot be used."""


def _seeded(seed: int, *keys: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join([str(seed), *keys]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InfoGapError(f"{name} = {value!r}: expected a whole number >= {minimum}")
    return int(value)


def _within_sd(x_raw: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Pooled within-country sd of standardised values (the ``bayes`` imputation spread)."""
    from r2p_models.model.design import _imputation_params

    years = np.ones(x_raw.shape[1], dtype=bool)
    return _imputation_params(x_raw, mean, sd, years)[1]


def input_uncertainty(fm: FittedModel, panel: xr.Dataset, origin_year: int) -> xr.Dataset:
    """The predictive distribution of every indicator value at an origin year.

    Parameters
    ----------
    fm : FittedModel
        A fitted model.
    panel : xarray.Dataset
        The panel (schema in :mod:`r2p_models.data`), holding ``origin_year``.
    origin_year : int
        The origin of the forecast.

    Returns
    -------
    xarray.Dataset
        dims ``(country, indicator)``: ``mu`` (centre, standardised scale), ``tau``
        (predictive sd, standardised; 0 for a value known exactly), ``x_std`` (the value
        the published forecast uses), ``kind`` (``"missing"``, ``"unreliable"`` or
        ``""``), ``value`` (raw value at the origin, NaN when missing) and ``x_var`` (its
        measurement variance, raw scale). See the module docstring for the rules.

    Raises
    ------
    r2p_models.model.design.DesignError
        The origin year is not in the panel, or the panel lacks the model's indicators.
    """
    from r2p_models.data.panel import panel_as_of
    from r2p_models.model.design import carry_forward
    from r2p_models.model.predict import _origin

    od = _origin(fm, panel, origin_year, None)
    std = fm.standardisation
    inds = list(std.indicators)
    past = panel_as_of(panel, int(origin_year)).sel(year=slice(None, int(origin_year)),
                                                     indicator=inds)
    x_raw = past["X"].transpose("country", "year", "indicator").values.astype(float)
    if "X_var" in past:
        x_var = past["X_var"].transpose("country", "year", "indicator").values.astype(float)
    else:
        x_var = np.zeros_like(x_raw)
    x_var_ff = carry_forward(np.where(np.isnan(x_raw), np.nan, x_var), axis=1)[:, -1]
    x_var_ff = np.where(np.isnan(x_var_ff), 0.0, x_var_ff)
    never = np.isnan(carry_forward(x_raw, axis=1)[:, -1])
    lam = std.reliability(x_var_ff)
    meas = lam * x_var_ff / std.sd**2  # Var[true | measured], standardised
    missing = od.missing
    mu = od.x.copy()
    tau2 = np.where(missing, 0.0, meas)
    const = fm.idata.constant_data
    if fm.config.missing == "bayes" and "impute_sd" in const:
        train = {str(c): i for i, c in enumerate(const["country"].values)}
        im = const["impute_mean"].values
        isd = const["impute_sd"].values.astype(float)
        for ci, c in enumerate(od.countries):
            m = np.flatnonzero(missing[ci])
            mu[ci, m] = im[train[c], m] if c in train else 0.0
            tau2[ci, m] = isd[m] ** 2
    else:
        within = _within_sd(x_raw, std.mean, std.sd)
        carried = missing & ~never
        tau2 = np.where(carried, within[None, :] ** 2 + meas, tau2)
        tau2 = np.where(missing & never, 1.0, tau2)
        mu = np.where(missing & never, 0.0, mu)
    kind = np.where(missing, "missing", np.where(tau2 > 0, "unreliable", ""))
    raw = x_raw[:, -1]  # as known at the origin (fused from the reports up to it)
    return xr.Dataset(
        {"mu": (("country", "indicator"), mu), "tau": (("country", "indicator"), np.sqrt(tau2)),
         "x_std": (("country", "indicator"), od.x),
         "kind": (("country", "indicator"), kind.astype(object)),
         "value": (("country", "indicator"), raw),
         "x_var": (("country", "indicator"), np.where(missing, np.nan, x_var_ff))},
        coords={"country": list(od.countries), "indicator": inds,
                "region": ("country", list(od.regions))},
        attrs={"origin_year": int(origin_year), "missing_mode": str(fm.config.missing)},
    )


class _InputEffects:
    """Each input's additive term of the log-odds, ``g_skj(x)``, over the posterior draws.

    ``beta_skj x`` for an indicator with a linear effect, plus its smooth terms
    (:mod:`r2p_models.model.smooth`) for one with a smooth effect.

    Parameters
    ----------
    beta : ndarray (draw, crime, indicator)
        Linear effects (standardised scale).
    smooth : SplineSet, optional
        The model's smooth terms, with ``gamma`` their effects (draw, crime, column).
    """

    def __init__(self, beta: np.ndarray, smooth: Any = None,
                 gamma: np.ndarray | None = None) -> None:
        self.beta = beta
        self.smooth = smooth
        self.gamma = gamma
        self.curved = (set() if smooth is None or gamma is None
                       else {int(j) for j in smooth.feature})

    def is_linear(self, j: int) -> bool:
        """Whether input ``j``'s term is ``beta x`` alone."""
        return j not in self.curved

    def at(self, j: int, values: np.ndarray, draws: np.ndarray | None = None) -> np.ndarray:
        """``g_skj`` at each of ``values`` (n,) for every draw: (draw, crime, n)."""
        v = np.asarray(values, dtype=float)
        beta = self.beta if draws is None else self.beta[draws]
        out = beta[:, :, j, None] * v[None, None, :]
        if j in self.curved:
            cols, b = self.smooth.columns_of(j, v)
            gamma = (self.gamma if draws is None else self.gamma[draws])[:, :, cols]
            out = out + np.einsum("nm,skm->skn", b, gamma)
        return out

    def per_draw(self, j: int, values: np.ndarray, draws: np.ndarray | None = None
                 ) -> np.ndarray:
        """``g_skj`` at one value per draw (``values``: (draw,)): (draw, crime)."""
        v = np.asarray(values, dtype=float)
        beta = self.beta if draws is None else self.beta[draws]
        out = beta[:, :, j] * v[:, None]
        if j in self.curved:
            cols, b = self.smooth.columns_of(j, v)
            gamma = (self.gamma if draws is None else self.gamma[draws])[:, :, cols]
            out = out + np.einsum("sm,skm->sk", b, gamma)
        return out

    def zero(self, j: int) -> bool:
        """Whether input ``j``'s term is 0 in every draw."""
        if np.any(self.beta[:, :, j]):
            return False
        if j in self.curved:
            cols, _ = self.smooth.columns_of(j, np.zeros(1))
            return not np.any(self.gamma[:, :, cols])
        return True


def _centre_log_odds(fm: FittedModel, panel: xr.Dataset, origin_year: int,
                     mu: np.ndarray) -> tuple[np.ndarray, _InputEffects, Any]:
    """Log-odds draws with every input at its predictive centre, and the input effects.

    Returns ``eta (draw, country, crime)``, the input effects and the origin
    design.
    """
    from r2p_models.model.design import DesignError
    from r2p_models.model.predict import _origin, _terms, posterior_arrays

    if fm.standardisation.rules is not None:
        # the decomposition and the VOI rest on a log-odds additive in the inputs
        raise DesignError("information gaps: not available for a model with interaction "
                          "rules ([model] rules), whose log-odds are not additive in the "
                          "indicators")
    od = _origin(fm, panel, origin_year, None)
    t = _terms(fm, od)
    post = posterior_arrays(fm)
    effects = _InputEffects(post["beta"], fm.standardisation.smooth, post.get("beta_smooth"))
    # the episode history does not depend on the indicators: part of the centre
    eta = (t["intercept"] + t["region"] + t["country"] + t["missing"].sum(-1)
           + t["history"].sum(-1) + np.einsum("cj,skj->sck", mu, effects.beta))
    for j in effects.curved:  # the smooth terms at the centres
        g = effects.at(j, mu[:, j])  # (draw, crime, country)
        eta = eta + (g - effects.beta[:, :, j, None] * mu[None, None, :, j]).transpose(0, 2, 1)
    return eta, effects, od


def _gap_core(eta_c: np.ndarray, effects: _InputEffects | np.ndarray, tau: np.ndarray,
              eligible: np.ndarray, top_n: int, n_nodes: int, rng: np.random.Generator,
              voi_draws: int | None = None, mu: np.ndarray | None = None,
              ) -> dict[str, np.ndarray]:
    """The decomposition and the VOI on arrays (see the module docstring).

    Parameters
    ----------
    eta_c : ndarray (draw, country, crime)
        Log-odds draws with every input at its predictive centre.
    effects : _InputEffects or ndarray (draw, crime, indicator)
        Each input's term; an array is a linear effect's coefficient draws.
    tau : ndarray (country, indicator)
        Predictive sd of each input (0: known).
    eligible : ndarray of bool (country, crime)
        Countries ranked for P(in top N) (at risk).
    top_n, n_nodes : int
    rng : numpy.random.Generator
        Draws the uncertain inputs once per posterior draw.
    voi_draws : int, optional
        At most this many posterior draws (evenly spaced) in the VOI integrals.
    mu : ndarray (country, indicator), optional
        Predictive centre of each input (needed only for smooth effects).

    Returns
    -------
    dict
        ``var_param (country, crime)``, ``var_ind (country, crime, indicator)``, ``p_mean``,
        ``p_top_n`` (country, crime), ``voi_p``, ``voi_top_n`` (country, crime,
        indicator).
    """
    if not isinstance(effects, _InputEffects):
        effects = _InputEffects(effects)
    beta = effects.beta
    S, C, K = eta_c.shape
    J = beta.shape[2]
    q = ndtri((np.arange(n_nodes) + 0.5) / n_nodes)
    var_ind = np.einsum("kj,cj->ckj", (beta**2).mean(axis=0), tau**2)
    centre = eta_c.copy()  # E[eta | draw]: a smooth term's mean over its input differs
    uncertain = tau > 0
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    gh_w = gh_w / gh_w.sum()
    for c, j in zip(*np.nonzero(uncertain), strict=True):
        if effects.is_linear(j):
            continue
        g = effects.at(j, mu[c, j] + tau[c, j] * gh_x)  # (draw, crime, node)
        m1 = g @ gh_w
        var_ind[c, :, j] = np.maximum((g**2) @ gh_w - m1**2, 0.0).mean(axis=0)
        centre[:, c, :] += m1 - effects.at(j, mu[c, j:j + 1])[:, :, 0]
    var_param = centre.var(axis=0)
    # Latin hypercube: each input's draws are the S quantile nodes in a random order, so
    # one input's marginal is matched exactly and the inputs are paired at random
    nodes = ndtri((np.arange(S) + 0.5) / S)
    z = nodes[np.argsort(rng.random((S, C, J)), axis=0)] * tau[None]
    eta = eta_c + np.einsum("scj,skj->sck", z, beta)
    shift = {}  # a smooth input's draws: g(mu + z) - g(mu) in place of beta z
    for c, j in zip(*np.nonzero(uncertain), strict=True):
        if effects.is_linear(j):
            continue
        g0 = effects.at(j, mu[c, j:j + 1])[:, :, 0]
        shift[c, j] = effects.per_draw(j, mu[c, j] + z[:, c, j]) - g0
        eta[:, c, :] += shift[c, j] - z[:, c, j, None] * beta[:, :, j]
    p_mean = expit(eta).mean(axis=0)
    # per (draw, crime) the N-th and (N+1)-th highest log-odds among eligible countries
    masked = np.where(eligible[None], eta, -np.inf)
    n_el = eligible.sum(axis=0)  # per crime
    srt = -np.sort(-masked, axis=1)
    def kth(k: int) -> np.ndarray:
        return srt[:, k, :] if k < C else np.full((S, K), -np.inf)
    nth, nth1 = kth(top_n - 1), kth(top_n)
    # a country's threshold is the N-th highest among the *other* eligible countries
    thr = np.where(masked >= nth[:, None, :], nth1[:, None, :], nth[:, None, :])
    thr = np.where((n_el <= top_n)[None, None, :], -np.inf, thr)
    p_top = np.where(eligible, (eta > thr).mean(axis=0), np.nan)
    keep = (np.arange(S) if voi_draws is None or S <= voi_draws
            else np.linspace(0, S - 1, voi_draws).round().astype(int))
    eta_v, thr_v, beta_v, z_v = eta[keep], thr[keep], beta[keep], z[keep]
    voi_p = np.zeros((C, K, J))
    voi_top = np.where(eligible[:, :, None], 0.0, np.nan) * np.ones((C, K, J))
    for c, j in zip(*np.nonzero(uncertain), strict=True):
        if effects.zero(j):
            continue
        if effects.is_linear(j):
            b = beta_v[:, :, j]  # (S, K)
            base = eta_v[:, c, :] - z_v[:, c, j, None] * b  # (S, K): input j's draws removed
            eta_m = base[None] + b[None] * (tau[c, j] * q)[:, None, None]  # (M, S, K)
        else:
            base = eta_v[:, c, :] - shift[c, j][keep]
            g = effects.at(j, mu[c, j] + tau[c, j] * q, keep)  # (S, K, M)
            g0 = effects.at(j, mu[c, j:j + 1], keep)  # (S, K, 1)
            eta_m = base[None] + (g - g0).transpose(2, 0, 1)  # (M, S, K)
        pm = expit(eta_m).mean(axis=1)  # (M, K)
        voi_p[c, :, j] = np.abs(pm - pm.mean(axis=0)).mean(axis=0)
        el = eligible[c]
        if el.any():
            tm = (eta_m > thr_v[None, :, c, :]).mean(axis=1)
            v = np.abs(tm - tm.mean(axis=0)).mean(axis=0)
            voi_top[c, el, j] = v[el]
    return {"var_param": var_param, "var_ind": var_ind, "p_mean": p_mean, "p_top_n": p_top,
            "voi_p": voi_p, "voi_top_n": voi_top}


def information_gaps(fm: FittedModel, panel: xr.Dataset, origin_year: int, *,
                     top_n: int = 20, n_nodes: int = 50,
                     voi_draws: int | None = 1000) -> xr.Dataset:
    """Share of forecast uncertainty from information gaps, and the value of information.

    Parameters
    ----------
    fm : FittedModel
        A fitted model.
    panel : xarray.Dataset
        The panel, holding ``origin_year``.
    origin_year : int
        The origin of the forecast (usually the latest year of the panel).
    top_n : int, default 20
        N of the watchlist for ``P(in top N)`` and its VOI.
    n_nodes : int, default 50
        Quantile nodes of each input's predictive distribution (VOI error at most
        ``1.5 / n_nodes``, a loose bound: see the module docstring).
    voi_draws : int or None, default 1000
        The VOI integrals use at most this many posterior draws, evenly spaced (their cost
        is nodes x draws per input; the variance shares always use every draw). None:
        every draw.

    Returns
    -------
    xarray.Dataset
        dims ``country``, ``crime``, ``indicator``; coordinates ``region(country)`` and
        ``at_risk(country, crime)``. Variables:

        - ``var_param``: posterior variance of the log-odds with the inputs at their
          centres (parameter uncertainty);
        - ``var_gap``, ``var_missing``, ``var_unreliable``: the information-gap part, all
          and by kind; ``var_indicator(country, crime, indicator)`` by input;
        - ``share_gap``, ``share_missing``, ``share_unreliable``: over ``var_param +
          var_gap``;
        - ``p_mean``, ``p_top_n``: the watchlist probability and P(in top N) with the
          gaps integrated over;
        - ``voi_p``, ``voi_top_n`` (country, crime, indicator): expected absolute change of
          the watchlist probability and of P(in top N) if the input were collected (NaN
          for ``voi_top_n`` of a country not at risk);
        - ``mu``, ``tau``, ``kind``, ``value`` (country, indicator): from
          :func:`input_uncertainty`.

    Raises
    ------
    InfoGapError
        Bad ``top_n`` or ``n_nodes``.
    r2p_models.model.design.DesignError
        The origin year is not in the panel, or the panel lacks the model's indicators.
    """
    top_n = _check_positive_int(top_n, "top_n")
    n_nodes = _check_positive_int(n_nodes, "n_nodes", 2)
    if voi_draws is not None:
        voi_draws = _check_positive_int(voi_draws, "voi_draws", 10)
    unc = input_uncertainty(fm, panel, origin_year)
    mu, tau = unc["mu"].values, unc["tau"].values
    eta_c, effects, od = _centre_log_odds(fm, panel, origin_year, mu)
    eligible = od.at_risk.astype(bool)
    seed = int(fm.meta.get("seed", fm.config.seed))
    core = _gap_core(eta_c, effects, tau, eligible, top_n, n_nodes,
                     _seeded(seed, "infogap", str(origin_year)), voi_draws, mu)
    kinds = unc["kind"].values
    var_ind = core["var_ind"]
    var_miss = (var_ind * (kinds == "missing")[:, None, :]).sum(-1)
    var_unrel = (var_ind * (kinds == "unreliable")[:, None, :]).sum(-1)
    var_gap = var_ind.sum(-1)
    total = core["var_param"] + var_gap
    safe = np.where(total > 0, total, 1.0)

    def share(v: np.ndarray) -> np.ndarray:
        return np.where(total > 0, v / safe, 0.0)

    ck, ckj = ("country", "crime"), ("country", "crime", "indicator")
    ds = xr.Dataset(
        {"var_param": (ck, core["var_param"]), "var_gap": (ck, var_gap),
         "var_missing": (ck, var_miss), "var_unreliable": (ck, var_unrel),
         "share_gap": (ck, share(var_gap)), "share_missing": (ck, share(var_miss)),
         "share_unreliable": (ck, share(var_unrel)),
         "var_indicator": (ckj, var_ind),
         "p_mean": (ck, core["p_mean"]), "p_top_n": (ck, core["p_top_n"]),
         "voi_p": (ckj, core["voi_p"]), "voi_top_n": (ckj, core["voi_top_n"]),
         **{k: unc[k] for k in ("mu", "tau", "kind", "value")}},
        coords={"country": list(od.countries), "crime": list(fm.crimes),
                "indicator": list(unc["indicator"].values),
                "region": ("country", list(od.regions)),
                "at_risk": (ck, eligible)},
        attrs={"origin_year": int(origin_year), "horizon": fm.horizon, "top_n": top_n,
               "n_nodes": n_nodes, "voi_draws": voi_draws or 0,
               "missing_mode": str(fm.config.missing),
               "voi_error_bound": 1.5 / n_nodes,
               "description": "information-gap share of the log-odds variance and value "
                              "of information (r2p_models.infogap)"},
    )
    if "name" in panel.coords:
        names = dict(zip(map(str, panel["country"].values), map(str, panel["name"].values),
                         strict=True))
        ds = ds.assign_coords(name=("country", [names.get(c, c) for c in od.countries]))
    if "description" in panel.coords:
        desc = dict(zip(map(str, panel["indicator"].values),
                        map(str, panel["description"].values), strict=True))
        ds = ds.assign_coords(description=(
            "indicator", [desc.get(str(i), "") for i in ds["indicator"].values]))
    return ds


def _described(gaps: xr.Dataset) -> dict[str, str]:
    """Indicator code -> how a reader names it: the panel's description, else the code."""
    codes = [str(i) for i in gaps["indicator"].values]
    if "description" not in gaps.coords:
        return {c: c for c in codes}
    return {c: (str(d).strip() or c)
            for c, d in zip(codes, gaps["description"].values, strict=True)}


def _check_gaps(gaps: xr.Dataset) -> None:
    need = {"share_gap", "voi_p", "voi_top_n", "var_gap", "kind", "at_risk"}
    if not isinstance(gaps, xr.Dataset) or not need <= (set(gaps.data_vars)
                                                        | set(gaps.coords)):
        raise InfoGapError("gaps: expected the Dataset returned by information_gaps()")


def gap_ranking(gaps: xr.Dataset, *, by: str = "voi_p", crime: str | None = None,
                at_risk_only: bool = True) -> pd.DataFrame:
    """Countries ranked by where what we don't know matters most.

    Parameters
    ----------
    gaps : xarray.Dataset
        From :func:`information_gaps`.
    by : {"voi_p", "voi_top_n", "share_gap", "var_gap"}
        ``voi_p`` (default) / ``voi_top_n``: the largest expected change, over the
        country's inputs, of the watchlist probability / of P(in top N) from collecting
        one input; ``share_gap``: the share of the log-odds variance from gaps;
        ``var_gap``: that variance itself.
    crime : str, optional
        One crime; all by default (ranked within each crime).
    at_risk_only : bool
        Only countries at risk at the origin (the ones forecast).

    Returns
    -------
    pandas.DataFrame
        One row per (crime, country): ``crime, rank, country, name, region, at_risk,
        p_mean, p_top_n, share_gap, share_missing, share_unreliable, voi_p, voi_top_n,
        best_indicator`` (the input with the largest ``by`` VOI, or the largest variance
        part for the share keys), ``best_description`` (how the panel describes it, else
        its code), ``n_missing``, ``n_unreliable``, ``origin_year``;
        ``rank`` 1 = matters most, among the countries at risk (NaN for the others).
    """
    _check_gaps(gaps)
    if by not in _RANK_KEYS:
        raise InfoGapError(f"by = {by!r}: expected one of {list(_RANK_KEYS)}")
    crimes = [str(k) for k in gaps["crime"].values]
    if crime is not None and crime not in crimes:
        raise InfoGapError(f"crime = {crime!r}: the result has {crimes}")
    kinds = gaps["kind"].values
    names = (gaps["name"].values if "name" in gaps.coords
             else gaps["country"].values)
    rows = []
    inds = np.array([str(i) for i in gaps["indicator"].values])
    described = _described(gaps)
    for k in [crime] if crime else crimes:
        g = gaps.sel(crime=k)
        vp = g["voi_p"].values
        vt = np.nan_to_num(g["voi_top_n"].values)
        key = {"voi_p": vp, "voi_top_n": vt}.get(by, g["var_indicator"].values)
        has_gap = (kinds != "").any(axis=1)
        for ci, c in enumerate(g["country"].values):
            risk = bool(g["at_risk"].values[ci])
            if at_risk_only and not risk:
                continue
            best = inds[int(np.argmax(key[ci]))] if has_gap[ci] and key[ci].max() > 0 else ""
            rows.append({
                "crime": k, "country": str(c), "name": str(names[ci]),
                "region": str(g["region"].values[ci]), "at_risk": risk,
                "p_mean": float(g["p_mean"].values[ci]),
                "p_top_n": float(g["p_top_n"].values[ci]),
                "share_gap": float(g["share_gap"].values[ci]),
                "share_missing": float(g["share_missing"].values[ci]),
                "share_unreliable": float(g["share_unreliable"].values[ci]),
                "var_gap": float(g["var_gap"].values[ci]),
                "voi_p": float(vp[ci].max()), "voi_top_n": float(vt[ci].max()),
                "best_indicator": best, "best_description": described.get(best, best),
                "n_missing": int((kinds[ci] == "missing").sum()),
                "n_unreliable": int((kinds[ci] == "unreliable").sum()),
            })
    cols = ["crime", "rank", "country", "name", "region", "at_risk", "p_mean", "p_top_n",
            "share_gap",
            "share_missing", "share_unreliable", "var_gap", "voi_p", "voi_top_n",
            "best_indicator", "best_description", "n_missing", "n_unreliable"]
    df = pd.DataFrame(rows, columns=[c for c in cols if c != "rank"])
    if df.empty:
        return df.reindex(columns=[*cols, "origin_year"])
    df = df.sort_values(["crime", by, "country"], ascending=[True, False, True],
                        kind="stable")
    # ranks among the countries at risk (the ones forecast); NaN for the others
    ranks = df[df["at_risk"]].groupby("crime").cumcount() + 1
    df.insert(1, "rank", ranks.reindex(df.index).astype(float))
    df["origin_year"] = gaps.attrs.get("origin_year", np.nan)
    order = {k: i for i, k in enumerate(crimes)}
    df = df.sort_values(["crime", "rank"], key=lambda s: s.map(order) if s.name == "crime"
                        else s, kind="stable", na_position="last")
    return df.reset_index(drop=True)


def voi_table(gaps: xr.Dataset, *, min_voi: float = 0.0, at_risk_only: bool = True,
              ) -> pd.DataFrame:
    """The value of information of every uncertain (country, crime, indicator).

    Parameters
    ----------
    gaps : xarray.Dataset
        From :func:`information_gaps`.
    min_voi : float
        Keep rows whose ``voi_p`` is at least this (probability units).
    at_risk_only : bool
        Only countries at risk at the origin.

    Returns
    -------
    pandas.DataFrame
        ``country, name, region, crime, indicator, description`` (how the panel
        describes the indicator, else its code), ``kind, p_mean, p_top_n, voi_p,
        voi_top_n, var_share`` (the input's part of the log-odds variance) and
        ``statement`` ("collecting X in C would move its watchlist probability of K by
        about ... percentage points on average"), ``origin_year``; sorted by ``voi_p``
        (largest first).
    """
    _check_gaps(gaps)
    if not np.isfinite(min_voi) or min_voi < 0:
        raise InfoGapError(f"min_voi = {min_voi!r}: expected a number >= 0")
    kinds = gaps["kind"].transpose("country", "indicator").values
    described = _described(gaps)
    ci, ji = np.nonzero(kinds != "")
    names = gaps["name"].values if "name" in gaps.coords else gaps["country"].values
    total = (gaps["var_param"] + gaps["var_gap"]).transpose("country", "crime").values
    vind = gaps["var_indicator"].transpose("country", "crime", "indicator").values
    vp = gaps["voi_p"].transpose("country", "crime", "indicator").values
    vt = gaps["voi_top_n"].transpose("country", "crime", "indicator").values
    pm = gaps["p_mean"].transpose("country", "crime").values
    pt = gaps["p_top_n"].transpose("country", "crime").values
    risk = gaps["at_risk"].transpose("country", "crime").values
    n = int(gaps.attrs.get("top_n", 0))
    rows = []
    for c, j in zip(ci, ji, strict=True):
        for k, crime in enumerate(gaps["crime"].values):
            if (at_risk_only and not risk[c, k]) or vp[c, k, j] < min_voi:
                continue
            ind, cname = str(gaps["indicator"].values[j]), str(names[c])
            what = described[ind] if described[ind] == ind else f"{described[ind]} ({ind})"
            top = ("" if not np.isfinite(vt[c, k, j]) else
                   f", and its chance of being in the top {n} ({100 * pt[c, k]:.0f} %) by "
                   f"{100 * vt[c, k, j]:.1f} points")
            rows.append({
                "country": str(gaps["country"].values[c]), "name": cname,
                "region": str(gaps["region"].values[c]), "crime": str(crime),
                "indicator": ind, "description": described[ind], "kind": str(kinds[c, j]),
                "p_mean": float(pm[c, k]), "p_top_n": float(pt[c, k]),
                "voi_p": float(vp[c, k, j]), "voi_top_n": float(vt[c, k, j]),
                "var_share": float(vind[c, k, j] / total[c, k]) if total[c, k] > 0 else 0.0,
                "statement": (f"collecting {what}, {kinds[c, j]}, in {cname} would move its "
                              f"{CRIME_LABELS.get(str(crime), crime).lower()} watchlist "
                              f"probability ({100 * pm[c, k]:.1f} %) by "
                              f"{100 * vp[c, k, j]:.2f} percentage points on average{top}"),
            })
    cols = ["country", "name", "region", "crime", "indicator", "description", "kind",
            "p_mean", "p_top_n",
            "voi_p", "voi_top_n", "var_share", "statement"]
    df = pd.DataFrame(rows, columns=cols)
    df["origin_year"] = gaps.attrs.get("origin_year", np.nan)
    return df.sort_values(["voi_p", "country", "crime", "indicator"],
                          ascending=[False, True, True, True], kind="stable"
                          ).reset_index(drop=True)


def _map_frame(gaps: xr.Dataset | pd.DataFrame, crime: str | None) -> pd.DataFrame:
    """``country, region, share, at_risk`` per country for the gap map."""
    if isinstance(gaps, xr.Dataset):
        _check_gaps(gaps)
        frame = gap_ranking(gaps, by="share_gap", at_risk_only=False)
    elif isinstance(gaps, pd.DataFrame):
        frame = gaps
    else:
        raise InfoGapError("gaps: expected the Dataset of information_gaps() or the table "
                           "of gap_ranking(..., at_risk_only=False)")
    need = {"crime", "country", "region", "share_gap", "at_risk"}
    if not need <= set(frame.columns):
        raise InfoGapError(f"gaps: the table lacks column(s) {sorted(need - set(frame))}")
    crimes = list(dict.fromkeys(frame["crime"].astype(str)))
    if crime is not None:
        if crime not in crimes:
            raise InfoGapError(f"crime = {crime!r}: the result has {crimes}")
        frame = frame[frame["crime"].astype(str) == crime]
    return (frame.assign(country=frame["country"].astype(str),
                         at_risk=frame["at_risk"].astype(bool))
            .groupby(["country", "region"], as_index=False)
            .agg(share=("share_gap", "mean"), at_risk=("at_risk", "any")))


def plot_information_gaps(gaps: xr.Dataset | pd.DataFrame, *, crime: str | None = None,
                          labels: dict[str, str] | None = None,
                          max_columns: int = 12) -> Figure:
    """Countries by region on a grid, coloured by the information-gap share of variance.

    One row block per region, one cell per country (ordered by code), the cell's colour
    its ``share_gap`` (averaged over crimes unless ``crime`` is given) and its label the
    country code; a country not at risk (of any crime shown) is not forecast, and is drawn
    grey and hatched (the colour scale covers the countries at risk). No map tiles, no
    network.

    Parameters
    ----------
    gaps : xarray.Dataset or pandas.DataFrame
        From :func:`information_gaps`, or the table of :func:`gap_ranking` with
        ``at_risk_only=False`` (e.g. read back from a CSV file).
    crime : str, optional
        One crime; by default the mean share over the crimes.
    labels : dict, optional
        Crime -> display name for the title.
    max_columns : int
        Cells per grid row before a region wraps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    max_columns = _check_positive_int(max_columns, "max_columns")
    frame = _map_frame(gaps, crime)
    share = frame["share"].to_numpy(dtype=float)
    risk = frame["at_risk"].to_numpy(dtype=bool)
    origin = (gaps.attrs.get("origin_year", "") if isinstance(gaps, xr.Dataset)
              else (int(gaps["origin_year"].iloc[0]) if "origin_year" in gaps.columns
                    and len(gaps) else ""))
    countries = frame["country"].tolist()
    regions = frame["region"].astype(str).tolist()
    layout: list[tuple[str, list[int]]] = []
    for r in sorted(set(regions)):
        idx = sorted((i for i, x in enumerate(regions) if x == r),
                     key=lambda i: (0, int(countries[i]), "") if countries[i].isdigit()
                     else (1, 0, countries[i]))  # numeric codes in numeric order
        for start in range(0, len(idx), max_columns):
            layout.append((r if start == 0 else "", idx[start:start + max_columns]))
    n_rows = max(len(layout), 1)
    n_cols = max([len(idx) for _, idx in layout] or [1])
    # colour scale up to the largest share of a country at risk (the ones forecast),
    # rounded up to a tenth (shares are often small); the others are drawn grey
    shown = share[risk & np.isfinite(share)]
    top = float(shown.max()) if shown.size else 0.0
    vmax = min(1.0, max(0.1, np.ceil(top * 10) / 10))
    width, height = 2.4 + 0.62 * n_cols + 1.2, 1.1 + 0.42 * n_rows
    fig = Figure(figsize=(width, height))
    left, right = 2.4 / width, 1.2 / width
    ax = fig.add_axes((left, 0.2 / height, 1 - left - right, 1 - 0.8 / height))
    cmap = colormaps["viridis_r"]
    norm = Normalize(0, vmax)
    for row, (region, idx) in enumerate(layout):
        y = n_rows - 1 - row
        if region:
            ax.text(-0.2, y + 0.5, region, ha="right", va="center", fontsize=8)
        for col, i in enumerate(idx):
            colour = (cmap(norm(float(np.clip(np.nan_to_num(share[i]), 0, vmax))))
                      if risk[i] else "#e6e6e6")
            ax.add_patch(Rectangle((col, y + 0.05), 0.92, 0.9, facecolor=colour,
                                   edgecolor="white", hatch=None if risk[i] else "///"))
            dark = risk[i] and share[i] > 0.45 * vmax
            ax.text(col + 0.46, y + 0.5, countries[i][:6], ha="center", va="center",
                    fontsize=6.5, color="white" if dark else "black")
    ax.set_xlim(-0.1, n_cols)
    ax.set_ylim(0, n_rows)
    ax.set_axis_off()
    what = (labels or {}).get(crime, crime) if crime else "mean over crimes"
    fig.text(0.1 / width, 1 - 0.08 / height,
             f"Share of forecast variance from missing or unreliable data\n({what}, origin "
             f"{origin}; grey, hatched: not at risk, not forecast)",
             fontsize=9, ha="left", va="top")
    cax = fig.add_axes((1 - right + 0.25 / width, 0.2 / height, 0.15 / width,
                        1 - 0.8 / height))
    sm = ScalarMappable(cmap=cmap, norm=norm)
    cb = fig.colorbar(sm, cax=cax)
    cb.set_label("information-gap share", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return fig
