"""The domain rules of outcomes, in one place: who is at risk, what a window's outcome is,
and the climatology known at issue time.

- **At risk at an origin** (:func:`at_risk_at_origin`, :func:`at_risk_mask`): present in
  the panel, no episode of the crime under way, and none beginning in the origin year. A
  blank (NaN) ``ongoing`` is *not* at risk: the country's state is unknown, so no
  forecast is issued or scored for it. Only countries at risk at the origin get a
  forecast (:func:`r2p_models.backtest.forecast_rows`).
- **Window outcome** (:func:`horizon_outcome`): an onset in any of the ``h`` years after
  the origin is 1; 0 when every year is known without one; NaN (unknown) otherwise. The
  model trains on every window at risk in its *first target year*, a wider set than the
  forecast population (:mod:`r2p_models.model.design`).
- **Climatology known at issue time** (:func:`climatology`): per crime and origin, the
  onset rate of the windows that had ended by the origin, among those at risk at their own
  origin with a known outcome: the reference forecaster of the backtests
  (:func:`r2p_models.backtest.base_rate_forecaster`), the skill scores' climatology on
  real panels, and the example ledger's climatology source.

The ledger resolves outcomes year by year with its own statuses (``event``, ``not at
risk``, ``no event``, ``unknown``; :mod:`r2p_models.ledger`): an onset is an event, an
episode under way is not at risk, and a row whose origin year is either resolves
``not_at_risk``. It still differs in one case: a blank ``ongoing`` at the origin (with no
onset) is *at risk* there, so another source's forecast of such a case (a peer's, an
analyst's) is scored, while this package issues none. Moving the ledger to this module's
rule changes the resolution of rows already stored, so it needs its own migration.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["at_risk_at_origin", "at_risk_mask", "climatology", "horizon_outcome"]

_Grid = np.ndarray | xr.DataArray


def at_risk_at_origin(onset: _Grid, ongoing: _Grid, present: _Grid | bool) -> _Grid:
    """At risk at the origin year, on arrays or DataArrays of any (matching) shape:
    ``ongoing == 0`` (NaN is not), no onset, and present."""
    return (ongoing == 0) & (onset != 1) & present


def at_risk_mask(panel: xr.Dataset, origin_year: int) -> xr.DataArray:
    """At-risk flag known at an origin year, ``(country, crime)``: no episode under way and
    no onset in that year (see the module docstring).

    Such a country is certainly at risk in the first target year. A country that is not at
    risk gets no onset forecast (:func:`r2p_models.backtest.forecast_rows`), and a ledger
    row of it resolves ``not_at_risk`` (:mod:`r2p_models.ledger`).
    """
    og = panel["ongoing"].sel(year=origin_year)
    on = panel["onset"].sel(year=origin_year)
    present = panel["present"].sel(year=origin_year) if "present" in panel else True
    return at_risk_at_origin(on, og, present).rename("at_risk").transpose("country", "crime")


def horizon_outcome(
    onset: np.ndarray, ongoing: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome within the horizon, at-risk flag and availability for every origin year.

    Parameters
    ----------
    onset, ongoing : ndarray, shape (n_country, n_year, n_crime)
        The panel's yearly onsets (1/0/NaN) and ongoing episodes (1/0/NaN).
    horizon : int
        Years after the origin.

    Returns
    -------
    y : ndarray
        1 if an onset is recorded in ``t+1..t+h``, 0 if none and all are known, NaN if
        unknown.
    at_risk : ndarray of bool
        Not inside an episode in ``t + 1`` (an onset in ``t + 1`` counts as at risk).
    in_panel : ndarray of bool, shape (n_year,)
        The window ``t+1..t+h`` lies inside the panel.
    """
    C, T, K = onset.shape
    y = np.full((C, T, K), np.nan)
    at_risk = np.zeros((C, T, K), dtype=bool)
    in_panel = np.arange(T) + horizon <= T - 1
    n = int(in_panel.sum())
    if n == 0:
        return y, at_risk, in_panel
    window = np.stack([onset[:, 1 + d: 1 + d + n] for d in range(horizon)], axis=-1)
    any_one = np.any(window == 1, axis=-1)
    all_known = ~np.any(np.isnan(window), axis=-1)
    y[:, :n] = np.where(any_one, 1.0, np.where(all_known, 0.0, np.nan))
    first_onset = onset[:, 1: 1 + n]
    first_ongoing = ongoing[:, 1: 1 + n]
    at_risk[:, :n] = (first_ongoing == 0) | (first_onset == 1)
    return y, at_risk, in_panel


def climatology(panel: xr.Dataset, horizon: int) -> xr.DataArray:
    """Each crime's onset rate known at each origin, ``rate(year, crime)``.

    For origin ``t``: the windows ``s+1..s+h`` with ``s + h <= t`` (ended by ``t``), of
    countries at risk at ``s`` (:func:`at_risk_at_origin`) whose outcome is known (every
    year known, or an onset seen); their share with an onset. NaN before any such window.
    Computed for all origins at once with cumulative sums.
    """
    onset = panel["onset"].transpose("country", "year", "crime").values.astype(float)
    ongoing = panel["ongoing"].transpose("country", "year", "crime").values.astype(float)
    present = (panel["present"].transpose("country", "year").values.astype(bool)[:, :, None]
               if "present" in panel else True)
    at_risk = at_risk_at_origin(onset, ongoing, present)
    years = panel.year.values
    T = years.size
    hits = np.zeros((T, onset.shape[2]))
    total = np.zeros((T, onset.shape[2]))
    for i in range(T - horizon):  # window s+1..s+h of the origin s = years[i]
        window = onset[:, i + 1:i + 1 + horizon]
        event = (window == 1).any(axis=1)
        known = ~np.isnan(window).any(axis=1) | event
        use = at_risk[:, i] & known
        hits[i + horizon] += (event & use).sum(axis=0)  # usable from origin s + h on
        total[i + horizon] += use.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.cumsum(hits, axis=0) / np.cumsum(total, axis=0)
    return xr.DataArray(rate, dims=("year", "crime"),
                        coords={"year": years, "crime": panel.crime.values})
