"""Interaction rules: non-linear, interacting precursor effects for the logit models.

A *rule* is a conjunction of threshold conditions on the standardised indicators, for
example ``battle deaths > 0.8 and discrimination > 0.3``: 1 for a country-year that meets
every condition, 0 otherwise. With ``[model] rules = R`` the model gains ``R`` rule
columns beside the indicators, each with its own effect per crime and the same prior as
the indicator effects (the rule columns are centred and scaled on the training cells, as
the indicators are), so thresholds and interactions (armed conflict *and*
discrimination, a coup *in* a new state) enter the Bayesian model with posterior
intervals like every other term.

The rules are found as RuleFit finds them (Friedman and Popescu 2008, *Predictive learning
via rule ensembles*; the Bayesian version with a shrinkage prior over the rules is
Nalenz and Villani 2018, *Tree ensembles with rule structured horseshoe regularization*):
a gradient-boosted ensemble of shallow trees (scikit-learn's
:class:`~sklearn.ensemble.GradientBoostingClassifier`) is grown on the training cells
only, and every node of every tree below the root is the conjunction of the splits on
its path. Candidates that hold for fewer than ``min_support`` of the training cells (or
for all but that many) are dropped; the rest are ranked by how much each alone explains
of the outcome on the training cells (likelihood-ratio statistic) and kept greedily,
skipping those that nearly repeat (or complement) a kept rule.
Because the rules are learned from the training cells of a fit (``through``), a backtest
never sees later outcomes through them. (Written here: no maintained library extracts
rule columns for a PyMC design; scikit-learn grows the trees.)

Explanations: a rule's contribution to the log-odds is shared equally among the
indicators it tests. For a conjunction scored against a reference in which its
conditions fail, that is its Shapley value (a unanimity game), so the per-indicator
contributions of :func:`r2p_models.forecast.explain` still add up to the log-odds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["RuleSet", "learn_rules"]

#: Conditions a rule may hold at most (the depth of the trees that propose them).
MAX_DEPTH = 2


@dataclass(frozen=True)
class RuleSet:
    """Threshold conjunctions over the standardised indicators, with their centring.

    Attributes
    ----------
    feature : ndarray of int, shape (n_rule, MAX_DEPTH)
        Indicator index of each condition; -1 for an unused slot.
    threshold : ndarray of float, shape (n_rule, MAX_DEPTH)
        Threshold of each condition (standardised scale).
    above : ndarray of bool, shape (n_rule, MAX_DEPTH)
        True for ``x > threshold``, False for ``x <= threshold``.
    mean, sd : ndarray, shape (n_rule,)
        Share of training cells meeting the rule and the sd of the 0/1 column there; the
        model sees ``(rule - mean) / sd``.
    """

    feature: np.ndarray
    threshold: np.ndarray
    above: np.ndarray
    mean: np.ndarray
    sd: np.ndarray

    def __len__(self) -> int:
        return int(self.feature.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        """Column names of the rules (``rule:00``, ``rule:01``, ...)."""
        return tuple(f"rule:{r:02d}" for r in range(len(self)))

    def indicators_of(self, r: int) -> tuple[int, ...]:
        """Indicator indices rule ``r`` tests (each once)."""
        return tuple(dict.fromkeys(int(j) for j in self.feature[r] if j >= 0))

    def share_matrix(self, n_indicator: int) -> np.ndarray:
        """``(n_rule, n_indicator)`` weights that share each rule equally among the
        indicators it tests (rows sum to 1)."""
        m = np.zeros((len(self), n_indicator))
        for r in range(len(self)):
            js = self.indicators_of(r)
            m[r, list(js)] = 1.0 / len(js)
        return m

    def describe(self, indicators: tuple[str, ...] | list[str]) -> list[str]:
        """Readable conditions of each rule, e.g. ``"battledeaths > 0.8 and coup <= 0"``
        (standardised thresholds)."""
        out = []
        for r in range(len(self)):
            conds = [f"{indicators[j]} {'>' if a else '<='} {t:.2f}"
                     for j, t, a in zip(self.feature[r], self.threshold[r], self.above[r],
                                        strict=True) if j >= 0]
            out.append(" and ".join(conds))
        return out

    def indicator(self, x: np.ndarray) -> np.ndarray:
        """0/1 columns of the rules for standardised indicators ``x`` (..., n_indicator)."""
        x = np.asarray(x, dtype=float)
        out = np.ones((*x.shape[:-1], len(self)), dtype=bool)
        for r in range(len(self)):
            for j, t, a in zip(self.feature[r], self.threshold[r], self.above[r], strict=True):
                if j < 0:
                    continue
                out[..., r] &= (x[..., j] > t) if a else (x[..., j] <= t)
        return out

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Centred and scaled rule columns, ``(indicator(x) - mean) / sd``."""
        return (self.indicator(x).astype(float) - self.mean) / self.sd

    def to_dataset(self) -> xr.Dataset:
        """The rules as a Dataset (stored in a saved model's ``constant_data``)."""
        return xr.Dataset(
            {"rule_feature": (("rule", "rule_condition"), self.feature.astype(int)),
             "rule_threshold": (("rule", "rule_condition"), self.threshold.astype(float)),
             "rule_above": (("rule", "rule_condition"), self.above.astype(bool)),
             "rule_mean": (("rule",), self.mean.astype(float)),
             "rule_sd": (("rule",), self.sd.astype(float))},
            coords={"rule": list(self.names)},
        )

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> RuleSet | None:
        """Inverse of :meth:`to_dataset`; None when ``ds`` holds no rules."""
        if "rule_feature" not in ds or ds.sizes.get("rule", 0) == 0:
            return None
        return cls(feature=ds["rule_feature"].values.astype(int),
                   threshold=ds["rule_threshold"].values.astype(float),
                   above=ds["rule_above"].values.astype(bool),
                   mean=ds["rule_mean"].values.astype(float),
                   sd=ds["rule_sd"].values.astype(float))


