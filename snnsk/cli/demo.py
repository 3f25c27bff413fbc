"""The demo jobs behind ``snnsk demo``.

* :func:`run_demo` (the main job): a grid search of :class:`SpikeDecoderLM`
  over threshold × timesteps × heads on English text, compared on held-out
  documents with the non-spiking baseline of the same size and a character
  bigram model; the best pipeline is saved with joblib and writes a sample.
* :func:`run_digits_demo`: a grid search of :class:`SpikingMLPClassifier`
  over threshold × timesteps on scikit-learn's digits.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field

import joblib
import pandas as pd
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from ..analysis.spike_counts import SpikeCounter
from ..datasets import load_corpus, load_text
from ..estimators import SpikeDecoderLM, SpikingMLPClassifier
from ..text.baselines import NGramLM
from ..text.tokenizers import TextNormalizer
from .commands import results_table

__all__ = ["run_demo", "run_digits_demo", "DemoResult", "DEMO_GRID", "DEMO_MODEL", "DIGITS_GRID"]

#: The searched hyperparameters of the main job.
DEMO_GRID = {"threshold": [0.125, 0.25], "timesteps": [2, 4], "heads": [2, 4]}
#: The fixed settings of the language model in the main job (sized for 2 CPU cores). The
#: spiking settings (ON/OFF input neurons, soft reset, a sharper surrogate, small batches) are
#: the ones that brought the spiking model closest to its non-spiking twin at this budget;
#: bench/lm_ablation.py measures each of them.
DEMO_MODEL = dict(context_length=64, embed_dim=64, depth=2, max_epochs=4, batch_size=4, lr=3e-3,
                  spike_code="ternary", reset="soft", alpha=4.0)
DIGITS_GRID = {"threshold": [0.5, 1.0, 2.0], "timesteps": [2, 4, 8]}


@dataclass
class DemoResult:
    """What :func:`run_demo` produced."""

    search: GridSearchCV
    table: pd.DataFrame
    held_out: pd.DataFrame
    firing_rate: float
    sample: str
    path: str | None
    timings: dict = field(default_factory=dict)


class _ProgressScorer:
    """The estimator's own score; each call also appends one byte to ``tick_path``.

    The fits run in worker processes, which cannot reach the parent's progress
    bar; a file is a channel both sides see (:func:`_file_progress` reads it).
    """

    def __init__(self, tick_path: str):
        self.tick_path = tick_path

    def __call__(self, estimator, X, y=None):
        score = estimator.score(X)
        with open(self.tick_path, "ab") as ticks:
            ticks.write(b".")
        return score


@contextlib.contextmanager
def _file_progress(bar, interval: float = 0.5):
    """Yield a file path; a thread moves ``bar`` to the file's size until the block ends."""
    handle, path = tempfile.mkstemp(prefix="snnsk-demo-", suffix=".ticks")
    os.close(handle)
    stop = threading.Event()

    def follow():
        while True:
            bar.update(os.path.getsize(path) - bar.n)
            if stop.wait(interval):
                bar.update(os.path.getsize(path) - bar.n)
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join()
        os.remove(path)


def _single_threaded_workers(n_jobs: int):
    # One torch thread per worker process (the fused CPU kernels follow torch's count):
    # a small model with batches of 4 keeps two processes busier than one process on two cores.
    if n_jobs == 1:
        return contextlib.nullcontext()
    return joblib.parallel_config(backend="loky", inner_max_num_threads=1)


def _results_table(search: GridSearchCV) -> pd.DataFrame:
    table = results_table(search.cv_results_, step="lm__")
    table["bits_per_token"] = -table["mean_test_score"] / math.log(2)
    return table


