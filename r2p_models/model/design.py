"""Design matrices from a panel: horizon outcome, at-risk mask, standardisation, missing data.

Observation unit
----------------
One observation is ``(country c, origin year t, crime k)``. Its predictors are the
indicators observed in year ``t``; its outcome is an onset of crime ``k`` in any of the
years ``t + 1 .. t + h`` (``h`` = horizon, 1 or 2).

At risk
-------
A country is at risk of an onset of ``k`` in year ``s`` unless an episode of ``k`` that
began earlier is under way (``ongoing[c, s, k] == 1`` and no onset in ``s``). An
observation is *at risk* when the country is at risk in its first target year
``t + 1``; if no onset happens in ``t + 1`` it is then at risk in ``t + 2`` as well, so
the same rule serves both horizons. Years inside an ongoing episode are masked out,
never scored as zeros. The rule reads ``ongoing`` of the target year, which is known
once the outcome is; at forecast time (:func:`origin_design`) the at-risk flag is the
one known at the origin: no episode under way and no onset in ``t``. That set is
narrower: it leaves out the countries whose episode was under way at ``t`` (or began in
``t``) and had ended by ``t + 1``, where onsets (recurrences) are several times more
frequent (on the EWP panel 164 of 6,525 training windows, holding 17 of their 185
onsets). ``train_at_risk="origin"`` (``[model] train_at_risk``) trains on the forecast
population only.

An observation is *usable* for fitting when it is at risk, its outcome is known (no
blank onset in the window unless an onset was recorded in it), its window lies inside
the panel and, with ``through``, ``t + h <= through`` (the outcome was known by then:
what backtests rely on to avoid leakage). :class:`DesignCounts` reports how many cells
each rule removed; no other row is ever dropped.

Missing indicators
------------------
``missing="carry_forward"`` (default): a missing value takes the last value observed
for the same country in an earlier year (past only, so no look-ahead), and 0 (the
indicator's training mean) when there is none. For every indicator that is ever
missing in the training cells a 0/1 *missingness flag* (1 where the value was not
observed in that year, even if carried forward) enters the model as a covariate,
centred on its training mean: missingness is informative (it rises with risk), so the
flag carries that signal instead of letting imputation hide it. No row is dropped.

``missing="bayes"``: missing values of the training cells become latent parameters
``x ~ Normal(m[c, j], s[j])``, where ``m`` is the country's mean of the observed
standardised values (0 when none) and ``s`` the indicator's pooled within-country
standard deviation (both plug-in estimates from the training data); the outcome
likelihood informs them. The missingness flags are kept. At forecast time a missing
value is drawn from the same distribution, once per posterior draw.

Measurement error of fused indicators
-------------------------------------
A fused indicator (:mod:`r2p_models.data.fusion`) comes with the variance of its
estimate, ``X_var``: large where few or unreliable channels reported, which is where
risk is highest. Used as if exact, a noisy value attenuates the indicator's effect and
overstates the risk signal of a poorly observed country's extreme values. Both modes
therefore use *regression calibration* (Carroll et al., *Measurement Error in Nonlinear
Models*, ch. 4): each value is replaced by its expected true value given the
measurement, ``E[x | x_obs] = m + lambda (x_obs - m)`` with the reliability
``lambda = v / (v + X_var)``, where ``m`` and ``v`` are the indicator's training mean and
true-score variance (the variance of the observed values minus their mean ``X_var``). A
value with ``X_var = 0`` (every directly observed indicator) is unchanged; a carried-
forward value keeps the variance it was measured with. ``v`` is kept in
:class:`Standardisation`, so forecasts shrink new values the same way. (Written here:
no maintained Python library does regression calibration for a PyMC design.)

Episode history
---------------
With ``history=True`` (``[model] history``) every observation also carries, per crime
``k'``, ``exp(-(t - s) / HISTORY_DECAY)`` where ``s <= t`` is the country's latest year
with an episode of ``k'`` under way or beginning (0 when it has had none): 1 while an
episode is under way in the origin year, decaying over the years after it ends. The
model gives each (crime, crime') pair its own effect, so an episode of war crimes under
way or recently ended can raise the risk of genocide, and a crime's own past episodes
its risk of recurrence. Only years up to the origin enter, so a forecast uses only what
was known then. A blank (NaN) ``ongoing`` or ``onset`` reads as no episode. The columns
are centred on their training means.

Standardisation
---------------
Each indicator is centred and scaled by the mean and standard deviation of its observed
(not imputed) values in the years known at ``through`` (all years without it). The
parameters are kept in :class:`Standardisation` and reused for forecasts, so a fitted
model standardises new data exactly as it did its training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from r2p_models.crimes import CRIMES, indicator_relevance, parse_risk_factors
from r2p_models.data.panel import panel_as_of
from r2p_models.errors import InputError
from r2p_models.model.rules import RuleSet, learn_rules
from r2p_models.model.smooth import SplineSet, learn_splines
from r2p_models.outcomes import at_risk_at_origin, at_risk_mask, horizon_outcome

__all__ = [
    "Design",
    "DesignCounts",
    "DesignError",
    "OriginDesign",
    "Standardisation",
    "at_risk_mask",
    "build_design",
    "carry_forward",
    "episode_history",
    "horizon_outcome",
    "origin_design",
    "relevance_matrix",
]

MISSING_MODES = ("carry_forward", "bayes")

#: Decay time, in years, of the episode-history term (see the module docstring).
HISTORY_DECAY = 3.0


class DesignError(InputError):
    """A panel (or an argument) from which no design can be built."""


@dataclass(frozen=True)
class Standardisation:
    """How raw indicators become model columns (kept with a fitted model).

    Attributes
    ----------
    indicators : tuple of str
        Indicator names, in the panel's order.
    mean, sd : ndarray, shape (n_indicator,)
        Mean and standard deviation of the observed training values (``sd`` is 1 for an
        indicator that is constant or never observed).
    flags : tuple of str
        Indicators that carry a missingness flag (ever missing in the training cells).
    flag_mean : ndarray, shape (n_flag,)
        Training share of missing values of each flagged indicator (the flag is centred).
    true_var : ndarray, shape (n_indicator,), optional
        True-score variance of each indicator for regression calibration (see the module
        docstring); ``inf`` (the default) for an indicator measured without error.
    rules : RuleSet, optional
        Interaction rules over the standardised indicators, learned on the training
        cells (:mod:`r2p_models.model.rules`); None without ``[model] rules``.
    history_crimes : tuple of str
        Crimes whose episode history enters the model (empty without ``[model]
        history``).
    history_mean : ndarray, shape (n_history,)
        Training mean of each history column (the columns are centred).
    smooth : SplineSet, optional
        B-spline bases of the continuous indicators, placed on the training cells
        (:mod:`r2p_models.model.smooth`); None without ``[model] smooth``.
    """

    indicators: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    flags: tuple[str, ...]
    flag_mean: np.ndarray
    true_var: np.ndarray | None = None
    rules: RuleSet | None = None
    history_crimes: tuple[str, ...] = ()
    history_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    smooth: SplineSet | None = None

    @property
    def history_names(self) -> tuple[str, ...]:
        """Column names of the episode-history terms (``history:<crime>``)."""
        return tuple(f"history:{k}" for k in self.history_crimes)

    @property
    def smooth_names(self) -> tuple[str, ...]:
        """Column names of the smooth terms (empty without them)."""
        return () if self.smooth is None else self.smooth.names(self.indicators)

    def smooth_columns(self, x_std: np.ndarray) -> np.ndarray:
        """The model's smooth-term columns for standardised indicators (...,
        n_indicator); zero columns without smooth terms."""
        if self.smooth is None:
            return np.zeros((*x_std.shape[:-1], 0))
        return self.smooth.transform(x_std)

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Column names of the rules (empty without rules)."""
        return () if self.rules is None else self.rules.names

    def rule_columns(self, x_std: np.ndarray) -> np.ndarray:
        """The model's rule columns for standardised indicators (..., n_indicator);
        zero columns without rules."""
        if self.rules is None:
            return np.zeros((*x_std.shape[:-1], 0))
        return self.rules.transform(x_std)

    def reliability(self, x_var: np.ndarray) -> np.ndarray:
        """``lambda = v / (v + X_var)`` per value (1 where ``X_var`` is 0 or missing).

        Parameters
        ----------
        x_var : ndarray, last axis indicator
            Measurement variances, raw scale.
        """
        v = (np.full(len(self.indicators), np.inf) if self.true_var is None
             else np.asarray(self.true_var, dtype=float))
        xv = np.where(np.isnan(x_var), 0.0, x_var)
        with np.errstate(invalid="ignore", divide="ignore"):
            lam = np.where(xv > 0, v / (v + xv), 1.0)
        return np.where(np.isfinite(v), lam, 1.0)

    def to_dataset(self) -> xr.Dataset:
        """The parameters as a Dataset (stored in a saved model's ``constant_data``)."""
        ds = xr.Dataset(
            {
                "x_mean": (("indicator",), np.asarray(self.mean, dtype=float)),
                "x_sd": (("indicator",), np.asarray(self.sd, dtype=float)),
                "flag_mean": (("flag",), np.asarray(self.flag_mean, dtype=float)),
                "x_true_var": (("indicator",), np.full(len(self.indicators), np.inf)
                               if self.true_var is None
                               else np.asarray(self.true_var, dtype=float)),
            },
            coords={"indicator": list(self.indicators), "flag": list(self.flags)},
        )
        if self.history_crimes:
            ds = ds.assign(history_mean=(("history",), np.asarray(self.history_mean, float)))
            ds = ds.assign_coords(history=list(self.history_crimes))
        if self.smooth is not None:
            ds = ds.merge(self.smooth.to_dataset())
        return ds if self.rules is None else ds.merge(self.rules.to_dataset())

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Standardisation:
        """Inverse of :meth:`to_dataset`."""
        return cls(
            indicators=tuple(str(v) for v in ds["indicator"].values),
            mean=ds["x_mean"].values.astype(float),
            sd=ds["x_sd"].values.astype(float),
            flags=tuple(str(v) for v in ds["flag"].values),
            flag_mean=ds["flag_mean"].values.astype(float),
            # files saved before regression calibration existed: no calibration
            true_var=(ds["x_true_var"].values.astype(float) if "x_true_var" in ds
                      else None),
            rules=RuleSet.from_dataset(ds),
            history_crimes=(tuple(str(v) for v in ds["history"].values)
                            if "history_mean" in ds else ()),
            history_mean=(ds["history_mean"].values.astype(float) if "history_mean" in ds
                          else np.zeros(0)),
            smooth=SplineSet.from_dataset(ds),
        )


