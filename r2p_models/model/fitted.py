"""The fitted model: :class:`FittedModel`, its convergence report, and its file.

A :class:`FittedModel` holds the posterior, what is needed to forecast and its provenance;
:func:`r2p_models.model.fit.fit` makes one (by sampling) and :func:`load_model` reads one
back. Its forecasts are :mod:`r2p_models.model.predict`'s. Fitting imports this module,
never the other way round.

The file (:func:`save_model`, :func:`load_model`) is one compressed netCDF file per model:
an ArviZ InferenceData (groups ``posterior``, ``sample_stats``, ``constant_data``) whose
global attributes hold everything needed to trust and reuse it, in the manner of
PyMC-Marketing's ``ModelBuilder``: the model config (JSON), its hash, the data hash, the
package version, the seed, the format version and the convergence report. Per-observation
quantities (log-likelihoods, fitted probabilities) are never stored, which keeps a full
default model to a few tens of MB.

Loading checks the format version (a file written by a newer format is refused with a
clear message) and, when asked, the config: a file fitted with another config is
refused rather than silently used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from r2p_models.atomic import atomic_path
from r2p_models.config import ModelConfig
from r2p_models.errors import InputError
from r2p_models.model.design import Design, Standardisation
from r2p_models.model.predict import coefficients, log_odds_terms, posterior_arrays, predict

__all__ = [
    "FORMAT_VERSION",
    "MODEL_TYPE",
    "ConvergenceError",
    "ConvergenceReport",
    "FittedModel",
    "ModelFileError",
    "load_model",
    "save_model",
]


class ConvergenceError(RuntimeError):
    """Raised by :meth:`FittedModel.check` when asked to fail on a failed check."""


@dataclass(frozen=True)
class ConvergenceReport:
    """Result of a convergence check.

    Attributes
    ----------
    ok : bool
        All checks passed (always False for previews).
    max_rhat, min_ess_bulk, min_ess_tail : float
        Worst values over every element of every kept parameter.
    divergences : int
    worst : dict
        The parameter element with the worst value of each figure.
    sampler : str
    sampling_seconds : float
        Wall time of sampling (compilation excluded).
    compile_seconds : float
    problems : tuple of str
        One line per failed check.
    """

    ok: bool
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    worst: dict[str, str]
    sampler: str
    sampling_seconds: float
    compile_seconds: float
    problems: tuple[str, ...] = ()

    @property
    def min_ess_per_second(self) -> float:
        """Minimum bulk ESS per second of sampling."""
        return self.min_ess_bulk / self.sampling_seconds if self.sampling_seconds > 0 else np.nan

    def summary(self) -> str:
        """One line for logs."""
        state = "converged" if self.ok else "NOT CONVERGED"
        line = (f"{state} ({self.sampler}): max r_hat {self.max_rhat:.3f}, min bulk ESS "
                f"{self.min_ess_bulk:.0f}, min tail ESS {self.min_ess_tail:.0f}, "
                f"{self.divergences} divergences, {self.sampling_seconds:.1f} s sampling")
        return line + ("; " + "; ".join(self.problems) if self.problems else "")

    def to_json(self) -> str:
        """JSON text (stored in a saved model)."""
        return json.dumps(asdict(self), default=float)

    @classmethod
    def from_json(cls, text: str) -> ConvergenceReport:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        d["problems"] = tuple(d.get("problems", ()))
        return cls(**d)


@dataclass
class FittedModel:
    """A fitted model: posterior, what is needed to forecast, and its provenance.

    Build one with :func:`r2p_models.model.fit.fit` or :func:`load_model`.

    Attributes
    ----------
    idata : arviz.InferenceData
        ``posterior`` (parameters only, no per-observation quantity), ``sample_stats``,
        ``constant_data`` (standardisation, regions of the training countries).
    config : ModelConfig
    diagnostics : ConvergenceReport
    meta : dict
        ``config_hash``, ``data_hash``, ``package_version``, ``seed``, ``through``,
        ``horizon``, ``variant``, ``design_counts`` ...
    """

    idata: az.InferenceData
    config: ModelConfig
    diagnostics: ConvergenceReport
    meta: dict[str, Any] = field(default_factory=dict)
    design: Design | None = field(default=None, repr=False)

    # -- convenience views ---------------------------------------------------------
    @property
    def status(self) -> str:
        """``"converged"`` or ``"NOT CONVERGED: <problems>"``."""
        d = self.diagnostics
        return "converged" if d.ok else "NOT CONVERGED: " + "; ".join(d.problems)

    @property
    def crimes(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.idata.posterior["crime"].values)

    @property
    def standardisation(self) -> Standardisation:
        return Standardisation.from_dataset(self.idata.constant_data)

    @property
    def horizon(self) -> int:
        return int(self.config.horizon)

    def check(self, *, raise_on_fail: bool = False) -> ConvergenceReport:
        """The convergence report; with ``raise_on_fail`` raise :class:`ConvergenceError`."""
        if raise_on_fail and not self.diagnostics.ok:
            raise ConvergenceError(self.diagnostics.summary())
        return self.diagnostics

    def draws(self) -> dict[str, np.ndarray]:
        """Posterior draws with chains stacked: arrays with a leading draw axis."""
        return posterior_arrays(self)

    def predict(self, panel: xr.Dataset, origin_year: int, *, horizon: int | None = None,
                ) -> xr.DataArray:
        """Posterior draws of P(onset within the horizon | at risk) at an origin year.

        Parameters
        ----------
        panel : xarray.Dataset
            A panel with the model's indicators and crimes, holding ``origin_year``;
            countries unknown to the model get a country effect drawn from the fitted
            population distribution (seeded, so repeatable).
        origin_year : int
            Predictors are those of this year (missing ones carried forward from the
            panel's earlier years).
        horizon : int, optional
            Must equal the fitted horizon when given.

        Returns
        -------
        xarray.DataArray
            dims ``(country, crime, draw)``, named ``p``, with coordinates ``region``,
            ``at_risk(country, crime)`` (known at the origin: no episode under way and no
            onset in the origin year) and attributes origin year, horizon, target years,
            model status.
        """
        return predict(self, panel, origin_year, horizon=horizon)

    def log_odds_terms(self, panel: xr.Dataset, origin_year: int,
                       countries: list[str] | None = None) -> xr.Dataset:
        """Per-draw additive terms of the log-odds (see :func:`r2p_models.forecast.explain`)."""
        return log_odds_terms(self, panel, origin_year, countries=countries)

    def coefficients(self, scale: str = "raw") -> xr.Dataset:
        """``alpha`` and ``beta`` draws on the standardised or the raw indicator scale.

        On the raw scale ``beta`` is the change in log-odds per unit of the indicator
        and ``alpha`` the log-odds with every indicator at 0 and fully observed.
        """
        return coefficients(self, scale=scale)

    def save(self, path: str | Path) -> Path:
        """Write the model to one compressed netCDF file (atomically)."""
        return save_model(self, path)


#: Version of the file layout; bump when a change makes old readers misread new files.
#: 2: ``constant_data.x_true_var`` (regression calibration of fused indicators); a
#: format-1 file loads as a model without calibration, as it was fitted.
FORMAT_VERSION = 2
MODEL_TYPE = "r2p-models/onset-logit"


class ModelFileError(InputError):
    """A saved model that cannot be used: unreadable, another format, or another config."""


def save_model(fm: FittedModel, path: str | Path) -> Path:
    """Write a fitted model to ``path`` (compressed netCDF), atomically.

    Parameters
    ----------
    fm : FittedModel
    path : str or Path
        Target file; its folder must exist.

    Returns
    -------
    Path
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ModelFileError(f"{path}: folder {path.parent} does not exist")
    idata = az.InferenceData(**{g: getattr(fm.idata, g) for g in fm.idata.groups()})
    attrs: dict[str, Any] = {
        "model_type": MODEL_TYPE,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(fm.config.to_dict(), sort_keys=True),
        "diagnostics": fm.diagnostics.to_json(),
        "status": fm.status,
    }
    for key, value in fm.meta.items():
        attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
    idata.attrs = attrs
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), compress=True, engine="h5netcdf")
    return path


