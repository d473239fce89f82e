"""Pair two `r2p evaluate-peer` runs on the same cases: scores and paired differences.

Not part of the product: the once-only scoring of the ex-ante choice on origins 1993-2006
(``docs/results/2026-12-02-ex-ante-selection.md``, round 6b). Each run's ledger holds one
configuration of ours, its recalibrated version and the peer's published forecasts; this
reads both ledgers, keeps the compared origins and the cases every source forecast and
resolved, and prints the scores of every source and the first run's model minus the
second's and minus the peer's, with 90 % block-bootstrap intervals (countries resampled).

Usage (from the project root)::

    .venv/bin/python benchmarks/ewp_pair.py runs/eval_smooth runs/eval_pooled
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path, help="output folder of the first evaluate-peer run")
    ap.add_argument("second", type=Path, help="output folder of the second run")
    ap.add_argument("--origins", default="1993-2006")
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()

    from r2p_models import calibration
    from r2p_models.ledger import Ledger
    from r2p_models.studies.peer import PEER_SOURCE, shared_cases

    first, last = (int(v) for v in args.origins.split("-"))
    rows = []
    for i, folder in enumerate((args.first, args.second)):
        with Ledger(folder / "ledger.sqlite", readonly=True) as led:
            r = led.rows()
        if i:  # the peer's rows once
            r = r[~r["source"].str.startswith(PEER_SOURCE)]
        rows.append(r)
    ours = [sorted(set(r["source"]) - {PEER_SOURCE}) for r in rows]
    model = [min(s, key=len) for s in ours]  # each run's model as issued (not recalibrated)
    allr = pd.concat(rows)
    allr = allr[allr["origin_year"].between(first, last)
                & (allr["outcome_status"] == "observed")]
    sources = sorted(set(allr["source"]))
    cases = shared_cases(allr, sources).drop(columns=["run_id"])
    one = cases[cases["source"] == PEER_SOURCE]
    print(f"{len(one)} cases, {int(one['outcome'].sum())} onsets, origins {first}-{last}\n")
    scores = calibration.score_table(
        cases, by=["source"], p_col="p_mean", y_col="outcome", n_boot=args.n_boot, rng=0,
        metrics=["log", "brier", "auc", "auc_within", "mcb_brier", "capture_top30"])
    print(scores.pivot(index="source", columns="metric", values="estimate").round(4)
          .to_string())
    for other in (model[1], PEER_SOURCE):
        d = calibration.compare_table(cases, a=model[0], b=other, p_col="p_mean",
                                      y_col="outcome", n_boot=args.n_boot, rng=0,
                                      metrics=["log", "brier", "auc"])
        print()
        print(d[["metric", "a", "b", "difference", "lower", "upper"]].round(4)
              .to_string(index=False))


if __name__ == "__main__":
    main()
