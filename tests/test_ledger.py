"""Tests of the forecast ledger: immutability, atomicity, concurrency, resolution, CSV I/O."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import snapshot

from r2p_models.crimes import CRIMES
from r2p_models.errors import InputError
from r2p_models.ledger import (
    COLUMNS,
    SCHEMA_VERSION,
    Ledger,
    LedgerBusyError,
    LedgerConflictError,
    LedgerLockedError,
    LedgerNotFoundError,
    LedgerResolutionWarning,
    LedgerSchemaError,
    LedgerValidationError,
    export_ledger_csv,
    ledger_lock,
)

FORK = mp.get_context("fork")
SRC = "r2p-hierarchical 0.1.0"
T0 = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


def frame(n_countries: int = 3, origin: int = 2020, horizon: int = 2, seed: int = 0,
          ) -> pd.DataFrame:
    """Forecasts for every country x crime, window origin+1..origin+horizon."""
    rng = np.random.default_rng(seed)
    countries = [f"C{i:02d}" for i in range(n_countries)]
    idx = pd.MultiIndex.from_product([countries, CRIMES], names=["country", "crime"])
    df = idx.to_frame(index=False)
    df["origin_year"] = origin
    df["target_start"] = origin + 1
    df["target_end"] = origin + horizon
    q = np.sort(rng.uniform(0, 0.3, size=(len(df), 3)), axis=1)
    df["p_q05"], df["p_q50"], df["p_q95"] = q.T
    df["p_mean"] = q[:, 1] + 0.001
    return df


def issue(led: Ledger, df: pd.DataFrame, **kw):
    args = dict(source=SRC, kind="forecast", run_id="run-1", data_hash="sha256:d",
                config_hash="sha256:c", issued_at=T0)
    args.update(kw)
    return led.issue(df, **args)






# ----------------------------------------------------------------------------- schema


def test_new_ledger_has_schema_and_reopens(path: Path) -> None:
    with Ledger(path) as led:
        assert len(led) == 0
        issue(led, frame())
    with Ledger(path, create=False) as led:
        assert len(led) == 3 * len(CRIMES)
    con = sqlite3.connect(path)
    meta = dict(con.execute("SELECT key, value FROM meta"))
    cols = [r[1] for r in con.execute("PRAGMA table_info(forecasts)")]
    con.close()
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert cols == list(COLUMNS)


@pytest.mark.parametrize("version, word", [("99", "newer"), ("abc", "unknown")])
def test_newer_or_unknown_schema_is_refused(path: Path, version: str, word: str) -> None:
    Ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    con.commit()
    con.close()
    with pytest.raises(LedgerSchemaError, match=word):
        Ledger(path)


def test_other_files_are_not_ledgers(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(LedgerSchemaError, match="not an r2p ledger"):
        Ledger(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all" * 50)
    with pytest.raises(LedgerSchemaError, match="not readable as SQLite"):
        Ledger(text)
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(LedgerNotFoundError, match="does not exist"):
        Ledger(missing, create=False)
    with pytest.raises(LedgerNotFoundError):
        export_ledger_csv(missing, tmp_path / "out.csv")
    assert not missing.exists() and not (tmp_path / "out.csv").exists()


def test_database_itself_enforces_constraints_and_immutability(path: Path) -> None:
    with Ledger(path) as led:
        issue(led, frame(1))
    before = snapshot(path)
    con = sqlite3.connect(path)
    row = ("x", "forecast", "r", "2026-01-01T00:00:00Z", 2020, "A", "genocide", 2, 2021, 2022,
           0.5, None, None, None, "d", "c")
    insert = ("INSERT INTO forecasts (source, kind, run_id, issued_at, origin_year, country, crime,"
              " horizon, target_start, target_end, p_mean, p_q05, p_q50, p_q95, data_hash,"
              " config_hash) VALUES (" + ", ".join("?" * 16) + ")")
    bad_rows = {
        "p > 1": {10: 1.5},
        "unknown crime": {6: "genocidee"},
        "window before origin": {8: 2020, 7: 0},
        "bad kind": {1: "guess"},
        "unordered quantiles": {11: 0.6, 13: 0.4},
    }
    for why, change in bad_rows.items():
        bad = list(row)
        for i, v in change.items():
            bad[i] = v
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(insert, bad)
            pytest.fail(why)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        con.execute("UPDATE forecasts SET p_mean = 0.9")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        con.execute("DELETE FROM forecasts")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM issue_log")
    con.rollback()
    con.close()
    assert snapshot(path) == before


# ------------------------------------------------------------------------------ issue


def test_issue_stores_values_and_types(path: Path) -> None:
    df = frame()
    with Ledger(path) as led:
        res = issue(led, df)
        rows = led.rows()
    assert (res.inserted, res.unchanged) == (len(df), 0)
    assert res.issued_at == "2026-01-15T12:00:00Z"
    assert list(rows.columns) == list(COLUMNS)
    for c in ("origin_year", "target_start", "target_end", "horizon"):
        assert rows[c].dtype == np.int64
    merged = df.merge(rows, on=["country", "crime"], suffixes=("", "_l"))
    for c in ("p_mean", "p_q05", "p_q50", "p_q95"):
        np.testing.assert_array_equal(merged[c], merged[f"{c}_l"])  # bit-identical
    assert (rows.horizon == 2).all() and (rows.outcome_status == "pending").all()
    assert rows.outcome.isna().all()
    assert set(rows.kind) == {"forecast"} and set(rows.source) == {SRC}


def test_idempotent_reissue_changes_nothing_but_the_log(path: Path) -> None:
    df = frame()
    with Ledger(path) as led:
        issue(led, df)
        before = snapshot(path)
        res = issue(led, df.sample(frac=1, random_state=1), run_id="run-2")
        assert (res.inserted, res.unchanged) == (0, len(df))
        after = snapshot(path)
        runs = led.runs()
    assert after["forecasts"] == before["forecasts"]
    assert len(after["issue_log"]) == len(before["issue_log"]) + 1
    assert runs[["run_id", "n_rows", "n_unchanged"]].values.tolist() == [
        ["run-1", len(df), 0], ["run-2", 0, len(df)]]


def test_conflicting_reissue_is_refused_and_ledger_unchanged(path: Path) -> None:
    df = frame()
    with Ledger(path) as led:
        issue(led, df)
        before = snapshot(path)
        # a call mixing new cases (next origin) with one changed probability
        changed = pd.concat([frame(origin=2021), df], ignore_index=True)
        i = len(df) + 5
        changed.loc[i, "p_mean"] += 0.01
        with pytest.raises(LedgerConflictError) as err:
            issue(led, changed, run_id="run-2")
        msg = str(err.value)
        r = changed.loc[i]
        old_p, new_p = repr(float(df.loc[5, "p_mean"])), repr(float(r.p_mean))
        for part in (SRC, "origin 2020", repr(r.country), repr(r.crime), old_p, new_p,
                     "nothing was written"):
            assert part in msg
        # a quantile-only change is also a different forecast
        q = df.copy()
        q.loc[0, "p_q95"] = 0.99
        with pytest.raises(LedgerConflictError, match="p_q95"):
            issue(led, q, run_id="run-3")
    assert snapshot(path) == before


def test_new_source_or_kind_is_a_new_row(path: Path) -> None:
    df = frame(1)
    other = df.assign(p_mean=df.p_mean / 2, p_q05=np.nan, p_q50=np.nan, p_q95=np.nan)
    with Ledger(path) as led:
        issue(led, df)
        assert issue(led, other, source="r2p-hierarchical 0.2.0").inserted == len(df)
        assert issue(led, other, kind="backtest").inserted == len(df)
        rows = led.rows()
        assert len(rows) == 3 * len(df)
        assert len(led.rows(kind="backtest")) == len(df)
        assert len(led.rows(source=[SRC, "nobody"])) == 2 * len(df)
        assert led.rows(source="r2p-hierarchical 0.2.0").p_q05.isna().all()
        with pytest.raises(ValueError, match="unknown column 'colour'"):
            led.rows(colour="red")


@pytest.mark.parametrize(
    "change, column, row",
    [
        (lambda d: d.assign(p_mean=d.p_mean.where(d.index != 3, 1.2)), "p_mean", "row 3"),
        (lambda d: d.assign(p_mean=d.p_mean.where(d.index != 2, np.nan)), "p_mean", "row 2"),
        (lambda d: d.assign(crime=d.crime.where(d.index != 4, "genocidee")), "crime", "row 4"),
        (lambda d: d.assign(target_start=d.target_start.where(d.index != 1, 2020)),
         "target_start", "row 1"),
        (lambda d: d.assign(target_end=d.target_end.where(d.index != 6, 2020.5)),
         "target_end", "row 6"),
        (lambda d: d.assign(p_q05=d.p_q05.where(d.index != 7, 0.9)), "p_q05", "row 7"),
        (lambda d: d.assign(country=d.country.where(d.index != 0, "")), "country", "row 0"),
        (lambda d: d.assign(origin_year=d.origin_year.astype(str)), "origin_year", "row 0"),
        (lambda d: d.assign(horizon=3), "horizon", "row 0"),
        (lambda d: pd.concat([d, d.iloc[[8]]]), "origin_year", "row 8"),
    ],
)
def test_bad_frames_name_column_and_row(path: Path, change, column: str, row: str) -> None:
    with Ledger(path) as led:
        with pytest.raises(LedgerValidationError) as err:
            issue(led, change(frame()))
        assert len(led) == 0
    msg = str(err.value)
    assert column in msg and row in msg and "\n" not in msg


def test_input_errors_are_input_errors_for_the_cli(path: Path) -> None:
    for exc in (LedgerValidationError, LedgerConflictError, LedgerSchemaError,
                LedgerNotFoundError):
        assert issubclass(exc, InputError)  # the CLI turns these into exit code 2
    assert issubclass(LedgerNotFoundError, FileNotFoundError)


def test_bad_frame_columns_and_arguments(path: Path) -> None:
    with Ledger(path) as led:
        with pytest.raises(LedgerValidationError, match=r"missing column\(s\) \['p_mean'\]"):
            issue(led, frame().drop(columns="p_mean"))
        with pytest.raises(LedgerValidationError, match=r"unexpected column.*'q05'"):
            issue(led, frame().assign(q05=0.1))
        assert issue(led, frame().assign(rank=1), ignore_extra_columns=True).inserted == 12
        with pytest.raises(ValueError, match="kind must be one of"):
            issue(led, frame(), kind="guess")
        with pytest.raises(ValueError, match="config_hash must be a non-empty string"):
            issue(led, frame(), config_hash=None)
        with pytest.raises(ValueError, match="timezone-aware"):
            issue(led, frame(), issued_at=dt.datetime(2026, 1, 1))
        assert len(led) == 12


# ------------------------------------------------------------------- crash / atomicity


def test_exception_mid_write_rolls_back(path: Path, monkeypatch) -> None:
    with Ledger(path) as led:
        issue(led, frame())
        before = snapshot(path)

        original = Ledger._insert

        def half_then_fail(self, con, records):
            original(self, con, records[: len(records) // 2])
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(Ledger, "_insert", half_then_fail)
        with pytest.raises(RuntimeError, match="disk on fire"):
            issue(led, frame(origin=2021), run_id="run-2")
        monkeypatch.setattr(Ledger, "_insert", original)
        assert len(led) == 12  # the writer's own connection sees no partial rows either
        assert snapshot(path) == before
        assert issue(led, frame(origin=2021), run_id="run-2").inserted == 12


def _crash_mid_insert(path: str) -> None:
    class Crashing(Ledger):
        def _insert(self, con, records):
            super()._insert(con, records[: len(records) // 2])
            os._exit(3)  # the process dies mid-transaction: no rollback, no cleanup

    led = Crashing(path)
    issue(led, frame(origin=2021), run_id="run-crash")


def test_process_killed_mid_write_leaves_ledger_as_it_was(path: Path) -> None:
    with Ledger(path) as led:
        issue(led, frame())
    before = snapshot(path)
    proc = FORK.Process(target=_crash_mid_insert, args=(str(path),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 3
    # the crash left a hot rollback journal: the write really was interrupted
    assert Path(f"{path}-journal").exists()
    assert snapshot(path) == before  # SQLite rolls the hot journal back on next access
    with Ledger(path) as led:
        assert issue(led, frame(origin=2021), run_id="run-2").inserted == 12
        assert len(led) == 24


# ----------------------------------------------------------------------- concurrency


def _hold_write(path: str, holding, release, values: float) -> None:
    class Holding(Ledger):
        def _insert(self, con, records):
            super()._insert(con, records)
            holding.set()
            release.wait(20)

    with Holding(path) as led:
        issue(led, frame(1).assign(p_mean=values), run_id="first")


@pytest.mark.parametrize("same", [True, False])
def test_second_writer_waits_then_sees_first(path: Path, same: bool) -> None:
    Ledger(path).close()
    holding, release = FORK.Event(), FORK.Event()
    proc = FORK.Process(target=_hold_write, args=(str(path), holding, release, 0.1))
    proc.start()
    try:
        assert holding.wait(20)
        with Ledger(path, busy_timeout=0.1) as impatient, pytest.raises(LedgerBusyError,
                                                                        match="busy timeout"):
            issue(impatient, frame(1).assign(p_mean=0.1), run_id="second")
        outcome: dict[str, object] = {}

        def second() -> None:
            with Ledger(path, busy_timeout=30) as led:
                try:
                    outcome["result"] = issue(led, frame(1).assign(p_mean=0.1 if same else 0.2),
                                              run_id="second")
                except LedgerConflictError as exc:
                    outcome["result"] = exc

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.2)  # let it start waiting (correctness does not depend on this)
        release.set()
        t.join(30)
    finally:
        release.set()
        proc.join(30)
    assert proc.exitcode == 0
    with Ledger(path) as led:
        rows = led.rows()
    assert len(rows) == 4 and set(rows.run_id) == {"first"} and (rows.p_mean == 0.1).all()
    if same:
        assert outcome["result"].unchanged == 4 and outcome["result"].inserted == 0
    else:
        assert isinstance(outcome["result"], LedgerConflictError)


def _hold_lock(path: str, holding, release, crash: bool) -> None:
    with ledger_lock(path):
        holding.set()
        if crash:
            os._exit(0)
        release.wait(20)


def test_run_lock_refuses_second_run_naming_the_holder(path: Path) -> None:
    holding, release = FORK.Event(), FORK.Event()
    proc = FORK.Process(target=_hold_lock, args=(str(path), holding, release, False))
    proc.start()
    try:
        assert holding.wait(20)
        with pytest.raises(LedgerLockedError, match=f"pid {proc.pid}"):
            with ledger_lock(path):
                pass
        with pytest.raises(LedgerLockedError, match=r"waited 0\.1 s"):
            with ledger_lock(path, wait=0.1):
                pass
    finally:
        release.set()
        proc.join(30)
    with Ledger(path) as led, led.run_lock() as lock_file:  # free again
        assert lock_file == Path(f"{path}.lock")
        assert f"pid {os.getpid()}" in lock_file.read_text()


def test_run_lock_is_released_when_the_holder_dies(path: Path) -> None:
    holding, release = FORK.Event(), FORK.Event()
    proc = FORK.Process(target=_hold_lock, args=(str(path), holding, release, True))
    proc.start()
    proc.join(30)
    assert holding.is_set() and proc.exitcode == 0
    with ledger_lock(path):
        pass


# ------------------------------------------------------------------------ resolution

YEARS = np.arange(2015, 2025)


def panel(countries=("A", "B", "C"), fill: float = 0.0) -> xr.DataArray:
    return xr.DataArray(
        np.full((len(countries), len(YEARS), len(CRIMES)), fill),
        dims=("country", "year", "crime"),
        coords={"country": list(countries), "year": YEARS, "crime": list(CRIMES)},
        name="onset",
    )


def case(country: str, crime: str, start: int, end: int, origin: int | None = None) -> dict:
    return dict(origin_year=start - 1 if origin is None else origin, country=country,
                crime=crime, target_start=start, target_end=end, p_mean=0.05)


def test_resolution_rules(path: Path) -> None:
    onset = panel()
    ongoing = panel(fill=0.0)
    g, w, e, h = CRIMES  # genocide, war_crimes, ethnic_cleansing, crimes_against_humanity
    onset.loc["A", 2021, g] = 1
    onset.loc["B", 2022, g] = np.nan
    onset.loc["B", 2021, w] = 1
    onset.loc["B", 2022, w] = np.nan
    onset.loc["A", 2023, w] = 1  # observed, but in a window ending after observed_through
    onset.loc["C", [2021, 2022], e] = np.nan
    ongoing.loc["C", [2021, 2022], e] = 1
    onset.loc["C", 2021, h] = np.nan
    ongoing.loc["C", 2021, h] = 1
    cases = pd.DataFrame([
        case("A", g, 2021, 2022),  # onset in window -> 1
        case("A", w, 2021, 2022),  # all observed 0 -> 0
        case("B", g, 2021, 2022),  # 0 then unknown -> pending
        case("B", w, 2021, 2022),  # onset then unknown -> 1
        case("A", w, 2023, 2024),  # ends after observed_through -> pending
        case("A", w, 2022, 2023),  # ends after observed_through -> pending
        case("D", g, 2021, 2022),  # country absent -> pending
        case("C", e, 2021, 2022),  # ongoing throughout, no onset -> not at risk
        case("C", h, 2021, 2022),  # ongoing 2021, observed 0 in 2022 -> 0
        case("A", g, 2020, 2020),  # observed 0 -> 0
        case("A", g, 2021, 2021, origin=2019),  # onset -> 1
    ])
    expected = [(1, "observed"), (0, "observed"), (None, "pending"), (1, "observed"),
                (None, "pending"), (None, "pending"), (None, "pending"),
                (None, "not_at_risk"), (0, "observed"), (0, "observed"), (1, "observed")]
    with Ledger(path) as led:
        issue(led, cases)
        # without `ongoing`, C's NaN years are unknown: those windows stay pending
        n = led.resolve(onset, outcome_source="panel v1", observed_through=2022)
        assert n == 5
        rows = led.rows()
        assert rows.outcome_status.tolist()[7:9] == ["pending", "pending"]
        n = led.resolve(xr.Dataset({"onset": onset, "ongoing": ongoing}),
                        outcome_source="panel v2", observed_through=2022)
        assert n == 2
        rows = led.rows()
        got = [(None if np.isnan(o) else int(o), s)
               for o, s in zip(rows.outcome, rows.outcome_status, strict=True)]
        assert got == expected
        assert rows.outcome_source.tolist()[:2] == ["panel v1", "panel v1"]
        assert rows.outcome_source.tolist()[7] == "panel v2"
        assert rows.resolved_at.notna().tolist() == [s != "pending" for _, s in expected]
        # idempotent: nothing left to resolve with the same data
        before = snapshot(path)["forecasts"]
        assert led.resolve(onset, outcome_source="panel v3", observed_through=2022,
                           ongoing=ongoing) == 0
        assert snapshot(path)["forecasts"] == before
        # a later panel that observes 2023-2024 resolves the windows left open
        onset.loc["B", 2022, g] = 0
        assert led.resolve(onset, outcome_source="panel v4", observed_through=2024) == 3
        rows = led.rows()
        assert rows.outcome.tolist()[2] == 0 and rows.outcome.tolist()[4:6] == [1, 1]
        assert rows.outcome_status.tolist()[6] == "pending"  # D never observed


def test_a_country_not_at_risk_at_the_origin_is_not_scored(path: Path) -> None:
    """An onset in the origin year, or an episode under way then, means no onset forecast
    applied: the row resolves not at risk even if the window holds a (new) onset."""
    onset, ongoing = panel(), panel(fill=0.0)
    g = CRIMES[0]
    onset.loc["A", 2019, g] = 1       # onset at the origin, episode through 2020,
    ongoing.loc["A", 2020, g] = 1     # a new onset in 2021
    onset.loc["A", 2021, g] = 1
    ongoing.loc["B", 2019, g] = 1     # episode under way at the origin, ends; no onset
    onset.loc["C", 2021, g] = 1       # at risk at the origin: scored as usual
    with Ledger(path) as led:
        issue(led, pd.DataFrame([case(c, g, 2020, 2021, origin=2019) for c in "ABC"]))
        assert led.resolve(xr.Dataset({"onset": onset, "ongoing": ongoing}),
                           outcome_source="p", observed_through=2022) == 3
        rows = led.rows()
    assert rows.outcome_status.tolist() == ["not_at_risk", "not_at_risk", "observed"]
    assert rows.outcome.isna().tolist() == [True, True, False] and rows.outcome.iloc[2] == 1


def test_present_false_years_are_unknown(path: Path) -> None:
    onset = panel()
    present = xr.DataArray(np.ones((3, len(YEARS)), bool), dims=("country", "year"),
                           coords={"country": ["A", "B", "C"], "year": YEARS})
    present.loc["A", 2022] = False
    with Ledger(path) as led:
        issue(led, pd.DataFrame([case("A", "genocide", 2021, 2022),
                                 case("B", "genocide", 2021, 2022)]))
        n = led.resolve(xr.Dataset({"onset": onset, "present": present}),
                        outcome_source="p", observed_through=2022)
        assert n == 1
        assert led.rows().outcome_status.tolist() == ["pending", "observed"]


def reference_outcome(onset: xr.DataArray, r, observed_through: int) -> float | str | None:
    """Plain-loop reference of the resolution rule without `ongoing` (None: pending)."""
    if r.target_end > observed_through or r.country not in onset.country.values:
        return None
    if r.origin_year in onset.year.values and \
            float(onset.sel(country=r.country, crime=r.crime, year=r.origin_year)) == 1:
        return "not_at_risk"  # an onset in the origin year: not at risk when forecast
    vals = []
    for y in range(r.target_start, r.target_end + 1):
        vals.append(float(onset.sel(country=r.country, crime=r.crime, year=y))
                    if y in onset.year.values else np.nan)
    if any(v == 1 for v in vals):
        return 1.0
    if any(np.isnan(v) for v in vals):
        return None
    return 0.0


def test_resolution_matches_reference_on_random_panels(path: Path) -> None:
    rng = np.random.default_rng(42)
    onset = panel(countries=[f"K{i}" for i in range(8)])
    vals = rng.choice([0.0, 1.0, np.nan], p=[0.8, 0.1, 0.1], size=onset.shape)
    onset = onset.copy(data=vals)
    n = 300
    start = rng.integers(2016, 2027, n)
    df = pd.DataFrame({
        "origin_year": start - rng.integers(1, 3, n),
        "country": rng.choice([f"K{i}" for i in range(10)], n),
        "crime": rng.choice(CRIMES, n),
        "target_start": start,
        "target_end": start + rng.integers(0, 3, n),
        "p_mean": rng.uniform(0, 1, n),
    }).drop_duplicates(["origin_year", "country", "crime", "target_start", "target_end"])
    with Ledger(path) as led:
        issue(led, df)
        n_resolved = led.resolve(onset, outcome_source="random", observed_through=2022)
        rows = led.rows()
    ref = [reference_outcome(onset, r, 2022) for r in rows.itertuples()]
    got = [None if s == "pending" else s if s == "not_at_risk" else o
           for o, s in zip(rows.outcome, rows.outcome_status, strict=True)]
    assert got == ref
    assert ref.count("not_at_risk") > 5
    assert n_resolved == sum(r is not None for r in ref) > 50
    assert (rows.loc[rows.target_end > 2022, "outcome_status"] == "pending").all()


def test_resolved_outcomes_never_change(path: Path) -> None:
    onset = panel()
    onset.loc["A", 2021, "genocide"] = 1
    with Ledger(path) as led:
        issue(led, pd.DataFrame([case("A", "genocide", 2021, 2022),
                                 case("B", "genocide", 2021, 2022),
                                 case("B", "war_crimes", 2023, 2023)]))
        assert led.resolve(onset, outcome_source="v1", observed_through=2022) == 2
        before = snapshot(path)
        revised = onset.copy()
        revised.loc["A", 2021, "genocide"] = 0  # data revision contradicts a stored outcome
        with pytest.raises(LedgerConflictError, match=r"country 'A'.*stored outcome 1.*new "
                                                      r"outcome 0.*nothing was written"):
            led.resolve(revised, outcome_source="v2", observed_through=2023)
        assert snapshot(path) == before
        with pytest.warns(LedgerResolutionWarning, match="stored ones were kept"):
            n = led.resolve(revised, outcome_source="v2", observed_through=2023,
                            on_conflict="warn")
        assert n == 1  # only the pending 2023 window
        assert led.rows().outcome.tolist() == [1, 0, 0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # agreement (or unknown) is not a conflict
            assert led.resolve(onset.where(onset.country != "B"), outcome_source="v3",
                               observed_through=2023) == 0


def test_resolve_rejects_bad_outcomes(path: Path) -> None:
    with Ledger(path) as led:
        issue(led, pd.DataFrame([case("A", "genocide", 2021, 2022)]))
        bad = panel()
        bad.loc["A", 2020, "war_crimes"] = 2
        with pytest.raises(ValueError, match=r"1, 0 or NaN.*'A', year 2020, crime 'war_crimes'"):
            led.resolve(bad, outcome_source="x", observed_through=2022)
        with pytest.raises(ValueError, match="dims"):
            led.resolve(panel().isel(crime=0), outcome_source="x", observed_through=2022)
        with pytest.raises(ValueError, match="observed_through"):
            led.resolve(panel(), outcome_source="x", observed_through=2022.5)
        assert led.rows().outcome_status.tolist() == ["pending"]


# ------------------------------------------------------------------------- analyst CSV

GOOD_CSV = """origin_year,country,crime,target_start,target_end,p,p_q05,p_q95
2024,SDN,genocide,2025,2026,0.30,0.1,0.5
2024,MMR,ethnic_cleansing,2025,2026,0.2,,

