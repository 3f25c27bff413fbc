"""Fitting on a torch Dataset: peak memory against the number of samples, and time against arrays.

1. **Memory.** Each fit runs in a fresh process on a Dataset of ``n``
   MNIST-shaped samples (28×28 float32, made from the index when they are
   read: nothing is held in memory, as with a dataset on disk), one epoch;
   the process's peak resident memory (``ru_maxrss``) is compared between
   ``n = 1,000`` and ``n = 60,000`` (goal: within 1.5×), beside the same fit
   on 60,000 samples given as an array.
2. **Time.** One training epoch on the same samples as an in-memory Dataset
   and as arrays, median of interleaved runs (goal: the Dataset within 1.2×).

Usage::

    python bench/streaming.py              # both, the MLP and the ViT (~10 min)
    python bench/streaming.py --quick      # small sizes, a smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_common as sc  # noqa: E402

RSS_GOAL, TIME_GOAL = 1.5, 1.2


class GeneratedImages(Dataset):
    """``n`` 28×28 images in [0, 1] and labels, each made from its index when read."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        label = i % 10
        x = (rng.random((28, 28), dtype=np.float32) < 0.1 + 0.05 * label).astype(np.float32)
        return torch.from_numpy(x), label

    @property
    def targets(self):
        return np.arange(self.n) % 10


def estimator(name: str, quick: bool):
    from snnsk import SpikingMLPClassifier, SpikingViTClassifier

    if name == "mlp":
        return SpikingMLPClassifier(max_epochs=1, random_state=0)
    kw = dict(embed_dim=16, depth=1) if quick else {}
    return SpikingViTClassifier(max_epochs=1, random_state=0, **kw)


def _flat(name, x):
    return x.reshape(len(x), -1) if name == "mlp" else x


def child(args):
    """One fit in this process; print its peak RSS (MiB) as JSON."""
    import resource

    data = GeneratedImages(args.child_n)
    est = estimator(args.child_estimator, args.quick)
    if args.child_form == "array":
        X = np.stack([data[i][0].numpy() for i in range(len(data))])
        est.fit(_flat(args.child_estimator, X), data.targets)
    else:
        if args.child_estimator == "mlp":
            data = FlatView(data)
        est.fit(data, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mib": peak}))


class FlatView(Dataset):
    """The same samples, flattened to 784 features (the MLP's input)."""

    def __init__(self, data):
        self.data = data
        self.targets = data.targets

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x, y = self.data[i]
        return x.reshape(-1), y


def peak_rss(name, n, form, quick) -> float:
    out = subprocess.run([sys.executable, __file__, "--child-n", str(n), "--child-form", form,
                          "--child-estimator", name] + (["--quick"] if quick else []),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def memory_section(args) -> list[dict]:
    small, large = (200, 2000) if args.quick else (1000, 60000)
    goals, rows = [], []
    for name in args.estimators:
        if name == "vit" and (args.quick or not args.vit_memory):
            continue  # a 60,000-image ViT epoch takes minutes; --vit-memory runs it
        r_small = peak_rss(name, small, "dataset", args.quick)
        r_large = peak_rss(name, large, "dataset", args.quick)
        r_array = float("nan") if args.quick else peak_rss(name, large, "array", args.quick)
        rows.append({"estimator": name, f"Dataset n={small:,} MiB": r_small,
                     f"Dataset n={large:,} MiB": r_large, f"array n={large:,} MiB": r_array})
        goals.append(sc.goal(f"{name}: peak RSS, Dataset of {large:,} / of {small:,}",
                             r_large / r_small, RSS_GOAL, at_least=False, unit="x", fmt="{:.2f}"))
    sc.print_table(rows, "Peak resident memory of one fit (fresh process each)")
    return goals


def time_section(args) -> list[dict]:
    goals, rows = [], []
    for name in args.estimators:
        n = 512 if args.quick else (20000 if name == "mlp" else 2048)
        data = GeneratedImages(n)
        X = np.stack([data[i][0].numpy() for i in range(n)])
        y = data.targets
        in_memory = torch.utils.data.TensorDataset(torch.from_numpy(_flat(name, X)),
                                                   torch.from_numpy(y))
        array_est, dataset_est = estimator(name, args.quick), estimator(name, args.quick)
        array_est.fit(_flat(name, X[:64]), y[:64])  # compile the kernels, warm the allocator
        dataset_est.fit(torch.utils.data.Subset(in_memory, range(64)), None)
        cases = {"array": lambda: array_est.fit(_flat(name, X), y),
                 "dataset": lambda: dataset_est.fit(in_memory, None)}
        start, wall = sc.busy_seconds(), time.perf_counter()
        seconds = sc.interleaved_medians(cases, args.runs)
        load = sc.other_load(start, time.perf_counter() - wall)
        rows.append({"estimator": name, "samples": n, "array epoch s": seconds["array"],
                     "Dataset epoch s": seconds["dataset"],
                     "ratio": seconds["dataset"] / seconds["array"], "other load": load})
        goals.append(sc.goal(f"{name}: epoch on a Dataset / on arrays",
                             seconds["dataset"] / seconds["array"], TIME_GOAL, at_least=False,
                             unit="x", fmt="{:.2f}"))
    sc.print_table(rows, f"One training epoch, Dataset against arrays (median of {args.runs})")
    return goals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--estimators", nargs="+", choices=["mlp", "vit"], default=["mlp", "vit"])
    parser.add_argument("--vit-memory", action="store_true",
                        help="also the ViT's 60,000-sample memory fit (minutes)")
    parser.add_argument("--child-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-form", help=argparse.SUPPRESS)
    parser.add_argument("--child-estimator", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if args.child_n:
        return child(args)
    if args.quick:
        args.runs = 1
    print(f"# {sc.describe_machine()}")
    goals = memory_section(args) + time_section(args)
    sc.print_goals(goals)
    return goals


if __name__ == "__main__":
    main()
