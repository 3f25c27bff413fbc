"""SpikingViTClassifier quality: digits (three attention variants) and event digits.

Protocol (issue 6): scikit-learn's digits scaled to [0, 1], stratified 5-fold
cross-validation *without shuffling* (the folds follow the original writer
order, which is harder than shuffled folds); an RBF SVC scores 0.946 on it and
is measured in the same run for comparison. Event digits
(``snnsk.datasets.load_event_digits``) use the same protocol. The firing rate
of every spiking layer is printed for the best digits variant.

Usage::

    python bench/vit_quality.py                  # digits and events (about 20 min on 2 cores)
    python bench/vit_quality.py --task digits    # the three variants on digits
    python bench/vit_quality.py --task events --event-attention ssa sdsa qk
    python bench/vit_quality.py --quick          # one fold of 300 samples, a tiny model: a smoke run
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC

from snnsk import SpikingViTClassifier
from snnsk.datasets import load_event_digits

VARIANTS = ("ssa", "sdsa", "qk")
#: The estimator settings measured on digits (8x8 -> 16 tokens of 2x2 patches).
DIGITS_MODEL = dict(embed_dim=64, depth=2, heads=4, patch_size=2, max_epochs=20, random_state=0)
#: Event digits: 16x16 frames, one step per frame (8), 4x4 patches -> 16 tokens.
EVENTS_MODEL = dict(embed_dim=64, depth=2, heads=4, patch_size=4, timesteps=8, max_epochs=20,
                    random_state=0)
EVENT_FRAMES = 8
#: --quick: a tiny model on the first samples, to check that the script runs.
QUICK_MODEL = dict(embed_dim=16, depth=1, heads=2, max_epochs=1)
QUICK_SAMPLES = 300


def _settings(model, quick):
    return {**model, **(QUICK_MODEL if quick else {})}


def _cv(estimator, X, y, folds):
    cv = StratifiedKFold(5)
    splits = list(cv.split(X, y))[:folds]
    start = time.perf_counter()
    scores = cross_val_score(estimator, X, y, cv=splits)
    return scores, time.perf_counter() - start


def _row(name, scores, seconds):
    return {"model": name, "mean accuracy": scores.mean(), "min fold": scores.min(),
            "folds": " ".join(f"{s:.4f}" for s in scores), "seconds": round(seconds)}


def _progress(row):
    print(f"{row['model']}: mean {row['mean accuracy']:.4f}, folds {row['folds']}, "
          f"{row['seconds']} s", flush=True)


def run_digits(folds, quick):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if quick:
        X, y = X[:QUICK_SAMPLES], y[:QUICK_SAMPLES]
    rows, best = [], None
    scores, seconds = _cv(SVC(), X, y, folds)
    rows.append(_row("SVC (RBF, default)", scores, seconds))
    for attention in VARIANTS:
        clf = SpikingViTClassifier(attention, image_shape=(8, 8), **_settings(DIGITS_MODEL, quick))
        scores, seconds = _cv(clf, X, y, folds)
        rows.append(_row(f"SpikingViT {attention}", scores, seconds))
        if best is None or scores.mean() > best[1]:
            best = (attention, scores.mean())
        _progress(rows[-1])
    print(f"\nDigits, stratified 5-fold CV without shuffling ({folds} folds run); "
          f"settings {DIGITS_MODEL}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    attention = best[0]
    # firing rates of the best variant, trained on the first 4 folds, measured on the last
    train, test = list(StratifiedKFold(5).split(X, y))[-1]
    clf = SpikingViTClassifier(attention, image_shape=(8, 8), **_settings(DIGITS_MODEL, quick))
    clf.fit(X[train], y[train])
    print(f"\nFiring rate per spiking layer, {attention}, on the held-out fold:")
    print(clf.spike_stats(X[test]).to_string(float_format=lambda v: f"{v:.4f}"))


def run_events(folds, quick, variants):
    X, y = load_event_digits(timesteps=EVENT_FRAMES, random_state=0)
    if quick:
        X, y = X[:QUICK_SAMPLES], y[:QUICK_SAMPLES]
    rows = []
    flat = X.reshape(len(X), -1)
    scores, seconds = _cv(SVC(), flat / flat.max(), y, folds)
    rows.append(_row("SVC on flattened event frames", scores, seconds))
    for attention in variants:
        clf = SpikingViTClassifier(attention, **_settings(EVENTS_MODEL, quick))
        scores, seconds = _cv(clf, X, y, folds)
        rows.append(_row(f"SpikingViT {attention}", scores, seconds))
        _progress(rows[-1])
    print(f"\nEvent digits {X.shape[1:]} (load_event_digits(timesteps={EVENT_FRAMES}, "
          f"random_state=0)), stratified 5-fold CV without shuffling ({folds} folds run); "
          f"settings {EVENTS_MODEL}")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=("both", "digits", "events"), default="both")
    parser.add_argument("--event-attention", nargs="+", choices=VARIANTS, default=["qk"],
                        help="variants run on event digits (default qk, the best on digits)")
    parser.add_argument("--quick", action="store_true",
                        help="one fold of the first 300 samples, a tiny model for 1 epoch")
    args = parser.parse_args(argv)
    folds = 1 if args.quick else 5
    print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    if args.task in ("both", "digits"):
        run_digits(folds, args.quick)
    if args.task in ("both", "events"):
        run_events(folds, args.quick, args.event_attention)


if __name__ == "__main__":
    main()
