"""SpikingSSMClassifier quality: permuted sequential digits and ListOps, against baselines.

1. Permuted sequential digits (``load_sequential_digits(permute=True,
   random_state=0)``): fit on a stratified 80% split, accuracy on the held-out
   20%, with the wall-clock training time (the goal: >= 0.95 within 10
   minutes of CPU training). Accuracy with each inference sampling mode.
2. ListOps (``make_listops``, lengths 32 to ``--listops-max-length``): the
   same protocol, beside a bag-of-tokens LogisticRegression and the majority
   class measured on the same split in the same run.
3. Spiking activity: the fraction of neurons spiking per (unpadded) step of
   every spiking layer, on the held-out data (``spike_stats``).

Usage::

    python bench/ssm_quality.py            # what bench/BENCHMARKS.md reports (~15 min)
    python bench/ssm_quality.py --task digits   # one of the two tasks
    python bench/ssm_quality.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from skorch.callbacks import LRScheduler

from snnsk import SpikingSSMClassifier
from snnsk.datasets import LISTOPS_TOKENS, listops_to_string, load_sequential_digits, make_listops

DIGITS_MODEL = dict(embed_dim=256, depth=2, d_state=64, bidirectional=True, batch_size=32,
                    max_epochs=60, dropout=0.1)
LISTOPS_MODEL = dict(embed_dim=64, depth=2, d_state=16, bidirectional=True, batch_size=32,
                     max_epochs=30)


def one_cycle(max_lr, epochs, n_train, batch_size):
    """A one-cycle learning-rate schedule stepped every batch (warm-up, then annealing)."""
    steps = epochs * int(np.ceil(n_train / batch_size))
    return [("lr_schedule", LRScheduler(policy=torch.optim.lr_scheduler.OneCycleLR,
                                        max_lr=max_lr, total_steps=steps, step_every="batch"))]


def fit_and_score(params, max_lr, X_train, y_train, X_test, y_test):
    clf = SpikingSSMClassifier(random_state=0, **params,
                               callbacks=one_cycle(max_lr, params["max_epochs"], len(X_train),
                                                   params["batch_size"]))
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    scores = {}
    for sampling in ("threshold", "expected", "bernoulli"):
        scores[sampling] = clf.set_params(sampling=sampling).score(X_test, y_test)
    clf.set_params(sampling="threshold")
    return clf, seconds, scores


def report(name, clf, seconds, scores, X_test, extra=None):
    print(f"\n## {name}")
    print(f"training: {seconds:.0f} s, {clf.max_epochs} epochs, {clf.module_.__class__.__name__} "
          f"embed_dim={clf.embed_dim} depth={clf.depth} d_state={clf.d_state}")
    print("held-out accuracy by inference sampling: "
          + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    for label, value in (extra or {}).items():
        print(f"{label}: {value:.4f}")
    stats = clf.spike_stats(X_test)
    print("fraction of neurons spiking per step (threshold sampling, held-out data):")
    print(stats[["neurons", "timesteps", "firing_rate"]].to_string())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, a smoke run")
    parser.add_argument("--task", choices=["both", "digits", "listops"], default="both")
    parser.add_argument("--listops-samples", type=int, default=4000)
    parser.add_argument("--listops-max-length", type=int, default=256)
    args = parser.parse_args(argv)
    digits_model, listops_model = dict(DIGITS_MODEL), dict(LISTOPS_MODEL)
    n_listops = args.listops_samples
    if args.quick:
        digits_model.update(embed_dim=16, max_epochs=1)
        listops_model.update(embed_dim=16, max_epochs=1)
        n_listops = 200
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")

    if args.task != "listops":
        run_digits(digits_model)
    if args.task != "digits":
        run_listops(listops_model, n_listops, args.listops_max_length)


def run_digits(digits_model):
    X, y = load_sequential_digits(permute=True, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    clf, seconds, scores = fit_and_score(digits_model, 1e-2, X_train, y_train, X_test, y_test)
    report(f"permuted sequential digits (64 steps, {len(X_train)} train / {len(X_test)} test)",
           clf, seconds, scores, X_test)


def run_listops(listops_model, n_listops, max_length):
    X, y = make_listops(n_listops, 32, max_length, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    bag = CountVectorizer(token_pattern=r"\S+", lowercase=False)
    as_text = lambda seqs: [listops_to_string(s) for s in seqs]  # noqa: E731
    baseline = LogisticRegression(max_iter=2000).fit(bag.fit_transform(as_text(X_train)), y_train)
    lengths = pd.Series([len(s) for s in X])
    clf, seconds, scores = fit_and_score(dict(listops_model, vocab_size=len(LISTOPS_TOKENS)), 2e-2,
                                         X_train, y_train, X_test, y_test)
    report(f"ListOps ({len(X_train)} train / {len(X_test)} test, lengths {lengths.min()}-"
           f"{lengths.max()}, median {lengths.median():.0f})", clf, seconds, scores, X_test,
           {"bag-of-tokens LogisticRegression": baseline.score(bag.transform(as_text(X_test)),
                                                               y_test),
            "majority class": np.bincount(y_test).max() / len(y_test)})


if __name__ == "__main__":
    main()