2024,SYR,war_crimes,2025,2025,0.6,0.4,0.8
"""


def test_analyst_csv_import_and_idempotent_reimport(path: Path, tmp_path: Path) -> None:
    f = tmp_path / "jdoe.csv"
    f.write_text(GOOD_CSV)
    with Ledger(path) as led:
        res = led.import_analyst_csv(f, analyst_id="jdoe", issued_at=T0)
        assert (res.inserted, res.unchanged) == (3, 0)
        assert led.import_analyst_csv(f, analyst_id="jdoe").unchanged == 3
        rows = led.rows()
        assert set(rows.kind) == {"analyst"} and set(rows.source) == {"jdoe"}
        assert rows.p_mean.tolist() == [0.3, 0.2, 0.6]
        assert rows.p_q05.isna().tolist() == [False, True, False]
        assert rows.horizon.tolist() == [2, 2, 1]
        assert rows.data_hash.iloc[0].startswith("sha256:") and rows.config_hash.isna().all()
        assert len(led.runs()) == 1  # same file, same default run id
        f.write_text(GOOD_CSV.replace("0.30", "0.35"))
        with pytest.raises(LedgerConflictError, match=r"'jdoe' \(analyst\).*'SDN'"):
            led.import_analyst_csv(f, analyst_id="jdoe")
        assert led.import_analyst_csv(f, analyst_id="jdoe/rev2").inserted == 3


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD_CSV.replace("0.6,", "1.6,"), r"column 'p' must be a probability.*line 5"),
        (GOOD_CSV.replace("0.6,", "high,"), r"column 'p' must be numeric; found 'high' at row 3 "
                                            r"\(line 5\)$"),
        (GOOD_CSV.replace("0.2,,", ",,"),
         r"column 'p' has no value \(blank or NaN\) at row 2 \(line 3\); a probability is "
         r"required$"),
        (GOOD_CSV.replace("MMR,ethnic_cleansing", "MMR,ethnic cleansing"),
         r"column 'crime' must be one of.*line 3"),
        (GOOD_CSV.replace("2024,SYR", "2024.5,SYR"), r"column 'origin_year'.*line 5"),
        (GOOD_CSV.replace("0.1,0.5", "0.6,0.5"), r"column 'p_q05' must not exceed 'p_q95'"),
        (GOOD_CSV.replace("SYR,war_crimes,2025,2025", "SYR,war_crimes,2024,2025"),
         r"column 'target_start' must be after origin_year.*line 5"),
        (GOOD_CSV.replace(",p_q05", ",q05"), r"unexpected column.*'q05'"),
        (GOOD_CSV.replace(",p,", ",prob,"), r"missing column.*'p'"),
        (GOOD_CSV.replace("0.2,,", "0.2,,,"), r"line 3 has 9 cells"),
        ("origin_year,country,crime,target_start,target_end,p\n", "no assessments"),
    ],
)
def test_analyst_csv_errors_name_file_row_column(path: Path, tmp_path: Path, text: str,
                                                 message: str) -> None:
    f = tmp_path / "analyst.csv"
    f.write_text(text)
    with Ledger(path) as led:
        with pytest.raises(LedgerValidationError, match=message) as err:
            led.import_analyst_csv(f, analyst_id="jdoe")
        assert len(led) == 0  # all or nothing
    assert str(f) in str(err.value)


# ------------------------------------------------------------------------------ export


def test_export_columns_and_round_trip(path: Path, tmp_path: Path) -> None:
    onset = panel(countries=["C00", "C01", "C02"])
    onset.loc["C00", 2021, "genocide"] = 1
    out = tmp_path / "rows.csv"
    with Ledger(path) as led:
        issue(led, frame())
        issue(led, frame(origin=2022), kind="backtest", run_id="bt")
        led.resolve(onset, outcome_source="panel", observed_through=2022)
        rows = led.rows()
    out.write_text("old content")
    assert export_ledger_csv(path, out) == out
    back = pd.read_csv(out)
    required = ["source", "kind", "run_id", "origin_year", "country", "crime", "target_start",
                "target_end", "p_mean", "p_q05", "p_q50", "p_q95", "outcome"]
    assert set(required) <= set(back.columns) and list(back.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(back[required[3:]].astype({"outcome": float}),
                                  rows[required[3:]], check_dtype=False)
    np.testing.assert_array_equal(back.p_mean.to_numpy(), rows.p_mean.to_numpy())
    lines = out.read_text().splitlines()
    assert lines[1].split(",")[COLUMNS.index("outcome")] == "1"  # C00 genocide: "1", not "1.0"
    assert back.outcome.isna().sum() == 12  # backtest windows 2023-2024 not observed
    assert back.outcome.value_counts().to_dict() == {0.0: 11, 1.0: 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite", "rows.csv"]


def test_failed_export_keeps_previous_file(path: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "rows.csv"
    out.write_text("previous export\n")
    with Ledger(path) as led:
        issue(led, frame())

        def broken(self, target, **kw):
            Path(target).write_text("partial,")
            raise OSError("disk full")

        monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
        with pytest.raises(OSError, match="disk full"):
            led.export_csv(out)
    assert out.read_text() == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite", "rows.csv"]


# ------------------------------------------------------------------ tamper resistance

#: Objects of the schema-1 layout (before the REPLACE guards and the hash chain).
SCHEMA_1 = {
    "table": {"meta", "forecasts", "issue_log", "resolution_log"},
    "index": {"forecasts_pending", "forecasts_run"},
    "trigger": {"forecasts_no_delete", "forecasts_immutable", "issue_log_update",
                "issue_log_delete", "resolution_log_update", "resolution_log_delete"},
}
ISSUED = ["source", "kind", "run_id", "issued_at", "origin_year", "country", "crime", "horizon",
          "target_start", "target_end", "p_mean", "p_q05", "p_q50", "p_q95", "data_hash",
          "config_hash"]


def schema(path: Path) -> list[tuple]:
    """Every object of the file's schema (type, name, SQL), read with a raw connection."""
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
                           ).fetchall()
    finally:
        con.close()


