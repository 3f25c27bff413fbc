"""What the ``snnsk fit``, ``search``, ``generate`` and ``report`` commands do.

Each function takes the parsed arguments, prints its results to stdout and
returns the exit status. Everything the user gave is checked before any fit
or prediction starts; what is wrong raises a
:class:`~snnsk.cli.errors.CommandError` (or an ``OSError`` for a path that
cannot be used), which :func:`snnsk.cli.main` prints as one line.
"""

from __future__ import annotations

import contextlib
import math
import time

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

from ..analysis.metrics import spike_report
from .data import check_samples, final_estimator, load_model, read_arrays, read_documents
from .errors import CommandError, user_input
from .params import check_grid, make_estimator

__all__ = ["run_fit", "run_search", "run_generate", "run_report"]

#: How long ``search --scheduler`` waits for the scheduler before giving up.
CONNECT_TIMEOUT = "10s"


def _read(kind: str, path, target):
    """``(X, y)`` for ``kind``: documents and None for the language model."""
    if kind == "lm":
        if target is not None:
            raise CommandError("--target names a CSV column; the language model learns a text "
                               "file")
        return read_documents(path), None
    return read_arrays(path, target)


def _fit_args(X, y):
    return (X,) if y is None else (X, y)


def _score_name(kind: str) -> str:
    return "mean log-likelihood per token" if kind == "lm" else "accuracy"


def run_fit(args) -> int:
    """``snnsk fit KIND DATA``: fit one estimator and save it with joblib."""
    X, y = _read(args.kind, args.data, args.target)
    estimator = make_estimator(args.kind, args.param)
    check_samples(estimator, X, args.data, fitted=False)
    start = time.perf_counter()
    estimator.fit(*_fit_args(X, y))
    elapsed = time.perf_counter() - start
    out = args.out or f"snnsk_{args.kind}.joblib"
    joblib.dump(estimator, out)
    unit = "documents" if args.kind == "lm" else "samples"
    print(f"fitted {type(estimator).__name__} on {len(X)} {unit} in {elapsed:.1f} s")
    print(f"training {_score_name(args.kind)}: {estimator.score(*_fit_args(X, y)):.4f}")
    print(f"saved to {out}")
    return 0


def _splitter(kind: str, folds: int, X, y):
    """The search's folds; more folds than the samples (or than a class's) can fill are refused."""
    # unshuffled folds: the same data gives the same splits on every machine and in every run
    splitter = KFold(folds) if kind == "lm" else StratifiedKFold(folds)
    with user_input(f"--cv {folds}"):
        for _ in splitter.split(np.zeros(len(X)), y):
            pass
    return splitter


def results_table(cv_results, step: str = "") -> pd.DataFrame:
    """A search's ``cv_results_`` as a table: one row per candidate, best first.

    Columns: each searched parameter (without ``param_`` and the pipeline
    ``step`` prefix, e.g. ``'lm__'``), then the mean and spread of the test
    score, its rank and the mean fit time.
    """
    results = pd.DataFrame(cv_results)
    params = [c for c in results.columns if c.startswith("param_")]
    table = results[params + ["mean_test_score", "std_test_score", "rank_test_score",
                              "mean_fit_time"]]
    return (table.rename(columns=lambda c: c.removeprefix("param_").removeprefix(step))
            .sort_values("rank_test_score", kind="stable").reset_index(drop=True))


def run_demo_command(args) -> int:
    """``snnsk demo``: the language-model search (or ``--task digits``), see :mod:`snnsk.cli.demo`."""
    from .demo import run_demo, run_digits_demo

    if args.task == "digits":
        run_digits_demo(cv=args.cv or 5, random_state=args.random_state)
        return 0
    cv = args.cv or 2
    if args.text is not None:
        # the demo's own requirement (run_demo raises it too), checked here so that it is
        # reported as wrong input before the search starts
        docs = read_documents(args.text)
        if len(docs) < cv + 1:
            raise CommandError(f"{args.text!r} has {len(docs)} documents; the demo needs at "
                               f"least {cv + 1} (paragraphs separated by blank lines): {cv} "
                               f"folds and held-out documents")
    run_demo(text=args.text, cv=cv, n_jobs=args.n_jobs, max_epochs=args.epochs,
             out=args.out, random_state=args.random_state, progress=not args.no_progress)
    return 0


def _backend(scheduler):
    if scheduler is None:
        return contextlib.nullcontext()
    try:
        from ..parallel import dask_backend  # needs the dask extra; only imported when asked for
    except ImportError as exc:
        raise CommandError(f"--scheduler: {exc}") from exc
    return dask_backend(scheduler, timeout=CONNECT_TIMEOUT)


