"""SpikeDecoderLM: training and inference speed on a 1 MB text, beside its twin and the bound.

Measured, side by side in one run, for every row (the default ``SpikeDecoderLM``, which is
also ``bench/lm.py``'s model; the demo's ternary model; each with the LIF backends
``'cpu'`` and ``'torch'``; the default with the opt-in ``precision='bfloat16'``; and the
``spiking='none'`` twins):

* **training tokens/s**: one epoch of ``SpikeDecoderLM.fit`` (tokenization, windowing and
  skorch's loop included) on the first ``--train-tokens`` tokens of the text; the epoch
  time of the whole text is that rate scaled by the text's token count (printed as such);
* **inference tokens/s**: ``log_likelihood`` (the pass behind ``score``, ``perplexity`` and
  ``bits_per_char``) on the first ``--infer-tokens`` tokens;
* **the arithmetic lower bound**: dense MACs per token of one forward pass (from
  :class:`snnsk.analysis.opcount.OperationCounter`: every linear layer and attention product as if
  computed densely), at the matmul FLOP rate measured in the same run (the faster of
  ``torch.mm`` and snnsk's oneDNN linear, at the model's largest product); training counts
  3x the forward (forward, input gradient, weight gradient);
* the ratio of each spiking row's training time per token to its twin's (the issue's goal:
  at most ``1.2 * T``).

The goal rows (printed last, and returned by :func:`run` as dicts with ``goal``,
``measured``, ``target`` and ``met``) also include the speed-up over an older checkout when
``--baseline DIR`` names one: ``bench/lm.py``'s estimator row (its training function, same
settings) is run from both trees, alternately, in subprocesses.

Rows are interleaved over ``--runs`` repeats and medians reported (the machine is shared
and noisy).

Usage::

    python bench/speed_lm.py                         # the table of bench/BENCHMARKS.md
    python bench/speed_lm.py --baseline ../old-tree  # + the speed-up over another commit
    python bench/speed_lm.py --text book.txt         # any text, read as one document
    python bench/speed_lm.py --profile               # + the top operators of one step
    python bench/speed_lm.py --quick                 # a smoke run (well under a minute)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from snnsk import SpikeDecoderLM
from snnsk.datasets import load_corpus
from snnsk.cli.demo import DEMO_MODEL
from snnsk.layers.dense import linear
from snnsk.analysis.opcount import OperationCounter
from snnsk.text import PAD_ID

#: ``bench/lm.py``'s model, which is the estimator's default configuration too.
LM_BENCH = dict(embed_dim=64, heads=4, depth=2, timesteps=4, threshold=0.5)
#: The demo's model (``snnsk demo``'s best candidate), without its epochs.
DEMO = {**{k: v for k, v in DEMO_MODEL.items() if k != "max_epochs"}, "heads": 2,
        "threshold": 0.25}
#: (model, estimator settings); each has a spiking row per LIF backend and a twin row, the
#: same settings with ``spiking='none'``.
CONFIGS = [
    ("default (= bench/lm.py's model)", {}),
    ("demo (ternary, batch 4)", DEMO),
]

_BASELINE_CHILD = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("lm_bench", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
from snnsk.datasets import load_corpus
n_tokens, est, hand = bench.training_throughput(load_corpus()[:60], 64, 2, 32, 1)
print(json.dumps({"tokens": n_tokens, "estimator_s": est, "hand_s": hand}))
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small text and subsets: a smoke run")
    parser.add_argument("--text", type=Path, default=None,
                        help="a text file, read as one document (default: the embedded corpus, "
                             "repeated to --megabytes)")
    parser.add_argument("--megabytes", type=float, default=1.0,
                        help="size of the default text (default 1)")
    parser.add_argument("--train-tokens", type=int, default=None,
                        help="tokens of the timed training epoch (default 131072; --quick 8192)")
    parser.add_argument("--infer-tokens", type=int, default=None,
                        help="tokens of the timed scoring pass (default 262144; --quick 8192)")
    parser.add_argument("--runs", type=int, default=None, help="interleaved repeats (default 3; "
                                                               "--quick 1)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of snnsk (with its bench/lm.py): also measure the "
                             "training speed-up over it")
    parser.add_argument("--profile", action="store_true",
                        help="print the top operators (torch.profiler) and Python functions "
                             "(cProfile) of one training step of the default model")
    args = parser.parse_args(argv)
    quick = args.quick
    if args.train_tokens is None:
        args.train_tokens = 8192 if quick else 131072
    if args.infer_tokens is None:
        args.infer_tokens = 8192 if quick else 262144
    if args.runs is None:
        args.runs = 1 if quick else 3
    return args


# ------------------------------------------------------------------- data
def load_text(args) -> list[str]:
    """The documents to measure on: the ``--text`` file, or the corpus repeated to size."""
    if args.text is not None:
        return [args.text.read_text(encoding="utf-8")]
    corpus = load_corpus()
    if args.quick:
        return corpus[:20]
    chars = sum(len(doc) for doc in corpus)
    return corpus * math.ceil(args.megabytes * 1e6 / chars)


def prefix(docs: list[str], n_chars: int) -> list[str]:
    """The first ``n_chars`` characters of ``docs`` (whole documents, the last one cut)."""
    out, left = [], n_chars
    for doc in docs:
        if left <= 0:
            break
        out.append(doc[:left])
        left -= len(out[-1])
    return out


def n_targets(lm, docs) -> int:
    """Tokens the estimator predicts on ``docs`` (every token once; padding excluded)."""
    return int((lm._windows(docs)[1] != PAD_ID).sum())


# --------------------------------------------------------------- measures
def rows_to_run(args):
    backends = ("cupy", "torch") if str(args.device).startswith("cuda") else ("cpu", "torch")
    rows = []
    for index, (model, settings) in enumerate(CONFIGS):
        for backend in backends:
            rows.append(dict(model=model, label=model, spiking=True, backend=backend, goal=True,
                             estimator={**settings, "backend": backend}))
        if index == 0:
            # the opt-in: products in bfloat16 (its twin ratio is against the float32 twin)
            rows.append(dict(model=model, label=f"{model}, precision='bfloat16'", spiking=True,
                             backend=backends[0], goal=False,
                             estimator={**settings, "backend": backends[0],
                                        "precision": "bfloat16"}))
        rows.append(dict(model=model, label=f"{model}: spiking='none' twin", spiking=False,
                         backend="-", goal=False, estimator={**settings, "spiking": "none"}))
    return rows


def make_lm(args, estimator_settings) -> SpikeDecoderLM:
    return SpikeDecoderLM(max_epochs=1, random_state=0, device=args.device, **estimator_settings)


def time_row(args, row, train_docs, infer_docs):
    """Seconds of one training epoch and of one scoring pass, and the fitted estimator."""
    lm = make_lm(args, row["estimator"])
    start = time.perf_counter()
    lm.fit(train_docs)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    lm.log_likelihood(infer_docs)
    infer_s = time.perf_counter() - start
    return train_s, infer_s, lm


def forward_macs_per_token(lm) -> tuple[float, tuple]:
    """Dense MACs per token of one forward pass of a batch, and the shape of its largest product."""
    module = lm.module_
    n = lm.context_length
    ids = torch.randint(3, lm.tokenizer_.vocab_size_, (lm.batch_size, n), device=lm.device)
    module.eval()
    with OperationCounter(module) as counter, torch.no_grad():
        module(ids)
    macs = sum(entry.dense_macs for entry in counter.layers.values())
    rows = module.effective_timesteps * lm.batch_size * n
    hidden = max(block.mlp.fc1.out_features for block in module.blocks)
    return macs / (lm.batch_size * n), (rows, lm.embed_dim, hidden)


def matmul_rate(shape, device) -> dict:
    """FLOP/s of ``torch.mm`` and of snnsk's linear layer at ``[rows, in] x [in, out]``."""
    rows, inner, outer = shape
    a = torch.randn(rows, inner, device=device)
    b = torch.randn(inner, outer, device=device)
    weight = b.t().contiguous()

    def best(fn, repeats=20):
        for _ in range(3):
            fn()
        times = []
        for _ in range(repeats):
            if a.is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if a.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return 2 * rows * inner * outer / min(times)

    return {"torch.mm": best(lambda: a @ b), "snnsk linear": best(lambda: linear(a, weight))}


