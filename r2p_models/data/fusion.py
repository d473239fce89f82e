"""Evidence fusion: combine several sources reporting the same indicator.

Several channels (UN field offices, governments, NGOs, media, regional organisations) may
report the same indicator for the same country-year with different reliability.
:func:`fuse_reports` combines them into one estimate with a variance per
``(country, year, indicator)``, estimating each source's bias and error variance from the
country-years where sources overlap.

Measurement model (per indicator, a random-effects model with unit loadings)::

    value[s, i] = truth[i] + bias[s] + e[s, i],   e[s, i] ~ N(0, sigma2[s])
    truth[i] ~ N(mu, tau2)                          i = (country, year)

Choices, and why:

* **Identification of the biases.** Only differences between the biases of sources that report
  the same country-years are identified from the data. The biases of the sources in each
  connected group of overlapping sources (sources linked by shared country-years) sum to zero,
  so the fused value is on the consensus scale of the group. A source that never shares a
  country-year with another source gets bias 0: attributing the difference between its
  country-years and the others' to bias would mistake *which* countries a source covers for
  how it measures them.
* **What the parameters are estimated from.** ``bias`` and ``sigma2`` are maximum-likelihood
  estimates (EM) from the country-years reported by at least two sources, where they are
  identified from within-country-year disagreement. A source with no such country-year cannot
  have its error variance estimated: it must be given in ``error_variance`` (0 for an exact
  source). ``mu`` and ``tau2`` (the spread of the truth, used only for the reported
  reliabilities) are then re-estimated by maximum likelihood from all reported country-years
  with the source parameters held fixed.
* **The fused estimate does not shrink towards ``mu``.** ``estimate`` is the precision-weighted
  mean of the bias-corrected reports, ``sum((value - bias) / sigma2) / sum(1 / sigma2)``, with
  ``variance = 1 / sum(1 / sigma2)``: the sampling variance of the estimate around the truth of
  that country-year. A single source passes through unchanged (minus its bias, which is 0 for
  an indicator with one source), and a source with error variance 0 fixes the estimate to its
  value with variance 0. The shrunken posterior mean would pull rare extreme values (the ones
  an early-warning model cares about) towards the global mean and would double-count the
  population prior the model applies downstream.

Caveats: a bias shared by every source of a group is invisible (the consensus scale is the
truth's scale only if the sources are unbiased on average); the stated variance treats the
estimated biases and error variances as known (fine with many overlaps, which is why few
overlaps raise a :class:`FusionWarning`); the errors of different sources are assumed
independent given the truth (sources copying each other look more reliable than they are).

The EM algorithm is written here by hand: no maintained library fits this measurement model
(a one-factor model with unit loadings, source-specific intercepts and error variances, and
missing reports) with partial user-fixed variances. It is an ECM (closed-form conditional
maximisations) accelerated with SQUAREM, runs on all indicators at once, vectorised with
:func:`numpy.bincount`, and agrees with a direct numerical maximisation of the marginal
likelihood (see the tests).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from r2p_models.checks import Rows, has_columns, labels, numeric, required, unique, whole
from r2p_models.errors import InputError

__all__ = ["REPORT_COLUMNS", "FusionError", "FusionResult", "FusionWarning", "fuse_reports"]

#: Columns of the long table of reports, in this order.
REPORT_COLUMNS: tuple[str, ...] = ("country", "year", "indicator", "source", "value")

#: Below this many overlapping country-years an estimated error variance is unreliable
#: (it can collapse towards 0 and make a source look exact); a :class:`FusionWarning` says so.
MIN_OVERLAP_WARN = 10

#: Lower bound of estimated variances, relative to the variance of the indicator's reports.
_VAR_FLOOR = 1e-10

#: SQUAREM accepts an extrapolated step unless it lowers the log-likelihood by more than this
#: (the default ``objfn.inc`` of the reference implementation, R package SQUAREM).
_SQUAREM_LL_SLACK = 1.0

_KEYS = ["country", "year", "indicator", "source"]


class FusionError(InputError):
    """A reports table that cannot be fused; the message names it, the column and the rows."""


class FusionWarning(UserWarning):
    """Fusion ran, but an estimate deserves caution (few overlaps, EM not converged)."""


@dataclass(frozen=True)
class FusionResult:
    """Fused indicators and the estimated measurement model.

    Attributes
    ----------
    estimate : xarray.DataArray
        ``(country, year, indicator)``: precision-weighted mean of the bias-corrected reports,
        NaN where no source reported.
    variance : xarray.DataArray
        ``(country, year, indicator)``: ``1 / sum(1 / error_variance)`` over the reporting
        sources (0 when an exact source reported), NaN where no source reported.
    n_sources : xarray.DataArray
        ``(country, year, indicator)``, int: number of sources that reported.
    sources : pandas.DataFrame
        One row per ``(indicator, source)`` (MultiIndex) with columns ``bias``,
        ``error_variance``, ``reliability`` (``tau2 / (tau2 + error_variance)``),
        ``n_reports``, ``n_overlap`` (reports in country-years that another source also
        reported), ``estimated`` (True: error variance estimated from the data; False: given
        by the user) and the indicator's ``mu`` and ``tau2``.
    indicators : pandas.DataFrame
        One row per indicator with ``mu``, ``tau2``, ``n_units`` (country-years reported),
        ``n_overlap_units`` (reported by two sources or more), ``n_iter_sources`` and
        ``n_iter_truth`` (SQUAREM cycles, about three EM steps each, of the EM for the source
        parameters and of the one for ``mu, tau2``) and ``converged`` (both converged).
    """

    estimate: xr.DataArray
    variance: xr.DataArray
    n_sources: xr.DataArray
    sources: pd.DataFrame
    indicators: pd.DataFrame

    def to_panel_arrays(
        self,
        country: Sequence[Hashable] | pd.Index | xr.DataArray,
        year: Sequence[int] | pd.Index | xr.DataArray,
        indicator: Sequence[str] | pd.Index | xr.DataArray | None = None,
    ) -> xr.Dataset:
        """Reindex the fused values onto a panel's coordinates.

        Parameters
        ----------
        country, year : sequence
            The panel's ``country`` and ``year`` coordinates.
        indicator : sequence of str, optional
            Indicators to return, in this order (default: all fused indicators). An indicator
            that was not fused comes back all NaN.

        Returns
        -------
        xarray.Dataset
            ``X`` and ``X_var`` (float, NaN where nobody reported) and ``n_sources`` (int, 0
            where nobody reported), each with dims ``(country, year, indicator)``, ready to be
            merged into the panel.
        """
        target = {
            "country": _coord_values(country),
            "year": _coord_values(year),
            "indicator": (
                self.estimate["indicator"].values if indicator is None
                else _coord_values(indicator)
            ),
        }
        for dim, values in target.items():
            if pd.Index(values).has_duplicates:
                raise ValueError(f"to_panel_arrays: {dim} coordinates contain duplicates")
        x = self.estimate.reindex(target)
        x_var = self.variance.reindex(target)
        n = self.n_sources.reindex(target, fill_value=0).astype(np.int64)
        return xr.Dataset({"X": x, "X_var": x_var, "n_sources": n})


def _coord_values(values: object) -> np.ndarray:
    if isinstance(values, xr.DataArray):
        return values.values
    return np.asarray(values)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _validate(reports: object, where: str) -> pd.DataFrame:
    """The reports with clean types; rows named as counted from 1 in the frame's order (for
    a table read from a file: its data rows, the header excluded)."""
    if not isinstance(reports, pd.DataFrame):
        raise FusionError(
            f"{where} must be a pandas DataFrame with columns {list(REPORT_COLUMNS)}, "
            f"got {type(reports).__name__}"
        )
    rows = Rows(where, FusionError)
    has_columns(reports.columns, REPORT_COLUMNS, rows,
                hint=f"; expected exactly {list(REPORT_COLUMNS)}")
    extra = [c for c in reports.columns if c not in REPORT_COLUMNS]
    if extra:
        rows.refuse(f"unexpected column(s) {extra}; expected exactly {list(REPORT_COLUMNS)}")
    if len(reports) == 0:
        raise FusionError(f"{where} is empty: there is nothing to fuse")
    df = reports.loc[:, list(REPORT_COLUMNS)]
    year = numeric(df["year"], "year", rows)
    required(year, "year", rows)
    whole(year, "year", rows, what="a whole year", shown=df["year"])
    value = numeric(df["value"], "value", rows)
    required(value, "value", rows, hint="; drop rows of sources that did not report")
    clean = pd.DataFrame(
        {
            "country": labels(df["country"], "country", rows),
            "year": year.astype(np.int64),
            "indicator": labels(df["indicator"], "indicator", rows),
            "source": labels(df["source"], "source", rows),
            "value": value,
        }
    )
    unique(clean[_KEYS], rows, "duplicate (country, year, indicator, source) rows",
           hint="; each source reports a country-year's indicator at most once")
    return clean


def _check_error_variance(
    error_variance: Mapping[tuple[str, str], float] | None, known: set[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    if error_variance is None:
        return {}
    if not isinstance(error_variance, Mapping):
        raise ValueError(
            "error_variance must be a mapping {(indicator, source): variance}, "
            f"got {type(error_variance).__name__}"
        )
    out: dict[tuple[str, str], float] = {}
    for key, val in error_variance.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(
                f"error_variance: key {key!r} is not an (indicator, source) tuple"
            )
        if key not in known:
            raise ValueError(
                f"error_variance: ({key[0]!r}, {key[1]!r}) does not occur in reports "
                "(no such indicator/source pair)"
            )
        if isinstance(val, bool) or not isinstance(val, numbers.Real):
            raise ValueError(f"error_variance[{key!r}] must be a number, got {val!r}")
        fval = float(val)
        if not np.isfinite(fval) or fval < 0:
            raise ValueError(
                f"error_variance[{key!r}] must be finite and >= 0, got {val!r}"
            )
        out[key] = fval
    return out


# --------------------------------------------------------------------------------------------
# EM
# --------------------------------------------------------------------------------------------


def _measurement_posterior(
    resid: np.ndarray,
    unit: np.ndarray,
    sig2_r: np.ndarray,
    n_units: int,
    prior_mean: np.ndarray | None = None,
    prior_var: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of each unit's truth from its bias-corrected reports.

    ``resid = value - bias`` per report, ``sig2_r`` its error variance. Without a prior this
    is the precision-weighted mean with variance ``1 / sum(1 / sig2)``. Reports with error
    variance 0 are exact: the unit's truth is their mean, with variance 0.
    """
    exact = sig2_r == 0
    w = np.where(exact, 0.0, 1.0 / np.where(exact, 1.0, sig2_r))
    prec = np.bincount(unit, weights=w, minlength=n_units)
    num = np.bincount(unit, weights=w * resid, minlength=n_units)
    if prior_var is not None:
        assert prior_mean is not None
        prec = prec + 1.0 / prior_var
        num = num + prior_mean / prior_var
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = num / prec
        var = 1.0 / prec
    if prior_var is None:  # a lone report passes through exactly (no rounding in w*y/w)
        single = np.bincount(unit, minlength=n_units) == 1
        mean[single] = np.bincount(unit, weights=resid, minlength=n_units)[single]
        var[single] = np.bincount(unit, weights=sig2_r, minlength=n_units)[single]
    if exact.any():
        n_exact = np.bincount(unit, weights=exact.astype(float), minlength=n_units)
        sum_exact = np.bincount(unit, weights=np.where(exact, resid, 0.0), minlength=n_units)
        sel = n_exact > 0
        mean[sel] = sum_exact[sel] / n_exact[sel]
        var[sel] = 0.0
    return mean, var


