"""The ``snnsk`` command: argument parsing and dispatch.

``snnsk demo`` (the main job), ``fit``, ``search`` (locally or on a Dask
cluster), ``generate`` and ``report``; what each does is in
:mod:`snnsk.cli.commands`, the files they read in :mod:`snnsk.cli.data`.
Wrong input (a bad argument, parameter value or file) is one line on stderr
and exit status 2; any other error is a bug, and shows its traceback.
"""

from __future__ import annotations

import argparse
import math
import sys

from .commands import run_demo_command, run_fit, run_generate, run_report, run_search
from .errors import CommandError, one_line
from .params import MODELS, parse_grid, parse_param

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


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _folds(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"cross-validation needs at least 2 folds, got {text}")
    return value


def _n_jobs(text):
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of processes or negative "
                                         "(-1: every core), got 0")
    return value


def _temperature(text):
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _argument(parse):
    """An argparse ``type`` from a parser raising ValueError, keeping its message."""
    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__.removeprefix("parse_")  # argparse names it in errors
    return convert


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (and exit code 2), like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_DATA_HELP = """\
DATA: a text file for lm (paragraphs separated by blank lines are the documents); for the
classifiers a .npz file with arrays X and y (ssm: X of shape (n, L) or (n, L, C); vit:
(n, C, H, W), (n, H, W), flat (n, D) or event frames (n, T, C, H, W); mlp: (n, D)) or a .csv
file with one sample per row and the label in the last column (or the column --target names).

--param NAME=VALUE sets any estimator parameter (repeatable); values are Python literals
(4, 0.5, True, None, (16, 8)) or else strings. random_state is 0 unless set.
"""

_FIT_DESCRIPTION = """\
Fit one spiking estimator on DATA and save it with joblib.

""" + _DATA_HELP + """
Example:  snnsk fit ssm seqs.npz --param embed_dim=64 --param max_epochs=10 --out ssm.joblib
"""

_SEARCH_DESCRIPTION = """\
GridSearchCV over the --grid values (each NAME=V1,V2,...; commas inside brackets do not
split, so hidden_layer_sizes=(16,),(32,16) is two values), scored by the estimator's own
score (accuracy; mean log-likelihood per token for lm), with unshuffled (stratified) folds.
Prints cv_results_; --results saves it as CSV and --out the best estimator refitted on DATA.

""" + _DATA_HELP + """
--scheduler tcp://HOST:8786 runs the fits on a Dask cluster (pip install 'snnsk[dask]'),
one single-threaded fit per worker thread; the results equal a local run's.
Start the cluster with `dask scheduler` on one machine and, on every machine,
`dask worker tcp://HOST:8786 --nworkers -1 --nthreads 1` (a worker per core), or one
worker per GPU started with CUDA_VISIBLE_DEVICES=i (and search with --param device=cuda).
Example:  snnsk search lm book.txt --grid threshold=0.5,1.0 --grid timesteps=2,4 --cv 3
"""


def _add_model_arguments(parser):
    parser.add_argument("kind", choices=sorted(MODELS), metavar="{" + ",".join(MODELS) + "}",
                        help="; ".join(f"{k}: {cls.__name__}" for k, (cls, _) in MODELS.items()))
    parser.add_argument("data", metavar="DATA", help="training data (see above)")
    parser.add_argument("--param", action="append", type=_argument(parse_param),
                        metavar="NAME=VALUE", help="an estimator parameter (repeatable)")
    parser.add_argument("--target", metavar="COLUMN",
                        help="the label column of a CSV file with a header (default: the last)")


