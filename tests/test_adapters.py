"""Real-data adapters: proxy rules on small hand-made files, then the real files.

The hand-made files (written to a temporary folder, shaped like the publishers' files)
have outcomes worked out by hand from the rules documented in
:mod:`r2p_models.data.adapters`. The real-data tests read ``../shared/datasets`` (or
``$R2P_SHARED_DATASETS``) by path, never copy it, and skip when it is absent; their
expected values are recomputed from the raw files by separate, simpler code.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from r2p_models.config import load_config
from r2p_models.crimes import CRIMES
from r2p_models.data.adapters import (
    DEFAULT_FILES,
    DEFAULT_PREDICTORS,
    EWP_OUTCOMES,
    EWP_PREDICTORS,
    EWP_REGIONS,
    OMITTED_REGION,
    AdapterError,
    AdapterWarning,
    ewp_table,
    four_crime_table,
    write_adapted,
)
from r2p_models.data.panel import PanelError, load_panel


def _shared() -> Path:
    env = os.environ.get("R2P_SHARED_DATASETS")
    return Path(env) if env else Path(__file__).parents[1] / ".." / "shared" / "datasets"


SHARED = _shared()
needs_real = pytest.mark.skipif(
    not all((SHARED / rel).is_file() for rel in DEFAULT_FILES.values()),
    reason=f"real data folder {SHARED} is absent or incomplete "
    "(set R2P_SHARED_DATASETS to the shared datasets folder)",
)

# --------------------------------------------------------------------------- fake files

YEARS = range(1985, 1996)
# ccode -> (name, region dummy or None, first year)
FAKE = {100: ("Aland", "reg.na", 1985), 517: ("Bland", None, 1985),
        255: ("Cland", "reg.eur", 1985), 346: ("Dland", "reg.eur", 1992)}


def _write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def _fake_data(root: Path) -> Path:
    rows = []
    for code, (name, reg, first) in FAKE.items():
        for y in range(first, YEARS.stop):
            row = {p: 0.0 for p in EWP_PREDICTORS}
            row.update(ewp_name=name, ccode=code, year=y, year_sq=y * y,
                       mk_onset=int(code == 517 and y == 1987), mk_onset_1=0, mk_onset_2=0,
                       mk_onset_1or2=0)
            if reg:
                row[reg] = 1
            row["popsize.log2"] = 20.0 + code / 1000
            rows.append(row)
    _write(pd.DataFrame(rows), root / DEFAULT_FILES["ewp_panel"])

    ep = pd.DataFrame(
        [  # code, name, start, end, kind, eth, location
            ("b1987s", 1987, 1990, "State-Led", 1, 517),
            ("b1989s", 1989, 1989, "State-Led", 0, 517),  # begins inside b1987s
            ("a1990ns", 1990, None, "Non-State-Led", 2, 100),  # blank end: under way
            ("a1980s", 1980, 1986, "State-Led", None, 100),  # began before the panel
            ("c1993s", 1993, 1993, "State-Led", None, 255),  # ethnic targeting unknown
            ("x1994s", 1994, 1994, "State-Led", 0, 340),  # recoded to 345: not in panel
        ],
        columns=["mk_event_code", "startyear", "endyear", "State-Led or Non-State-Led",
                 "mk_number_eth_groups", "mk_location_cow"],
    )
    ep.insert(0, "country", "x")
    _write(ep, root / DEFAULT_FILES["ewp_episodes"])

    pitf = {100: {y: int(y <= 1986) for y in range(1984, 1996)},
            517: {y: int(y in (1986, 1987, 1989)) for y in range(1986, 1996)},
            260: {y: int(y >= 1988) for y in range(1984, 1991)},
            255: {y: int(y <= 1991) for y in range(1990, 1996)},
            346: {y: 0 for y in range(1992, 1996)}}
    prow = [(c, y, v) for c, d in pitf.items() for y, v in d.items()]
    _write(pd.DataFrame(prow, columns=["ccode", "year", "genocide"]),
           root / DEFAULT_FILES["pitf"])
    _write(pd.DataFrame([(c, y, 0) for c, y, _ in prow], columns=["ccode", "year", "tmk"]),
           root / DEFAULT_FILES["tmk"])

    ucdp = pd.DataFrame(
        [("517", 517, 1989, 500), ("517", 517, 1990, 800), ("517", None, 1990, 300),
         ("517, 100", 517, 1992, 2000),  # a government's row: goes home under "home"
         ("260", None, 1990, 1500),  # G-W 260 in 1990 = COW 260 = EWP 255
         ("260", None, 1991, 1500),  # G-W 260 in 1991 = COW 255 = EWP 255
         ("100", None, 1989, 1200),  # over the threshold in UCDP's first year
         ("346", None, 1992, 2000),  # a new state's first year
         ("999", None, 1990, 40),  # no such G-W code
         ("522", None, 1991, 59)],  # a state the panel lacks
        columns=["gwno_location", "gwnoa", "year", "best_fatality_estimate"],
    )
    _write(ucdp, root / DEFAULT_FILES["ucdp"])
    return root


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return _fake_data(tmp_path / "data")


def _four(fake: Path, **kw) -> pd.DataFrame:
    with pytest.warns(AdapterWarning):
        table, _ = four_crime_table(fake, **kw)
    return table


def _series(table: pd.DataFrame, code: int, col: str) -> list:
    sub = table[table["ccode"] == code].sort_values("year")
    return [None if pd.isna(v) else int(v) for v in sub[col]]


# --------------------------------------------------------------------------- fake: EWP


def test_ewp_table_keys_regions_and_config(fake: Path) -> None:
    table, config = ewp_table(fake)
    assert len(table) == 3 * 11 + 4
    regions = table.groupby("ccode")["region"].first().to_dict()
    assert regions == {100: "Americas", 255: "Europe", 346: "Europe", 517: OMITTED_REGION}
    assert list(table.columns) == ["ccode", "ewp_name", "year", "region",
                                   *[p for p in DEFAULT_PREDICTORS if p != "year"], "mk_onset"]
    raw = tomllib.loads(config)
    assert raw["outcomes"] == {"crimes_against_humanity": "mk_onset"}
    assert "ongoing" not in raw
    assert "proxy" in raw["proxies"]["crimes_against_humanity"]
    assert raw["indicators"]["popsize.log2"]["transform"] == "log2"


def test_outcome_columns_are_refused_as_predictors(fake: Path) -> None:
    for col in EWP_OUTCOMES:
        with pytest.raises(AdapterError, match=col):
            ewp_table(fake, predictors=["year", col])
    with pytest.raises(AdapterError, match="leakage"):
        ewp_table(fake, predictors=["mk_onset_1or2"])
    with pytest.raises(AdapterError, match="id column"):
        ewp_table(fake, predictors=["ccode"])


def test_region_dummies_can_be_kept_as_predictors(fake: Path) -> None:
    table, config = ewp_table(fake, predictors=list(EWP_PREDICTORS))
    assert set(EWP_REGIONS) <= set(table.columns)
    assert set(EWP_REGIONS) <= set(tomllib.loads(config)["data"]["predictors"])


@pytest.mark.filterwarnings("ignore::r2p_models.data.adapters.AdapterWarning")
def test_missing_file_and_column_name_the_file_and_column(fake: Path, tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match=r"prepared_predictors_1960_2008\.csv: file not found"):
        ewp_table(tmp_path / "nowhere")
    ucdp = fake / DEFAULT_FILES["ucdp"]
    pd.read_csv(ucdp).drop(columns=["gwno_location"]).to_csv(ucdp, index=False)
    with pytest.raises(AdapterError, match=r"one_sided_violence.*missing column.*gwno_location"):
        four_crime_table(fake)
    assert issubclass(AdapterError, PanelError)


def test_malformed_values_are_refused(fake: Path) -> None:
    path = fake / DEFAULT_FILES["ewp_panel"]
    df = pd.read_csv(path)
    df.loc[3, "reg.eap"] = 1  # row 4 already has reg.na
    df.to_csv(path, index=False)
    with pytest.raises(AdapterError, match=r"more than one region dummy .* is set at row 4$"):
        ewp_table(fake)
    ep_path = fake / DEFAULT_FILES["ewp_episodes"]
    ep = pd.read_csv(ep_path)
    ep.loc[1, "State-Led or Non-State-Led"] = "state"
    ep.to_csv(ep_path, index=False)
    df.loc[3, "reg.eap"] = 0
    df.to_csv(path, index=False)
    with pytest.raises(AdapterError, match=r"'State-Led or Non-State-Led' must be one of \["
                                           r"'Non-State-Led', 'State-Led'\]; found 'state' at "
                                           r"row 2$"):
        four_crime_table(fake)


def test_bad_options_are_refused(fake: Path) -> None:
    for kw, match in (({"genocide_proxy": "harff"}, "genocide_proxy"),
                      ({"osv_allocation": "half"}, "osv_allocation"),
                      ({"osv_threshold": 0}, "osv_threshold"),
                      ({"osv_threshold": float("nan")}, "osv_threshold")):
        with pytest.raises(AdapterError, match=match):
            four_crime_table(fake, **kw)


# --------------------------------------------------------------------------- fake: rules


def test_episode_proxies_follow_the_documented_rules(fake: Path) -> None:
    t = _four(fake)
    cah_on, cah_og = "crimes_against_humanity_onset", "crimes_against_humanity_ongoing"
    # state-led before the panel, under way in 1985-1986
    assert _series(t, 100, cah_on) == [0] * 11
    assert _series(t, 100, cah_og) == [1, 1] + [0] * 9
    # onset 1987, under way 1988-1990; the 1989 episode is absorbed (not at risk)
    assert _series(t, 517, cah_on) == [0, 0, 1] + [0] * 8
    assert _series(t, 517, cah_og) == [0, 0, 0, 1, 1, 1] + [0] * 5
    assert _series(t, 255, cah_on)[8] == 1
    # ethnic: non-state episodes count; blank end = under way to the last year;
    # unknown targeting makes the start year's onset blank
    assert _series(t, 100, "ethnic_cleansing_onset") == [0] * 5 + [1] + [0] * 5
    assert _series(t, 100, "ethnic_cleansing_ongoing") == [0] * 6 + [1] * 5
    assert _series(t, 517, "ethnic_cleansing_onset") == [0, 0, 1] + [0] * 8
    assert _series(t, 255, "ethnic_cleansing_onset")[8] is None
    report = t.attrs["report"]
    assert report["absorbed_onsets"] == {"crimes_against_humanity": 1, "ethnic_cleansing": 0}
    assert report["unplaced_episodes"] == ["x1994s (location 345, 1994)"]


def test_pitf_runs_give_onsets_and_ongoing(fake: Path) -> None:
    t = _four(fake)
    # run under way when PITF begins (1984): ongoing, never an onset
    assert _series(t, 100, "genocide_onset") == [0] * 11
    assert _series(t, 100, "genocide_ongoing") == [1, 1] + [0] * 9
    # no row in 1985: unknown; first covered year 1986 is the state's first: onset
    assert _series(t, 517, "genocide_onset") == [None, 1, 0, 0, 1] + [0] * 6
    assert _series(t, 517, "genocide_ongoing") == [0, 0, 1] + [0] * 8
    # EWP 255 reads COW 260 until 1990 and 255 after: one run 1988-1991
    assert _series(t, 255, "genocide_onset") == [0, 0, 0, 1] + [0] * 7
    assert _series(t, 255, "genocide_ongoing") == [0] * 4 + [1, 1, 1] + [0] * 4
    assert _series(t, 255, "tmk_onset") == [0] * 11  # the other source, kept to compare


def test_one_sided_violence_threshold_and_allocation(fake: Path) -> None:
    t = _four(fake)
    nan4, nan3 = [None] * 4, [None] * 3
    assert _series(t, 100, "war_crimes_onset") == [*nan4, None, 0, 0, 0, *nan3]
    assert _series(t, 517, "war_crimes_onset") == [*nan4, 0, 1, 0, 1, *nan3]
    assert _series(t, 255, "war_crimes_onset") == [*nan4, 0, 1, 0, 0, *nan3]
    assert _series(t, 255, "war_crimes_ongoing") == [0] * 6 + [1] + [0] * 4
    assert _series(t, 346, "war_crimes_onset") == [1, None, None, None]
    report = t.attrs["report"]["ucdp"]
    assert report["unresolved_gw"] == ["999 in 1990"]
    assert report["outside_panel"] == ["522 in 1991 (59 deaths)"]
    assert report["file_total"] - report["allocated_total"] == 40 + 59

    split = _four(fake, osv_allocation="split")
    assert _series(split, 100, "war_crimes_onset")[7] == 1  # 1000 of 2000
    assert split.loc[split["ccode"] == 517, "osv_deaths"].iloc[7] == 1000
    full = _four(fake, osv_allocation="full")
    assert full.loc[full["ccode"] == 100, "osv_deaths"].iloc[7] == 2000
    strict = _four(fake, osv_threshold=1200)
    assert _series(strict, 517, "war_crimes_onset") == [*nan4, 0, 0, 0, 1, *nan3]


def test_write_adapted_writes_a_loadable_run_and_refuses_the_data_folder(
    fake: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs" / "four"
    with pytest.warns(AdapterWarning):
        run = write_adapted("four_crime", fake, out)
    assert run == out.resolve() / "run.toml"
    assert sorted(p.name for p in out.iterdir()) == ["panel.csv", "run.toml"]  # no temp files
    panel = load_panel(run)
    assert list(panel["crime"].values) == list(CRIMES)
    assert all("proxy" in p for p in panel["proxy"].values)
    assert int(panel["present"].sum()) == 37
    with pytest.raises(AdapterError, match="inside the data folder"):
        write_adapted("ewp", fake, fake / "runs")
    assert not (fake / "runs").exists()
    with pytest.raises(AdapterError, match="kind"):
        write_adapted("pitf", fake, tmp_path / "x")


# --------------------------------------------------------------------------- real files


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("adapted")
    with pytest.warns(AdapterWarning):
        four_run = write_adapted("four_crime", SHARED, out / "four")
    ewp_run = write_adapted("ewp", SHARED, out / "ewp")
    raw = pd.read_csv(SHARED / DEFAULT_FILES["ewp_panel"], keep_default_na=False,
                      na_values=[""]).sort_values(["ccode", "year"]).reset_index(drop=True)
    episodes = pd.read_csv(SHARED / DEFAULT_FILES["ewp_episodes"], keep_default_na=False,
                           na_values=[""])
    with pytest.warns(AdapterWarning):
        four, _ = four_crime_table(SHARED)
    return {"ewp": load_panel(ewp_run), "four": load_panel(four_run), "raw": raw,
            "episodes": episodes, "four_table": four, "ewp_config": load_config(ewp_run)}


@pytest.mark.realdata
@needs_real
def test_ewp_panel_shape_and_regions(real: dict) -> None:
    panel = real["ewp"]
    present = panel["present"]
    print(f"\nEWP panel: {panel.sizes['country']} countries, {int(present.sum())} "
          f"country-years, {int(panel['onset'].sum())} mass-killing onset years")
    assert int(present.sum()) == 6798
    assert panel.sizes["country"] == 169
    assert (int(panel.year.min()), int(panel.year.max())) == (1960, 2008)
    assert int(panel["onset"].sum()) == int(real["raw"]["mk_onset"].sum()) == 102
    # the omitted region: every country without a dummy is African (COW 400-626) and
    # none is North African (600-620): Sub-Saharan Africa
    codes = panel["country"].values[panel["region"].values == OMITTED_REGION].astype(int)
    assert len(codes) == 46
    assert ((codes >= 400) & (codes <= 626) & ~((codes >= 600) & (codes <= 620))).all()
    cfg = real["ewp_config"]
    assert cfg.crimes == ("crimes_against_humanity",)
    assert cfg.data.ongoing == {}
    assert "proxy" in cfg.data.proxies["crimes_against_humanity"]
    assert set(cfg.data.predictors) == set(DEFAULT_PREDICTORS)
    assert not set(cfg.data.predictors) & set(EWP_OUTCOMES)


def _episode_years(episodes: pd.DataFrame, last: int, *, through: bool) -> pd.DataFrame:
    """(ccode, year) of each episode year, EWP's location recodes applied."""
    rows = []
    for e in episodes.itertuples(index=False):
        loc = {511: 510, 340: 345}.get(int(e.mk_location_cow), int(e.mk_location_cow))
        end = last if pd.isna(e.endyear) else int(e.endyear)
        for y in range(int(e.startyear), (end if through else int(e.startyear)) + 1):
            rows.append((loc, y))
    return pd.DataFrame(rows, columns=["ccode", "year"])