def resolved_ledger(path: Path, tmp_path: Path) -> None:
    """A ledger with model rows of two runs, an analyst import and a resolution."""
    f = tmp_path / "jdoe.csv"
    f.write_text(GOOD_CSV)
    with Ledger(path) as led:
        issue(led, frame())
        issue(led, frame(origin=2021, seed=1), run_id="run-2")
        led.import_analyst_csv(f, analyst_id="jdoe", issued_at=T0)
        led.resolve(panel(countries=["C00", "C01", "C02"]), outcome_source="panel",
                    observed_through=2022)


def test_replace_cannot_rewrite_issued_rows_or_log_rows(path: Path, tmp_path: Path) -> None:
    resolved_ledger(path, tmp_path)
    before = snapshot(path)
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    first = dict(con.execute("SELECT * FROM forecasts WHERE id = 1").fetchone())
    cols = ", ".join(ISSUED)
    marks = ", ".join("?" * len(ISSUED))
    forged = {**first, "p_mean": 0.99}
    other_key = {**first, "country": "ZZZ"}
    attacks = {
        # the same key under its original issued_at, with a new probability
        f"INSERT OR REPLACE INTO forecasts ({cols}) VALUES ({marks})":
            [forged[c] for c in ISSUED],
        f"REPLACE INTO forecasts ({cols}) VALUES ({marks})": [forged[c] for c in ISSUED],
        # a new key written over the id of an issued row
        f"REPLACE INTO forecasts (id, {cols}) VALUES (1, {marks})":
            [other_key[c] for c in ISSUED],
        f"INSERT INTO forecasts ({cols}) VALUES ({marks}) ON CONFLICT DO UPDATE SET "
        "p_mean = excluded.p_mean": [forged[c] for c in ISSUED],
        "REPLACE INTO issue_log (id, run_id, source, kind, issued_at, n_inserted, n_unchanged) "
        "VALUES (1, 'forged', 'x', 'analyst', '2020-01-01T00:00:00Z', 0, 0)": [],
        "REPLACE INTO resolution_log (id, resolved_at, outcome_source, observed_through, "
        "n_resolved, n_conflicts) VALUES (1, '2020-01-01T00:00:00Z', 'forged', 2000, 0, 0)": [],
    }
    for sql, params in attacks.items():
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(sql, params)
            pytest.fail(f"not refused: {sql}")
    con.rollback()
    con.close()
    assert snapshot(path) == before
    with Ledger(path) as led:
        rows = led.rows()
        assert rows.p_mean.iloc[0] == frame().p_mean.iloc[0]
        assert rows.issued_at.iloc[0] == "2026-01-15T12:00:00Z"
        # the package's own writes still work: idempotent reissue, new rows
        assert issue(led, frame()).unchanged == 12
        assert issue(led, frame(origin=2023), run_id="run-3").inserted == 12