@dataclass(frozen=True)
class DesignCounts:
    """What happened to each (country, origin year, crime) cell of the panel.

    Every cell falls in exactly one class, in this order of precedence:
    ``beyond_data`` (the horizon window runs past the last panel year or past
    ``through``), ``not_at_risk`` (an episode under way in the first target year),
    ``unknown_outcome`` (a blank onset in the window, or the country-year is absent),
    ``used``. ``events`` counts onsets among the used cells.
    """

    cells: int
    beyond_data: int
    not_at_risk: int
    unknown_outcome: int
    used: int
    events: dict[str, int]
    used_by_crime: dict[str, int]
    missing_values: int
    imputed_from_past: int
    imputed_at_mean: int

    def summary(self) -> str:
        """One paragraph for logs and notebooks."""
        ev = ", ".join(f"{k} {v}/{self.used_by_crime[k]}" for k, v in self.events.items())
        return (
            f"{self.cells} cells: {self.used} used, {self.not_at_risk} not at risk (episode under "
            f"way), {self.unknown_outcome} unknown outcome, {self.beyond_data} beyond the data or "
            f"`through`; events/used per crime: {ev}; indicator values missing in used cells: "
            f"{self.missing_values} ({self.imputed_from_past} carried forward, "
            f"{self.imputed_at_mean} at the mean)"
        )


