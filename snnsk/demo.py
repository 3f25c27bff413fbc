"""The demo job: a grid search of SpikingMLPClassifier over threshold × timesteps on digits."""

from __future__ import annotations

import time

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from .estimators import SpikingMLPClassifier

__all__ = ["run_demo", "DEMO_GRID"]

DEMO_GRID = {"threshold": [0.5, 1.0, 2.0], "timesteps": [2, 4, 8]}


def run_demo(grid: dict | None = None, cv: int = 5, random_state: int = 0, verbose: bool = True):
    """Grid-search neuron threshold and timesteps of a spiking MLP on scikit-learn's digits.

    Parameters
    ----------
    grid : dict, optional
        Parameter grid (default :data:`DEMO_GRID`).
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
    search = GridSearchCV(
        SpikingMLPClassifier(random_state=random_state),
        grid or DEMO_GRID,
        cv=StratifiedKFold(cv),
        n_jobs=1,
    )
    start = time.perf_counter()
    search.fit(X, y)
    elapsed = time.perf_counter() - start
    results = pd.DataFrame(search.cv_results_)
    params = [c for c in results.columns if c.startswith("param_")]
    table = (results[params + ["mean_test_score", "std_test_score", "mean_fit_time", "rank_test_score"]]
             .rename(columns=lambda c: c.removeprefix("param_"))
             .sort_values("rank_test_score")
             .reset_index(drop=True))
    if verbose:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            print(f"GridSearchCV of SpikingMLPClassifier on digits ({len(X)} images, {cv}-fold CV)")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print(f"best: {search.best_params_}  accuracy {search.best_score_:.4f}  ({elapsed:.0f} s)")
        rates = search.best_estimator_.spike_stats(X)
        print("firing rate of the best model per spiking layer:")
        print(rates.to_string(float_format=lambda v: f"{v:.4f}"))
    return search, table
