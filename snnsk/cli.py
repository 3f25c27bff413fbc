"""The ``snnsk`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

_DEMO_DESCRIPTION = """\
The main job: GridSearchCV of SpikeDecoderLM (a spiking GPT-style language model) over
threshold x timesteps x heads, on the embedded English corpus (Python's own help text)
or on your text file. Prints cv_results_ as a table, the best model's held-out bits per
character beside the non-spiking baseline of the same size and a character bigram model,
its firing rate, saves the best pipeline with joblib and prints a generated sample.

Your own text:  snnsk demo --text book.txt   (paragraphs separated by blank lines are
the documents; --epochs and --cv trade time for quality).
Digits:         snnsk demo --task digits     (SpikingMLPClassifier over threshold x timesteps).
"""


def _demo(args) -> int:
    from .demo import run_demo, run_digits_demo

    if args.task == "digits":
        run_digits_demo(cv=args.cv or 5, random_state=args.random_state)
        return 0
    run_demo(text=args.text, cv=args.cv or 3, max_epochs=args.epochs, out=args.out,
             random_state=args.random_state, progress=not args.no_progress)
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnsk", description="scikit-learn compatible spiking neural networks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="grid search of a spiking language model over threshold x timesteps x heads",
        description=_DEMO_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--text", metavar="PATH",
                      help="a UTF-8 text file to learn instead of the embedded corpus")
    demo.add_argument("--task", choices=("lm", "digits"), default="lm",
                      help="lm: the language model (default); digits: the spiking MLP on digits")
    demo.add_argument("--cv", type=int, default=None,
                      help="folds of the grid search (default 3; 5 for digits)")
    demo.add_argument("--epochs", type=_positive_int, default=None,
                      help="training epochs per fit (default 4)")
    demo.add_argument("--out", default="snnsk_demo_lm.joblib", metavar="PATH",
                      help="where to save the best pipeline (default snnsk_demo_lm.joblib)")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
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