@dataclass
class Design:
    """Everything the model needs, as dense arrays over (country, origin year, crime).

    Attributes
    ----------
    countries, years, crimes, indicators, regions : tuple of str / ndarray
        Coordinates; ``years`` are origin years.
    region_idx : ndarray of int, shape (n_country,)
        Region of each country (index into ``regions``).
    x : ndarray, shape (n_country, n_year, n_indicator)
        Standardised indicators, imputed as ``missing`` says.
    flags : ndarray, shape (n_country, n_year, n_flag)
        Centred missingness flags.
    missing : ndarray of bool, shape (n_country, n_year, n_indicator)
        Where the raw value was not observed.
    y : ndarray, shape (n_country, n_year, n_crime)
        Outcome (onset within the horizon), 0 where ``w`` is 0.
    w : ndarray, shape (n_country, n_year, n_crime)
        1.0 for usable observations, else 0.0.
    relevance : ndarray of bool, shape (n_crime, n_indicator)
        UN Framework mapping: whether an indicator is expected to matter for a crime.
    risk_factors : tuple of tuple of int
        Risk factors of each indicator.
    standardisation : Standardisation
    horizon : int
    through : int or None
    missing_mode : str
    counts : DesignCounts
    impute_mean, impute_sd : ndarray
        For ``missing="bayes"``: per (country, indicator) mean and per indicator sd of the
        imputation distribution on the standardised scale.
    rule_x : ndarray, shape (n_country, n_year, n_rule)
        The interaction-rule columns (:mod:`r2p_models.model.rules`; no columns without
        rules).
    history : ndarray, shape (n_country, n_year, n_history)
        Centred episode-history columns (see the module docstring; no columns without
        ``history``).
    smooth_x : ndarray, shape (n_country, n_year, n_smooth)
        The smooth-term columns (:mod:`r2p_models.model.smooth`; no columns without
        ``smooth``).
    """

    countries: tuple[str, ...]
    years: np.ndarray
    crimes: tuple[str, ...]
    indicators: tuple[str, ...]
    regions: tuple[str, ...]
    region_idx: np.ndarray
    x: np.ndarray
    flags: np.ndarray
    missing: np.ndarray
    y: np.ndarray
    w: np.ndarray
    relevance: np.ndarray
    risk_factors: tuple[tuple[int, ...], ...]
    standardisation: Standardisation
    horizon: int
    through: int | None
    missing_mode: str
    counts: DesignCounts
    impute_mean: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    impute_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rule_x: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    smooth_x: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))

    @property
    def history_names(self) -> tuple[str, ...]:
        """Column names of the episode-history terms (empty without them)."""
        return self.standardisation.history_names

    @property
    def smooth_names(self) -> tuple[str, ...]:
        """Column names of the smooth terms (empty without them)."""
        return self.standardisation.smooth_names

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Column names of the interaction rules (empty without rules)."""
        return self.standardisation.rule_names

    @property
    def flag_names(self) -> tuple[str, ...]:
        """Indicators that carry a missingness flag."""
        return self.standardisation.flags

    @property
    def base_rate(self) -> np.ndarray:
        """Per crime share of usable observations with an onset (0.5 added to events and
        1 to trials so a crime without events still has a finite logit)."""
        events = (self.y * self.w).sum(axis=(0, 1))
        n = self.w.sum(axis=(0, 1))
        return (events + 0.5) / (n + 1.0)

    @property
    def latent_cells(self) -> np.ndarray:
        """Flat indices into ``x`` of the missing values that are latent under ``bayes``
        (missing values of country-years with at least one usable observation)."""
        used_cy = self.w.max(axis=2) > 0
        mask = self.missing & used_cy[:, :, None]
        return np.flatnonzero(mask)


def _check_panel(panel: xr.Dataset) -> None:
    need = {"X": ("country", "year", "indicator"), "onset": ("country", "year", "crime"),
            "ongoing": ("country", "year", "crime")}
    for name, dims in need.items():
        if name not in panel:
            raise DesignError(f"panel: variable {name!r} is missing (schema: r2p_models.data)")
        if set(panel[name].dims) != set(dims):
            raise DesignError(
                f"panel: variable {name!r} has dims {panel[name].dims}; expected {dims}"
            )
    unknown = [str(c) for c in panel["crime"].values if c not in CRIMES]
    if unknown:
        raise DesignError(f"panel: unknown crime(s) {unknown}; expected some of {list(CRIMES)}")
    years = panel["year"].values
    if len(years) > 1 and np.any(np.diff(years) != 1):
        raise DesignError("panel: coordinate 'year' must be consecutive and increasing")
    if "region" not in panel.coords:
        raise DesignError("panel: coordinate 'region(country)' is missing")


def carry_forward(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Replace each NaN by the last non-NaN value before it along ``axis`` (past only).

    NaNs with no earlier value stay NaN. Written by hand because xarray's ``ffill``
    needs an optional dependency (bottleneck or numbagg) for a few lines of numpy.

    Examples
    --------
    >>> carry_forward(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]]))
    array([[nan,  1.,  1.,  3.,  3.]])
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    n = x.shape[-1]
    idx = np.where(np.isnan(x), 0, np.arange(n))
    np.maximum.accumulate(idx, axis=-1, out=idx)
    out = np.take_along_axis(x, idx, axis=-1)
    # positions before the first observation pick index 0, which is NaN if unobserved
    return np.moveaxis(out, -1, axis)


def episode_history(onset: np.ndarray, ongoing: np.ndarray,
                    decay: float = HISTORY_DECAY) -> np.ndarray:
    """Episode history of every (country, year, crime): ``exp(-(t - s) / decay)``.

    ``s`` is the latest year up to ``t`` with an episode under way or beginning
    (``ongoing == 1`` or ``onset == 1``); 0 when there is none. NaN reads as no episode.

    Parameters
    ----------
    onset, ongoing : ndarray, shape (n_country, n_year, n_crime)
    decay : float
        Decay time in years.

    Examples
    --------
    >>> on = np.array([[[0.], [1.], [0.], [0.]]]); og = np.array([[[0.], [0.], [1.], [0.]]])
    >>> np.round(episode_history(on, og, decay=1.0)[0, :, 0], 3)
    array([0.   , 1.   , 1.   , 0.368])
    """
    ep = (np.asarray(onset) == 1) | (np.asarray(ongoing) == 1)
    T = ep.shape[1]
    years = np.arange(T)[None, :, None]
    last = np.maximum.accumulate(np.where(ep, years, -1), axis=1)
    return np.where(last >= 0, np.exp(-(years - last) / decay), 0.0)


def relevance_matrix(panel: xr.Dataset, crimes: tuple[str, ...]) -> tuple[
        np.ndarray, tuple[tuple[int, ...], ...]]:
    """UN-mapping relevance (crime x indicator) and the risk factors of each indicator."""
    rfs_all: list[tuple[int, ...]] = []
    rel = []
    rf_coord = panel["risk_factors"].values if "risk_factors" in panel.coords else None
    for j, name in enumerate(panel["indicator"].values):
        raw = "" if rf_coord is None else rf_coord[j]
        rfs = parse_risk_factors(None if raw is None else str(raw),
                                 where=f"panel indicator {name!r} risk_factors")
        rfs_all.append(rfs)
        rel.append(indicator_relevance(rfs, crimes))
    rel_arr = np.array(rel, dtype=bool).reshape(len(rfs_all), len(crimes)).T
    return rel_arr, tuple(rfs_all)


def _standardise(x_raw: np.ndarray, train_years: np.ndarray,
                 indicators: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    obs = x_raw[:, train_years]
    n_obs = np.sum(~np.isnan(obs), axis=(0, 1))
    with np.errstate(invalid="ignore"):
        mean = np.where(n_obs > 0, np.nanmean(np.where(n_obs > 0, obs, 0.0), axis=(0, 1)), 0.0)
        sd = np.where(n_obs > 1, np.nanstd(np.where(n_obs > 1, obs, 0.0), axis=(0, 1)), 1.0)
    sd = np.where(sd > 0, sd, 1.0)
    return mean.astype(float), sd.astype(float)


def _x_var(panel: xr.Dataset, shape: tuple[int, ...]) -> np.ndarray:
    """The panel's measurement variances (country, year, indicator); 0 when it has none."""
    if "X_var" not in panel:
        return np.zeros(shape)
    x_var = panel["X_var"].transpose("country", "year", "indicator").values.astype(float)
    if (x_var < 0).any() or np.isinf(x_var).any():
        raise DesignError("panel: variable 'X_var' has negative or infinite values")
    return x_var


