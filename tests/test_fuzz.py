"""Property-based tests (Hypothesis) of the three doors bad input comes through.

- the panel loader: random valid tables load with their values; a random corruption (a
  non-numeric cell, a duplicated country-year, a missing column, an outcome not 0/1) is
  refused with one :class:`~r2p_models.errors.InputError` line naming the file and the
  column or rows, and ``r2p validate`` exits 2;
- the analyst import: random valid CSVs import as written; a random corruption is refused
  and leaves the ledger file byte for byte as it was (``r2p ledger import-analyst`` exits 2);
- the calibration toolkit: random valid forecasts score as the direct numpy formulas;
  NaN, values out of range, a wrong length or text are refused.

Examples are few and small (40 per test, no deadline, the same ones every run) so the
file runs in seconds. ``R2P_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`` fuzzes longer
with fresh random examples; an example that fails is printed by Hypothesis and kept as a
regression test below.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from r2p_models.calibration import (  # noqa: E402
    LOG_EPS,
    CalibrationInputError,
    brier_score,
    calibration_in_the_large,
    corp_decomposition,
    log_score,
    reliability,
    roc_auc,
)
from r2p_models.cli import EXIT_BAD_INPUT, main  # noqa: E402
from r2p_models.crimes import CRIMES  # noqa: E402
from r2p_models.data.panel import load_panel  # noqa: E402
from r2p_models.errors import InputError  # noqa: E402
from r2p_models.ledger import Ledger  # noqa: E402

_LONG = int(os.environ.get("R2P_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 40, deadline=None, derandomize=not _LONG,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# ---------------------------------------------------------------------------- panel

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
"""
NUMERIC = ["year", "discrimpop", "coup", "mk_onset", "gen_onset", "gen_ongoing"]
BINARY = {"mk_onset": "outcome", "gen_onset": "outcome", "gen_ongoing": "ongoing"}
REQUIRED = ["ccode", "year", "region", *NUMERIC[1:]]

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
maybe = st.one_of(st.none(), finite)
binary = st.sampled_from([0.0, 1.0, np.nan])


@st.composite
def tables(draw) -> pd.DataFrame:
    """A valid country-year table: whole spans, regions constant within a country."""
    codes = draw(st.lists(st.integers(1, 999), min_size=1, max_size=4, unique=True))
    start = draw(st.integers(1990, 2010))
    rows = []
    for c in codes:
        region = draw(st.sampled_from(["Africa", "Americas", "Asia"]))
        first = start + draw(st.integers(0, 2))  # countries may enter late
        for y in range(first, first + draw(st.integers(1, 4))):
            onset = draw(binary)
            ongoing = draw(binary) if onset != 1 else draw(st.sampled_from([0.0, np.nan]))
            rows.append({"ccode": c, "year": y, "region": region,
                         "discrimpop": draw(maybe), "coup": draw(maybe),
                         "mk_onset": draw(binary), "gen_onset": onset,
                         "gen_ongoing": ongoing})
    frame = pd.DataFrame(rows)
    order = draw(st.permutations(range(len(frame))))  # file order need not be sorted
    return frame.iloc[list(order)].reset_index(drop=True)


def _write_panel(folder: Path, table: pd.DataFrame) -> Path:
    table.to_csv(folder / "panel.csv", index=False)
    cfg = folder / "run.toml"
    cfg.write_text(CONFIG)
    return cfg


@FUZZ
@given(table=tables())
def test_valid_tables_load_with_their_values(tmp_path: Path, table: pd.DataFrame) -> None:
    panel = load_panel(_write_panel(tmp_path, table))
    assert int(panel["present"].sum()) == len(table)
    assert set(panel.country.values) == {str(c) for c in table.ccode}
    for r in table.itertuples():
        at = {"country": str(r.ccode), "year": r.year}
        for col, crime in (("mk_onset", "crimes_against_humanity"), ("gen_onset", "genocide")):
            got = float(panel["onset"].sel(**at, crime=crime))
            assert got == getattr(r, col) or (np.isnan(got) and np.isnan(getattr(r, col)))
        ongoing = float(panel["ongoing"].sel(**at, crime="genocide"))
        assert ongoing == (0.0 if np.isnan(r.gen_ongoing) else r.gen_ongoing)
        for ind in ("discrimpop", "coup"):
            want = getattr(r, ind)
            got = float(panel["X"].sel(**at, indicator=ind))
            if want is None or np.isnan(want):
                assert np.isnan(got)
            else:
                assert got == pytest.approx(want, rel=1e-15, abs=0)
        assert panel["region"].sel(country=str(r.ccode)).item() == r.region


text = st.text(string.ascii_letters + "-_/?!#", min_size=1, max_size=6)


def _not_a_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return True
    return False


