"""The panel loader: the schema it builds and every class of bad input it refuses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from r2p_models.cli import EXIT_BAD_INPUT, main
from r2p_models.config import ConfigError, load_config
from r2p_models.data.panel import PanelError, load_panel

CONFIG = """
[data]
table = "panel.csv"
country = "ccode"
year = "year"
region = "region"
predictors = ["discrimpop", "coup"]
[outcomes]
crimes_against_humanity = "mk_onset"
genocide = "gen_onset"
[ongoing]
genocide = "gen_ongoing"
[proxies]
crimes_against_humanity = "EWP mass-killing onset"
[indicators.discrimpop]
description = "share discriminated"
risk_factors = [4, 9]
"""


def _table() -> pd.DataFrame:
    rows = []
    for c, region in ((2, "Americas"), (20, "Americas"), (500, "Africa")):
        for y in range(2000, 2005):
            rows.append(
                {"ccode": c, "year": y, "region": region, "discrimpop": 0.1 * c / 100 + y - 2000,
                 "coup": 0, "mk_onset": 0, "gen_onset": 0, "gen_ongoing": 0}
            )
    df = pd.DataFrame(rows)
    df.loc[(df.ccode == 500) & (df.year == 2001), "mk_onset"] = 1
    df.loc[(df.ccode == 500) & (df.year == 2002), "gen_onset"] = 1
    df.loc[(df.ccode == 500) & (df.year.isin([2003, 2004])), "gen_ongoing"] = 1
    df.loc[(df.ccode == 20) & (df.year == 2003), "discrimpop"] = np.nan
    df.loc[(df.ccode == 2) & (df.year == 2004), "mk_onset"] = np.nan
    return df


def _write(tmp_path: Path, df: pd.DataFrame, config: str = CONFIG, name: str = "panel.csv") -> Path:
    df.to_csv(tmp_path / name, index=False)
    cfg = tmp_path / "run.toml"
    cfg.write_text(config.replace("panel.csv", name))
    return cfg


def test_panel_schema_and_values(tmp_path: Path) -> None:
    panel = load_panel(_write(tmp_path, _table()))
    assert dict(panel.sizes) == {"country": 3, "year": 5, "indicator": 2, "crime": 2}
    # canonical crime order, not config order
    assert list(panel.crime.values) == ["genocide", "crimes_against_humanity"]
    assert list(panel.year.values) == [2000, 2001, 2002, 2003, 2004]
    assert set(panel.country.values) == {"2", "20", "500"}
    assert panel["region"].sel(country="500").item() == "Africa"
    assert panel["onset"].sel(country="500", year=2001, crime="crimes_against_humanity") == 1
    assert panel["ongoing"].sel(country="500", year=2003, crime="genocide") == 1
    # no ongoing column for CAH -> never ongoing
    assert float(panel["ongoing"].sel(crime="crimes_against_humanity").sum()) == 0
    # blanks stay missing, never zero
    assert np.isnan(panel["onset"].sel(country="2", year=2004, crime="crimes_against_humanity"))
    assert np.isnan(panel["X"].sel(country="20", year=2003, indicator="discrimpop"))
    assert np.isnan(panel["X_var"].sel(country="20", year=2003, indicator="discrimpop"))
    assert panel["X_var"].sel(country="20", year=2002, indicator="discrimpop") == 0
    assert panel["X"].sel(country="500", year=2004, indicator="discrimpop") == pytest.approx(4.5)
    assert panel["risk_factors"].sel(indicator="discrimpop").item() == "4,9"
    assert panel["proxy"].sel(crime="crimes_against_humanity").item() == "EWP mass-killing onset"
    assert panel["proxy"].sel(crime="genocide").item() == ""
    assert bool(panel["present"].all())
    assert len(panel.attrs["data_hash"]) == 64


def test_parquet_input_gives_the_same_panel(tmp_path: Path) -> None:
    df = _table()
    csv = load_panel(_write(tmp_path, df))
    df.to_parquet(tmp_path / "panel.parquet", index=False)
    (tmp_path / "run2.toml").write_text(CONFIG.replace("panel.csv", "panel.parquet"))
    pq = load_panel(tmp_path / "run2.toml")
    np.testing.assert_array_equal(csv["X"].values, pq["X"].values)
    np.testing.assert_array_equal(csv["onset"].values, pq["onset"].values)


def test_countries_entering_late_are_absent_not_zero(tmp_path: Path) -> None:
    df = _table()
    df = df[~((df.ccode == 20) & (df.year < 2002))]
    panel = load_panel(_write(tmp_path, df))
    assert not panel["present"].sel(country="20", year=2001)
    assert np.isnan(panel["onset"].sel(country="20", year=2001)).all()
    assert np.isnan(panel["ongoing"].sel(country="20", year=2001)).all()


def test_data_hash_changes_with_the_data(tmp_path: Path) -> None:
    df = _table()
    h1 = load_panel(_write(tmp_path, df)).attrs["data_hash"]
    df.loc[0, "coup"] = 1
    h2 = load_panel(_write(tmp_path, df)).attrs["data_hash"]
    assert h1 != h2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns="coup"), r"missing column\(s\) \['coup'\]"),
        (lambda d: pd.concat([d, d.iloc[[3]]]),
         r"duplicate country-years .*; found \('2', 2003\) at row 4, \('2', 2003\) at row 16$"),
        (lambda d: d.assign(mk_onset=d.mk_onset.where(d.index != 6, 2)),
         r"column 'mk_onset' must be 0, 1 or blank; found 2 at row 7"),
        (lambda d: d.assign(coup=d.coup.astype(object).where(d.index != 2, "yes")),
         r"column 'coup' must be numeric; found 'yes' at row 3"),
        (lambda d: d.assign(discrimpop=d.discrimpop.where(d.index != 4, np.inf)),
         r"column 'discrimpop' must be a finite number; found inf at row 5"),
        (lambda d: d[~((d.ccode == 2) & (d.year == 2002))],
         r"country '2' .* no rows for years \[2002\]"),
        (lambda d: d.assign(region=d.region.where(d.index != 11, None)),
         r"column 'region' has no value \(blank or NaN\) at row 12"),
        (lambda d: d.assign(year=d.year.astype(float).where(d.index != 0, 2000.5)),
         r"column 'year' must be a whole year; found 2000.5 at row 1"),
        (lambda d: d.assign(gen_ongoing=d.gen_ongoing.where(d.index != 12, 1)),
         r"both an onset .* and an ongoing"),
    ],
    ids=["missing-column", "duplicate", "outcome-2", "text", "inf", "gap", "no-region", "year",
         "onset-and-ongoing"],
)
def test_bad_tables_are_refused_with_file_column_and_rows(tmp_path, mutate, message) -> None:
    cfg = _write(tmp_path, mutate(_table()).reset_index(drop=True))
    with pytest.raises(PanelError, match=message) as info:
        load_panel(cfg)
    text = str(info.value)
    assert "\n" not in text
    assert str(tmp_path / "panel.csv") in text


def test_text_na_is_not_silently_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, _table())
    csv = (tmp_path / "panel.csv").read_text().splitlines()
    head = csv[0].split(",")
    fields = csv[3].split(",")
    fields[head.index("coup")] = "NA"
    csv[3] = ",".join(fields)
    (tmp_path / "panel.csv").write_text("\n".join(csv) + "\n")
    with pytest.raises(PanelError, match=r"'coup' must be numeric; found 'NA' at row 3"):
        load_panel(path)


def test_gaps_are_allowed_when_declared(tmp_path: Path) -> None:
    df = _table()
    df = df[~((df.ccode == 2) & (df.year == 2002))]
    cfg = CONFIG.replace('region = "region"', 'region = "region"\nallow_gaps = true')
    panel = load_panel(_write(tmp_path, df, cfg))
    assert not panel["present"].sel(country="2", year=2002)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    cfg = _write(tmp_path, _table())
    (tmp_path / "panel.csv").write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(PanelError, match=r"panel\.csv"):
        load_panel(cfg)
    (tmp_path / "panel.csv").unlink()
    with pytest.raises(PanelError, match=r"panel.csv: file not found"):
        load_panel(cfg)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c + "\n[modle]\nx = 1\n", r"unknown key\(s\) \['modle'\]"),
        (lambda c: c.replace("genocide = \"gen_onset\"", "genocid = \"gen_onset\""),
         r"unknown crime name\(s\) \['genocid'\]"),
        (lambda c: c.replace('year = "year"', 'year = "year"\ntabel = "x.csv"'),
         r"\[data\]: unknown key\(s\) \['tabel'\]"),
        (lambda c: c + "\n[model]\nhorizon = 3\n",
         r"\[model\] horizon = 3: expected one of \[1, 2\]"),
        (lambda c: c + "\n[model]\ndraws = 0\n", r"draws = 0: expected a positive integer"),
        (lambda c: c.replace("risk_factors = [4, 9]", "risk_factors = [4, 15]"),
         r"risk factor 15 is not a number 1-14"),
        (lambda c: c + "\n[indicators.gdp]\ndescription = 'x'\n", r"'gdp' is not one of"),
        (lambda c: c.replace("[data]", "[data\n"), r"not valid TOML"),
    ],
    ids=["section", "crime", "data-key", "horizon", "draws", "risk-factor", "indicator", "toml"],
)
def test_bad_configs_are_refused(tmp_path, edit, message) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(edit(CONFIG))
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_cli_validate_prints_summary_and_exits_2_on_bad_input(tmp_path, capsys) -> None:
    cfg = _write(tmp_path, _table())
    assert main(["validate", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "countries: 3" in out
    assert "crimes_against_humanity     1 / 14 " in out  # one onset among 14 known outcomes
    assert "genocide                    1 / 13 " in out  # 2 ongoing years not at risk
    assert "[proxy: EWP mass-killing onset]" in out
    assert "discrimpop                   6.7%" in out  # 1 of 15 country-years missing
    df = _table()
    df.loc[3, "mk_onset"] = 5
    cfg = _write(tmp_path, df)
    assert main(["validate", "--config", str(cfg)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 4" in err and "'mk_onset'" in err


def test_console_script_runs(tmp_path: Path) -> None:
    cfg = _write(tmp_path, _table())
    done = subprocess.run(
        [sys.executable, "-m", "r2p_models.cli", "validate", "--config", str(cfg)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "valid: all checks passed" in done.stdout


def test_config_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    sub = tmp_path / "deep"
    sub.mkdir()
    _table().to_csv(sub / "panel.csv", index=False)
    cfg = tmp_path / "run.toml"
    cfg.write_text(textwrap.dedent(CONFIG).replace('"panel.csv"', '"deep/panel.csv"'))
    assert load_config(cfg).data.table == (sub / "panel.csv").resolve()
    assert load_panel(cfg).sizes["country"] == 3


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[model]\ntarget_accept = "high"',
         r"run\.toml \[model\] target_accept = 'high': expected a number in \[0\.5, 1\)"),
        ("[model]\ntarget_accept = true", r"target_accept = True: expected a number"),
        ('[model]\nseed = "abc"', r"run\.toml \[model\] seed = 'abc': expected an integer"),
        ("[model]\nseed = -1", r"\[model\] seed = -1: expected an integer from 0"),
        ("[model]\nseed = 1.5", r"\[model\] seed = 1\.5: expected an integer"),
        ("[model]\nhorizon = 1.0", r"\[model\] horizon = 1\.0: expected one of \[1, 2\]"),
        ("[model]\nhorizon = true", r"\[model\] horizon = True: expected one of \[1, 2\]"),
        ("[model]\nsampler = 5", r"\[model\] sampler = 5: expected one of"),
        ('[report]\ntop_n = "thirty"',
         r"run\.toml \[report\] top_n = 'thirty': expected a positive integer"),
        ("[report]\ntop_n = 0", r"\[report\] top_n = 0: expected a positive integer"),
        ("[report]\ntitle = 5", r"run\.toml \[report\] title = 5: expected a string"),
        ("[report]\npath = 5", r"run\.toml \[report\] path = 5: expected a path"),
        ("[indicators.coup]\ndescription = 5",
         r"run\.toml \[indicators\.coup\] description = 5: expected a string"),
        ("[ledger]\nsource = 5",
         r"run\.toml \[ledger\] source = 5: expected a non-empty string"),
        ('[ledger]\nsource = ""', r"\[ledger\] source = '': expected a non-empty string"),
    ],
)
def test_config_values_of_the_wrong_type_exit_2_naming_file_and_key(tmp_path, capsys, section,
                                                                     message) -> None:
    cfg = _write(tmp_path, _table(), CONFIG + "\n" + section + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)
    assert main(["--log-format", "text", "validate", "--config", str(cfg)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error:" in err


def test_config_values_of_the_right_type_are_kept(tmp_path) -> None:
    cfg = load_config(_write(tmp_path, _table(), CONFIG + """