def build_parser() -> argparse.ArgumentParser:
    """The ``snnsk`` argument parser (subcommands demo, fit, search, generate, report)."""
    parser = _Parser(prog="snnsk", description="scikit-learn compatible spiking neural networks")
    sub = parser.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter

    demo = sub.add_parser(
        "demo", help="grid search of a spiking language model over threshold x timesteps x heads",
        description=_DEMO_DESCRIPTION, formatter_class=raw)
    demo.add_argument("--text", metavar="PATH",
                      help="a UTF-8 text file to learn instead of the embedded corpus")
    demo.add_argument("--task", choices=("lm", "digits"), default="lm",
                      help="lm: the language model (default); digits: the spiking MLP on digits")
    demo.add_argument("--cv", type=_folds, default=None,
                      help="folds of the grid search (default 2; 5 for digits)")
    demo.add_argument("--epochs", type=_positive_int, default=None,
                      help="training epochs per fit (default 4)")
    demo.add_argument("--out", default="snnsk_demo_lm.joblib", metavar="PATH",
                      help="where to save the best pipeline (default snnsk_demo_lm.joblib)")
    demo.add_argument("--n-jobs", type=_positive_int, default=2,
                      help="language model: fits at a time, each in its own single-threaded "
                           "process (default 2)")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.set_defaults(func=run_demo_command)

    fit = sub.add_parser("fit", help="fit a spiking estimator on a data file and save it",
                         description=_FIT_DESCRIPTION, formatter_class=raw)
    _add_model_arguments(fit)
    fit.add_argument("--out", metavar="PATH", default=None,
                     help="where to save the fitted estimator (default snnsk_KIND.joblib)")
    fit.set_defaults(func=run_fit)

    search = sub.add_parser("search", help="grid search of a spiking estimator, local or on Dask",
                            description=_SEARCH_DESCRIPTION, formatter_class=raw)
    _add_model_arguments(search)
    search.add_argument("--grid", action="append", type=_argument(parse_grid),
                        metavar="NAME=V1,V2", help="values to search (repeatable)")
    search.add_argument("--cv", type=_folds, default=3, help="folds (default 3)")
    search.add_argument("--n-jobs", type=_n_jobs, default=1,
                        help="local parallel fits (default 1; -1: every core)")
    search.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the fits on the Dask cluster of this scheduler "
                             "(tcp://HOST:8786)")
    search.add_argument("--results", metavar="CSV", help="save cv_results_ to this CSV file")
    search.add_argument("--out", metavar="PATH",
                        help="refit the best candidate on all of DATA and save it here")
    search.set_defaults(func=run_search)

    generate = sub.add_parser(
        "generate", help="continue a prompt with a saved language model",
        description="Continue --prompt with a language model saved by `snnsk fit lm`, "
                    "`snnsk search lm --out` or `snnsk demo`, and print the text.")
    generate.add_argument("model", metavar="MODEL", help="the saved model (.joblib)")
    generate.add_argument("--prompt", required=True, help="text to continue")
    generate.add_argument("--max-new-tokens", type=_non_negative_int, default=100,
                          help="tokens to add (default 100)")
    generate.add_argument("--temperature", type=_temperature, default=1.0,
                          help="softmax temperature; 0 always takes the most likely token "
                               "(default 1.0)")
    generate.add_argument("--top-k", type=_positive_int, default=None,
                          help="sample among the k most likely tokens only")
    generate.add_argument("--random-state", type=int, default=None,
                          help="seed: the same seed writes the same text")
    generate.set_defaults(func=run_generate)

    report = sub.add_parser(
        "report", help="spikes, operations and estimated energy of a saved model on data",
        description="Run a saved model (fit, search --out or demo) once over DATA and print, per "
                    "layer, its spikes, firing rate, synaptic operations, MACs and estimated "
                    "energy (snnsk.analysis.metrics.spike_report), the energy per sample and the score. "
                    "DATA is read as for `snnsk fit` (labels are optional).")
    report.add_argument("model", metavar="MODEL", help="the saved model (.joblib)")
    report.add_argument("data", metavar="DATA", help="text file, .npz or .csv")
    report.add_argument("--target", metavar="COLUMN",
                        help="the label column of a CSV file with a header (default: the last)")
    report.add_argument("--max-samples", type=_positive_int, default=None,
                        help="use only the first N samples (documents for a language model)")
    report.add_argument("--csv", metavar="PATH", help="also save the report as CSV")
    report.set_defaults(func=run_report)
    return parser


def main(argv=None) -> int:
    """Run the ``snnsk`` command; return its exit status (2 for wrong input).

    Wrong input — a usage error, a :class:`~snnsk.cli.errors.CommandError`
    (a bad argument, parameter value or file, all checked before any fit
    starts) or an ``OSError`` (a path that cannot be read or written, a
    scheduler that cannot be reached) — is printed as one line on stderr.
    Any other exception is a bug and propagates with its traceback.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code
    try:
        return args.func(args)
    except (CommandError, OSError) as exc:
        print(f"snnsk: error: {one_line(exc)}", file=sys.stderr)
        return 2