@st.composite
def corrupted(draw) -> tuple[pd.DataFrame, str, str]:
    """A valid table with one corruption; also what the error must name."""
    table = draw(tables()).astype(object)
    kind = draw(st.sampled_from(["text", "duplicate", "missing", "outcome", "year"]))
    i = draw(st.integers(0, len(table) - 1))
    if kind == "year":  # a typo such as 20011 for 2011
        table.loc[i, "year"] = draw(st.one_of(st.integers(10_000, 10**15),
                                              st.integers(-10**6, 999)))
        return table, r"column 'year' must be a year in 1800-2200", rf"\brow {i + 1}\b"
    if kind == "text":
        col = draw(st.sampled_from(NUMERIC))
        table.loc[i, col] = draw(text.filter(_not_a_number))
        return table, rf"column '{col}' must be numeric", rf"\brows? {i + 1}\b"
    if kind == "outcome":
        col = draw(st.sampled_from(list(BINARY)))
        value = draw(st.one_of(st.integers(2, 9), st.integers(-9, -1),
                               st.floats(0.01, 0.99)))
        table.loc[i, col] = value
        return (table, rf"column '{col}' must be 0, 1 or blank", rf"\brows? {i + 1}\b")
    if kind == "duplicate":
        j = draw(st.integers(0, len(table)))  # where the copy goes
        copy = table.iloc[[i]]
        table = pd.concat([table.iloc[:j], copy, table.iloc[j:]], ignore_index=True)
        first, second = sorted((i + (i >= j), j))
        return (table, r"duplicate country-years in columns 'ccode', 'year'",
                rf"\brow {first + 1}, \(.*\) at row {second + 1}\b")
    col = draw(st.sampled_from(REQUIRED))
    return table.drop(columns=col), rf"missing column\(s\) \['{col}'\]", ""


@FUZZ
@given(case=corrupted())
def test_corrupt_tables_are_refused_naming_column_and_row(
    tmp_path: Path, case: tuple[pd.DataFrame, str, str], capsys: pytest.CaptureFixture[str],
) -> None:
    table, what, where = case
    cfg = _write_panel(tmp_path, table)
    with pytest.raises(InputError) as info:
        load_panel(cfg)
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "panel.csv") in msg
    assert re.search(what, msg), msg
    assert re.search(where, msg), msg
    assert main(["validate", "--config", str(cfg)]) == EXIT_BAD_INPUT
    assert msg in capsys.readouterr().err


# ------------------------------------------------------------------- analyst import

COUNTRIES = ["SDN", "MMR", "SYR", "COD", "AFG"]
prob = st.floats(0, 1, allow_nan=False)


@st.composite
def assessments(draw) -> pd.DataFrame:
    """A valid analyst CSV table (as cells): unique cases, quantiles around p."""
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        origin = draw(st.integers(2000, 2030))
        start = origin + 1
        p = draw(prob)
        lo = draw(st.floats(0, p)) if draw(st.booleans()) else None
        hi = draw(st.floats(p, 1)) if draw(st.booleans()) else None
        rows.append({"origin_year": origin, "country": draw(st.sampled_from(COUNTRIES)),
                     "crime": draw(st.sampled_from(CRIMES)), "target_start": start,
                     "target_end": start + draw(st.integers(0, 1)), "p": p,
                     "p_q05": lo, "p_q95": hi})
    frame = pd.DataFrame(rows).drop_duplicates(
        ["origin_year", "country", "crime", "target_start", "target_end"])
    return frame.reset_index(drop=True)


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.17g")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@FUZZ
@given(frame=assessments())
def test_valid_analyst_csvs_import_as_written(tmp_path: Path, frame: pd.DataFrame) -> None:
    ledger = tmp_path / "ledger.sqlite"
    ledger.unlink(missing_ok=True)
    f = tmp_path / "a.csv"
    f.write_text(_csv(frame), encoding="utf-8")
    with Ledger(ledger) as led:
        res = led.import_analyst_csv(f, analyst_id="jdoe")
        rows = led.rows()
    assert (res.inserted, res.unchanged) == (len(frame), 0)
    key = ["origin_year", "country", "crime", "target_start", "target_end"]
    got = rows.set_index(key).sort_index()
    want = frame.set_index(key).sort_index()
    np.testing.assert_array_equal(got["p_mean"].to_numpy(), want["p"].to_numpy(dtype=float))
    for q in ("p_q05", "p_q95"):
        np.testing.assert_array_equal(got[q].to_numpy(dtype=float),
                                      want[q].to_numpy(dtype=float))
    assert (got["horizon"].to_numpy() == (want.index.get_level_values("target_end")
                                          - want.index.get_level_values("origin_year"))).all()


