"""Behaviour unchanged (issue 24): the same ledger rows and scores as the reference.

A short rolling-origin backtest on a small simulated world with ground truth, with fixed
seeds and tiny sampler settings (the scenario, and how the reference was made:
``tests/data/make_behaviour_reference.py``), must give the reference's

- ledger keys (source, kind, origin, country, crime, horizon, window), row count, outcomes
  and outcome statuses: exactly;
- probabilities: the deterministic base-rate forecaster's to 1e-12; the model's within
  Monte Carlo error (below), because nutpie's draws may differ in the last bits on another
  machine, and a chain that differs in the last bits soon differs altogether;
- Brier and log scores (:func:`r2p_models.calibration.score_table`) by source: the counts
  of cases and events exactly, the estimates within the bound that the rows' tolerances
  imply (exact for the base-rate forecaster).

The Monte Carlo tolerance of a model row is set on the logit scale, where the posterior of a
probability is close to normal (on the probability scale it is skewed, and the errors of
the upper quantiles are several times what a normal posterior gives). The posterior sd is
read off the reference row's 90% interval, ``(logit p_q95 - logit p_q05) / 3.29``; the
effective sample size is taken as half the draws (``N_EFF``; the fits' bulk ESS is 280-380
of the 300 draws for the slowest parameter). The Monte Carlo standard error of the
difference of two independent runs is then ``sqrt(2) sd / sqrt(N_EFF)`` for the mean, and
``sqrt(q (1 - q)) / phi(z_q)`` times that for a quantile (``SE_FACTOR``: 2.11 at the 5% and
95% quantiles, 1.25 at the median). A row may differ by ``Z_MAX`` = 4 such standard
errors. A change that moved every row by 3 would pass that, so the root mean square of the
standardised differences over the model rows must also stay below ``RMS_MAX`` = 1.5.

These bounds were checked by rerunning the scenario with eight other sampler seeds (6-13:
every draw different, the worst case of a machine whose floating point differs): the
largest row differences were 1.5-2.8 standard errors and the root mean squares 0.5-0.9, in
every column.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

DATA = Path(__file__).resolve().parent / "data"
_spec = importlib.util.spec_from_file_location("make_behaviour_reference",
                                               DATA / "make_behaviour_reference.py")
assert _spec is not None and _spec.loader is not None
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

#: Effective sample size assumed for the model's draws (half the draws; see the docstring).
N_EFF = ref.CHAINS * ref.DRAWS / 2
#: Largest standardised difference of one row.
Z_MAX = 4.0
#: Largest root mean square of the standardised differences of a column over the model rows.
RMS_MAX = 1.5
#: Monte Carlo standard error of each column, in units of that of the mean (normal posterior).
SE_FACTOR = {"p_mean": 1.0, "p_q05": 2.11, "p_q50": 1.25, "p_q95": 2.11}
#: Tolerance of the deterministic base-rate forecaster's probabilities and scores.
EXACT_TOL = 1e-12


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ref.scenario(tmp_path_factory.mktemp("behaviour"))


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = pd.read_csv(ref.ROWS_FILE, keep_default_na=False, na_values=[""])
    scores = pd.read_csv(ref.SCORES_FILE, keep_default_na=False, na_values=[""])
    return rows, scores


def is_model(rows: pd.DataFrame) -> pd.Series:
    return ~rows["source"].str.startswith(ref.BASE_RATE_SOURCE)


def mc_se(rows: pd.DataFrame, column: str = "p_mean") -> pd.Series:
    """Monte Carlo standard error of the difference of two runs' ``logit(column)`` per
    model row (see the module docstring)."""
    sd = (logit(rows["p_q95"]) - logit(rows["p_q05"])) / (2 * 1.6449)
    return SE_FACTOR[column] * math.sqrt(2) * sd / math.sqrt(N_EFF)


def standardised(rows: pd.DataFrame, ref_rows: pd.DataFrame, column: str) -> pd.Series:
    """Differences of ``logit(column)`` from the reference's, over the model rows, in Monte
    Carlo standard errors."""
    model = is_model(ref_rows)
    diff = logit(rows[column]) - logit(ref_rows[column])
    return (diff / mc_se(ref_rows, column))[model]


def test_same_ledger_keys_outcomes_and_statuses(run, reference) -> None:
    rows, ref_rows = run[0], reference[0]
    assert len(rows) == len(ref_rows)
    assert list(rows.columns) == list(ref_rows.columns)
    key = ref.KEY
    assert set(map(tuple, rows[key].values)) == set(map(tuple, ref_rows[key].values))
    pd.testing.assert_frame_equal(rows[ref.EXACT], ref_rows[ref.EXACT], check_dtype=False)
    # the scenario covers what it should: both sources, resolved and pending windows, events
    assert rows["source"].nunique() == 2
    assert {"observed", "pending"} <= set(rows["outcome_status"])
    assert (rows["outcome"] == 1).any()


def test_same_probabilities_within_monte_carlo_error(run, reference) -> None:
    rows, ref_rows = run[0], reference[0]
    pd.testing.assert_frame_equal(rows[ref.KEY], ref_rows[ref.KEY], check_dtype=False)
    base = ~is_model(ref_rows)
    for column in ref.PROBABILITIES:
        diff = (rows[column] - ref_rows[column]).abs()
        assert (diff[base] <= EXACT_TOL).all(), f"base-rate {column} changed"
        z = standardised(rows, ref_rows, column)
        worst = z.abs().idxmax()
        assert abs(z[worst]) <= Z_MAX, (
            f"model {column}: {int((z.abs() > Z_MAX).sum())} row(s) more than {Z_MAX:g} "
            f"Monte Carlo standard errors off, e.g. {dict(ref_rows.loc[worst, ref.KEY])}: "
            f"{rows.loc[worst, column]:.6g}, reference {ref_rows.loc[worst, column]:.6g} "
            f"({z[worst]:+.1f})")
        rms = float(np.sqrt((z ** 2).mean()))
        assert rms <= RMS_MAX, f"model {column}: root mean square {rms:.2f} standard errors"


def score_bounds(ref_rows: pd.DataFrame) -> pd.DataFrame:
    """Largest change of each source's mean Brier and log scores that the rows'
    tolerances allow: each model row's p anywhere in ``expit(logit p -+ Z_MAX * se)``
    (a score is monotone in p, so its extremes are at the ends), the base-rate rows'
    exact."""
    scored = ref_rows[ref_rows["outcome"].notna()].reset_index(drop=True)
    p, y = scored["p_mean"].to_numpy(), scored["outcome"].to_numpy()
    d = np.where(is_model(scored), Z_MAX * mc_se(scored), 0.0)
    ends = [expit(logit(p) - d), expit(logit(p) + d)]

    def brier(q):
        return (q - y) ** 2

    def log(q):
        return -np.log(np.where(y == 1, q, 1 - q))

    for name, score in (("brier", brier), ("log", log)):
        scored[name] = np.maximum(*(np.abs(score(q) - score(p)) for q in ends))
    out = scored.groupby("source")[list(ref.METRICS)].mean()
    return out.reset_index().melt(id_vars="source", var_name="metric", value_name="bound")


def test_same_scores(run, reference) -> None:
    scores, ref_scores = run[1], reference[1]
    assert list(scores.columns) == list(ref_scores.columns)
    counts = ["source", "metric", "n", "events"]
    pd.testing.assert_frame_equal(scores[counts], ref_scores[counts], check_dtype=False)
    bounds = ref_scores.merge(score_bounds(reference[0]), on=["source", "metric"],
                              validate="one_to_one")
    diff = (scores["estimate"] - bounds["estimate"]).abs()
    assert (diff <= bounds["bound"] + EXACT_TOL).all(), pd.concat(
        [bounds, scores["estimate"].rename("now")], axis=1)
    # the bounds are finite and below the scores (the base-rate forecaster's are 0)
    assert (bounds["bound"] < 0.5 * bounds["estimate"]).all()
