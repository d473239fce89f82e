"""Gleditsch-Ward <-> Correlates of War country codes, by year (1946 onwards).

The two state lists use the same numeric code for almost every state. Where they
differ, the difference depends on the year (a state changed its code in one system but
not in the other), so every conversion takes a year. The tables below are explicit and
commented; nothing is inferred from names.

Sources: K. S. Gleditsch and M. D. Ward (1999), "A revised list of independent states
since the Congress of Vienna", International Interactions 25(4), with the authors' updated
list (iisystem.dat) and microstates list (microstatessystem.dat); the Correlates of War
State System Membership list (states2016); and the published comparisons of the two in
the R packages ``states`` (A. Beger, vignette "Country code differences") and
``peacesciencer`` (S. Miller, ``gw_cow_years``). No maintained Python library ships this
crosswalk, hence the hand-written table.

Where the two systems differ after 1945
---------------------------------------
=====================  ==================================  ==================================
state                  Gleditsch-Ward                      Correlates of War
=====================  ==================================  ==================================
Germany                260 German Federal Republic from    260 GFR until 1990, 255 unified
                       1949, continued by unified Germany  Germany from 3 Oct 1990
Yemen                  678 Yemen (Arab Republic) continued 678 YAR until 1990, 679 unified
                       by unified Yemen from 22 May 1990   Yemen from 22 May 1990
Serbia / Yugoslavia    345 Yugoslavia until 4 Jun 2006,    345 throughout (Yugoslavia, then
                       340 Serbia from 5 Jun 2006          Serbia)
Kiribati               970 (microstates list)              946
Nauru                  971 (microstates list)              970  (!) 970 is Kiribati in G-W
Tonga                  972 (microstates list)              955
Tuvalu                 973 (microstates list)              947
Tibet                  711, 1913 - 1950                    not a state: no counterpart
=====================  ==================================  ==================================

Vietnam (816 Democratic Republic / unified Vietnam from 1954, 817 Republic of Vietnam
1954-1975), Kosovo (347, 2008-), Montenegro (341, 2006-), Zanzibar (511, 1963-1964),
South Sudan (626, 2011-), Czechoslovakia and its successors (315, 316, 317) and East
Germany (265) have the same codes in both systems. The systems also disagree on some
entry dates (e.g. COW admits the GFR in 1955, G-W in 1949); that changes membership,
not codes, and is not enforced here: a code is accepted in any year in which either list
has the state.

Year convention
---------------
A country-year belongs to the state that held the code for most of that year, as in
``peacesciencer``: Germany's unification (3 October 1990) makes 1990 a GFR year (COW 260)
and 1991 the first COW-255 year; Yemen's unification (22 May 1990) makes 1990 a
unified-Yemen year (COW 679); Montenegro's independence (3 June 2006) makes 2006 a G-W 340
(Serbia) year. Codes of the state that ended during the year stay valid that year, so the
conversions are not one-to-one in three country-years, which :data:`NOT_BIJECTIVE` lists.

Codes without a counterpart are never dropped silently: the scalar functions raise
:class:`CrosswalkError`; the Series functions return ``<NA>`` and warn
(:class:`CrosswalkWarning`) naming the codes and years, or raise with
``on_missing="raise"``; :func:`no_counterpart` lists them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from r2p_models.errors import InputError

__all__ = [
    "FIRST_YEAR",
    "NOT_BIJECTIVE",
    "CrosswalkError",
    "CrosswalkWarning",
    "cow_to_gw",
    "cow_to_gw_series",
    "gw_to_cow",
    "gw_to_cow_series",
    "no_counterpart",
    "split_codes",
]

#: The crosswalk covers years from 1946 on (every data set the project reads starts later).
FIRST_YEAR = 1946

_OPEN = 9999  # "still exists"

# States with the same code in both systems, alive at some point from 1946 on:
# code -> (first year, last year) of existence in either list (any part of a year counts).
# Main G-W list (iisystem.dat, 2020 update); years before 1946 are clipped to 1946.
_SAME: dict[int, tuple[int, int]] = {
    2: (1946, _OPEN), 20: (1946, _OPEN), 31: (1973, _OPEN), 40: (1946, _OPEN),
    41: (1946, _OPEN), 42: (1946, _OPEN), 51: (1962, _OPEN), 52: (1962, _OPEN),
    53: (1966, _OPEN), 70: (1946, _OPEN), 80: (1981, _OPEN), 90: (1946, _OPEN),
    91: (1946, _OPEN), 92: (1946, _OPEN), 93: (1946, _OPEN), 94: (1946, _OPEN),
    95: (1946, _OPEN), 100: (1946, _OPEN), 101: (1946, _OPEN), 110: (1966, _OPEN),
    115: (1975, _OPEN), 130: (1946, _OPEN), 135: (1946, _OPEN), 140: (1946, _OPEN),
    145: (1946, _OPEN), 150: (1946, _OPEN), 155: (1946, _OPEN), 160: (1946, _OPEN),
    165: (1946, _OPEN), 200: (1946, _OPEN), 205: (1946, _OPEN), 210: (1946, _OPEN),
    211: (1946, _OPEN), 212: (1946, _OPEN), 220: (1946, _OPEN), 225: (1946, _OPEN),
    230: (1946, _OPEN), 235: (1946, _OPEN),
    265: (1949, 1990),  # German Democratic Republic (COW from 1954)
    290: (1946, _OPEN), 305: (1946, _OPEN), 310: (1946, _OPEN),
    315: (1946, 1992), 316: (1993, _OPEN), 317: (1993, _OPEN),  # Czechoslovakia, CZE, SVK
    325: (1946, _OPEN), 338: (1964, _OPEN), 339: (1946, _OPEN),
    341: (2006, _OPEN),  # Montenegro
    343: (1991, _OPEN), 344: (1991, _OPEN), 346: (1992, _OPEN),  # Macedonia, Croatia, Bosnia
    347: (2008, _OPEN),  # Kosovo
    349: (1991, _OPEN),  # Slovenia (Croatia/Slovenia: G-W April 1992, COW January 1992,
    #                      both declared 1991; 1991 accepted because data sets use it)
    350: (1946, _OPEN), 352: (1960, _OPEN), 355: (1946, _OPEN), 359: (1991, _OPEN),
    360: (1946, _OPEN), 365: (1946, _OPEN), 366: (1991, _OPEN), 367: (1991, _OPEN),
    368: (1991, _OPEN), 369: (1991, _OPEN), 370: (1991, _OPEN), 371: (1991, _OPEN),
    372: (1991, _OPEN), 373: (1991, _OPEN), 375: (1946, _OPEN), 380: (1946, _OPEN),
    385: (1946, _OPEN), 390: (1946, _OPEN), 395: (1946, _OPEN), 402: (1975, _OPEN),
    404: (1973, _OPEN), 411: (1968, _OPEN), 420: (1965, _OPEN), 432: (1960, _OPEN),
    433: (1960, _OPEN), 434: (1960, _OPEN), 435: (1960, _OPEN), 436: (1960, _OPEN),
    437: (1960, _OPEN), 438: (1958, _OPEN), 439: (1960, _OPEN), 450: (1946, _OPEN),
    451: (1961, _OPEN), 452: (1957, _OPEN), 461: (1960, _OPEN), 471: (1960, _OPEN),
    475: (1960, _OPEN), 481: (1960, _OPEN), 482: (1960, _OPEN), 483: (1960, _OPEN),
    484: (1960, _OPEN), 490: (1960, _OPEN), 500: (1962, _OPEN), 501: (1963, _OPEN),
    510: (1961, _OPEN),
    511: (1963, 1964),  # Zanzibar, 19 Dec 1963 - 26 Apr 1964
    516: (1962, _OPEN), 517: (1962, _OPEN), 520: (1960, _OPEN), 522: (1977, _OPEN),
    530: (1946, _OPEN), 531: (1993, _OPEN), 540: (1975, _OPEN), 541: (1975, _OPEN),
    551: (1964, _OPEN), 552: (1965, _OPEN), 553: (1964, _OPEN), 560: (1946, _OPEN),
    565: (1990, _OPEN), 570: (1966, _OPEN), 571: (1966, _OPEN), 572: (1968, _OPEN),
    580: (1960, _OPEN), 581: (1975, _OPEN), 590: (1968, _OPEN), 600: (1956, _OPEN),
    615: (1962, _OPEN), 616: (1956, _OPEN), 620: (1951, _OPEN), 625: (1956, _OPEN),
    626: (2011, _OPEN), 630: (1946, _OPEN), 640: (1946, _OPEN), 645: (1946, _OPEN),
    651: (1946, _OPEN), 652: (1946, _OPEN), 660: (1946, _OPEN), 663: (1946, _OPEN),
    666: (1948, _OPEN), 670: (1946, _OPEN),
    680: (1967, 1990),  # Yemen, People's Republic (South Yemen), until 21 May 1990
    690: (1961, _OPEN), 692: (1971, _OPEN), 694: (1971, _OPEN), 696: (1971, _OPEN),
    698: (1946, _OPEN), 700: (1946, _OPEN), 701: (1991, _OPEN), 702: (1991, _OPEN),
    703: (1991, _OPEN), 704: (1991, _OPEN), 705: (1991, _OPEN), 710: (1946, _OPEN),
    712: (1946, _OPEN), 713: (1949, _OPEN), 731: (1948, _OPEN), 732: (1948, _OPEN),
    740: (1946, _OPEN), 750: (1947, _OPEN), 760: (1949, _OPEN), 770: (1947, _OPEN),
    771: (1971, _OPEN), 775: (1948, _OPEN), 780: (1948, _OPEN), 781: (1965, _OPEN),
    790: (1946, _OPEN), 800: (1946, _OPEN), 811: (1953, _OPEN), 812: (1954, _OPEN),
    816: (1954, _OPEN),  # Vietnam (Democratic Republic, then unified): same code in both
    817: (1954, 1975),   # Republic of Vietnam: same code in both
    820: (1957, _OPEN), 830: (1965, _OPEN), 835: (1984, _OPEN), 840: (1946, _OPEN),
    850: (1945, _OPEN), 860: (2002, _OPEN), 900: (1946, _OPEN), 910: (1975, _OPEN),
    920: (1946, _OPEN), 940: (1978, _OPEN), 950: (1970, _OPEN),
    # G-W microstates list (population under 250,000), same codes as COW; first year =
    # independence (or 1946).
    54: (1978, _OPEN), 55: (1974, _OPEN), 56: (1979, _OPEN), 57: (1979, _OPEN),
    58: (1981, _OPEN), 60: (1983, _OPEN), 221: (1946, _OPEN), 223: (1946, _OPEN),
    232: (1946, _OPEN), 331: (1946, _OPEN), 403: (1975, _OPEN), 591: (1976, _OPEN),
    935: (1980, _OPEN), 983: (1986, _OPEN), 986: (1994, _OPEN), 987: (1986, _OPEN),
    990: (1962, _OPEN),
}

# Codes that differ: code -> list of (first year, last year, counterpart). A code listed
# here is converted only through these spells (never by identity); a year outside every
# spell has no counterpart.
_GW_TO_COW: dict[int, list[tuple[int, int, int]]] = {
    260: [(1949, 1990, 260), (1991, _OPEN, 255)],  # GFR; unified Germany is COW 255
    678: [(1946, 1989, 678), (1990, _OPEN, 679)],  # YAR; unified Yemen is COW 679
    345: [(1946, 2006, 345)],  # Yugoslavia (until 4 June 2006)
    340: [(2006, _OPEN, 345)],  # Serbia from 5 June 2006: COW keeps 345
    970: [(1979, _OPEN, 946)],  # Kiribati
    971: [(1968, _OPEN, 970)],  # Nauru
    972: [(1970, _OPEN, 955)],  # Tonga
    973: [(1978, _OPEN, 947)],  # Tuvalu
    711: [],  # Tibet (G-W 1913-1950): not a COW state
}
_COW_TO_GW: dict[int, list[tuple[int, int, int]]] = {
    260: [(1949, 1990, 260)],  # GFR (COW admits it in 1955; earlier years accepted)
    255: [(1990, _OPEN, 260)],  # unified Germany (COW 255 from 3 Oct 1990) -> G-W 260
    678: [(1946, 1990, 678)],  # YAR (until 21 May 1990)
    679: [(1990, _OPEN, 678)],  # unified Yemen -> G-W 678
    345: [(1946, 2005, 345), (2006, _OPEN, 340)],  # Yugoslavia, then Serbia (G-W 340)
    946: [(1979, _OPEN, 970)],  # Kiribati
    970: [(1968, _OPEN, 971)],  # Nauru (970 is Kiribati in G-W!)
    955: [(1970, _OPEN, 972)],  # Tonga
    947: [(1978, _OPEN, 973)],  # Tuvalu
}

#: Country-years in which a conversion does not round-trip (two codes of one system map to
#: one code of the other because a state ended and its successor began within the year):
#: ``{"gw": {(code, year), ...}, "cow": {(code, year), ...}}``.
NOT_BIJECTIVE: dict[str, frozenset[tuple[int, int]]] = {
    # G-W 345 (Yugoslavia, Jan-Jun 2006) and 340 (Serbia) are both COW 345 in 2006.
    "gw": frozenset({(345, 2006)}),
    # COW 255 and 260 are both G-W 260 in 1990; COW 678 and 679 are both G-W 678 in 1990.
    "cow": frozenset({(255, 1990), (678, 1990)}),
}


class CrosswalkError(InputError):
    """A code or year the crosswalk cannot convert; the message names both."""


class CrosswalkWarning(UserWarning):
    """Codes without a counterpart were returned as missing."""


_System = Literal["gw", "cow"]


def _convert(code: int, year: int, rules: dict[int, list[tuple[int, int, int]]]) -> int | None:
    if code in rules:
        for first, last, other in rules[code]:
            if first <= year <= last:
                return other
        return None
    span = _SAME.get(code)
    if span is not None and span[0] <= year <= span[1]:
        return code
    return None


def _as_int(value: object, what: str) -> int:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CrosswalkError(f"{what} {value!r} is not a number") from None
    if not np.isfinite(number) or number != round(number):
        raise CrosswalkError(f"{what} {value!r} is not a whole number")
    return int(number)


def _scalar(code: object, year: object, source: _System) -> int:
    c = _as_int(code, f"{source.upper()} code")
    y = _as_int(year, "year")
    if y < FIRST_YEAR:
        raise CrosswalkError(
            f"year {y}: the crosswalk covers {FIRST_YEAR} onwards ({source.upper()} code {c})"
        )
    rules = _GW_TO_COW if source == "gw" else _COW_TO_GW
    out = _convert(c, y, rules)
    if out is None:
        target = "COW" if source == "gw" else "G-W"
        raise CrosswalkError(
            f"{source.upper()} code {c} in {y} has no {target} counterpart "
            "(unknown code, a state not in the other system, or a year outside the state's "
            "existence)"
        )
    return out


def gw_to_cow(code: int, year: int) -> int:
    """Correlates of War code of the state a Gleditsch-Ward code denotes in a year.

    Raises
    ------
    CrosswalkError
        No counterpart (e.g. Tibet, 711), unknown code, year before 1946, or a year in which
        the state did not exist.

    Examples
    --------
    >>> gw_to_cow(260, 1985), gw_to_cow(260, 1991), gw_to_cow(678, 1995), gw_to_cow(340, 2007)
    (260, 255, 679, 345)
    """
    return _scalar(code, year, "gw")


def cow_to_gw(code: int, year: int) -> int:
    """Gleditsch-Ward code of the state a Correlates of War code denotes in a year.

    Examples
    --------
    >>> cow_to_gw(255, 1995), cow_to_gw(679, 1995), cow_to_gw(345, 2007), cow_to_gw(970, 2000)
    (260, 678, 340, 971)
    """
    return _scalar(code, year, "cow")


def _series(
    codes: pd.Series, years: pd.Series | int, source: _System, on_missing: str
) -> pd.Series:
    if on_missing not in {"warn", "raise"}:
        raise ValueError(f"on_missing={on_missing!r}: expected 'warn' or 'raise'")
    codes = pd.Series(codes)
    yrs = (
        pd.Series(years, index=codes.index)
        if np.isscalar(years)
        else pd.Series(years).set_axis(codes.index)
    )
    frame = pd.DataFrame({"code": codes, "year": yrs})
    out = pd.Series(pd.NA, index=codes.index, dtype="Int64")
    failed: list[str] = []
    valid = frame["code"].notna() & frame["year"].notna()
    # convert each distinct (code, year) once: a few thousand pairs at most
    for (c, y), idx in frame[valid].groupby(["code", "year"]).groups.items():
        try:
            out.loc[idx] = _scalar(c, y, source)
        except CrosswalkError:
            if on_missing == "raise":
                raise
            failed.append(f"{int(c)} in {int(y)}")
    if failed:
        target = "COW" if source == "gw" else "G-W"
        warnings.warn(
            f"{len(failed)} {source.upper()} code-year(s) without a {target} counterpart "
            f"returned as missing: {', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}",
            CrosswalkWarning,
            stacklevel=3,
        )
    return out


def gw_to_cow_series(
    codes: pd.Series, years: pd.Series | int, *, on_missing: str = "warn"
) -> pd.Series:
    """Vectorised :func:`gw_to_cow`.

    Parameters
    ----------
    codes : pandas.Series
        Gleditsch-Ward codes (missing values stay missing).
    years : pandas.Series or int
        Year of each code (aligned by position) or one year for all.
    on_missing : {"warn", "raise"}
        Codes without a counterpart become ``<NA>`` with a :class:`CrosswalkWarning`
        naming them, or raise :class:`CrosswalkError`.

    Returns
    -------
    pandas.Series of Int64, same index as ``codes``.
    """
    return _series(codes, years, "gw", on_missing)


def cow_to_gw_series(
    codes: pd.Series, years: pd.Series | int, *, on_missing: str = "warn"
) -> pd.Series:
    """Vectorised :func:`cow_to_gw` (see :func:`gw_to_cow_series`)."""
    return _series(codes, years, "cow", on_missing)


def no_counterpart(
    codes: Iterable[int], years: Iterable[int], system: _System = "gw"
) -> pd.DataFrame:
    """The distinct (code, year) pairs of ``system`` that have no counterpart.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``year``, ``reason``; empty when every pair converts.
    """
    if system not in {"gw", "cow"}:
        raise ValueError(f"system={system!r}: expected 'gw' or 'cow'")
    pairs = sorted(set(zip(map(int, codes), map(int, years), strict=True)))
    rows = []
    for c, y in pairs:
        try:
            _scalar(c, y, system)
        except CrosswalkError as err:
            rows.append((c, y, str(err)))
    return pd.DataFrame(rows, columns=["code", "year", "reason"])


def split_codes(values: pd.Series) -> pd.DataFrame:
    """Split comma-separated code lists (UCDP's ``"490, 516"``) into one row per code.

    Parameters
    ----------
    values : pandas.Series
        Integers or strings of integers separated by commas.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (the index label of the input row), ``code`` (int) and
        ``n_codes`` (how many codes the input row lists), one row per code, in input order.

    Raises
    ------
    CrosswalkError
        A blank value or an item that is not a whole number (the message names the row).
    """
    rows: list[tuple[object, int, int]] = []
    for label, value in pd.Series(values).items():
        if pd.isna(value) or str(value).strip() == "":
            raise CrosswalkError(f"row {label}: blank country code")
        items = [s.strip() for s in str(value).split(",")]
        codes = [_as_int(s, f"row {label}: code") for s in items]
        rows.extend((label, c, len(codes)) for c in codes)
    return pd.DataFrame(rows, columns=["row", "code", "n_codes"])