@st.composite
def bad_csvs(draw) -> tuple[str, str]:
    """A valid CSV with one corruption, and a pattern the error must contain."""
    frame = draw(assessments()).astype(object)
    i = draw(st.integers(0, len(frame) - 1))
    line = rf"row {i + 1} \(line {i + 2}\)"
    kind = draw(st.sampled_from(["text", "range", "crime", "year", "far", "duplicate",
                                 "missing", "extra", "cells", "order"]))
    if kind == "far":  # a typo such as 20244 for 2024, or a number too large for int64
        col = draw(st.sampled_from(["origin_year", "target_start", "target_end"]))
        frame.loc[i, col] = draw(st.sampled_from(["1e19", "-1e19", "20244", "999", "0"]))
        return _csv(frame), rf"column '{col}' must be a year in 1800-2200; found .* at {line}"
    if kind == "text":
        col = draw(st.sampled_from(["p", "origin_year", "target_end"]))
        frame.loc[i, col] = draw(text.filter(_not_a_number))
        return _csv(frame), rf"column '{col}' must be numeric; found .* at {line}"
    if kind == "range":
        frame.loc[i, "p"] = draw(st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -1e-6)))
        frame.loc[i, ["p_q05", "p_q95"]] = None
        return _csv(frame), rf"column 'p' must be a probability in \[0, 1\]; found .* at {line}"
    if kind == "crime":
        frame.loc[i, "crime"] = draw(st.sampled_from(["genocidе", "war crimes", "Genocide"]))
        return _csv(frame), rf"column 'crime' must be one of .*; found .* at {line}"
    if kind == "year":
        frame.loc[i, "origin_year"] = frame.loc[i, "origin_year"] + 0.5
        return _csv(frame), rf"column 'origin_year' must be a whole year; found .* at {line}"
    if kind == "duplicate":
        copy = frame.iloc[[i]].copy()
        copy["p"] = draw(prob)
        copy[["p_q05", "p_q95"]] = None
        frame = pd.concat([frame, copy], ignore_index=True)
        return _csv(frame), rf"have duplicate forecasts for the same case; found .* at {line}"
    if kind == "missing":
        col = draw(st.sampled_from(["origin_year", "country", "crime", "target_start",
                                    "target_end", "p"]))
        return _csv(frame.drop(columns=col)), rf"missing column\(s\) \['{col}'\]"
    if kind == "extra":
        return _csv(frame.assign(notes="x")), r"unexpected column\(s\) \['notes'\]"
    if kind == "cells":
        lines = _csv(frame).splitlines()
        lines[i + 1] += ",surplus"
        return "\n".join(lines) + "\n", rf"line {i + 2} has 9 cells, the header has 8"
    # quantile above the point forecast
    frame.loc[i, "p_q05"] = min(float(frame.loc[i, "p"]) + 0.25, 1.0)
    frame.loc[i, "p"] = float(frame.loc[i, "p_q05"]) - 0.2
    frame.loc[i, "p_q95"] = None
    return _csv(frame), rf"column 'p_q05' must not exceed 'p'; found .* at {line}"


BASE_CSV = """origin_year,country,crime,target_start,target_end,p
2020,SDN,genocide,2021,2022,0.3
2020,MMR,war_crimes,2021,2021,0.05
"""


@FUZZ
@given(case=bad_csvs())
def test_corrupt_analyst_csvs_leave_the_ledger_untouched(
    tmp_path: Path, case: tuple[str, str], capsys: pytest.CaptureFixture[str],
) -> None:
    text_, message = case
    ledger = tmp_path / "ledger.sqlite"
    ledger.unlink(missing_ok=True)
    base = tmp_path / "base.csv"
    base.write_text(BASE_CSV)
    with Ledger(ledger) as led:
        led.import_analyst_csv(base, analyst_id="jdoe")  # a ledger with rows in it
    before = _sha(ledger)
    f = tmp_path / "bad.csv"
    f.write_text(text_, encoding="utf-8")
    with Ledger(ledger) as led, pytest.raises(InputError) as info:
        led.import_analyst_csv(f, analyst_id="jdoe")
    msg = str(info.value)
    assert "\n" not in msg and str(f) in msg
    assert re.search(message, msg), msg
    assert _sha(ledger) == before
    code = main(["ledger", "import-analyst", "--ledger", str(ledger), "--csv", str(f),
                 "--analyst", "jdoe"])
    assert code == EXIT_BAD_INPUT and msg in capsys.readouterr().err
    assert _sha(ledger) == before
    assert not Path(f"{ledger}-journal").exists()


def test_regression_a_mistyped_year_is_refused_not_a_memory_error(tmp_path: Path) -> None:
    """Found by the panel fuzzer: year 200100000 (for 2001) built a 200-million-year grid
    (the gap check listed every missing year), so validation ran out of memory."""
    table = pd.DataFrame({"ccode": [1, 1, 1], "year": [2000, 2001, 200100000],
                          "region": "Asia", "discrimpop": 0.5, "coup": 0, "mk_onset": 0,
                          "gen_onset": 0, "gen_ongoing": 0})
    with pytest.raises(InputError, match=r"column 'year' must be a year in 1800-2200; "
                                         r"found 200100000 at row 3;"):
        load_panel(_write_panel(tmp_path, table))


