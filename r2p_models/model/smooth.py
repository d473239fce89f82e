"""Smooth terms: additive, non-linear effects of the continuous indicators.

With ``[model] smooth = K`` every indicator with more than :data:`MIN_DISTINCT` distinct
standardised values in the training cells gets, beside its linear effect, the columns of
a cubic B-spline basis with ``K`` knots at the quantiles of those values (evenly spaced
between their extremes when quantiles coincide, as they do for an indicator that is
mostly 0). Each column is centred and scaled on the training cells, as the indicators
are, and has its own effect per crime with prior sd ``[model] smooth_scale`` times the
effect scale, so thresholds and saturation (battle deaths that matter above a level, a
risk that rises with infant mortality and then flattens) enter the Bayesian model with
posterior intervals like every other term. Outside the training range a basis is held at
its value at the nearer end (constant extrapolation): a forecast never extrapolates a
cubic.

The knots come from the training cells of a fit (``through``), so a backtest never sees
later data through them. scipy evaluates the basis
(:meth:`scipy.interpolate.BSpline.design_matrix`); the knot placement follows
scikit-learn's :class:`~sklearn.preprocessing.SplineTransformer` (``knots="quantile"``,
``extrapolation="constant"``), kept here as plain arrays so that a saved model holds them
in its netCDF file.

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

__all__ = ["DEGREE", "MIN_DISTINCT", "SplineSet", "learn_splines"]

#: Degree of the B-splines (cubic).
DEGREE = 3
#: An indicator gets smooth terms when it has more than this many distinct training values
#: (binary and few-valued indicators stay linear: a spline adds nothing to them).
MIN_DISTINCT = 8


@dataclass(frozen=True)
class SplineSet:
    """Cubic B-spline bases of some indicators, with the centring of their columns.

    Attributes
    ----------
    feature : ndarray of int, shape (n_smooth,)
        Indicator index of each smoothed indicator.
    knots : ndarray of float, shape (n_smooth, n_knots + 2 * DEGREE)
        Full knot vector of each (standardised scale): the ``n_knots`` base knots and
        ``DEGREE`` more on each side at the spacing of the outermost ones.
    mean, sd : ndarray, shape (n_column,)
        Training mean and sd of each basis column; the model sees ``(B - mean) / sd``.
    """

    feature: np.ndarray
    knots: np.ndarray
    mean: np.ndarray
    sd: np.ndarray

    @property
    def per_feature(self) -> int:
        """Basis columns per smoothed indicator (``n_knots + DEGREE - 1``)."""
        return int(self.knots.shape[1]) - DEGREE - 1

    def __len__(self) -> int:
        return int(self.feature.size) * self.per_feature

    def names(self, indicators: tuple[str, ...]) -> tuple[str, ...]:
        """Column names, ``smooth:<indicator>:<b>``."""
        return tuple(f"smooth:{indicators[j]}:{b}" for j in self.feature
                     for b in range(self.per_feature))

    def basis(self, x_std: np.ndarray) -> np.ndarray:
        """Raw (uncentred) basis columns for standardised indicators (..., n_indicator)."""
        x = np.asarray(x_std, dtype=float)
        flat = x.reshape(-1, x.shape[-1])
        m = self.per_feature
        out = np.empty((flat.shape[0], len(self)))
        for i, j in enumerate(self.feature):
            out[:, i * m:(i + 1) * m] = self._raw(i, flat[:, j])
        return out.reshape(*x.shape[:-1], len(self))

    def _raw(self, i: int, values: np.ndarray) -> np.ndarray:
        """Raw basis of the ``i``-th smoothed indicator, held constant outside its knots."""
        t = self.knots[i]
        v = np.clip(np.nan_to_num(values, nan=0.0), t[DEGREE], t[-DEGREE - 1])
        return BSpline.design_matrix(v, t, DEGREE).toarray()

    def transform(self, x_std: np.ndarray) -> np.ndarray:
        """The model's centred, scaled columns (..., n_column)."""
        return (self.basis(x_std) - self.mean) / self.sd

    def columns_of(self, j: int, values: np.ndarray) -> tuple[slice, np.ndarray]:
        """The centred, scaled columns of indicator ``j`` at standardised values.

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
        cols = slice(i * m, (i + 1) * m)
        return cols, (self._raw(i, v) - self.mean[cols]) / self.sd[cols]

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
            "smooth_mean": (("smooth",), self.mean.astype(float)),
            "smooth_sd": (("smooth",), self.sd.astype(float)),
        })

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> SplineSet | None:
        """Inverse of :meth:`to_dataset` (None when the dataset holds no smooth terms)."""
        if "smooth_feature" not in ds:
            return None
        return cls(feature=ds["smooth_feature"].values.astype(int),
                   knots=ds["smooth_knots"].values.astype(float),
                   mean=ds["smooth_mean"].values.astype(float),
                   sd=ds["smooth_sd"].values.astype(float))


def _knot_vector(values: np.ndarray, n_knots: int) -> np.ndarray:
    """Base knots at the quantiles (evenly spaced if they coincide), extended by DEGREE."""
    base = np.quantile(values, np.linspace(0.0, 1.0, n_knots))
    if np.any(np.diff(base) <= 0):
        base = np.linspace(values.min(), values.max(), n_knots)
    step_lo, step_hi = base[1] - base[0], base[-1] - base[-2]
    lo = base[0] - step_lo * np.arange(DEGREE, 0, -1)
    hi = base[-1] + step_hi * np.arange(1, DEGREE + 1)
    return np.concatenate([lo, base, hi])


def learn_splines(x_std: np.ndarray, used: np.ndarray, n_knots: int) -> SplineSet | None:
    """Place the knots and centre the columns on the training cells.

    Parameters
    ----------
    x_std : ndarray, shape (n_country, n_year, n_indicator)
        Standardised (imputed) indicators.
    used : ndarray of bool, shape (n_country, n_year)
        The training cells (a usable observation of some crime).
    n_knots : int
        Base knots per indicator (at least 3).

    Returns
    -------
    SplineSet or None
        None when no indicator has more than :data:`MIN_DISTINCT` distinct values.
    """
    if n_knots < 3:
        raise ValueError(f"n_knots = {n_knots}: expected at least 3")
    train = x_std[used]
    feats = [j for j in range(train.shape[1])
             if np.unique(train[:, j]).size > MIN_DISTINCT]
    if not feats:
        return None
    knots = np.stack([_knot_vector(train[:, j], n_knots) for j in feats])
    raw = SplineSet(feature=np.array(feats, dtype=int), knots=knots,
                    mean=np.zeros(0), sd=np.zeros(0))
    ncol = len(raw)
    raw = SplineSet(raw.feature, raw.knots, np.zeros(ncol), np.ones(ncol))
    b = raw.basis(train)
    sd = b.std(axis=0)
    return SplineSet(raw.feature, raw.knots, b.mean(axis=0), np.where(sd > 0, sd, 1.0))
