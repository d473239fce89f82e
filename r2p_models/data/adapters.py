"""Real-data adapters: the publishers' files -> a tidy country-year table + a run config.

An adapter does not build a panel itself. It turns public files into the ordinary inputs
(``panel.csv`` and ``run.toml``), and :func:`r2p_models.data.panel.load_panel` builds and
validates the panel from them, so real data and user data take one loading path.

Two adapters:

- :func:`ewp_table`: the Early Warning Project (EWP) prepared panel as it is, with one
  outcome, EWP mass-killing onset, as ``crimes_against_humanity`` (a proxy). Every
  country-year is at risk (no ``[ongoing]``), the task of the EWP's own model.
- :func:`four_crime_table`: the EWP panel's keys and predictors with four proxy outcomes
  built from the EWP episode list, PITF (or TMK) and UCDP one-sided violence, each with
  onset and ongoing columns.

:func:`write_adapted` writes either one to a user folder. The input files are expected in
the layout of ``../shared/datasets`` (see :data:`DEFAULT_FILES`); each can be pointed
elsewhere with ``paths``. None of the files may be redistributed, so nothing here ships
or copies them: users obtain them from the publishers.

Predictors and leakage (EWP panel)
----------------------------------
The model uses the predictors of origin year ``t`` to forecast onsets in ``t+1..t+h``,
so a predictor is usable when it is known at the end of year ``t``. Of the EWP file's 45
columns, ``ccode`` and ``ewp_name`` are ids and the four ``mk_onset*`` columns are
outcomes: ``mk_onset`` (onset in ``t``) is the yearly outcome itself, and ``mk_onset_1``,
``mk_onset_2`` and ``mk_onset_1or2`` are *future* onsets (``t+1``, ``t+2``, either):
using any of them as a predictor would leak the answer. The other 39 are the EWP
model's candidate predictors; the ones built from mass-killing history were checked
against the episode list (tests/test_adapters.py reproduces each from episodes that
began by year ``t``):

- ``mk_onset_prev_year``: onset in ``t-1`` (the lag of ``mk_onset``; 0 in a country's
  first year). Past only: usable.
- ``mk_ever``: the country was the location or the responsible state (or an inheritor)
  of an episode that began in or before ``t``. Past only: usable.
- ``mk_ongoing_count_log2``: log2(1 + number of episodes under way in ``t``), counting
  an episode from its start year to its end year. An episode is known to be under way
  while it is; its end year is not used beyond ``t``. Usable (it includes an episode
  that began in ``t``, which is known at the end of ``t``).
- ``mean_mk_onset_interaction``: EWP's mean onset rate times years in the data, i.e. the
  cumulative count of onset years from the country's entry (1934 for old states) up to
  and including ``t``. Past and present only: usable.
- ``widetargeting`` / ``narrowtargeting``: the targeting of episodes under way in ``t``.
  Usable.
- ``year``, ``year_sq``, ``includesnonstate`` (1 from 1989, when non-state-led
  episodes enter the list), ``newcountry``, ``countryage.new.log2``: functions of the
  calendar. Usable (``year`` and ``year_sq`` are almost collinear, correlation 0.9999).

The five region dummies (``reg.na``, ``reg.eap``, ``reg.sca``, ``reg.mna``,
``reg.eur``) become the panel's ``region`` coordinate; a country with none set belongs
to the omitted category, which in the file is Sub-Saharan Africa (all 46 such countries
have COW codes 400-626 outside North Africa, Sudan included). They are not predictors by
default because the model has region effects; pass ``predictors=EWP_PREDICTORS`` to keep
them as in the EWP's pooled logit.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from r2p_models.atomic import atomic_write_text
from r2p_models.checks import (
    Rows,
    binary,
    has_columns,
    numeric,
    one_of,
    required,
    unique,
    whole,
)
from r2p_models.crimes import CRIMES
from r2p_models.data.crosswalk import gw_to_cow_series, split_codes
from r2p_models.data.panel import PanelError, read_table

__all__ = [
    "DEFAULT_FILES",
    "DEFAULT_PREDICTORS",
    "EWP_OUTCOMES",
    "EWP_PREDICTORS",
    "EWP_REGIONS",
    "OMITTED_REGION",
    "AdapterError",
    "AdapterWarning",
    "ewp_table",
    "four_crime_table",
    "write_adapted",
]

#: Where each input is expected, relative to the data folder (the ``../shared/datasets``
#: layout). Override single files with ``paths={"ucdp": "...", ...}``.
DEFAULT_FILES: dict[str, str] = {
    "ewp_panel": "ewp/prepared_predictors_1960_2008.csv",
    "ewp_episodes": "ewp/mass_killing_events_to_2008.csv",
    "pitf": "pitf/genocide_politicide_panel_to_2008.csv",
    "tmk": "tmk/targeted_mass_killing_to_2008.csv",
    "ucdp": "ucdp/one_sided_violence_v23_1_to_2008.csv",
}

_WHAT = {
    "ewp_panel": "Early Warning Project prepared country-year panel "
    "(github.com/EarlyWarningProject/2025-Statistical-Risk-Assessment, 3.Modeling/"
    "prepared2024predictors-*.csv)",
    "ewp_episodes": "Early Warning Project mass-killing episode list (sheet mk_events of "
    "'EWP mass killing events master list', saved as CSV)",
    "pitf": "PITF genocide/politicide country-year panel (columns ccode, year, genocide)",
    "tmk": "TMK v1.0 targeted mass killing country-year panel (columns ccode, year, tmk)",
    "ucdp": "UCDP One-sided Violence Dataset, actor-year CSV (ucdp.uu.se)",
}

#: The EWP model's 39 candidate predictors, in the EWP's order (model_3Sep2025.R).
EWP_PREDICTORS: tuple[str, ...] = (
    "widetargeting", "narrowtargeting", "v2csgender_binary", "v2mecenefm_binary",
    "partyban.new.0", "partyban.new.1", "partyban.new.2", "minorityrule", "judicialreform",
    "religiousfreedom", "pol_killing_approved", "freediscussion", "social_inequality",
    "even_civilrights", "repress_civilsoc", "social_power_dist", "ses_power_dist",
    "popsize.log2", "gdppcgrowth", "un_imr_sqrt", "efindex", "discrimpop", "reg.na",
    "reg.eap", "reg.sca", "reg.mna", "reg.eur", "ios.iccpr1", "battledeaths.log2",
    "coup.try.5yr", "mk_ongoing_count_log2", "mean_mk_onset_interaction",
    "mk_onset_prev_year", "newcountry", "mk_ever", "year_sq", "year",
    "countryage.new.log2", "includesnonstate",
)  # fmt: skip

#: Outcome columns of the EWP panel: never predictors (``mk_onset_1``, ``mk_onset_2`` and
#: ``mk_onset_1or2`` are future onsets).
EWP_OUTCOMES: tuple[str, ...] = ("mk_onset", "mk_onset_1", "mk_onset_2", "mk_onset_1or2")
_EWP_IDS = ("ccode", "ewp_name")

#: EWP region dummies and the region each denotes (from the countries that carry them).
EWP_REGIONS: dict[str, str] = {
    "reg.na": "Americas",  # North, Central and South America and the Caribbean
    "reg.eap": "East Asia and Pacific",
    "reg.sca": "South and Central Asia",  # incl. the five Central Asian republics
    "reg.mna": "Middle East and North Africa",
    "reg.eur": "Europe",  # incl. Russia, Turkey, the Caucasus
}
#: The region of countries with no dummy set (the EWP's omitted category).
OMITTED_REGION = "Sub-Saharan Africa"

#: Default predictors: the EWP's candidates without the region dummies (see module doc).
DEFAULT_PREDICTORS: tuple[str, ...] = tuple(p for p in EWP_PREDICTORS if p not in EWP_REGIONS)

# Description, UN Framework risk factors, source, transform of each EWP predictor. The
# risk-factor numbers are this project's reading of what each indicator informs (the EWP
# does not map its predictors to the Framework); an empty list means "no specific factor".
_META: dict[str, tuple[str, list[int], str, str]] = {
    "widetargeting": ("An ongoing mass killing targets several groups or political "
                      "opponents", [2, 11], "EWP episode list", "0/1"),
    "narrowtargeting": ("An ongoing mass killing targets one ethnic group", [2, 9],
                        "EWP episode list", "0/1"),
    "v2csgender_binary": ("Women's participation in civil society organisations",
                          [6], "V-Dem", "binary"),
    "v2mecenefm_binary": ("Government censorship effort of the media", [6, 7], "V-Dem",
                          "binary"),
    "partyban.new.0": ("Party ban: none", [6], "V-Dem", "dummy"),
    "partyban.new.1": ("Party ban: some parties banned", [6, 7], "V-Dem", "dummy"),
    "partyban.new.2": ("Party ban: all but the ruling party", [6, 7], "V-Dem", "dummy"),
    "minorityrule": ("Political power held by a social-group minority", [4, 9], "V-Dem",
                     "binary"),
    "judicialreform": ("Judicial reform that weakens the courts", [3, 7], "V-Dem",
                       "ordinal 0-2"),
    "religiousfreedom": ("Freedom of religion", [6, 9], "V-Dem", "ordinal 0-4"),
    "pol_killing_approved": ("Political killings practised or approved by the state",
                             [2, 7], "V-Dem", "binary"),
    "freediscussion": ("Freedom of discussion", [6], "V-Dem", "index 0-1"),
    "social_inequality": ("Civil liberties unequal across social groups", [9], "V-Dem",
                          "binary"),
    "even_civilrights": ("Civil liberties even across regions", [3, 9], "V-Dem", "binary"),
    "repress_civilsoc": ("Government represses civil society organisations", [6, 7],
                         "V-Dem", "binary"),
    "social_power_dist": ("Power unevenly distributed by social group", [4, 9], "V-Dem",
                          "binary"),
    "ses_power_dist": ("Power distributed by socio-economic position", [4], "V-Dem",
                       "latent scale"),
    "popsize.log2": ("Population", [], "WDI / Maddison", "log2"),
    "gdppcgrowth": ("GDP per capita growth, %", [3, 8], "WDI / Maddison", "percent"),
    "un_imr_sqrt": ("Infant mortality rate", [3], "UN World Population Prospects", "sqrt"),
    "efindex": ("Ethnic fractionalisation", [9], "HIEF", "index 0-1"),
    "discrimpop": ("Share of population politically discriminated against", [4, 9], "EPR",
                   "share"),
    "reg.na": ("Region: Americas", [], "EWP", "dummy"),
    "reg.eap": ("Region: East Asia and Pacific", [], "EWP", "dummy"),
    "reg.sca": ("Region: South and Central Asia", [], "EWP", "dummy"),
    "reg.mna": ("Region: Middle East and North Africa", [], "EWP", "dummy"),
    "reg.eur": ("Region: Europe", [], "EWP", "dummy"),
    "ios.iccpr1": ("Ratified the first optional protocol of the ICCPR", [6], "UN treaties",
                   "0/1"),
    "battledeaths.log2": ("Battle deaths", [1], "UCDP/PRIO", "log2(1 + deaths)"),
    "coup.try.5yr": ("Coup attempt in the last five years", [1, 8], "Powell & Thyne",
                     "0/1"),
    "mk_ongoing_count_log2": ("Mass-killing episodes under way", [2], "EWP episode list",
                              "log2(1 + count)"),
    "mean_mk_onset_interaction": ("Mass-killing onset years so far (since 1934 or entry)",
                                  [2], "EWP episode list", "count"),
    "mk_onset_prev_year": ("Mass-killing onset in the previous year", [2],
                           "EWP episode list", "0/1"),
    "newcountry": ("Country independent for two years or less", [3], "EWP", "0/1"),
    "mk_ever": ("Location or perpetrator of a mass killing since 1945", [2],
                "EWP episode list", "0/1"),
    "year_sq": ("Calendar year squared (trend)", [], "EWP", "year^2"),
    "year": ("Calendar year (trend)", [], "EWP", "year"),
    "countryage.new.log2": ("Years since independence", [3], "EWP", "log2(1 + years)"),
    "includesnonstate": ("Year 1989 or later (non-state-led episodes coded)", [], "EWP",
                         "0/1"),
}  # fmt: skip

# Episode locations the EWP panel has no row for, recoded exactly as the EWP's own build
# script does (build_countryears_mkevents_2025.R): Zanzibar's 1964 killings (511) go to
# Tanzania (510), which Zanzibar joined that year; the 1998-99 Kosovo episode coded in
# Serbia (340) goes to 345, the EWP's code for Yugoslavia/Serbia throughout.
_EPISODE_RECODE: dict[int, int] = {511: 510, 340: 345}

_STATE_LED = "State-Led"
_EPISODE_KINDS = {"State-Led", "Non-State-Led"}
_EPISODE_COLUMNS = [
    "mk_event_code", "startyear", "endyear", "State-Led or Non-State-Led",
    "mk_number_eth_groups", "mk_location_cow",
]  # fmt: skip
_UCDP_COLUMNS = ["year", "best_fatality_estimate", "gwno_location", "gwnoa"]
_ALLOCATIONS = ("home", "split", "full")
_GENOCIDE_SOURCES = {"pitf": "genocide", "tmk": "tmk"}


class AdapterError(PanelError):
    """A publisher's file that cannot be adapted; the message names the file and column."""


