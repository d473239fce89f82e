"""Bad input gives one clear error naming the argument, the place and the problem."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from r2p_models.calibration import (
    CalibrationInputError,
    NoEventsError,
    brier_score,
    corp_decomposition,
    log_score,
    miscalibration_test,
    pr_auc,
    reliability,
    roc_auc,
    top_k_capture,
)

ALL = [brier_score, log_score, corp_decomposition, roc_auc, pr_auc, miscalibration_test,
       reliability, top_k_capture]


@pytest.mark.parametrize("fn", ALL)
def test_lengths_differ(fn):
    with pytest.raises(CalibrationInputError, match="p has 3 values but y has 2"):
        fn([0.1, 0.2, 0.3], [0, 1])


@pytest.mark.parametrize("fn", ALL)
def test_probability_outside_unit_interval(fn):
    with pytest.raises(CalibrationInputError, match=r"p must be probabilities.*1\.2 at position 1"):
        fn([0.1, 1.2, 0.3], [0, 1, 0])
    with pytest.raises(CalibrationInputError, match=r"-0\.1 at position 0"):
        fn([-0.1, 0.2, 0.3], [0, 1, 0])


@pytest.mark.parametrize("fn", ALL)
def test_nan(fn):
    with pytest.raises(CalibrationInputError,
                       match=r"p has 1 NaN value\(s\) \(first at position 2\)"):
        fn([0.1, 0.2, np.nan], [0, 1, 0])
    with pytest.raises(CalibrationInputError, match=r"y has 1 NaN.*unresolved"):
        fn([0.1, 0.2, 0.3], [0, 1, np.nan])


@pytest.mark.parametrize("fn", ALL)
def test_outcomes_not_binary(fn):
    with pytest.raises(CalibrationInputError,
                       match=r"y must be 0/1 outcomes; found 2\.0 at position 1"):
        fn([0.1, 0.2, 0.3], [0, 2, 1])
    with pytest.raises(CalibrationInputError, match=r"found 0\.5"):
        fn([0.1, 0.2, 0.3], [0, 0.5, 1])


@pytest.mark.parametrize("fn", [corp_decomposition, roc_auc, pr_auc, miscalibration_test,
                                reliability, top_k_capture])
def test_no_events(fn):
    with pytest.raises(NoEventsError, match="needs at least one event; the 3 cases have none"):
        fn([0.1, 0.2, 0.3], [0, 0, 0])


def test_scores_are_defined_without_events():
    # Brier and log scores of all-quiet cases are meaningful (the forecasts' false alarms)
    assert brier_score([0.1, 0.3], [0, 0]) == pytest.approx(0.05)


def test_other_bad_shapes_and_types():
    with pytest.raises(CalibrationInputError, match="empty"):
        brier_score([], [])
    with pytest.raises(CalibrationInputError, match="not scalars"):
        brier_score(0.3, 1)
    with pytest.raises(CalibrationInputError, match="p must be numeric"):
        brier_score(["a", "b"], [0, 1])
    with pytest.raises(CalibrationInputError, match="shape"):
        brier_score(np.full((2, 2), 0.1), np.zeros(4))
    with pytest.raises(CalibrationInputError, match="eps"):
        log_score([0.1], [0], eps=0)
    with pytest.raises(CalibrationInputError, match="score must be one of"):
        corp_decomposition([0.1, 0.9], [0, 1], score="spherical")


def test_dataarray_errors_name_coordinates():
    coords = {"country": ["AFG", "BDI"], "year": [2000, 2001]}
    p = xr.DataArray([[0.1, 0.2], [0.3, np.nan]], dims=("country", "year"), coords=coords)
    y = xr.DataArray([[0, 1], [1, 0]], dims=("country", "year"), coords=coords)
    with pytest.raises(CalibrationInputError, match=r"first at country='BDI', year=2001\)"):
        brier_score(p, y)
    y_other = y.assign_coords(country=["AFG", "COD"])
    with pytest.raises(CalibrationInputError,
                       match=r"different coordinates on dim\(s\) \['country'\]"):
        brier_score(p.fillna(0.5), y_other)
    with pytest.raises(CalibrationInputError, match="dims"):
        brier_score(p.fillna(0.5), y.rename(year="yr"))


def test_errors_are_value_errors():
    assert issubclass(CalibrationInputError, ValueError)
    assert issubclass(NoEventsError, CalibrationInputError)
