"""Weighted metric kernels: every metric for many case weightings at once.

A block bootstrap that resamples countries with replacement is the same as giving
each case an integer weight: the number of times its country was drawn. So each
metric here takes a weight matrix ``W`` of shape ``(B, n)`` (one row per bootstrap
replicate, columns in the order of :class:`PreparedCases`) and returns ``B`` values.
The point estimate is the same kernel with ``W = 1``: one code path for estimates and
intervals, and a metric on integer weights equals the metric on duplicated cases
(checked against scikit-learn on expanded data in the tests).

Hand-written because no maintained library evaluates AUC, average precision, top-k
capture or the CORP decomposition for a whole matrix of weightings at once (the
scikit-learn functions take one weight vector per call, which is 10-100x slower
for 1000 replicates). The isotonic (PAV) fits themselves are scikit-learn's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression
from scipy.special import xlogy

from r2p_models.calibration.scores import LOG_EPS, brier_per_case, log_per_case

__all__ = [
    "PreparedCases",
    "Weighted",
    "ap_kernel",
    "as_weighted",
    "auc_kernel",
    "capture_kernel",
    "corp_from_counts",
    "corp_kernel",
    "pav_counts",
    "score_kernel",
]


def _codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes in sorted order of the values (the same codes whatever the case order,
    so a given random stream draws the same countries)."""
    codes, uniques = pd.factorize(pd.Series(values), sort=True, use_na_sentinel=False)
    return codes.astype(np.intp), len(uniques)


class PreparedCases:
    """Cases sorted by forecast with the index structures the kernels need.

    Parameters
    ----------
    p, y : ndarray
        Checked probabilities and 0/1 outcomes (1-D).
    clusters : array-like, optional
        Unit of dependence (country) of each case; each case is its own unit if None.
    rank_groups : array-like, optional
        Groups within which cases are ranked for top-k capture (issue year); one
        ranking over all cases if None.
    references : dict of str to ndarray, optional
        Reference forecasts (for skill scores), aligned with ``p``.
    n_clusters : int, optional
        If given, ``clusters`` are already integer codes ``0..n_clusters-1`` (so that two
        forecasters of the same cases share cluster codes in a paired bootstrap).
    eps : float
        Clipping bound of the log score.
    """

    def __init__(
        self,
        p: np.ndarray,
        y: np.ndarray,
        *,
        clusters: np.ndarray | None = None,
        rank_groups: np.ndarray | None = None,
        references: dict[str, np.ndarray] | None = None,
        n_clusters: int | None = None,
        eps: float = LOG_EPS,
    ) -> None:
        order = np.argsort(p, kind="stable")
        self.order = order
        self.n = int(p.size)
        self.p = p[order]
        self.y = y[order]
        self.eps = eps
        self.events = float(self.y.sum())
        # Tie blocks of equal forecasts (ascending).
        self.starts = np.flatnonzero(np.r_[True, self.p[1:] != self.p[:-1]])
        self.x = self.p[self.starts]
        self.log_x = np.log(np.clip(self.x, eps, 1.0 - eps))
        self.log1m_x = np.log(np.clip(1.0 - self.x, eps, 1.0 - eps))
        self.per_case = {
            "brier": brier_per_case(self.p, self.y),
            "log": log_per_case(self.p, self.y, eps),
        }
        self.ref_per_case: dict[str, dict[str, np.ndarray]] = {}
        for name, ref in (references or {}).items():
            r = np.asarray(ref, dtype=float)[order]
            self.ref_per_case[name] = {
                "brier": brier_per_case(r, self.y),
                "log": log_per_case(r, self.y, eps),
            }
        if clusters is None:
            self.cluster_codes = np.arange(self.n, dtype=np.intp)
            self.n_clusters = self.n
        elif n_clusters is not None:  # already integer codes 0..n_clusters-1 (paired data)
            self.cluster_codes = np.asarray(clusters, dtype=np.intp)[order]
            self.n_clusters = int(n_clusters)
        else:
            self.cluster_codes, self.n_clusters = _codes(np.asarray(clusters)[order])
        # Ranking structure: by rank group, forecasts descending, tie blocks within.
        if rank_groups is None:
            g = np.zeros(self.n, dtype=np.intp)
        else:
            g, _ = _codes(np.asarray(rank_groups)[order])
        perm = np.lexsort((-self.p, g))
        gp, pp = g[perm], self.p[perm]
        self.rank_perm = perm
        self.rank_y = self.y[perm]
        self.rank_starts = np.flatnonzero(np.r_[True, (gp[1:] != gp[:-1]) | (pp[1:] != pp[:-1])])
        block_group = gp[self.rank_starts]
        self.rank_group_starts = np.flatnonzero(np.r_[True, block_group[1:] != block_group[:-1]])
        self.rank_block_group = np.repeat(
            np.arange(self.rank_group_starts.size), np.diff(np.r_[self.rank_group_starts,
                                                                 block_group.size])
        )

    def ones(self) -> np.ndarray:
        """Unit weights, shape (1, n): the point estimate."""
        return np.ones((1, self.n))

    def weights(self, cluster_counts: np.ndarray) -> np.ndarray:
        """Case weights (B, n) from cluster draw counts (B, n_clusters)."""
        return cluster_counts[:, self.cluster_codes].astype(float)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS: BLAS threads fight other processes on a shared machine
    (a 60k-element ``@`` took 0.4 ms instead of 10 us under load); einsum's own loop
    does not."""
    return float(np.einsum("i,i->", a, b))


def _wdot(W: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise ``W @ v`` without BLAS (see :func:`_dot`)."""
    return np.einsum("bn,n->b", W, v)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def score_kernel(cases: PreparedCases, W: np.ndarray | Weighted, name: str) -> np.ndarray:
    """Weighted means: ``brier``, ``log``, ``base_rate``, ``mean_forecast``,
    or skill ``{brier|log}_skill_{reference}``."""
    W = as_weighted(cases, W).W
    wsum = W.sum(axis=1)
    if name in ("brier", "log"):
        return _ratio(_wdot(W, cases.per_case[name]), wsum)
    if name == "base_rate":
        return _ratio(_wdot(W, cases.y), wsum)
    if name == "mean_forecast":
        return _ratio(_wdot(W, cases.p), wsum)
    score, _, ref = name.partition("_skill_")
    s = _wdot(W, cases.per_case[score])
    s_ref = _wdot(W, cases.ref_per_case[ref][score])
    return 1.0 - _ratio(s, s_ref)


