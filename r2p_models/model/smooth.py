"""Smooth terms: additive, non-linear effects of the continuous indicators.

With ``[model] smooth = K`` every indicator with more than :data:`MIN_DISTINCT` distinct
standardised values in the training cells gets, beside its linear effect, ``K``
columns from a cubic B-spline basis with ``K`` knots at the quantiles of those values
(evenly spaced between their extremes when quantiles coincide, as they do for an
indicator that is mostly 0): the basis's non-linear part, uncorrelated with the
indicator and whitened on the training cells (see :class:`SplineSet`). Each column has
its own effect per crime with prior sd ``[model] smooth_scale`` times the effect scale,
so thresholds and saturation (battle deaths that matter above a level, a risk that rises
with infant mortality and then flattens) enter the Bayesian model with posterior
intervals like every other term. Outside the training range a basis is held at its
value at the nearer end (constant extrapolation): a forecast never extrapolates a cubic.

The knots come from the training cells of a fit (``through``), so a backtest never sees
later data through them. scipy evaluates the basis
(:meth:`scipy.interpolate.BSpline.design_matrix`); the knot placement follows
scikit-learn's :class:`~sklearn.preprocessing.SplineTransformer` (``knots="quantile"``,
``extrapolation="constant"``); the removal of the line and the whitening (the null-space
separation of penalised regression splines) are written here because no maintained
library builds such columns for a PyMC design, and they are kept as plain arrays so that
a saved model holds them in its netCDF file.

Explanations: the smooth terms of an indicator are part of its contribution to the
log-odds (each column depends on one indicator only), so the per-indicator contributions
of :func:`r2p_models.forecast.explain` still add up to the log-odds, and the effect of an
indicator is its linear term plus its smooth terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.interpolate import BSpline

__all__ = ["BASES", "DEGREE", "MIN_DISTINCT", "SplineSet", "learn_splines"]

#: Degree of the B-splines (cubic).
DEGREE = 3
#: An indicator gets smooth terms when it has more than this many distinct training values
#: (binary and few-valued indicators stay linear: a spline adds nothing to them).
MIN_DISTINCT = 8
#: The two forms of a basis's non-linear columns (``[model] smooth_basis``; see
#: :func:`learn_splines`).
BASES = ("whitened", "scaled")


@dataclass(frozen=True)
class SplineSet:
    """Cubic B-spline bases of some indicators, reduced to their non-linear part.

    The model's columns of an indicator are its raw basis ``B(x)`` (``n_knots + DEGREE -
    1`` columns), centred, with its least-squares fit on the linear term ``x`` removed (a
    cubic spline basis spans the constant and the line, which the intercept and the
    indicator's own effect already carry), and whitened: ``n_knots + DEGREE - 3`` columns
    (``n_knots`` for the cubic) that are uncorrelated with each other and with ``x`` on
    the training cells, each of variance 1. So the linear effect is the indicator's
    coefficient alone, the smooth terms are the curvature around it, and the sampler sees
    a better-conditioned posterior than with the raw basis, which is collinear with ``x``
    and with itself. With ``basis="scaled"`` (:func:`learn_splines`) the columns are
    orthogonal but not whitened: their variances follow the standardised raw basis.

    Attributes
    ----------
    feature : ndarray of int, shape (n_smooth,)
        Indicator index of each smoothed indicator.
    knots : ndarray of float, shape (n_smooth, n_knots + 2 * DEGREE)
        Full knot vector of each (standardised scale): the ``n_knots`` base knots and
        ``DEGREE`` more on each side at the spacing of the outermost ones.
    basis_mean : ndarray, shape (n_smooth, n_basis)
        Training mean of each raw basis column.
    x_mean : ndarray, shape (n_smooth,)
        Training mean of the indicator.
    slope : ndarray, shape (n_smooth, n_basis)
        Least-squares slope of each centred basis column on the centred indicator.
    weights : ndarray, shape (n_smooth, n_basis, n_column)
        Whitening of the residual basis (its principal axes over their sds).
    """

    feature: np.ndarray
    knots: np.ndarray
    basis_mean: np.ndarray
    x_mean: np.ndarray
    slope: np.ndarray
    weights: np.ndarray

    @property
    def per_feature(self) -> int:
        """Model columns per smoothed indicator (``n_knots + DEGREE - 3``)."""
        return int(self.weights.shape[2])

    def __len__(self) -> int:
        return int(self.feature.size) * self.per_feature

    def names(self, indicators: tuple[str, ...]) -> tuple[str, ...]:
        """Column names, ``smooth:<indicator>:<b>``."""
        return tuple(f"smooth:{indicators[j]}:{b}" for j in self.feature
                     for b in range(self.per_feature))

    def basis(self, x_std: np.ndarray) -> np.ndarray:
        """Raw B-spline bases of the smoothed indicators, side by side (...,
        n_smooth * n_basis), each held constant outside its knots."""
        x = np.asarray(x_std, dtype=float)
        flat = x.reshape(-1, x.shape[-1])
        out = [_raw_basis(self.knots[i], flat[:, j]) for i, j in enumerate(self.feature)]
        return np.concatenate(out, axis=1).reshape(*x.shape[:-1], -1)

    def _columns(self, i: int, values: np.ndarray) -> np.ndarray:
        """Model columns of the ``i``-th smoothed indicator at values (n,)."""
        v = np.nan_to_num(np.asarray(values, dtype=float).ravel(), nan=0.0)
        b = _raw_basis(self.knots[i], v) - self.basis_mean[i]
        b = b - np.outer(v - self.x_mean[i], self.slope[i])
        return b @ self.weights[i]

    def transform(self, x_std: np.ndarray) -> np.ndarray:
        """The model's columns for standardised indicators (..., n_column)."""
        x = np.asarray(x_std, dtype=float)
        flat = x.reshape(-1, x.shape[-1])
        out = [self._columns(i, flat[:, j]) for i, j in enumerate(self.feature)]
        return np.concatenate(out, axis=1).reshape(*x.shape[:-1], len(self))

    def columns_of(self, j: int, values: np.ndarray) -> tuple[slice, np.ndarray]:
        """The model's columns of indicator ``j`` at standardised values.

        Returns
        -------
        slice
            Where the columns sit among all of the set's columns (empty for an indicator
            without smooth terms).
        ndarray, shape (n_value, n_column of j)
        """
        v = np.asarray(values, dtype=float).ravel()
        hit = np.flatnonzero(self.feature == j)
        if not hit.size:
            return slice(0, 0), np.zeros((v.size, 0))
        i, m = int(hit[0]), self.per_feature
        return slice(i * m, (i + 1) * m), self._columns(i, v)

    def share_matrix(self, n_indicator: int) -> np.ndarray:
        """``(n_column, n_indicator)``: 1 where a column belongs to an indicator."""
        share = np.zeros((len(self), n_indicator))
        m = self.per_feature
        for i, j in enumerate(self.feature):
            share[i * m:(i + 1) * m, j] = 1.0
        return share

    def to_dataset(self) -> xr.Dataset:
        """The set as variables of a saved model's ``constant_data``."""
        return xr.Dataset({
            "smooth_feature": (("smooth_set",), self.feature.astype(np.int64)),
            "smooth_knots": (("smooth_set", "smooth_knot"), self.knots.astype(float)),
            "smooth_basis_mean": (("smooth_set", "smooth_basis"), self.basis_mean),
            "smooth_x_mean": (("smooth_set",), self.x_mean.astype(float)),
            "smooth_slope": (("smooth_set", "smooth_basis"), self.slope),
            "smooth_weights": (("smooth_set", "smooth_basis", "smooth_column"), self.weights),
        })

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> SplineSet | None:
        """Inverse of :meth:`to_dataset` (None when the dataset holds no smooth terms)."""
        if "smooth_feature" not in ds:
            return None
        return cls(feature=ds["smooth_feature"].values.astype(int),
                   knots=ds["smooth_knots"].values.astype(float),
                   basis_mean=ds["smooth_basis_mean"].values.astype(float),
                   x_mean=ds["smooth_x_mean"].values.astype(float),
                   slope=ds["smooth_slope"].values.astype(float),
                   weights=ds["smooth_weights"].values.astype(float))


def _raw_basis(knots: np.ndarray, values: np.ndarray) -> np.ndarray:
    """B-spline basis at values (n,), held constant outside the base knots."""
    v = np.clip(np.nan_to_num(values, nan=0.0), knots[DEGREE], knots[-DEGREE - 1])
    return BSpline.design_matrix(v, knots, DEGREE).toarray()


def _knot_vector(values: np.ndarray, n_knots: int) -> np.ndarray:
    """Base knots at the quantiles (evenly spaced if they coincide), extended by DEGREE."""
    base = np.quantile(values, np.linspace(0.0, 1.0, n_knots))
    if np.any(np.diff(base) <= 0):
        base = np.linspace(values.min(), values.max(), n_knots)
    step_lo, step_hi = base[1] - base[0], base[-1] - base[-2]
    lo = base[0] - step_lo * np.arange(DEGREE, 0, -1)
    hi = base[-1] + step_hi * np.arange(1, DEGREE + 1)
    return np.concatenate([lo, base, hi])


def learn_splines(x_std: np.ndarray, used: np.ndarray, n_knots: int,
                  basis: str = "whitened") -> SplineSet | None:
    """Place the knots and build each basis's non-linear columns on the training cells.

    Parameters
    ----------
    x_std : ndarray, shape (n_country, n_year, n_indicator)
        Standardised (imputed) indicators.
    used : ndarray of bool, shape (n_country, n_year)
        The training cells (a usable observation of some crime).
    n_knots : int
        Base knots per indicator (at least 3).
    basis : {"whitened", "scaled"}
        ``"whitened"``: the non-linear columns each of variance 1, so every curvature
        direction has the same prior variance. ``"scaled"``: each raw column first scaled
        to variance 1 (as a plain standardised B-spline design), the line removed, then
        rotated onto its principal axes without rescaling: the prior over curves of the
        standardised raw basis less its linear part, which gives the wiggliest directions
        the least prior variance. Both are ``n_knots`` orthogonal columns, uncorrelated
        with the indicator.

    Returns
    -------
    SplineSet or None
        None when no indicator has more than :data:`MIN_DISTINCT` distinct values (an
        indicator whose residual basis is degenerate on the training cells stays linear
        too).
    """
    if n_knots < 3:
        raise ValueError(f"n_knots = {n_knots}: expected at least 3")
    if basis not in BASES:
        raise ValueError(f"basis = {basis!r}: expected one of {list(BASES)}")
    train = x_std[used]
    r = n_knots + DEGREE - 3  # n_knots + DEGREE - 1 basis columns less the constant and the line
    kept: list[tuple[int, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]] = []
    for j in range(train.shape[1]):
        x = train[:, j]
        if np.unique(x).size <= MIN_DISTINCT:
            continue
        knots = _knot_vector(x, n_knots)
        b = _raw_basis(knots, x)
        b_mean, x_mean = b.mean(axis=0), float(x.mean())
        bc, xc = b - b_mean, x - x_mean
        slope = xc @ bc / (xc @ xc)
        resid = bc - np.outer(xc, slope)
        # "scaled": the raw columns at variance 1 before the rotation (a raw column that
        # is constant on the training cells is 0 once centred, and is left unscaled)
        sd = bc.std(axis=0) if basis == "scaled" else np.ones(bc.shape[1])
        sd = np.where(sd > 0, sd, 1.0)
        _, sv, vt = np.linalg.svd(resid / sd, full_matrices=False)
        if sv[r - 1] <= 1e-8 * sv[0]:
            continue  # too few distinct values spread over the knots for a curve
        if basis == "whitened":
            weights = vt[:r].T * (np.sqrt(x.size) / sv[:r])  # variance 1 each
        else:
            weights = vt[:r].T / sd[:, None]  # principal axes, variances sv**2 / n
        kept.append((j, knots, b_mean, x_mean, slope, weights))
    if not kept:
        return None
    return SplineSet(feature=np.array([k[0] for k in kept], dtype=int),
                     knots=np.stack([k[1] for k in kept]),
                     basis_mean=np.stack([k[2] for k in kept]),
                     x_mean=np.array([k[3] for k in kept]),
                     slope=np.stack([k[4] for k in kept]),
                     weights=np.stack([k[5] for k in kept]))
