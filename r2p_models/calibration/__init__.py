"""Calibration toolkit: can the assessments be trusted, and do they get better?

Scores any probabilities of binary events (a model's or an analyst's) as plain arrays,
xarray DataArrays, or a DataFrame of cases such as a ledger export. It knows nothing of
PyMC: importing it never imports PyMC.

Inputs are checked in one place (:mod:`._validate`): two pandas Series are paired by index
label (their labels must be unique and the same set, else the input is refused), two
DataArrays by coordinates, anything else by position; text (``"0"``, ``"0.3"``) is refused,
never cast.

Scores (:mod:`.scores`)
    :func:`brier_score`, :func:`log_score` (forecasts clipped to ``[LOG_EPS, 1 - LOG_EPS]``,
    ``LOG_EPS = 1e-15``), :func:`skill_score`, :func:`issue_time_base_rate` (climatology
    known at issue time, no in-sample leakage).
CORP decomposition (:mod:`.decomposition`)
    :func:`corp_decomposition`, :func:`corp_table`, :func:`pav_recalibrate`:
    ``score = MCB - DSC + UNC`` from the PAV (isotonic) recalibration.
Reliability diagrams (:mod:`.reliability`)
    :func:`reliability`, :func:`plot_reliability`, :func:`reliability_diagram`,
    :func:`consistency_resamples`, :func:`miscalibration_test`.
Calibration in the large (:mod:`.citl`)
    :func:`calibration_in_the_large`: observed against expected events, with an exact
    Poisson-binomial test and the observed/expected ratio's exact Poisson interval (the
    CORP test has little power against a plain level error with rare events).
Discrimination (:mod:`.discrimination`)
    :func:`roc_auc`, :func:`pr_auc`, :func:`base_rate`, :func:`top_k_capture`,
    :func:`recall_at_budget`, :func:`plot_discrimination`.
Intervals (:mod:`.bootstrap`)
    :func:`bootstrap_metric`: block bootstrap resampling countries.
Tables and tracking (:mod:`.tracking`)
    :func:`score_table`, :func:`rolling_table`, :func:`compare_table`,
    :func:`plot_metric_over_time`.
Posterior draws (:mod:`.draws`)
    :func:`score_draws`, :func:`summarize_draws`.
Recalibration on the track record (:mod:`.recalibrate`)
    :func:`recalibrate_on_track_record`, :func:`intercept_shift`: shift a forecaster's
    log-odds by the bias of its own forecasts resolved by the issue year.

Binned ECE / maximum calibration error are deliberately not provided: with rare events
they depend on the binning and mislead (use MCB and the consistency band instead).
"""

from r2p_models.calibration._metrics import DEFAULT_METRICS
from r2p_models.calibration._validate import CalibrationInputError, NoEventsError
from r2p_models.calibration.bootstrap import (
    INTERVAL_LEVEL,
    N_BOOT,
    BootstrapResult,
    bootstrap_metric,
    percentile_interval,
)
from r2p_models.calibration.citl import CalibrationInTheLarge, calibration_in_the_large
from r2p_models.calibration.decomposition import (
    CorpDecomposition,
    corp_decomposition,
    corp_table,
    pav_recalibrate,
)
from r2p_models.calibration.discrimination import (
    base_rate,
    plot_discrimination,
    pr_auc,
    recall_at_budget,
    roc_auc,
    top_k_capture,
)
from r2p_models.calibration.draws import DRAW_METRICS, score_draws, summarize_draws
from r2p_models.calibration.recalibrate import (
    SHIFT_PRIOR_SD,
    intercept_shift,
    recalibrate_on_track_record,
)
from r2p_models.calibration.reliability import (
    ConsistencyResamples,
    MiscalibrationTest,
    Reliability,
    consistency_resamples,
    miscalibration_test,
    plot_reliability,
    reliability,
    reliability_diagram,
)
from r2p_models.calibration.scores import (
    LOG_EPS,
    brier_score,
    issue_time_base_rate,
    log_score,
    skill_score,
)
from r2p_models.calibration.tracking import (
    TABLE_COLUMNS,
    compare_table,
    plot_metric_over_time,
    rolling_table,
    score_table,
)

__all__ = [
    "DEFAULT_METRICS",
    "DRAW_METRICS",
    "INTERVAL_LEVEL",
    "LOG_EPS",
    "N_BOOT",
    "SHIFT_PRIOR_SD",
    "TABLE_COLUMNS",
    "BootstrapResult",
    "CalibrationInTheLarge",
    "CalibrationInputError",
    "ConsistencyResamples",
    "CorpDecomposition",
    "MiscalibrationTest",
    "NoEventsError",
    "Reliability",
    "base_rate",
    "bootstrap_metric",
    "brier_score",
    "calibration_in_the_large",
    "compare_table",
    "consistency_resamples",
    "corp_decomposition",
    "corp_table",
    "intercept_shift",
    "issue_time_base_rate",
    "log_score",
    "miscalibration_test",
    "pav_recalibrate",
    "percentile_interval",
    "plot_discrimination",
    "plot_metric_over_time",
    "plot_reliability",
    "pr_auc",
    "recalibrate_on_track_record",
    "recall_at_budget",
    "reliability",
    "reliability_diagram",
    "roc_auc",
    "rolling_table",
    "score_draws",
    "score_table",
    "skill_score",
    "summarize_draws",
    "top_k_capture",
]
