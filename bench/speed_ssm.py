"""SpikingSSMClassifier: training and inference speed at real sizes, beside its twin and the bound.

Measured side by side in one run (interleaved repeats, medians; see
``bench/speed_common.py``), for the default ``SpikingSSMClassifier``
(``embed_dim=128``, 4 layers, ``d_state=64``, batch 64):

* **FSDD log-mel** (``fsdd_logmel.npz``: 2,000 training recordings of 98
  frames × 40 mel bands, speaker split): one training epoch on all 2,000
  (``fit`` with ``max_epochs=1``, skorch's loop included) and one
  ``predict_proba`` pass over the 1,000 test recordings;
* **sequential MNIST** (``mnist.npz``, each image a 784-step sequence of one
  pixel): ``--n-seq`` training and inference sequences, the epoch time scaled
  to 60,000;
* **length 1,024** (random sequences of one channel): training sequences/s of
  skorch's epoch (the training steps; the goal's figure, against the issue's
  starting point of 13, measured before the end-of-fit calibration existed) and
  of the whole one-epoch ``fit``;
* **4,000 × 40 × 1**: the default fit, all its epochs (30), on a synthetic
  task of that size (the issue's goal: at most two minutes).

Rows: the default stochastic spike sampler (``spiking='sampler'``; its LIF
backend is not used), the LIF variant (``spiking='lif'``) with the fused
``backend='cpu'`` and the per-step ``'torch'`` reference, and the non-spiking
twin ``spiking='none'`` (the samplers' mean-field value, no random numbers):
the same network an ANN user would train. The goal is a default training step
within 1.2× the twin's (the SSM has no time-step axis to multiply the work:
``T = 1``).

The arithmetic bound: the dense multiply-accumulates of every linear layer
per sample (:class:`snnsk.analysis.opcount.OperationCounter`) plus the FFT
convolution's arithmetic (per channel: two real FFTs of ``n = 2L`` points at
``2.5 n log2 n`` flops each and the spectral product, ``6 (n / 2 + 1)``
flops; the kernel's own FFT is shared by the batch and left out), at the
``torch.mm`` rate measured in the same run, training counted as three
forward passes.

``--quality`` adds the default fit on FSDD (speaker split; each recording
without the frames after its speech, a ragged list), on the raw log-mel
values and after :class:`snnsk.preprocessing.SequenceScaler`, scored on the
1,000 test recordings, beside a logistic regression on the flattened
features (the issue's goal: at least 0.90).

Usage::

    python bench/speed_ssm.py             # the speed tables and goals (~6 min)
    python bench/speed_ssm.py --quality   # plus the FSDD default fits (~4 min more)
    python bench/speed_ssm.py --quality-only   # the FSDD default fits alone
    python bench/speed_ssm.py --profile   # plus the top operators of a training epoch
    python bench/speed_ssm.py --quick     # synthetic data, a smoke run
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_common as sc  # noqa: E402

from snnsk import SpikingSSMClassifier  # noqa: E402
from snnsk.layers.ssm import S4DConv  # noqa: E402
from snnsk.analysis.opcount import OperationCounter  # noqa: E402

#: Sequences/s of a default training step at length 1,024 when the issue was filed.
LENGTH_1024_BEFORE = 13.0
GOALS = dict(fsdd_epoch_s=5.0, fit_4000_s=120.0, length_1024_speedup=3.0, twin_ratio=1.2,
             fsdd_accuracy=0.90)
ROWS = {"sampler": dict(),
        "lif cpu": dict(spiking="lif", backend="cpu"),
        "lif torch": dict(spiking="lif", backend="torch"),
        "twin (spiking='none')": dict(spiking="none")}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(sc.DEFAULT_DATA),
                        help="folder with fsdd_logmel.npz and mnist.npz (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved repeats (median)")
    parser.add_argument("--n-seq", type=int, default=512,
                        help="sequential-MNIST sequences timed (default %(default)s)")
    parser.add_argument("--quality", action="store_true", help="add the FSDD default fit")
    parser.add_argument("--quality-only", action="store_true",
                        help="only the FSDD default fit (no speed tables)")
    parser.add_argument("--profile", action="store_true",
                        help="top operators of a training epoch on FSDD")
    parser.add_argument("--quick", action="store_true", help="synthetic data, small sizes")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.n_seq = 1, 64
    return args


def make(args, **settings) -> SpikingSSMClassifier:
    model = dict(embed_dim=16, depth=1, d_state=8) if args.quick else {}
    return SpikingSSMClassifier(random_state=0, **{**model, **settings})


# ------------------------------------------------------------------- data
def fsdd(args):
    """FSDD log-mel ``(X_train, y_train, X_test, y_test, length_train, length_test)`` (the
    lengths: each recording's frames of speech), or synthetic ones with ``--quick``."""
    if args.quick:
        rng = np.random.default_rng(0)
        return (rng.normal(size=(96, 98, 40)).astype(np.float32), np.arange(96) % 10,
                rng.normal(size=(32, 98, 40)).astype(np.float32), np.arange(32) % 10,
                np.full(96, 98), np.full(32, 98))
    path = sc.data_file(args.data, "fsdd_logmel.npz")
    if path is None:
        return None
    with np.load(path) as d:
        return (d["X_train"], d["y_train"], d["X_test"], d["y_test"], d["length_train"],
                d["length_test"])


def sequential_mnist(args, n: int):
    """``n`` training and ``n`` test MNIST images as 784-step sequences of one pixel in [0, 1]."""
    if args.quick:
        rng = np.random.default_rng(1)
        X = rng.random((2 * n, 784, 1), dtype=np.float32)
        return X[:n], np.arange(n) % 10, X[n:], np.arange(n) % 10
    path = sc.data_file(args.data, "mnist.npz")
    if path is None:
        return None
    with np.load(path) as d:
        def seq(images):
            return (images[:n].reshape(-1, 784, 1) / 255).astype(np.float32)
        return seq(d["X_train"]), d["y_train"][:n], seq(d["X_test"]), d["y_test"][:n]


def synthetic_task(n: int, length: int, seed: int = 0):
    """Noisy sequences whose class (of 10) sets the frequency of a sine: ``(n, length, 1)``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, n)
    X = np.sin(2 * np.pi * (y[:, None] + 1) * t / length + phase[:, None])
    X += rng.normal(scale=0.5, size=X.shape)
    return X[..., None].astype(np.float32), y


# --------------------------------------------------------------- measures
def macs_per_sample(estimator, X) -> float:
    """Linear layers' dense MACs per sample plus the FFT convolutions' arithmetic (as MACs)."""
    module = estimator.module_.eval()
    x = torch.as_tensor(X[:8])
    with OperationCounter(module) as counter, torch.no_grad():
        module(x)
    linear = sum(e.dense_macs for name, e in counter.layers.items()
                 if not name.endswith(".convolution"))
    n = 2 * X.shape[1]
    fft = 0.0
    for conv in (m for m in module.modules() if isinstance(m, S4DConv)):
        flops = 2 * 2.5 * n * math.log2(n) + 6 * (n // 2 + 1)
        fft += conv.out_channels * flops / 2  # two flops per MAC
    return linear / len(x) + fft


def speed_rows(args, name, X, y, X_test, flops, scale_to=None):
    """The table rows of one dataset (every ROWS entry and the bound) and the measurements."""
    rows = {label: make(args, **settings) for label, settings in ROWS.items()}
    result = sc.measure_estimators(rows, X, y, X_test, args.runs, warm_samples=64)
    bound_train, bound_infer = sc.bound_rates(macs_per_sample(result["sampler"]["estimator"], X),
                                              flops)
    table = []
    for label in ROWS:
        r = result[label]
        row = {"data": name, "row": label, "train seq/s": r["train/s"],
               "infer seq/s": r["infer/s"], "epoch s": r["epoch s"]}
        if scale_to:
            row[f"{scale_to:,}-seq epoch s"] = scale_to / r["train/s"]
        table.append(row)
    bound = {"data": name, "row": "arithmetic bound", "train seq/s": bound_train,
             "infer seq/s": bound_infer, "epoch s": len(X) / bound_train}
    if scale_to:
        bound[f"{scale_to:,}-seq epoch s"] = scale_to / bound_train
    table.append(bound)
    print(f"# {name}: other processes used {result['_load']} during the run")
    return table, result


def training_rates(args, X, y, runs) -> tuple[float, float]:
    """Sequences/s of one default training epoch on ``X`` (median of ``runs``): skorch's epoch
    alone (its history's ``dur``: the training steps), and the whole ``fit`` (the estimator's
    set-up and the end-of-fit batch-norm calibration pass included, a fixed cost per fit that
    the issue's filed figure predates)."""
    clf = make(args, max_epochs=1).fit(X[:32], y[:32])
    epochs = []

    def fit():
        clf.fit(X, y)
        epochs.append(clf.history[-1, "dur"])

    seconds = sc.interleaved_medians({"fit": fit}, runs)["fit"]
    return len(X) / float(np.median(epochs)), len(X) / seconds


def profile_epoch(args, X, y, top: int = 25):
    from torch.profiler import ProfilerActivity, profile

    clf = make(args, max_epochs=1).fit(X[:64], y[:64])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        clf.fit(X[:512], y[:512])
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def quality(args, data) -> list[dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from snnsk.preprocessing import SequenceScaler

    X, y, X_test, y_test, lengths, lengths_test = data
    # each recording as it is, without the frames after the speech (a ragged list)
    ragged = [x[:n] for x, n in zip(X, lengths)]
    ragged_test = [x[:n] for x, n in zip(X_test, lengths_test)]
    settings = {"max_epochs": 2} if args.quick else {}
    table, accuracy = [], {}
    for name, model in (("raw", make(args, **settings)),
                        ("scaled", make_pipeline(SequenceScaler(), make(args, **settings)))):
        start = time.perf_counter()
        model.fit(ragged, y)
        accuracy[name] = model.score(ragged_test, y_test)
        label = ("SpikingSSMClassifier()" if name == "raw"
                 else "SequenceScaler + SpikingSSMClassifier()")
        table.append({"model": f"{label} (default, {settings.get('max_epochs', 30)} epochs, "
                               "ragged)", "fit s": time.perf_counter() - start,
                      "test accuracy": f"{accuracy[name]:.4f}"})
    start = time.perf_counter()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    logistic.fit(X.reshape(len(X), -1), y)
    table.append({"model": "StandardScaler + LogisticRegression (flattened 98 x 40)",
                  "fit s": time.perf_counter() - start,
                  "test accuracy": f"{logistic.score(X_test.reshape(len(X_test), -1), y_test):.4f}"})
    sc.print_table(table, "FSDD log-mel, speaker split: fit on the 2,000 training recordings, "
                          "score on the 1,000 test recordings")
    return [sc.goal("SSM: FSDD test accuracy (speaker split, scaled)", accuracy["scaled"],
                    GOALS["fsdd_accuracy"], fmt="{:.4f}")]



def run(args) -> list[dict]:
    """Print the SSM tables; return the goal rows (dicts: goal, measured, target, met).

    ``args`` is the namespace of :func:`parse_args` or a list of command-line arguments
    (what ``bench/train_speed.py`` passes).
    """
    if not isinstance(args, argparse.Namespace):
        args = parse_args(args)
    data = fsdd(args)
    goals = [] if args.quality_only else speed(args, data)
    if (args.quality or args.quality_only) and data is not None:
        goals += quality(args, data)
    return goals


def speed(args, data) -> list[dict]:
    """The speed tables (FSDD, sequential MNIST, length 1,024, the 4,000 x 40 fit); the goal rows."""
    flops = sc.matmul_flops()
    goals, table = [], []
    if data is not None:
        X, y, X_test = data[:3]
        rows, result = speed_rows(args, "FSDD log-mel 98 x 40", X, y, X_test, flops)
        table += rows
        default, twin = result["sampler"], result["twin (spiking='none')"]
        goals.append(sc.goal(f"SSM: FSDD {len(X):,}-recording training epoch", default["epoch s"],
                             GOALS["fsdd_epoch_s"], at_least=False, unit=" s"))
        goals.append(sc.goal("SSM: training epoch time / non-spiking twin's (FSDD)",
                             default["epoch s"] / twin["epoch s"], GOALS["twin_ratio"],
                             at_least=False, unit="x", fmt="{:.2f}"))
        if args.profile:
            profile_epoch(args, X, y)
    seq = sequential_mnist(args, args.n_seq)
    if seq is not None:
        X, y, X_test, _ = seq
        rows, _ = speed_rows(args, "sequential MNIST 784 x 1", X, y, X_test, flops,
                             scale_to=60_000)
        table += rows
    sc.print_table(table, "SpikingSSMClassifier (default) training and inference")
    X, y = synthetic_task(256 if not args.quick else 32, 1024)
    rate, fit_rate = training_rates(args, X, y, args.runs)
    sc.print_table([{"length": 1024, "train seq/s (epoch)": rate, "fit seq/s (with calibration)":
                     fit_rate, "when filed": LENGTH_1024_BEFORE,
                     "speed-up": rate / LENGTH_1024_BEFORE}],
                   "Length 1,024, one channel: default training epoch")
    goals.append(sc.goal("SSM: length-1,024 training speed-up over the filed 13 seq/s",
                         rate / LENGTH_1024_BEFORE, GOALS["length_1024_speedup"], unit="x",
                         fmt="{:.2f}"))
    X, y = synthetic_task(4000 if not args.quick else 64, 40)
    start = time.perf_counter()
    make(args, **({"max_epochs": 2} if args.quick else {})).fit(X, y)
    fit_s = time.perf_counter() - start
    print(f"\n# 4,000 x 40 x 1 sequences: the default fit ({'2' if args.quick else '30'} "
          f"epochs) took {fit_s:.1f} s")
    goals.append(sc.goal("SSM: default fit on 4,000 x 40 x 1 sequences", fit_s,
                         GOALS["fit_4000_s"], at_least=False, unit=" s"))
    return goals


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    sc.print_header("speed_ssm.py", argv)
    goals = run(args)
    sc.print_goals(goals)
    return goals


if __name__ == "__main__":
    main()