[model]
seed = 7
target_accept = 0.95
horizon = 1
[ledger]
path = "out/ledger.sqlite"
source = "mine"
[report]
title = "T"
top_n = 5
"""))
    assert (cfg.model.seed, cfg.model.target_accept, cfg.model.horizon) == (7, 0.95, 1)
    assert cfg.ledger.path == (tmp_path / "out" / "ledger.sqlite").resolve()
    assert (cfg.ledger.source, cfg.report.title, cfg.report.top_n) == ("mine", "T", 5)


@pytest.fixture()
def world(tmp_path) -> Path:
    from r2p_models.data.simulate import simulate_world, write_world

    return write_world(simulate_world(3, n_years=8, scale=0.1), tmp_path)


def _edit_reports(config: Path, edit) -> pd.DataFrame:
    path = config.parent / "reports.csv"
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"value": object})
    df = edit(df)
    df.to_csv(path, index=False)
    return df


def test_one_bad_report_value_names_only_its_file_row(world, capsys) -> None:
    def edit(df):
        df.loc[6, "value"] = "high"  # data row 7 of the file (header excluded)
        return df

    _edit_reports(world, edit)
    assert main(["--log-format", "text", "validate", "--config", str(world)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{world.parent / 'reports.csv'}: column 'value' must be numeric; found 'high' at " \
           "row 7\n" in err


def test_bad_report_rows_are_named_as_rows_of_the_file(world) -> None:
    def edit(df):
        df["year"] = df["year"].astype(object)
        df.loc[9, "year"] = "1981.5"  # data row 10
        return df

    _edit_reports(world, edit)
    with pytest.raises(PanelError, match=r"reports\.csv: column 'year' must be a whole year; "
                                         r"found 1981.5 at row 10$"):
        load_panel(world)


def test_a_report_of_an_unknown_indicator_is_an_error_naming_its_rows(world) -> None:
    def edit(df):
        df.loc[[2, 5], "indicator"] = "hate_speeech"  # data rows 3 and 6
        return df

    _edit_reports(world, edit)
    with pytest.raises(PanelError, match=r"reports\.csv: indicator\(s\) \['hate_speeech'\] at "
                                         r"rows 3, 6 are not predictors fused from the reports"):
        load_panel(world)


def test_reports_of_years_outside_the_table_are_logged_by_row(world, caplog) -> None:
    base = load_panel(world)
    first = int(base.year.min())

    def edit(df):
        extra = df.iloc[[0, 1]].copy()
        extra["year"] = first - 1  # a year the table does not cover
        return pd.concat([df, extra], ignore_index=True)

    df = _edit_reports(world, edit)
    n = len(df)
    with caplog.at_level("WARNING", logger="r2p_models.data.panel"):
        panel = load_panel(world)
    msgs = [r.getMessage() for r in caplog.records if r.name == "r2p_models.data.panel"]
    assert len(msgs) == 1
    assert f"2 report(s) at rows {n - 1}, {n} are of country-years without a row" in msgs[0]
    assert f"years [{first - 1}]" in msgs[0]
    assert list(panel.year.values) == list(base.year.values)


def _with_reports(tmp_path: Path, extra_config: str = "") -> Path:
    """The small table plus a fused indicator 'events': un and ngo report 14 country-years
    together, solo alone reports the fifteenth (2004 of country 500)."""
    rng = np.random.default_rng(5)
    rows = []
    for c in (2, 20, 500):
        for y in range(2000, 2005):
            truth = rng.normal()
            if (c, y) == (500, 2004):
                rows.append((c, y, "events", "solo", 3.25))
                continue
            rows.append((c, y, "events", "un", truth + rng.normal(0, 0.3)))
            rows.append((c, y, "events", "ngo", truth + 0.5 + rng.normal(0, 0.6)))
    pd.DataFrame(rows, columns=["country", "year", "indicator", "source", "value"]).to_csv(
        tmp_path / "reports.csv", index=False)
    config = CONFIG.replace('predictors = ["discrimpop", "coup"]',
                            'predictors = ["discrimpop", "coup", "events"]\n'
                            'reports = "reports.csv"')
    return _write(tmp_path, _table(), config + extra_config)


def test_an_unidentified_error_variance_says_how_to_give_it_in_the_run_config(tmp_path) -> None:
    cfg = _with_reports(tmp_path)
    with pytest.raises(PanelError, match=r"source 'solo' of indicator 'events' never reports.*"
                                         r"run config as \[data\.error_variance\] "
                                         r"\"events/solo\" = v"):
        load_panel(cfg)


def test_error_variances_from_the_run_config_reach_the_fusion(tmp_path) -> None:
    cfg = _with_reports(tmp_path, '\n[data.error_variance]\n"events/solo" = 0\n')
    assert load_config(cfg).data.error_variance == {("events", "solo"): 0.0}
    panel = load_panel(cfg)
    # an exact source seen alone: its value passes through (bias 0: it is linked to no
    # other source), with variance 0
    one = panel.sel(country="500", year=2004, indicator="events")
    assert float(one["X"]) == 3.25 and float(one["X_var"]) == 0.0
    other = panel.sel(country="2", year=2000, indicator="events")
    assert float(other["X_var"]) > 0  # un and ngo: estimated, not exact
    assert "solo" in str(panel["fused_from"].sel(indicator="events").item())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('"events" = 1.0', r'\[data\.error_variance\] "events": expected a key '
                           r'"indicator/source"'),
        ('"events/solo" = -1', r'\[data\.error_variance\] "events/solo" = -1: expected a '
                               r"number >= 0"),
        ('"events/solo" = "low"', r'"events/solo" = \'low\': expected a number >= 0'),
        ('"gdp/solo" = 1', r"'gdp' is not one of \[data\] predictors"),
    ],
)
def test_bad_error_variances_are_refused(tmp_path, table, message) -> None:
    cfg = _with_reports(tmp_path, f"\n[data.error_variance]\n{table}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_error_variances_need_a_reports_table(tmp_path) -> None:
    cfg = _write(tmp_path, _table(), CONFIG + '\n[data.error_variance]\n"coup/solo" = 1\n')
    with pytest.raises(ConfigError, match=r"error variances need \[data\] reports"):
        load_config(cfg)


def test_json_logs_turn_a_warning_into_one_json_line(tmp_path, capsys) -> None:
    """A scheduled run's stderr is JSON lines only, even when a library warns."""
    import json
    import logging
    import warnings

    # un and ngo report only 5 country-years together: the fusion warns (too few overlaps)
    rows = []
    for c in (2, 20, 500):
        for y in range(2000, 2005):
            rows.append((c, y, "events", "un", 0.1 * c + y - 2000))
            if c == 2:
                rows.append((c, y, "events", "ngo", 0.1 * c + y - 2000 + 0.3 * (-1) ** y))
    pd.DataFrame(rows, columns=["country", "year", "indicator", "source", "value"]).to_csv(
        tmp_path / "reports.csv", index=False)
    config = CONFIG.replace('predictors = ["discrimpop", "coup"]',
                            'predictors = ["discrimpop", "coup", "events"]\n'
                            'reports = "reports.csv"')
    cfg = _write(tmp_path, _table(), config)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            assert main(["--log-format", "json", "validate", "--config", str(cfg)]) == 0
    finally:
        logging.captureWarnings(False)
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    warned = [r for r in records if "FusionWarning" in r["message"]]
    assert warned and all(r["level"] == "WARNING" and r["logger"] == "py.warnings"
                          for r in warned)
    assert "only 5 overlapping" in warned[0]["message"]
    # the warning's text spans lines (message, then the source line): one record all the same
    assert "\n" in warned[0]["message"]


