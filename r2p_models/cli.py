"""The ``r2p`` command.

Exit codes (stable; scheduled jobs rely on them):

- 0: success
- 2: bad input (config, data, arguments) — nothing was written
- 3: the fit did not pass its convergence checks
- 4: a ledger lock is held by another run
- 5: ``r2p ledger verify`` found the ledger damaged or edited outside r2p-models
- 1: any other failure (a bug: please report it with the traceback)
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from r2p_models._version import __version__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_CONVERGED = 3
EXIT_LOCKED = 4
EXIT_VERIFY_FAILED = 5

log = logging.getLogger("r2p")

DEFAULT_WORLD = Path(__file__).resolve().parent.parent / "datasets" / "default_world" / "run.toml"


def _cmd_validate(args: argparse.Namespace) -> int:
    from r2p_models.data.panel import load_panel, panel_summary

    panel = load_panel(args.config)
    print(panel_summary(panel))
    print(f"  data hash: {panel.attrs['data_hash'][:16]}")
    print("valid: all checks passed")
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    from r2p_models.data.simulate import simulate_world, write_world

    world = simulate_world(seed=args.seed, n_years=args.years, scale=args.scale)
    path = write_world(world, args.out, truth=args.truth)
    print(f"wrote the simulated world (seed {args.seed}) to {path.parent}; config: {path}")
    return EXIT_OK


def _interactive() -> bool:
    return sys.stderr.isatty()


def _check_out_file(path: Path | None, option: str = "--out") -> None:
    """Refuse an output file that cannot be written, before any work is done.

    Every ``--out FILE`` of ``r2p`` creates missing parent folders when it writes (atomic
    writes do), so the check is only that ``path`` is not a folder and that its nearest
    existing ancestor is a writable folder (not a file): a long fit never fails at its save.

    Raises
    ------
    InputError
        Naming the option, the path and what is wrong with it.
    """
    import os

    from r2p_models.errors import InputError

    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{option} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: folder {ancestor} is not writable")


def _cmd_adapt(args: argparse.Namespace) -> int:
    from r2p_models.data.adapters import write_adapted

    path = write_adapted(args.kind, args.data, args.out)
    print(f"wrote {path.parent / 'panel.csv'} and {path}; check it with: "
          f"r2p validate --config {path}")
    return EXIT_OK


def _cmd_fit(args: argparse.Namespace) -> int:
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.model import fit

    cfg = load_config(args.config)
    if args.through is not None:
        cfg.data.check_year(args.through, "--through")
    panel = load_panel(cfg)
    _check_out_file(args.out)  # before the fit, which can take minutes
    fitted = fit(panel, cfg.model, through=args.through, progress=_interactive(),
                 config_hash_value=cfg.hash(), warn=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fitted.save(args.out)
    diag = fitted.diagnostics
    print(diag.summary())
    print(f"saved {args.out}")
    return EXIT_OK if diag.ok else EXIT_NOT_CONVERGED


def _cmd_forecast(args: argparse.Namespace) -> int:
    from r2p_models.backtest import forecast_rows
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.model import load_model

    cfg = load_config(args.config)
    cfg.data.check_year(args.origin, "--origin")
    panel = load_panel(cfg)
    _check_out_file(args.out)
    fitted = load_model(args.model, expected_config_hash=cfg.hash())
    rows = forecast_rows(fitted.predict(panel, args.origin), args.origin, cfg.model.horizon)
    rows = rows.sort_values(["crime", "p_mean"], ascending=[True, False])
    if args.out:
        from r2p_models.atomic import atomic_write_text

        atomic_write_text(args.out, rows.to_csv(index=False))
        print(f"wrote {len(rows)} forecasts to {args.out}")
    else:
        print(rows.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return EXIT_OK if fitted.diagnostics.ok else EXIT_NOT_CONVERGED


def _cmd_backtest(args: argparse.Namespace) -> int:
    from r2p_models.backtest import parse_origins, run_backtest
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import ledger_path

    cfg = load_config(args.config)
    origins = parse_origins(args.origins, years=cfg.data.years)
    panel = load_panel(cfg)
    summary = run_backtest(
        cfg, panel, origins, ledger=args.ledger or ledger_path(cfg),
        workers=args.workers, scheduler=args.scheduler,
        on_origin=lambda r: log.info("origin %d done %s", r.origin, r.diagnostics),
    )
    print(f"backtest {summary.source}: done {summary.done}, already in the ledger "
          f"{summary.skipped}, failed convergence {summary.unconverged}; "
          f"{summary.rows_issued} rows recorded")
    return EXIT_OK if summary.ok else EXIT_NOT_CONVERGED


def _cmd_resolve(args: argparse.Namespace) -> int:
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import ledger_path, resolve_ledger

    cfg = load_config(args.config)
    n = resolve_ledger(ledger_path(cfg), load_panel(cfg), cfg)
    print(f"resolved {n} forecasts")
    return EXIT_OK


def _cmd_score(args: argparse.Namespace) -> int:
    from r2p_models.config import load_config
    from r2p_models.rerun import ledger_path, score_table

    cfg = load_config(args.config)
    _check_out_file(args.out)
    table = score_table(ledger_path(cfg))
    if table.empty:
        print("no resolved forecasts to score yet")
        return EXIT_OK
    if args.out:
        from r2p_models.atomic import atomic_write_text

        atomic_write_text(args.out, table.to_csv(index=False))
        print(f"wrote {args.out}")
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.rerun import ledger_path, write_report_for

    cfg = load_config(args.config)
    _check_out_file(args.out)
    if args.out:
        cfg = cfg.with_outputs(report=args.out)
    path = write_report_for(cfg, load_panel(cfg), ledger_path(cfg))
    print(f"wrote {path}")
    return EXIT_OK


def _cmd_rerun(args: argparse.Namespace) -> int:
    from r2p_models.rerun import rerun

    result = rerun(args.config, progress=_interactive(), wait_for_lock=args.wait)
    print(f"rerun {result.run_id}: {result.status}; issued {result.issued}, "
          f"resolved {result.resolved}; report {result.report}")
    return EXIT_NOT_CONVERGED if result.status == "not_converged" else EXIT_OK


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from r2p_models.backtest import parse_origins
    from r2p_models.config import load_config
    from r2p_models.rerun import pipeline

    cfg = load_config(args.config)
    origins = (parse_origins(args.origins, years=cfg.data.years)
               if getattr(args, "origins", None) else None)
    result = pipeline(cfg, out=args.out, origins=origins, workers=args.workers,
                      progress=_interactive())
    print(f"pipeline: {result.status}; report {result.report}")
    print(f"run config: {result.run_config}; for example\n"
          f"  r2p report --config {result.run_config}\n"
          f"  r2p score --config {result.run_config}\n"
          f"  r2p rerun --config {result.run_config}")
    return EXIT_NOT_CONVERGED if result.status == "not_converged" else EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from r2p_models.backtest import parse_origins
    from r2p_models.studies.peer import evaluate_against_peer, evaluate_four_crimes

    run = evaluate_against_peer if args.command == "evaluate-peer" else evaluate_four_crimes
    extra = {"warmup": args.warmup} if args.command == "evaluate-peer" else {}
    result = run(
        args.data, args.out, origins=parse_origins(args.origins),
        variants=[v.strip() for v in args.variants.split(",")], workers=args.workers,
        n_boot=args.n_boot,
        model_overrides=_eval_overrides(args), **extra,
    )
    print(result.markdown())
    print("files: " + ", ".join(f"{k} {v}" for k, v in result.files.items()))
    return EXIT_OK


def _eval_overrides(args: argparse.Namespace) -> dict[str, object] | None:
    from r2p_models.config import ModelConfig

    overrides: dict[str, object] = {}
    if args.draws is not None:
        overrides["draws"] = args.draws
    scale = getattr(args, "effect_scale", None)
    if scale is not None:
        try:
            overrides["effect_scale"] = float(scale)
        except ValueError:
            overrides["effect_scale"] = scale
        ModelConfig(effect_scale=overrides["effect_scale"])  # a bad value fails here, first
    if getattr(args, "train_at_risk", None) is not None:
        overrides["train_at_risk"] = args.train_at_risk
    for key in ("smooth", "smooth_scale"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if {"smooth", "smooth_scale"} & set(overrides):
        ModelConfig(**{k: overrides[k] for k in ("smooth", "smooth_scale")
                       if k in overrides})  # a bad value fails here, first
    return overrides or None


def _cmd_leadtime(args: argparse.Namespace) -> int:
    from r2p_models.calibration.leadtime import lead_time_summary, lead_times
    from r2p_models.ledger import Ledger

    _check_out_file(args.out)
    with Ledger(args.ledger, readonly=True) as led:
        rows = led.rows()
    lt = lead_times(rows, top_n=args.top_n, threshold=args.threshold, sources=args.source,
                    max_lookback=args.max_lookback)
    if args.out:
        from r2p_models.atomic import atomic_write_text

        atomic_write_text(args.out, lt.to_csv(index=False))
        print(f"wrote {len(lt)} lead times (one row per source, rule and onset) to {args.out}")
    if lt.empty:
        print("no resolved onsets covered by the forecasts in the ledger yet")
        return EXIT_OK
    print(lead_time_summary(lt).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return EXIT_OK


def _cmd_infogap(args: argparse.Namespace) -> int:
    from r2p_models.atomic import atomic_write_text
    from r2p_models.config import load_config
    from r2p_models.data.panel import load_panel
    from r2p_models.errors import InputError
    from r2p_models.infogap import gap_ranking, information_gaps, voi_table
    from r2p_models.model import load_model
    from r2p_models.rerun import latest_origin

    cfg = load_config(args.config)
    panel = load_panel(cfg)
    origin = latest_origin(panel) if args.origin is None else args.origin
    cfg.data.check_year(origin, "--origin")
    for out in (args.out, args.ranking, args.figure):
        _check_out_file(out)
    model = args.model if args.model is not None else args.run / "model.nc"
    if args.run is not None and not model.is_file():
        raise InputError(f"--run {args.run}: no model.nc in that folder (a run folder of "
                         "r2p rerun / r2p pipeline: <ledger folder>/runs/<run id>)")
    fitted = load_model(model, expected_config_hash=cfg.hash())
    gaps = information_gaps(fitted, panel, origin, top_n=args.top_n, n_nodes=args.nodes,
                            voi_draws=args.voi_draws)
    ranking = gap_ranking(gaps, by=args.by)
    voi = voi_table(gaps)
    if args.out:
        atomic_write_text(args.out, voi.to_csv(index=False))
        print(f"wrote the value of information of {len(voi)} (country, crime, indicator) "
              f"to {args.out}")
    if args.ranking:
        atomic_write_text(args.ranking, ranking.to_csv(index=False))
        print(f"wrote the ranking of {len(ranking)} (crime, country) to {args.ranking}")
    if args.figure:
        from r2p_models.infogap import plot_information_gaps

        args.figure.parent.mkdir(parents=True, exist_ok=True)
        plot_information_gaps(gaps).savefig(args.figure, dpi=150, bbox_inches="tight")
        print(f"wrote {args.figure}")
    shown = ranking.groupby("crime", sort=False).head(args.show)
    cols = ["crime", "rank", "country", "p_mean", "share_gap", "voi_p", "voi_top_n",
            "best_indicator"]
    print(f"origin {origin}: where information gaps matter most (by {args.by})")
    print(shown[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
          if len(shown) else "no country at risk")
    for line in voi["statement"].head(args.show):
        print(f"  {line}")
    if not fitted.diagnostics.ok:
        print(f"model {fitted.status}: read these numbers with care")
    return EXIT_OK if fitted.diagnostics.ok else EXIT_NOT_CONVERGED


def _cmd_ledger_export(args: argparse.Namespace) -> int:
    from r2p_models.ledger import export_ledger_csv

    _check_out_file(args.out)
    path = export_ledger_csv(args.ledger, args.out)
    print(f"wrote {path}")
    return EXIT_OK


def _cmd_ledger_import(args: argparse.Namespace) -> int:
    import tempfile

    from r2p_models.ledger import Ledger, ledger_lock

    if not Path(args.ledger).exists():
        # check the file alone first, in a scratch ledger: a bad CSV must not leave a new,
        # empty ledger behind (exit 2 writes nothing)
        with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "check.sqlite") as led:
            led.import_analyst_csv(args.csv, analyst_id=args.analyst)
    with ledger_lock(args.ledger), Ledger(args.ledger) as led:
        res = led.import_analyst_csv(args.csv, analyst_id=args.analyst)
    print(f"imported {res.inserted} assessments ({res.unchanged} already recorded)")
    return EXIT_OK


def _cmd_ledger_verify(args: argparse.Namespace) -> int:
    from r2p_models.ledger import verify_ledger

    print(verify_ledger(args.ledger).summary())
    return EXIT_OK


def _cmd_ledger_recalibrate(args: argparse.Namespace) -> int:
    from r2p_models.rerun import issue_recalibrated

    new = issue_recalibrated(args.ledger, args.source, prior_sd=args.prior_sd)
    for src in new:
        print(f"recorded {src!r}; its outcomes resolve with the next `r2p resolve`")
    return EXIT_OK


def _cmd_pool(args: argparse.Namespace) -> int:
    from r2p_models.errors import InputError
    from r2p_models.pool import pool_sources

    prior = None
    for item in args.prior or []:
        src, sep, value = item.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            sep = ""
        if not sep or not src:
            raise InputError(f"--prior {item!r}: expected SOURCE=WEIGHT")
        prior = (prior or {}) | {src: weight}
    res = pool_sources(args.ledger, args.source, method=args.method, name=args.name,
                       kind=args.kind, prior=prior, strength=args.strength,
                       n_boot=args.n_boot)
    print(f"recorded {res.inserted} pooled forecasts ({res.unchanged} already recorded) as "
          f"{res.source!r} ({res.kind}); {res.skipped} cases skipped (not forecast by every "
          "source); outcomes resolve with the next `r2p resolve`")
    last = res.weights[res.weights["origin_year"] == res.weights["origin_year"].max()]
    for r in last.itertuples():
        what = r.input_source or r.parameter
        print(f"  origin {r.origin_year}: {what} {r.value:.3f} [{r.lo:.3f}, {r.hi:.3f}] "
              f"({r.n_cases} training cases)")
    return EXIT_OK


def _positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (e.g. ``--workers``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser that names a mistyped option, and takes no abbreviations.

    argparse checks required options before it reports unknown ones, so ``r2p fit
    --conifg x`` said "the following arguments are required: --config"; here an unknown
    option is named first (``unrecognized arguments: --conifg (did you mean --config?)``),
    by the sub-command's own parser, with exit code 2. Options must be spelled in full
    (``allow_abbrev=False``): a scheduled job's command line must not change meaning, or
    become ambiguous, when an option is added.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        """As argparse's, but a parser without sub-commands refuses what it cannot use."""
        self._args_seen = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and self._subparsers is None:
            self.error(self._unrecognized(extras))
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        """Exit 2 with ``message``; an unknown option is reported before missing ones."""
        if message.startswith("the following arguments are required"):
            unknown = self._unknown_options(getattr(self, "_args_seen", []))
            if unknown and self._subparsers is None:
                message = self._unrecognized(unknown)
        super().error(message)

    def _unknown_options(self, tokens: Sequence[str]) -> list[str]:
        """Tokens that look like options (not negative numbers) but are none of ours."""
        out = []
        for token in tokens:
            if token == "--":
                break
            if (token.startswith("-") and not self._negative_number_matcher.match(token)
                    and token.split("=", 1)[0] not in self._option_string_actions):
                out.append(token)
        return out

    def _unrecognized(self, extras: Sequence[str]) -> str:
        """``unrecognized arguments: ...``, the unknown options alone when there are any,
        with the closest option of this parser."""
        unknown = self._unknown_options(extras) or list(extras)
        message = f"unrecognized arguments: {' '.join(unknown)}"
        if unknown[0].startswith("-"):
            close = difflib.get_close_matches(unknown[0].split("=", 1)[0],
                                              list(self._option_string_actions), n=1)
            if close:
                message += f" (did you mean {close[0]}?)"
        return message


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``r2p`` (one sub-command per pipeline stage)."""
    parser = _Parser(
        prog="r2p", description="Bayesian early warning for the four atrocity crimes."
    )
    parser.add_argument("--version", action="version", version=f"r2p-models {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=["text", "json"], default=None,
                        help="log format (default: text on a terminal, JSON lines otherwise)")
    sub = parser.add_subparsers(dest="command", required=True)

    def cmd(name: str, func, help: str, config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        if config:
            p.add_argument("--config", required=True, type=Path, help="run config (TOML)")
        p.set_defaults(func=func)
        return p

    cmd("validate", _cmd_validate, "check a run config and its data; print a summary")

    p = cmd("simulate", _cmd_simulate, "write a simulated world (the embedded default)",
            config=False)
    p.add_argument("--out", required=True, type=Path, help="folder to write into")
    p.add_argument("--seed", type=int, default=2005)
    p.add_argument("--years", type=int, default=40)
    p.add_argument("--scale", type=float, default=1.0, help="share of countries to keep")
    p.add_argument("--truth", action="store_true", help="also write truth.nc")

    p = cmd("adapt", _cmd_adapt, "build a panel (panel.csv + run.toml) from public data files",
            config=False)
    p.add_argument("kind", choices=["ewp", "four_crime"],
                   help="ewp: the EWP panel as it is; four_crime: four proxy outcomes")
    p.add_argument("--data", required=True, type=Path,
                   help="folder with the publishers' files (e.g. ../shared/datasets)")
    p.add_argument("--out", required=True, type=Path, help="folder to write into")

    p = cmd("fit", _cmd_fit, "fit the model; save it to one netCDF file")
    p.add_argument("--through", type=int, default=None,
                   help="use only outcomes known by this year (default: all)")
    p.add_argument("--out", required=True, type=Path,
                   help="model file (.nc); missing folders are created (checked before the "
                        "fit)")

    p = cmd("forecast", _cmd_forecast, "forecast from a saved model for an origin year")
    p.add_argument("--model", required=True, type=Path, help="model file from r2p fit")
    p.add_argument("--origin", required=True, type=int, help="origin year")
    p.add_argument("--out", type=Path, default=None,
                   help="CSV file (default: print); missing folders are created")

    p = cmd("backtest", _cmd_backtest, "rolling-origin backtest into the ledger (resumable)")
    p.add_argument("--origins", required=True, help="e.g. 1995-2006 or 1995,1998")
    p.add_argument("--ledger", type=Path, default=None, help="default: [ledger] path")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="parallel fits on this machine")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address")

    cmd("resolve", _cmd_resolve, "fill in outcomes of forecasts whose window has passed")
    p = cmd("score", _cmd_score, "scores of resolved forecasts per source and crime")
    p.add_argument("--out", type=Path, default=None,
                   help="CSV file (default: print); missing folders are created")
    p = cmd("report", _cmd_report, "write the calibration report (HTML) from the ledger")
    p.add_argument("--out", type=Path, default=None,
                   help="HTML file (default: [report] path); missing folders are created")

    what = ("how early did warnings come: for every resolved onset, the years it had been on "
            "each source's watchlist (top N of its crime and origin) or above a threshold")
    p = sub.add_parser("leadtime", help=what, description=what)
    p.add_argument("--ledger", required=True, type=Path)
    p.add_argument("--top-n", type=_positive_int, default=10,
                   help="watchlist length per crime and origin (default 10)")
    p.add_argument("--threshold", type=float, default=None,
                   help="also: flagged when the probability is at least this (e.g. 0.2)")
    p.add_argument("--source", nargs="+", action="extend", default=None,
                   help="only these ledger sources (default: all)")
    p.add_argument("--max-lookback", type=_positive_int, default=10,
                   help="origins at most this many years before the onset count (default 10)")
    p.add_argument("--out", type=Path, default=None,
                   help="CSV file of the lead time of every source and onset (the summary "
                        "is printed); missing folders are created")
    p.set_defaults(func=_cmd_leadtime)

    what = ("information gaps: the share of each forecast's uncertainty from missing or "
            "unreliable indicators, and the value of collecting each one")
    p = cmd("infogap", _cmd_infogap, what)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, default=None, help="model file from r2p fit")
    src.add_argument("--run", type=Path, default=None,
                     help="a run folder holding model.nc (<ledger folder>/runs/<run id>)")
    p.add_argument("--origin", type=int, default=None,
                   help="origin year (default: the newest year with data)")
    p.add_argument("--top-n", type=_positive_int, default=20,
                   help="watchlist length for P(in top N) (default 20)")
    p.add_argument("--nodes", type=_positive_int, default=50,
                   help="quantile nodes per input (VOI error at most 1.5/nodes; default 50)")
    p.add_argument("--voi-draws", type=_positive_int, default=1000,
                   help="posterior draws (evenly spaced) in the VOI integrals (default 1000)")
    p.add_argument("--by", choices=["voi_p", "voi_top_n", "share_gap", "var_gap"],
                   default="voi_p", help="ranking key (default voi_p)")
    p.add_argument("--show", type=_positive_int, default=5,
                   help="rows per crime to print (default 5)")
    p.add_argument("--out", type=Path, default=None,
                   help="CSV of the value of information per (country, crime, indicator)")
    p.add_argument("--ranking", type=Path, default=None, help="CSV of the country ranking")
    p.add_argument("--figure", type=Path, default=None,
                   help="figure file (.png, .svg or .pdf) of the gap map")

    p = cmd("rerun", _cmd_rerun, "the scheduled job: validate, fit, forecast, resolve, "
            "score, report")
    p.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait for another run holding the ledger lock")

    what = ("the main job: backtest, current forecast, scores, report (default: the "
            "embedded world)")
    p = sub.add_parser("pipeline", help=what, description=what,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", type=Path, default=DEFAULT_WORLD, help="run config (TOML)")
    p.add_argument("--out", type=Path, default=Path("runs/default"),
                   help="output folder (ledger, report, run.toml, runs/)")
    p.add_argument("--origins", default=argparse.SUPPRESS,
                   help="backtest origins, e.g. 2014-2017 (default: the last 4 fully observed)")
    p.add_argument("--workers", type=_positive_int, default=1, help="parallel backtest fits")
    p.set_defaults(func=_cmd_pipeline)

    for name, what, origins, variants in (
        ("evaluate-peer", "backtest on the EWP panel and compare with the EWP's published "
         "out-of-sample forecasts on the same cases", "1993-2006",
         "hierarchical,pooled,no_country"),
        ("evaluate-four-crimes", "backtest the joint and the independent-crimes model on the "
         "four-crime proxy panel and compare them per crime",
         ",".join(str(y) for y in range(1994, 2007, 2)), "hierarchical,independent"),
    ):
        p = cmd(name, _cmd_evaluate, what, config=False)
        p.add_argument("--data", required=True, type=Path, help="e.g. ../shared/datasets")
        p.add_argument("--out", required=True, type=Path, help="output folder")
        p.add_argument("--origins", default=origins, help=f"backtest origins ({origins})")
        p.add_argument("--variants", default=variants,
                       help=f"model variants, the first compared with the last ({variants})")
        p.add_argument("--workers", type=_positive_int, default=1,
                       help="parallel backtest fits")
        p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
        p.add_argument("--draws", type=int, default=None,
                       help="draws a chain (default: r2p_models.studies.peer.EVAL_MODEL)")
        p.add_argument("--train-at-risk", choices=("target_year", "origin"), default=None,
                       help="[model] train_at_risk of every variant: target_year (default) "
                            "or origin (train only on cases at risk at their origin)")
        p.add_argument("--smooth", type=int, default=None,
                       help="[model] smooth of every variant: knots of the smooth terms, 0 for "
                            "none (default: the adapted panel's run config)")
        p.add_argument("--smooth-scale", type=float, default=None,
                       help="[model] smooth_scale of every variant (default: the adapted "
                            "panel's run config)")
        if name == "evaluate-peer":
            p.add_argument("--effect-scale", default=None,
                           help="[model] effect_scale of every variant: learned (default), "
                                "rolling_cv or a number (see r2p_models.model.scale)")
            p.add_argument("--warmup", type=int, default=2,
                           help="origins backtested before the first compared one, for the "
                                "recalibration's track record only (default 2, the horizon)")

    what = ("record the pool of ledger sources as a new source, weights learned at each "
            "origin from the outcomes resolved by then")
    p = sub.add_parser("pool", help=what, description=what)
    p.add_argument("--ledger", required=True, type=Path)
    p.add_argument("--source", required=True, action="append",
                   help="ledger source to pool (repeat; at least two)")
    p.add_argument("--method", choices=["linear", "log", "beta"], default="linear",
                   help="linear (default), log (log-odds) or beta (beta-transformed linear)")
    p.add_argument("--name", default=None,
                   help="the pooled source (default: '<method> pool of A + B')")
    p.add_argument("--kind", choices=["backtest", "forecast"], default=None,
                   help="rows to pool (default: the kind every source has)")
    p.add_argument("--prior", action="append", default=None, metavar="SOURCE=WEIGHT",
                   help="prior weight of a source (repeat for each; default equal shares)")
    p.add_argument("--strength", type=float, default=10.0,
                   help="prior strength in pseudo-cases (default 10)")
    p.add_argument("--n-boot", type=int, default=200,
                   help="bootstrap replicates of the weights' 90%% intervals (default 200)")
    p.set_defaults(func=_cmd_pool)

    p = sub.add_parser("ledger", help="ledger utilities",
                       description="ledger utilities: export, import-analyst, recalibrate, "
                                   "verify")
    lsub = p.add_subparsers(dest="ledger_command", required=True)
    what = "export every ledger row to CSV"
    q = lsub.add_parser("export", help=what, description=what)
    q.add_argument("--ledger", required=True, type=Path)
    q.add_argument("--out", required=True, type=Path,
                   help="CSV file; missing folders are created")
    q.set_defaults(func=_cmd_ledger_export)
    what = "import an analyst's assessments (CSV)"
    q = lsub.add_parser("import-analyst", help=what, description=what)
    q.add_argument("--ledger", required=True, type=Path)
    q.add_argument("--csv", required=True, type=Path)
    q.add_argument("--analyst", required=True, help="analyst id (the ledger source)")
    q.set_defaults(func=_cmd_ledger_import)
    what = ("record a source's forecasts recalibrated on its own resolved track record, as "
            "the source '<source> recalibrated'")
    q = lsub.add_parser("recalibrate", help=what, description=what)
    q.add_argument("--ledger", required=True, type=Path)
    q.add_argument("--source", required=True, action="append",
                   help="ledger source to recalibrate (repeat for several)")
    q.add_argument("--prior-sd", type=float, default=None,
                   help="prior sd of the log-odds shift (default 1.0)")
    q.set_defaults(func=_cmd_ledger_recalibrate)
    what = ("check the ledger: SQLite integrity, the protective triggers, and the hash chain "
            f"of issued rows (exit {EXIT_VERIFY_FAILED} naming the first problem)")
    q = lsub.add_parser("verify", help=what, description=what)
    q.add_argument("--ledger", required=True, type=Path)
    q.set_defaults(func=_cmd_ledger_verify)
    return parser


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: quiet, machine-readable logs for scheduled runs."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        out = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
               "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        event = getattr(record, "event", None)  # structured progress (r2p_models.progress)
        if event is not None:
            out["event"] = event
            out.update(getattr(record, "fields", {}))
        return json.dumps(out, default=str)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``r2p`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    fmt = args.log_format or ("text" if _interactive() else "json")
    handler.setFormatter(_JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # JSON lines: Python warnings (e.g. PyTensor's multi-line BLAS notice) become log
    # records, one JSON object each, instead of free text in the same stream
    logging.captureWarnings(fmt == "json")
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    for noisy in ("pymc", "pytensor", "arviz", "distributed", "numba", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from r2p_models.errors import InputError
    from r2p_models.ledger import LedgerIntegrityError, LedgerLockedError

    try:
        return int(args.func(args))
    except InputError as err:  # one-line messages naming file, column and rows
        print(f"r2p {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LedgerLockedError as err:
        print(f"r2p {args.command}: {err}", file=sys.stderr)
        return EXIT_LOCKED
    except LedgerIntegrityError as err:
        print(f"r2p {args.command}: verification failed: {err}", file=sys.stderr)
        return EXIT_VERIFY_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