def _true_variance(x_raw: np.ndarray, x_var: np.ndarray, train_years: np.ndarray,
                   sd: np.ndarray) -> np.ndarray:
    """True-score variance per indicator: observed variance minus mean measurement variance.

    ``inf`` for an indicator measured without error. Floored at 10 % of the observed
    variance (reliability at least ~0.1 for a value of average precision), so a noisy
    indicator is shrunk hard but never to a constant.
    """
    obs = ~np.isnan(x_raw[:, train_years])
    xv = np.where(obs, np.nan_to_num(x_var[:, train_years]), 0.0)
    n = obs.sum(axis=(0, 1))
    mean_var = xv.sum(axis=(0, 1)) / np.maximum(n, 1)
    total = sd**2
    return np.where(mean_var > 0, np.maximum(total - mean_var, 0.1 * total), np.inf)


def build_design(
    panel: xr.Dataset,
    *,
    horizon: int,
    through: int | None = None,
    missing: str = "carry_forward",
    train_at_risk: str = "target_year",
    rules: int = 0,
    rule_seed: int = 0,
    history: bool = False,
    smooth: int = 0,
    smooth_basis: str = "whitened",
) -> Design:
    """Build the dense design of a panel for one horizon.

    Parameters
    ----------
    panel : xarray.Dataset
        The panel (schema in :mod:`r2p_models.data`).
    horizon : {1, 2}
        Onset within this many years after the origin year.
    through : int, optional
        Use only what was known by the end of this year: observations with
        ``t + horizon <= through`` and indicator values of years ``<= through``, fused
        indicators fused from the reports of those years only
        (:func:`r2p_models.data.panel.panel_as_of`). At most the panel's last year.
    missing : {"carry_forward", "bayes"}
        Missing-indicator handling (see the module docstring).
    train_at_risk : {"target_year", "origin"}
        Which observations count as at risk: at risk in the first target year (default),
        or also at the origin (the cases forecasts are issued for; see the module
        docstring).
    rules : int
        How many interaction rules to learn from the usable cells (0: none; see
        :mod:`r2p_models.model.rules`).
    rule_seed : int
        Random state of the rule search.
    history : bool
        Add the episode-history columns (see the module docstring).
    smooth : int
        Knots of the B-spline bases of the continuous indicators (0: no smooth terms; see
        :mod:`r2p_models.model.smooth`), placed on the usable cells.
    smooth_basis : {"whitened", "scaled"}
        The form of their non-linear columns (:func:`r2p_models.model.smooth.learn_splines`).

    Returns
    -------
    Design

    Raises
    ------
    DesignError
        Bad panel, bad argument (e.g. ``through`` before the first known outcome or after
        the panel's last year), or no usable observation.
    """
    _check_panel(panel)
    if horizon not in (1, 2):
        raise DesignError(f"horizon = {horizon!r}: expected 1 or 2")
    if missing not in MISSING_MODES:
        raise DesignError(f"missing = {missing!r}: expected one of {list(MISSING_MODES)}")
    if train_at_risk not in ("target_year", "origin"):
        raise DesignError(f"train_at_risk = {train_at_risk!r}: expected 'target_year' or "
                          "'origin'")
    years = panel["year"].values.astype(int)
    if through is not None:
        if int(through) != through:
            raise DesignError(f"through = {through!r}: expected a year (integer)")
        if through < years[0] + horizon:
            raise DesignError(
                f"through = {through}: no outcome is known by then (panel starts {years[0]}, "
                f"horizon {horizon})"
            )
        if through > years[-1]:  # a fit would use everything yet record a later `through`
            source = panel.attrs.get("source_file", "")
            raise DesignError(
                f"through = {through}: after the last year of the panel"
                f"{' ' + source if source else ''} ({years[-1]}); a fit without `through` "
                f"(or through {years[-1]}) uses every outcome it has"
            )
        # fused indicators as the reports up to `through` gave them (no later report)
        panel = panel_as_of(panel, int(through))
    crimes = tuple(str(c) for c in panel["crime"].values)
    indicators = tuple(str(i) for i in panel["indicator"].values)
    panel = panel.transpose("country", "year", ...)
    x_raw = panel["X"].transpose("country", "year", "indicator").values.astype(float)
    if np.isinf(x_raw).any():
        raise DesignError("panel: variable 'X' has infinite values")
    onset = panel["onset"].transpose("country", "year", "crime").values.astype(float)
    ongoing = panel["ongoing"].transpose("country", "year", "crime").values.astype(float)
    if "present" in panel:
        present = panel["present"].values.astype(bool)
        onset = np.where(present[:, :, None], onset, np.nan)
    bad = ~np.isnan(onset) & (onset != 0) & (onset != 1)
    if bad.any():
        raise DesignError("panel: variable 'onset' must be 1, 0 or NaN")

    C, T, _ = x_raw.shape
    K = len(crimes)
    y, at_risk, in_panel = horizon_outcome(onset, ongoing, horizon)
    if train_at_risk == "origin":  # the forecast rule (at_risk_mask) on every origin year
        at_risk &= at_risk_at_origin(onset, ongoing,
                                      present[:, :, None] if "present" in panel else True)
    usable_t = in_panel.copy()
    if through is not None:
        usable_t &= years + horizon <= through
    train_years = years <= (through if through is not None else years[-1])

    beyond = np.broadcast_to(~usable_t[None, :, None], (C, T, K))
    not_risk = ~beyond & ~at_risk
    unknown = ~beyond & at_risk & np.isnan(y)
    used = ~beyond & at_risk & ~np.isnan(y)
    if not used.any():
        raise DesignError(
            f"panel: no usable observation (horizon {horizon}, through {through}); check the "
            "years, the onsets and the ongoing episodes"
        )
    w = used.astype(float)
    y = np.where(used, y, 0.0)

    mean, sd = _standardise(x_raw, train_years, indicators)
    x_var = _x_var(panel, x_raw.shape)
    missing_mask = np.isnan(x_raw)
    used_cy = used.any(axis=2)
    ever_missing = missing_mask[used_cy].any(axis=0) & ~missing_mask[used_cy].all(axis=0)
    flag_idx = np.flatnonzero(ever_missing)
    flag_mean = missing_mask[used_cy][:, flag_idx].mean(axis=0) if flag_idx.size else np.zeros(0)
    std = Standardisation(
        indicators=indicators, mean=mean, sd=sd,
        flags=tuple(indicators[j] for j in flag_idx), flag_mean=flag_mean.astype(float),
        true_var=_true_variance(x_raw, x_var, train_years, sd),
    )

    x_ff = carry_forward(x_raw, axis=1)
    from_past = missing_mask & ~np.isnan(x_ff)
    # regression calibration: a carried-forward value keeps its own measurement variance
    x_var_ff = carry_forward(np.where(missing_mask, np.nan, x_var), axis=1)
    x_std = std.reliability(x_var_ff) * (x_ff - mean) / sd
    at_mean = np.isnan(x_std)
    x_std = np.where(at_mean, 0.0, x_std)
    flags = missing_mask[:, :, flag_idx].astype(float) - flag_mean

    impute_mean = np.zeros((0, 0))
    impute_sd = np.zeros(0)
    if missing == "bayes":
        impute_mean, impute_sd = _imputation_params(x_raw, mean, sd, train_years)
        x_std = np.where(missing_mask, impute_mean[:, None, :], x_std)

    if rules:
        std = replace(std, rules=learn_rules(x_std, y, w, int(rules), seed=rule_seed))
    rule_x = std.rule_columns(x_std)
    if smooth:
        std = replace(std, smooth=learn_splines(x_std, used_cy, int(smooth), smooth_basis))
    smooth_x = std.smooth_columns(x_std)
    hist = np.zeros((C, T, 0))
    if history:
        raw_hist = episode_history(onset, ongoing)
        h_mean = raw_hist[used_cy].mean(axis=0)
        std = replace(std, history_crimes=crimes, history_mean=h_mean)
        hist = raw_hist - h_mean

    rel, rfs = relevance_matrix(panel, crimes)
    regions_arr = np.array([str(r) for r in panel["region"].values])
    regions = tuple(dict.fromkeys(regions_arr))
    region_idx = np.array([regions.index(r) for r in regions_arr], dtype=int)

    counts = DesignCounts(
        cells=C * T * K,
        beyond_data=int(beyond.sum()),
        not_at_risk=int(not_risk.sum()),
        unknown_outcome=int(unknown.sum()),
        used=int(used.sum()),
        events={c: int((y[:, :, k] * w[:, :, k]).sum()) for k, c in enumerate(crimes)},
        used_by_crime={c: int(w[:, :, k].sum()) for k, c in enumerate(crimes)},
        missing_values=int(missing_mask[used_cy].sum()),
        imputed_from_past=int(from_past[used_cy].sum()),
        imputed_at_mean=int(at_mean[used_cy].sum()),
    )
    return Design(
        countries=tuple(str(c) for c in panel["country"].values),
        years=years,
        crimes=crimes,
        indicators=indicators,
        regions=regions,
        region_idx=region_idx,
        x=x_std,
        flags=flags,
        missing=missing_mask,
        y=y,
        w=w,
        relevance=rel,
        risk_factors=rfs,
        standardisation=std,
        horizon=horizon,
        through=through,
        missing_mode=missing,
        counts=counts,
        impute_mean=impute_mean,
        impute_sd=impute_sd,
        rule_x=rule_x,
        history=hist,
        smooth_x=smooth_x,
    )


