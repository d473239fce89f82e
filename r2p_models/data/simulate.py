"""The embedded default world: a seeded simulation shaped like the real panels.

The world has about 170 *fictional* countries in the real regions (ids such as
``SSA07``; no real country is given a simulated risk), 40 years, the four crimes,
12 indicators mapped to UN Framework risk factors, correlated crime risks, missing
data that is more common where risk is high, and three reporting channels of known
reliability for the event-type indicators. It returns its ground truth, so every
forecast can be scored against the true probabilities as well as the outcomes.

Generating process (what recovery checks compare against)
---------------------------------------------------------
Each country ``c`` has a latent fragility ``u_c ~ N(0, 1)``. Indicator ``j`` follows

    x[c, t, j] = lam_j * u_c + w[c, t, j],   w an AR(1) with rho = 0.8 and
                                              stationary variance 1 - lam_j**2,

so every continuous indicator has mean 0 and variance 1 in the population (the scale
of ``truth.beta``); ``coup_attempt`` is 1 when its latent value exceeds 1.65, and
``rights_violations`` adds 1.5 in years after an episode of any crime was under way
(the Framework's "record of violations"). In each year a country not already in an
episode of crime ``k`` has an onset with probability

    p[c, t, k] = logistic(alpha[k] + a_region[r(c), k] + a_country[c, k]
                          + sum_j beta[k, j] * x[c, t - 1, j])

(predictors of the year before: an origin-year forecast with horizon 1 has this
exact truth). ``a_country[c, :] ~ MvNormal(0, diag(sigma) Omega diag(sigma))``.
Episodes last a geometric number of years (mean 3); while one is under way
``ongoing = 1`` and the country is not at risk of a new onset of that crime.
``beta[k, j]`` is zero for an indicator whose risk factors are specific to other
crimes (the UN Framework mapping).

Observation: ``armed_conflict``, ``coup_attempt`` and ``log_population`` are
complete; survey-type indicators go missing with a probability that rises with
fragility and with ongoing episodes; ``hate_speech``, ``civilian_attacks`` and
``ihl_violations`` are only seen through three channels (``un_field``, ``ngo``,
``media``) with known bias and error variance, whose reporting also depends on risk
(the UN channel loses access where risk is high). These go to ``reports.csv`` and are
fused by :func:`r2p_models.data.fusion.fuse_reports` when the panel is loaded.

The same seed gives the same bytes (see :func:`write_world`).
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from r2p_models.atomic import atomic_write_bytes
from r2p_models.crimes import CRIMES, indicator_relevance
from r2p_models.errors import InputError

__all__ = [
    "DEFAULT_SEED",
    "INDICATORS",
    "REGIONS",
    "SOURCES",
    "World",
    "simulate_world",
    "write_world",
]

DEFAULT_SEED = 2005

#: Region name -> (id prefix, number of countries). 170 countries, shares like the UN membership.
REGIONS: dict[str, tuple[str, int]] = {
    "Sub-Saharan Africa": ("SSA", 46),
    "Middle East and North Africa": ("MNA", 19),
    "Europe": ("EUR", 43),
    "South and Central Asia": ("SCA", 13),
    "East Asia and Pacific": ("EAP", 24),
    "Latin America and Caribbean": ("LAC", 23),
    "North America": ("NAM", 2),
}

#: name -> (description, UN risk factors, loading on fragility, observation channel)
INDICATORS: dict[str, tuple[str, tuple[int, ...], float, str]] = {
    "armed_conflict": ("Battle-related deaths, standardised log scale", (1,), 0.55, "complete"),
    "rights_violations": ("Record of serious human-rights violations", (2,), 0.5, "survey"),
    "state_weakness": (
        "Weakness of state structures (infant-mortality based)",
        (3,),
        0.6,
        "survey",
    ),
    "exclusionary_ideology": ("Exclusionary ideology of the ruling elite", (4,), 0.45, "survey"),
    "civil_society": (
        "Strength of civil society and free media (mitigating)",
        (6,),
        -0.5,
        "survey",
    ),
    "coup_attempt": ("Coup attempt in the year (trigger)", (8,), 0.3, "complete"),
    "log_population": ("Population, standardised log scale", (), 0.1, "complete"),
    "group_discrimination": (
        "Political discrimination against identity groups",
        (9,),
        0.5,
        "survey",
    ),
    "hate_speech": ("Dehumanising rhetoric against a protected group", (10,), 0.45, "sources"),
    "civilian_attacks": ("Attacks against civilians reported", (11,), 0.5, "sources"),
    "repression_policy": ("Policy of repression of civilian opposition", (12,), 0.45, "survey"),
    "ihl_violations": (
        "Violations of international humanitarian law reported",
        (13,),
        0.45,
        "sources",
    ),
}

#: Reporting channels: name -> (bias, error sd, base reporting probability, access loss with risk)
SOURCES: dict[str, tuple[float, float, float, float]] = {
    "un_field": (0.0, 0.3, 0.75, -1.0),
    "ngo": (0.1, 0.45, 0.7, 0.0),
    "media": (-0.1, 0.7, 0.85, 0.6),
}

_FIRST_YEAR = 1980
_BURN_IN = 15
_RHO = 0.8
_MEAN_DURATION = 3.0
_FLOAT_FORMAT = "%.6g"

# log-odds of a yearly onset for an average country, per crime (base rates 0.2-2 %)
_ALPHA = {
    "genocide": -8.4,
    "war_crimes": -5.7,
    "ethnic_cleansing": -7.5,
    "crimes_against_humanity": -6.4,
}
# shared indicator effects (per sd of the indicator), before the UN-mapping zeroing
_MU = {
    "armed_conflict": 0.55,
    "rights_violations": 0.35,
    "state_weakness": 0.3,
    "exclusionary_ideology": 0.3,
    "civil_society": -0.3,
    "coup_attempt": 0.5,
    "log_population": 0.2,
    "group_discrimination": 0.6,
    "hate_speech": 0.5,
    "civilian_attacks": 0.55,
    "repression_policy": 0.45,
    "ihl_violations": 0.6,
}
_SIGMA_COUNTRY = {
    "genocide": 0.7,
    "war_crimes": 0.5,
    "ethnic_cleansing": 0.6,
    "crimes_against_humanity": 0.6,
}
_SIGMA_REGION = 0.3
_CORR = 0.6  # correlation of country effects between crimes (genocide often begins as the others)


@dataclass
class World:
    """A simulated world: the files a user would have, and the truth behind them.

    Attributes
    ----------
    table : pandas.DataFrame
        ``panel.csv`` as written (values rounded to 6 significant digits).
    reports : pandas.DataFrame
        ``reports.csv``: one row per (country, year, indicator, source) report.
    truth : xarray.Dataset
        True parameters and probabilities (see the module docstring). Its countries are in
        the order of ``panel.csv``, not of the loaded panel (which sorts them by region):
        compare the two by label (``truth.p.sel(country=panel.country)``), never by position.
    config_text : str
        The run config (``run.toml``) that reads the two tables.
    seed : int
    """

    table: pd.DataFrame
    reports: pd.DataFrame
    truth: xr.Dataset
    config_text: str
    seed: int

    @property
    def panel(self) -> xr.Dataset:
        """The panel built from the world's files through the ordinary loader."""
        with tempfile.TemporaryDirectory() as tmp:
            write_world(self, tmp)
            from r2p_models.data.panel import load_panel

            return load_panel(Path(tmp) / "run.toml").load()