@pytest.mark.realdata
@needs_real
def test_history_predictors_use_only_the_past(real: dict) -> None:
    raw, episodes = real["raw"], real["episodes"]
    g = raw.groupby("ccode")
    first = g["year"].transform("min") == raw["year"]
    # mk_onset_prev_year is last year's onset
    lag = g["mk_onset"].shift(1)
    assert (raw.loc[~first, "mk_onset_prev_year"] == lag[~first]).all()
    # mean_mk_onset_interaction grows by this year's onset only (cumulative count)
    step = g["mean_mk_onset_interaction"].diff()
    assert (step[~first] == raw.loc[~first, "mk_onset"]).all()
    # mk_ever never switches off
    assert (g["mk_ever"].diff()[~first] >= 0).all()
    # mk_onset and mk_ongoing_count_log2 are rebuilt from episodes begun by year t
    starts = _episode_years(episodes, 2008, through=False).value_counts()
    rebuilt = (starts.reindex(pd.MultiIndex.from_frame(raw[["ccode", "year"]])).fillna(0)
               > 0).astype(int)
    assert (rebuilt.to_numpy() == raw["mk_onset"].to_numpy()).all()
    under_way = _episode_years(episodes, 2008, through=True).value_counts()
    count = under_way.reindex(pd.MultiIndex.from_frame(raw[["ccode", "year"]])).fillna(0)
    assert np.allclose(np.log2(count.to_numpy() + 1), raw["mk_ongoing_count_log2"])


