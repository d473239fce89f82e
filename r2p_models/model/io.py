"""Saving and loading fitted models: the names of :mod:`r2p_models.model.fitted`.

A fitted model, its convergence report and its netCDF file live together in
:mod:`r2p_models.model.fitted` (the file format is described there). This module keeps
the names that were imported from it before (``from r2p_models.model.io import
load_model``) working; new code imports them from :mod:`r2p_models.model` or
:mod:`r2p_models.model.fitted`.
"""

from __future__ import annotations

from r2p_models.model.fitted import (
    FORMAT_VERSION,
    MODEL_TYPE,
    ModelFileError,
    load_model,
    save_model,
)

__all__ = ["FORMAT_VERSION", "MODEL_TYPE", "ModelFileError", "load_model", "save_model"]