def _squarem(
    step: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    loglik: Callable[[dict[str, np.ndarray]], np.ndarray],
    theta: dict[str, np.ndarray],
    spec: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, bool]],
    accelerate: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
    """Run an EM map to convergence with SQUAREM acceleration, per indicator.

    SQUAREM (Varadhan and Roland 2008, scheme S3, with the adaptive maximal step of the R
    package SQUAREM) is written here because the EM map is our own: it extrapolates two EM
    steps along the squared-iteration direction, then takes one EM step from there, and falls
    back to the plain EM steps where the log-likelihood would drop by more than
    :data:`_SQUAREM_LL_SLACK`.

    ``spec[name] = (indicator, free, scale, is_variance)`` per entry of ``theta[name]``: the
    indicator it belongs to, whether it is estimated, the scale used in the convergence test,
    and whether it is extrapolated on the log scale. ``accelerate`` (per indicator) turns
    extrapolation off where the likelihood is degenerate (exact sources). Returns the
    parameters, the number of cycles and the per-indicator convergence flags.
    """
    n_k = accelerate.size

    def to_work(name: str, x: np.ndarray) -> np.ndarray:
        _, free, _, is_var = spec[name]
        return np.log(np.where(free, x, 1.0)) if is_var else x

    def from_work(name: str, w: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        _, free, _, is_var = spec[name]
        return np.where(free, np.exp(w) if is_var else w, fallback)

    def per_k(values: dict[str, np.ndarray]) -> np.ndarray:
        out = np.zeros(n_k)
        for name, v in values.items():
            ind, free, _, _ = spec[name]
            out += np.bincount(ind, weights=np.where(free, v, 0.0), minlength=n_k)
        return out

    ll0 = loglik(theta)
    step_max = np.ones(n_k)
    converged = np.zeros(n_k, dtype=bool)
    n_cycles = 0
    for n_cycles in range(1, max_iter + 1):  # noqa: B007 (reported)
        th1 = step(theta)
        delta = np.zeros(n_k)
        for name, (ind, free, scl, _) in spec.items():
            change = np.where(free, np.abs(th1[name] - theta[name]) / scl, 0.0)
            delta = np.maximum(delta, _group_max(change, ind, n_k))
        converged = delta < tol
        if converged.all():
            theta = th1
            break
        th2 = step(th1)
        w0 = {n: to_work(n, theta[n]) for n in theta}
        r = {n: to_work(n, th1[n]) - w0[n] for n in theta}
        v = {n: to_work(n, th2[n]) - to_work(n, th1[n]) - r[n] for n in theta}
        sr, sv = per_k({n: r[n] ** 2 for n in r}), per_k({n: v[n] ** 2 for n in v})
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(sv > 0, np.sqrt(sr / sv), 1.0)
        alpha = np.where(accelerate & np.isfinite(alpha), np.clip(alpha, 1.0, step_max), 1.0)
        th_x = {}
        for n in theta:
            a = alpha[spec[n][0]]
            th_x[n] = from_work(n, w0[n] + 2 * a * r[n] + a**2 * v[n], th2[n])
        th3 = step(th_x)  # alpha = 1 gives th_x = th2; one more EM step is still monotone
        ll3 = loglik(th3)
        bad = ~np.isfinite(ll3) | (ll3 < ll0 - _SQUAREM_LL_SLACK)
        if bad.any():  # fall back to the plain EM steps there, and shorten the maximal step
            ll2 = loglik(th2)
            th3 = {n: np.where(bad[spec[n][0]], th2[n], th3[n]) for n in th3}
            ll3 = np.where(bad, ll2, ll3)
            step_max = np.where(bad & (alpha == step_max), np.maximum(1.0, step_max / 4), step_max)
            alpha = np.where(bad, 1.0, alpha)
        step_max = np.where(alpha == step_max, 4 * step_max, step_max)
        theta, ll0 = th3, ll3
    return theta, n_cycles, converged


def _em_sources(
    y: np.ndarray,
    unit: np.ndarray,
    src: np.ndarray,
    unit_ind: np.ndarray,
    src_ind: np.ndarray,
    src_comp: np.ndarray,
    sig2: np.ndarray,
    fixed: np.ndarray,
    scale: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Maximum likelihood (ECM + SQUAREM) of biases and error variances on overlapping units.

    Arrays are per report (``y``, ``unit``, ``src``), per unit (``unit_ind``) and per source
    (``src_ind``, ``src_comp``, ``sig2``, ``fixed``); ``scale`` is per indicator. Sources with
    no report here are left alone (bias 0, their ``sig2``). Returns ``bias`` (summing to zero
    within each group of linked sources), ``sig2``, the number of cycles and the per-indicator
    convergence flags.

    Each group of linked sources gets its own truth mean ``mu[group]`` (``tau2`` is shared by
    the indicator), so the likelihood does not depend on where the group's biases are
    anchored. Internally one reference source per group has bias 0 (an exact source if there is
    one: its bias cannot move in EM, since it pins the truth), and the biases are re-centred to
    sum to zero at the end, which leaves the fit unchanged.
    """
    n_u, n_g, n_k = unit_ind.size, src_ind.size, scale.size
    n_comp = int(src_comp.max()) + 1
    n_rep_g = np.bincount(src, minlength=n_g).astype(float)
    has = n_rep_g > 0
    n_rep_gd = np.maximum(n_rep_g, 1)
    n_rep_u = np.bincount(unit, minlength=n_u).astype(float)
    unit_comp = np.zeros(n_u, dtype=np.int64)
    unit_comp[unit] = src_comp[src]
    n_unit_c = np.bincount(unit_comp, minlength=n_comp).astype(float)
    n_unit_cd = np.maximum(n_unit_c, 1)
    n_unit_k = np.bincount(unit_ind, minlength=n_k).astype(float)
    n_unit_kd = np.maximum(n_unit_k, 1)
    comp_ind = np.zeros(n_comp, dtype=np.int64)
    comp_ind[src_comp] = src_ind
    floor_g = _VAR_FLOOR * scale[src_ind]
    floor_k = _VAR_FLOOR * scale

    # reference source per group: exact sources first, then the most reports, then first
    exact_g = has & (sig2 == 0)
    order = np.lexsort((np.arange(n_g), -n_rep_g, ~exact_g, src_comp))
    first = np.ones(n_g, dtype=bool)
    first[1:] = src_comp[order][1:] != src_comp[order][:-1]
    is_ref = np.zeros(n_g, dtype=bool)
    is_ref[order[first]] = True
    free_b = has & ~is_ref

    # Start: additive two-way fit (truth + bias) by backfitting.
    bias = np.zeros(n_g)
    for _ in range(25):
        t = np.bincount(unit, weights=y - bias[src], minlength=n_u) / n_rep_u
        d = np.bincount(src, weights=y - t[unit], minlength=n_g) / n_rep_gd
        ref_d = np.zeros(n_comp)
        ref_d[src_comp[is_ref]] = d[is_ref]
        bias = np.where(free_b, d - ref_d[src_comp], 0.0)
    t = np.bincount(unit, weights=y - bias[src], minlength=n_u) / n_rep_u
    r2 = (y - bias[src] - t[unit]) ** 2 * n_rep_u[unit] / (n_rep_u[unit] - 1)
    init = np.bincount(src, weights=r2, minlength=n_g) / n_rep_gd
    sig2 = np.where(fixed | ~has, sig2, np.maximum(init, floor_g))
    mu = np.bincount(unit_comp, weights=t, minlength=n_comp) / n_unit_cd
    tau2 = np.bincount(unit_ind, weights=(t - mu[unit_comp]) ** 2, minlength=n_k) / n_unit_kd
    tau2 = np.maximum(tau2, np.maximum(floor_k, 1e-3 * scale))

    def step(th: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        mu, tau2, bias, sig2 = th["mu"], th["tau2"], th["bias"], th["sig2"]
        # E-step: posterior of each unit's truth given its reports and the prior N(mu, tau2)
        m, v = _measurement_posterior(
            y - bias[src], unit, sig2[src], n_u, mu[unit_comp], tau2[unit_ind]
        )
        # M-step (conditional maximisations): mu, tau2; biases; sigma2 given the new biases
        mu_new = np.bincount(unit_comp, weights=m, minlength=n_comp) / n_unit_cd
        tau2_new = np.bincount(
            unit_ind, weights=(m - mu_new[unit_comp]) ** 2 + v, minlength=n_k
        ) / n_unit_kd
        d = np.bincount(src, weights=y - m[unit], minlength=n_g) / n_rep_gd
        bias_new = np.where(free_b, d, 0.0)
        e2 = (y - bias_new[src] - m[unit]) ** 2 + v[unit]
        sig2_est = np.bincount(src, weights=e2, minlength=n_g) / n_rep_gd
        return {
            "mu": mu_new,
            "tau2": np.maximum(tau2_new, floor_k),
            "bias": bias_new,
            "sig2": np.where(fixed | ~has, sig2, np.maximum(sig2_est, floor_g)),
        }

    exact_r = sig2[src] == 0
    accelerate = np.bincount(unit_ind[unit[exact_r]], minlength=n_k) == 0

    def loglik(th: dict[str, np.ndarray]) -> np.ndarray:
        # Marginal log-likelihood per indicator (Woodbury form of N(mu + bias, tau2 11' + D));
        # 0 where a source is exact (acceleration is off there, the value is never compared).
        s2 = np.where(exact_r, 1.0, th["sig2"][src])
        res = y - th["mu"][unit_comp[unit]] - th["bias"][src]
        a = np.bincount(unit, weights=1.0 / s2, minlength=n_u)
        b = np.bincount(unit, weights=res / s2, minlength=n_u)
        c = np.bincount(unit, weights=res**2 / s2, minlength=n_u)
        logdet_d = np.bincount(unit, weights=np.log(s2), minlength=n_u)
        t2 = th["tau2"][unit_ind]
        ll_u = -0.5 * (
            n_rep_u * np.log(2 * np.pi) + logdet_d + np.log1p(t2 * a) + c - t2 * b**2 / (1 + t2 * a)
        )
        return np.where(accelerate, np.bincount(unit_ind, weights=ll_u, minlength=n_k), 0.0)

    sd_k = np.sqrt(scale)
    spec = {
        "mu": (comp_ind, n_unit_c > 0, sd_k[comp_ind], False),
        "tau2": (np.arange(n_k), n_unit_k > 0, scale, True),
        "bias": (src_ind, free_b, sd_k[src_ind], False),
        "sig2": (src_ind, has & ~fixed, scale[src_ind], True),
    }
    theta = {"mu": mu, "tau2": tau2, "bias": bias, "sig2": sig2}
    theta, n_cycles, converged = _squarem(step, loglik, theta, spec, accelerate, max_iter, tol)
    bias = theta["bias"]
    comp_size = np.bincount(src_comp, weights=has.astype(float), minlength=n_comp)
    comp_mean = np.bincount(src_comp, weights=bias, minlength=n_comp) / np.maximum(comp_size, 1)
    bias = np.where(has, bias - comp_mean[src_comp], 0.0)
    return bias, theta["sig2"], n_cycles, converged | (n_unit_k == 0)


def _group_max(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    np.maximum.at(out, group, values)
    return out


def _em_truth(
    z: np.ndarray,
    s: np.ndarray,
    unit_ind: np.ndarray,
    scale: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Maximum likelihood (EM + SQUAREM) of ``mu, tau2`` per indicator.

    Given unit estimates ``z`` with sampling variances ``s`` (may be 0), the marginal model is
    ``z ~ N(mu, tau2 + s)``: a random-effects meta-analysis per indicator.
    """
    n_k = scale.size
    n_unit_k = np.bincount(unit_ind, minlength=n_k).astype(float)
    denom = np.maximum(n_unit_k, 1)
    floor_k = _VAR_FLOOR * scale
    mu = np.bincount(unit_ind, weights=z, minlength=n_k) / denom
    tau2 = np.bincount(unit_ind, weights=(z - mu[unit_ind]) ** 2 - s, minlength=n_k) / denom
    tau2 = np.maximum(tau2, np.maximum(floor_k, 1e-3 * scale))

    def step(th: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        mu, tau2 = th["mu"], th["tau2"]
        shrink = s / (tau2[unit_ind] + s)
        m = z + shrink * (mu[unit_ind] - z)
        v = tau2[unit_ind] * shrink
        mu_new = np.bincount(unit_ind, weights=m, minlength=n_k) / denom
        tau2_new = np.bincount(
            unit_ind, weights=(m - mu_new[unit_ind]) ** 2 + v, minlength=n_k
        ) / denom
        return {"mu": mu_new, "tau2": np.maximum(tau2_new, floor_k)}

    def loglik(th: dict[str, np.ndarray]) -> np.ndarray:
        tot = th["tau2"][unit_ind] + s
        ll = -0.5 * (np.log(2 * np.pi * tot) + (z - th["mu"][unit_ind]) ** 2 / tot)
        return np.bincount(unit_ind, weights=ll, minlength=n_k)

    has = n_unit_k > 0
    spec = {
        "mu": (np.arange(n_k), has, np.sqrt(scale), False),
        "tau2": (np.arange(n_k), has, scale, True),
    }
    theta, n_cycles, converged = _squarem(
        step, loglik, {"mu": mu, "tau2": tau2}, spec, np.ones(n_k, dtype=bool), max_iter, tol
    )
    return theta["mu"], theta["tau2"], n_cycles, converged | ~has


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------


def fuse_reports(
    reports: pd.DataFrame,
    *,
    error_variance: Mapping[tuple[str, str], float] | None = None,
    max_iter: int = 200,
    tol: float = 1e-8,
    where: str = "reports",
) -> FusionResult:
    """Fuse several sources' reports of the same indicators into estimates with variances.

    Parameters
    ----------
    reports : pandas.DataFrame
        Long table, one row per report, with exactly the columns ``country`` (str),
        ``year`` (int), ``indicator`` (str), ``source`` (str) and ``value`` (finite float).
        A source that did not report a country-year has no row (not a NaN row).
    error_variance : mapping of (indicator, source) to float, optional
        Known error variances (>= 0; 0 means exact). They are held fixed instead of
        estimated. Required for every source that never reports a country-year together with
        another source of the same indicator (its error variance is not identified), which
        includes the only source of a single-source indicator.
    max_iter : int
        Maximum number of (SQUAREM-accelerated) EM cycles, for each of the two EM stages.
    tol : float
        Convergence tolerance: largest change of a parameter in one EM step, relative to the
        indicator's scale (standard deviation of its reports for means and biases, their
        variance for variances).
    where : str
        Name of ``reports`` in error messages (e.g. the file it was read from).

    Returns
    -------
    FusionResult
        See :class:`FusionResult`. The model and its identification choices are described in
        the module docstring.

    Raises
    ------
    FusionError
        A bad table (a ``ValueError``): missing or unexpected columns, duplicate reports,
        labels that are not non-empty text, years that are not whole numbers, non-numeric,
        blank or infinite values; the message names ``where``, the column and the first bad
        rows, counted from 1 in the order of ``reports`` (see :mod:`r2p_models.checks`).
    ValueError
        An unknown or invalid ``error_variance`` entry or option, or a source whose error
        variance can neither be estimated nor was given.

    Warns
    -----
    FusionWarning
        An error variance estimated from fewer than :data:`MIN_OVERLAP_WARN` overlapping
        country-years, or an EM that did not converge within ``max_iter``.
    """
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    df = _validate(reports, where)

    # --- integer codes: indicator k, source g = (indicator, source), unit u = (k, country, year)
    ind_code, ind_names = pd.factorize(df["indicator"], sort=True)
    cty_code, cty_names = pd.factorize(df["country"], sort=True)
    yr_code, yr_values = pd.factorize(df["year"], sort=True)
    n_k, n_c, n_t = len(ind_names), len(cty_names), len(yr_values)
    src_code, src_index = pd.factorize(
        pd.MultiIndex.from_arrays([df["indicator"], df["source"]]), sort=True
    )
    n_g = len(src_index)
    src_ind = np.asarray(ind_names.get_indexer(src_index.get_level_values(0)))
    unit_key = (ind_code.astype(np.int64) * n_c + cty_code) * n_t + yr_code
    unit_keys, unit = np.unique(unit_key, return_inverse=True)
    n_u = unit_keys.size
    unit_ind = unit_keys // (n_c * n_t)
    y = df["value"].to_numpy(dtype=float)

    ev = _check_error_variance(error_variance, set(src_index.to_list()))
    fixed = np.zeros(n_g, dtype=bool)
    sig2 = np.full(n_g, np.nan)
    for key, val in ev.items():
        gi = src_index.get_loc(key)
        fixed[gi] = True
        sig2[gi] = val

    # --- overlap: units reported by >= 2 sources; sources must overlap or be given
    n_rep_u = np.bincount(unit, minlength=n_u)
    overlap_r = n_rep_u[unit] >= 2
    n_rep_g = np.bincount(src_code, minlength=n_g)
    n_overlap_g = np.bincount(src_code[overlap_r], minlength=n_g)
    lonely = (n_overlap_g == 0) & ~fixed
    if lonely.any():
        first = int(np.flatnonzero(lonely)[0])
        k_name, s_name = src_index[first]
        more = int(lonely.sum()) - 1
        raise ValueError(
            f"source {s_name!r} of indicator {k_name!r} never reports a country-year together "
            "with another source, so its error variance cannot be estimated; give it (0 if "
            f"exact) in the run config as [data.error_variance] \"{k_name}/{s_name}\" = v, "
            f"or in Python as fuse_reports(error_variance={{({k_name!r}, {s_name!r}): v}})"
            + (f"; {more} more source(s) have the same problem" if more else "")
        )
    few = (n_overlap_g < MIN_OVERLAP_WARN) & ~fixed
    for gi in np.flatnonzero(few):
        k_name, s_name = src_index[gi]
        warnings.warn(
            f"error variance of source {s_name!r} of indicator {k_name!r} is estimated from "
            f"only {n_overlap_g[gi]} overlapping country-year(s); consider giving it in "
            "error_variance",
            FusionWarning,
            stacklevel=2,
        )

    # per-indicator scale (variance of its reports) for floors and convergence
    cnt_k = np.bincount(ind_code, minlength=n_k).astype(float)
    mean_k = np.bincount(ind_code, weights=y, minlength=n_k) / cnt_k
    scale = np.bincount(ind_code, weights=(y - mean_k[ind_code]) ** 2, minlength=n_k) / cnt_k
    scale = np.where(scale > 0, scale, 1.0)

    # --- groups of sources linked by shared units (bias identification), on overlap units
    ov_units, ov_unit = np.unique(unit[overlap_r], return_inverse=True)
    n_ov = ov_units.size
    graph = coo_matrix(
        (np.ones(int(overlap_r.sum())), (src_code[overlap_r], n_g + ov_unit)),
        shape=(n_g + n_ov, n_g + n_ov),
    )
    _, labels = connected_components(graph, directed=False)
    src_comp = np.unique(labels[:n_g], return_inverse=True)[1]

    # --- stage 1: biases and error variances from overlapping units
    bias = np.zeros(n_g)
    n_iter1, conv1 = 0, np.ones(n_k, dtype=bool)
    if n_ov:
        bias, sig2, n_iter1, conv1 = _em_sources(
            y[overlap_r], ov_unit, src_code[overlap_r], unit_ind[ov_units], src_ind,
            src_comp, sig2, fixed, scale, max_iter, tol,
        )

    # --- fused estimate (no prior) and stage 2: mu, tau2 from all units
    est, var = _measurement_posterior(y - bias[src_code], unit, sig2[src_code], n_u)
    mu, tau2, n_iter2, conv2 = _em_truth(est, var, unit_ind, scale, max_iter, tol)
    converged = conv1 & conv2
    if not converged.all():
        warnings.warn(
            f"EM did not converge within max_iter={max_iter} for indicator(s) "
            f"{[str(x) for x in ind_names[~converged]]}; increase max_iter or check the data",
            FusionWarning,
            stacklevel=2,
        )

    # --- outputs
    c_u = (unit_keys // n_t) % n_c
    t_u = unit_keys % n_t
    shape = (n_c, n_t, n_k)
    est_a, var_a = np.full(shape, np.nan), np.full(shape, np.nan)
    n_a = np.zeros(shape, dtype=np.int64)
    est_a[c_u, t_u, unit_ind] = est
    var_a[c_u, t_u, unit_ind] = var
    n_a[c_u, t_u, unit_ind] = n_rep_u
    coords = {
        "country": np.asarray(cty_names, dtype=object).astype(str),
        "year": np.asarray(yr_values, dtype=np.int64),
        "indicator": np.asarray(ind_names, dtype=object).astype(str),
    }
    dims = ("country", "year", "indicator")
    estimate = xr.DataArray(est_a, coords=coords, dims=dims, name="estimate")
    variance = xr.DataArray(var_a, coords=coords, dims=dims, name="variance")
    n_sources = xr.DataArray(n_a, coords=coords, dims=dims, name="n_sources")

    tau2_g = tau2[src_ind]
    with np.errstate(divide="ignore", invalid="ignore"):
        reliability = tau2_g / (tau2_g + sig2)
    sources = pd.DataFrame(
        {
            "bias": bias,
            "error_variance": sig2,
            "reliability": reliability,
            "n_reports": n_rep_g,
            "n_overlap": n_overlap_g,
            "estimated": ~fixed,
            "mu": mu[src_ind],
            "tau2": tau2_g,
        },
        index=pd.MultiIndex.from_tuples(
            [(str(k), str(s)) for k, s in src_index], names=["indicator", "source"]
        ),
    )
    n_ov_units_k = np.bincount(unit_ind[ov_units], minlength=n_k)
    indicators = pd.DataFrame(
        {
            "mu": mu,
            "tau2": tau2,
            "n_units": np.bincount(unit_ind, minlength=n_k),
            "n_overlap_units": n_ov_units_k,
            "n_iter_sources": np.where(n_ov_units_k > 0, n_iter1, 0),
            "n_iter_truth": n_iter2,
            "converged": converged,
        },
        index=pd.Index(coords["indicator"], name="indicator"),
    )
    return FusionResult(estimate, variance, n_sources, sources, indicators)