def run_demo(text=None, grid: dict | None = None, cv: int = 2, max_epochs: int | None = None,
             test_size: float = 0.2, out: str | None = "snnsk_demo_lm.joblib",
             sample_tokens: int = 200, prompt: str = "The ", random_state: int = 0,
             progress: bool = True, verbose: bool = True, n_jobs: int = 2,
             **model_params) -> DemoResult:
    """Grid-search a spiking language model and compare it with its non-spiking twin.

    Parameters
    ----------
    text : str, path-like or None, default=None
        A text file to learn (split into paragraphs); ``None`` uses the
        embedded English corpus (:func:`snnsk.datasets.load_corpus`).
    grid : dict, optional
        Grid over SpikeDecoderLM parameters (default :data:`DEMO_GRID`).
    cv : int, default=2
        Folds of the search (shuffled with ``random_state``). Two folds keep
        the 16 fits of the default grid inside the 10-minute budget on two
        cores; more folds give a steadier ranking for proportionally more time.
    max_epochs : int, optional
        Training epochs of every fit (default from :data:`DEMO_MODEL`).
    test_size : float, default=0.2
        Fraction of documents held out for the final comparison.
    out : str or None, default='snnsk_demo_lm.joblib'
        Where to save the best pipeline (``None``: do not save).
    sample_tokens : int, default=200
        Length of the generated sample.
    prompt : str, default='The '
        Start of the sample (the start of a training document if the text
        lacks one of its characters).
    random_state : int, default=0
    progress : bool, default=True
        Show a progress bar over the fits of the search.
    n_jobs : int, default=2
        Fits of the search run at a time, each in its own process with one
        torch thread (1: all fits in this process, on all its threads).
    verbose : bool, default=True
        Print the tables, the comparison and the sample.
    **model_params
        Override :data:`DEMO_MODEL` settings (``embed_dim``, ``blocks``...).

    Returns
    -------
    DemoResult
    """
    timings = {}
    start = time.perf_counter()
    docs = load_corpus() if text is None else load_text(text)
    if len(docs) < cv + 1:
        raise ValueError(f"the text has {len(docs)} documents; the demo needs at least {cv + 1} "
                         f"(paragraphs separated by blank lines)")
    train_docs, test_docs = train_test_split(docs, test_size=test_size, random_state=random_state)
    settings = {**DEMO_MODEL, **model_params}
    if max_epochs is not None:
        settings["max_epochs"] = max_epochs
    pipeline = Pipeline([("normalize", TextNormalizer()),
                         ("lm", SpikeDecoderLM(random_state=random_state, **settings))])
    grid = DEMO_GRID if grid is None else grid
    param_grid = {f"lm__{name}": values for name, values in grid.items()}
    n_fits = math.prod(len(v) for v in grid.values()) * cv
    with tqdm(total=n_fits, desc="grid search", unit="fit", disable=not progress) as bar, \
            _file_progress(bar) as ticks, _single_threaded_workers(n_jobs):
        search = GridSearchCV(pipeline, param_grid, scoring=_ProgressScorer(ticks),
                              cv=KFold(cv, shuffle=True, random_state=random_state),
                              n_jobs=n_jobs)
        search.fit(train_docs)
    search.scoring = None  # the progress bar is closed; the estimator's score is the metric
    timings["search_s"] = time.perf_counter() - start
    table = _results_table(search)

    best = search.best_estimator_
    baseline = clone(best).set_params(lm__spiking="none").fit(train_docs)
    bigram = NGramLM(order=2).fit(train_docs)
    normalized_test = best[0].transform(test_docs)
    held_out = pd.DataFrame(
        {"model": ["SpikeDecoderLM (best, spiking)", "SpikeDecoderLM (spiking='none')",
                   "character bigram"],
         "bits_per_char": [best[-1].bits_per_char(normalized_test),
                           baseline[-1].bits_per_char(normalized_test),
                           bigram.bits_per_char(test_docs)]})
    held_out["vs_non_spiking"] = held_out["bits_per_char"] / held_out["bits_per_char"].iloc[1]
    with SpikeCounter(best[-1].module_) as counter:
        best[-1].run_inference(normalized_test)
    firing_rate = counter.firing_rate
    prompt = best[0].transform([prompt])[0]
    if best[-1].tokenizer_.unknown_tokens(prompt):
        prompt = best[0].transform(train_docs[:1])[0][:10]  # a user's text may lack "T"
    sample = best[-1].generate(prompt, max_new_tokens=sample_tokens,
                               temperature=0.8, top_k=10, random_state=random_state)
    if out is not None:
        joblib.dump(best, out)
    timings["total_s"] = time.perf_counter() - start
    if verbose:
        source = "the embedded corpus" if text is None else str(text)
        print(f"GridSearchCV of SpikeDecoderLM on {source}: {len(train_docs)} training documents, "
              f"{cv}-fold CV, score = mean log-likelihood per token")
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        params = {k.removeprefix("lm__"): v for k, v in search.best_params_.items()}
        print(f"best: {params}  ({timings['search_s']:.0f} s)")
        print(f"held-out ({len(test_docs)} documents):")
        print(held_out.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"firing rate of the best model: {firing_rate:.3f} spikes per neuron per step")
        if out is not None:
            print(f"saved the best pipeline to {out}")
        print(f"sample: {sample!r}")
    return DemoResult(search, table, held_out, firing_rate, sample, out, timings)


def run_digits_demo(grid: dict | None = None, cv: int = 5, random_state: int = 0,
                    verbose: bool = True):
    """Grid-search neuron threshold and timesteps of a spiking MLP on scikit-learn's digits.

    Parameters
    ----------
    grid : dict, optional
        Parameter grid (default :data:`DIGITS_GRID`).
    cv : int, default=5
        Stratified folds, not shuffled.
    random_state : int, default=0
    verbose : bool, default=True
        Print the ``cv_results_`` table and the best candidate.

    Returns
    -------
    search : GridSearchCV
        The fitted search.
    table : pandas.DataFrame
        The main columns of ``cv_results_``, best first.
    """
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities in [0, 1]
    search = GridSearchCV(SpikingMLPClassifier(random_state=random_state), grid or DIGITS_GRID,
                          cv=StratifiedKFold(cv), n_jobs=1)
    start = time.perf_counter()
    search.fit(X, y)
    elapsed = time.perf_counter() - start
    table = _results_table(search).drop(columns="bits_per_token")
    if verbose:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            print(f"GridSearchCV of SpikingMLPClassifier on digits ({len(X)} images, {cv}-fold CV)")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print(f"best: {search.best_params_}  accuracy {search.best_score_:.4f}  ({elapsed:.0f} s)")
        rates = search.best_estimator_.spike_stats(X)
        print("firing rate of the best model per spiking layer:")
        print(rates.to_string(float_format=lambda v: f"{v:.4f}"))
    return search, table