def _tree_rules(tree: object) -> list[list[tuple[int, float, bool]]]:
    """Every node below the root of a fitted scikit-learn tree as its path's conditions,
    in depth-first order."""
    t = tree.tree_  # type: ignore[attr-defined]
    rules: list[list[tuple[int, float, bool]]] = []

    def walk(node: int, path: list[tuple[int, float, bool]]) -> None:
        left, right = t.children_left[node], t.children_right[node]
        if left == right:  # a leaf
            return
        j, thr = int(t.feature[node]), float(t.threshold[node])
        for child, above in ((left, False), (right, True)):
            cond = [*path, (j, thr, above)]
            rules.append(cond)
            walk(child, cond)

    walk(0, [])
    return rules


def _normalise(cond: list[tuple[int, float, bool]]) -> tuple[tuple[int, float, bool], ...]:
    """One condition per (indicator, direction): the tighter of two on the same side."""
    best: dict[tuple[int, bool], float] = {}
    for j, thr, above in cond:
        key = (j, above)
        if key not in best:
            best[key] = thr
        else:
            best[key] = max(best[key], thr) if above else min(best[key], thr)
    return tuple(sorted((j, t, a) for (j, a), t in best.items()))


def _deviance_gain(col: np.ndarray, y: np.ndarray) -> float:
    """Likelihood-ratio statistic of a 0/1 column for a 0/1 outcome (how much a logit on
    the column alone improves on the base rate)."""
    def ll(k: float, m: float) -> float:
        if m == 0 or k == 0 or k == m:
            return 0.0
        p = k / m
        return k * np.log(p) + (m - k) * np.log(1 - p)

    n, n1 = float(len(y)), float(y.sum())
    m1 = float(col.sum())
    k1 = float(y[col].sum())
    return 2.0 * (ll(k1, m1) + ll(n1 - k1, n - m1) - ll(n1, n))