class Weighted:
    """A weight matrix with the sums the kernels share, computed once on first use.

    Parameters
    ----------
    cases : PreparedCases
    W : ndarray, shape (B, n)
        Case weights, columns in the order of ``cases``.
    """

    def __init__(self, cases: PreparedCases, W: np.ndarray) -> None:
        self.cases = cases
        self.W = W
        self._blocks: tuple[np.ndarray, np.ndarray] | None = None
        self._rank: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Weight and event weight per tie block of forecasts (ascending), (B, U) each."""
        if self._blocks is None:
            c = self.cases
            WY = self.W * c.y
            if c.starts.size == c.n:  # no ties: the blocks are the cases
                self._blocks = (self.W, WY)
            else:
                self._blocks = (
                    np.add.reduceat(self.W, c.starts, axis=1),
                    np.add.reduceat(WY, c.starts, axis=1),
                )
        return self._blocks

    def rank(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per tie block of the ranking (group, forecast descending): weight, event
        weight, and the weight ranked above the block within its group."""
        if self._rank is None:
            c = self.cases
            Wr = self.W[:, c.rank_perm]
            Er = Wr * c.rank_y
            if c.rank_starts.size == c.n:
                Wt, Et = Wr, Er
            else:
                Wt = np.add.reduceat(Wr, c.rank_starts, axis=1)
                Et = np.add.reduceat(Er, c.rank_starts, axis=1)
            before = np.cumsum(Wt, axis=1) - Wt
            if c.rank_group_starts.size > 1:
                before -= before[:, c.rank_group_starts][:, c.rank_block_group]
            self._rank = (Wt, Et, before)
        return self._rank


def as_weighted(cases: PreparedCases, W: np.ndarray | Weighted) -> Weighted:
    """Wrap a weight matrix (no-op for a :class:`Weighted`)."""
    return W if isinstance(W, Weighted) else Weighted(cases, W)


