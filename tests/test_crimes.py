"""The four crimes and the UN Framework of Analysis (2014) risk factors."""

from __future__ import annotations

import pytest

from r2p_models.crimes import (
    CRIME_RISK_FACTORS,
    CRIMES,
    RISK_FACTORS,
    check_crimes,
    indicator_relevance,
    parse_risk_factors,
)


def test_fourteen_factors_eight_common() -> None:
    assert sorted(RISK_FACTORS) == list(range(1, 15))
    assert [n for n, rf in RISK_FACTORS.items() if rf.common] == list(range(1, 9))


def test_crime_specific_factors_as_in_the_framework() -> None:
    common = tuple(range(1, 9))
    assert CRIME_RISK_FACTORS["genocide"] == (*common, 9, 10)
    assert CRIME_RISK_FACTORS["crimes_against_humanity"] == (*common, 11, 12)
    assert CRIME_RISK_FACTORS["war_crimes"] == (*common, 13, 14)
    # ethnic cleansing: no factor of its own; common + genocide's + crimes against humanity's
    assert CRIME_RISK_FACTORS["ethnic_cleansing"] == (*common, 9, 10, 11, 12)


def test_check_crimes_orders_and_refuses_unknown() -> None:
    assert check_crimes(["crimes_against_humanity", "genocide"]) == (
        "genocide", "crimes_against_humanity")
    with pytest.raises(ValueError, match=r"run.toml: unknown crime name\(s\) \['mass_killing'\]"):
        check_crimes(["mass_killing"], where="run.toml")


def test_relevance_of_indicators() -> None:
    assert indicator_relevance([13]) == [False, True, False, False]
    assert indicator_relevance([11]) == [False, False, True, True]
    assert indicator_relevance([2, 10]) == [True] * 4  # a common factor makes it relevant to all
    assert indicator_relevance([]) == [True] * len(CRIMES)


def test_parse_risk_factors() -> None:
    assert parse_risk_factors("9, 1") == (1, 9)
    assert parse_risk_factors([4, 4]) == (4,)
    with pytest.raises(ValueError, match="risk factor 0 is not a number 1-14"):
        parse_risk_factors([0], where="x")
