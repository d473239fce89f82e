"""The scale of the indicator effects: learned, fixed, or chosen by rolling-origin CV.

Models with one coefficient per term and crime (``pooled``, and every variant fitted to a
one-outcome panel such as the EWP's) put one prior scale on all indicator effects. By
default it is learned (``[model] effect_scale = "learned"``: ``sigma_beta ~ HalfNormal``,
see :class:`r2p_models.model.build.Priors`). Learning it is what the data *in sample*
support; for forecasting the next years it can be too loose: on the EWP panel the
learned scale is about twice the prior sd at which penalised logits forecast the following
years best (``docs/results/2026-11-29-ewp.md``): effects estimated on the past transfer
only partly to the future.

``effect_scale = "rolling_cv"`` asks the forecasting question of the training data itself,
the way the Early Warning Project chooses its elastic-net penalty by cross-validation but
respecting time: for each prior sd ``s`` of :data:`GRID`, a ridge logit with penalty
``1 / (2 s**2)`` (scikit-learn; the MAP of the model's effects under a ``Normal(0, s)``
prior, with an unpenalised intercept and without the region effects) is fitted on what was
known at each of the last :data:`INNER_ORIGINS` origins whose outcome windows have closed
by the end of the training data, and forecasts that origin's at-risk countries (one ridge
logit per crime for a multi-crime ``pooled`` model, the scores pooled: one scale for all
crimes, as with the learned scale's common prior). The ``s`` with the smallest mean log
score over those forecasts is the prior sd of every effect in the Bayesian fit (in the
one-outcome variants, terms the UN mapping does not relate to the crime keep
``min(s, off_sd)``; the pooled logit has no mapping). Nothing after the training data is
used, so a backtest with this setting is still out of sample. With
``effect_scale = <number>`` the prior sd is fixed at that number (a sensitivity analysis).

The CV uses scikit-learn's penalised logit as a fast stand-in for the Bayesian model
(each candidate needs :data:`INNER_ORIGINS` fits, and a sampled fit takes tens of seconds
where a ridge fit takes milliseconds); the inner designs always carry the last observed
value forward, whatever ``[model] missing`` says.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from r2p_models.config import ModelConfig
from r2p_models.model.build import Priors
from r2p_models.model.design import DesignError, build_design, origin_design

__all__ = ["GRID", "INNER_ORIGINS", "ScaleSelection", "effect_priors", "select_effect_scale"]

log = logging.getLogger(__name__)

#: Candidate prior sds of the indicator effects (standardised indicators, log-odds scale).
GRID: tuple[float, ...] = (0.02, 0.03, 0.05, 0.07, 0.1, 0.14, 0.2, 0.3)
#: How many of the latest closed origins of the training data score each candidate.
INNER_ORIGINS = 8


@dataclass(frozen=True)
class ScaleSelection:
    """The result of :func:`select_effect_scale`.

    Attributes
    ----------
    scale : float
        The chosen prior sd (smallest mean log score; the smaller sd on a tie).
    grid : tuple of float
        The candidates.
    log_score : tuple of float
        Mean log score (negative log-likelihood per case) of each candidate's forecasts.
    origins : tuple of int
        The inner origins that were scored.
    cases, events : int
        Forecasts scored, and onsets among them.
    """

    scale: float
    grid: tuple[float, ...]
    log_score: tuple[float, ...]
    origins: tuple[int, ...]
    cases: int
    events: int

    def to_json(self) -> str:
        """JSON of the selection (stored with the fitted model)."""
        return json.dumps({"scale": self.scale, "grid": list(self.grid),
                           "log_score": [round(v, 6) for v in self.log_score],
                           "origins": list(self.origins), "cases": self.cases,
                           "events": self.events})


def _uses_one_scale(config: ModelConfig, n_crimes: int) -> bool:
    return config.variant == "pooled" or n_crimes == 1


def select_effect_scale(panel: xr.Dataset, config: ModelConfig, *, through: int | None = None,
                        grid: tuple[float, ...] = GRID,
                        inner_origins: int = INNER_ORIGINS) -> ScaleSelection:
    """Choose the prior sd of the indicator effects by rolling-origin cross-validation.

    See the module docstring for the procedure.

    Parameters
    ----------
    panel : xarray.Dataset
        The panel.
    config : ModelConfig
        Uses ``horizon`` (and ``variant`` for the check below).
    through : int, optional
        The training data's last year, as in :func:`r2p_models.model.fit`.
    grid : tuple of float
        Candidate prior sds (positive).
    inner_origins : int
        Number of the latest origins with closed windows to score.

    Returns
    -------
    ScaleSelection

    Raises
    ------
    DesignError
        The model does not have one effect scale (a joint multi-crime variant other than
        ``pooled``), fewer than 3 inner origins have training data and at-risk cases, or
        the scored forecasts hold no onset.
    """
    from threadpoolctl import threadpool_limits

    # one BLAS thread: the ridge fits are small, and a multi-threaded BLAS on a busy
    # 2-core machine made the CV several times slower (oversubscribed cores)
    with threadpool_limits(limits=1, user_api="blas"):
        return _select_effect_scale(panel, config, through, grid, inner_origins)


def _select_effect_scale(panel: xr.Dataset, config: ModelConfig, through: int | None,
                         grid: tuple[float, ...], inner_origins: int) -> ScaleSelection:
    """The work of :func:`select_effect_scale`."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    if not grid or any(not np.isfinite(s) or s <= 0 for s in grid):
        raise DesignError(f"effect-scale grid {list(grid)}: expected positive numbers")
    h = config.horizon
    outer = build_design(panel, horizon=h, through=through,
                         train_at_risk=config.train_at_risk)
    if not _uses_one_scale(config, len(outer.crimes)):
        raise DesignError(
            f"[model] effect_scale = {config.effect_scale!r} needs a model with one effect "
            f"scale: variant 'pooled', or a panel with one crime (this panel has "
            f"{len(outer.crimes)} crimes and the variant is {config.variant!r})")
    years = [int(y) for y in outer.years]
    closed = [t for i, t in enumerate(years) if outer.w[:, i].any()]
    pos = {c: i for i, c in enumerate(outer.countries)}
    probs: list[list[np.ndarray]] = [[] for _ in grid]
    ys: list[np.ndarray] = []
    used: list[int] = []
    unconverged = n_fits = 0
    for s in closed[::-1]:
        if len(used) == inner_origins:
            break
        if not any(t <= s - h for t in closed):
            break  # nothing was known yet to train on
        inner = build_design(panel, horizon=h, through=s, train_at_risk=config.train_at_risk,
                             rules=config.rules, rule_seed=config.seed,
                             history=config.history, smooth=config.smooth,
                             smooth_basis=config.smooth_basis)
        od = origin_design(panel, s, inner.standardisation, inner.crimes)
        rows = np.array([pos[c] for c in od.countries])
        si = years.index(s)
        fitted_any = False
        for k in range(len(outer.crimes)):
            wk = inner.w[:, :, k] > 0
            yk = inner.y[:, :, k][wk]
            # scored like a forecast: resolved (outer.w) and at risk at the origin (no
            # episode under way or beginning in s: such cases get no forecast)
            at_risk = (outer.w[rows, si, k] > 0) & od.at_risk[:, k]
            if yk.size == 0 or yk.min() == yk.max() or not at_risk.any():
                continue  # nothing to learn (no onset yet) or nothing to forecast
            # columns scaled so the ridge's prior sd of each effect is the model's: rules
            # rule_scale and smooth terms smooth_scale times the effect scale, the episode
            # history its own fixed sd
            a, m = config.rule_scale, config.smooth_scale
            X = np.concatenate([inner.x, inner.flags, a * inner.rule_x, m * inner.smooth_x],
                               axis=2)[wk]
            Xt = np.concatenate([od.x, od.flags, a * od.rules, m * od.smooth],
                                axis=1)[at_risk]
            H, Ht = inner.history[wk], od.history[at_risk]
            for g, sd in enumerate(grid):
                hsd = Priors().history_sd / sd  # (h is the horizon)
                Xg, Xtg = np.hstack([X, hsd * H]), np.hstack([Xt, hsd * Ht])
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", category=ConvergenceWarning)
                    m = LogisticRegression(C=sd ** 2, max_iter=5000).fit(Xg, yk)
                unconverged += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
                n_fits += 1
                probs[g].append(m.predict_proba(Xtg)[:, 1])
            ys.append(outer.y[rows, si, k][at_risk])
            fitted_any = True
        if fitted_any:
            used.append(s)
    if unconverged:
        log.warning("effect-scale CV: %d of %d ridge fits stopped at max_iter before "
                    "converging (their forecasts are the last iterate)", unconverged, n_fits)
    if len(used) < 3:
        raise DesignError(
            f"effect_scale = 'rolling_cv': only {len(used)} inner origin(s) before "
            f"{through if through is not None else years[-1]} have training data with an "
            "onset and at-risk cases to forecast (need 3)")
    y = np.concatenate(ys)
    if y.sum() == 0:
        raise DesignError(
            f"effect_scale = 'rolling_cv': no onset in the windows of the inner origins "
            f"{sorted(used)}; the scale cannot be chosen (fix it with a number)")
    scores = [float(log_loss(y, np.concatenate(probs[g]), labels=[0, 1]))
              for g in range(len(grid))]
    best = int(np.argmin(scores))
    return ScaleSelection(scale=float(grid[best]), grid=tuple(float(v) for v in grid),
                          log_score=tuple(scores), origins=tuple(sorted(used)),
                          cases=int(y.size), events=int(y.sum()))


