"""The ``snnsk`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(cv=args.cv, random_state=args.random_state)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnsk", description="scikit-learn compatible spiking neural networks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="grid search of a spiking classifier over threshold x timesteps on digits",
        description="Run GridSearchCV of SpikingMLPClassifier over threshold x timesteps on "
                    "scikit-learn's digits and print cv_results_ as a table.")
    demo.add_argument("--cv", type=int, default=5, help="number of stratified folds (default 5)")
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"snnsk: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
