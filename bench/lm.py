"""SpikeDecoderLM: estimator overhead and cached generation, measured side by side.

1. Training throughput: ``SpikeDecoderLM.fit`` (tokenization, windowing and
   skorch's loop included) against the very same ``SpikeDecoder`` module
   trained by a hand-written PyTorch loop over the same windows, with the same
   optimizer, batch size, shuffling and epochs. Reported in training tokens per
   second; the overhead is ``1 - estimator / hand loop``.
2. Generation throughput: ``generate`` with the key/value cache against
   recomputing the whole context for every token, at two context lengths.

Medians of ``--runs`` (default 5) interleaved runs (this machine is noisy).

Usage::

    python bench/lm.py            # what bench/BENCHMARKS.md reports (a few minutes)
    python bench/lm.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from snnsk import SpikeDecoderLM
from snnsk.datasets import load_corpus
from snnsk.models import SpikeDecoder

MODEL = dict(embed_dim=64, heads=4, depth=2, timesteps=4)  # threshold 0.5: the default


def hand_loop(module, inputs, targets, epochs, batch_size, lr, seed):
    """Plain PyTorch training of ``module`` on pre-made windows."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, fused=True)  # as the estimator
    criterion = torch.nn.CrossEntropyLoss(ignore_index=0)
    x_all, y_all = torch.as_tensor(inputs), torch.as_tensor(targets)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits = module(x_all[idx])
            loss = criterion(logits.reshape(-1, logits.shape[-1]), y_all[idx].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def training_throughput(docs, context_length, epochs, batch_size, runs):
    lm = SpikeDecoderLM(context_length=context_length, max_epochs=epochs, batch_size=batch_size,
                        random_state=0, iterator_train__shuffle=True, **MODEL)
    lm.fit(docs[:4])  # compile the LIF kernels before timing anything
    est_s, hand_s = [], []
    n_tokens = None
    for _ in range(runs):
        start = time.perf_counter()
        lm.fit(docs)
        est_s.append(time.perf_counter() - start)
        inputs, targets = lm._windows(docs)
        n_tokens = int((targets != 0).sum()) * epochs
        module = SpikeDecoder(vocab_size=lm.tokenizer_.vocab_size_,
                              context_length=context_length, neuron=lm.neuron_config(), **MODEL)
        start = time.perf_counter()
        hand_loop(module, inputs, targets, epochs, batch_size, lm.lr, seed=0)
        hand_s.append(time.perf_counter() - start)
    est, hand = statistics.median(est_s), statistics.median(hand_s)
    return n_tokens, est, hand


def generation_throughput(docs, context_length, new_tokens, runs):
    lm = SpikeDecoderLM(context_length=context_length, max_epochs=1, random_state=0, **MODEL)
    lm.fit(docs[:20])
    times = {True: [], False: []}
    for _ in range(runs):
        for use_cache in (True, False):
            start = time.perf_counter()
            lm.generate("The ", new_tokens, random_state=0, use_cache=use_cache)
            times[use_cache].append(time.perf_counter() - start)
    same = lm.generate("The ", new_tokens, random_state=0, use_cache=True) == \
        lm.generate("The ", new_tokens, random_state=0, use_cache=False)
    return {k: new_tokens / statistics.median(v) for k, v in times.items()}, same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    docs = load_corpus()
    if args.quick:
        docs, epochs, new_tokens, contexts = docs[:10], 1, 32, (32,)
    else:
        docs, epochs, new_tokens, contexts = docs[:60], 2, 256, (64, 256)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; model {MODEL}")
    n_tokens, est, hand = training_throughput(docs, 64, epochs, 32, args.runs)
    print("\n## training (context 64, batch 32)\n")
    print("| tokens | estimator s | hand loop s | estimator tok/s | hand loop tok/s | overhead |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {n_tokens} | {est:.2f} | {hand:.2f} | {n_tokens / est:.0f} | {n_tokens / hand:.0f} "
          f"| {100 * (1 - hand / est):+.1f}% |")
    print(f"\n## generation ({new_tokens} new tokens)\n")
    print("| context | cached tok/s | uncached tok/s | speed-up | same text |")
    print("|---:|---:|---:|---:|:---:|")
    for context in contexts:
        rates, same = generation_throughput(docs, context, new_tokens, args.runs)
        print(f"| {context} | {rates[True]:.0f} | {rates[False]:.0f} | "
              f"{rates[True] / rates[False]:.2f}x | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