def _imputation_params(x_raw: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                       train_years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-country mean and pooled within-country sd of the standardised observed values."""
    z = (x_raw[:, train_years] - mean) / sd
    n = np.sum(~np.isnan(z), axis=1)  # C x J
    total = np.nansum(z, axis=1)
    # shrink country means towards 0 with a prior worth one observation (stable for n small)
    cmean = total / (n + 1.0)
    resid = z - np.where(n > 0, total / np.maximum(n, 1), 0.0)[:, None, :]
    ss = np.nansum(resid**2, axis=(0, 1))
    dof = np.maximum(np.sum(np.maximum(n - 1, 0), axis=0), 1)
    within = np.sqrt(ss / dof)
    within = np.where(within > 0, within, 1.0)
    return cmean, within


@dataclass
class OriginDesign:
    """Predictors of every country at one origin year (for forecasts and explanations)."""

    countries: tuple[str, ...]
    regions: tuple[str, ...]
    origin_year: int
    x: np.ndarray  # (country, indicator), standardised, carry-forward imputed
    flags: np.ndarray  # (country, flag), centred
    missing: np.ndarray  # (country, indicator) bool
    at_risk: np.ndarray  # (country, crime) bool
    crimes: tuple[str, ...]
    rules: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (country, rule)
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (country, crime')
    smooth: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (country, column)


def origin_design(panel: xr.Dataset, origin_year: int, standardisation: Standardisation,
                  crimes: tuple[str, ...]) -> OriginDesign:
    """Standardised predictors at ``origin_year`` using only panel years up to it
    (fused indicators from the reports up to it: :func:`r2p_models.data.panel.panel_as_of`).

    Raises
    ------
    DesignError
        The origin year is not in the panel, or the panel lacks an indicator the model
        was fitted with.
    """
    _check_panel(panel)
    years = panel["year"].values.astype(int)
    if int(origin_year) != origin_year or origin_year not in years:
        raise DesignError(
            f"origin_year = {origin_year!r}: not a year of the panel ({years[0]}-{years[-1]})"
        )
    have = [str(i) for i in panel["indicator"].values]
    lacking = [i for i in standardisation.indicators if i not in have]
    if lacking:
        raise DesignError(f"panel: indicator(s) {lacking} the model was fitted with are missing")
    lacking_c = [c for c in crimes if c not in [str(v) for v in panel["crime"].values]]
    if lacking_c:
        raise DesignError(f"panel: crime(s) {lacking_c} the model was fitted with are missing")
    panel = panel_as_of(panel, int(origin_year))  # fused from the reports known by then
    past = panel.sel(year=slice(None, int(origin_year)),
                     indicator=list(standardisation.indicators))
    x_raw = past["X"].transpose("country", "year", "indicator").values.astype(float)
    x_ff = carry_forward(x_raw, axis=1)[:, -1]
    missing = np.isnan(x_raw[:, -1])
    x_var = _x_var(past, x_raw.shape)
    x_var_ff = carry_forward(np.where(np.isnan(x_raw), np.nan, x_var), axis=1)[:, -1]
    x_std = (standardisation.reliability(x_var_ff)
             * (x_ff - standardisation.mean) / standardisation.sd)
    x_std = np.where(np.isnan(x_std), 0.0, x_std)
    fidx = [standardisation.indicators.index(f) for f in standardisation.flags]
    flags = missing[:, fidx].astype(float) - standardisation.flag_mean
    risk = at_risk_mask(panel.sel(crime=list(crimes)), int(origin_year)).values.astype(bool)
    return OriginDesign(
        countries=tuple(str(c) for c in panel["country"].values),
        regions=tuple(str(r) for r in panel["region"].values),
        origin_year=int(origin_year),
        x=x_std,
        flags=flags,
        missing=missing,
        at_risk=risk,
        crimes=crimes,
        rules=standardisation.rule_columns(x_std),
        history=_origin_history(panel, int(origin_year), standardisation),
        smooth=standardisation.smooth_columns(x_std),
    )


def _origin_history(panel: xr.Dataset, origin_year: int,
                    standardisation: Standardisation) -> np.ndarray:
    """Centred episode-history columns of every country at an origin (years up to it)."""
    crimes = list(standardisation.history_crimes)
    if not crimes:
        return np.zeros((panel.sizes["country"], 0))
    past = panel.sel(year=slice(None, origin_year), crime=crimes)
    onset = past["onset"].transpose("country", "year", "crime").values.astype(float)
    ongoing = past["ongoing"].transpose("country", "year", "crime").values.astype(float)
    return episode_history(onset, ongoing)[:, -1] - standardisation.history_mean
