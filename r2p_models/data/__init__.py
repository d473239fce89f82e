"""Data layer: the panel, its validation, evidence fusion, the simulated default world
and the real-data adapters.

The panel is an :class:`xarray.Dataset` with named dimensions

- ``country`` (str id) with coordinates ``name(country)`` and ``region(country)``;
- ``year`` (int, consecutive);
- ``indicator`` (str) with coordinates ``description``, ``risk_factors`` (comma-separated
  UN Framework numbers, e.g. ``"1,9"``), ``source`` and ``transform``;
- ``crime`` (subset of :data:`r2p_models.crimes.CRIMES`, canonical order) with
  coordinates ``outcome_column`` and ``proxy`` (empty string when the outcome is not a proxy);

and variables

- ``X(country, year, indicator)``: float, NaN where unknown;
- ``X_var(country, year, indicator)``: measurement variance of ``X`` (0 for a value
  read directly from a single column, the fused variance for multi-source indicators,
  NaN where ``X`` is NaN);
- ``onset(country, year, crime)``: 1.0 if an episode began that year, 0.0 if not, NaN if unknown;
- ``ongoing(country, year, crime)``: 1.0 if an episode was under way (not at risk of onset),
  else 0.0;
- ``present(country, year)``: bool, the country-year exists in the input table;
- with a reports file, the reports themselves over a dimension ``report``:
  ``report_country``, ``report_year``, ``report_indicator``, ``report_source``,
  ``report_value`` (every row of the file, so that
  :func:`r2p_models.data.panel.panel_as_of` can fuse them as they stood at a year).

Attributes: ``source_file``, ``data_hash`` (sha256 of the input bytes and roles), with
reports ``error_variance`` (the run config's known error variances, JSON) and, on a panel
from :func:`~r2p_models.data.panel.panel_as_of`, ``fused_as_of`` (the year).
"""