def auc_kernel(cases: PreparedCases, W: np.ndarray | Weighted) -> np.ndarray:
    """Area under the ROC curve (ties count one half), i.e. the Mann-Whitney statistic."""
    C, pos = as_weighted(cases, W).blocks()
    neg = C - pos
    below = np.cumsum(neg, axis=1) - neg
    num = np.einsum("bu,bu->b", pos, below + 0.5 * neg)
    return _ratio(num, pos.sum(axis=1) * neg.sum(axis=1))


def auc_within_kernel(cases: PreparedCases, W: np.ndarray | Weighted) -> np.ndarray:
    """AUC over the (event, non-event) pairs of the same rank group (issue year).

    The stratified Mann-Whitney statistic: the share of same-year pairs in which the event
    had the higher forecast (ties one half), pooled over years by their number of pairs.
    It is what a yearly watchlist's ranking is worth, and it does not change when each
    year's forecasts are moved by their own monotone map (a recalibration shift), which
    can reorder cases of different years and so change the pooled AUC. With one rank
    group it equals :func:`auc_kernel`. (Neither scikit-learn nor model-diagnostics
    has a stratified AUC; computed here from the ranking sums the capture kernel uses.)
    """
    Wt, Et, _ = as_weighted(cases, W).rank()
    Nt = Wt - Et  # non-event weight per block; blocks run by group, forecast descending
    g0 = cases.rank_group_starts
    cum = np.cumsum(Nt, axis=1)
    group_neg = np.add.reduceat(Nt, g0, axis=1)
    group_pos = np.add.reduceat(Et, g0, axis=1)
    before = cum - Nt  # non-events ranked above the block, within its group
    if g0.size > 1:
        before -= before[:, g0][:, cases.rank_block_group]
    below = group_neg[:, cases.rank_block_group] - before - Nt
    num = np.einsum("bt,bt->b", Et, below + 0.5 * Nt)
    return _ratio(num, np.einsum("bg,bg->b", group_pos, group_neg))


def ap_kernel(cases: PreparedCases, W: np.ndarray | Weighted) -> np.ndarray:
    """Average precision: sum over thresholds of (recall step) x precision.

    The step-wise precision-recall AUC of scikit-learn's ``average_precision_score``
    (no interpolation); a forecaster without skill scores the base rate.
    """
    C, pos = as_weighted(cases, W).blocks()
    pos_d, all_d = pos[:, ::-1], C[:, ::-1]
    tp = np.cumsum(pos_d, axis=1)
    alerts = np.cumsum(all_d, axis=1)
    # alerts == 0 only before the first drawn case, where pos_d is 0 too
    precision = np.divide(tp, alerts, out=np.zeros_like(tp), where=alerts > 0)
    return _ratio(np.einsum("bu,bu->b", pos_d, precision), pos.sum(axis=1))


def capture_kernel(
    cases: PreparedCases, W: np.ndarray | Weighted, budget: float, *, fraction: bool
) -> np.ndarray:
    """Share of events among the top-ranked cases of each rank group (recall at a budget).

    ``budget`` is a number of alerts per rank group (``fraction=False``, e.g. the top 10
    of each issue year) or a share of each group's cases (``fraction=True``). Cases tied
    at the cut-off share the remaining slots in proportion (the expected capture under
    random tie-breaking). Weights count cases, so a country drawn twice by the bootstrap
    takes two places in the ranking.
    """
    Wt, Et, before = as_weighted(cases, W).rank()
    if fraction:
        totals = np.add.reduceat(Wt, cases.rank_group_starts, axis=1)
        slots = budget * totals[:, cases.rank_block_group]
    else:
        slots = float(budget)
    included = np.clip(slots - before, 0.0, Wt)
    share = np.divide(included, Wt, out=np.zeros_like(included), where=Wt > 0)
    return _ratio(np.einsum("bt,bt->b", share, Et), Et.sum(axis=1))


