"""Screen model configurations on the EWP validation origins with MAP stand-ins.

Not part of the product: the ex-ante selection of the default configuration (protocol,
amendment and results: ``docs/results/2026-12-02-ex-ante-selection.md``). For every
validation origin and candidate (variant x interaction rules) the effect scale is chosen
by the package's rolling-origin CV (:func:`r2p_models.model.scale.select_effect_scale`),
and a ridge logit with that prior sd, the MAP of the candidate's effects under its
``Normal(0, s)`` prior, is fitted (scikit-learn) on the columns the Bayesian model sees
(indicators, missingness flags, rules), plus region indicators (prior sd 0.4) for
``no_country`` and ``hierarchical`` and country indicators (prior sd 0.6) for
``hierarchical``; a column scaled by ``a`` under penalty ``1 / (2 s**2)`` has prior sd
``a * s``. Each forecasts the origin's at-risk countries; all candidates are scored on
the same cases, with paired block-bootstrap differences against the first.

Usage (from the project root; a few minutes)::

    .venv/bin/python benchmarks/ewp_screen.py --data ../shared/datasets --out runs/ewp_screen
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

#: (variant, rules, prior sd of the rule effects relative to the indicators')
CANDIDATES = [("pooled", 0, 1.0), ("pooled", 16, 1.0), ("no_country", 0, 1.0),
              ("no_country", 16, 1.0), ("hierarchical", 0, 1.0), ("hierarchical", 16, 1.0)]
#: Round 2 (see the results page): more, more strongly shrunk rules (the effect-scale CV
#: saw the rules at the indicators' prior sd)
ROUND2 = [("pooled", 0, 1.0), ("pooled", 8, 0.5), ("pooled", 32, 0.5), ("pooled", 32, 0.25),
          ("pooled", 64, 0.25), ("pooled", 64, 0.1)]
#: Round 4 (four-crime panel): the episode history, the cross-crime precursors
ROUND4 = [("pooled", 0, 1.0), ("pooled+history", 0, 1.0)]
#: Round 3: the rules' prior sd a fixed fraction of the indicators' in the CV too
#: ([model] rule_scale), as in the Bayesian model
ROUND3 = [("pooled", 0, 1.0), ("pooled", 16, 0.25), ("pooled", 64, 0.25), ("pooled", 64, 0.5)]
#: Round 5 (four-crime panel): the variant of ModelConfig(); "joint" is the stand-in of the
#: joint hierarchical model (one ridge over every crime, shared + crime-specific effects)
ROUND5 = [("pooled", 0, 1.0), ("joint_no_country", 0, 1.0), ("joint", 0, 1.0)]
#: Round 6: smooth terms (cubic B-splines, 4 knots) at three prior sds relative to the
#: effect scale, against pooled
ROUND6 = [("pooled", 0, 1.0), ("pooled+smooth1", 0, 1.0), ("pooled+smooth1.5", 0, 1.0),
          ("pooled+smooth2", 0, 1.0)]
#: Round 7: dynamics (docs/results, round 7): the episode history, AR(1) country effects
#: (rho 0.8, 0.95) and static country effects, each beside the EWP run config's smooth terms
ROUND7 = [("pooled+smooth1", 0, 1.0), ("pooled+smooth1+history", 0, 1.0),
          ("pooled+smooth1+ar0.8", 0, 1.0), ("pooled+smooth1+ar0.95", 0, 1.0),
          ("hierarchical+smooth1", 0, 1.0)]
#: Round 7 on the four-crime panel (ModelConfig(): no smooth terms; history was round 4)
ROUND7_FOUR = [("pooled", 0, 1.0), ("pooled+ar0.8", 0, 1.0), ("pooled+ar0.95", 0, 1.0)]
#: Round 8: the smooth terms' basis with the line removed but not whitened ("scaled")
ROUND8 = [("pooled+smooth1", 0, 1.0), ("pooled+scaled1", 0, 1.0), ("pooled+scaled1.5", 0, 1.0),
          ("pooled+scaled2", 0, 1.0)]
#: Knots of the smooth terms in round 6
SMOOTH_KNOTS = 4
#: Stationary sd of the AR(1) country effects of round 7
AR_SD = 0.6
METRICS = ["log", "brier", "auc", "auc_within", "mcb_brier", "capture_top30"]
REGION_SD, COUNTRY_SD = 0.4, 0.6


def _onehot(idx: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(idx), n))
    out[np.arange(len(idx)), idx] = 1.0
    return out


def _ar1_columns(ci: np.ndarray, gi: np.ndarray, n_country: int, n_grid: int,
                 rho: float, sd: float):
    """Sparse design of AR(1) country effects in their non-centred form.

    ``u[c, g] = sum_s L[g, s] z[c, s]`` with ``z ~ N(0, 1)`` and ``L`` the Cholesky factor
    of the stationary AR(1) covariance ``sd**2 rho**|g - s|`` (``L[g, 0] = sd rho**g``,
    ``L[g, s] = sd sqrt(1 - rho**2) rho**(g - s)`` for ``1 <= s <= g``): a ridge penalty of
    ``1/2 ||z||^2`` on these columns is the AR(1) prior. Row ``i`` is country ``ci[i]`` at
    grid year ``gi[i]``; column ``c * n_grid + s`` is ``z[c, s]``.
    """
    from scipy import sparse

    rows, cols, vals = [], [], []
    for i, (c, g) in enumerate(zip(ci, gi, strict=True)):
        s = np.arange(g + 1)
        v = sd * np.sqrt(1 - rho ** 2) * rho ** (g - s)
        v[0] = sd * rho ** g
        rows.append(np.full(g + 1, i))
        cols.append(c * n_grid + s)
        vals.append(v)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                     np.concatenate(cols))),
                             shape=(len(ci), n_country * n_grid))


def _joint_rows(panel, full, years: list[int], t: int, name: str, *,
                country: bool = True) -> list[dict]:
    """Forecasts of origin ``t`` by the MAP stand-in of the joint ``hierarchical`` model.

    One ridge logit over every crime's cells, each column scaled by its prior sd in the
    joint model (:class:`r2p_models.model.build.Priors`; penalty ``1/2 ||w||^2``): shared
    effects of the mapped indicators (``mu_sd``), crime-specific deviations (``tau`` where
    mapped, ``off_sd`` elsewhere; flags mapped to every crime), crime intercepts (sd 3
    about a common unpenalised one), region and country effects per crime at their
    scales' prior means. The LKJ correlation of the country effects is not represented.
    Without ``country``, the stand-in of ``no_country`` (the same, no country effects).
    Crimes with no onset known by ``t`` are left out, as in the per-crime stand-ins.
    """
    from sklearn.linear_model import LogisticRegression

    from r2p_models.model.build import Priors
    from r2p_models.model.design import build_design, origin_design

    pr = Priors()
    d = build_design(panel, horizon=2, through=t)
    od = origin_design(panel, t, d.standardisation, d.crimes)
    C, R, K = len(d.countries), len(d.regions), len(d.crimes)
    F = d.flags.shape[2]
    rel = np.concatenate([d.relevance, np.ones((K, F), dtype=bool)], axis=1)
    known = [k for k in range(K) if (d.y[:, :, k][d.w[:, :, k] > 0]).max(initial=0) > 0]

    def columns(x: np.ndarray, k: int, c: np.ndarray) -> np.ndarray:
        n = len(x)
        out = [3.0 * np.repeat(np.eye(K)[[k]], n, axis=0),
               pr.mu_sd * x * rel[k]]
        spec = np.zeros((n, K, x.shape[1]))
        spec[:, k, :] = x * np.where(rel[k], pr.tau, pr.off_sd)
        out.append(spec.reshape(n, -1))
        reg = np.zeros((n, K, R))
        reg[np.arange(n), k, d.region_idx[c]] = pr.region_sd
        out.append(reg.reshape(n, -1))
        cty = np.zeros((n, K, C))
        cty[np.arange(n), k, c] = pr.country_sd if country else 0.0
        out.append(cty.reshape(n, -1))
        return np.hstack(out)

    X, y = [], []
    for k in known:
        wk = d.w[:, :, k] > 0
        ci, _ = np.nonzero(wk)
        X.append(columns(np.concatenate([d.x, d.flags], axis=2)[wk], k, ci))
        y.append(d.y[:, :, k][wk])
    m = LogisticRegression(C=1.0, max_iter=20000).fit(np.vstack(X), np.concatenate(y))
    ti = years.index(t)
    rows = []
    for k in known:
        c_all = np.arange(C)
        p = m.predict_proba(columns(np.concatenate([od.x, od.flags], axis=1), k, c_all))[:, 1]
        ok = od.at_risk[:, k] & (full.w[:, ti, k] > 0)
        for c in np.flatnonzero(ok):
            rows.append({"source": name, "country": d.countries[c], "crime": d.crimes[k],
                         "origin_year": t, "p": float(p[c]), "outcome": float(full.y[c, ti, k]),
                         "scale": np.nan, "rules": 0})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, default=Path("runs/ewp_screen"))
    ap.add_argument("--first", type=int, default=1981)
    ap.add_argument("--last", type=int, default=1990)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--round", type=int, choices=(1, 2, 3, 4, 5, 6, 7, 8), default=1)
    ap.add_argument("--panel", choices=("ewp", "four_crime"), default="ewp")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if args.last + 2 > 1992:
        ap.error("--last must leave every window resolved before the compared origins: <= 1990")

    from sklearn.linear_model import LogisticRegression

    from r2p_models import calibration
    from r2p_models.config import load_config
    from r2p_models.data.adapters import write_adapted
    from r2p_models.data.panel import load_panel
    from r2p_models.model.build import Priors
    from r2p_models.model.design import build_design, origin_design
    from r2p_models.model.scale import select_effect_scale
    from r2p_models.studies.peer import EVAL_MODEL

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    base = load_config(write_adapted(args.panel, args.data, out / f"{args.panel}_panel"))
    panel = load_panel(base)
    model = replace(base.model, horizon=2, effect_scale="rolling_cv", **EVAL_MODEL)
    full = build_design(panel, horizon=2)  # outcomes of every window, for scoring only
    years = [int(y) for y in full.years]
    rows = []
    rounds = {1: CANDIDATES, 2: ROUND2, 3: ROUND3, 4: ROUND4, 5: ROUND5, 6: ROUND6,
              7: ROUND7 if args.panel == "ewp" else ROUND7_FOUR, 8: ROUND8}
    for variant, n_rules, rule_sd in rounds[args.round]:
        variant, *extras = variant.split("+")
        history = "history" in extras
        smooth_sd = next((float(e.removeprefix("smooth").removeprefix("scaled"))
                          for e in extras if e.startswith(("smooth", "scaled"))), 0.0)
        basis = "scaled" if any(e.startswith("scaled") for e in extras) else "whitened"
        rho = next((float(e.removeprefix("ar")) for e in extras if e.startswith("ar")), 0.0)
        knots = SMOOTH_KNOTS if smooth_sd else 0
        # round 2 left the CV's rule columns unscaled (rule_scale 1)
        cfg = replace(model, variant="pooled" if variant.startswith("joint") else variant,
                      rules=n_rules, history=history,
                      rule_scale=rule_sd if args.round == 3 else 1.0,
                      smooth=knots, smooth_scale=smooth_sd or 1.0, smooth_basis=basis)
        name = ({"joint": "hierarchical (joint stand-in)",
                 "joint_no_country": "no_country (joint stand-in)"}.get(variant, variant)
                + (f" + {n_rules} rules" if n_rules else ""))
        name += " + episode history" if history else ""
        name += f" + smooth terms (sd x{smooth_sd:g})" if knots else ""
        name += " (scaled basis)" if knots and basis == "scaled" else ""
        name += f" (rule sd x{rule_sd:g})" if n_rules and rule_sd != 1.0 else ""
        name += f" + AR(1) country effects (rho {rho:g})" if rho else ""
        for t in range(args.first, args.last + 1):
            if variant.startswith("joint"):
                rows += _joint_rows(panel, full, years, t, name,
                                    country=variant == "joint")
                continue
            s = select_effect_scale(panel, cfg, through=t).scale
            d = build_design(panel, horizon=2, through=t, rules=n_rules, rule_seed=cfg.seed,
                             history=history, smooth=knots, smooth_basis=basis)
            od = origin_design(panel, t, d.standardisation, d.crimes)
            for k, crime in enumerate(d.crimes):  # one ridge logit per crime (pooled)
                wk = d.w[:, :, k] > 0
                yk = d.y[:, :, k][wk]
                if yk.size == 0 or yk.min() == yk.max():
                    continue  # no onset of this crime known yet: nothing to learn
                ci, _ = np.nonzero(wk)
                # the episode history's prior sd is its own (Priors.history_sd), not s
                h = Priors().history_sd / s
                X = np.concatenate([d.x, d.flags, rule_sd * d.rule_x,
                                    smooth_sd * d.smooth_x, h * d.history], axis=2)[wk]
                Xt = np.concatenate([od.x, od.flags, rule_sd * od.rules,
                                     smooth_sd * od.smooth, h * od.history], axis=1)
                C, R = len(d.countries), len(d.regions)
                assert od.countries == d.countries  # both in the panel's order
                test_c = np.arange(C)
                if variant in ("no_country", "hierarchical"):
                    a = REGION_SD / s
                    X = np.hstack([X, a * _onehot(d.region_idx[ci], R)])
                    Xt = np.hstack([Xt, a * _onehot(d.region_idx[test_c], R)])
                if variant == "hierarchical":
                    a = COUNTRY_SD / s
                    X = np.hstack([X, a * _onehot(ci, C)])
                    Xt = np.hstack([Xt, a * _onehot(test_c, C)])
                if rho:  # AR(1) country effects over a grid of years up to the origin
                    from scipy import sparse

                    y0 = int(d.years[0])
                    n_grid = t - y0 + 1
                    _, yi = np.nonzero(wk)
                    gi = np.asarray(d.years)[yi].astype(int) - y0
                    # columns scaled by 1/s: the ridge's prior sd s times 1/s is z's sd 1
                    A = _ar1_columns(ci, gi, C, n_grid, rho, AR_SD) / s
                    At = _ar1_columns(test_c, np.full(C, t - y0), C, n_grid, rho, AR_SD) / s
                    X = sparse.hstack([sparse.csr_matrix(X), A]).tocsr()
                    Xt = sparse.hstack([sparse.csr_matrix(Xt), At]).tocsr()
                m = LogisticRegression(C=s ** 2, max_iter=10000).fit(X, yk)
                p = m.predict_proba(Xt)[:, 1]
                ti = years.index(t)
                ok = od.at_risk[:, k] & (full.w[:, ti, k] > 0)
                for c in np.flatnonzero(ok):
                    rows.append({"source": name, "country": d.countries[c], "crime": crime,
                                 "origin_year": t, "p": float(p[c]),
                                 "outcome": float(full.y[c, ti, k]), "scale": s,
                                 "rules": n_rules})
        print(f"{name}: done", flush=True)
    cases = pd.DataFrame(rows)
    cases.to_csv(out / "screen_cases.csv", index=False)
    names = list(dict.fromkeys(cases["source"]))
    scores = calibration.score_table(cases, by=["source"], p_col="p", y_col="outcome",
                                     metrics=METRICS, n_boot=args.n_boot, rng=0)
    diffs = pd.concat([calibration.compare_table(cases, a=n, b=names[0], p_col="p",
                                                 y_col="outcome", n_boot=args.n_boot, rng=0,
                                                 metrics=["log", "brier", "auc"])
                       for n in names[1:]])
    scores.to_csv(out / "screen_scores.csv", index=False)
    diffs.to_csv(out / "screen_differences.csv", index=False)
    one = cases[cases["source"] == names[0]]
    print(f"\norigins {args.first}-{args.last}: {len(one)} cases, {int(one['outcome'].sum())} "
          "onsets\n")
    print(scores.pivot(index="source", columns="metric", values="estimate")
          .reindex(names).round(4).to_string())
    if cases["crime"].nunique() > 1:
        by_crime = calibration.score_table(cases, by=["crime", "source"], p_col="p",
                                           y_col="outcome", metrics=["log", "auc"],
                                           n_boot=args.n_boot, rng=0)
        by_crime.to_csv(out / "screen_scores_by_crime.csv", index=False)
        print()
        print(by_crime.pivot(index=["crime", "source"], columns="metric", values="estimate")
              .round(4).to_string())
    print()
    print(diffs[["metric", "a", "b", "difference", "lower", "upper"]].round(4)
          .to_string(index=False))
    print("\nchosen (lowest log score):", scores[scores["metric"] == "log"]
          .sort_values("estimate").iloc[0]["source"])


if __name__ == "__main__":
    main()