def _config_from_json(text: str, path: Path) -> ModelConfig:
    raw = json.loads(text)
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ModelFileError(
            f"{path}: the model's config has settings this version does not know ({unknown}); "
            "it was written by a newer r2p-models"
        )
    try:
        return ModelConfig(**raw)
    except ValueError as err:
        raise ModelFileError(f"{path}: stored config is invalid ({err})") from None


def load_model(
    path: str | Path,
    expected_config_hash: str | None = None,
    *,
    expected_config: ModelConfig | None = None,
) -> FittedModel:
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path
    expected_config_hash : str, optional
        Refuse the file unless its ``config_hash`` equals this (the hash recorded at fit
        time: the run config's hash when the CLI fitted it).
    expected_config : ModelConfig, optional
        Refuse the file unless it was fitted with these ``[model]`` settings; the error
        names the settings that differ.

    Returns
    -------
    FittedModel
        Predictions equal those of the model that was saved.

    Raises
    ------
    ModelFileError
        Missing or unreadable file, not an r2p model, a newer format, or another config.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        idata = az.from_netcdf(path, engine="h5netcdf")
        for g in idata.groups():  # read everything, then release the file
            ds = getattr(idata, g)
            ds.load()
            ds.close()
    except Exception as err:  # any reader error becomes one line naming the file
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelFileError(f"{path}: cannot read model file ({msg})") from None
    attrs = dict(getattr(idata, "attrs", {}) or {})
    if attrs.get("model_type") != MODEL_TYPE:
        raise ModelFileError(f"{path}: not an r2p-models fitted model file")
    version = int(attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version} is newer than this r2p-models reads "
            f"(format {FORMAT_VERSION}); upgrade r2p-models"
        )
    if version < 1:
        raise ModelFileError(f"{path}: unknown model file format {version}")
    config = _config_from_json(str(attrs["config"]), path)
    if expected_config_hash is not None and attrs.get("config_hash") != expected_config_hash:
        raise ModelFileError(
            f"{path}: the model was fitted with another config (config_hash "
            f"{str(attrs.get('config_hash'))[:12]}..., expected {expected_config_hash[:12]}...); "
            "refit it with this config"
        )
    if expected_config is not None and expected_config != config:
        diff = [f.name for f in fields(ModelConfig)
                if getattr(config, f.name) != getattr(expected_config, f.name)]
        raise ModelFileError(
            f"{path}: the model was fitted with other [model] settings: "
            + ", ".join(f"{k} = {getattr(config, k)!r} (expected "
                        f"{getattr(expected_config, k)!r})" for k in diff)
        )
    diagnostics = ConvergenceReport.from_json(str(attrs["diagnostics"]))
    skip = {"model_type", "format_version", "config", "diagnostics", "status",
            "created_at", "arviz_version", "inference_library", "inference_library_version",
            "creation_library", "creation_library_version", "creation_library_language"}
    meta = {k: v for k, v in attrs.items() if k not in skip}
    for key in ("seed", "through", "horizon", "attempts", "draws_used", "seed_used"):
        if key in meta:
            meta[key] = int(meta[key])
    return FittedModel(idata=idata, config=config, diagnostics=diagnostics, meta=meta)
