"""Scoring posterior draws."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.metrics import brier_score_loss, roc_auc_score

from r2p_models.calibration import (
    CalibrationInputError,
    brier_score,
    corp_decomposition,
    score_draws,
    summarize_draws,
)


def _draws(seed: int = 0, cases: int = 300, draws: int = 40):
    rng = np.random.default_rng(seed)
    logit = rng.normal(-2.5, 1, cases)
    y = (rng.random(cases) < 1 / (1 + np.exp(-logit))).astype(int)
    p = 1 / (1 + np.exp(-(logit[:, None] + rng.normal(0, 0.5, (cases, draws)))))
    return p, y


def test_each_draw_scored_like_sklearn():
    p, y = _draws()
    per = score_draws(p, y, metrics=["brier", "auc", "mcb_brier"])
    assert set(per["sample"]) == set(range(p.shape[1]))
    for d in (0, 17, 39):
        row = per[per["sample"] == d].set_index("metric")["value"]
        assert row["brier"] == pytest.approx(brier_score_loss(y, p[:, d]), abs=1e-12)
        assert row["auc"] == pytest.approx(roc_auc_score(y, p[:, d]), abs=1e-12)
        assert row["mcb_brier"] == pytest.approx(corp_decomposition(p[:, d], y).mcb, abs=1e-12)
    # draws on the first axis
    again = score_draws(p.T, y, metrics=["brier"], draw_axis=0)
    np.testing.assert_allclose(again["value"], per[per.metric == "brier"]["value"])


def test_mean_forecast_scores_better_than_the_average_draw():
    p, y = _draws(1)
    per = score_draws(p, y, metrics=["brier"])
    assert brier_score(p.mean(axis=1), y) <= per["value"].mean()


def test_dataarray_with_chains_aligns_cases_by_name():
    p, y = _draws(2, cases=60, draws=10)
    # cases laid out as country x crime; draws split into 2 chains of 5
    arr = p.reshape(20, 3, 2, 5).transpose(2, 3, 0, 1)  # chain, draw, country, crime
    coords = {"country": [f"C{i}" for i in range(20)], "crime": ["a", "b", "c"]}
    da = xr.DataArray(arr, dims=("chain", "draw", "country", "crime"), coords=coords)
    yda = xr.DataArray(y.reshape(20, 3), dims=("country", "crime"), coords=coords)
    per = score_draws(da, yda.transpose("crime", "country"), metrics=["brier"])
    assert len(per) == 10
    # sample 0 is chain 0, draw 0, i.e. column 0 of p; sample 6 is chain 1, draw 1
    assert per["value"].iloc[0] == pytest.approx(brier_score_loss(y, p[:, 0]))
    assert per["value"].iloc[6] == pytest.approx(brier_score_loss(y, p[:, 6]))


def test_summary():
    p, y = _draws(3)
    per = score_draws(p, y, metrics=["brier", "log"])
    s = summarize_draws(per, level=0.8).set_index("metric")
    v = per[per.metric == "log"]["value"].to_numpy()
    assert s.loc["log", "mean"] == pytest.approx(v.mean())
    assert s.loc["log", "lower"] == pytest.approx(np.quantile(v, 0.1))
    assert s.loc["log", "upper"] == pytest.approx(np.quantile(v, 0.9))
    assert s.loc["log", "n_draws"] == p.shape[1]


def test_bad_draws():
    p, y = _draws(4, cases=20, draws=5)
    bad = p.copy()
    bad[3, 2] = 1.2
    with pytest.raises(CalibrationInputError, match=r"p_draws must be a probability in \[0, 1\]"):
        score_draws(bad, y)
    with pytest.raises(CalibrationInputError, match="2-D"):
        score_draws(p[:, 0], y)
    with pytest.raises(CalibrationInputError, match="p_draws has 20 values but y has 19"):
        score_draws(p, y[:-1])
    da = xr.DataArray(p, dims=("country", "sample"))
    with pytest.raises(CalibrationInputError, match="none of the sample dims"):
        score_draws(da, y)