def baseline_speedup(args) -> dict:
    """``bench/lm.py``'s estimator row from ``--baseline`` and from this tree, alternately."""
    trees = {"baseline": args.baseline.resolve(), "this tree": Path(__file__).resolve().parents[1]}
    for name, tree in trees.items():
        if not (tree / "bench" / "lm.py").is_file():
            raise SystemExit(f"{name} {tree} has no bench/lm.py")
    rates = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=str(tree), PYTHONWARNINGS="ignore")
            command = [sys.executable, "-c", _BASELINE_CHILD, str(tree / "bench" / "lm.py")]
            proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree)
            if proc.returncode:
                raise SystemExit(f"bench/lm.py failed in {tree}:\n{proc.stderr[-2000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            rates[name].append(result["tokens"] / result["estimator_s"])
    return {name: statistics.median(values) for name, values in rates.items()}


def profile_step(args):
    """Top operators and Python functions of one training step of the default model."""
    from torch.profiler import ProfilerActivity, profile

    docs = prefix(load_text(args), 64 * 32 * 4)
    lm = make_lm(args, {}).fit(docs)
    x, y = lm._windows(docs)
    x = torch.as_tensor(x[:lm.batch_size], device=lm.device)
    y = torch.as_tensor(y[:lm.batch_size], device=lm.device)
    lm.module_.train()

    def step():
        lm.optimizer_.zero_grad()
        loss = lm.get_loss(lm.module_(x), y)
        loss.backward()
        lm.optimizer_.step()

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print("\n## one training step: top operators (torch.profiler, self CPU time)\n")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    profiler = cProfile.Profile()
    profiler.enable()
    step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print("## one training step: top Python functions (cProfile, total time)\n")
    print(out.getvalue())


# ------------------------------------------------------------------ tables
def _table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def _goal(goal, measured, target, met):
    return {"goal": goal, "measured": measured, "target": target, "met": bool(met)}


def run(args) -> list[dict]:
    """Measure, print the tables and return the goal rows (dicts: goal, measured, target, met).

    ``args`` is the namespace of :func:`parse_args` or a list of command-line arguments.
    """
    if not isinstance(args, argparse.Namespace):
        args = parse_args(args)
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device")
    docs = load_text(args)
    total_chars = sum(len(doc) for doc in docs)
    train_docs = prefix(docs, args.train_tokens)
    infer_docs = prefix(docs, args.infer_tokens)
    rows = rows_to_run(args)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), device {args.device}")
    print(f"# text: {'the file ' + str(args.text) if args.text else 'the embedded corpus repeated'}"
          f", {total_chars:,} characters in {len(docs)} document(s)")
    # compile the kernels (training and inference variants) before timing anything
    for row in rows:
        warm = prefix(docs, 4096)
        make_lm(args, row["estimator"]).fit(warm).log_likelihood(warm)
    times = {i: ([], []) for i in range(len(rows))}
    fitted = {}
    for _ in range(args.runs):
        for i, row in enumerate(rows):
            train_s, infer_s, fitted[i] = time_row(args, row, train_docs, infer_docs)
            times[i][0].append(train_s)
            times[i][1].append(infer_s)
    first = fitted[0]
    n_train, n_infer = n_targets(first, train_docs), n_targets(first, infer_docs)
    n_total = n_targets(first, docs)
    macs = {i: forward_macs_per_token(fitted[i]) for i in fitted}
    shape = macs[0][1]
    rates = matmul_rate(shape, args.device)
    rate = max(rates.values())
    print(f"# timed on the first {n_train:,} training and {n_infer:,} scoring tokens of the "
          f"{n_total:,}-token text; the epoch column scales the training rate to the whole text")
    print(f"# matmul rate at [{shape[0]}, {shape[1]}] x [{shape[1]}, {shape[2]}]: "
          + ", ".join(f"{name} {value / 1e9:.0f} GFLOP/s" for name, value in rates.items())
          + f"; the bound uses {rate / 1e9:.0f}")
    print(f"# medians of {args.runs} interleaved run(s)\n")

    results = []
    for i, row in enumerate(rows):
        train_rate = n_train / statistics.median(times[i][0])
        infer_rate = n_infer / statistics.median(times[i][1])
        macs_per_token = macs[i][0]
        bound = rate / (3 * 2 * macs_per_token)
        results.append(dict(row, train=train_rate, infer=infer_rate, macs=macs_per_token,
                            bound=bound, timesteps=fitted[i].module_.effective_timesteps))
    twins = {r["model"]: r for r in results if not r["spiking"]}
    table = []
    for r in results:
        twin = twins[r["model"]] if r["spiking"] else None
        r["vs_twin"] = twin["train"] / r["train"] if twin else None
        table.append([r["label"], r["backend"], f"{r['train']:,.0f}",
                      f"{n_total / r['train']:,.0f}", f"{r['infer']:,.0f}",
                      f"{r['macs'] / 1e6:.2f}", f"{r['bound']:,.0f}",
                      f"{100 * r['train'] / r['bound']:.0f}%",
                      "-" if r["vs_twin"] is None else f"{r['vs_twin']:.2f}x"])
    print("## training and inference\n")
    _table(["model", "LIF backend", "train tok/s", "epoch s (whole text)", "infer tok/s",
            "fwd MMAC/token", "bound train tok/s", "% of bound", "train time / twin"], table)

    default = results[0]
    goals = []
    if args.baseline is not None:
        speed = baseline_speedup(args)
        ratio = speed["this tree"] / speed["baseline"]
        print(f"\n## bench/lm.py's estimator row, {args.runs} interleaved run(s) each\n")
        _table(["tree", "training tok/s"],
               [[name, f"{value:,.0f}"] for name, value in speed.items()])
        goals.append(_goal("SpikeDecoderLM (bench/lm.py settings) training tok/s vs --baseline",
                           round(ratio, 2), ">= 3.0x", ratio >= 3.0))
    else:
        goals.append(_goal("SpikeDecoderLM (bench/lm.py settings) training tok/s vs --baseline",
                           None, ">= 3.0x (needs --baseline DIR)", False))
    limit = 1.2 * default["timesteps"]
    for r in results:
        if r["vs_twin"] is not None and r["goal"] and r["backend"] in ("cpu", "cupy"):
            goals.append(_goal(f"{r['label']}: training time per token / its twin's",
                               round(r["vs_twin"], 2), f"<= {limit:.1f}x (1.2 T)",
                               r["vs_twin"] <= 1.2 * r["timesteps"]))
    book = 3e6 / default["train"]  # a character is a token
    goals.append(_goal("a 3 MB book: one training epoch of the default model (s)", round(book),
                       "<= 300 s", book <= 300))
    print("\n## goals\n")
    _table(["goal", "measured", "target", "met"],
           [[g["goal"], "not measured" if g["measured"] is None else g["measured"], g["target"],
             "met" if g["met"] else "not met"] for g in goals])
    if args.profile:
        profile_step(args)
    return goals


def main(argv=None):
    run(parse_args(argv))


if __name__ == "__main__":
    main()
