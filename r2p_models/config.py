"""The run configuration: one TOML file that names the data and sets every stage.

A run config has these sections; unknown sections or keys are errors, not silently
ignored, so a typo never changes a run without notice::

    [data]
    table = "panel.csv"          # CSV or Parquet, one row per country-year (relative to this file)
    country = "ccode"            # column of country ids
    year = "year"
    name = "country_name"        # optional: column of country names
    region = "region"            # optional: column of regions
    predictors = ["discrimpop", "coup.try.5yr"]
    reports = "reports.csv"      # optional: long table of multi-source reports to fuse
    allow_gaps = false           # optional: allow missing years inside a country's span
    years = [1800, 2200]         # optional: the plausible years; others are input errors

    [data.error_variance]        # optional: known error variances of reporting sources
    "hate_speech/un_field" = 0.04  # "indicator/source" = variance (0: exact)

    [outcomes]                   # crime name = column of yearly onsets: 1, 0 or blank
    crimes_against_humanity = "mk_onset"

    [ongoing]                    # optional: crime name = column, 1 while an episode is under way
    crimes_against_humanity = "mk_ongoing"

    [proxies]                    # optional: crime name = what the outcome column really measures
    crimes_against_humanity = "EWP state-led mass killing onset"

    [indicators.discrimpop]      # optional metadata per predictor
    description = "Share of population subject to political discrimination"
    risk_factors = [4, 9]        # UN Framework of Analysis numbers
    source = "EPR"
    transform = "share"

    [model]                      # see ModelConfig
    [ledger]                     # see LedgerConfig
    [report]                     # see ReportConfig
    [run]                        # optional, written by write_run_config
    inputs = "/srv/r2p/data"     # folder the relative [data] paths are taken from

Paths are resolved relative to the config file's folder ([data] paths relative to
``[run] inputs`` when given).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from r2p_models.crimes import check_crimes, parse_risk_factors
from r2p_models.errors import InputError, decode_utf8

__all__ = [
    "DEFAULT_YEARS",
    "PREVIEW_SAMPLERS",
    "ConfigError",
    "DataConfig",
    "IndicatorMeta",
    "LedgerConfig",
    "ModelConfig",
    "ReportConfig",
    "RunConfig",
    "check_year",
    "load_config",
    "write_run_config",
]


class ConfigError(InputError):
    """A run config that cannot be used; the message names the file and the key."""


#: Largest ``[model] seed``: every sampler takes seeds below 2**32, and a retry adds up to 3.
MAX_SEED = 2**32 - 4
#: Most interaction rules a model may add (``[model] rules``).
MAX_RULES = 64
#: Most knots of a smooth term's B-spline basis (``[model] smooth``).
MAX_SMOOTH_KNOTS = 12

#: Default ``[data] years``: a panel year, an origin or a ``--through`` outside this range
#: is an input error (checked before anything is sized by it).
DEFAULT_YEARS = (1800, 2200)

#: ``[model] sampler`` values that are approximations for previews, never convergence-checked.
PREVIEW_SAMPLERS = ("advi", "pathfinder")


def check_year(value: int, what: str, years: tuple[int, int] = DEFAULT_YEARS) -> int:
    """Refuse a year from a user outside ``years``, before anything is sized by it.

    Parameters
    ----------
    value : int
        The year.
    what : str
        What it is, for the message (e.g. ``"--through"``).
    years : (int, int)
        The plausible range, inclusive (``[data] years``).

    Returns
    -------
    int
        ``value``.

    Raises
    ------
    InputError
        Naming ``what``, the value and the range.
    """
    first, last = years
    if not first <= value <= last:
        raise InputError(f"{what} {value}: expected a year in {first}-{last} "
                         f"([data] years = [{first}, {last}])")
    return value


@dataclass(frozen=True)
class IndicatorMeta:
    """Metadata of one indicator: what it measures and which risk factors it informs."""

    description: str = ""
    risk_factors: tuple[int, ...] = ()
    source: str = ""
    transform: str = ""


@dataclass(frozen=True)
class DataConfig:
    """Where the panel table is and which column plays which role.

    ``years`` is the range ``(first, last)`` of plausible years (``[data] years``, default
    :data:`DEFAULT_YEARS`): a check, not a role, so it enters neither the data nor the config
    hash.
    """

    table: Path
    country: str
    year: str
    predictors: tuple[str, ...]
    outcomes: dict[str, str]
    name: str | None = None
    region: str | None = None
    reports: Path | None = None
    allow_gaps: bool = False
    ongoing: dict[str, str] = field(default_factory=dict)
    proxies: dict[str, str] = field(default_factory=dict)
    indicators: dict[str, IndicatorMeta] = field(default_factory=dict)
    error_variance: dict[tuple[str, str], float] = field(default_factory=dict)
    years: tuple[int, int] = DEFAULT_YEARS

    def check_year(self, value: int, what: str) -> int:
        """Refuse a year from a user outside ``years``; :func:`check_year` with them."""
        return check_year(value, what, self.years)


@dataclass(frozen=True)
class ModelConfig:
    """Model and sampler settings (section ``[model]``).

    Attributes
    ----------
    variant : {"hierarchical", "pooled", "no_country", "independent"}
        ``pooled`` (default) is a regularised pooled logit per crime (the Early Warning
        Project's structure), the variant chosen ex ante on the early origins of both
        real panels (``docs/results/2026-12-02-ex-ante-selection.md``); ``hierarchical``
        is the joint four-crime model of the design, with country effects correlated
        across crimes; ``no_country`` drops country effects; ``independent`` fits each
        crime with its own effects and no sharing across crimes.
    horizon : {1, 2}
        Onset within this many years after the origin year.
    sampler : {"nutpie", "numpyro", "pymc", "advi", "pathfinder"}
        NUTS via nutpie (default) / numpyro / PyMC; ADVI or Pathfinder for previews only
        (:data:`PREVIEW_SAMPLERS`: never convergence-checked, so the commands that record
        in a ledger refuse them).
    chains, draws, tune : int
        MCMC settings.
    target_accept : float
        NUTS target acceptance rate.
    seed : int
        Random seed of the fit.
    missing : {"carry_forward", "bayes"}
        How missing indicators are handled inside the model (see ``r2p_models.model``).
    retries : int
        NUTS fits that fail the convergence check are run again, up to this many times,
        each time with twice the draws and a new seed (default 1): a scheduled rerun has
        nobody to do it by hand. The draws actually used are recorded with the fit.
    extend : int
        A NUTS fit whose only shortfall is its effective sample size (no divergence,
        r_hat below 1.05) is extended before it is retried: another ``chains`` chains
        with a new seed are sampled and pooled with the first ones, up to this many times
        (default 1; 0 to 3). The draws already made are kept, so a short fit costs one
        more set of chains rather than a restart with twice the draws.
    effect_scale : {"learned", "rolling_cv"} or float
        Prior scale of the indicator effects of models with one effect scale (``pooled``,
        and any variant on a one-outcome panel): chosen by rolling-origin
        cross-validation on the training data (default), learned from the data, or fixed
        at a positive number (see :mod:`r2p_models.model.scale`). The joint multi-crime
        variants keep their hierarchical scales under ``"rolling_cv"`` and
        ``"learned"``, and refuse a number.
    train_at_risk : {"target_year", "origin"}
        Which observations the model is trained on: every one at risk in its first target
        year (``"target_year"``, default), which also holds countries whose episode was
        under way at the origin but ended by then; or only those at risk at the origin
        (``"origin"``: no episode under way and no onset in the origin year), the cases a
        forecast is ever issued for (see :mod:`r2p_models.model.design`).
    rules : int
        Interaction rules (threshold conjunctions of indicators found by shallow boosted
        trees on the training cells, :mod:`r2p_models.model.rules`) the model adds as
        terms beside the indicators: 0 (default) for none, at most ``MAX_RULES``.
    rule_scale : float
        Prior sd of the rules' effects relative to the indicators' (default 0.25; from 0
        to 2, exclusive of 0): many rules need a stronger shrinkage than the indicators.
    history : bool
        Add each crime's episode history (under way, or how long ago it ended) as a
        precursor of every crime, one effect per pair of crimes (see
        :mod:`r2p_models.model.design`); off by default.
    smooth : int
        Knots of the cubic B-spline bases that give every continuous indicator a smooth,
        non-linear effect beside its linear one (:mod:`r2p_models.model.smooth`): 0 for
        none, else from 3 to ``MAX_SMOOTH_KNOTS``. Needs ``missing = "carry_forward"``.
    smooth_scale : float
        Prior sd of the smooth terms' effects relative to the indicators' (from 0 to 4,
        exclusive of 0).
    smooth_basis : {"whitened", "scaled"}
        The form of the smooth terms' columns (:func:`r2p_models.model.smooth.
        learn_splines`): every curvature direction with the same prior variance
        (``"whitened"``, default), or the wiggliest ones with the least (``"scaled"``).
    """

    variant: str = "pooled"
    horizon: int = 2
    sampler: str = "nutpie"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    seed: int = 20051
    missing: str = "carry_forward"
    retries: int = 1
    extend: int = 1
    effect_scale: str | float = "rolling_cv"
    train_at_risk: str = "target_year"
    rules: int = 0
    rule_scale: float = 0.25
    history: bool = False
    smooth: int = 0
    smooth_scale: float = 1.0
    smooth_basis: str = "whitened"

    def __post_init__(self) -> None:
        allowed = {
            "variant": ("hierarchical", "pooled", "no_country", "independent"),
            "sampler": ("nutpie", "numpyro", "pymc", "advi", "pathfinder"),
            "missing": ("carry_forward", "bayes"),
            "train_at_risk": ("target_year", "origin"),
            "smooth_basis": ("whitened", "scaled"),
        }
        for key, values in allowed.items():
            value = getattr(self, key)
            if not isinstance(value, str) or value not in values:
                raise ConfigError(f"[model] {key} = {value!r}: expected one of {sorted(values)}")
        if not _is_int(self.horizon) or self.horizon not in (1, 2):
            raise ConfigError(f"[model] horizon = {self.horizon!r}: expected one of [1, 2]")
        for key in ("chains", "draws", "tune"):
            value = getattr(self, key)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"[model] {key} = {value!r}: expected a positive integer")
        r = self.retries
        if not _is_int(r) or not 0 <= r <= 3:
            raise ConfigError(f"[model] retries = {r!r}: expected an integer from 0 to 3")
        rs = self.rule_scale
        if isinstance(rs, bool) or not isinstance(rs, numbers.Real) or not 0 < rs <= 2:
            raise ConfigError(f"[model] rule_scale = {rs!r}: expected a number in (0, 2]")
        if not isinstance(self.history, bool):
            raise ConfigError(f"[model] history = {self.history!r}: expected true or false")
        if not _is_int(self.rules) or not 0 <= self.rules <= MAX_RULES:
            raise ConfigError(f"[model] rules = {self.rules!r}: expected an integer from 0 "
                              f"to {MAX_RULES}")
        k = self.smooth
        if not _is_int(k) or not (k == 0 or 3 <= k <= MAX_SMOOTH_KNOTS):
            raise ConfigError(f"[model] smooth = {k!r}: expected 0 (no smooth terms) or an "
                              f"integer from 3 to {MAX_SMOOTH_KNOTS} (knots)")
        if k and self.missing != "carry_forward":
            raise ConfigError(f"[model] smooth = {k}: needs missing = \"carry_forward\" (the "
                              "smooth terms of a latent missing value are not modelled)")
        ss = self.smooth_scale
        if isinstance(ss, bool) or not isinstance(ss, numbers.Real) or not 0 < ss <= 4:
            raise ConfigError(f"[model] smooth_scale = {ss!r}: expected a number in (0, 4]")
        x = self.extend
        if not _is_int(x) or not 0 <= x <= 3:
            raise ConfigError(f"[model] extend = {x!r}: expected an integer from 0 to 3")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"[model] seed = {self.seed!r}: expected an integer from 0 to "
                              f"{MAX_SEED} (a retry adds 1 to 3 to it)")
        e = self.effect_scale
        if isinstance(e, bool) or not (
                e in ("learned", "rolling_cv")
                or (isinstance(e, int | float) and math.isfinite(e) and e > 0)):
            raise ConfigError(f"[model] effect_scale = {e!r}: expected \"learned\", "
                              "\"rolling_cv\" or a positive number")
        ta = self.target_accept
        if isinstance(ta, bool) or not isinstance(ta, numbers.Real) or not 0.5 <= ta < 1:
            raise ConfigError(f"[model] target_accept = {ta!r}: expected a number in [0.5, 1)")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) of the settings."""
        return asdict(self)


@dataclass(frozen=True)
class LedgerConfig:
    """Section ``[ledger]``: where forecasts are recorded.

    Attributes
    ----------
    path : Path, optional
        The ledger file.
    source : str
        Name of the model's source in the ledger (with the package version and variant).
    recalibrate : bool, default False
        Whether a rerun also records the model's forecasts recalibrated on its own resolved
        track record, as the source ``"<source> recalibrated"``
        (:func:`r2p_models.rerun.issue_recalibrated`).
    """

    path: Path | None = None
    source: str = "r2p-models"
    recalibrate: bool = False

    def __post_init__(self) -> None:
        _check_path(self, "ledger")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError(f"[ledger] source = {self.source!r}: expected a non-empty string")
        if not isinstance(self.recalibrate, bool):
            raise ConfigError(
                f"[ledger] recalibrate = {self.recalibrate!r}: expected true or false")


@dataclass(frozen=True)
class ReportConfig:
    """Section ``[report]``: where the calibration report goes.

    Attributes
    ----------
    path : Path, optional
        The HTML file (default: ``report.html`` beside the ledger).
    title : str
        Title of the report.
    top_n : int
        Countries on each crime's watchlist (a positive integer).
    development : str, optional
        The panel indicator that groups countries by development level for the report's
        objectivity audit (terciles of its country means); by default GDP per capita or
        infant mortality when the panel has one (:mod:`r2p_models.report.development`).
    """

    path: Path | None = None
    title: str = "r2p-models calibration report"
    top_n: int = 30
    development: str | None = None

    def __post_init__(self) -> None:
        _check_path(self, "report")
        if not isinstance(self.title, str):
            raise ConfigError(f"[report] title = {self.title!r}: expected a string")
        if not _is_int(self.top_n) or self.top_n < 1:
            raise ConfigError(f"[report] top_n = {self.top_n!r}: expected a positive integer")
        if self.development is not None and not isinstance(self.development, str):
            raise ConfigError(f"[report] development = {self.development!r}: expected the "
                              "name of an indicator")


def _is_int(value: Any) -> bool:
    """An integer, not a bool (TOML ``1.0`` and ``true`` are not integers)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_path(obj: Any, section: str) -> None:
    """``obj.path`` is None or a path; a string becomes a :class:`~pathlib.Path`."""
    path = obj.path
    if path is None or isinstance(path, Path):
        return
    if not isinstance(path, str | os.PathLike):
        raise ConfigError(f"[{section}] path = {path!r}: expected a path (string)")
    object.__setattr__(obj, "path", Path(path))  # frozen dataclass: set once, here


@dataclass(frozen=True)
class RunConfig:
    """A whole run configuration, as read from one TOML file."""

    path: Path
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def crimes(self) -> tuple[str, ...]:
        """The crimes the panel carries, in canonical order."""
        return tuple(self.data.outcomes)

    def with_outputs(self, *, ledger: Path | None = None, report: Path | None = None) -> RunConfig:
        """A copy with the ledger and/or report path replaced (the hash is unchanged)."""
        cfg = self
        if ledger is not None:
            cfg = replace(cfg, ledger=replace(cfg.ledger, path=Path(ledger)))
        if report is not None:
            cfg = replace(cfg, report=replace(cfg.report, path=Path(report)))
        return cfg

    def hash(self) -> str:
        """sha256 of what decides the forecasts: data roles and model settings.

        The ``[ledger]`` and ``[report]`` sections (where outputs go) and ``[run]`` (where
        the inputs are) are left out, so moving a ledger, a report or the config itself
        (:func:`write_run_config`) does not make the same model a different one; nor is
        ``[data] years`` (a check of the input, not a setting of the model).
        """
        decisive = {k: v for k, v in self.raw.items() if k not in {"ledger", "report", "run"}}
        if isinstance(decisive.get("data"), dict) and "years" in decisive["data"]:
            decisive["data"] = {k: v for k, v in decisive["data"].items() if k != "years"}
        text = json.dumps(decisive, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


_DATA_KEYS = {"table", "country", "year", "name", "region", "predictors", "reports", "allow_gaps",
              "error_variance", "years"}
_INDICATOR_KEYS = {"description", "risk_factors", "source", "transform"}
_SECTIONS = {"data", "outcomes", "ongoing", "proxies", "indicators", "model", "ledger", "report",
             "run"}


def _check_keys(where: str, got: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _expect(where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where} = {value!r}: expected {what}")
    return value


def _crime_map(path: Path, raw: dict[str, Any], section: str) -> dict[str, str]:
    table = raw.get(section, {})
    where = f"{path} [{section}]"
    _expect(where, table, dict, "a table of crime = column")
    try:
        crimes = check_crimes(table, where=where)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    for crime in crimes:
        _expect(f"{where} {crime}", table[crime], str, "a column name (string)")
    return {c: table[c] for c in crimes}


def _section_dataclass(path: Path, raw: dict[str, Any], name: str, cls: type) -> Any:
    table = raw.get(name, {})
    where = f"{path} [{name}]"
    _expect(where, table, dict, "a table")
    allowed = {f.name for f in fields(cls)}
    _check_keys(where, table, allowed)
    values = dict(table)
    for key in ("path",):
        if key in values:
            values[key] = (
                path.parent / _expect(f"{where} {key}", values[key], str, "a path")
            ).resolve()
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{path} {err}") from None
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None


def _years(path: Path, data: dict[str, Any]) -> tuple[int, int]:
    """``[data] years = [first, last]``: the plausible years (default :data:`DEFAULT_YEARS`)."""
    value = data.get("years", list(DEFAULT_YEARS))
    if not (isinstance(value, list) and len(value) == 2 and all(map(_is_int, value))
            and 0 <= value[0] <= value[1] <= 9999):
        raise ConfigError(f"{path} [data] years = {value!r}: expected [first, last], two whole "
                          "years with 0 <= first <= last <= 9999")
    return int(value[0]), int(value[1])


def _error_variances(path: Path, data: dict[str, Any],
                     predictors: list[str]) -> dict[tuple[str, str], float]:
    """``[data.error_variance]``: ``"indicator/source" = variance`` for the fusion."""
    where = f"{path} [data.error_variance]"
    table = _expect(where, data.get("error_variance", {}), dict,
                    'a table of "indicator/source" = variance')
    if table and "reports" not in data:
        raise ConfigError(f"{where}: error variances need [data] reports (the table to fuse)")
    out: dict[tuple[str, str], float] = {}
    for key, value in table.items():
        indicator, _, source = key.partition("/")
        if not indicator or not source:
            raise ConfigError(f'{where} "{key}": expected a key "indicator/source"')
        if indicator not in predictors:
            raise ConfigError(f'{where} "{key}": {indicator!r} is not one of [data] predictors')
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value < 0):
            raise ConfigError(f'{where} "{key}" = {value!r}: expected a number >= 0 '
                              "(0: an exact source)")
        out[(indicator, source)] = float(value)
    return out


def _inputs_folder(path: Path, raw: dict[str, Any]) -> Path:
    """The folder relative ``[data]`` paths are taken from: ``[run] inputs`` (written by
    :func:`write_run_config`) or the config file's own folder."""
    run = raw.get("run", {})
    _expect(f"{path} [run]", run, dict, "a table")
    _check_keys(f"{path} [run]", run, {"inputs"})
    if "inputs" not in run:
        return path.parent
    inputs = Path(_expect(f"{path} [run] inputs", run["inputs"], str, "a folder (string)"))
    inputs = inputs if inputs.is_absolute() else path.parent / inputs
    if not inputs.is_dir():
        raise ConfigError(f"{path} [run] inputs = {run['inputs']!r}: no such folder")
    return inputs


def write_run_config(config: RunConfig, path: str | Path) -> Path:
    """Write ``config`` as a TOML run config at ``path`` (atomically), with its outputs.

    The data paths stay as written, taken from the original config's input folder
    (``[run] inputs``); ``[ledger] path`` and ``[report] path`` are written relative to
    the new file when they lie below its folder. So ``load_config(path)`` gives the same
    config, with the same :meth:`RunConfig.hash`, and ``r2p report``, ``score``,
    ``resolve`` and ``rerun --config path`` work on the run's outputs.
    """
    import tomli_w

    from r2p_models.atomic import atomic_write_text

    path = Path(path).resolve()
    raw = copy.deepcopy(config.raw)
    raw["run"] = {"inputs": str(_inputs_folder(config.path, config.raw).resolve())}

    def rel(p: Path) -> str:
        p = Path(p).resolve()
        return str(p.relative_to(path.parent)) if p.is_relative_to(path.parent) else str(p)

    if config.ledger.path is not None:
        raw.setdefault("ledger", {})["path"] = rel(config.ledger.path)
    if config.report.path is not None:
        raw.setdefault("report", {})["path"] = rel(config.report.path)
    text = (f"# The run config of the outputs in this folder, written by r2p-models from "
            f"{config.path}\n" + tomli_w.dumps(raw))
    atomic_write_text(path, text)
    return path


def load_config(path: str | Path) -> RunConfig:
    """Read and check a run config.

    Parameters
    ----------
    path : str or Path
        The TOML file. Relative paths inside it are taken from its folder.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        The file is missing, not UTF-8 (the message names the line and column of the first
        bad byte) or not TOML, a section or key is unknown, a value has the wrong type, or
        a crime name is not one of the four.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(decode_utf8(path.read_bytes(), str(path), ConfigError))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None

    _check_keys(str(path), raw, _SECTIONS)
    if "data" not in raw:
        raise ConfigError(f"{path}: missing section [data]")
    data = raw["data"]
    _expect(f"{path} [data]", data, dict, "a table")
    _check_keys(f"{path} [data]", data, _DATA_KEYS)
    for key in ("table", "country", "year", "predictors"):
        if key not in data:
            raise ConfigError(f"{path} [data]: missing key {key!r}")
    for key in ("table", "country", "year", "name", "region", "reports"):
        if key in data:
            _expect(f"{path} [data] {key}", data[key], str, "a string")
    predictors = _expect(f"{path} [data] predictors", data["predictors"], list, "a list of columns")
    for p in predictors:
        _expect(f"{path} [data] predictors", p, str, "a list of column names (strings)")
    if len(set(predictors)) != len(predictors):
        dup = sorted({p for p in predictors if predictors.count(p) > 1})
        raise ConfigError(f"{path} [data] predictors: listed more than once: {dup}")
    allow_gaps = _expect(
        f"{path} [data] allow_gaps", data.get("allow_gaps", False), bool, "true or false"
    )

    error_variance = _error_variances(path, data, predictors)
    years = _years(path, data)

    outcomes = _crime_map(path, raw, "outcomes")
    if not outcomes:
        raise ConfigError(f"{path} [outcomes]: name at least one crime = column")
    ongoing = _crime_map(path, raw, "ongoing")
    proxies = _crime_map(path, raw, "proxies")
    for section, mapping in (("ongoing", ongoing), ("proxies", proxies)):
        extra = sorted(set(mapping) - set(outcomes))
        if extra:
            raise ConfigError(f"{path} [{section}]: crime(s) {extra} have no column in [outcomes]")

    indicators: dict[str, IndicatorMeta] = {}
    ind_raw = raw.get("indicators", {})
    _expect(f"{path} [indicators]", ind_raw, dict, "tables [indicators.NAME]")
    for name, meta in ind_raw.items():
        where = f"{path} [indicators.{name}]"
        if name not in predictors:
            raise ConfigError(f"{where}: {name!r} is not one of [data] predictors")
        _expect(where, meta, dict, "a table")
        _check_keys(where, meta, _INDICATOR_KEYS)
        try:
            rfs = parse_risk_factors(meta.get("risk_factors"), where=f"{where} risk_factors")
        except ValueError as err:
            raise ConfigError(str(err)) from None
        for key in ("description", "source", "transform"):
            _expect(f"{where} {key}", meta.get(key, ""), str, "a string")
        indicators[name] = IndicatorMeta(
            description=meta.get("description", ""),
            risk_factors=rfs,
            source=meta.get("source", ""),
            transform=meta.get("transform", ""),
        )

    base = _inputs_folder(path, raw)
    data_cfg = DataConfig(
        table=(base / data["table"]).resolve(),
        country=data["country"],
        year=data["year"],
        predictors=tuple(predictors),
        outcomes=outcomes,
        name=data.get("name"),
        region=data.get("region"),
        reports=(base / data["reports"]).resolve() if "reports" in data else None,
        allow_gaps=allow_gaps,
        ongoing=ongoing,
        proxies=proxies,
        indicators=indicators,
        error_variance=error_variance,
        years=years,
    )
    return RunConfig(
        path=path.resolve(),
        data=data_cfg,
        model=_section_dataclass(path, raw, "model", ModelConfig),
        ledger=_section_dataclass(path, raw, "ledger", LedgerConfig),
        report=_section_dataclass(path, raw, "report", ReportConfig),
        raw=raw,
    )
