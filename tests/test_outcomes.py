"""The domain rules of outcomes (r2p_models.outcomes), and every caller on the same edge cases.

Countries of a tiny one-crime panel (origin 2002, horizon 2, window 2003-2004):

- ``nan``: ``ongoing`` blank at the origin: not at risk (state unknown);
- ``onset``: an onset in the origin year: not at risk;
- ``ending``: an episode under way at the origin that ends inside the window: not at risk at
  the origin (a forecast is never issued), though the model trains on its window;
- ``enters``: not in the panel until 2003 (enters mid-window): not at risk at the origin;
- ``plain``: at risk, with an onset in 2004.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from r2p_models.backtest import base_rate_draws, base_rate_forecaster
from r2p_models.config import ModelConfig
from r2p_models.data.simulate import simulate_world
from r2p_models.outcomes import at_risk_mask, climatology, horizon_outcome

YEARS = [2000, 2001, 2002, 2003, 2004]
NAN = np.nan
#: country -> (onset by year, ongoing by year, present by year)
CASES = {
    "nan":    ([0, 0, 0, 0, 0], [0, 0, NAN, 0, 0], [1, 1, 1, 1, 1]),
    "onset":  ([0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [1, 1, 1, 1, 1]),
    "ending": ([0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [1, 1, 1, 1, 1]),
    "enters": ([NAN, NAN, NAN, 0, 0], [NAN, NAN, NAN, 0, 0], [0, 0, 0, 1, 1]),
    "plain":  ([0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]),
}
AT_RISK_2002 = {"nan": False, "onset": False, "ending": False, "enters": False, "plain": True}


def _panel() -> xr.Dataset:
    names = list(CASES)
    onset = np.array([CASES[c][0] for c in names], dtype=float)[:, :, None]
    ongoing = np.array([CASES[c][1] for c in names], dtype=float)[:, :, None]
    present = np.array([CASES[c][2] for c in names], dtype=bool)
    return xr.Dataset(
        {"onset": (("country", "year", "crime"), onset),
         "ongoing": (("country", "year", "crime"), ongoing),
         "present": (("country", "year"), present)},
        coords={"country": names, "year": YEARS, "crime": ["genocide"]},
    )


def _flags(da: xr.DataArray) -> dict[str, bool]:
    return {str(c): bool(v) for c, v in zip(da["country"].values, da.values.ravel(),
                                            strict=True)}


def test_every_caller_applies_the_same_at_risk_rule():
    panel = _panel()
    assert _flags(at_risk_mask(panel, 2002)) == AT_RISK_2002
    base = base_rate_forecaster(panel, ModelConfig(horizon=1), 2002).draws.isel(draw=0)
    assert _flags(base.notnull()) == AT_RISK_2002
    rates = climatology(panel, 1)
    example = base_rate_draws(panel, 2002, 1, rates=rates).isel(draw=0)  # the example ledger's
    assert _flags(example.notnull()) == AT_RISK_2002


def test_window_outcome_edge_cases():
    panel = _panel()
    onset = panel["onset"].transpose("country", "year", "crime").values
    ongoing = panel["ongoing"].transpose("country", "year", "crime").values
    onset = np.where(panel["present"].values[:, :, None], onset, np.nan)
    y, at_risk, in_panel = horizon_outcome(onset, ongoing, 2)
    t = YEARS.index(2002)
    got = {c: (None if np.isnan(y[i, t, 0]) else float(y[i, t, 0]), bool(at_risk[i, t, 0]))
           for i, c in enumerate(CASES)}
    # (window 2003-2004 outcome, at risk in the first target year 2003)
    assert got == {"nan": (0.0, True), "onset": (0.0, False), "ending": (0.0, False),
                   "enters": (0.0, True), "plain": (1.0, True)}
    assert in_panel.tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("horizon", [1, 2])
def test_climatology_equals_a_plain_loop_over_origins(horizon):
    """The cumulative climatology against the definition, origin by origin."""
    panel = simulate_world(5, n_years=14, scale=0.2).panel
    rates = climatology(panel, horizon)
    onset = panel["onset"]
    risk = (panel["ongoing"] == 0) & panel["present"] & (onset != 1)
    years = panel.year.values
    for origin in years:
        for crime in panel.crime.values:
            hits = total = 0
            for s in years[years + horizon <= origin]:
                window = onset.sel(crime=crime, year=slice(s + 1, s + horizon))
                event = (window == 1).any("year")
                known = window.notnull().all("year") | event
                use = risk.sel(crime=crime, year=s) & known
                hits += int((event & use).sum())
                total += int(use.sum())
            want = hits / total if total else np.nan
            np.testing.assert_equal(float(rates.sel(year=origin, crime=crime)), want)
