"""The four atrocity crimes and the UN Framework of Analysis risk factors.

The UN *Framework of Analysis for Atrocity Crimes* (2014) lists 14 risk factors:
eight common to all atrocity crimes (1-8) and six specific ones: 9-10 for
genocide, 11-12 for crimes against humanity, 13-14 for war crimes. Ethnic
cleansing is not a crime in its own right under international law and has no
specific factor; the Framework treats it through the common factors and those of
genocide and crimes against humanity, which is what :data:`CRIME_RISK_FACTORS`
encodes.

Indicators refer to risk factors by number; the model's priors read
:func:`indicator_relevance` to decide, per indicator and crime, whether an
effect is expected (wide prior) or not (shrunk towards the shared effect).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "CRIMES",
    "CRIME_LABELS",
    "CRIME_RISK_FACTORS",
    "RISK_FACTORS",
    "RiskFactor",
    "check_crimes",
    "indicator_relevance",
    "parse_risk_factors",
]

#: Canonical crime names, in the canonical order used on every ``crime`` dimension.
CRIMES: tuple[str, ...] = (
    "genocide",
    "war_crimes",
    "ethnic_cleansing",
    "crimes_against_humanity",
)

CRIME_LABELS: dict[str, str] = {
    "genocide": "Genocide",
    "war_crimes": "War crimes",
    "ethnic_cleansing": "Ethnic cleansing",
    "crimes_against_humanity": "Crimes against humanity",
}


@dataclass(frozen=True)
class RiskFactor:
    """One risk factor of the UN Framework of Analysis (2014).

    Attributes
    ----------
    number : int
        1-14, as numbered in the Framework.
    title : str
        The Framework's heading.
    crimes : tuple of str
        Crimes the factor is specific to; all four for the common factors.
    """

    number: int
    title: str
    crimes: tuple[str, ...]

    @property
    def common(self) -> bool:
        """Whether the factor is one of the eight common to all crimes."""
        return self.number <= 8


_ALL = CRIMES
RISK_FACTORS: dict[int, RiskFactor] = {
    rf.number: rf
    for rf in (
        RiskFactor(1, "Situations of armed conflict or other forms of instability", _ALL),
        RiskFactor(
            2,
            "Record of serious violations of international human rights and humanitarian law",
            _ALL,
        ),
        RiskFactor(3, "Weakness of State structures", _ALL),
        RiskFactor(4, "Motives or incentives", _ALL),
        RiskFactor(5, "Capacity to commit atrocity crimes", _ALL),
        RiskFactor(6, "Absence of mitigating factors", _ALL),
        RiskFactor(7, "Enabling circumstances or preparatory action", _ALL),
        RiskFactor(8, "Triggering factors", _ALL),
        RiskFactor(
            9,
            "Intergroup tensions or patterns of discrimination against protected groups",
            ("genocide", "ethnic_cleansing"),
        ),
        RiskFactor(
            10,
            "Signs of an intent to destroy in whole or in part a protected group",
            ("genocide", "ethnic_cleansing"),
        ),
        RiskFactor(
            11,
            "Signs of a widespread or systematic attack against any civilian population",
            ("crimes_against_humanity", "ethnic_cleansing"),
        ),
        RiskFactor(
            12,
            "Signs of a plan or policy to attack any civilian population",
            ("crimes_against_humanity", "ethnic_cleansing"),
        ),
        RiskFactor(
            13,
            "Serious threats to those protected under international humanitarian law",
            ("war_crimes",),
        ),
        RiskFactor(
            14, "Serious threats to humanitarian or peacekeeping operations", ("war_crimes",)
        ),
    )
}

#: For each crime, the risk factors the Framework relates to it.
CRIME_RISK_FACTORS: dict[str, tuple[int, ...]] = {
    crime: tuple(n for n, rf in RISK_FACTORS.items() if crime in rf.crimes) for crime in CRIMES
}


def check_crimes(names: Iterable[str], *, where: str = "") -> tuple[str, ...]:
    """Validate crime names and return them in canonical order.

    Parameters
    ----------
    names : iterable of str
        Crime names to check.
    where : str, optional
        Context for the error message (e.g. ``"run.toml [outcomes]"``).

    Returns
    -------
    tuple of str
        The names, deduplicated, in the order of :data:`CRIMES`.

    Raises
    ------
    ValueError
        If a name is not one of :data:`CRIMES`.
    """
    names = list(names)
    unknown = [n for n in names if n not in CRIMES]
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ValueError(
            f"{prefix}unknown crime name(s) {unknown}; expected some of {list(CRIMES)}"
        )
    return tuple(c for c in CRIMES if c in names)


def parse_risk_factors(value: Sequence[int] | str | None, *, where: str = "") -> tuple[int, ...]:
    """Parse risk-factor references (``[1, 9]`` or ``"1,9"``) and check they exist."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[int] = []
    for item in items:
        try:
            n = int(item)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: risk factor {item!r} is not a number 1-14") from None
        if n not in RISK_FACTORS:
            raise ValueError(f"{where}: risk factor {n} is not a number 1-14")
        out.append(n)
    return tuple(sorted(set(out)))


def indicator_relevance(risk_factors: Sequence[int], crimes: Sequence[str] = CRIMES) -> list[bool]:
    """Whether an indicator informing ``risk_factors`` is expected to matter for each crime.

    An indicator informing any common factor (1-8), or informing no factor at all
    (unknown mapping: no reason to shrink), is relevant to every crime. An indicator
    informing only crime-specific factors is relevant to the crimes those factors
    belong to.

    Examples
    --------
    >>> indicator_relevance([9])
    [True, False, True, False]
    >>> indicator_relevance([1, 13])
    [True, True, True, True]
    """
    rfs = [RISK_FACTORS[n] for n in risk_factors]
    if not rfs or any(rf.common for rf in rfs):
        return [True] * len(crimes)
    return [any(c in rf.crimes for rf in rfs) for c in crimes]