# --- the panel as its fused indicators stood at a year (backtests without look-ahead) -------


def test_panel_as_of_fuses_only_the_reports_known_then(world) -> None:
    """Fused values at year t are the fusion of the reports of years <= t alone (an
    independent call of fuse_reports on the filtered file), later years are unknown, and
    table columns are untouched."""
    from r2p_models.data.fusion import fuse_reports
    from r2p_models.data.panel import panel_as_of

    panel = load_panel(world)
    reports = pd.read_csv(world.parent / "reports.csv", dtype={"country": str})
    years = panel.year.values
    t = int(years[3])
    fused = [str(p) for p, f in zip(panel.indicator.values, panel.fused_from.values,
                                    strict=True) if f]
    table_cols = [str(p) for p in panel.indicator.values if str(p) not in fused]
    assert fused and table_cols
    # the fusion of all years differs at t from the fusion of the reports known at t
    expected = fuse_reports(reports[reports.year <= t]).estimate
    exp_var = fuse_reports(reports[reports.year <= t]).variance
    old = panel.X.sel(indicator=fused, year=slice(None, t))
    assert not np.allclose(old.values, expected.sel(indicator=fused, year=old.year,
                                                    country=old.country).values, equal_nan=True)

    now = panel_as_of(panel, t)
    got = now.X.sel(indicator=fused, year=slice(None, t))
    want = expected.sel(indicator=fused, year=got.year, country=got.country)
    np.testing.assert_allclose(got.transpose(*want.dims).values, want.values, rtol=1e-12)
    got_v = now.X_var.sel(indicator=fused, year=slice(None, t))
    want_v = exp_var.sel(indicator=fused, year=got.year, country=got.country)
    np.testing.assert_allclose(got_v.transpose(*want_v.dims).values, want_v.values, rtol=1e-12)
    assert now.X.sel(indicator=fused, year=slice(t + 1, None)).isnull().all()
    assert now.X_var.sel(indicator=fused, year=slice(t + 1, None)).isnull().all()
    np.testing.assert_array_equal(now.X.sel(indicator=table_cols).values,
                                  panel.X.sel(indicator=table_cols).values)
    assert now.sizes["report"] == int((reports.year <= t).sum())
    assert now.attrs["fused_as_of"] == t and now.attrs["data_hash"] == panel.attrs["data_hash"]
    # what was not known at t cannot be brought back by asking for a later year
    later = panel_as_of(now, t + 2)
    np.testing.assert_array_equal(later.X.sel(year=slice(None, t)).values,
                                  now.X.sel(year=slice(None, t)).values)
    # at the last year every report is known: the loaded panel itself
    last = panel_as_of(panel, int(years[-1]))
    np.testing.assert_array_equal(last.X.values, panel.X.values)
    np.testing.assert_array_equal(last.X_var.values, panel.X_var.values)


