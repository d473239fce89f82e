"""The behaviour reference: a short backtest on a small simulated world, and its scores.

Issue 24 asks that a refactor keep "the same ledger rows and scores on the default world".
This module is the one home of that scenario; ``tests/test_behaviour.py`` runs it and
compares with the two files this script writes beside itself:

- ``behaviour_reference.csv``: the ledger rows (key, forecast probabilities, outcome and
  outcome status) of a rolling-origin backtest, resolved against the panel;
- ``behaviour_reference_scores.csv``: the Brier and log scores of its resolved rows by
  source, from :func:`r2p_models.calibration.score_table`.

The scenario: the default world's generator (:func:`r2p_models.data.simulate.simulate_world`,
seed 11, 16 years 1980-1995, scale 0.15: 26 countries, the four crimes) written with its
own ``run.toml`` (the package's default model: a pooled logit per crime, effect scale by
rolling-origin CV, horizon 2), backtested at origins 1991 (window 1992-1993, resolved) and
1994 (window 1995-1996, pending unless an onset is seen in 1995) by two forecasters:

- the model, fitted by nutpie with tiny settings (2 chains x 150 draws after 150 tuning
  steps, seed 5, no retries or extensions, ``require_convergence=False``: such fits do not
  pass the convergence checks, which is not what is tested here);
- the base-rate forecaster (:func:`r2p_models.backtest.base_rate_forecaster`), under the
  ledger source ``climatology``: deterministic, so its probabilities are compared exactly.

The rows are then resolved (:meth:`r2p_models.ledger.Ledger.resolve`, observed through
1995). The package version inside a source name is written as ``{version}``, so a version
bump alone does not change the reference.

The reference was made on 2026-12-05 from the current main code, with every refactor of
issue 24 merged so far: main's HEAD d5659d6 plus the move of ``__version__`` into
``r2p_models/_version.py`` (commit 51157f0 of branch ``golden-behaviour``, which changes no
behaviour). Regenerate it only when a change of behaviour is intended, and say so in the
commit::

    PYTHONPATH=$PWD python tests/data/make_behaviour_reference.py

It takes about half a minute. The file name does not start with ``test_``, so pytest
does not collect it.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
ROWS_FILE = HERE / "behaviour_reference.csv"
SCORES_FILE = HERE / "behaviour_reference_scores.csv"

WORLD_SEED = 11
N_YEARS = 16
SCALE = 0.15
ORIGINS = (1991, 1994)
OBSERVED_THROUGH = 1995  # the panel's last year
#: nutpie settings of the model's fits (tiny: the fits are not expected to converge)
CHAINS, DRAWS, TUNE, SAMPLER_SEED = 2, 150, 150, 5
BASE_RATE_SOURCE = "climatology"
METRICS = ("brier", "log")

#: Columns that must match exactly (the key, the outcome and its status).
KEY = ["source", "kind", "origin_year", "country", "crime", "horizon", "target_start",
       "target_end"]
EXACT = [*KEY, "outcome", "outcome_status"]
PROBABILITIES = ["p_mean", "p_q05", "p_q50", "p_q95"]


def scenario(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the backtests in ``folder`` and return ``(rows, scores)`` as written."""
    from r2p_models._version import __version__
    from r2p_models.backtest import base_rate_forecaster, run_backtest
    from r2p_models.calibration import score_table
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.data.simulate import simulate_world, write_world
    from r2p_models.ledger import Ledger

    folder = Path(folder)
    world = simulate_world(WORLD_SEED, n_years=N_YEARS, scale=SCALE)
    config = load_config(write_world(world, folder / "world"))
    panel = load_panel(config)
    model = replace(config, model=replace(config.model, chains=CHAINS, draws=DRAWS, tune=TUNE,
                                          seed=SAMPLER_SEED, retries=0, extend=0))
    base = replace(config, ledger=replace(config.ledger, source=BASE_RATE_SOURCE))
    ledger = folder / "ledger.sqlite"
    # One BLAS thread throughout: the effect-scale CV's many small ridge fits run several
    # times slower with more threads on a busy machine, and the numbers do not depend on
    # the machine's core count. Unconverged fits warn; that is expected here.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_backtest(model, panel, ORIGINS, ledger=ledger, require_convergence=False)
        run_backtest(base, panel, ORIGINS, ledger=ledger, forecaster=base_rate_forecaster)
    with Ledger(ledger) as led:
        led.resolve(panel, outcome_source=f"simulated world seed {WORLD_SEED}",
                    observed_through=OBSERVED_THROUGH,
                    resolved_at=dt.datetime(OBSERVED_THROUGH + 1, 2, 1, tzinfo=dt.UTC))
        rows = led.rows()
    rows["source"] = rows["source"].str.replace(__version__, "{version}", regex=False)
    rows = (rows[[*KEY, *PROBABILITIES, "outcome", "outcome_status"]]
            .sort_values(KEY).reset_index(drop=True))
    scores = score_table(rows, by=["source"], metrics=list(METRICS), p_col="p_mean",
                         unresolved="drop", n_boot=10, rng=0)
    scores = scores[["source", "metric", "n", "events", "estimate"]].reset_index(drop=True)
    return rows, scores


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows, scores = scenario(tmp)
    rows.to_csv(ROWS_FILE, index=False, lineterminator="\n")
    scores.to_csv(SCORES_FILE, index=False, lineterminator="\n")
    print(f"wrote {ROWS_FILE.name} ({len(rows)} rows) and {SCORES_FILE.name} "
          f"({len(scores)} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()
