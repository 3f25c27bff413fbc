"""Compile every variant of the numba LIF kernels into numba's disk cache, in two processes.

The ``cpu`` backend compiles one kernel per option set on first use (about two
seconds each; 128 in all), and numba caches them on disk next to the module.
A fresh checkout's test suite meets most of them, one after the other, in a
single process. This module compiles them beforehand: the forward variants in
one process and the backward variants in another, each running its kernels
once on tiny inputs with exactly the argument types of the real calls, so the
cache holds what the backend will look up. The two processes write different
cache index files (one per kernel function), so they never race on one.

Usage::

    python -m snnsk.core.backends.cpu_warmup            # both halves, side by side
    python -m snnsk.core.backends.cpu_warmup forward    # one half in this process
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import numpy as np

DTYPES = (np.float32, np.float64)
_T, _N = 3, 4


def compile_forward() -> int:
    """Run every forward variant once; returns how many."""
    from . import cpu
    from ..neuron_config import NeuronConfig

    count = 0
    for dtype, flags in itertools.product(DTYPES, itertools.product((False, True), repeat=5)):
        hard, decay_input, refractory, store_h, store_v = flags
        p = NeuronConfig(reset="hard" if hard else "soft", decay_input=decay_input,
                        refractory=1 if refractory else 0)
        full = lambda d=dtype: np.zeros((_T, _N), d)  # noqa: E731
        # the backend's own launcher, so the argument types are those of real calls
        cpu.forward_into(np.ones((_T, _N), dtype), full(), full() if store_h else None,
                         full(np.uint8) if store_h and refractory else None,
                         full() if store_v else None, p)
        count += 1
    return count


def compile_backward() -> int:
    """Run every backward variant once; returns how many."""
    from . import cpu
    from ..neuron_config import NeuronConfig

    count = 0
    for dtype, surrogate, hard, refractory, has_grad_v in itertools.product(
            DTYPES, cpu.SURROGATE_CODES, (False, True), (False, True), (False, True)):
        p = NeuronConfig(reset="hard" if hard else "soft", refractory=1 if refractory else 0,
                        surrogate=surrogate)
        full = lambda d=dtype: np.zeros((_T, _N), d)  # noqa: E731
        cpu.backward_into(full(), full() if has_grad_v else None, full(),
                          full(np.uint8) if refractory else None, full(), p)
        count += 1
    return count


HALVES = {"forward": compile_forward, "backward": compile_backward}


def main(argv: list[str]) -> int:
    from . import cpu

    if cpu.numba is None:  # the suite reports the cause; nothing to compile
        print(f"numba is not usable ({cpu.NUMBA_ERROR!r}): no kernels compiled")
        return 0
    if argv:
        (half,) = argv
        start = time.perf_counter()
        count = HALVES[half]()
        print(f"{count} {half} kernels ready in {time.perf_counter() - start:.1f} s")
        return 0
    workers = [subprocess.Popen([sys.executable, "-m", "snnsk.core.backends.cpu_warmup", half])
               for half in HALVES]
    return max(worker.wait() for worker in workers)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