def test_panel_as_of_is_kept_but_never_stale(world) -> None:
    """A second call gives the same values as a fresh fusion, a changed copy of it leaves
    the kept one alone, and a panel changed in place is fused again (the value a fresh
    fusion of the changed reports gives)."""
    from r2p_models.data.fusion import fuse_reports
    from r2p_models.data.panel import _AS_OF_CACHE, panel_as_of

    panel = load_panel(world)
    t = int(panel.year.values[5])
    first = panel_as_of(panel, t)
    first["X"].values[:] = 99.0  # a caller's edit of its copy
    again = panel_as_of(panel, t)
    assert not (again.X.values == 99.0).any()
    assert any(k[0] == id(panel) and k[1] == t for k in _AS_OF_CACHE)
    # change the panel object's reports (same object): every report is doubled
    fused = [str(p) for p, f in zip(panel.indicator.values, panel.fused_from.values,
                                    strict=True) if f]
    panel["report_value"] = 2.0 * panel["report_value"]
    changed = panel_as_of(panel, t)
    rep = pd.DataFrame({c: panel[f"report_{c}"].values for c in
                        ("country", "year", "indicator", "source", "value")})
    want = fuse_reports(rep[rep.year <= t]).estimate
    got = changed.X.sel(indicator=fused, year=t)
    np.testing.assert_allclose(
        got.values, want.sel(indicator=fused, year=t, country=got.country)
        .transpose(*got.dims).values, rtol=1e-12)
    assert not np.allclose(got.values, again.X.sel(indicator=fused, year=t).values,
                           equal_nan=True)


