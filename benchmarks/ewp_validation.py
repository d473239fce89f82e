"""Which model configuration would a validation period before the peer comparison choose?

Not part of the product: the ex-ante selection of the default configuration (the
protocol and the results: ``docs/results/2026-12-02-ex-ante-selection.md``). Candidate
configurations, with the settings of ``r2p evaluate-peer --effect-scale rolling_cv``
(horizon 2, ``r2p_models.studies.peer.EVAL_MODEL``) unless a candidate overrides them, are
backtested on origins 1981-1990 only, whose two-year windows all resolve by 1992, and
scored on the same cases with paired block-bootstrap differences against the first.

A candidate is a variant with optional ``[model]`` overrides: ``pooled``,
``no_country:rules=16``, ``pooled:rules=16:tune=500``.

Usage (from the project root; about 10 to 30 minutes per candidate on 2 cores)::

    .venv/bin/python benchmarks/ewp_validation.py --data ../shared/datasets \
        --out runs/ewp_validation --candidates no_country pooled no_country:rules=16
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import pandas as pd

METRICS = ["brier", "log", "mcb_brier", "auc", "auc_within", "brier_skill_climatology",
           "log_skill_climatology", "mean_forecast", "base_rate"]


def _setting(kv: str) -> tuple[str, object]:
    """``"rules=16"`` -> ``("rules", 16)`` (ints and floats parsed, else the string)."""
    key, _, value = kv.partition("=")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, default=Path("runs/ewp_validation"))
    ap.add_argument("--first", type=int, default=1981)
    ap.add_argument("--last", type=int, default=1990)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--train-at-risk", choices=("target_year", "origin"), default="target_year",
                    help="[model] train_at_risk of every variant")
    ap.add_argument("--candidates", nargs="+",
                    default=["no_country", "pooled", "hierarchical"],
                    help="variant[:key=value...] per candidate (default: the three variants)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="[model] settings of every candidate (e.g. tune=500 draws=500)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    warnings.filterwarnings("ignore", category=UserWarning)

    from r2p_models import calibration
    from r2p_models.config import load_config
    from r2p_models.data.adapters import write_adapted
    from r2p_models.data.panel import load_panel
    from r2p_models.ledger import Ledger
    from r2p_models.rerun import resolve_ledger
    from r2p_models.studies.peer import _backtest_variants, _issue_time_rate, shared_cases

    if args.last + 2 > 1992:
        ap.error("--last must leave every window resolved before the compared origins "
                 "(1993 on): at most 1990")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / "ledger.sqlite"
    base = load_config(write_adapted("ewp", args.data, out / "ewp_panel"))
    base = base.with_outputs(ledger=ledger, report=out / "report.html")
    panel = load_panel(base)
    origins = list(range(args.first, args.last + 1))
    common = {"effect_scale": "rolling_cv", "train_at_risk": args.train_at_risk,
              **dict(_setting(kv) for kv in args.set)}
    sources = []
    for cand in args.candidates:
        variant, *sets = cand.split(":")
        sources += _backtest_variants(base, panel, origins, [variant], ledger, workers=1,
                                      model_overrides={**common,
                                                       **dict(_setting(kv) for kv in sets)},
                                      require_convergence=True, forecaster=None)
    resolve_ledger(ledger, panel, base)
    with Ledger(ledger) as led:
        rows = led.rows()
    cases = shared_cases(rows[rows["origin_year"].isin(origins)], sources)
    cases = cases.drop(columns=["run_id"]).merge(
        _issue_time_rate(panel, origins, 2), on=["origin_year", "crime"], how="left")
    scores = calibration.score_table(cases, by=["source"], p_col="p_mean", y_col="outcome",
                                     references={"climatology": "base_rate"},
                                     metrics=METRICS, n_boot=args.n_boot, rng=0)
    diffs = pd.concat([calibration.compare_table(
        cases, a=sources[0], b=s, p_col="p_mean", y_col="outcome", n_boot=args.n_boot, rng=0,
        metrics=["brier", "log", "auc", "auc_within"]) for s in sources[1:]])
    scores.to_csv(out / "validation_scores.csv", index=False)
    diffs.to_csv(out / "validation_differences.csv", index=False)
    one = cases[cases["source"] == sources[0]]
    print(f"\norigins {origins[0]}-{origins[-1]}: {len(one)} cases, {int(one['outcome'].sum())} "
          "onsets\n")
    print(scores.pivot(index="metric", columns="source", values="estimate").round(4)
          .to_string())
    print()
    print(diffs[["metric", "a", "b", "difference", "lower", "upper"]].round(4)
          .to_string(index=False))


if __name__ == "__main__":
    main()
