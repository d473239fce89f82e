"""r2p-models: Bayesian early warning for the four atrocity crimes.

``import r2p_models as r2p`` gives the names a methodologist uses, from the stage that
defines each one. They are imported lazily, on first use (PEP 562), so ``import
r2p_models`` is fast and does not import PyMC; only the names that fit or load a model
do.

The main names, in the order of the data flow:

- data: :func:`load_config`, :func:`load_panel`, :func:`simulate_world`;
- model: :func:`fit`, :func:`load_model`;
- forecasts: :func:`forecast_table`, :func:`explain`;
- ledger: :class:`Ledger`, :func:`run_backtest`;
- calibration: :func:`score_table`, :func:`reliability_diagram`;
- report and main job: :func:`build_report`, :func:`pipeline`.

The notebooks use a few more (:data:`FACADE` lists every name and the object it stands
for): the run config's ``[model]`` section (:class:`ModelConfig`), panel and world helpers
(:func:`panel_summary`, :func:`write_world`, :func:`write_adapted`), the watchlist and
risk-factor split (:func:`watchlist`, :func:`explain_risk_factors`), the pieces of a fit
for prior-predictive checks (:class:`Priors`, :func:`build_design`, :func:`build_model`,
:func:`check_convergence`, :func:`assemble`), variant comparison
(:func:`compare_variants`), the base-rate forecaster (:func:`base_rate_forecaster`),
paired scores and scores over time (:func:`compare_table`, :func:`plot_metric_over_time`),
lead times of past warnings (:func:`lead_times`, :func:`lead_time_summary`), information
gaps and the value of information (:func:`information_gaps`, :func:`voi_table`) and the
evaluations against the Early Warning Project (:func:`evaluate_against_peer`,
:func:`evaluate_four_crimes`, :class:`PeerEvaluation`, :class:`FourCrimeEvaluation`,
:func:`ledger_cases`, :data:`PEER_SOURCE`).

Every name is the object of its home module, not a wrapper: ``r2p.fit is
r2p_models.model.fit.fit``. The modules follow the data flow: ``data`` (panels, fusion,
the simulated default world, real-data adapters) -> ``model`` -> ``forecast`` ->
``ledger`` -> ``calibration`` -> ``report`` -> ``rerun`` (the pipeline) -> ``studies`` (the
evaluations on real data) and the command line; lower layers never import higher ones.

Examples
--------
>>> import r2p_models as r2p
>>> config = r2p.load_config("datasets/default_world/run.toml")  # doctest: +SKIP
>>> panel = r2p.load_panel(config)  # doctest: +SKIP
>>> fm = r2p.fit(panel, config.model, through=2015)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from r2p_models._version import __version__

#: Facade name -> the module it is imported from on first use.
FACADE: dict[str, str] = {
    # the main names (issue 24)
    "load_config": "r2p_models.config",
    "load_panel": "r2p_models.data.panel",
    "simulate_world": "r2p_models.data.simulate",
    "fit": "r2p_models.model",
    "load_model": "r2p_models.model",
    "forecast_table": "r2p_models.forecast",
    "explain": "r2p_models.forecast",
    "Ledger": "r2p_models.ledger",
    "run_backtest": "r2p_models.backtest",
    "score_table": "r2p_models.calibration",
    "reliability_diagram": "r2p_models.calibration",
    "build_report": "r2p_models.report",
    "pipeline": "r2p_models.rerun",
    # what the notebooks use besides
    "ModelConfig": "r2p_models.config",
    "panel_summary": "r2p_models.data.panel",
    "write_world": "r2p_models.data.simulate",
    "write_adapted": "r2p_models.data.adapters",
    "Priors": "r2p_models.model",
    "build_design": "r2p_models.model",
    "build_model": "r2p_models.model",
    "check_convergence": "r2p_models.model",
    "assemble": "r2p_models.model.fit",
    "compare_variants": "r2p_models.model.compare",
    "watchlist": "r2p_models.forecast",
    "explain_risk_factors": "r2p_models.forecast",
    "base_rate_forecaster": "r2p_models.backtest",
    "compare_table": "r2p_models.calibration",
    "plot_metric_over_time": "r2p_models.calibration",
    "lead_times": "r2p_models.calibration.leadtime",
    "lead_time_summary": "r2p_models.calibration.leadtime",
    "information_gaps": "r2p_models.infogap",
    "voi_table": "r2p_models.infogap",
    "PEER_SOURCE": "r2p_models.studies.peer",
    "PeerEvaluation": "r2p_models.studies.peer",
    "FourCrimeEvaluation": "r2p_models.studies.peer",
    "evaluate_against_peer": "r2p_models.studies.peer",
    "evaluate_four_crimes": "r2p_models.studies.peer",
    "ledger_cases": "r2p_models.studies.peer",
}

__all__ = [  # the same names as FACADE (tests/test_facade.py checks this)
    "FACADE",
    "PEER_SOURCE",
    "FourCrimeEvaluation",
    "Ledger",
    "ModelConfig",
    "PeerEvaluation",
    "Priors",
    "__version__",
    "assemble",
    "base_rate_forecaster",
    "build_design",
    "build_model",
    "build_report",
    "check_convergence",
    "compare_table",
    "compare_variants",
    "evaluate_against_peer",
    "evaluate_four_crimes",
    "explain",
    "explain_risk_factors",
    "fit",
    "forecast_table",
    "information_gaps",
    "lead_time_summary",
    "lead_times",
    "ledger_cases",
    "load_config",
    "load_model",
    "load_panel",
    "panel_summary",
    "pipeline",
    "plot_metric_over_time",
    "reliability_diagram",
    "run_backtest",
    "score_table",
    "simulate_world",
    "voi_table",
    "watchlist",
    "write_adapted",
    "write_world",
]

if TYPE_CHECKING:  # for type checkers and the API reference; never run
    from r2p_models.backtest import base_rate_forecaster, run_backtest
    from r2p_models.calibration import (
        compare_table,
        plot_metric_over_time,
        reliability_diagram,
        score_table,
    )
    from r2p_models.calibration.leadtime import lead_time_summary, lead_times
    from r2p_models.config import ModelConfig, load_config
    from r2p_models.data.adapters import write_adapted
    from r2p_models.data.panel import load_panel, panel_summary
    from r2p_models.data.simulate import simulate_world, write_world
    from r2p_models.forecast import explain, explain_risk_factors, forecast_table, watchlist
    from r2p_models.infogap import information_gaps, voi_table
    from r2p_models.ledger import Ledger
    from r2p_models.model import (
        Priors,
        build_design,
        build_model,
        check_convergence,
        fit,
        load_model,
    )
    from r2p_models.model.compare import compare_variants
    from r2p_models.model.fit import assemble
    from r2p_models.report import build_report
    from r2p_models.rerun import pipeline
    from r2p_models.studies.peer import (
        PEER_SOURCE,
        FourCrimeEvaluation,
        PeerEvaluation,
        evaluate_against_peer,
        evaluate_four_crimes,
        ledger_cases,
    )


def __getattr__(name: str) -> Any:
    """Import a facade name from its home module on first use (PEP 562)."""
    home = FACADE.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