def test_a_panel_without_reports_is_its_own_panel_as_of_any_year(tmp_path) -> None:
    from r2p_models.data.panel import panel_as_of

    panel = load_panel(_write(tmp_path, _table()))
    assert "report" not in panel.dims
    assert panel_as_of(panel, 2001) is panel


def test_reports_that_cannot_yet_be_fused_are_an_error_naming_the_year(tmp_path) -> None:
    """'solo' reports 500/2001 alone and first shares a country-year with another source in
    2003: its error variance is identified from the whole file, not from the reports up to
    2002."""
    from r2p_models.backtest import check_origins
    from r2p_models.data.fusion import FusionWarning
    from r2p_models.data.panel import panel_as_of

    cfg = _with_reports(tmp_path)
    rep = pd.read_csv(tmp_path / "reports.csv")
    rep = rep[(rep.source != "solo") & ~((rep.country == 500) & (rep.year == 2001))]
    extra = pd.DataFrame([(500, 2001, "events", "solo", 1.5), (2, 2003, "events", "solo", 0.2),
                          (20, 2004, "events", "solo", 0.1)], columns=rep.columns)
    pd.concat([rep, extra]).to_csv(tmp_path / "reports.csv", index=False)
    with pytest.warns(FusionWarning, match="only 2 overlapping"):
        panel = load_panel(cfg)
    with pytest.raises(PanelError, match=r"reports up to 2002 cannot be fused: source 'solo' "
                                         r"of indicator 'events' never reports"):
        panel_as_of(panel, 2002)
    with pytest.raises(PanelError, match="up to 2002"):
        check_origins(panel, [2002, 2003], 1)
    with pytest.warns(FusionWarning, match=r"reports up to 2003: error variance of source "
                                           r"'solo' .* only 1 overlapping"):
        panel_as_of(panel, 2003)