def _roundtrip(df: pd.DataFrame) -> pd.DataFrame:
    text = df.to_csv(index=False, float_format=_FLOAT_FORMAT, lineterminator="\n")
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


def simulate_world(seed: int = DEFAULT_SEED, n_years: int = 40, scale: float = 1.0) -> World:
    """Simulate the default world.

    Parameters
    ----------
    seed : int
        Random seed; the same seed gives the same tables, byte for byte once written.
    n_years : int
        Number of years from 1980.
    scale : float
        Share of each region's countries to keep (at least one per region); ``scale=0.2``
        gives a small world for fast tests.

    Returns
    -------
    World
    """
    if n_years < 3:
        raise InputError(f"n_years = {n_years}: need at least 3 years")
    if not 0 < scale <= 1:
        raise InputError(f"scale = {scale}: expected 0 < scale <= 1")
    rng = np.random.default_rng(seed)
    crimes = list(CRIMES)
    K = len(crimes)
    inds = list(INDICATORS)
    J = len(inds)

    countries, regions = [], []
    for region, (prefix, n) in REGIONS.items():
        n_keep = max(1, round(n * scale))
        countries += [f"{prefix}{i + 1:02d}" for i in range(n_keep)]
        regions += [region] * n_keep
    C = len(countries)
    region_names = list(REGIONS)
    r_idx = np.array([region_names.index(r) for r in regions])

    # --- parameters ---------------------------------------------------------
    alpha = np.array([_ALPHA[k] for k in crimes])
    relevance = np.array([indicator_relevance(INDICATORS[j][1], crimes) for j in inds]).T  # K x J
    mu = np.array([_MU[j] for j in inds])
    dev = rng.normal(0.0, 0.12, size=(K, J))
    beta = np.where(relevance, mu[None, :] + dev, 0.0)
    sigma = np.array([_SIGMA_COUNTRY[k] for k in crimes])
    omega = np.full((K, K), _CORR) + (1 - _CORR) * np.eye(K)
    cov = np.diag(sigma) @ omega @ np.diag(sigma)
    a_country = rng.multivariate_normal(np.zeros(K), cov, size=C)
    a_region = rng.normal(0.0, _SIGMA_REGION, size=(len(region_names), K))
    a_region -= a_region.mean(axis=0, keepdims=True)  # regions centred per crime

    # --- indicators -------------------------------------------------------
    u = rng.normal(size=C)
    # countries with high latent fragility also have higher intrinsic atrocity risk
    a_country += 0.3 * u[:, None]
    lam = np.array([INDICATORS[j][2] for j in inds])
    T = n_years + _BURN_IN + 1  # +1: the year before the first panel year feeds its onsets
    w = np.zeros((C, T, J))
    sd_w = np.sqrt(1 - lam**2)
    w[:, 0] = rng.normal(size=(C, J)) * sd_w
    for t in range(1, T):
        w[:, t] = _RHO * w[:, t - 1] + np.sqrt(1 - _RHO**2) * sd_w * rng.normal(size=(C, J))
    latent = lam[None, None, :] * u[:, None, None] + w
    j_coup = inds.index("coup_attempt")
    j_rights = inds.index("rights_violations")

    # --- onsets, episodes and the feedback of episodes on rights_violations -------
    x = latent.copy()
    x[:, :, j_coup] = (latent[:, :, j_coup] > 1.65).astype(float)
    onset = np.zeros((C, T, K))
    ongoing = np.zeros((C, T, K))
    p = np.full((C, T, K), np.nan)
    remaining = np.zeros((C, K), dtype=int)  # years left in the current episode
    stop_p = 1.0 / _MEAN_DURATION
    for t in range(1, T):
        any_prev = (ongoing[:, t - 1] + onset[:, t - 1]).max(axis=1) > 0
        x[:, t - 1, j_rights] = latent[:, t - 1, j_rights] + 1.5 * any_prev * (t >= 2)
        eta = alpha + a_region[r_idx] + a_country + x[:, t - 1] @ beta.T
        p[:, t] = expit(eta)
        in_episode = remaining > 0
        ongoing[:, t] = in_episode
        remaining[in_episode] -= 1
        new = ~in_episode & (rng.random((C, K)) < p[:, t])
        onset[:, t] = new
        remaining[new] = rng.geometric(stop_p, size=int(new.sum())) - 1
    # the rights_violations of the last year (no onset uses it)
    any_prev = (ongoing[:, T - 2] + onset[:, T - 2]).max(axis=1) > 0
    x[:, T - 1, j_rights] = latent[:, T - 1, j_rights] + 1.5 * any_prev

    keep = slice(_BURN_IN + 1, T)
    years = np.arange(_FIRST_YEAR, _FIRST_YEAR + n_years)
    x, onset, ongoing, p = x[:, keep], onset[:, keep], ongoing[:, keep], p[:, keep]

    # --- observation: missingness that rises with risk, several channels -----------
    risk = u[:, None] + 1.0 * ongoing.max(axis=2)  # C x T
    X_obs = x.copy()
    for j, name in enumerate(inds):
        kind = INDICATORS[name][3]
        if kind == "survey":
            p_miss = expit(-2.6 + 0.9 * risk)
            X_obs[:, :, j] = np.where(rng.random((C, n_years)) < p_miss, np.nan, x[:, :, j])
        elif kind == "sources":
            X_obs[:, :, j] = np.nan
    report_rows = []
    for j, name in enumerate(inds):
        if INDICATORS[name][3] != "sources":
            continue
        for src, (bias, sd, base, access) in SOURCES.items():
            p_rep = expit(np.log(base / (1 - base)) + access * risk)
            seen = rng.random((C, n_years)) < p_rep
            value = x[:, :, j] + bias + sd * rng.normal(size=(C, n_years))
            ci, ti = np.nonzero(seen)
            report_rows.append(
                pd.DataFrame(
                    {
                        "country": np.array(countries)[ci],
                        "year": years[ti],
                        "indicator": name,
                        "source": src,
                        "value": value[ci, ti],
                    }
                )
            )
    reports = pd.concat(report_rows, ignore_index=True)
    reports = reports.sort_values(["country", "year", "indicator", "source"], kind="stable")

    # --- the tidy table ---------------------------------------------------------
    cc, tt = np.meshgrid(np.arange(C), np.arange(n_years), indexing="ij")
    cc, tt = cc.ravel(), tt.ravel()
    cols: dict[str, object] = {
        "country": np.array(countries)[cc],
        "country_name": [
            f"Simulated {regions[c].split(' and ')[0]} {countries[c][3:]}" for c in cc
        ],
        "region": np.array(regions)[cc],
        "year": years[tt],
    }
    for j, name in enumerate(inds):
        if INDICATORS[name][3] != "sources":
            cols[name] = X_obs[cc, tt, j]
    for k, crime in enumerate(crimes):
        cols[f"{crime}_onset"] = onset[cc, tt, k].astype(int)
        cols[f"{crime}_ongoing"] = ongoing[cc, tt, k].astype(int)
    table = pd.DataFrame(cols)

    truth = xr.Dataset(
        {
            "alpha": (("crime",), alpha),
            "beta": (("crime", "indicator"), beta),
            "a_region": (("region", "crime"), a_region),
            "a_country": (("country", "crime"), a_country),
            "sigma_country": (("crime",), sigma),
            "corr_country": (("crime", "crime2"), omega),
            "fragility": (("country",), u),
            "p": (("country", "year", "crime"), p),
            "x": (("country", "year", "indicator"), x),
            "source_bias": (("source",), [v[0] for v in SOURCES.values()]),
            "source_error_variance": (("source",), [v[1] ** 2 for v in SOURCES.values()]),
        },
        coords={
            "crime": crimes,
            "crime2": crimes,
            "indicator": inds,
            "region": region_names,
            "country": countries,
            "year": years,
            "source": list(SOURCES),
        },
        attrs={
            "seed": seed,
            "description": "ground truth of the simulated default world; p is the probability "
            "of an onset in `year` for a country at risk, from predictors of "
            "`year - 1` (see r2p_models.data.simulate)",
        },
    )
    return World(
        table=_roundtrip(table),
        reports=_roundtrip(reports),
        truth=truth,
        config_text=_config_text(seed),
        seed=seed,
    )


