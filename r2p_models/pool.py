"""Pooled forecasts: combine ledger sources into a new source, weights learned without look-ahead.

:func:`pool_sources` (``r2p pool``) combines the forecasts of existing ledger sources
(model variants, analysts, a peer's imported forecasts) into a new source recorded in the
ledger, of the inputs' kind: backtest rows are pooled into backtest rows, real-time rows
(``kind`` 'forecast' or 'analyst') into ``'forecast'`` rows.

Cases
-----
A case is ``(origin_year, country, crime, target_start, target_end)``. Only cases that
*every* pooled source forecast are pooled, and only those are training cases: a case some
source lacks is skipped (counted in :attr:`PoolResult.skipped`), never pooled over the
sources that have it, so a pooled row always means the same combination and stays valid
when the lacking source issues the case later (it is then pooled by the next run).

Information rule
----------------
The parameters used at origin ``t`` are learned from the training cases whose window ended
by ``t`` (``target_end <= t``) and that every source's row records as observed (outcome 0
or 1, the same for all): what was known when the origin's forecasts were issued, the rule
of :mod:`r2p_models.calibration.recalibrate`. They are re-learned at every origin as the
track record grows; an outcome of a window ending after ``t`` cannot change them.

Methods (``p_j`` the sources' probabilities, ``w`` weights on the simplex)
----------------------------------------------------------------------------
- ``linear``: ``sum_j w_j p_j`` (the pooled probability of a Bernoulli mixture);
- ``log``: ``expit(sum_j w_j logit p_j)``, the weighted geometric pool normalised as a
  Bernoulli (``p ~ prod p_j^w_j``, ``1 - p ~ prod (1 - p_j)^w_j``);
- ``beta``: the beta-transformed linear pool of Ranjan & Gneiting (2010),
  ``BetaCDF(sum_j w_j p_j; a, b)``, which can recalibrate the linear pool (a linear pool
  of calibrated sources is under-confident).

Learning and the prior
----------------------
Parameters maximise the log score of the training cases plus a prior of strength ``k``
pseudo-cases (``strength``, default :data:`STRENGTH`): ``k * sum_j pi_j log w_j`` (the
log-density of a Dirichlet(1 + k pi) up to a constant, whose mode is the prior weights
``pi``) and, for ``beta``, ``-(k / 2) (log a)^2 + (log b)^2)`` (log a, log b ~ Normal(0,
1/k), centred on the identity ``a = b = 1``). With no resolved case (a new source, or a
first origin) the parameters *are* the prior (``pi`` equal shares by default, or
``prior=``), and they move from the prior to the maximum-score ones as ``n`` resolved
cases accumulate, the prior counting like ``k`` of them. Probabilities are clipped to
``[EPS, 1 - EPS]`` before logs and log-odds.

Uncertainty: a block bootstrap over countries of the origin's training cases (``n_boot``
replicates, countries drawn with replacement, refitted from the point estimate; seeded by
``seed`` and the origin, so reruns agree) gives a 90 % interval of each weight (``lo``,
``hi``), recorded with the weights in the ledger's table ``pool_weights``
(:meth:`r2p_models.ledger.Ledger.pool_weights`).

Pooled rows
-----------
``p_mean`` is the pool of the sources' ``p_mean``. ``p_q05, p_q50, p_q95`` are the same pool
of the sources' quantiles where every source gives them (else empty): each pool is
increasing in every input, so these are the quantiles of the pooled probability if the
sources' posterior uncertainties were comonotone (quantile averaging), an approximation that
keeps the quantiles ordered; they do not include the weights' own uncertainty. The rows are
issued pending (resolve the ledger again to score them).

Reruns
------
An origin already pooled under the same name keeps the parameters stored for it (issued
forecasts are immutable): its new cases, if any, are pooled with them, and its issued rows
are unchanged. A rerun with another method, other sources or another configuration under
the same name is refused; choose a new ``name``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betainc, expit, log_expit, logit, softmax

from r2p_models.errors import InputError
from r2p_models.ledger import POOL_METHODS, Ledger, ledger_lock
from r2p_models.ledger.validate import _text

__all__ = ["EPS", "LEVEL", "N_BOOT", "STRENGTH", "PoolResult", "combine", "fit_pool",
           "pool_frame", "pool_sources"]

log = logging.getLogger(__name__)

#: Strength of the prior, in pseudo-cases.
STRENGTH = 10.0
#: Bootstrap replicates of the weights' interval.
N_BOOT = 200
#: Coverage of the weights' interval.
LEVEL = 0.90
#: Probabilities are clipped to [EPS, 1 - EPS] before logs and log-odds.
EPS = 1e-6
_CASE = ["origin_year", "country", "crime", "target_start", "target_end"]
_PROBS = ["p_mean", "p_q05", "p_q50", "p_q95"]


class PoolInputError(InputError):
    """Bad pooling arguments or ledger content; nothing was written."""


@dataclass(frozen=True)
class PoolResult:
    """What :func:`pool_sources` did.

    Attributes
    ----------
    source, kind, method : str
        The pooled source as recorded.
    inserted, unchanged : int
        Pooled rows written, and rows already issued identically (a rerun).
    skipped : int
        Cases not pooled because some source lacks them.
    weights : pandas.DataFrame
        The parameters used per origin (columns ``origin_year, parameter, input_source,
        value, lo, hi, prior, n_cases``; stored ones for origins pooled before).
    """

    source: str
    kind: str
    method: str
    inserted: int
    unchanged: int
    skipped: int
    weights: pd.DataFrame


# ------------------------------------------------------------------------- combination

def combine(p: np.ndarray, w: np.ndarray, method: str, a: float = 1.0,
            b: float = 1.0) -> np.ndarray:
    """The pooled probabilities of ``p`` (cases x sources) with weights ``w``.

    ``a``, ``b``: the beta transform (``method='beta'`` only). Values stay in [0, 1].
    """
    p = np.asarray(p, dtype="float64")
    w = np.asarray(w, dtype="float64")
    if method == "linear":
        return np.clip(p @ w, 0.0, 1.0)
    if method == "log":
        return expit(logit(np.clip(p, EPS, 1 - EPS)) @ w)
    if method == "beta":
        return betainc(a, b, np.clip(p @ w, 0.0, 1.0))
    raise PoolInputError(f"method must be one of {list(POOL_METHODS)}, got {method!r}")


# The objectives are written by hand: scipy has no pooling estimator (statsmodels and
# scikit-learn neither: these are mixtures / GLMs with simplex weights and an offset-free
# Dirichlet penalty). Each is the negative penalised log score; weights are softmax(0,
# theta) so the simplex needs no constraint; linear and log have analytic gradients (the
# bootstrap refits hundreds of times), beta uses scipy's finite differences.

def _weights(theta: np.ndarray) -> np.ndarray:
    return softmax(np.concatenate([[0.0], theta]))


def _simplex_grad(w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d/dtheta of a function of w = softmax(0, theta), from its gradient g in w."""
    return (w * (g - w @ g))[1:]


