"""A tiny panel drawn from the model's own generating process, for tests and examples.

The embedded default world (:mod:`r2p_models.data.simulate`) is the realistic test bed;
this generator is deliberately small and exactly matches the model's structure, so
tests can check recovery and calibration in seconds.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import expit

from r2p_models.crimes import CRIMES, indicator_relevance

__all__ = ["THRESHOLD", "TOY_INDICATORS", "toy_panel"]

#: Threshold of both indicators in the ``interaction`` term of :func:`toy_panel`, and of
#: ``weakness`` in its ``step`` term.
THRESHOLD = 0.5

#: name -> risk factors (one crime-specific indicator: 9 is genocide / ethnic cleansing)
TOY_INDICATORS: dict[str, tuple[int, ...]] = {
    "conflict": (1,),
    "weakness": (3,),
    "discrimination": (9,),
    "repression": (12,),
}


def toy_panel(
    seed: int = 0,
    *,
    n_countries: int = 24,
    n_years: int = 12,
    n_regions: int = 3,
    crimes: tuple[str, ...] = CRIMES,
    base_logit: float = -3.0,
    missing_rate: float = 0.1,
    sigma_country: float = 0.5,
    interaction: float = 0.0,
    cross_crime: float = 0.0,
    step: float = 0.0,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Simulate a small panel and its truth.

    ``p[c, t, k]`` is the probability of an onset in year ``t`` for a country at risk,
    from the (standardised-scale) indicators of ``t - 1``; episodes last a geometric
    number of years (mean 2). Missing values are missing completely at random. With
    ``interaction`` the log-odds of every crime also rise by that much where both
    ``conflict`` and ``discrimination`` exceed :data:`THRESHOLD` (a threshold interaction
    no linear logit can represent). With ``cross_crime`` (and at least two crimes) the
    log-odds of the first crime rise by that much in a year after the second crime had an
    episode under way or beginning (a cross-crime precursor). With ``step`` the log-odds of
    every crime rise by that much where ``weakness`` exceeds :data:`THRESHOLD` (a
    threshold in one indicator, a non-linear effect that smooth terms can follow).

    Returns
    -------
    panel : xarray.Dataset
        Schema of :mod:`r2p_models.data`.
    truth : xarray.Dataset
        ``alpha(crime)``, ``beta(crime, indicator)``, ``a_region(region, crime)``,
        ``a_country(country, crime)``, ``p(country, year, crime)``, ``x`` (complete).
    """
    rng = np.random.default_rng(seed)
    inds = list(TOY_INDICATORS)
    C, T, J, K = n_countries, n_years, len(inds), len(crimes)
    regions = [f"R{i}" for i in range(n_regions)]
    r_idx = np.arange(C) % n_regions
    rel = np.array([indicator_relevance(TOY_INDICATORS[j], crimes) for j in inds]).T
    mu = rng.normal(0.0, 0.5, size=J)
    beta = np.where(rel, mu + rng.normal(0, 0.1, size=(K, J)), rng.normal(0, 0.05, size=(K, J)))
    alpha = base_logit + rng.normal(0, 0.3, size=K)
    a_region = rng.normal(0, 0.3, size=(n_regions, K))
    a_region -= a_region.mean(axis=0)
    a_country = rng.normal(0, sigma_country, size=(C, K))
    x = np.zeros((C, T + 1, J))
    x[:, 0] = rng.normal(size=(C, J))
    for t in range(1, T + 1):
        x[:, t] = 0.7 * x[:, t - 1] + np.sqrt(1 - 0.49) * rng.normal(size=(C, J))
    onset = np.zeros((C, T + 1, K))
    ongoing = np.zeros((C, T + 1, K))
    p = np.full((C, T + 1, K), np.nan)
    remaining = np.zeros((C, K), dtype=int)
    for t in range(1, T + 1):
        both = (x[:, t - 1, 0] > THRESHOLD) & (x[:, t - 1, 2] > THRESHOLD)
        cross = np.zeros((C, K))
        if K > 1:
            cross[:, 0] = cross_crime * ((ongoing[:, t - 1, 1] == 1) | (onset[:, t - 1, 1] == 1))
        jump = step * (x[:, t - 1, 1] > THRESHOLD)
        p[:, t] = expit(alpha + a_region[r_idx] + a_country + x[:, t - 1] @ beta.T
                        + interaction * both[:, None] + cross + jump[:, None])
        busy = remaining > 0
        ongoing[:, t] = busy
        remaining[busy] -= 1
        new = ~busy & (rng.random((C, K)) < p[:, t])
        onset[:, t] = new
        remaining[new] = rng.geometric(0.5, size=int(new.sum())) - 1
    x, onset, ongoing, p = x[:, 1:], onset[:, 1:], ongoing[:, 1:], p[:, 1:]
    X = np.where(rng.random(x.shape) < missing_rate, np.nan, x)
    countries = [f"C{i:03d}" for i in range(C)]
    years = np.arange(2000, 2000 + T)
    panel = xr.Dataset(
        {
            "X": (("country", "year", "indicator"), X),
            "X_var": (("country", "year", "indicator"), np.where(np.isnan(X), np.nan, 0.0)),
            "onset": (("country", "year", "crime"), onset),
            "ongoing": (("country", "year", "crime"), ongoing),
            "present": (("country", "year"), np.ones((C, T), dtype=bool)),
        },
        coords={
            "country": np.array(countries, dtype=object),
            "year": years,
            "indicator": np.array(inds, dtype=object),
            "crime": np.array(crimes, dtype=object),
            "name": ("country", np.array([f"Toy {c}" for c in countries], dtype=object)),
            "region": ("country", np.array([regions[i] for i in r_idx], dtype=object)),
            "description": ("indicator", np.array(inds, dtype=object)),
            "risk_factors": ("indicator", np.array(
                [",".join(map(str, TOY_INDICATORS[j])) for j in inds], dtype=object)),
            "source": ("indicator", np.array(["toy"] * J, dtype=object)),
            "transform": ("indicator", np.array([""] * J, dtype=object)),
            "outcome_column": ("crime", np.array([f"{c}_onset" for c in crimes], dtype=object)),
            "proxy": ("crime", np.array([""] * K, dtype=object)),
        },
        attrs={"source_file": f"toy_panel(seed={seed})", "data_hash": f"toy-{seed}-{C}-{T}"},
    )
    truth = xr.Dataset(
        {
            "alpha": (("crime",), alpha),
            "beta": (("crime", "indicator"), beta),
            "a_region": (("region", "crime"), a_region),
            "a_country": (("country", "crime"), a_country),
            "p": (("country", "year", "crime"), p),
            "x": (("country", "year", "indicator"), x),
        },
        coords={"crime": list(crimes), "indicator": inds, "region": regions,
                "country": countries, "year": years},
    )
    return panel, truth
