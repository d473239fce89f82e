"""The objectivity audit by development level (the report's "Breakdown by development level").

Does the method serve poor and rich countries equally? Countries are grouped by a
development indicator of the panel: each country's mean of its observed values over the
panel years (development changes slowly; a mean uses every year the country reported),
cut into equal-count groups (terciles by default). The indicator is ``[report]
development`` when the config names one; otherwise the first panel indicator that is GDP
per capita (its name or description says "gdp" and "capita", not "growth"), else the
first that is infant mortality ("infant" or "imr"). Calibration in the large, Brier skill
and AUC are then computed per group exactly as per region
(:func:`r2p_models.report.build.report_content`), with the same block-bootstrap
intervals.

This module makes the groups (content); the section's markup is
:func:`r2p_models.report.html.render_development`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from r2p_models.errors import InputError

__all__ = ["development_groups", "development_indicator"]

_NAMES = {2: ("lower half", "upper half"),
          3: ("lowest third", "middle third", "highest third"),
          4: ("lowest quarter", "second quarter", "third quarter", "highest quarter"),
          5: ("lowest fifth", "second fifth", "middle fifth", "fourth fifth", "highest fifth")}


def _text(panel: xr.Dataset, name: str) -> str:
    desc = ""
    if "description" in panel.coords:
        desc = str(panel["description"].sel(indicator=name).values)
    return f"{name} {desc}".lower()


def development_indicator(panel: xr.Dataset, name: str | None = None) -> tuple[str, str]:
    """The indicator development groups are made from, and its direction.

    Parameters
    ----------
    panel : xarray.Dataset
        The panel.
    name : str, optional
        An indicator of the panel (``[report] development``); found by the module's rule
        when omitted.

    Returns
    -------
    (str, str)
        The indicator and ``"more"`` (higher values are more developed, e.g. GDP per
        capita), ``"less"`` (e.g. infant mortality) or ``""`` (unknown: a named
        indicator that is neither).

    Raises
    ------
    InputError
        ``name`` is not an indicator of the panel, or none qualifies.
    """
    inds = [str(i) for i in panel["indicator"].values]
    if name is not None:
        if name not in inds:
            raise InputError(f"[report] development = {name!r}: not an indicator of the "
                             f"panel; expected one of {inds}")
    gdp = [i for i in inds if re.search(r"gdp", _text(panel, i))
           and re.search(r"capita|gdppc|pc\b", _text(panel, i))
           and not re.search(r"growth", _text(panel, i))]
    imr = [i for i in inds if re.search(r"infant|\bimr|_imr", _text(panel, i))]
    if name is not None:
        return name, "more" if name in gdp else "less" if name in imr else ""
    if gdp:
        return gdp[0], "more"
    if imr:
        return imr[0], "less"
    raise InputError("no development indicator: the panel has no GDP per capita or infant "
                     "mortality indicator; name one with [report] development")


def development_groups(panel: xr.Dataset, indicator: str | None = None, *,
                       n_groups: int = 3) -> pd.Series:
    """Country -> development group (equal-count groups of the country means).

    Parameters
    ----------
    panel : xarray.Dataset
        The panel.
    indicator : str, optional
        See :func:`development_indicator`.
    n_groups : {2, 3, 4, 5}
        Groups (terciles by default).

    Returns
    -------
    pandas.Series
        Index country, values labels such as ``"3. highest third of un_imr_sqrt (least
        developed)"`` (numbered from the lowest values); ``"(no data)"`` for a country
        never observed. The series name is the indicator, its ``attrs`` hold
        ``indicator``, ``direction`` and ``description`` (the panel's description of the
        indicator, ``""`` without one).

    Raises
    ------
    InputError
        Bad ``n_groups``, no usable indicator, or fewer countries with data than groups.
    """
    if isinstance(n_groups, bool) or n_groups not in _NAMES:
        raise InputError(f"n_groups = {n_groups!r}: expected one of {sorted(_NAMES)}")
    name, direction = development_indicator(panel, indicator)
    means = panel["X"].sel(indicator=name).mean("year", skipna=True).to_series()
    means.index = means.index.astype(str)
    have = means.dropna()
    if have.nunique() < n_groups:
        raise InputError(f"development indicator {name!r}: fewer than {n_groups} distinct "
                         "country values, so it cannot be cut into groups")
    codes = pd.qcut(have.rank(method="first"), n_groups, labels=False)
    # numbered, so that every table and figure (sorted by label) keeps the groups in order
    labels = [f"{i + 1}. {part} of {name}" for i, part in enumerate(_NAMES[n_groups])]
    if direction:
        ends = ("least developed", "most developed")
        lo, hi = ends if direction == "more" else ends[::-1]
        labels[0] += f" ({lo})"
        labels[-1] += f" ({hi})"
    out = pd.Series("(no data)", index=means.index, name=name, dtype=object)
    out[have.index] = [labels[int(k)] for k in codes]
    desc = (str(panel["description"].sel(indicator=name).values).strip()
            if "description" in panel.coords else "")
    out.attrs.update(indicator=name, direction=direction, description=desc)
    return out


def _groups_of(mapping: Any) -> dict[str, str] | None:
    """A country -> group mapping as a plain dict (None stays None)."""
    if mapping is None:
        return None
    if isinstance(mapping, xr.DataArray):
        mapping = mapping.to_series()
    if isinstance(mapping, pd.Series):
        mapping = mapping.to_dict()
    if not hasattr(mapping, "items"):
        raise InputError("development_of: expected a mapping or Series country -> group")
    return {str(k): str(v) for k, v in mapping.items() if not (
        isinstance(v, float) and np.isnan(v))}