def chain(path: Path) -> tuple[list[str], list[str]]:
    """The chain hashes as stored, and as recomputed here from the documented format."""
    con = sqlite3.connect(path)
    try:
        rows = con.execute(f"SELECT id, {', '.join(ISSUED)} FROM forecasts ORDER BY id"
                           ).fetchall()
        stored = [r[0] for r in con.execute(
            "SELECT hash FROM forecast_chain ORDER BY forecast_id")]
    finally:
        con.close()
    import hashlib
    import json

    prev, expected = "0" * 64, []
    for r in rows:
        text = json.dumps(list(r), separators=(",", ":"), ensure_ascii=False)
        prev = hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()
        expected.append(prev)
    return stored, expected


def test_untouched_ledger_verifies(path: Path, tmp_path: Path, capsys) -> None:
    from r2p_models.cli import EXIT_OK, main
    from r2p_models.ledger import verify_ledger

    resolved_ledger(path, tmp_path)
    stored, expected = chain(path)
    assert len(stored) == 12 + 12 + 3 and stored == expected  # chained at issue, in order
    before = snapshot(path)
    check = verify_ledger(path)
    assert (check.n_forecasts, check.head) == (27, expected[-1])
    assert main(["ledger", "verify", "--ledger", str(path)]) == EXIT_OK
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"OK: ledger {path}")
    assert "27 forecasts" in out[0] and expected[-1][:16] in out[0]
    assert snapshot(path) == before  # verify writes nothing


