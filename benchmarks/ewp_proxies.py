"""Which model families could close the gap to the EWP? Quick out-of-package proxies.

Not part of the product: a measurement for choosing the next model variant
(``docs/results/2026-11-29-ewp.md``, "What would narrow the gaps"). For every origin of
the EWP backtest (1993-2006, onset in the next two years) each proxy is fitted on what was
known at that origin (``build_design(..., through=origin)``: the same standardised
predictors and missingness flags the package's models see) and forecasts the origin's
at-risk countries. Scores on all those country-windows, then on the ones the peer (the
EWP's published out-of-sample forecasts) also forecast, with each forecaster also
recalibrated on its own track record
(:func:`r2p_models.calibration.recalibrate_on_track_record`).

Proxies: ridge logit (scikit-learn, C = 0.01, i.e. sd ~0.1), elastic net with its penalty
cross-validated on country-grouped folds, additive cubic splines and pairwise interactions
(ridge), random forests, and BART (``pymc-bart``, logit link with the training base rate as
a fixed offset; skipped when pymc-bart is not installed: ``pip install pymc-bart``).

Usage (from the project root; the linear proxies and forests take about 2 minutes, each
BART setting 10-20 minutes on 2 cores)::

    .venv/bin/python benchmarks/ewp_proxies.py --data ../shared/datasets
    .venv/bin/python benchmarks/ewp_proxies.py --data ../shared/datasets --models ridge bart50
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logit

MODELS = ("ridge", "enet_cv", "splines", "interactions", "rf_leaf5", "rf_leaf10", "rf_sqrt",
          "bart50", "bart100")


def _sklearn(name: str, continuous: list[int]) -> Callable[[], object]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, SplineTransformer, StandardScaler

    if name == "ridge":
        return lambda: LogisticRegression(C=0.01, max_iter=5000)
    if name == "splines":
        return lambda: make_pipeline(
            ColumnTransformer([("s", SplineTransformer(n_knots=4, knots="quantile"), continuous)],
                              remainder="passthrough"),
            StandardScaler(), LogisticRegression(C=0.003, max_iter=5000))
    if name == "interactions":
        return lambda: make_pipeline(
            PolynomialFeatures(2, interaction_only=True, include_bias=False), StandardScaler(),
            LogisticRegression(C=0.001, max_iter=5000))
    leaf, feats = {"rf_leaf5": (5, 0.3), "rf_leaf10": (10, 0.3), "rf_sqrt": (5, "sqrt")}[name]
    return lambda: RandomForestClassifier(500, min_samples_leaf=leaf, max_features=feats,
                                          n_jobs=2, random_state=0)


def _enet_cv(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> object:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    folds = list(GroupKFold(5).split(X, groups=groups))
    return LogisticRegressionCV(Cs=[0.003, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3],
                                penalty="elasticnet", l1_ratios=[0.5], solver="saga",
                                max_iter=20000, cv=folds, scoring="neg_log_loss").fit(X, y)


def _bart(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, trees: int, draws: int,
          seed: int) -> np.ndarray:
    import pymc as pm
    import pymc_bart as pmb

    offset = float(logit(y.mean()))
    with pm.Model():
        Xd = pm.Data("X", X)
        mu = pmb.BART("mu", Xd, y, m=trees)
        pm.Bernoulli("y", logit_p=offset + mu, observed=y, shape=Xd.shape[0])
        idata = pm.sample(draws=draws, tune=draws, chains=4, cores=2, random_seed=seed,
                          progressbar=False, compute_convergence_checks=False)
        pm.set_data({"X": Xt})
        pp = pm.sample_posterior_predictive(idata, var_names=["mu"], predictions=True,
                                            progressbar=False, random_seed=seed)
    eta = pp.predictions["mu"].values + offset
    return (1.0 / (1.0 + np.exp(-eta))).mean(axis=(0, 1))


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from r2p_models.calibration import brier_score, corp_decomposition, log_score, roc_auc

    return {"auc": roc_auc(p, y), "brier": float(np.mean(brier_score(p, y))),
            "log": float(np.mean(log_score(p, y))),
            "mcb_brier": float(corp_decomposition(p, y, score="brier").mcb),
            "mean": float(p.mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--models", nargs="+", default=[m for m in MODELS if "bart" not in m],
                    choices=MODELS)
    ap.add_argument("--first", type=int, default=1993)
    ap.add_argument("--last", type=int, default=2006)
    ap.add_argument("--bart-draws", type=int, default=300)
    ap.add_argument("--csv", type=Path, help="also write every forecast here")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    from r2p_models.calibration import recalibrate_on_track_record
    from r2p_models.config import load_config
    from r2p_models.data.adapters import write_adapted
    from r2p_models.data.panel import load_panel
    from r2p_models.model.design import build_design, origin_design
    from r2p_models.studies.peer import FOOS_FILE, peer_forecast_rows

    with tempfile.TemporaryDirectory() as tmp:
        panel = load_panel(load_config(write_adapted("ewp", args.data, Path(tmp) / "ewp")))
    full = build_design(panel, horizon=2)
    years = [int(v) for v in full.years]
    rows = []
    for t in range(args.first, args.last + 1):
        d = build_design(panel, horizon=2, through=t)
        w = d.w[:, :, 0] > 0
        X = np.concatenate([d.x, d.flags], axis=2)[w]
        y = d.y[:, :, 0][w]
        groups = np.broadcast_to(np.arange(w.shape[0])[:, None], w.shape)[w]
        continuous = [j for j in range(X.shape[1]) if len(np.unique(X[:, j])) > 6]
        od = origin_design(panel, t, d.standardisation, d.crimes)
        ti = years.index(t)
        wt = full.w[:, ti, 0] > 0
        Xt = np.concatenate([od.x, od.flags], axis=1)[wt]
        case = pd.DataFrame({"origin_year": t, "country": np.asarray(od.countries)[wt],
                             "outcome": full.y[wt, ti, 0]})
        for name in args.models:
            t0 = time.perf_counter()
            if name.startswith("bart"):
                p = _bart(X, y, Xt, int(name[4:]), args.bart_draws, seed=t)
            elif name == "enet_cv":
                p = _enet_cv(X, y, groups).predict_proba(Xt)[:, 1]
            else:
                p = _sklearn(name, continuous)().fit(X, y).predict_proba(Xt)[:, 1]
            rows.append(case.assign(source=name, p_mean=np.clip(p, 1e-4, 1 - 1e-4)))
            print(f"origin {t} {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    ours = pd.concat(rows, ignore_index=True)
    peer, _ = peer_forecast_rows(args.data / FOOS_FILE, horizon=2)
    peer = peer.merge(ours[ours["source"] == args.models[0]][["origin_year", "country",
                                                              "outcome"]],
                      on=["origin_year", "country"])
    allrows = pd.concat([ours, peer.assign(source="EWP published")[ours.columns]],
                        ignore_index=True)
    allrows = allrows.assign(crime="mass_killing", target_end=allrows["origin_year"] + 2,
                             outcome_status="observed")
    recal = recalibrate_on_track_record(allrows)
    if args.csv:
        pd.concat([allrows, recal[allrows.columns]]).to_csv(args.csv, index=False)

    print(f"\nAll at-risk country-windows, origins {args.first}-{args.last} "
          f"({len(ours) // len(args.models)} cases, "
          f"{int(ours[ours.source == args.models[0]].outcome.sum())} onsets):")
    for name, g in ours.groupby("source", sort=False):
        s = _scores(g["p_mean"].to_numpy(), g["outcome"].to_numpy())
        print(f"  {name:14s} " + " ".join(f"{k} {v:.5f}" if k != "auc" else f"auc {v:.3f}"
                                          for k, v in s.items()))
    both = pd.concat([allrows, recal[allrows.columns]], ignore_index=True)
    key = ["origin_year", "country"]
    n = both.groupby(key)["source"].transform("nunique")
    both = both[n == both["source"].nunique()]
    print(f"\nCases the peer also forecast ({len(both) // both['source'].nunique()}, "
          f"{int(both[both.source == 'EWP published'].outcome.sum())} onsets), as issued and "
          "recalibrated on the track record:")
    for name, g in both.groupby("source", sort=False):
        s = _scores(g["p_mean"].to_numpy(), g["outcome"].to_numpy())
        print(f"  {name:27s} " + " ".join(f"{k} {v:.5f}" if k != "auc" else f"auc {v:.3f}"
                                          for k, v in s.items()))


if __name__ == "__main__":
    main()