def run_search(args) -> int:
    """``snnsk search KIND DATA --grid ...``: a GridSearchCV, locally or on a Dask cluster."""
    X, y = _read(args.kind, args.data, args.target)
    estimator = make_estimator(args.kind, args.param)
    grid = check_grid(estimator, args.kind, args.grid, args.param)
    check_samples(estimator, X, args.data, fitted=False)
    splitter = _splitter(args.kind, args.cv, X, y)
    n_candidates = math.prod(len(values) for values in grid.values())
    # on a cluster every worker thread takes fits; locally as many processes as asked for
    n_jobs = -1 if args.scheduler else args.n_jobs
    search = GridSearchCV(estimator, grid, cv=splitter, n_jobs=n_jobs,
                          refit=args.out is not None, error_score="raise")
    where = f"the Dask cluster at {args.scheduler}" if args.scheduler else \
        f"{args.n_jobs} local process{'es' if args.n_jobs != 1 else ''}"
    print(f"GridSearchCV of {type(estimator).__name__}: {n_candidates} candidates x {args.cv} "
          f"folds = {n_candidates * args.cv} fits on {where}; score = {_score_name(args.kind)}")
    start = time.perf_counter()
    with _backend(args.scheduler):
        search.fit(*_fit_args(X, y))
    elapsed = time.perf_counter() - start
    table = results_table(search.cv_results_)
    with pd.option_context("display.width", 140, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    best = int(np.argmin(search.cv_results_["rank_test_score"]))
    print(f"best: {search.cv_results_['params'][best]}  "
          f"score {search.cv_results_['mean_test_score'][best]:.4f}  ({elapsed:.0f} s)")
    if args.results is not None:
        pd.DataFrame(search.cv_results_).to_csv(args.results, index=False)
        print(f"cv_results_ written to {args.results}")
    if args.out is not None:
        joblib.dump(search.best_estimator_, args.out)
        print(f"best estimator (refitted on all of DATA) saved to {args.out}")
    return 0


def run_generate(args) -> int:
    """``snnsk generate MODEL --prompt TEXT``: continue a prompt with a saved language model."""
    model = load_model(args.model)
    estimator, transform = final_estimator(model, args.model)
    if not hasattr(estimator, "generate"):
        raise CommandError(f"{args.model!r} holds a {type(estimator).__name__}, which does not "
                           f"write text; generate needs a language model (snnsk fit lm ...)")
    # a pipeline (as snnsk demo saves) normalises text before its language model sees it
    prompt = transform([args.prompt])[0]
    # the one check of generate's that argparse cannot make (the other arguments are typed)
    unknown = estimator.tokenizer_.unknown_tokens(prompt)
    if unknown:
        raise CommandError(f"--prompt contains tokens the model has never seen: {unknown!r}")
    print(estimator.generate(prompt, max_new_tokens=args.max_new_tokens,
                             temperature=args.temperature, top_k=args.top_k,
                             random_state=args.random_state))
    return 0


def _report_table(report: pd.DataFrame) -> str:
    shown = report.drop(columns=["energy_j"]).assign(energy_nj=report["energy_j"] * 1e9)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        return shown.to_string(float_format=lambda v: f"{v:.4g}")


def run_report(args) -> int:
    """``snnsk report MODEL DATA``: spikes, operations and energy of each layer on DATA."""
    model = load_model(args.model)
    estimator, transform = final_estimator(model, args.model)
    is_lm = hasattr(estimator, "generate")
    if is_lm:
        X, y = read_documents(args.data), None
    else:
        X, y = read_arrays(args.data, args.target, require_y=False)
    if args.max_samples is not None:
        X = X[:args.max_samples]
        y = None if y is None else y[:args.max_samples]
    inputs = transform(X)
    check_samples(estimator, inputs, args.data, fitted=True)
    report = spike_report(estimator, inputs)
    print(f"spike report of {type(estimator).__name__} on {len(X)} "
          f"{'documents' if is_lm else 'samples'} of {args.data} (totals; energy in nJ)")
    print(_report_table(report))
    n = report.attrs["n_samples"]
    per = "context window" if is_lm else "sample"
    print(f"energy per {per}: {report.loc['total', 'energy_j'] / n * 1e9:.4g} nJ; firing rate "
          f"{report.loc['total', 'firing_rate']:.4f} spikes per neuron per step")
    if is_lm:
        print(f"mean log-likelihood per token: {model.score(X):.4f}")
    elif y is not None:
        print(f"accuracy: {model.score(X, y):.4f}")
    if args.csv is not None:
        report.to_csv(args.csv)
        print(f"report written to {args.csv}")
    return 0