def _recreate(con: sqlite3.Connection, trigger: str, change) -> None:
    """Drop a trigger, run ``change`` behind its back, and put the same trigger back."""
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (trigger,)).fetchone()[0]
    con.execute(f"DROP TRIGGER {trigger}")
    change(con)
    con.execute(sql)


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda con: _recreate(con, "forecasts_immutable", lambda c: c.execute(
            "UPDATE forecasts SET p_mean = 0.5 WHERE id = 7")),
         r"forecast id 7 \(source 'r2p-hierarchical 0.1.0'.*does not match the hash"),
        (lambda con: _recreate(con, "forecasts_immutable", lambda c: c.execute(
            "UPDATE forecasts SET issued_at = '2025-01-01T00:00:00Z' WHERE id = 20")),
         r"forecast id 20 .*does not match the hash"),
        (lambda con: con.execute("DROP TRIGGER forecasts_no_delete"),
         r"trigger 'forecasts_no_delete' is missing"),
        (lambda con: (con.execute("DROP TRIGGER forecasts_immutable"),
                      con.execute("CREATE TRIGGER forecasts_immutable BEFORE UPDATE ON "
                                  "forecasts WHEN 0 BEGIN SELECT 1; END")),
         r"trigger 'forecasts_immutable' differs"),
        (lambda con: con.execute(
            "INSERT INTO forecasts (source, kind, run_id, issued_at, origin_year, country, "
            "crime, horizon, target_start, target_end, p_mean, data_hash, config_hash) VALUES "
            "('x', 'forecast', 'r', '2026-01-01T00:00:00Z', 2020, 'A', 'genocide', 1, 2021, "
            "2021, 0.5, 'd', 'c')"),
         r"forecast id 28 \(source 'x'.*has no chain hash"),
        (lambda con: _recreate(con, "forecast_chain_delete", lambda c: c.execute(
            "DELETE FROM forecast_chain WHERE forecast_id = 3")),
         r"forecast id 3 .*has no chain hash"),
    ],
    ids=["p_mean", "issued_at", "dropped trigger", "changed trigger", "raw insert",
         "deleted hash"],
)
def test_verify_catches_edits_made_outside_the_package(path: Path, tmp_path: Path, capsys,
                                                      tamper, message: str) -> None:
    from r2p_models.cli import EXIT_VERIFY_FAILED, main
    from r2p_models.ledger import LedgerIntegrityError, verify_ledger

    resolved_ledger(path, tmp_path)
    con = sqlite3.connect(path, isolation_level=None)
    tamper(con)
    con.close()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with pytest.raises(LedgerIntegrityError, match=message):
        verify_ledger(path)
    assert main(["ledger", "verify", "--ledger", str(path)]) == EXIT_VERIFY_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]


