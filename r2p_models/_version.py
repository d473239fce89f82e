"""The package version, in a leaf module that imports nothing.

Lower layers (the ledger source names, fitted models' metadata, the run manifest, the
command line) import it from here rather than from the package root, which is the facade
at the top of the layering. ``r2p_models.__version__`` is this same string, and
``pyproject.toml`` reads the distribution's version from this file
(``[tool.setuptools.dynamic]``), so there is one place to bump it.
"""

__version__ = "0.1.0"
