"""Studies: the evaluations on real data, against peers and between model variants.

They sit above the pipeline (data -> model -> forecasts -> ledger -> calibration -> report
-> pipeline -> studies and the command line): each runs backtests into a ledger, resolves
it, scores the sources on the same cases and writes a report, using the layers below and
never used by them.

- :mod:`.peer`: against the Early Warning Project's published forecasts
  (``r2p evaluate-peer``), and the joint model against the model fitted crime by crime on
  the four-crime proxy panel (``r2p evaluate-four-crimes``).
"""

__all__: list[str] = []