# --- hardening: years, ragged rows, bytes that are not UTF-8 --------------------------------

def _with_data_keys(keys: str) -> str:
    """CONFIG with extra lines in its [data] table."""
    return CONFIG.replace('region = "region"', f'region = "region"\n{keys}')


@pytest.mark.parametrize("allow_gaps", [False, True])
@pytest.mark.parametrize(("year", "shown"), [(99999999, "99999999"), (-5, "-5"),
                                             (1e30, "1e+30"), (1799, "1799"), (2201, "2201")])
def test_years_outside_the_plausible_range_are_refused_naming_the_row(tmp_path, allow_gaps, year,
                                                                      shown) -> None:
    """A year of 99999999 used to make the gap check build a set of 10**8 years (and with
    allow_gaps a 50 GiB grid); it is refused, naming file, column and row, before either."""
    df = _table().astype({"year": float})
    df.loc[7, "year"] = year  # data row 8
    keys = "allow_gaps = true" if allow_gaps else ""
    cfg = _write(tmp_path, df, _with_data_keys(keys))
    with pytest.raises(PanelError) as info:
        load_panel(cfg)
    text = str(info.value)
    assert text.startswith(f"{tmp_path / 'panel.csv'}: column 'year' must be a year in "
                           f"1800-2200; found {shown} at row 8;")
    assert "\n" not in text