@pytest.mark.realdata
@needs_real
def test_horizon_two_windows_reproduce_mk_onset_1or2(real: dict) -> None:
    onset = real["ewp"]["onset"].sel(crime="crimes_against_humanity")
    o1, o2 = onset.shift(year=-1), onset.shift(year=-2)
    window = ((o1 == 1) | (o2 == 1)).astype(float).where(
        (o1 == 1) | (o2 == 1) | (o1.notnull() & o2.notnull()))
    df = window.to_dataframe("window").reset_index()[["country", "year", "window"]]
    df["ccode"] = df["country"].astype(int)
    raw = real["raw"]
    m = raw[["ccode", "year", "mk_onset_1or2"]].merge(df, on=["ccode", "year"])
    both = m["window"].notna() & m["mk_onset_1or2"].notna()
    mismatch = m[both & (m["window"] != m["mk_onset_1or2"])]
    only_file = m[m["window"].isna() & m["mk_onset_1or2"].notna()]
    only_window = m[m["window"].notna() & m["mk_onset_1or2"].isna()]
    print(f"\nhorizon-2 windows: {int(both.sum())} compared, {len(mismatch)} mismatches; "
          f"{len(only_file)} coded 0 by EWP past a state's end; {len(only_window)} "
          "blanked by the 2008 cut although known")
    assert mismatch.empty
    # EWP codes 0 where the window runs past the end of a state (R default 0); the
    # loader leaves those unknown: exactly the last two years of states ending before 2008
    last = raw.groupby("ccode")["year"].transform("max")
    ended = raw[(last < 2008) & (raw["year"] >= last - 1)]
    assert set(zip(only_file["ccode"], only_file["year"], strict=True)) == set(
        zip(ended["ccode"], ended["year"], strict=True))
    assert (only_file["mk_onset_1or2"] == 0).all()
    # the file blanks every 2007 window; where 2008 had an onset the window is known
    onset08 = raw[(raw["year"] == 2008) & (raw["mk_onset"] == 1)]["ccode"]
    assert set(zip(only_window["ccode"], only_window["year"], strict=True)) == {
        (c, 2007) for c in onset08}


