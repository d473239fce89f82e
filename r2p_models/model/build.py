"""The PyMC models: the joint hierarchical four-crime logit and its comparison variants.

For observation ``(country c, origin year t, crime k)`` (see :mod:`r2p_models.model.design`)::

    logit P(onset in t+1..t+h | at risk) =
        alpha[k] + a_region[r(c), k] + a_country[c, k]
        + sum_j beta[k, j] x[c, t, j] + sum_f beta_missing[k, f] flag[c, t, f]
        + sum_r beta_rule[k, r] rule[c, t, r] + sum_m beta_smooth[k, m] smooth[c, t, m]

The rule columns (``[model] rules``, none by default) are threshold conjunctions of the
indicators found on the training cells (:mod:`r2p_models.model.rules`); their effects
have the prior of an indicator relevant to every crime, like the missingness flags, with
its sd scaled by ``[model] rule_scale`` (``Priors.rule_scale``).
The smooth columns (``[model] smooth``, none by default) are cubic B-spline bases of the
continuous indicators (:mod:`r2p_models.model.smooth`); each has the prior of its
indicator's effect (relevant to the crimes the indicator is), its sd scaled by
``[model] smooth_scale`` (``Priors.smooth_scale``).
With ``[model] history`` the log-odds also hold ``sum_k' beta_history[k, k'] h[c, t, k']``,
the episode history of every crime (:mod:`r2p_models.model.design`), one effect per
pair with prior ``Normal(0, 1)``: the cross-crime precursors (an episode of war crimes
under way raising the risk of genocide) and the dynamics of recurrence.

``hierarchical`` (the design's joint model; ``build_model``'s default, while ``ModelConfig()``
    defaults to ``pooled``)
    ``alpha[k] = alpha_m[k] - (sigma_region**2 (1 - 1/R) + sigma_country[k]**2) / 2`` with
    ``alpha_m[k] ~ Normal(logit(base rate of k), 1.5)``: the prior is on the intercept of
    the average country-year (for rare events ``E[p] ~ exp(alpha + variance / 2)``), which
    also removes the curved ridge between ``alpha`` and the effect scales;
    ``a_region = sigma_region * z``, ``z ~ ZeroSumNormal(1)`` over regions, per crime,
    non-centred (one scale for all crimes: a handful of regions cannot inform one scale
    per crime; the sum-to-zero constraint keeps ``alpha`` identified);
    ``a_country[c, :] ~ MvNormal(0, diag(sigma) Omega diag(sigma))``, ``Omega ~ LKJ(2)``,
    ``sigma[k] ~ Gamma(2, 2 / 0.6)`` and ``sigma_region ~ Gamma(2, 2 / 0.4)`` (zero-avoiding
    scale priors, see :class:`Priors`), non-centred (``a_country = z @ (diag(sigma) L).T``
    with ``L`` the Cholesky factor of ``Omega``: few events per country, so the data
    inform each country weakly); ``L`` is built from independent partial correlations
    (:func:`_lkj_cholesky`), so the sampler moves the scales and the correlations on
    separate coordinates;
    ``beta[k, j] = rel[k, j] * mu[j] + s[k, j] * z[k, j]`` where ``rel`` is the UN Framework
    mapping (:func:`r2p_models.crimes.indicator_relevance`): for a crime an indicator is
    relevant to, the effect is the shared effect ``mu[j] ~ Normal(0, 0.75)`` plus a
    crime-specific deviation of fixed scale ``tau = 0.2`` (``Priors(tau=None)`` learns it
    with a ``HalfNormal(0.25)`` prior, at a cost in sampling time); for any other crime it
    is shrunk to zero with a fixed scale 0.1. An
    indicator specific to one crime is therefore free for that crime and shrunk
    elsewhere. Missingness flags are treated as relevant to every crime.

    With **one crime** (e.g. the EWP panel's mass-killing onset) the model simplifies to
    what the data can inform: each effect is one coefficient, the mapped ones of a
    learned common scale ``beta[j] = sigma_beta * z[j]``, ``sigma_beta ~ HalfNormal(
    hypot(0.75, tau))`` (the marginal prior scale of the sum; ``Priors(learn_scale=False)``
    fixes it there), unmapped ones of fixed scale 0.1, and the region
    scale is fixed at its prior mean ``sigma_region = 0.4`` (stored as a constant, so
    forecasts for an unseen region work the same way), because a scale learned from five
    or six region effects sent NUTS into divergences.
``pooled``
    A regularised pooled logit per crime, the Early Warning Project's structure:
    ``alpha[k] + x @ beta[k]`` with ``beta[k, j] ~ Normal(0, sigma_beta[k])``, a learned
    scale ``sigma_beta[k] ~ HalfNormal(0.75)`` in place of the EWP's cross-validated
    penalty (``Priors(learn_scale=False)``: fixed at 0.75), and no region or country
    effects.
``no_country``
    ``hierarchical`` without the country effects.
``independent``
    Every crime on its own: its own region scale, independent country effects with
    their own scale, and coefficients with the mapping's prior scales but no shared
    effect.

The likelihood is evaluated densely on the (country, origin year, crime) grid and
weighted by the usable-observation mask, so the linear predictor is one matrix
product and a broadcast (no gathers), which keeps the gradient cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import logit

from r2p_models.model.design import Design
from r2p_models.model.loglik import bernoulli_logit_loglik

__all__ = ["VARIANTS", "Priors", "build_model", "model_data", "usable_span"]

VARIANTS = ("hierarchical", "pooled", "no_country", "independent")


@dataclass(frozen=True)
class Priors:
    """Prior scales (all on the log-odds scale, indicators standardised).

    Attributes
    ----------
    alpha_sd : float
        Sd of each crime's intercept around the logit of its training base rate.
    mu_sd : float
        Sd of the shared indicator effects (per sd of the indicator).
    tau_sd : float
        HalfNormal scale of the crime-specific deviations of relevant effects, when
        ``tau`` is None (learned).
    tau : float or None
        Fixed scale of those deviations (default 0.2). A learned scale informed by four
        crimes per indicator sits in the hard middle ground between the centred and the
        non-centred parameterisation (the data pin each effect about as tightly as the
        scale's prior): fixing it removed the funnel that dominated the sampling time.
    off_sd : float
        Fixed sd of an indicator's effect on a crime it is not mapped to.
    region_sd : float
        Prior mean of the region-effect scale, ``Gamma(2, 2 / region_sd)``.
    country_sd : float
        Prior mean of each crime's country-effect scale, ``Gamma(2, 2 / country_sd)``.
        The effect scales have zero-avoiding Gamma(2) priors: with a few dozen events per
        crime the data cannot rule out a scale near 0, and a HalfNormal prior left a long
        left tail of log(scale) (1 % quantile ~0.01) that NUTS explored very slowly.
    lkj_eta : float
        LKJ shape of the correlation of country effects across crimes.
    history_sd : float
        Prior sd of each episode-history effect (``[model] history``).
    rule_scale : float
        Prior sd of the interaction rules' effects as a fraction of the indicators'
        (``[model] rule_scale``; a fit sets it from the config).
    smooth_scale : float
        Prior sd of the smooth terms' effects as a multiple of the indicators'
        (``[model] smooth_scale``; a fit sets it from the config).
    alpha_center : float, optional
        Prior mean of every intercept; by default the logit of each crime's training base
        rate (simulation-based calibration needs a prior that does not look at the data).
    learn_scale : bool
        Models with one coefficient per term and crime (``pooled``, and any variant
        fitted to one crime) learn the scale of the indicator effects per crime,
        ``sigma_beta[k] ~ HalfNormal(mu_sd)`` (``HalfNormal(hypot(mu_sd, tau))`` for the
        mapped terms of a one-crime model), instead of fixing it at ``mu_sd``: the
        Bayesian counterpart of the cross-validated penalty of the EWP's elastic net:
        with many predictors and few onsets a fixed scale of ``mu_sd`` overfits. The
        joint multi-crime model keeps its fixed-scale shared effects (four crimes
        inform each shared effect).
        ``[model] effect_scale`` can replace the learned scale by a fixed or a
        cross-validated one (:mod:`r2p_models.model.scale`).
    """

    alpha_sd: float = 1.5
    mu_sd: float = 0.75
    tau_sd: float = 0.25
    tau: float | None = 0.2
    off_sd: float = 0.1
    region_sd: float = 0.4
    country_sd: float = 0.6
    lkj_eta: float = 2.0
    history_sd: float = 1.0
    rule_scale: float = 1.0
    smooth_scale: float = 1.0
    alpha_center: float | None = None
    learn_scale: bool = True

    def to_dict(self) -> dict[str, float | None]:
        """Plain dict of the scales."""
        return asdict(self)


def _coords(design: Design) -> dict[str, list[str]]:
    return {
        "crime": list(design.crimes),
        "crime2": list(design.crimes),
        "region": list(design.regions),
        "country": list(design.countries),
        "indicator": list(design.indicators),
        "flag": list(design.flag_names),
        "rule": list(design.rule_names),
        "smooth": list(design.smooth_names),
        "history": list(design.history_names),
    }


def _coefficients(design: Design, variant: str, priors: Priors) -> tuple[pt.TensorVariable, ...]:
    """Indicator and flag effects (crime x indicator, crime x flag)."""
    K = len(design.crimes)
    F = len(design.flag_names)
    R = len(design.rule_names)
    M = len(design.smooth_names)
    # missingness flags and interaction rules are relevant to every crime, a smooth
    # column to the crimes its indicator is relevant to
    sm = design.standardisation.smooth
    rel_smooth = (design.relevance @ sm.share_matrix(len(design.indicators)).T > 0
                  if M else np.zeros((K, 0), dtype=bool))
    rel = np.concatenate([design.relevance, np.ones((K, F + R), dtype=bool), rel_smooth],
                         axis=1)
    dims_all = ("crime", "term")
    if variant == "pooled":
        if priors.learn_scale:
            # the Bayesian counterpart of the EWP's cross-validated penalty (see Priors)
            s = pm.HalfNormal("sigma_beta", priors.mu_sd, dims="crime")
            b = pm.Normal("b_z", 0.0, 1.0, dims=dims_all) * s[:, None]
        else:
            b = pm.Normal("b", 0.0, priors.mu_sd, dims=dims_all)
    elif K == 1 and priors.learn_scale:
        # One crime, learned scale: the mapped terms share one learned scale (its prior
        # scale is the marginal sd of "shared effect + crime deviation"); unmapped terms
        # keep the fixed off_sd.
        tau = priors.tau_sd if priors.tau is None else priors.tau
        s = pm.HalfNormal("sigma_beta", np.hypot(priors.mu_sd, tau), dims="crime")
        scale = pt.where(rel, s[:, None], priors.off_sd)
        b = pm.Normal("b_z", 0.0, 1.0, dims=dims_all) * scale
    elif variant == "independent":
        scale = np.where(rel, priors.mu_sd, priors.off_sd)
        b = pm.Normal("b_z", 0.0, 1.0, dims=dims_all) * scale
    elif K == 1:
        # One crime: "shared effect plus crime deviation" is one effect with the marginal
        # prior of the sum. Keeping both would add a direction per term that only the
        # prior identifies (a ridge NUTS has to walk along) and change nothing else.
        tau = priors.tau_sd if priors.tau is None else priors.tau
        scale = np.where(rel, np.hypot(priors.mu_sd, tau), priors.off_sd)
        b = pm.Normal("b_z", 0.0, 1.0, dims=dims_all) * scale
    else:
        mu = pm.Normal("mu", 0.0, priors.mu_sd, dims="term")
        if priors.tau is None:
            tau = pm.HalfNormal("tau", priors.tau_sd)
        else:
            tau = priors.tau
        z = pm.Normal("b_z", 0.0, 1.0, dims=dims_all)
        scale = pt.where(rel, tau, priors.off_sd)
        b = rel * mu[None, :] + scale * z
    J = len(design.indicators)
    # Rules and smooth terms have their own multiple of the prior sd. The multiple scales
    # their columns of Z (model_data) rather than b: the same model, but a product with b
    # in the graph made PyTensor scale all of Z at every gradient (4x the cost a step on
    # the EWP panel). The reported effects are per unit of the unscaled column.
    factor = term_factor(design, priors)
    beta = pm.Deterministic("beta", b[:, :J], dims=("crime", "indicator"))
    beta_missing = None
    if F:  # no zero-size variable when nothing is ever missing
        beta_missing = pm.Deterministic("beta_missing", b[:, J:J + F], dims=("crime", "flag"))
    if R:
        pm.Deterministic("beta_rule", b[:, J + F:J + F + R] * factor[J + F:J + F + R],
                         dims=("crime", "rule"))
    if M:
        pm.Deterministic("beta_smooth", b[:, J + F + R:] * factor[J + F + R:],
                         dims=("crime", "smooth"))
    return b, beta, beta_missing


def term_factor(design: Design, priors: Priors) -> np.ndarray:
    """Prior-sd multiple of each term's effect (indicators, flags, rules, smooth terms)."""
    J, F = len(design.indicators), len(design.flag_names)
    return np.concatenate([np.ones(J + F), np.full(len(design.rule_names), priors.rule_scale),
                           np.full(len(design.smooth_names), priors.smooth_scale)])


def _region_effects(design: Design, variant: str, priors: Priors) -> pt.TensorVariable | None:
    if variant == "pooled" or len(design.regions) < 2:
        return None
    # Non-centred: a region holds many country-years but only a few dozen onsets of a
    # crime, so the data pin its effect loosely. Centred effects sent NUTS into the funnel
    # at small sigma_region (17 divergences on the EWP panel, all at low sigma_region; on
    # the default world r_hat 1.012 at sigma_region); non-centred: none, and min bulk
    # ESS 941 (4 x 1500 draws, default world through 2017) with sigma_region at 1138.
    z = pm.ZeroSumNormal("a_region_z", sigma=1.0, dims=("crime", "region"))
    if len(design.crimes) == 1:
        # One crime: a learned scale would rest on R - 1 effects (5 on the EWP panel), and
        # NUTS diverged along it (EWP panel, origin 1999: 202 divergences in 4 x 2000
        # draws, at large sigma_region, r_hat 1.03). Fix it at the prior's mean, as the
        # crime-deviation scale is fixed.
        if variant == "independent":
            sigma = pm.Deterministic("sigma_region", pt.full((1,), priors.region_sd),
                                     dims="crime")
            a = (sigma[:, None] * z).T
        else:
            sigma = pm.Deterministic("sigma_region", pt.as_tensor_variable(priors.region_sd))
            a = (sigma * z).T
    elif variant == "independent":
        sigma = pm.Gamma("sigma_region", 2.0, 2.0 / priors.region_sd, dims="crime")
        a = (sigma[:, None] * z).T
    else:
        sigma = pm.Gamma("sigma_region", 2.0, 2.0 / priors.region_sd)
        a = (sigma * z).T
    return pm.Deterministic("a_region", a, dims=("region", "crime"))


def _lkj_cholesky(name: str, K: int, eta: float) -> pt.TensorVariable:
    """Cholesky factor of a ``LKJ(eta)`` correlation matrix, from independent partial
    correlations.

    The canonical partial correlations of column ``i`` are ``2 u - 1`` with ``u ~ Beta(a_i,
    a_i)``, ``a_i = eta + (K - 2 - i) / 2``, all independent: the generative form of the
    LKJ distribution (Lewandowski, Kurowicka & Joe 2009, the C-vine; Stan's
    ``lkj_corr_cholesky_rng`` and ``read_corr_L``). PyMC's ``LKJCholeskyCov`` samples the
    packed Cholesky factor of the *covariance*, whose coordinates mix each scale with the
    correlations (``L[1, 0] = sigma[1] * rho``), and its ``LKJCorr`` transforms each
    correlation to (-1, 1) separately, which does not keep the matrix positive definite;
    so the factor is built here. The scales are then separate coordinates
    (``log sigma``), which NUTS explored more easily (benchmarks/README.md).
    """
    alphas = np.concatenate([np.full(K - 1 - i, eta + (K - 2 - i) / 2) for i in range(K - 1)])
    cpc = 2.0 * pm.Beta(name, alphas, alphas, shape=len(alphas)) - 1.0
    rows: list[list[pt.TensorVariable | float]] = [[0.0] * K for _ in range(K)]
    left: list[pt.TensorVariable | float] = [1.0] * K  # 1 - squared norm of row j so far
    pos = 0
    for i in range(K - 1):
        rows[i][i] = pt.sqrt(left[i]) if i else 1.0
        for j in range(i + 1, K):
            rows[j][i] = cpc[pos] * pt.sqrt(left[j])
            left[j] = left[j] * (1.0 - cpc[pos] ** 2)
            pos += 1
    rows[K - 1][K - 1] = pt.sqrt(left[K - 1])
    return pt.stack([pt.stack([pt.as_tensor_variable(v) for v in r]) for r in rows])


def _country_effects(design: Design, variant: str, priors: Priors
                     ) -> tuple[pt.TensorVariable, pt.TensorVariable] | None:
    """The country effects and their variance per crime (``sigma_country**2``)."""
    if variant in ("pooled", "no_country"):
        return None
    K = len(design.crimes)
    z = pm.Normal("a_country_z", 0.0, 1.0, dims=("country", "crime"))
    if variant == "independent" or K == 1:
        sigma = pm.Gamma("sigma_country", 2.0, 2.0 / priors.country_sd, dims="crime")
        pm.Deterministic("corr_country", pt.eye(K), dims=("crime", "crime2"))
        a = z * sigma[None, :]
        var = sigma ** 2
    else:
        sigma = pm.Gamma("sigma_country", 2.0, 2.0 / priors.country_sd, dims="crime")
        corr_chol = _lkj_cholesky("corr_country_cpc", K, priors.lkj_eta)
        pm.Deterministic("corr_country", corr_chol @ corr_chol.T, dims=("crime", "crime2"))
        a = z @ (sigma[:, None] * corr_chol).T
        var = sigma ** 2
    return pm.Deterministic("a_country", a, dims=("country", "crime")), var


def usable_span(design: Design) -> slice:
    """The contiguous range of origin years the likelihood grid covers.

    From the first origin year with a usable observation to the last whose outcome window
    lies inside the panel, whatever ``design.through`` is: the years a fit through an
    earlier year cannot use are in the grid with weight 0 (and zero predictors). So the
    fits of one panel at every origin have the same shapes and share one compiled sampler
    (:class:`r2p_models.model.fit.SamplerCache`).
    """
    used_t = np.flatnonzero(design.w.any(axis=(0, 2)))
    last = int(np.flatnonzero(design.years + design.horizon <= design.years[-1])[-1])
    return slice(int(used_t[0]), max(last, int(used_t[-1])) + 1)


def model_data(design: Design, priors: Priors | None = None) -> dict[str, np.ndarray]:
    """The data containers of the model of a design, by name.

    ``Z`` (predictors, missingness flags, interaction rules and smooth terms, each scaled
    by its prior-sd multiple, and the episode history, one row per country and origin
    year of :func:`usable_span`), ``y`` and ``w`` (outcomes and
    weights on that grid) and ``alpha_center`` (the prior means of the intercepts).
    Country-years without a usable cell (e.g. after ``design.through``) carry zeros:
    their weight is 0 anyway.
    """
    priors = priors or Priors()
    span = usable_span(design)
    x, flags = design.x[:, span], design.flags[:, span]
    y, w = design.y[:, span], design.w[:, span]
    C, Ts, _ = x.shape
    blank = (w.max(axis=2) == 0)[:, :, None]
    rule_x = design.rule_x[:, span] if design.rule_names else np.zeros((C, Ts, 0))
    smooth_x = design.smooth_x[:, span] if design.smooth_names else np.zeros((C, Ts, 0))
    hist = design.history[:, span] if design.history_names else np.zeros((C, Ts, 0))
    # the rule and smooth columns scaled by their prior-sd multiple (see _coefficients)
    factor = term_factor(design, priors)
    terms = np.concatenate([x, flags, rule_x, smooth_x], axis=2) * factor
    Z = np.concatenate([np.where(blank, 0.0, v) for v in (terms, hist)], axis=2)
    K = len(design.crimes)
    center = (logit(design.base_rate) if priors.alpha_center is None
              else np.full(K, priors.alpha_center))
    return {"Z": Z.reshape(C * Ts, -1), "y": y, "w": w,
            "alpha_center": np.asarray(center, dtype=float)}


def build_model(design: Design, variant: str = "hierarchical",
                priors: Priors | None = None, *, mutable_outcome: bool = False) -> pm.Model:
    """The PyMC model of a design.

    Parameters
    ----------
    design : Design
        From :func:`r2p_models.model.design.build_design`.
    variant : {"hierarchical", "pooled", "no_country", "independent"}
        See the module docstring.
    priors : Priors, optional
        Prior scales; defaults to :class:`Priors`.
    mutable_outcome : bool
        Kept for API stability: the outcome is always a ``pm.Data`` named ``y`` (shape:
        the usable year span of ``design.y``), so it can be swapped without recompiling
        (simulation-based calibration).

    Returns
    -------
    pymc.Model
        Free parameters and the deterministics ``alpha``, ``beta``, ``beta_missing``,
        ``beta_rule`` (the interaction rules' effects), ``beta_smooth`` (the smooth
        terms'), ``beta_history`` (the episode history's, per pair of crimes),
        ``a_region``, ``a_country``, ``sigma_country``, ``corr_country`` (those the
        variant has). The likelihood is a
        ``Potential`` named ``loglik``; no per-observation quantity is stored in a trace.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant = {variant!r}: expected one of {list(VARIANTS)}")
    priors = priors or Priors()
    C, _, K = design.y.shape
    J = len(design.indicators)
    coords = _coords(design)
    coords["term"] = [*design.indicators, *(f"missing:{f}" for f in design.flag_names),
                      *design.rule_names, *design.smooth_names]
    with pm.Model(coords=coords) as model:
        data = model_data(design, priors)
        # The prior is on the *marginal* intercept alpha_m ~ log-odds of an average-risk
        # country-year averaged over country and region effects; for rare events
        # E[p] ~ exp(alpha + var/2), so alpha = alpha_m - var/2. This removes the curved
        # ridge between alpha and the effect scales that slows NUTS down.
        # the centre is data, not a constant: fits through other years share the sampler
        center = pm.Data("alpha_center", data["alpha_center"])
        alpha_m = pm.Normal("alpha_m", center, priors.alpha_sd, dims="crime")
        b, _, _ = _coefficients(design, variant, priors)
        if design.history_names:
            # one effect per (crime, crime whose episode history it is), own prior scale
            g = pm.Normal("beta_history_z", 0.0, 1.0, dims=("crime", "history"))
            g = pm.Deterministic("beta_history", g * priors.history_sd,
                                 dims=("crime", "history"))
            b = pt.concatenate([b, g], axis=1)
        a_region = _region_effects(design, variant, priors)
        country = _country_effects(design, variant, priors)
        a_country = None if country is None else country[0]
        var = pt.zeros(K)
        if a_region is not None:
            var = var + model["sigma_region"] ** 2 * (1.0 - 1.0 / len(design.regions))
        if country is not None:
            var = var + country[1]
        alpha = pm.Deterministic("alpha", alpha_m - 0.5 * var, dims="crime")

        span = usable_span(design)
        w = design.w[:, span]
        Ts = w.shape[1]
        # Data containers rather than constants: Numba does not have to freeze ~1 MB of
        # arrays into the compiled code (much faster compilation for nutpie), and fits of
        # the same panel through other years swap their data in without recompiling.
        Z0 = data["Z"]
        if design.missing_mode == "bayes":
            miss = design.missing[:, span] & (w.max(axis=2) > 0)[:, :, None]
            cells = np.flatnonzero(miss)
            j_of = cells % J
            c_of = cells // (Ts * J)
            x_mis = pm.Normal("x_missing", design.impute_mean[c_of, j_of],
                              design.impute_sd[j_of], shape=len(cells))
            rows, cols = cells // J, cells % J  # positions in Z (C*Ts rows, J+F columns)
            Z = pt.set_subtensor(pm.Data("Z", Z0)[rows, cols], x_mis)
        else:
            Z = pm.Data("Z", Z0)
        eta = (Z @ b.T).reshape((C, Ts, K))
        base = alpha[None, :]
        if a_region is not None:
            base = base + a_region[design.region_idx]
        if a_country is not None:
            base = base + a_country
        eta = eta + base[:, None, :]
        # Bernoulli-logit log-likelihood of the usable cells: y*eta - log(1 + exp(eta))
        # (a fused Op: see r2p_models.model.loglik for why)
        y_var = pm.Data("y", data["y"])
        w_var = pm.Data("w", data["w"])
        pm.Potential("loglik", bernoulli_logit_loglik(eta.reshape((-1,)), y_var.reshape((-1,)),
                                                      w_var.reshape((-1,))))
    return model