def test_the_year_range_is_set_in_the_run_config(tmp_path) -> None:
    df = _table()
    df["year"] -= 300  # 1700-1704
    with pytest.raises(PanelError, match=r"must be a year in 1800-2200; found 1700 at row 1, "
                                         r"1701 at row 2, .* and 10 more; widen"):
        load_panel(_write(tmp_path, df))
    wide = load_panel(_write(tmp_path, df, _with_data_keys("years = [1600, 2200]")))
    assert list(wide.year.values) == [1700, 1701, 1702, 1703, 1704]
    # the range is a check, not a data role: it changes neither the data nor the config hash
    cfg_a = load_config(_write(tmp_path, df, _with_data_keys("years = [1700, 1800]")))
    panel_a = load_panel(cfg_a)
    assert cfg_a.data.years == (1700, 1800)
    assert panel_a.attrs["data_hash"] == wide.attrs["data_hash"]
    assert cfg_a.hash() == load_config(_write(tmp_path, df, _with_data_keys(
        "years = [1650, 1900]"))).hash() == load_config(_write(tmp_path, df)).hash()
    assert load_config(_write(tmp_path, _table())).data.years == (1800, 2200)


@pytest.mark.parametrize("value", ["1800", "[1800]", "[1800, 2200, 2300]", "[2200, 1800]",
                                   "[1800.0, 2200]", "[true, 2200]", '["1800", "2200"]',
                                   "[-1, 2200]", "[1800, 10000]"])
def test_bad_year_ranges_are_refused(tmp_path, value) -> None:
    cfg = _write(tmp_path, _table(), _with_data_keys(f"years = {value}"))
    import tomllib

    shown = repr(tomllib.loads(f"v = {value}")["v"])
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert str(info.value) == (f"{cfg} [data] years = {shown}: expected [first, last], two "
                               "whole years with 0 <= first <= last <= 9999")


def test_report_years_outside_the_range_are_refused_naming_the_reports_row(tmp_path) -> None:
    cfg = _with_reports(tmp_path, '\n[data.error_variance]\n"events/solo" = 0\n')
    path = tmp_path / "reports.csv"
    rep = pd.read_csv(path)
    rep.loc[[4, 9], "year"] = 99999999  # data rows 5 and 10
    rep.to_csv(path, index=False)
    with pytest.raises(PanelError) as info:
        load_panel(cfg)
    assert str(info.value) == (f"{path}: column 'year' must be a year in 1800-2200; found "
                               "99999999 at row 5, 99999999 at row 10; widen [data] years = "
                               "[1800, 2200] if they are real")


def _csv_lines(tmp_path: Path) -> tuple[Path, list[str]]:
    cfg = _write(tmp_path, _table())
    return cfg, (tmp_path / "panel.csv").read_text().splitlines()