def test_regression_a_year_too_large_for_int64_names_its_row(tmp_path: Path) -> None:
    """Found by the analyst-import fuzzer: origin_year 1e19 overflowed int64 (a
    RuntimeWarning) and was refused only by the database, without the row."""
    f = tmp_path / "a.csv"
    f.write_text("origin_year,country,crime,target_start,target_end,p\n"
                 "1e19,SDN,genocide,2021,2022,0.3\n")
    with Ledger(tmp_path / "ledger.sqlite") as led:
        with pytest.raises(InputError, match=r"column 'origin_year' must be a year in "
                                             r"1800-2200; found '1e19' at row 1 \(line 2\)$"):
            led.import_analyst_csv(f, analyst_id="jdoe")
        assert len(led) == 0


# ------------------------------------------------------------------ calibration input

@st.composite
def cases(draw, min_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_size, 40))
    p = np.array(draw(st.lists(prob, min_size=n, max_size=n)))
    y = np.array(draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)))
    return p, y


def _log_direct(p: np.ndarray, y: np.ndarray) -> float:
    pc = np.clip(p, LOG_EPS, 1 - LOG_EPS)
    qc = np.clip(1 - p, LOG_EPS, 1 - LOG_EPS)
    return float(-np.mean(np.where(y == 1, np.log(pc), np.log(qc))))


@FUZZ
@given(data=cases(), seed=st.integers(0, 2**32 - 1))
def test_valid_cases_score_as_the_direct_formula(data, seed) -> None:
    p, y = data
    b = brier_score(p, y)
    assert np.isfinite(b) and b == pytest.approx(np.mean((p - y) ** 2), rel=1e-12, abs=1e-15)
    s = log_score(p, y)
    assert np.isfinite(s) and s == pytest.approx(_log_direct(p, y), rel=1e-12, abs=1e-15)
    c = calibration_in_the_large(p, y)
    assert c.observed == int(y.sum()) and c.expected == pytest.approx(p.sum())
    assert 0 <= c.p_value <= 1
    # two Series with their labels in different orders are the same cases
    labels = [f"c{k}" for k in range(p.size)]
    order = np.random.default_rng(seed).permutation(p.size)
    ps, ys = pd.Series(p, index=labels), pd.Series(y, index=labels).iloc[order]
    assert brier_score(ps, ys) == pytest.approx(b, rel=1e-12, abs=1e-15)
    if 0 < y.sum() < y.size:
        d = corp_decomposition(p, y)
        assert d.mean == pytest.approx(b, rel=1e-9, abs=1e-12)
        assert d.mean == pytest.approx(d.mcb - d.dsc + d.unc, abs=1e-12)


FUNCTIONS = [brier_score, log_score, calibration_in_the_large, corp_decomposition, roc_auc,
             lambda p, y: reliability(p, y, n_resamples=5)]


@FUZZ
@given(data=cases(min_size=2), fn=st.sampled_from(FUNCTIONS),
       kind=st.sampled_from(["nan_p", "nan_y", "high", "low", "y", "length", "text_p",
                             "text_y"]),
       where=st.integers(0, 10**6), value=st.floats(1e-9, 1e3))
def test_bad_cases_are_refused(data, fn, kind, where, value) -> None:
    p, y = data
    p, y = p.astype(object), y.astype(object)
    i = where % p.size
    expect = {
        "nan_p": rf"p has no value \(blank or NaN\) at position {i};",
        "nan_y": rf"y has no value \(blank or NaN\) at position {i};",
        "high": rf"p must be a probability in \[0, 1\]; found .* at position {i}$",
        "low": rf"p must be a probability in \[0, 1\]; found .* at position {i}$",
        "y": rf"y must be 0 or 1; found .* at position {i}$",
        "length": rf"p has {p.size} values but y has {p.size - 1}",
        "text_p": rf"p must be numeric, not text; found .* at position {i};",
        "text_y": rf"y must be numeric, not text; found .* at position {i};",
    }[kind]
    if kind == "nan_p":
        p[i] = np.nan
    elif kind == "nan_y":
        y[i] = np.nan
    elif kind == "high":
        p[i] = 1 + value
    elif kind == "low":
        p[i] = -value
    elif kind == "y":
        y[i] = 1 + value if value != 0 else 2
    elif kind == "length":
        y = y[:-1]
    elif kind == "text_p":
        p[i] = str(p[i])
    else:
        y[i] = str(y[i])
    with pytest.raises(CalibrationInputError, match=expect):
        fn(p, y)
