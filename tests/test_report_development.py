"""The objectivity audit by development level: groups, and the report's section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from r2p_models.calibration import score_table
from r2p_models.errors import InputError
from r2p_models.ledger import Ledger
from r2p_models.report import SECTIONS, ReportInputError, build_report, report_content
from r2p_models.report.development import development_groups, development_indicator
from r2p_models.report.example import example_ledger


def _panel(names: list[str], descriptions: list[str], values: np.ndarray) -> xr.Dataset:
    C = values.shape[0]
    return xr.Dataset(
        {"X": (("country", "year", "indicator"), values)},
        coords={"country": [f"C{i}" for i in range(C)], "year": [2000, 2001],
                "indicator": names, "description": ("indicator", descriptions)})


def test_groups_are_terciles_of_the_country_means():
    # country means 0..8 (two years averaging to i); one country never observed
    v = np.stack([np.arange(9.0) - 1, np.arange(9.0) + 1], axis=1)[:, :, None]
    v = np.concatenate([v, np.full((1, 2, 1), np.nan)])
    v = np.concatenate([v, np.zeros_like(v)], axis=2)  # a second, irrelevant indicator
    p = _panel(["imr", "gdppcgrowth"], ["Infant mortality rate", "GDP per capita growth"], v)
    assert development_indicator(p) == ("imr", "less")  # growth is not a level
    g = development_groups(p)
    assert g.name == "imr" and g.attrs["direction"] == "less"
    assert (g[["C0", "C1", "C2"]] == "1. lowest third of imr (most developed)").all()
    assert (g[["C3", "C4", "C5"]] == "2. middle third of imr").all()
    assert (g[["C6", "C7", "C8"]] == "3. highest third of imr (least developed)").all()
    assert g["C9"] == "(no data)"
    p2 = _panel(["gdp_pc", "imr"], ["GDP per capita, log", "Infant mortality"], v)
    assert development_indicator(p2) == ("gdp_pc", "more")  # GDP per capita comes first
    assert development_groups(p2, n_groups=2)["C0"] == "1. lower half of gdp_pc (least developed)"
    assert development_indicator(p2, "imr") == ("imr", "less")
    with pytest.raises(InputError, match="not an indicator"):
        development_indicator(p2, "literacy")
    with pytest.raises(InputError, match="n_groups"):
        development_groups(p2, n_groups=7)
    with pytest.raises(InputError, match="no development indicator"):
        development_indicator(_panel(["x"], ["something"], v[:, :, :1]))


def test_report_breaks_scores_down_by_development_group(tmp_path):
    path, panel = example_ledger(tmp_path / "l.sqlite", scale=0.3, backtest_origins=[],
                                 forecast_origins=range(2008, 2016), analyst=False)
    name, direction = development_indicator(panel)
    assert (name, direction) == ("state_weakness", "less")  # "infant-mortality based"
    groups = development_groups(panel)
    c = report_content(path, region_of=panel["region"], development_of=groups, n_boot=20)
    assert c.development_info == {"given": True, "label": "state_weakness", "description":
                                  "Weakness of state structures (infant-mortality based)"}
    with Ledger(path) as led:
        rows = led.rows(outcome_status="observed")
    source = sorted(set(rows["source"]))[0]
    rows = rows[(rows["source"] == source) & (rows["kind"] == "forecast")].copy()
    rows["group"] = [groups[str(x)] for x in rows["country"]]
    dev = c.development[(c.development["source"] == source)
                        & (c.development["kind"] == "forecast")]
    # the same metric, computed independently of the report per group
    for label, part in rows.groupby("group"):
        got = dev[(dev["region"] == label) & (dev["metric"] == "mean_forecast")]
        assert float(got["estimate"].iloc[0]) == pytest.approx(part["p_mean"].mean())
        base = dev[(dev["region"] == label) & (dev["metric"] == "base_rate")]
        assert float(base["estimate"].iloc[0]) == pytest.approx(part["outcome"].mean())
    ref = score_table(rows, by=["group"], metrics=["brier"], p_col="p_mean", y_col="outcome",
                      cluster_col="country", year_col="origin_year", n_boot=20, rng=0)
    brier = dev[dev["metric"] == "brier"].set_index("region")["estimate"]
    np.testing.assert_allclose(brier.sort_index().to_numpy(),
                               ref.set_index("group")["estimate"].sort_index().to_numpy())
    html = build_report(path, region_of=panel["region"], development_of=groups, n_boot=20)
    assert [s for s, _ in SECTIONS].index("development") > [s for s, _ in SECTIONS].index(
        "regions")
    assert "By development group:" in html and "3. highest third of state_weakness" in html
    without = build_report(path, n_boot=20)
    assert "audit by development level cannot be made" in without
    with pytest.raises(ReportInputError, match="development_of"):
        report_content(path, development_of=["not", "a", "mapping"], n_boot=20)
    assert isinstance(groups, pd.Series)