def _config_text(seed: int) -> str:
    preds = ", ".join(f'"{j}"' for j in INDICATORS)
    lines = [
        f"# The embedded default world (simulated, seed {seed}): r2p simulate --seed {seed}",
        "[data]",
        'table = "panel.csv"',
        'country = "country"',
        'name = "country_name"',
        'region = "region"',
        'year = "year"',
        f"predictors = [{preds}]",
        'reports = "reports.csv"',
        "",
        "[outcomes]",
        *[f'{c} = "{c}_onset"' for c in CRIMES],
        "",
        "[ongoing]",
        *[f'{c} = "{c}_ongoing"' for c in CRIMES],
        "",
        "[model]",
        "# The package's default model, ModelConfig(): a pooled logit per crime whose effect",
        "# scale is chosen by rolling-origin CV (chosen ex ante on the real panels' early",
        "# origins: docs/results/2026-12-02-ex-ante-selection.md). 300 tuning steps and 800",
        "# draws a chain: every quantity passes r_hat <= 1.01 and ESS >= 400 with room (bulk",
        "# ESS above 5,000); a fit short only of draws is extended with 4 more chains",
        "# (extend = 1) before it is run again (benchmarks/README.md)",
        "horizon = 2",
        "tune = 300",
        "draws = 800",
        "",
    ]
    for name, (desc, rfs, _, kind) in INDICATORS.items():
        source = "fused: un_field, ngo, media" if kind == "sources" else "simulated"
        lines += [
            f"[indicators.{name}]",
            f'description = "{desc}"',
            f"risk_factors = [{', '.join(map(str, rfs))}]",
            f'source = "{source}"',
            "",
        ]
    return "\n".join(lines)


def write_world(world: World, folder: str | Path, *, truth: bool = False) -> Path:
    """Write ``panel.csv``, ``reports.csv`` and ``run.toml`` (and ``truth.nc``) to a folder.

    Every file is written atomically. Returns the path of ``run.toml``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in (("panel.csv", world.table), ("reports.csv", world.reports)):
        text = df.to_csv(index=False, float_format=_FLOAT_FORMAT, lineterminator="\n")
        atomic_write_bytes(folder / name, text.encode())
    atomic_write_bytes(folder / "run.toml", world.config_text.encode())
    if truth:
        data = world.truth.to_netcdf(engine="h5netcdf")
        atomic_write_bytes(folder / "truth.nc", bytes(data))
    return folder / "run.toml"