def test_verify_reports_a_damaged_file(path: Path, tmp_path: Path) -> None:
    from r2p_models.ledger import LedgerIntegrityError, verify_ledger

    resolved_ledger(path, tmp_path)
    con = sqlite3.connect(path, isolation_level=None)
    # the index forecasts_run now claims to index another column than its rows hold
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX forecasts_run ON forecasts "
                "(country)' WHERE name = 'forecasts_run'")
    con.close()
    problems = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchall()
    assert problems != [("ok",)]
    with pytest.raises(LedgerIntegrityError, match="integrity_check"):
        verify_ledger(path)


def _as_schema_1(path: Path) -> None:
    """Turn a package-made ledger into the layout schema 1 wrote (no guards, no chain)."""
    con = sqlite3.connect(path, isolation_level=None)
    for kind in ("trigger", "index", "table"):
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = ? AND name "
                                   "NOT LIKE 'sqlite_%'", (kind,)).fetchall():
            if name not in SCHEMA_1[kind]:
                con.execute(f"DROP {kind.upper()} {name}")
    con.execute("DELETE FROM meta WHERE key NOT IN ('schema_version', 'application', "
                "'created_at')")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()


def test_a_schema_1_ledger_is_upgraded_in_place_atomically(path: Path, tmp_path: Path,
                                                            monkeypatch) -> None:
    import r2p_models.ledger.store as ledger_store
    from r2p_models.ledger import verify_ledger

    resolved_ledger(path, tmp_path)
    _as_schema_1(path)
    old_rows, old_schema = snapshot(path), schema(path)
    assert {(t, n) for t, n, _ in old_schema} == {(t, n) for t in SCHEMA_1 for n in SCHEMA_1[t]
                                                  } | {("index", "sqlite_autoindex_forecasts_1"),
                                                       ("index", "sqlite_autoindex_meta_1")}

    def broken(*args, **kwargs):
        raise RuntimeError("killed mid-upgrade")

    monkeypatch.setattr(ledger_store, "_row_hash", broken)
    with pytest.raises(RuntimeError, match="mid-upgrade"):
        Ledger(path)
    assert snapshot(path) == old_rows and schema(path) == old_schema  # as it was
    monkeypatch.undo()

    Ledger(path).close()  # any open by the package upgrades it
    assert dict(snapshot(path)["meta"])["schema_version"] == str(SCHEMA_VERSION)
    stored, expected = chain(path)
    assert len(stored) == 27 and stored == expected
    assert verify_ledger(path).n_forecasts == 27
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(f"INSERT OR REPLACE INTO forecasts ({', '.join(ISSUED)}) SELECT "
                    f"{', '.join(ISSUED).replace('p_mean', '0.99')} FROM forecasts WHERE id = 1")
    con.close()
    new = snapshot(path)
    assert {k: v for k, v in new.items() if k in old_rows and k != "meta"} == \
        {k: v for k, v in old_rows.items() if k != "meta"}