def _nll_linear(theta: np.ndarray, q: np.ndarray, k_pi: np.ndarray):
    w = _weights(theta)
    f = np.maximum(q @ w, EPS)  # q: probability of the observed outcome per source
    val = -np.log(f).sum() - k_pi @ np.log(w)
    g = -(q / f[:, None]).sum(axis=0) - k_pi / w
    return val, _simplex_grad(w, g)


def _nll_log(theta: np.ndarray, lo: np.ndarray, y: np.ndarray, k_pi: np.ndarray):
    w = _weights(theta)
    z = lo @ w
    val = -(y * log_expit(z) + (1 - y) * log_expit(-z)).sum() - k_pi @ np.log(w)
    g = -lo.T @ (y - expit(z)) - k_pi / w
    return val, _simplex_grad(w, g)


def _nll_beta(params: np.ndarray, p: np.ndarray, y: np.ndarray, k_pi: np.ndarray,
              k: float, fixed: np.ndarray | None) -> float:
    if fixed is None:
        w, (la, lb) = _weights(params[:-2]), params[-2:]
    else:
        w, (la, lb) = fixed, params
    h = np.clip(betainc(np.exp(la), np.exp(lb), np.clip(p @ w, 0.0, 1.0)), EPS, 1 - EPS)
    val = -(y * np.log(h) + (1 - y) * np.log1p(-h)).sum() + 0.5 * k * (la * la + lb * lb)
    if fixed is None:
        val -= k_pi @ np.log(w)
    return float(val)


