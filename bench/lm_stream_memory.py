"""SpikeDecoderLM fitted from a text file: peak memory of a stream against the text as a list.

A text file of ``--mb`` megabytes (Python's help text from ``pydoc_data``,
repeated) is written to a temporary folder. Each fit runs in a fresh process
and its peak resident memory (``ru_maxrss``) is reported:

* ``baseline``: the same tiny model fitted on one short document (imports,
  model and optimizer: what every fit pays);
* ``stream``: ``fit(TextFiles(path))``: one pass over the file for the
  vocabulary, then training reads it again, a paragraph at a time;
* ``list``: ``fit(load_text(path))``: the whole text as strings, then every
  training window as one array.

Training stops after ``--steps`` batches (a callback interrupts the epoch),
so the run takes seconds; the vocabulary pass and, for the list, the windows
of the whole file come first all the same.

Usage::

    python bench/lm_stream_memory.py            # a 64 MB file (about a minute)
    python bench/lm_stream_memory.py --quick    # a 4 MB file, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = dict(context_length=64, embed_dim=16, heads=2, depth=1, timesteps=1, max_epochs=1,
             batch_size=32, random_state=0)


def write_text(path: Path, megabytes: float) -> int:
    """Write Python's help topics again and again, paragraphs between blank lines; the bytes."""
    from pydoc_data.topics import topics

    block = "\n\n".join(topics[key].strip() for key in sorted(topics)) + "\n\n"
    block = block.encode("ascii", "replace")
    target = int(megabytes * 2**20)
    with open(path, "wb") as f:
        written = 0
        while written < target:
            f.write(block)
            written += len(block)
    return written


def fit(kind: str, path: str, steps: int) -> dict:
    """One fit, in this process; its peak RSS in MiB and its time."""
    from skorch.callbacks import Callback

    from snnsk import SpikeDecoderLM
    from snnsk.datasets import load_text
    from snnsk.text import TextFiles

    class Stop(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training and len(net.history[-1, "batches"]) >= steps:
                raise KeyboardInterrupt  # skorch ends the fit cleanly

    start = time.perf_counter()
    source = {"baseline": lambda: ["a short document " * 20],
              "stream": lambda: TextFiles(path),
              "list": lambda: load_text(path)}[kind]()
    lm = SpikeDecoderLM(**MODEL, callbacks=[Stop()]).fit(source)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"kind": kind, "peak_mib": round(peak, 1), "seconds": round(seconds, 1),
            "vocab": int(lm.tokenizer_.vocab_size_), "batches": len(lm.history_[-1, "batches"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=64.0, help="size of the text file")
    parser.add_argument("--steps", type=int, default=20, help="training batches per fit")
    parser.add_argument("--quick", action="store_true", help="a 4 MB file")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        print(json.dumps(fit(args._child[0], args._child[1], args.steps)))
        return
    megabytes = 4.0 if args.quick else args.mb
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "text.txt")
        size = write_text(path, megabytes)
        print(f"text file: {size / 2**20:.1f} MiB; {args.steps} training batches per fit")
        results = {}
        for kind in ("baseline", "stream", "list"):
            out = subprocess.run([sys.executable, __file__, "--steps", str(args.steps),
                                  "--_child", kind, str(path)], capture_output=True, text=True,
                                 check=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    print("| source | peak RSS (MiB) | above baseline (MiB) | time (s) |")
    print("|---|---|---|---|")
    base = results["baseline"]["peak_mib"]
    for kind, r in results.items():
        print(f"| {kind} | {r['peak_mib']:.0f} | {r['peak_mib'] - base:.0f} | {r['seconds']:.1f} |")
    stream, listed = results["stream"]["peak_mib"], results["list"]["peak_mib"]
    print(f"list / stream peak: {listed / stream:.1f}x; above baseline: "
          f"{(listed - base) / max(stream - base, 1.0):.0f}x")
    assert results["stream"]["vocab"] == results["list"]["vocab"]


if __name__ == "__main__":
    main()