def _run_starts(path: Path, col: str) -> set[tuple[int, int]]:
    """First years of runs of 1s (the year before coded 0, or a state's first year)."""
    src = pd.read_csv(path).sort_values(["ccode", "year"])
    first_year = src["year"].min()
    out = set()
    for code, g in src.groupby("ccode"):
        values = dict(zip(g["year"], g[col], strict=True))
        for y, v in values.items():
            before = values.get(y - 1)
            if v == 1 and (before == 0 or (before is None and y == min(values)
                                           and y > first_year)):
                out.add((int(code), int(y)))
    return out


@pytest.mark.realdata
@needs_real
def test_four_crime_panel_counts(real: dict) -> None:
    panel, table, episodes = real["four"], real["four_table"], real["episodes"]
    assert int(panel["present"].sum()) == 6798
    assert list(panel["crime"].values) == list(CRIMES)
    lines = ["", f"{'crime':<26}{'onsets':>7}{'at risk':>9}{'rate':>8}{'ongoing':>9}"
             f"{'unknown':>9}"]
    for crime in CRIMES:
        assert "proxy" in str(panel["proxy"].sel(crime=crime).item())
        on = table[f"{crime}_onset"]
        og = table[f"{crime}_ongoing"]
        at_risk = (og == 0) & on.notna()
        rate = float((on == 1).sum() / at_risk.sum())
        lines.append(f"{crime:<26}{int((on == 1).sum()):>7}{int(at_risk.sum()):>9}"
                     f"{rate:>8.2%}{int((og == 1).sum()):>9}{int(on.isna().sum()):>9}")
        assert 0.002 <= rate <= 0.02  # the design's realistic range of base rates
    print("\n".join(lines))
    report = table.attrs["report"]
    print("absorbed onsets:", report["absorbed_onsets"])

    in_panel = (episodes["startyear"] >= 1960) & (episodes["startyear"] <= 2008)
    state = episodes["State-Led or Non-State-Led"] == "State-Led"
    assert int((in_panel & state).sum()) == 89  # state-led episodes beginning 1960-2008
    pairs = _episode_years(episodes[in_panel & state], 2008, through=False).drop_duplicates()
    cah = table["crimes_against_humanity_onset"] == 1
    assert int(cah.sum()) + report["absorbed_onsets"]["crimes_against_humanity"] == len(pairs)
    assert (table.loc[cah, "mk_onset"] == 1).all()  # state-led onsets are EWP onsets
    eth = episodes["mk_number_eth_groups"] > 0
    pairs = _episode_years(episodes[in_panel & eth], 2008, through=False).drop_duplicates()
    ec = int((table["ethnic_cleansing_onset"] == 1).sum())
    assert ec + report["absorbed_onsets"]["ethnic_cleansing"] == len(pairs)
    assert report["unplaced_episodes"] == []

    # genocide: PITF's run starts 1960-2008 on the panel's country-years (260 is EWP 255)
    keys = set(zip(table["ccode"], table["year"], strict=True))
    starts = {(255 if c == 260 else c, y)
              for c, y in _run_starts(SHARED / DEFAULT_FILES["pitf"], "genocide")
              if 1960 <= y <= 2008}
    got = set(zip(*table.loc[table["genocide_onset"] == 1, ["ccode", "year"]].T.values,
                  strict=True))
    assert got == starts & keys
    assert starts - keys == {(411, 1969)}  # Equatorial Guinea enters the EWP panel in 2001
    assert report["run_starts_outside_panel"]["pitf"] == ["411 in 1969"]

    # war crimes: unknown before UCDP (1989), known after; Rwanda 1994 begins a run
    wc = table["war_crimes_onset"]
    assert wc[table["year"] < 1989].isna().all()
    assert wc[table["year"] > 1989].notna().all()
    rwanda94 = table[(table["ccode"] == 517) & (table["year"] == 1994)]
    assert rwanda94["war_crimes_onset"].item() == 1
    assert rwanda94["osv_deaths"].item() > 768_619  # the government's 1994 killings alone
    ucdp = report["ucdp"]
    assert ucdp["unresolved_gw"] == []
    assert ucdp["outside_panel"] == ["522 in 1991 (59 deaths)"]  # Djibouti before 2001
    assert ucdp["allocated_total"] == pytest.approx(ucdp["file_total"] - 59)


