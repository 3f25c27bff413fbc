"""SpikingSSMClassifier: cost against sequence length, sampler vs LIF variant, side by side.

1. Training cost: one forward + backward pass of ``PSpikeSSM`` (a batch of
   sequences of length L) for L = 256 ... 16384, with the stochastic sampler
   (P-SpikeSSM) and with LIF neurons along the sequence (the LIF-based
   variant), and the log-log slope of time against L between the smallest and
   the largest L (1 = linear; the FFT convolution is O(L log L), the LIF loop
   O(L) but sequential).
2. Inference cost: the forward pass alone under ``torch.no_grad()`` in
   evaluation mode (threshold sampling) for both variants.

Medians of ``--runs`` interleaved repeats after one warm-up (this machine is noisy).

Usage::

    python bench/ssm.py            # what bench/BENCHMARKS.md reports
    python bench/ssm.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import torch

from snnsk.models import PSpikeSSM

MODEL = dict(n_classes=10, n_features=1, embed_dim=64, depth=2, d_state=64, bidirectional=True)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _train_step(model, x, y):
    model.train()
    model.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x)[0], y).backward()


def _inference(model, x):
    model.eval()
    with torch.no_grad():
        model(x)


def measure(lengths, batch, runs):
    """Median seconds per (neuron, phase, L)."""
    torch.manual_seed(0)
    models = {spiking: PSpikeSSM(spiking=spiking, **MODEL) for spiking in ("sampler", "lif")}
    results = {}
    for length in lengths:
        x = torch.rand(batch, length, 1)
        y = torch.randint(0, 10, (batch,))
        cases = [(neuron, phase) for neuron in models for phase in ("train", "infer")]
        for neuron, phase in cases:  # warm-up (numba compilation, allocator)
            fn = _train_step if phase == "train" else _inference
            fn(models[neuron], x, y) if phase == "train" else fn(models[neuron], x)
        times = {case: [] for case in cases}
        for _ in range(runs):
            for neuron, phase in cases:
                model = models[neuron]
                if phase == "train":
                    times[(neuron, phase)].append(_timed(lambda: _train_step(model, x, y)))
                else:
                    times[(neuron, phase)].append(_timed(lambda: _inference(model, x)))
        for case, values in times.items():
            results[case + (length,)] = statistics.median(values)
    return results


def slope(results, neuron, phase, lengths):
    first, last = lengths[0], lengths[-1]
    return (math.log(results[(neuron, phase, last)] / results[(neuron, phase, first)])
            / math.log(last / first))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args(argv)
    lengths = [256, 512, 1024] if args.quick else [256, 1024, 4096, 16384]
    runs = 1 if args.quick else args.runs
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; PSpikeSSM {MODEL}, batch {args.batch}; "
          f"median of {runs}")
    results = measure(lengths, args.batch, runs)
    print(f"{'L':>6} | {'sampler train':>13} | {'LIF train':>10} | {'LIF/sampler':>11} | "
          f"{'sampler infer':>13} | {'LIF infer':>10} | {'LIF/sampler':>11}")
    for length in lengths:
        st, lt = results[("sampler", "train", length)], results[("lif", "train", length)]
        si, li = results[("sampler", "infer", length)], results[("lif", "infer", length)]
        print(f"{length:>6} | {st * 1e3:>10.1f} ms | {lt * 1e3:>7.1f} ms | {lt / st:>10.2f}x | "
              f"{si * 1e3:>10.1f} ms | {li * 1e3:>7.1f} ms | {li / si:>10.2f}x")
    print(f"log-log slope of time against L ({lengths[0]} -> {lengths[-1]}):")
    for neuron in ("sampler", "lif"):
        print(f"  {neuron:>7}: train {slope(results, neuron, 'train', lengths):.2f}, "
              f"inference {slope(results, neuron, 'infer', lengths):.2f}")


if __name__ == "__main__":
    main()