# ----------------------------------------------------------------- paths and access


def test_a_ledger_path_that_is_a_folder_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, main

    folder = tmp_path / "ledgers"
    folder.mkdir()
    f = tmp_path / "jdoe.csv"
    f.write_text(GOOD_CSV)
    for args in (["import-analyst", "--csv", str(f), "--analyst", "jdoe"],
                 ["export", "--out", str(tmp_path / "rows.csv")], ["verify"]):
        assert main(["ledger", args[0], "--ledger", str(folder), *args[1:]]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"ledger {folder}: is a folder" in err[0], err
    for args in ({}, {"create": False}):
        with pytest.raises(InputError, match="is a folder"):
            Ledger(folder, **args)
    with pytest.raises(InputError, match="is a folder"):
        with ledger_lock(folder):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jdoe.csv", "ledgers"]
    assert list(folder.iterdir()) == []


def _deny_write(monkeypatch, denied: Path) -> None:
    """Make ``os.access`` say ``denied`` is not writable (tests run as root)."""
    real = os.access

    def access(p, mode, *args, **kwargs):
        if Path(p).resolve() == denied.resolve() and mode & os.W_OK:
            return False
        return real(p, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_ledger_is_refused_to_writers_and_read_by_readers(
        path: Path, tmp_path: Path, monkeypatch, capsys, what: str) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, EXIT_OK, main

    with Ledger(path) as led:
        issue(led, frame())
    before = snapshot(path)
    f = tmp_path / "jdoe.csv"
    f.write_text(GOOD_CSV)
    _deny_write(monkeypatch, path if what == "file" else tmp_path)
    problem = "is read-only" if what == "file" else f"folder {tmp_path} is not writable"
    rc = main(["ledger", "import-analyst", "--ledger", str(path), "--csv", str(f),
               "--analyst", "jdoe"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == EXIT_BAD_INPUT and len(err) == 1 and f"ledger {path}" in err[0], err
    assert problem in err[0]
    with pytest.raises(InputError, match=problem):
        with ledger_lock(path):
            pass
    with pytest.raises(InputError, match=problem):
        Ledger(path)
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jdoe.csv", "ledger.sqlite"]
    out = tmp_path / "out" / "rows.csv" if what == "folder" else tmp_path / "rows.csv"
    if what == "folder":
        monkeypatch.undo()  # the export itself needs a writable folder
        _deny_write(monkeypatch, path)
    assert main(["ledger", "export", "--ledger", str(path), "--out", str(out)]) == EXIT_OK
    assert len(pd.read_csv(out)) == 12


def test_a_write_sqlite_refuses_is_an_input_error_naming_the_ledger(path: Path,
                                                                   monkeypatch) -> None:
    with Ledger(path) as led:
        issue(led, frame())
    before = snapshot(path)
    real = sqlite3.connect

    def query_only(*args, **kwargs):  # a connection SQLite itself will not let write
        con = real(*args, **kwargs)
        con.execute("PRAGMA query_only = ON")
        return con

    monkeypatch.setattr(sqlite3, "connect", query_only)
    with Ledger(path) as led:
        with pytest.raises(InputError, match=f"ledger {path}: .*read-only") as err:
            issue(led, frame(origin=2021), run_id="run-2")
        assert "\n" not in str(err.value)
    monkeypatch.undo()
    assert snapshot(path) == before


# ------------------------------------------------------------------ the run lock


def _try_lock(path: Path) -> None:
    """In a child process: exit 0 if the ledger lock is refused, 1 if it was taken."""
    try:
        with ledger_lock(path):
            pass
    except LedgerLockedError:
        os._exit(0)
    os._exit(1)


def test_run_lock_is_reentrant_in_its_thread_and_leaves_no_file(path: Path) -> None:
    lock_file = Path(f"{path}.lock")
    refused: list[BaseException] = []

    def contender() -> None:
        try:
            with ledger_lock(path):
                pass
        except LedgerLockedError as exc:
            refused.append(exc)

    with ledger_lock(path):
        with ledger_lock(path):  # e.g. pipeline -> rerun: the same run
            assert lock_file.exists()
        assert lock_file.exists()  # the inner block does not release the outer one
        t = threading.Thread(target=contender)
        t.start()
        t.join(20)
        assert len(refused) == 1 and f"pid {os.getpid()}" in str(refused[0])
        proc = FORK.Process(target=_try_lock, args=(path,))  # nor does a child inherit it
        proc.start()
        proc.join(20)
        assert proc.exitcode == 0
    assert not lock_file.exists()
    with ledger_lock(path):  # and it is free again
        pass
    assert not lock_file.exists()


def test_a_waiting_run_locks_the_lock_file_that_is_there(path: Path) -> None:
    """The holder removes the lock file on release: a run that was waiting on the removed
    file must lock the current one, or a third run could lock a new file at the same time."""
    holding, release = FORK.Event(), FORK.Event()
    proc = FORK.Process(target=_hold_lock, args=(str(path), holding, release, False))
    proc.start()
    assert holding.wait(20)
    got, done = threading.Event(), threading.Event()

    def waiter() -> None:
        with ledger_lock(path, wait=20):
            got.set()
            done.wait(20)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)  # the waiter has opened the holder's lock file and polls it
    release.set()
    proc.join(20)
    try:
        assert got.wait(20)
        lock_file = Path(f"{path}.lock")
        assert lock_file.exists() and f"pid {os.getpid()}" in lock_file.read_text()
        third = FORK.Process(target=_try_lock, args=(path,))
        third.start()
        third.join(20)
        assert third.exitcode == 0  # refused
    finally:
        done.set()
        t.join(20)
    assert not lock_file.exists()


# ------------------------------------------------------------------ analyst input


@pytest.mark.parametrize("analyst", ["jd\noe", "jdoe\r", "j\tdoe", "jd\x00oe", "jd\x1boe",
                                     "jd\u2028oe", "jd\x85oe"])
def test_analyst_ids_with_control_characters_are_refused(path: Path, tmp_path: Path, capsys,
                                                         analyst: str) -> None:
    from r2p_models.cli import EXIT_BAD_INPUT, main

    f = tmp_path / "jdoe.csv"
    f.write_text(GOOD_CSV)
    with Ledger(path) as led:
        with pytest.raises(LedgerValidationError, match=r"analyst_id .*control character"):
            led.import_analyst_csv(f, analyst_id=analyst)
        assert len(led) == 0
    rc = main(["ledger", "import-analyst", "--ledger", str(path), "--csv", str(f),
               "--analyst", analyst])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and err.count("\n") == 1 and "control character" in err
    with Ledger(path) as led:
        assert len(led) == 0


@pytest.mark.parametrize("year", ["9999999999", "99999999999999999999", "1799", "2201"])
def test_analyst_years_outside_the_plausible_range_name_the_row(path: Path, tmp_path: Path,
                                                                year: str) -> None:
    f = tmp_path / "analyst.csv"
    start, end = (str(int(year) + 1), str(int(year) + 2))
    f.write_text(GOOD_CSV.replace("2024,SYR,war_crimes,2025,2025",
                                  f"{year},SYR,war_crimes,{start},{end}"))
    with Ledger(path) as led:
        with pytest.raises(LedgerValidationError,
                           match=rf"column 'origin_year' must be a year in 1800-2200; found "
                                 rf"'{year}' at row 3 \(line 5\)$") as err:
            led.import_analyst_csv(f, analyst_id="jdoe")
        assert str(f) in str(err.value) and len(led) == 0
        df = frame(1)
        df["target_end"] = 2300
        with pytest.raises(LedgerValidationError, match="'target_end' must be a year in"):
            issue(led, df)