def fit_pool(p: np.ndarray, y: np.ndarray, method: str, prior: np.ndarray, *,
             strength: float = STRENGTH, fixed: np.ndarray | None = None,
             start: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Posterior-mode parameters ``(w, a, b)`` of a pool on training cases.

    Parameters
    ----------
    p : ndarray
        Cases x sources probabilities.
    y : ndarray
        Outcomes 0/1 of the cases.
    method : {'linear', 'log', 'beta'}
    prior : ndarray
        Prior weights (positive, summing to 1).
    strength : float
        Prior strength ``k`` in pseudo-cases (see the module docstring).
    fixed : ndarray, optional
        Weights given, not learned (``beta`` then learns ``a``, ``b`` only).
    start : ndarray, optional
        Starting point (``theta`` of the softmax, then ``log a, log b`` for ``beta``).

    Returns
    -------
    tuple
        Weights on the simplex, and ``a``, ``b`` (1, 1 except for ``beta``).
    """
    p = np.asarray(p, dtype="float64")
    y = np.asarray(y, dtype="float64")
    prior = np.asarray(prior, dtype="float64")
    k_pi = strength * prior
    if len(y) == 0:  # the penalised optimum is the prior exactly
        return (prior.copy() if fixed is None else np.asarray(fixed, float)), 1.0, 1.0
    theta0 = np.log(prior[1:]) - np.log(prior[0])
    if method == "beta":
        x0 = np.zeros(2) if fixed is not None else np.concatenate([theta0, [0.0, 0.0]])
        if start is not None:
            x0 = start
        res = minimize(_nll_beta, x0, args=(p, y, k_pi, strength, fixed), method="L-BFGS-B",
                       bounds=[(-30, 30)] * (x0.size - 2) + [(-5, 5)] * 2)
        w = fixed if fixed is not None else _weights(res.x[:-2])
        return np.asarray(w, float), float(np.exp(res.x[-2])), float(np.exp(res.x[-1]))
    if fixed is not None:
        return np.asarray(fixed, float), 1.0, 1.0
    x0 = theta0 if start is None else start
    if method == "linear":
        q = np.where(y[:, None] == 1, p, 1 - p)
        res = minimize(_nll_linear, x0, args=(q, k_pi), jac=True, method="L-BFGS-B",
                       bounds=[(-30, 30)] * x0.size)
    elif method == "log":
        lo = logit(np.clip(p, EPS, 1 - EPS))
        res = minimize(_nll_log, x0, args=(lo, y, k_pi), jac=True, method="L-BFGS-B",
                       bounds=[(-30, 30)] * x0.size)
    else:
        raise PoolInputError(f"method must be one of {list(POOL_METHODS)}, got {method!r}")
    return _weights(res.x), 1.0, 1.0


def _params(w: np.ndarray, a: float, b: float, method: str) -> np.ndarray:
    """The parameter vector recorded: weights, then a, b for beta."""
    return np.concatenate([w, [a, b]]) if method == "beta" else w


def _learn(p: np.ndarray, y: np.ndarray, countries: np.ndarray, method: str,
           prior: np.ndarray, *, strength: float, fixed: np.ndarray | None, n_boot: int,
           level: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimate and block-bootstrap interval of the parameters (:func:`_params`)."""
    w, a, b = fit_pool(p, y, method, prior, strength=strength, fixed=fixed)
    est = _params(w, a, b, method)
    if len(y) == 0 or n_boot == 0 or (fixed is not None and method != "beta"):
        return est, est.copy(), est.copy()
    start = None
    if fixed is None:
        start = np.log(np.maximum(w[1:], 1e-300)) - np.log(max(w[0], 1e-300))
    if method == "beta":
        ab = np.log([a, b])
        start = ab if fixed is not None else np.concatenate([start, ab])
    groups = pd.Series(np.arange(len(y))).groupby(countries).indices
    blocks = list(groups.values())
    reps = np.empty((n_boot, est.size))
    for r in range(n_boot):
        pick = rng.integers(0, len(blocks), size=len(blocks))
        idx = np.concatenate([blocks[i] for i in pick])
        wr, ar, br = fit_pool(p[idx], y[idx], method, prior, strength=strength, fixed=fixed,
                              start=None if start is None else start.copy())
        reps[r] = _params(wr, ar, br, method)
    tail = (1 - level) / 2
    lo, hi = np.quantile(reps, [tail, 1 - tail], axis=0)
    return est, np.minimum(lo, est), np.maximum(hi, est)


# ------------------------------------------------------------------------- the frame

def _wide(rows: pd.DataFrame, sources: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Complete cases (every source) as one row each: probabilities per source, outcome.

    Returns the cases (columns of the case, ``<prob>|<source>``, ``y``: the common
    observed outcome or NaN) and the number of cases some source lacks.
    """
    parts = []
    for s in sources:
        mine = rows[rows["source"] == s]
        dup = mine.duplicated(_CASE)
        if dup.any():
            r = mine[dup].iloc[0]
            raise PoolInputError(
                f"source {s!r} has two rows (kinds {sorted(set(mine.kind))}) for the case "
                f"origin {r.origin_year}, {r.country}, {r.crime}, window {r.target_start}-"
                f"{r.target_end}; pool one kind at a time")
        obs = mine["outcome_status"] == "observed"
        part = mine[_CASE + _PROBS].rename(columns={c: f"{c}|{s}" for c in _PROBS})
        part[f"y|{s}"] = mine["outcome"].where(obs)
        part[f"seen|{s}"] = obs
        parts.append(part.set_index(_CASE))
    union = pd.concat([p.index.to_frame(index=False) for p in parts]).drop_duplicates()
    wide = parts[0]
    for part in parts[1:]:
        wide = wide.join(part, how="inner")
    wide = wide.reset_index().sort_values(_CASE, kind="stable").reset_index(drop=True)
    ys = wide[[f"y|{s}" for s in sources]].to_numpy(float)
    seen = wide[[f"seen|{s}" for s in sources]].to_numpy(bool).all(axis=1)
    agree = seen & (ys.min(axis=1) == ys.max(axis=1))  # NaN (not observed) never agrees
    wide["y"] = np.where(agree, ys[:, 0], np.nan)
    return wide, len(union) - len(wide)


def pool_frame(
    rows: pd.DataFrame, sources: Sequence[str], *, method: str = "linear",
    prior: Mapping[str, float] | None = None, weights: Mapping[str, float] | None = None,
    strength: float = STRENGTH, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0,
    stored: Mapping[int, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Pool ledger rows (no ledger access): the computation behind :func:`pool_sources`.

    Parameters
    ----------
    rows : pandas.DataFrame
        Ledger rows (:meth:`r2p_models.ledger.Ledger.rows`) of the input sources, one kind.
    sources : sequence of str
        The sources to pool (at least two).
    method, prior, weights, strength, n_boot, level, seed
        See :func:`pool_sources`.
    stored : mapping, optional
        Origin -> parameters already recorded for it (rows as in :attr:`PoolResult.weights`):
        used as they are, not re-learned.

    Returns
    -------
    tuple
        The pooled rows (case, ``horizon``, probabilities), the parameters per origin, and
        the number of cases skipped because some source lacks them.
    """
    sources = list(sources)
    pi = _prior(sources, prior)
    fixed = None if weights is None else _prior(sources, weights, what="weights")
    stored = dict(stored or {})
    wide, skipped = _wide(rows, sources)
    pm = wide[[f"p_mean|{s}" for s in sources]].to_numpy(float)
    y = wide["y"].to_numpy(float)
    end = wide["target_end"].to_numpy()
    countries = wide["country"].to_numpy()
    out, params = [], []
    for origin in sorted(wide["origin_year"].unique()):
        origin = int(origin)
        if origin in stored:
            par = stored[origin]
            w = np.array([par.loc[(par.parameter == "weight") & (par.input_source == s),
                                  "value"].iloc[0] for s in sources])
            ab = dict(zip(par.parameter, par.value, strict=True))
            a, b = ab.get("beta_a", 1.0), ab.get("beta_b", 1.0)
            params.append(par)
        else:
            train = (end <= origin) & ~np.isnan(y)
            rng = np.random.default_rng([seed, origin])
            est, lo, hi = _learn(pm[train], y[train], countries[train], method, pi,
                                 strength=strength, fixed=fixed, n_boot=n_boot, level=level,
                                 rng=rng)
            w = est[: len(sources)]
            a, b = (float(est[-2]), float(est[-1])) if method == "beta" else (1.0, 1.0)
            names = [("weight", s) for s in sources]
            priors = list(pi)
            if method == "beta":
                names += [("beta_a", ""), ("beta_b", "")]
                priors += [1.0, 1.0]
            params.append(pd.DataFrame({
                "origin_year": origin, "parameter": [n for n, _ in names],
                "input_source": [s for _, s in names], "value": est, "lo": lo, "hi": hi,
                "prior": priors, "n_cases": int(train.sum())}))
        at = (wide["origin_year"] == origin).to_numpy()
        case = wide.loc[at, _CASE].copy()
        case["horizon"] = case["target_end"] - case["origin_year"]
        case["p_mean"] = combine(pm[at], w, method, a, b)
        for c in ("p_q05", "p_q50", "p_q95"):
            q = wide.loc[at, [f"{c}|{s}" for s in sources]].to_numpy(float)
            full = ~np.isnan(q).any(axis=1)
            val = np.full(at.sum(), np.nan)
            val[full] = combine(q[full], w, method, a, b)
            case[c] = val
        out.append(case)
    pooled = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=[*_CASE, "horizon", *_PROBS])
    par_cols = ["origin_year", "parameter", "input_source", "value", "lo", "hi", "prior",
                "n_cases"]
    table = (pd.concat(params, ignore_index=True)[par_cols] if params
             else pd.DataFrame(columns=par_cols))
    return pooled, table, skipped


def _prior(sources: list[str], given: Mapping[str, float] | None, *,
           what: str = "prior") -> np.ndarray:
    """Weights per source, normalised to sum 1 (equal shares when not given)."""
    if given is None:
        return np.full(len(sources), 1.0 / len(sources))
    unknown = sorted(set(given) - set(sources))
    if unknown:
        raise PoolInputError(f"{what}: unknown source(s) {unknown}; pooled sources are "
                             f"{sources}")
    missing = [s for s in sources if s not in given]
    if missing:
        raise PoolInputError(f"{what}: no weight for source(s) {missing}")
    vals = np.array([float(given[s]) for s in sources])
    positive = vals > 0 if what == "prior" else vals >= 0
    if not np.all(np.isfinite(vals) & positive) or vals.sum() <= 0:
        raise PoolInputError(f"{what}: weights must be finite and "
                             f"{'positive' if what == 'prior' else 'non-negative'} with a "
                             f"positive sum, got {dict(zip(sources, vals.tolist(), strict=True))}")
    return vals / vals.sum()


# ------------------------------------------------------------------------- the ledger

def _named(sources: list[str], values: np.ndarray) -> dict[str, float]:
    return dict(zip(sources, values.tolist(), strict=True))


def _input_kind(rows: pd.DataFrame, sources: list[str], kind: str | None) -> str:
    """The pooled kind: 'backtest' or 'forecast' (real-time: 'forecast' and 'analyst')."""
    if kind is not None:
        if kind not in ("backtest", "forecast"):
            raise PoolInputError(f"kind must be 'backtest' or 'forecast', got {kind!r}")
        return kind
    kinds = {s: set(rows.loc[rows["source"] == s, "kind"]) for s in sources}
    ok = [k for k, members in (("backtest", {"backtest"}),
                               ("forecast", {"forecast", "analyst"}))
          if all(kinds[s] & members for s in sources)]
    if len(ok) == 1:
        return ok[0]
    if not ok:
        have = "; ".join(f"{s!r}: {', '.join(sorted(k))}" for s, k in kinds.items())
        raise PoolInputError(
            f"the sources have no kind in common ({have}); a pool combines backtest rows "
            "or real-time rows (forecast, analyst)")
    raise PoolInputError("the sources have both backtest and real-time rows: give kind "
                         "('backtest' or 'forecast', --kind)")


def pool_sources(
    ledger: str | os.PathLike[str],
    sources: Sequence[str],
    *,
    method: str = "linear",
    name: str | None = None,
    kind: str | None = None,
    prior: Mapping[str, float] | None = None,
    weights: Mapping[str, float] | None = None,
    strength: float = STRENGTH,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
    seed: int = 0,
    issued_at: dt.datetime | None = None,
) -> PoolResult:
    """Record the pool of ledger sources as a new source (``r2p pool``); see the module
    docstring for the cases, the information rule, the methods and the prior.

    Parameters
    ----------
    ledger : path
        An existing ledger (never created).
    sources : sequence of str
        At least two distinct sources of the ledger.
    method : {'linear', 'log', 'beta'}, default 'linear'
    name : str, optional
        The pooled source (default ``"<method> pool of A + B"``); must not be an input
        or a source that is not a pool of these sources.
    kind : {'backtest', 'forecast'}, optional
        Which rows to pool; by default the kind every source has (an error if both).
    prior : mapping, optional
        Source -> prior weight (positive; normalised). Equal shares by default.
    weights : mapping, optional
        Source -> fixed weight (non-negative; normalised), instead of learned ones
        (``beta`` still learns ``a`` and ``b``).
    strength : float, default :data:`STRENGTH`
        Prior strength in pseudo-cases.
    n_boot : int, default :data:`N_BOOT`
        Bootstrap replicates of the intervals (0: none, ``lo = hi = value``).
    level : float, default :data:`LEVEL`
    seed : int, default 0
    issued_at : datetime, optional
        Issue time of the pooled rows (now by default).

    Returns
    -------
    PoolResult

    Raises
    ------
    PoolInputError
        A bad argument, an unknown source, no case shared by every source; nothing written.
    r2p_models.ledger.LedgerNotFoundError, r2p_models.ledger.LedgerLockedError
    """
    sources = list(sources)
    if len(sources) < 2 or len(set(sources)) != len(sources):
        raise PoolInputError(f"give at least two distinct sources to pool, got {sources}")
    if method not in POOL_METHODS:
        raise PoolInputError(f"method must be one of {list(POOL_METHODS)}, got {method!r}")
    if not (np.isfinite(strength) and strength >= 0):
        raise PoolInputError(f"strength must be a non-negative number, got {strength!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise PoolInputError(f"n_boot must be a whole number >= 0, got {n_boot!r}")
    if not 0 < level < 1:
        raise PoolInputError(f"level must be in (0, 1), got {level!r}")
    name = _text("name", f"{method} pool of {' + '.join(sources)}" if name is None else name)
    if name in sources:
        raise PoolInputError(f"name {name!r} is one of the pooled sources")
    _prior(sources, prior)
    if weights is not None:
        _prior(sources, weights, what="weights")
    with ledger_lock(ledger), Ledger(ledger, create=False) as led:
        rows = led.rows(source=sources)
        absent = [s for s in sources if s not in set(rows["source"])]
        if absent:
            known = sorted(set(led.rows()["source"]))
            raise PoolInputError(f"ledger {led.path}: no forecasts of source(s) {absent} "
                                 f"(sources: {known})")
        kind = _input_kind(rows, sources, kind)
        members = ["backtest"] if kind == "backtest" else ["forecast", "analyst"]
        rows = rows[rows["kind"].isin(members)]
        config = json.dumps({
            "method": method, "sources": sources, "kind": kind,
            "prior": None if prior is None else _named(sources, _prior(sources, prior)),
            "weights": None if weights is None else _named(
                sources, _prior(sources, weights, what="weights")),
            "strength": float(strength), "n_boot": n_boot, "level": float(level),
            "seed": seed}, sort_keys=True, separators=(",", ":"))
        old = led.pool_weights(name)
        old = old[old["kind"] == kind]
        if (len(old) == 0 and len(led.rows(source=name, kind=kind))) or \
                (len(old) and set(old["config"]) != {config}):
            raise PoolInputError(
                f"ledger {led.path}: source {name!r} ({kind}) already exists and is not "
                f"this pool ({method} of {sources} with this configuration); choose a new "
                "name")
        stored = {int(o): g.drop(columns=["id", "pooled_source", "kind", "method", "config",
                                          "run_id", "created_at"]).reset_index(drop=True)
                  for o, g in old.groupby("origin_year")}
        pooled, params, skipped = pool_frame(
            rows, sources, method=method, prior=prior, weights=weights, strength=strength,
            n_boot=n_boot, level=level, seed=seed, stored=stored)
        if pooled.empty:
            raise PoolInputError(f"ledger {led.path}: sources {sources} share no {kind} case "
                                 "(only cases every source forecast are pooled)")
        new_params = params[~params["origin_year"].isin(list(stored))]
        config_hash = "sha256:" + hashlib.sha256(config.encode()).hexdigest()
        used = rows.sort_values("id")[["id", *_PROBS]].to_numpy("float64")  # exact bytes
        data_hash = "sha256:" + hashlib.sha256(used.tobytes()).hexdigest()
        stamp = (issued_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        res = led.issue_pool(
            pooled, new_params, source=name, kind=kind, method=method, config=config,
            run_id=f"pool:{config_hash[7:19]}:{stamp:%Y%m%dT%H%M%SZ}", data_hash=data_hash,
            config_hash=config_hash, issued_at=stamp)
    log.info("%s: %d pooled rows recorded (%d unchanged), %d cases skipped", name,
             res.inserted, res.unchanged, skipped)
    return PoolResult(source=name, kind=kind, method=method, inserted=res.inserted,
                      unchanged=res.unchanged, skipped=skipped, weights=params)