@pytest.mark.parametrize(("keep", "got"), [(4, 4), (9, 9)])
def test_a_row_with_too_few_or_too_many_fields_is_refused_naming_its_line(tmp_path, keep,
                                                                          got) -> None:
    """A row of 4 of the 8 fields used to be read as 4 blanks (here: accepted as a
    country-year with unknown outcomes)."""
    cfg, lines = _csv_lines(tmp_path)
    fields = lines[5].split(",")  # line 6 of the file: data row 5
    assert len(fields) == 8
    lines[5] = ",".join([*fields, "0"][:keep])
    (tmp_path / "panel.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(PanelError) as info:
        load_panel(cfg)
    assert str(info.value) == (f"{tmp_path / 'panel.csv'}: line 6 has {got} cells, the header "
                               "has 8")


def test_a_quoted_newline_and_blank_lines_are_not_ragged_rows(tmp_path) -> None:
    cfg, lines = _csv_lines(tmp_path)
    df = _table()
    head = lines[0].split(",")
    lines[0] = lines[0].replace("region", '"reg\nion"')
    fields = lines[4].split(",")
    fields[head.index("coup")] = ""
    lines[4] = ",".join(fields)
    (tmp_path / "panel.csv").write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")
    panel = load_panel(_write_config_only(tmp_path, CONFIG.replace('"region"', '"reg\\nion"')))
    assert panel.sizes["country"] == df.ccode.nunique()
    assert np.isnan(panel["X"].sel(country="2", year=2003, indicator="coup"))
    # and a ragged row after a quoted newline is named by the line it starts on
    lines[7] = "20,2001,Americas"
    (tmp_path / "panel.csv").write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")
    with pytest.raises(PanelError, match=r"panel\.csv: line 10 has 3 cells, the header has 8$"):
        load_panel(cfg)


def _write_config_only(tmp_path: Path, config: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(config)
    return path


def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path) -> None:
    cfg, lines = _csv_lines(tmp_path)
    plain = load_panel(cfg)
    (tmp_path / "panel.csv").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    np.testing.assert_array_equal(load_panel(cfg)["X"].values, plain["X"].values)


def _latin1_at(path: Path, line: int, column: int) -> None:
    """Put the Latin-1 byte of 'é' (0xe9) before character ``column`` of line ``line``."""
    lines = path.read_bytes().split(b"\n")
    text = lines[line - 1].decode()
    lines[line - 1] = text[:column - 1].encode() + b"\xe9" + text[column - 1:].encode()
    path.write_bytes(b"\n".join(lines))


def test_a_byte_that_is_not_utf8_is_named_by_file_line_and_column(tmp_path, capsys) -> None:
    cfg = _write(tmp_path, _table().assign(name="Côte"),
                 CONFIG.replace('region = "region"', 'region = "region"\nname = "name"'))
    path = tmp_path / "panel.csv"
    # after the 'ô' (two bytes, one character) of line 4: column 4 counts characters
    line4 = path.read_text().splitlines()[3]
    column = line4.index("Côte") + len("Côt") + 1
    _latin1_at(path, 4, column)
    with pytest.raises(PanelError) as info:
        load_panel(cfg)
    assert str(info.value) == (f"{path}: line 4, column {column}: byte 0xe9 is not UTF-8 "
                               "(save the file as UTF-8)")
    assert main(["--log-format", "text", "validate", "--config", str(cfg)]) == EXIT_BAD_INPUT
    assert f"line 4, column {column}: byte 0xe9" in capsys.readouterr().err


def test_a_reports_byte_that_is_not_utf8_is_named_by_line_and_column(tmp_path) -> None:
    cfg = _with_reports(tmp_path)
    _latin1_at(tmp_path / "reports.csv", 3, 2)
    with pytest.raises(PanelError) as info:
        load_panel(cfg)
    assert str(info.value) == (f"{tmp_path / 'reports.csv'}: line 3, column 2: byte 0xe9 is "
                               "not UTF-8 (save the file as UTF-8)")


def test_a_config_byte_that_is_not_utf8_is_named_by_line_and_column(tmp_path) -> None:
    cfg = _write(tmp_path, _table(), "# run config\n# caf" + CONFIG)
    _latin1_at(cfg, 2, 6)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert str(info.value) == (f"{cfg}: line 2, column 6: byte 0xe9 is not UTF-8 (save the "
                               "file as UTF-8)")
