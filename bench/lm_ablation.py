"""SpikeDecoderLM: what each setting of the demo's model buys, against its non-spiking twin.

Every configuration is trained once on the demo's 125 training documents with the
demo's budget (``snnsk.cli.demo.DEMO_MODEL``: context 64, embed 64, 2 blocks, 4 epochs)
at heads 2, threshold 0.25, T 4, and scored in bits per character on the demo's
32 held-out documents (the same ``train_test_split`` as ``snnsk demo``). Each
spiking row is printed with the ratio to the ``spiking='none'`` model trained
with the same batch size and seed. A row moves by up to 0.15 bits per
character from one seed to another, so compare rows of the same seed
(``--seeds 0 1`` repeats every row).

Runs ``--jobs`` fits at a time, one torch thread each.

Usage::

    python bench/lm_ablation.py            # all rows, seed 0 (about 4½ minutes on 2 cores)
    python bench/lm_ablation.py --seeds 0 1
    python bench/lm_ablation.py --quick    # a smoke run (1 epoch, 2 rows)
    python bench/lm_ablation.py --only "demo's" "non-spiking, batch 4"   # the demo's rows
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from joblib import Parallel, delayed

#: (name, SpikeDecoderLM settings on top of the demo's model and COMMON)
CONFIGS = [
    ("binary, hard reset, alpha 2, batch 16 (the first demo's)",
     dict(spike_code="binary", reset="hard", alpha=None, batch_size=16)),
    ("binary, soft reset, alpha 4, batch 16", dict(spike_code="binary", batch_size=16)),
    ("ternary, soft reset, alpha 4, batch 16", dict(spike_code="ternary", batch_size=16)),
    ("non-spiking, batch 16", dict(spiking="none", batch_size=16)),
    ("binary, soft reset, alpha 4, batch 4", dict(spike_code="binary", batch_size=4)),
    ("partial (GELU MLPs), binary, soft, alpha 4, batch 4",
     dict(spiking="partial", spike_code="binary", batch_size=4)),
    ("ternary, soft reset, alpha 4, batch 4 (the demo's)", dict(spike_code="ternary", batch_size=4)),
    ("non-spiking, batch 4", dict(spiking="none", batch_size=4)),
]
COMMON = dict(heads=2, threshold=0.25, timesteps=4, reset="soft", alpha=4.0, lr=3e-3)


def held_out_bits(settings: dict, seed: int, quick: bool,
                  precision: str = "float32") -> tuple[float, float]:
    import torch

    torch.set_num_threads(1)
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    from snnsk import SpikeDecoderLM
    from snnsk.datasets import load_corpus
    from snnsk.cli.demo import DEMO_MODEL
    from snnsk.text import TextNormalizer

    train, test = train_test_split(load_corpus(), test_size=0.2, random_state=0)
    params = {**DEMO_MODEL, **COMMON, **settings, "random_state": seed, "precision": precision}
    if quick:
        params["max_epochs"] = 1
        train, test = train[:20], test[:5]
    start = time.perf_counter()
    pipe = Pipeline([("normalize", TextNormalizer()), ("lm", SpikeDecoderLM(**params))]).fit(train)
    seconds = time.perf_counter() - start
    return pipe[-1].bits_per_char(pipe[0].transform(test)), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, 2 rows")
    parser.add_argument("--jobs", type=int, default=2, help="fits at a time (default 2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="random_state of each repeat (default: 0)")
    parser.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                        help="only the rows whose name contains one of these texts, e.g. "
                             "--only \"demo's\" \"non-spiking, batch 4\"")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="SpikeDecoderLM's precision for every row (default float32)")
    args = parser.parse_args(argv)
    configs = CONFIGS[2:4] if args.quick else CONFIGS
    if args.only:
        configs = [row for row in configs if any(text in row[0] for text in args.only)]
        if not configs:
            parser.error(f"--only {args.only} matches no row")
    # the worker processes must not each start one numba/OpenMP thread per core
    os.environ["OMP_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = "1"
    runs = [(name, settings, seed) for seed in args.seeds for name, settings in configs]
    fit = delayed(held_out_bits)
    results = Parallel(n_jobs=args.jobs)(fit(settings, seed, args.quick, args.precision)
                                         for _, settings, seed in runs)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{COMMON} on top of snnsk.cli.demo.DEMO_MODEL, then each row's settings; "
          f"precision {args.precision}")
    baselines = {}
    for (_, settings, seed), (bits, _) in zip(runs, results):
        if settings.get("spiking") == "none":
            baselines[(seed, settings["batch_size"])] = bits
    print(f"{'configuration':<56} {'seed':>4} {'bits/char':>9} {'vs none':>8} {'fit s':>6}")
    for (name, settings, seed), (bits, seconds) in zip(runs, results):
        baseline = baselines.get((seed, settings["batch_size"]))
        ratio = bits / baseline if baseline else float("nan")
        print(f"{name:<56} {seed:>4} {bits:>9.3f} {ratio:>8.3f} {seconds:>6.0f}")


if __name__ == "__main__":
    main()