def effect_priors(panel: xr.Dataset, config: ModelConfig, priors: Priors | None, *,
                  through: int | None = None) -> tuple[Priors, ScaleSelection | None]:
    """The priors of a fit, with the effect scale ``[model] effect_scale`` asks for.

    Returns ``priors`` unchanged for ``"learned"``, and for ``"rolling_cv"`` on a model
    without one effect scale (a joint multi-crime variant other than ``pooled``, whose
    effects have their own hierarchical scales: the default ``"rolling_cv"`` then leaves
    them as they are, as ``"learned"`` does); otherwise priors whose effects all have the
    fixed sd (given, or chosen by :func:`select_effect_scale`, returned as well).

    Raises
    ------
    DesignError
        As :func:`select_effect_scale`, or a fixed number on a joint multi-crime model.
    """
    priors = priors or Priors()
    mode = config.effect_scale
    if mode == "learned":
        return priors, None
    if mode == "rolling_cv" and not _uses_one_scale(config, panel["crime"].size):
        return priors, None
    selection = None
    if mode == "rolling_cv":
        selection = select_effect_scale(panel, config, through=through)
        s = selection.scale
    else:
        s = float(mode)
        crimes = panel["crime"].size
        if not _uses_one_scale(config, crimes):
            raise DesignError(
                f"[model] effect_scale = {mode!r} needs a model with one effect scale: "
                f"variant 'pooled', or a panel with one crime (this panel has {crimes} "
                f"crimes and the variant is {config.variant!r})")
    fixed = replace(priors, mu_sd=s, tau=0.0, off_sd=min(s, priors.off_sd), learn_scale=False)
    return fixed, selection
