"""Bad input gives one clear error naming the argument, the place and the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from r2p_models.calibration import (
    CalibrationInputError,
    NoEventsError,
    bootstrap_metric,
    brier_score,
    corp_decomposition,
    log_score,
    miscalibration_test,
    pr_auc,
    reliability,
    roc_auc,
    score_table,
    skill_score,
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
    with pytest.raises(CalibrationInputError, match=r"p must be a probability in \[0, 1\]; "
                       r"found 1\.2 at position 1$"):
        fn([0.1, 1.2, 0.3], [0, 1, 0])
    with pytest.raises(CalibrationInputError, match=r"-0\.1 at position 0"):
        fn([-0.1, 0.2, 0.3], [0, 1, 0])


@pytest.mark.parametrize("fn", ALL)
def test_nan(fn):
    with pytest.raises(CalibrationInputError,
                       match=r"p has no value \(blank or NaN\) at position 2; drop cases"):
        fn([0.1, 0.2, np.nan], [0, 1, 0])
    with pytest.raises(CalibrationInputError, match=r"y has no value .* at position 2; unresolved"):
        fn([0.1, 0.2, 0.3], [0, 1, np.nan])


@pytest.mark.parametrize("fn", ALL)
def test_outcomes_not_binary(fn):
    with pytest.raises(CalibrationInputError,
                       match=r"y must be 0 or 1; found 2 at position 1$"):
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
    with pytest.raises(CalibrationInputError, match=r"at country='BDI', year=2001; drop"):
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


# --- pandas inputs are paired by index label, never by position -------------------------

def _labelled():
    labels = [f"c{i}" for i in range(8)]
    p = pd.Series([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6], index=labels)
    y = pd.Series([0, 1, 0, 1, 0, 1, 1, 0], index=labels)
    return p, y


@pytest.mark.parametrize("fn", ALL)
def test_series_are_aligned_on_the_index(fn):
    p, y = _labelled()
    shuffled = y.iloc[[5, 2, 7, 0, 3, 6, 1, 4]]
    expected = fn(p.to_numpy(), y.to_numpy())  # the same cases, paired by hand
    got = fn(p, shuffled)
    if isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-15)
    else:  # result objects: compare a defining number
        for attr in ("mcb", "p_value", "n", "events"):
            if hasattr(expected, attr):
                assert getattr(got, attr) == getattr(expected, attr)


def test_brier_of_reordered_series_is_the_direct_formula():
    p, y = _labelled()
    shuffled = p.iloc[::-1]
    assert brier_score(shuffled, y) == pytest.approx(np.mean((p.to_numpy() - y.to_numpy()) ** 2))
    per_case = brier_score(shuffled, y, per_case=True)
    assert isinstance(per_case, pd.Series)
    assert list(per_case.index) == list(shuffled.index)
    np.testing.assert_allclose(per_case.to_numpy(), (shuffled - y.reindex(shuffled.index)) ** 2)


@pytest.mark.parametrize("fn", ALL)
def test_series_with_different_labels_are_refused(fn):
    p, y = _labelled()
    other = y.rename(index={"c3": "zz"})
    with pytest.raises(CalibrationInputError,
                       match=r"p and y have different index labels: 'c3' is in p but not in y"):
        fn(p, other)
    with pytest.raises(CalibrationInputError, match=r"p has 8 values but y has 7"):
        fn(p, y.iloc[:7])


@pytest.mark.parametrize("fn", ALL)
def test_series_with_duplicated_labels_are_refused(fn):
    p, y = _labelled()
    dup = y.rename(index={"c3": "c2"})
    with pytest.raises(CalibrationInputError, match=r"y has duplicated index label 'c2'"):
        fn(p, dup)
    with pytest.raises(CalibrationInputError, match=r"p has duplicated index label 'c2'"):
        fn(p.rename(index={"c3": "c2"}), y)


def test_reference_and_groups_series_are_aligned_too():
    p, y = _labelled()
    ref = pd.Series(0.5, index=p.index) + pd.Series(np.linspace(-0.1, 0.1, 8), index=p.index)
    expected = skill_score(p.to_numpy(), y.to_numpy(), ref.to_numpy())
    assert skill_score(p, y.iloc[::-1], ref.iloc[[3, 1, 2, 0, 7, 6, 5, 4]]) == pytest.approx(
        expected, abs=1e-15)
    boot = bootstrap_metric(p, y.iloc[::-1], "brier_skill_ref", references={"ref": ref.iloc[::-1]},
                            n_boot=10)
    assert boot.estimate == pytest.approx(expected, abs=1e-15)
    groups = pd.Series([1, 1, 1, 1, 2, 2, 2, 2], index=p.index)
    by_hand = top_k_capture(p.to_numpy(), y.to_numpy(), k=[1], groups=groups.to_numpy())
    got = top_k_capture(p, y.iloc[::-1], k=[1], groups=groups.iloc[::-1])
    pd.testing.assert_series_equal(got, by_hand)
    with pytest.raises(CalibrationInputError, match=r"groups .*different index labels"):
        top_k_capture(p, y, k=[1], groups=groups.rename(index={"c0": "x"}))


def test_series_next_to_an_array_pair_by_position():
    p, y = _labelled()
    assert brier_score(p.iloc[::-1], y.to_numpy()[::-1]) == pytest.approx(brier_score(p, y))


# --- text is not a number ------------------------------------------------------------------

TEXT_OUTCOMES = [
    ["0", "1", "0"],
    np.array(["0", "1", "0"]),
    np.array(["0", "1", "0"], dtype=object),
    pd.Series(["0", "1", "0"]),
    [0, "1", 0],
]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("y", TEXT_OUTCOMES, ids=range(len(TEXT_OUTCOMES)))
def test_string_outcomes_are_refused(fn, y):
    with pytest.raises(CalibrationInputError,
                       match=r"y must be numeric, not text; found '[01]' at position [01]"):
        fn([0.1, 0.6, 0.3], y)


@pytest.mark.parametrize("fn", ALL)
def test_string_forecasts_are_refused(fn):
    with pytest.raises(CalibrationInputError,
                       match=r"p must be numeric, not text; found '0.6' at position 1; "
                             r"convert it first"):
        fn(np.array([0.1, "0.6", 0.3], dtype=object), [0, 1, 0])
    with pytest.raises(CalibrationInputError, match=r"p must be numeric"):
        fn(np.array(["0.1", "0.6", "0.3"]), [0, 1, 0])


def test_string_columns_are_refused_by_the_tables():
    cases = pd.DataFrame({"p": [0.1, 0.6, 0.3, 0.2], "outcome": ["0", "1", "0", "0"],
                          "country": list("abcd"), "origin_year": 2000})
    with pytest.raises(CalibrationInputError, match=r"column 'outcome' must be numeric"):
        score_table(cases, metrics=["brier"], n_boot=10)


def test_nullable_and_object_numbers_are_accepted():
    p = [0.1, 0.6, 0.3]
    expected = brier_score(p, [0, 1, 0])
    assert brier_score(p, pd.array([0, 1, 0], dtype="Int64")) == pytest.approx(expected)
    assert brier_score(p, pd.Series([0, 1, 0], dtype="boolean")) == pytest.approx(expected)
    assert brier_score(np.array(p, dtype=object), [0, 1, 0]) == pytest.approx(expected)
    with pytest.raises(CalibrationInputError, match=r"y has no value \(blank or NaN\) at "
                                                     r"position 1;"):
        brier_score(p, pd.array([0, None, 0], dtype="Int64"))


def test_errors_are_input_errors():
    from r2p_models.errors import InputError

    assert issubclass(CalibrationInputError, InputError)