class AdapterWarning(UserWarning):
    """Records an adapter had to leave out (named in the message and in ``attrs``)."""


# --------------------------------------------------------------------------- reading


def _paths(data_dir: str | Path, paths: Mapping[str, str | Path] | None) -> dict[str, Path]:
    base = Path(data_dir)
    out = {key: base / rel for key, rel in DEFAULT_FILES.items()}
    for key, value in (paths or {}).items():
        if key not in DEFAULT_FILES:
            raise AdapterError(f"paths: unknown input {key!r}; expected some of "
                               f"{sorted(DEFAULT_FILES)}")
        out[key] = Path(value)
    return out


def _read(path: Path, key: str, columns: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise AdapterError(f"{path}: file not found (expected the {_WHAT[key]})")
    df = read_table(path)
    has_columns(df.columns, columns, Rows(str(path), AdapterError),
                hint=f"; expected the {_WHAT[key]}")
    return df


def _numbers(df: pd.DataFrame, col: str, rows: Rows, *, is_whole: bool, blank_ok: bool
             ) -> np.ndarray:
    """A column of a publisher's file as floats (the rules of :mod:`r2p_models.checks`)."""
    x = numeric(df[col], col, rows)
    if not blank_ok:
        required(x, col, rows)
    if is_whole:
        whole(x, col, rows, shown=df[col])
    return x


def _binary(df: pd.DataFrame, col: str, rows: Rows) -> np.ndarray:
    return binary(numeric(df[col], col, rows), col, rows, shown=df[col])


# --------------------------------------------------------------------------- EWP panel


def _ewp_base(path: Path, predictors: Sequence[str] | None) -> pd.DataFrame:
    """The EWP panel's keys, name, region, chosen predictors and ``mk_onset``."""
    preds = list(DEFAULT_PREDICTORS if predictors is None else predictors)
    for p in preds:
        if p in EWP_OUTCOMES:
            raise AdapterError(
                f"predictors: {p!r} is an outcome of the EWP panel"
                f"{' (a future onset: leakage)' if p != 'mk_onset' else ''}; "
                f"never use {list(EWP_OUTCOMES)} as predictors"
            )
        if p in _EWP_IDS or p == "region":
            raise AdapterError(f"predictors: {p!r} is an id column, not a predictor")
    if len(set(preds)) != len(preds):
        raise AdapterError(f"predictors: listed more than once: "
                           f"{sorted({p for p in preds if preds.count(p) > 1})}")
    df = _read(path, "ewp_panel", ["ccode", "year", "ewp_name", "mk_onset",
                                   *EWP_REGIONS, *preds])
    df = df.copy()
    rows = Rows(str(path), AdapterError)
    df["ccode"] = _numbers(df, "ccode", rows, is_whole=True, blank_ok=False).astype(int)
    df["year"] = _numbers(df, "year", rows, is_whole=True, blank_ok=False).astype(int)
    dummies = np.column_stack([_binary(df, c, rows) for c in EWP_REGIONS])
    rows.fail(np.isnan(dummies).any(axis=1), f"region dummies {list(EWP_REGIONS)} are blank")
    rows.fail(dummies.sum(axis=1) > 1,
              f"more than one region dummy {list(EWP_REGIONS)} is set")
    names = np.array(list(EWP_REGIONS.values()), dtype=object)
    region = np.where(dummies.sum(axis=1) == 1, names[dummies.argmax(axis=1)], OMITTED_REGION)
    df["region"] = region
    df["mk_onset"] = _binary(df, "mk_onset", rows)
    cols = list(dict.fromkeys(["ccode", "ewp_name", "year", "region", *preds, "mk_onset"]))
    return df[cols].reset_index(drop=True)


def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string (ASCII, escaped) is a valid TOML basic string


def _config_text(
    header: Sequence[str],
    predictors: Sequence[str],
    outcomes: Mapping[str, str],
    ongoing: Mapping[str, str],
    proxies: Mapping[str, str],
    model: Sequence[str] = (),
) -> str:
    lines = [f"# {h}" for h in header]
    lines += [
        "[data]",
        'table = "panel.csv"',
        'country = "ccode"',
        'year = "year"',
        'name = "ewp_name"',
        'region = "region"',
        f"predictors = [{', '.join(_toml_str(p) for p in predictors)}]",
        "",
        "[outcomes]",
        *[f"{c} = {_toml_str(outcomes[c])}" for c in CRIMES if c in outcomes],
        "",
    ]
    if ongoing:
        lines += ["[ongoing]", *[f"{c} = {_toml_str(ongoing[c])}" for c in CRIMES
                                 if c in ongoing], ""]
    lines += ["[proxies]", *[f"{c} = {_toml_str(proxies[c])}" for c in CRIMES
                             if c in proxies], ""]
    if model:
        lines += ["[model]", *model, ""]
    for p in predictors:
        if p not in _META:
            continue
        desc, rfs, source, transform = _META[p]
        lines += [
            f"[indicators.{_toml_str(p)}]",
            f"description = {_toml_str(desc)}",
            f"risk_factors = [{', '.join(map(str, rfs))}]",
            f"source = {_toml_str(source)}",
            f"transform = {_toml_str(transform)}",
            "",
        ]
    return "\n".join(lines)


#: ``[model]`` of the EWP panel's run config: the configuration chosen ex ante on the
#: validation origins 1981-1990 (docs/results/2026-12-02-ex-ante-selection.md).
EWP_MODEL = (
    "# chosen ex ante: the lowest log score on origins 1981-1990 (rounds 1-6 of",
    "# docs/results/2026-12-02-ex-ante-selection.md): the pooled logit, its effect scale by",
    "# rolling-origin CV, with smooth (non-linear) terms of the continuous indicators",
    'variant = "pooled"',
    'effect_scale = "rolling_cv"',
    "smooth = 4",
    "smooth_scale = 1.0",
    "# 300 tuning steps and 800 draws a chain at target_accept 0.8 pass r_hat <= 1.01 and",
    "# ESS >= 400 with room, at about half the leapfrog steps of 0.9 (benchmarks/README.md)",
    "tune = 300",
    "draws = 800",
    "target_accept = 0.8",
)

#: The four-crime proxy panel's [model] settings: ModelConfig()'s model (chosen ex ante on
#: this panel's origins 1975-1990, rounds 5 and 6b), sampled with fewer draws.
FOUR_CRIME_MODEL = (
    "# ModelConfig()'s model, chosen ex ante on origins 1975-1990 (rounds 5 and 6b of",
    "# docs/results/2026-12-02-ex-ante-selection.md): the pooled logit per crime, its effect",
    "# scale by rolling-origin CV; 500 tuning steps and 800 draws a chain pass r_hat <= 1.01",
    "# and ESS >= 400 with room",
    'variant = "pooled"',
    'effect_scale = "rolling_cv"',
    "tune = 500",
    "draws = 800",
)

_HEADER = [
    "Written by r2p_models.data.adapters from the publishers' files; do not redistribute",
    "panel.csv (no publisher grants a redistribution licence).",
]


def ewp_table(
    data_dir: str | Path,
    *,
    predictors: Sequence[str] | None = None,
    paths: Mapping[str, str | Path] | None = None,
) -> tuple[pd.DataFrame, str]:
    """The Early Warning Project panel as it is, with EWP mass-killing onset as outcome.

    Parameters
    ----------
    data_dir : str or Path
        Folder holding the files in the layout of :data:`DEFAULT_FILES`.
    predictors : sequence of str, optional
        Predictor columns; default :data:`DEFAULT_PREDICTORS` (the EWP model's candidates
        without the region dummies, which become the ``region`` column). Outcome columns
        are refused.
    paths : mapping, optional
        Override single input files, e.g. ``{"ewp_panel": "prepared.csv"}``.

    Returns
    -------
    table : pandas.DataFrame
        One row per country-year, in file order: ``ccode`` (COW code as the EWP uses it),
        ``ewp_name``, ``year``, ``region``, the predictors and ``mk_onset``.
    config : str
        The run config (``run.toml`` text, reading ``panel.csv``): one outcome,
        ``crimes_against_humanity = "mk_onset"``, labelled as a proxy; no ``[ongoing]``
        (no episode is recorded as under way, as in the EWP's model; our forecasts still
        leave out a country with an onset in the origin year, which is not at risk then).

    Raises
    ------
    AdapterError
        A file is missing, a column is absent or holds bad values, or a predictor is an
        outcome or id column.
    """
    files = _paths(data_dir, paths)
    table = _ewp_base(files["ewp_panel"], predictors)
    preds = list(DEFAULT_PREDICTORS if predictors is None else predictors)
    table["mk_onset"] = pd.array(table["mk_onset"], dtype="Int64")
    proxies = {"crimes_against_humanity": "EWP mass-killing onset (a state-led or non-state-led "
               "episode of 1,000 or more non-combatants deliberately killed began in the "
               "country-year), "
               "a proxy for crimes against humanity"}
    config = _config_text(
        [f"Early Warning Project panel as it is ({files['ewp_panel'].name}).", *_HEADER],
        preds,
        {"crimes_against_humanity": "mk_onset"},
        {},
        proxies,
        EWP_MODEL,
    )
    table.attrs["report"] = {"rows": len(table), "countries": int(table["ccode"].nunique())}
    return table, config


# --------------------------------------------------------------------------- episodes


def _episodes(path: Path, keys: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The episode list with located EWP codes, end years and flags; unplaced episodes."""
    ep = _read(path, "ewp_episodes", _EPISODE_COLUMNS)
    rows = Rows(str(path), AdapterError)
    kind = ep["State-Led or Non-State-Led"].astype(str).str.strip()
    one_of(kind, "State-Led or Non-State-Led", rows, sorted(_EPISODE_KINDS))
    start = _numbers(ep, "startyear", rows, is_whole=True, blank_ok=False).astype(int)
    end = _numbers(ep, "endyear", rows, is_whole=True, blank_ok=True)
    rows.fail(~np.isnan(end) & (end < start), "is before 'startyear'", column="endyear",
              shown=ep["endyear"])
    loc = _numbers(ep, "mk_location_cow", rows, is_whole=True, blank_ok=False).astype(int)
    eth = _numbers(ep, "mk_number_eth_groups", rows, is_whole=True, blank_ok=True)
    first, last = int(keys["year"].min()), int(keys["year"].max())
    out = pd.DataFrame({
        "event": ep["mk_event_code"].astype(str).to_numpy(),
        "code": [_EPISODE_RECODE.get(int(c), int(c)) for c in loc],
        "start": start,
        # blank end year = still under way at the end of the list (the last panel year)
        "end": np.where(np.isnan(end), last, end).astype(int),
        "state_led": (kind == _STATE_LED).to_numpy(),
        "eth": eth,
    })
    # an episode must have a panel row in its first year inside the panel
    rows = pd.MultiIndex.from_frame(keys[["ccode", "year"]])
    first_in = np.maximum(out["start"], first)
    inside = (first_in <= np.minimum(out["end"], last)).to_numpy()
    placed = pd.MultiIndex.from_arrays([out["code"], first_in]).isin(rows)
    unplaced = out.loc[inside & ~placed, ["event", "code", "start"]]
    msgs = [f"{r.event} (location {r.code}, {r.start})" for r in unplaced.itertuples()]
    if msgs:
        warnings.warn(f"{path}: {len(msgs)} episode(s) have no row in the EWP panel and are "
                      f"left out: {', '.join(msgs)}", AdapterWarning, stacklevel=3)
    return out[inside & placed].reset_index(drop=True), msgs


def _years_of(ep: pd.DataFrame, *, after_start: bool) -> pd.MultiIndex:
    """(code, year) of every year of the episodes (after the start year only if asked)."""
    lo = ep["start"].to_numpy() + (1 if after_start else 0)
    hi = ep["end"].to_numpy()
    n = np.maximum(hi - lo + 1, 0)
    codes = np.repeat(ep["code"].to_numpy(), n)
    years = np.concatenate([np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True)]
                           ) if len(ep) else np.array([], dtype=int)
    return pd.MultiIndex.from_arrays([codes, years.astype(int)])


def _episode_outcome(keys: pd.DataFrame, ep: pd.DataFrame, unknown: pd.DataFrame
                     ) -> pd.DataFrame:
    """Onset / ongoing of one crime from its episodes, on the panel's rows.

    ``ongoing`` = an episode that began in an earlier year is under way (start < year <=
    end). ``onset`` = an episode began this year and none was under way. An episode that
    begins while another is under way is absorbed (ongoing = 1, onset = 0: the country was
    not at risk) and counted in ``absorbed``. ``unknown`` episodes (whether they belong to
    the crime is not known) make a year's onset blank when nothing else decides it; they
    do not extend ``ongoing``.
    """
    rows = pd.MultiIndex.from_frame(keys[["ccode", "year"]])
    ongoing = rows.isin(_years_of(ep, after_start=True))
    began = rows.isin(pd.MultiIndex.from_arrays([ep["code"], ep["start"]]))
    maybe = rows.isin(pd.MultiIndex.from_arrays([unknown["code"], unknown["start"]]))
    onset = np.where(began & ~ongoing, 1.0, 0.0)
    onset[maybe & ~began & ~ongoing] = np.nan
    return pd.DataFrame({"onset": onset, "ongoing": ongoing.astype(int),
                         "absorbed": began & ongoing})


# --------------------------------------------------------------------------- run panels


# The EWP codes West Germany 255 throughout; COW-coded sources (PITF, TMK) use 260 until
# 1990 and 255 from 1990 (both in 1990; the GFR's 260 is taken, as in the crosswalk).
def _ewp_to_cow(code: np.ndarray, year: np.ndarray) -> np.ndarray:
    return np.where((code == 255) & (year <= 1990), 260, code)


# When the COW code of an EWP row has no row in a source, these stand in: the EWP starts
# unified Yemen (679) in 1990, PITF in 1991 with the YAR (678) coded through 1990.
_SOURCE_FALLBACK: dict[tuple[int, int], int] = {(679, 1990): 678}
# Rows the EWP merges: Zanzibar (511, Dec 1963 - Apr 1964) is part of Tanzania (510) in
# the EWP panel, as in its episode list (_EPISODE_RECODE); a source's Zanzibar 1964 value
# counts for Tanzania 1964 (the larger of the two).
_SOURCE_MERGE: dict[tuple[int, int], int] = {(510, 1964): 511}


def _run_outcome(keys: pd.DataFrame, path: Path, key: str, col: str) -> pd.DataFrame:
    """Onset / ongoing from a country-year indicator of an ongoing episode (PITF, TMK).

    The source's series is read per EWP country over the source's years (so runs that
    began before the panel are seen). ``onset`` = first year of a run of 1s (the year
    before is 0); later years of the run are ``ongoing``. A run that starts in the first
    year the source covers a country counts as an onset when that is the state's first
    year (coverage starting after the source's first year, e.g. Bosnia 1992, Angola 1975)
    and is unknown otherwise (a run already under way when the source begins). Country-
    years the source lacks are unknown (blank onset).
    """
    src = _read(path, key, ["ccode", "year", col])
    rows = Rows(str(path), AdapterError)
    src = pd.DataFrame({
        "ccode": _numbers(src, "ccode", rows, is_whole=True, blank_ok=False).astype(int),
        "year": _numbers(src, "year", rows, is_whole=True, blank_ok=False).astype(int),
        "value": _binary(src, col, rows),
    })
    unique(src[["ccode", "year"]], rows, "duplicate country-years in columns 'ccode', 'year'")
    values = src.set_index(["ccode", "year"])["value"]
    start, stop = int(src["year"].min()), int(keys["year"].max())
    countries = np.array(sorted(keys["ccode"].unique()))
    years = np.arange(min(start, int(keys["year"].min())), stop + 1)
    grid = pd.DataFrame({"ccode": np.repeat(countries, len(years)),
                         "year": np.tile(years, len(countries))})
    cow = _ewp_to_cow(grid["ccode"].to_numpy(), grid["year"].to_numpy())
    val = values.reindex(pd.MultiIndex.from_arrays([cow, grid["year"]])).to_numpy().copy()
    for (c, y), alt in _SOURCE_FALLBACK.items():
        at = (grid["ccode"].to_numpy() == c) & (grid["year"].to_numpy() == y) & np.isnan(val)
        if at.any() and (alt, y) in values.index:
            val[at] = values.loc[(alt, y)]
    for (c, y), extra in _SOURCE_MERGE.items():
        at = (grid["ccode"].to_numpy() == c) & (grid["year"].to_numpy() == y)
        if at.any() and (extra, y) in values.index:
            val[at] = np.fmax(val[at], values.loc[(extra, y)])
    grid["s"] = val
    grid["prev"] = grid.groupby("ccode")["s"].shift(1)
    covered = grid["s"].notna()
    first_cov = grid["year"].where(covered).groupby(grid["ccode"]).transform("min")
    s, prev = grid["s"].to_numpy(), grid["prev"].to_numpy()
    new_state = (grid["year"] == first_cov).to_numpy() & (first_cov > start).to_numpy()
    onset = np.full(len(grid), np.nan)
    onset[s == 0] = 0.0
    onset[(s == 1) & (prev == 0)] = 1.0
    onset[(s == 1) & (prev == 1)] = 0.0
    onset[(s == 1) & np.isnan(prev) & new_state] = 1.0
    grid["onset"] = onset
    grid["ongoing"] = ((s == 1) & (prev == 1)).astype(int)
    out = keys[["ccode", "year"]].merge(grid, on=["ccode", "year"], how="left")

    # runs that begin in a country-year the panel lacks (e.g. Equatorial Guinea before
    # the EWP admits it in 2001) cannot be represented: report them, never drop silently
    src = src.sort_values(["ccode", "year"])
    before = src.groupby("ccode")["value"].shift(1)
    gap = src["year"] - src.groupby("ccode")["year"].shift(1) != 1
    starts = src[(src["value"] == 1) & ((before != 1) | gap)]
    starts = starts[starts["year"].between(int(keys["year"].min()), stop)]
    codes = np.array([_EPISODE_RECODE.get(int(c), int(c)) for c in starts["ccode"]], dtype=int)
    ewp = _cow_to_ewp(codes, starts["year"].to_numpy())
    rows = pd.MultiIndex.from_frame(keys[["ccode", "year"]])
    lost = ~pd.MultiIndex.from_arrays([ewp, starts["year"]]).isin(rows)
    outside = [f"{c} in {y}" for c, y in starts.loc[lost, ["ccode", "year"]].itertuples(
        index=False)]
    if outside:
        warnings.warn(f"{path}: {len(outside)} episode start(s) fall on country-years outside "
                      f"the EWP panel and are left out: {', '.join(outside)}", AdapterWarning,
                      stacklevel=3)
    result = out[["onset", "ongoing"]]
    result.attrs["outside_panel"] = outside
    return result


# --------------------------------------------------------------------------- UCDP


# COW -> EWP code where they differ (the EWP ends the YAR and South Yemen in 1989).
def _cow_to_ewp(code: np.ndarray, year: np.ndarray) -> np.ndarray:
    out = np.where(code == 260, 255, code)
    return np.where(np.isin(code, (678, 680)) & (year == 1990), 679, out)


def _osv(keys: pd.DataFrame, path: Path, allocation: str) -> tuple[pd.Series, dict]:
    """One-sided-violence deaths (best estimate) per panel row; NaN outside UCDP's years.

    Each actor-year's deaths are spread over the countries in ``gwno_location``:
    ``"home"`` (default) gives a government actor's deaths to its own country when that
    country is listed (``gwnoa``) and splits everything else equally; ``"split"`` splits
    every multi-country row equally; ``"full"`` counts the whole number in each listed
    country (so totals are not conserved). UCDP's event data (GED) would locate deaths
    exactly but is not among the inputs; every rule is an assumption.
    """
    u = _read(path, "ucdp", _UCDP_COLUMNS)
    rows = Rows(str(path), AdapterError)
    years = _numbers(u, "year", rows, is_whole=True, blank_ok=False).astype(int)
    best = _numbers(u, "best_fatality_estimate", rows, is_whole=False, blank_ok=False)
    rows.fail(best < 0, "must not be negative", column="best_fatality_estimate",
              shown=u["best_fatality_estimate"])
    try:
        sp = split_codes(u["gwno_location"].set_axis(np.arange(len(u))))
    except ValueError as err:
        raise AdapterError(f"{path}: column 'gwno_location': {err}") from None
    r = sp["row"].to_numpy(dtype=int)
    sp["year"] = years[r]
    home = pd.to_numeric(u["gwnoa"].astype(str).str.split(",").str[0], errors="coerce")
    sp["home"] = home.to_numpy()[r]
    sp["best"] = best[r]
    listed_home = (sp["code"] == sp["home"]).groupby(sp["row"]).transform("any").to_numpy()
    if allocation == "full":
        share = sp["best"].to_numpy()
    elif allocation == "split":
        share = sp["best"].to_numpy() / sp["n_codes"].to_numpy()
    else:
        share = np.where(listed_home, np.where(sp["code"] == sp["home"], sp["best"], 0.0),
                         sp["best"] / sp["n_codes"])
    sp["share"] = share
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cow = gw_to_cow_series(sp["code"], sp["year"])
    unresolved = sp.loc[cow.isna().to_numpy(), ["code", "year"]].drop_duplicates()
    report: dict = {
        "unresolved_gw": [f"{c} in {y}" for c, y in unresolved.itertuples(index=False)],
    }
    for w in caught:
        warnings.warn(f"{path}: {w.message}", AdapterWarning, stacklevel=3)
    ok = cow.notna().to_numpy()
    sp = sp[ok].copy()
    sp["ewp"] = _cow_to_ewp(cow[ok].to_numpy(dtype=int), sp["year"].to_numpy())
    deaths = sp.groupby(["ewp", "year"])["share"].sum()
    rows = pd.MultiIndex.from_frame(keys[["ccode", "year"]])
    outside = deaths[~deaths.index.isin(rows)]
    report["outside_panel"] = [f"{c} in {y} ({d:g} deaths)" for (c, y), d in outside.items()]
    if len(outside):
        warnings.warn(f"{path}: one-sided violence in {len(outside)} country-year(s) outside "
                      f"the EWP panel is left out: {', '.join(report['outside_panel'][:10])}",
                      AdapterWarning, stacklevel=3)
    lo, hi = int(years.min()), int(years.max())
    value = deaths.reindex(rows).to_numpy()
    in_cover = (keys["year"] >= lo).to_numpy() & (keys["year"] <= hi).to_numpy()
    value = np.where(in_cover, np.nan_to_num(value, nan=0.0), np.nan)
    report.update(coverage=(lo, hi), file_total=float(best.sum()),
                  allocated_total=float(np.nansum(value)))
    return pd.Series(value, index=keys.index, name="osv_deaths"), report


def _threshold_outcome(keys: pd.DataFrame, deaths: pd.Series, threshold: float,
                       first_year: int) -> pd.DataFrame:
    """Onset = first year at or over the threshold after a year below it.

    The year before is the same country's previous panel row; in a state's first year
    (no previous row) it counts as below. In UCDP's first year the year before is
    unknown, so an over-threshold first year has a blank onset. Later over-threshold
    years of a run are ongoing. Blank deaths (outside UCDP's years) give a blank onset.
    """
    df = keys[["ccode", "year"]].assign(d=deaths.to_numpy())
    prev = df.assign(year=df["year"] + 1).rename(columns={"d": "prev"})
    df = df.merge(prev, on=["ccode", "year"], how="left")  # keeps the row order
    d, p = df["d"].to_numpy(), df["prev"].to_numpy()
    first_row = (keys.groupby("ccode")["year"].transform("min") == keys["year"]).to_numpy()
    has_prev = ~first_row
    over = d >= threshold
    prev_over = np.where(has_prev, p >= threshold, False)
    prev_known = np.where(has_prev, ~np.isnan(p), df["year"].to_numpy() > first_year)
    onset = np.where(np.isnan(d), np.nan, 0.0)
    onset[over & prev_known & ~prev_over] = 1.0
    onset[over & ~prev_known] = np.nan
    ongoing = (over & prev_known & prev_over).astype(int)
    return pd.DataFrame({"onset": onset, "ongoing": ongoing})


# --------------------------------------------------------------------------- four crimes


def four_crime_table(
    data_dir: str | Path,
    *,
    osv_threshold: float = 1000,
    osv_allocation: str = "home",
    genocide_proxy: str = "pitf",
    predictors: Sequence[str] | None = None,
    paths: Mapping[str, str | Path] | None = None,
) -> tuple[pd.DataFrame, str]:
    """The EWP panel's keys and predictors with four proxy crime outcomes.

    Proxies (each labelled in ``[proxies]``):

    - ``genocide``: PITF genocide/politicide (default) or TMK targeted mass killing
      (``genocide_proxy="tmk"``), both country-year indicators of an episode under way:
      onset = first year of a run, ongoing = later years of the run. The other source is
      kept as cross-check columns (``tmk_onset``/``tmk_ongoing`` or
      ``pitf_onset``/``pitf_ongoing``).
    - ``crimes_against_humanity``: EWP state-led mass-killing episodes, located by
      ``mk_location_cow``: onset in the start year, ongoing in later years through the end
      year (blank end year: under way at the end of the list).
    - ``ethnic_cleansing``: EWP mass-killing episodes (state- or non-state-led) with a
      targeted ethnic group (``mk_number_eth_groups > 0``); an episode whose number of
      groups is blank makes its start year's onset blank.
    - ``war_crimes``: UCDP one-sided violence, best estimate summed over actors per
      country-year (G-W codes converted with :mod:`r2p_models.data.crosswalk`), at or over
      ``osv_threshold``: onset = first year over the threshold after a year below it;
      blank before UCDP's first year (1989) and after its last.

    Parameters
    ----------
    data_dir : str or Path
        Folder in the layout of :data:`DEFAULT_FILES`.
    osv_threshold : float
        Civilians killed per country-year (UCDP best estimate). Default 1000, the EWP's
        mass-killing threshold, so that the war-crimes proxy counts killing on the scale
        the other proxies do.
    osv_allocation : {"home", "split", "full"}
        How an actor-year listing several countries is spread over them: ``"home"``
        gives a government's deaths to its own country when that country is listed and
        splits the rest equally; ``"split"`` splits every multi-country row equally;
        ``"full"`` counts the whole number in every listed country.
    genocide_proxy : {"pitf", "tmk"}
    predictors : sequence of str, optional
        As in :func:`ewp_table`.
    paths : mapping, optional
        Override single input files.

    Returns
    -------
    table : pandas.DataFrame
        The EWP panel's rows: keys, name, region, predictors, ``<crime>_onset`` and
        ``<crime>_ongoing`` for the four crimes, cross-check columns (``mk_onset``, the
        other genocide source, ``osv_deaths``). ``table.attrs["report"]`` lists what was
        left out (unplaced episodes, UCDP locations outside the panel), episodes absorbed
        into an ongoing one, and the UCDP totals.
    config : str
        The run config (``run.toml`` text) with ``[outcomes]``, ``[ongoing]`` and
        ``[proxies]`` for all four crimes.

    Raises
    ------
    AdapterError
        A file is missing, a column is absent or malformed, or an option is invalid.
    """
    if genocide_proxy not in _GENOCIDE_SOURCES:
        raise AdapterError(f"genocide_proxy={genocide_proxy!r}: expected one of "
                           f"{sorted(_GENOCIDE_SOURCES)}")
    if osv_allocation not in _ALLOCATIONS:
        raise AdapterError(f"osv_allocation={osv_allocation!r}: expected one of "
                           f"{list(_ALLOCATIONS)}")
    if (isinstance(osv_threshold, bool) or not isinstance(osv_threshold, int | float)
            or not np.isfinite(osv_threshold) or osv_threshold <= 0):
        raise AdapterError(f"osv_threshold={osv_threshold!r}: expected a positive number of "
                           "deaths")
    files = _paths(data_dir, paths)
    base = _ewp_base(files["ewp_panel"], predictors)
    preds = list(DEFAULT_PREDICTORS if predictors is None else predictors)
    keys = base[["ccode", "year"]]

    episodes, unplaced = _episodes(files["ewp_episodes"], keys)
    none = episodes.iloc[:0]
    cah = _episode_outcome(keys, episodes[episodes["state_led"]], none)
    eth_known = episodes["eth"].notna()
    ec = _episode_outcome(keys, episodes[eth_known & (episodes["eth"] > 0)],
                          episodes[~eth_known])

    runs = {name: _run_outcome(keys, files[name], name, col)
            for name, col in _GENOCIDE_SOURCES.items()}
    other = "tmk" if genocide_proxy == "pitf" else "pitf"
    gen = runs[genocide_proxy]

    deaths, osv_report = _osv(keys, files["ucdp"], osv_allocation)
    wc = _threshold_outcome(keys, deaths, float(osv_threshold), osv_report["coverage"][0])

    table = base.drop(columns=["mk_onset"]).copy()
    for crime, res in (("genocide", gen), ("war_crimes", wc), ("ethnic_cleansing", ec),
                       ("crimes_against_humanity", cah)):
        table[f"{crime}_onset"] = pd.array(res["onset"].to_numpy(), dtype="Int64")
        table[f"{crime}_ongoing"] = pd.array(res["ongoing"].to_numpy(), dtype="Int64")
    table["mk_onset"] = pd.array(base["mk_onset"].to_numpy(), dtype="Int64")
    table[f"{other}_onset"] = pd.array(runs[other]["onset"].to_numpy(), dtype="Int64")
    table[f"{other}_ongoing"] = pd.array(runs[other]["ongoing"].to_numpy(), dtype="Int64")
    table["osv_deaths"] = deaths.to_numpy()

    lo, hi = osv_report["coverage"]
    genocide_label = {
        "pitf": "PITF genocide/politicide (Harff): onset = first year of a run of country-"
                "years coded 1 in the PITF panel (politicides included)",
        "tmk": "TMK v1.0 targeted mass killing (Butcher, Goldsmith et al.): onset = first "
               "year of a run of country-years coded 1",
    }[genocide_proxy]
    proxies = {
        "genocide": f"{genocide_label}; a proxy for genocide",
        "war_crimes": f"UCDP one-sided violence v23.1: at least {osv_threshold:g} civilians "
                      f"deliberately killed in the country-year (best estimate, all actors, "
                      f"multi-country rows allocated '{osv_allocation}') after a year below; "
                      f"not conditioned on armed conflict; unknown outside {lo}-{hi}; "
                      "a proxy for war crimes",
        "ethnic_cleansing": "EWP mass-killing episode (state- or non-state-led) targeting at "
                            "least one ethnic group (mk_number_eth_groups > 0) began; a proxy "
                            "for ethnic cleansing",
        "crimes_against_humanity": "EWP state-led mass-killing episode began (episode list, "
                                   "located by mk_location_cow); a proxy for crimes against "
                                   "humanity",
    }
    config = _config_text(
        ["Four-crime proxy panel built from the EWP panel and episode list, "
         f"{'PITF' if genocide_proxy == 'pitf' else 'TMK'} and UCDP one-sided violence.",
         "Every outcome is a proxy: no public data set codes the four crimes separately.",
         *_HEADER],
        preds,
        {c: f"{c}_onset" for c in CRIMES},
        {c: f"{c}_ongoing" for c in CRIMES},
        proxies,
        FOUR_CRIME_MODEL,
    )
    table.attrs["report"] = {
        "rows": len(table),
        "unplaced_episodes": unplaced,
        "absorbed_onsets": {"crimes_against_humanity": int(cah["absorbed"].sum()),
                            "ethnic_cleansing": int(ec["absorbed"].sum())},
        "genocide_source_rows_missing": int(gen["onset"].isna().sum()),
        "run_starts_outside_panel": {name: r.attrs["outside_panel"] for name, r in runs.items()},
        "ucdp": osv_report,
    }
    return table, config


# --------------------------------------------------------------------------- writing


def _forbidden(out: Path, data_dir: Path) -> str | None:
    package = Path(__file__).resolve().parents[1]
    for root, what in ((data_dir.resolve(), "the data folder"),
                       (package, "the r2p_models package"),
                       (package.parent / "datasets", "the project's datasets/ folder")):
        if out == root or root in out.parents:
            return what
    return None


def write_adapted(
    kind: str,
    data_dir: str | Path,
    out_dir: str | Path,
    **options: object,
) -> Path:
    """Write ``panel.csv`` and ``run.toml`` of an adapted panel to a user folder.

    Parameters
    ----------
    kind : {"ewp", "four_crime"}
        :func:`ewp_table` or :func:`four_crime_table`.
    data_dir : str or Path
        Folder of the publishers' files.
    out_dir : str or Path
        A user folder (e.g. ``runs/ewp``); created if needed. It may not lie inside the
        data folder, the package or the project's ``datasets/`` folder (the data may not be
        redistributed with the project).
    **options
        Passed to the adapter (e.g. ``osv_threshold=500``).

    Returns
    -------
    Path
        The ``run.toml`` written; ``r2p_models.data.panel.load_panel`` reads it.
    """
    adapters = {"ewp": ewp_table, "four_crime": four_crime_table}
    if kind not in adapters:
        raise AdapterError(f"kind={kind!r}: expected one of {sorted(adapters)}")
    out = Path(out_dir).resolve()
    where = _forbidden(out, Path(data_dir))
    if where:
        raise AdapterError(f"{out}: output folder lies inside {where}; write adapted panels "
                           "to a user folder such as runs/ewp")
    table, config = adapters[kind](data_dir, **options)  # type: ignore[operator]
    csv = table.to_csv(index=False, lineterminator="\n")  # everything built before writing
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "panel.csv", csv)
    atomic_write_text(out / "run.toml", config)
    return out / "run.toml"
