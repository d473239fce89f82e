"""Gleditsch-Ward <-> COW crosswalk: the documented differences, round trips, the real UCDP file.

Expected codes come from the two published state lists (Gleditsch & Ward 1999 and its
updates; COW State System Membership 2016), not from the module's tables.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from r2p_models.data.crosswalk import (
    FIRST_YEAR,
    NOT_BIJECTIVE,
    CrosswalkError,
    CrosswalkWarning,
    cow_to_gw,
    cow_to_gw_series,
    gw_to_cow,
    gw_to_cow_series,
    no_counterpart,
    split_codes,
)
from r2p_models.errors import InputError


def _shared() -> Path:
    env = os.environ.get("R2P_SHARED_DATASETS")
    return Path(env) if env else Path(__file__).parents[1] / ".." / "shared" / "datasets"


SHARED = _shared()
UCDP = SHARED / "ucdp" / "one_sided_violence_v23_1_to_2008.csv"


@pytest.mark.parametrize(
    ("gw", "year", "cow"),
    [
        (260, 1985, 260),  # German Federal Republic
        (260, 1990, 260),  # unification on 3 Oct 1990: 1990 is a GFR year
        (260, 1991, 255),  # unified Germany: COW 255, G-W keeps 260
        (265, 1985, 265),  # German Democratic Republic: same code
        (678, 1985, 678),  # Yemen Arab Republic
        (678, 1990, 679),  # unification on 22 May 1990: 1990 is a unified-Yemen year
        (678, 2005, 679),
        (680, 1985, 680),  # South Yemen: same code
        (345, 1999, 345),  # Yugoslavia (G-W) = Yugoslavia/Serbia (COW)
        (340, 2006, 345),  # Serbia after Montenegro's independence: G-W 340, COW 345
        (340, 2008, 345),
        (341, 2007, 341),  # Montenegro: same code
        (347, 2008, 347),  # Kosovo: same code
        (816, 1970, 816),  # Vietnam: same codes in both systems
        (817, 1970, 817),
        (816, 1990, 816),
        (511, 1964, 511),  # Zanzibar: same code
        (970, 2000, 946),  # Kiribati
        (971, 2000, 970),  # Nauru (970 is Kiribati in G-W)
        (972, 2000, 955),  # Tonga
        (973, 2000, 947),  # Tuvalu
        (2, 1950, 2),
        (490, 1994, 490),
    ],
)
def test_gw_to_cow_known_cases(gw: int, year: int, cow: int) -> None:
    assert gw_to_cow(gw, year) == cow


@pytest.mark.parametrize(
    ("cow", "year", "gw"),
    [
        (260, 1985, 260),
        (255, 1990, 260),  # unified Germany from 3 Oct 1990 is G-W 260
        (255, 1995, 260),
        (679, 1990, 678),
        (679, 2000, 678),
        (678, 1990, 678),  # the YAR until 21 May 1990
        (345, 1992, 345),
        (345, 2006, 340),  # most of 2006 after 3 June: Serbia
        (345, 2008, 340),
        (946, 2000, 970),
        (970, 2000, 971),
        (955, 2000, 972),
        (947, 2000, 973),
        (817, 1975, 817),
    ],
)
def test_cow_to_gw_known_cases(cow: int, year: int, gw: int) -> None:
    assert cow_to_gw(cow, year) == gw


@pytest.mark.parametrize(
    ("func", "code", "year"),
    [
        (gw_to_cow, 711, 1949),  # Tibet: a G-W state COW does not have
        (gw_to_cow, 999, 2000),  # no such code
        (gw_to_cow, 817, 1980),  # Republic of Vietnam ended in 1975
        (gw_to_cow, 340, 2000),  # G-W Serbia starts in 2006 (Yugoslavia is 345)
        (gw_to_cow, 260, 1947),  # the GFR starts in 1949
        (gw_to_cow, 2, 1900),  # before the crosswalk's range
        (cow_to_gw, 679, 1985),  # unified Yemen starts in 1990
        (cow_to_gw, 255, 1970),  # COW 255 is not a state between 1945 and 1990
        (cow_to_gw, 340, 2008),  # not a COW code
    ],
)
def test_no_counterpart_raises_a_clear_error(func, code: int, year: int) -> None:
    with pytest.raises(CrosswalkError, match=str(code) if year >= FIRST_YEAR else "1946"):
        func(code, year)
    assert issubclass(CrosswalkError, InputError)


def test_bad_scalar_input_is_refused() -> None:
    with pytest.raises(CrosswalkError, match="not a number"):
        gw_to_cow("abc", 2000)  # type: ignore[arg-type]
    with pytest.raises(CrosswalkError, match="whole number"):
        gw_to_cow(260.5, 2000)  # type: ignore[arg-type]


def _round_trip_failures(there, back) -> set[tuple[int, int]]:
    """(code, year) pairs that convert but do not come back, over codes 1-999."""
    failures: set[tuple[int, int]] = set()
    n_ok = 0
    for code in range(1, 1000):
        for year in range(FIRST_YEAR, 2031):
            try:
                other = there(code, year)
            except CrosswalkError:
                continue
            n_ok += 1
            if back(other, year) != code:
                failures.add((code, year))
    assert n_ok > 10_000  # about 200 states over 85 years
    return failures


def test_round_trips_hold_except_in_the_documented_transition_years() -> None:
    assert _round_trip_failures(gw_to_cow, cow_to_gw) == set(NOT_BIJECTIVE["gw"])
    assert _round_trip_failures(cow_to_gw, gw_to_cow) == set(NOT_BIJECTIVE["cow"])


def test_series_return_na_and_warn_for_codes_without_counterpart() -> None:
    codes = pd.Series([260, 711, 2, None, 678], index=[10, 11, 12, 13, 14])
    years = pd.Series([1995, 1949, 2000, 2000, 1995])
    with pytest.warns(CrosswalkWarning, match="711 in 1949"):
        out = gw_to_cow_series(codes, years)
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert out.iloc[[0, 2, 4]].tolist() == [255, 2, 679]
    assert out.isna().tolist() == [False, True, False, True, False]
    with pytest.raises(CrosswalkError, match="711"):
        gw_to_cow_series(codes, years, on_missing="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = cow_to_gw_series(pd.Series([255, 679, 345]), 2007)
    assert back.tolist() == [260, 678, 340]


def test_no_counterpart_lists_each_pair_once() -> None:
    report = no_counterpart([711, 711, 2, 999], [1949, 1949, 2000, 1990], "gw")
    assert report[["code", "year"]].values.tolist() == [[711, 1949], [999, 1990]]
    assert no_counterpart([255], [1995], "cow").empty


def test_split_codes_splits_comma_separated_lists() -> None:
    out = split_codes(pd.Series(["490, 516", 2, "345,346,347"], index=["a", "b", "c"]))
    assert out["row"].tolist() == ["a", "a", "b", "c", "c", "c"]
    assert out["code"].tolist() == [490, 516, 2, 345, 346, 347]
    assert out["n_codes"].tolist() == [2, 2, 1, 3, 3, 3]
    with pytest.raises(CrosswalkError, match="row b"):
        split_codes(pd.Series(["2", ""], index=["a", "b"]))
    with pytest.raises(CrosswalkError, match="row 0"):
        split_codes(pd.Series(["2, x"]))


@pytest.mark.realdata
@pytest.mark.skipif(not UCDP.is_file(), reason=f"real data file {UCDP} is absent "
                    "(set R2P_SHARED_DATASETS to the shared datasets folder)")
def test_every_ucdp_location_resolves() -> None:
    u = pd.read_csv(UCDP, keep_default_na=False, na_values=[""])
    multi = u["gwno_location"].astype(str).str.contains(",")
    parts = split_codes(u["gwno_location"])
    years = u.loc[parts["row"], "year"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a code without counterpart would warn
        cow = gw_to_cow_series(parts["code"], years)
    print(f"\nUCDP rows {len(u)}, multi-country rows {int(multi.sum())}, "
          f"country entries after splitting {len(parts)}")
    assert cow.notna().all()
    assert no_counterpart(parts["code"], years, "gw").empty
    assert int(multi.sum()) == (parts["n_codes"] > 1).groupby(parts["row"]).any().sum()
    assert len(parts) == len(u) + (parts["n_codes"] > 1).sum() - int(multi.sum())
    # Serbia (Yugoslavia) rows of the 1990s are G-W 345 = COW 345
    serbia = parts["code"].to_numpy() == 345
    assert set(cow[serbia]) == {345}
