"""The Bayesian onset models: design, build, fit, predict, save and load.

Typical use::

    from r2p_models.model import fit, load_model
    fm = fit(panel, config.model, through=2015)
    print(fm.status)                      # "converged" or "NOT CONVERGED: ..."
    draws = fm.predict(panel, origin_year=2015)   # DataArray (country, crime, draw)
    fm.save("model.nc"); same = load_model("model.nc")

Modules: :mod:`~r2p_models.model.design` (outcome within the horizon, at-risk mask,
standardisation and missing data: read its docstring for the rules),
:mod:`~r2p_models.model.build` (the PyMC model and its variants: the default ``pooled``
logit, the joint ``hierarchical`` model and others),
:mod:`~r2p_models.model.scale` (learned, fixed or cross-validated effect scale),
:mod:`~r2p_models.model.smooth` and :mod:`~r2p_models.model.rules` (non-linear terms),
:mod:`~r2p_models.model.fit` (samplers, the sampler cache, convergence checks and
retries), :mod:`~r2p_models.model.fitted` (:class:`FittedModel`, its convergence report and
its netCDF file), :mod:`~r2p_models.model.predict` (forecast draws and log-odds terms),
:mod:`~r2p_models.model.compare` (PSIS-LOO between variants);
:mod:`~r2p_models.model.io` keeps the file functions' old import path.
"""

from r2p_models.model.build import VARIANTS, Priors, build_model
from r2p_models.model.design import Design, DesignError, build_design
from r2p_models.model.fit import ConvergenceWarning, check_convergence, config_hash, fit
from r2p_models.model.fitted import (
    ConvergenceError,
    ConvergenceReport,
    FittedModel,
    ModelFileError,
    load_model,
    save_model,
)
from r2p_models.model.scale import ScaleSelection, select_effect_scale

__all__ = [
    "VARIANTS",
    "ConvergenceError",
    "ConvergenceReport",
    "ConvergenceWarning",
    "Design",
    "DesignError",
    "FittedModel",
    "ModelFileError",
    "Priors",
    "ScaleSelection",
    "build_design",
    "build_model",
    "check_convergence",
    "config_hash",
    "fit",
    "load_model",
    "save_model",
    "select_effect_scale",
]
