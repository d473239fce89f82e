"""The ``r2p`` command.

Exit codes (stable; scheduled jobs rely on them):

- 0: success
- 2: bad input (config, data, arguments) — nothing was written
- 3: the fit did not pass its convergence checks
- 4: a ledger lock is held by another run
- 1: any other failure (a bug: please report it with the traceback)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from r2p_models import __version__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_CONVERGED = 3
EXIT_LOCKED = 4

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


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from r2p_models.data.panel import load_panel, panel_summary

    log.info("validating %s", args.config)
    panel = load_panel(args.config)
    print(panel_summary(panel))
    print("valid: all checks passed")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``r2p`` (one sub-command per pipeline stage)."""
    parser = argparse.ArgumentParser(
        prog="r2p", description="Bayesian early warning for the four atrocity crimes."
    )
    parser.add_argument("--version", action="version", version=f"r2p-models {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a run config and its data; print a summary")
    p.add_argument("--config", required=True, type=Path, help="run config (TOML)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("simulate", help="write a simulated world (the embedded default)")
    p.add_argument("--out", required=True, type=Path, help="folder to write into")
    p.add_argument("--seed", type=int, default=2005)
    p.add_argument("--years", type=int, default=40)
    p.add_argument("--scale", type=float, default=1.0, help="share of countries to keep")
    p.add_argument("--truth", action="store_true", help="also write truth.nc")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("pipeline", help="the main job on a run config (default: embedded world)")
    p.add_argument("--config", type=Path, default=DEFAULT_WORLD, help="run config (TOML)")
    p.add_argument("--out", type=Path, default=Path("runs/default"), help="output folder")
    p.set_defaults(func=_cmd_pipeline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``r2p`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    from r2p_models.errors import InputError

    try:
        return int(args.func(args))
    except InputError as err:  # one-line messages naming file, column and rows
        print(f"r2p {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
