"""The content of the report's section "Where missing information matters".

:func:`infogap_content` checks and normalises what the report is given about information
gaps (:mod:`r2p_models.infogap`): the Dataset of
:func:`~r2p_models.infogap.information_gaps`, or the ranking and VOI tables a run saved as
CSV. The section's markup is :func:`r2p_models.report.html.render_infogap`, which reads
this content; this module never imports the rendering modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import xarray as xr

from r2p_models.errors import InputError

__all__ = ["INFOGAP_ROWS", "infogap_content"]

#: Rows per crime of the ranking table, and rows of the value-of-information table.
INFOGAP_ROWS = (5, 15)
_RANKING_COLUMNS = ("crime", "rank", "country", "region", "at_risk", "p_mean", "share_gap",
                    "share_missing", "share_unreliable", "voi_p", "voi_top_n",
                    "best_indicator")
_VOI_COLUMNS = ("country", "crime", "indicator", "kind", "p_mean", "voi_p", "voi_top_n",
                "var_share")


def infogap_content(infogap: xr.Dataset | Mapping[str, pd.DataFrame] | None,
                    ) -> dict[str, Any]:
    """What the report shows about information gaps.

    Parameters
    ----------
    infogap : xarray.Dataset, mapping or None
        The result of :func:`r2p_models.infogap.information_gaps`, or a mapping with
        ``"ranking"`` (:func:`~r2p_models.infogap.gap_ranking` with
        ``at_risk_only=False``) and ``"voi"`` (:func:`~r2p_models.infogap.voi_table`)
        tables, e.g. read back from a run's CSV files. None: the section says it is not
        available.

    Returns
    -------
    dict
        Empty when not given; else ``ranking``, ``voi`` (DataFrames), ``origin_year`` and
        ``top_n``.

    Raises
    ------
    InputError
        A table lacks a column the section needs (named in the message).
    """
    if infogap is None:
        return {}
    from r2p_models.infogap import gap_ranking, voi_table

    if isinstance(infogap, xr.Dataset):
        ranking = gap_ranking(infogap, at_risk_only=False)
        voi = voi_table(infogap)
        top_n = int(infogap.attrs.get("top_n", 0))
    elif isinstance(infogap, Mapping):
        ranking, voi = infogap.get("ranking"), infogap.get("voi")
        top_n = int(infogap.get("top_n", 0) or 0)
        for name, frame, cols in (("ranking", ranking, _RANKING_COLUMNS),
                                  ("voi", voi, _VOI_COLUMNS)):
            if not isinstance(frame, pd.DataFrame):
                raise InputError(f"infogap[{name!r}]: expected a DataFrame")
            lacking = [c for c in cols if c not in frame.columns]
            if lacking:
                raise InputError(f"infogap[{name!r}]: lacks column(s) {lacking}")
    else:
        raise InputError("infogap: expected the Dataset of r2p_models.infogap."
                         "information_gaps() or a mapping of 'ranking' and 'voi' tables, "
                         f"got {type(infogap).__name__}")
    ranking = ranking.assign(country=ranking["country"].astype(str),
                             at_risk=ranking["at_risk"].astype(bool))
    voi = voi.assign(country=voi["country"].astype(str))
    origin = (ranking["origin_year"].iloc[0] if "origin_year" in ranking.columns
              and len(ranking) else None)
    return {"ranking": ranking, "voi": voi, "top_n": top_n,
            "origin_year": None if origin is None or pd.isna(origin) else int(origin)}