@pytest.mark.realdata
@needs_real
def test_tmk_alternative_and_cross_check(real: dict) -> None:
    pitf = real["four_table"]
    with pytest.warns(AdapterWarning):
        tmk, config = four_crime_table(SHARED, genocide_proxy="tmk")
    assert "TMK" in tomllib.loads(config)["proxies"]["genocide"]
    keys = set(zip(tmk["ccode"], tmk["year"], strict=True))
    starts = {({260: 255, 511: 510}.get(c, c), y)
              for c, y in _run_starts(SHARED / DEFAULT_FILES["tmk"], "tmk")
              if 1960 <= y <= 2008}
    got = set(zip(*tmk.loc[tmk["genocide_onset"] == 1, ["ccode", "year"]].T.values,
                  strict=True))
    assert got == starts & keys
    # the cross-check columns are the other proxy's outcome
    assert pitf["tmk_onset"].equals(tmk["genocide_onset"])
    assert tmk["pitf_onset"].equals(pitf["genocide_onset"])
    # agreement: PITF onsets with a TMK episode starting or under way within two years
    hits = 0
    on = pitf[pitf["genocide_onset"] == 1]
    for c, y in zip(on["ccode"], on["year"], strict=True):
        near = pitf[(pitf["ccode"] == c) & (abs(pitf["year"] - y) <= 2)]
        hits += bool(((near["tmk_onset"] == 1) | (near["tmk_ongoing"] == 1)).any())
    print(f"\nPITF onsets {len(on)}, TMK onsets {int((tmk['genocide_onset'] == 1).sum())}; "
          f"PITF onsets with TMK within 2 years: {hits}")
    assert hits / len(on) > 0.75


@pytest.mark.realdata
@needs_real
def test_higher_threshold_marks_fewer_years(real: dict) -> None:
    base = real["four_table"]
    with pytest.warns(AdapterWarning):
        high, _ = four_crime_table(SHARED, osv_threshold=5000)
    assert high["osv_deaths"].equals(base["osv_deaths"])
    over = lambda t: (t["war_crimes_onset"] == 1) | (t["war_crimes_ongoing"] == 1)  # noqa: E731
    assert (over(high) <= over(base)).all()
    assert over(high).sum() < over(base).sum()
