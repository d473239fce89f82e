"""r2p-models: Bayesian early warning for the four atrocity crimes.

Modules follow the data flow: ``data`` (panels, fusion, the simulated default
world, real-data adapters) -> ``model`` -> ``forecast`` -> ``ledger`` ->
``calibration`` -> ``report``. Lower layers never import higher ones.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("r2p-models")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