def learn_rules(x: np.ndarray, y: np.ndarray, w: np.ndarray, n_rules: int, *,
                seed: int = 0, min_support: float = 0.01, max_corr: float = 0.75,
                n_trees: int = 30) -> RuleSet | None:
    """Find up to ``n_rules`` rules on the usable cells of a design.

    Candidate rules are the nodes of ``n_trees`` shallow boosted trees grown on the
    usable cells; they are ranked by their likelihood-ratio statistic for the outcome
    on those cells and kept greedily, skipping any whose column correlates with a kept
    one beyond ``max_corr`` (duplicates and complements included).

    Parameters
    ----------
    x : ndarray, shape (n_country, n_year, n_indicator)
        Standardised indicators.
    y, w : ndarray, shape (n_country, n_year, n_crime)
        Outcomes and usable-cell weights (0/1); every usable ``(country, year, crime)``
        cell is one training row with the country-year's indicators.
    n_rules : int
        How many rules to keep at most (0: none).
    seed : int
        Random state of the boosting (its row subsampling).
    min_support : float
        Smallest share of training rows a rule (or its complement) must cover.
    max_corr : float
        Largest absolute correlation a kept rule may have with another kept rule.
    n_trees : int
        Trees grown to propose candidates.

    Returns
    -------
    RuleSet or None
        None when ``n_rules`` is 0 or no rule passes the filters.
    """
    from sklearn.ensemble import GradientBoostingClassifier

    if n_rules <= 0:
        return None
    c, t, k = np.nonzero(np.asarray(w) > 0)
    X = np.asarray(x, dtype=float)[c, t]
    Y = np.asarray(y)[c, t, k].astype(int)
    if Y.min() == Y.max():
        return None
    n = len(Y)
    min_rows = max(int(np.ceil(min_support * n)), 5)
    gb = GradientBoostingClassifier(
        n_estimators=n_trees, max_depth=MAX_DEPTH, learning_rate=0.1, subsample=0.5,
        min_samples_leaf=min_rows, random_state=seed)
    gb.fit(X, Y)
    candidates = dict.fromkeys(_normalise(cond) for est in gb.estimators_[:, 0]
                               for cond in _tree_rules(est))
    scored: list[tuple[float, tuple[tuple[int, float, bool], ...], np.ndarray]] = []
    for cond in candidates:
        col = np.ones(n, dtype=bool)
        for j, thr, above in cond:
            col &= (X[:, j] > thr) if above else (X[:, j] <= thr)
        support = int(col.sum())
        if support < min_rows or n - support < min_rows:
            continue
        scored.append((_deviance_gain(col, Y), cond, col))
    scored.sort(key=lambda s: -s[0])
    kept: list[tuple[tuple[int, float, bool], ...]] = []
    cols: list[np.ndarray] = []  # standardised columns of the kept rules
    for _, cond, col in scored:
        z = (col - col.mean()) / col.std()
        if cols and np.max(np.abs(np.stack(cols) @ z)) / n > max_corr:
            continue
        kept.append(cond)
        cols.append(z)
        if len(kept) == n_rules:
            break
    if not kept:
        return None
    R = len(kept)
    feature = np.full((R, MAX_DEPTH), -1, dtype=int)
    threshold = np.zeros((R, MAX_DEPTH))
    above = np.zeros((R, MAX_DEPTH), dtype=bool)
    for r, cond in enumerate(kept):
        for d, (j, thr, a) in enumerate(cond):
            feature[r, d], threshold[r, d], above[r, d] = j, thr, a
    rules = RuleSet(feature, threshold, above, np.zeros(R), np.ones(R))
    share = rules.indicator(X).mean(axis=0)
    return RuleSet(feature, threshold, above, share, np.sqrt(share * (1.0 - share)))