def pav_counts(C: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PAV (isotonic) fit of event rates ``S / C`` with weights ``C`` (all ``C > 0``).

    The PAV solver behind scikit-learn's isotonic regression
    (``sklearn.isotonic.isotonic_regression`` delegates to
    ``scipy.optimize.isotonic_regression``), called directly on forecasts that are
    already sorted and aggregated by unique value. Same solution as
    ``IsotonicRegression(y_min=0, y_max=1).fit(p, y)``, which pools tied forecasts the
    same way (tests check this), without re-sorting and re-validating on every resample.
    Rates lie in [0, 1], so the bounds ``y_min=0, y_max=1`` never bind.

    Returns
    -------
    fitted : ndarray
        Recalibrated rate at each forecast.
    blocks : ndarray
        Start index of each PAV block.
    """
    res = isotonic_regression(S / C, weights=C, increasing=True)
    return res.x, res.blocks[:-1]


CORP_NAMES: tuple[str, ...] = (
    "mcb_brier", "dsc_brier", "unc_brier", "mcb_log", "dsc_log", "unc_log",
)


def corp_from_counts(
    x: np.ndarray,
    log_x: np.ndarray,
    log1m_x: np.ndarray,
    C: np.ndarray,
    S: np.ndarray,
) -> tuple[dict[str, float], np.ndarray]:
    """CORP decomposition from forecasts aggregated by unique value.

    Parameters
    ----------
    x : ndarray
        Unique forecasts, ascending, all with weight ``C > 0``.
    log_x, log1m_x : ndarray
        ``log(clip(x))`` and ``log(clip(1 - x))`` with the log-score clipping bounds.
    C, S : ndarray
        Case weight and event weight at each forecast.

    Returns
    -------
    values : dict
        ``brier``, ``log`` (mean scores) and ``mcb_*``, ``dsc_*``, ``unc_*`` for both.
        Defined without events too (then PAV is 0 everywhere and UNC is 0); callers
        that need events check for them.
    recalibrated : ndarray
        PAV-recalibrated probability at each ``x``.

    Notes
    -----
    Sums are dot products, and the recalibrated forecasts' scores are summed per PAV
    block (constant rate ``r_b = S_b / C_b``): Brier ``S_b - S_b**2 / C_b``, log
    ``-(S_b log r_b + (C_b - S_b) log(1 - r_b))``, which keeps 100,000 forecasts x 200
    resamples fast.
    """
    n = C.sum()
    events = S.sum()
    r, blocks = pav_counts(C, S)
    Cb = np.add.reduceat(C, blocks)
    Sb = np.add.reduceat(S, blocks)
    rb = Sb / Cb
    rbar = events / n
    s_brier = (_dot(C, x * x) - 2.0 * _dot(S, x) + events) / n
    s_brier_pav = np.sum(Sb - Sb * rb) / n
    unc_brier = rbar * (1.0 - rbar)
    s_log = -(_dot(S, log_x - log1m_x) + _dot(C, log1m_x)) / n
    s_log_pav = -np.sum(xlogy(Sb, rb) + xlogy(Cb - Sb, 1.0 - rb)) / n
    unc_log = -(xlogy(rbar, rbar) + xlogy(1.0 - rbar, 1.0 - rbar))
    values = {
        "brier": s_brier,
        "log": s_log,
        "mcb_brier": s_brier - s_brier_pav,
        "dsc_brier": unc_brier - s_brier_pav,
        "unc_brier": unc_brier,
        "mcb_log": s_log - s_log_pav,
        "dsc_log": unc_log - s_log_pav,
        "unc_log": unc_log,
    }
    return values, r


def corp_kernel(
    cases: PreparedCases, W: np.ndarray | Weighted, names: Sequence[str] = CORP_NAMES
) -> dict[str, np.ndarray]:
    """CORP components for each weighting (one PAV fit per row of ``W``)."""
    C, S = as_weighted(cases, W).blocks()
    out = {name: np.full(C.shape[0], np.nan) for name in names}
    for b in range(C.shape[0]):
        if S[b].sum() == 0:  # no events in this replicate: decomposition undefined
            continue
        m = C[b] > 0
        values, _ = corp_from_counts(
            cases.x[m], cases.log_x[m], cases.log1m_x[m], C[b, m], S[b, m]
        )
        for name in names:
            out[name][b] = values[name]
    return out
