"""Run the CUDA kernels of ``kernels/lif.cu`` on the CPU, for tests on machines without a GPU.

The kernel source is plain C++ apart from a few CUDA keywords and intrinsics;
:data:`SHIM` defines them for a host compiler, and a generated wrapper launches
a kernel by looping over the blocks and threads of its grid (the kernels use
no shared memory and no synchronisation, so a sequential loop is an exact
model). :func:`host_launcher` returns a drop-in replacement for
``snnsk.core.backends.cuda._launch``, so the whole Python side of the backend
(buffers, argument order, scalars, the autograd function) runs as on a GPU.

What it cannot check: the device-only code paths (the PTX conversion
instructions, ``expf``'s device accuracy) and anything about memory ordering
or speed. The GPU tests cover those.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from snnsk.core.backends import cuda

SHIM = r"""
#include <math.h>
#include <stdint.h>
#include <string.h>
#define __global__
#define __device__
#define __forceinline__ inline
struct snnsk_host_dim3 { unsigned int x, y, z; };
static snnsk_host_dim3 threadIdx, blockIdx, blockDim;
static inline float __uint_as_float(unsigned int u) { float f; memcpy(&f, &u, sizeof f); return f; }
static inline unsigned int __float_as_uint(float f) { unsigned int u; memcpy(&u, &f, sizeof u); return u; }
// the intrinsics only forbid FMA contraction, which -ffp-contract=off does for the host
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
"""

LAUNCH = r"""
template <typename K, typename... A>
static void snnsk_host_launch(K kernel, long long n_threads, unsigned int block, A... args)
{
    blockDim.x = block;
    const long long grid = (n_threads + block - 1) / block;
    for (long long b = 0; b < grid; ++b) {
        blockIdx.x = (unsigned int)b;
        for (unsigned int t = 0; t < block; ++t) {
            threadIdx.x = t;
            kernel(args...);
        }
    }
}
"""

FORWARD_ARGS = ("uint64_t x, uint64_t s, uint64_t h, uint64_t held, uint64_t v, int T, long long N, "
                "float threshold, float v_reset, float inv_tau, int refractory")
BACKWARD_ARGS = ("uint64_t gs, uint64_t gv, uint64_t h, uint64_t held, uint64_t gx, int T, long long N, "
                 "float threshold, float v_reset, float alpha, float aux, float dh_dx, float decay, "
                 "float through_reset")
_C = ctypes
FORWARD_TYPES = [_C.c_uint64] * 5 + [_C.c_int, _C.c_longlong] + [_C.c_float] * 3 + [_C.c_int]
BACKWARD_TYPES = [_C.c_uint64] * 5 + [_C.c_int, _C.c_longlong] + [_C.c_float] * 7


def _storage(name: str) -> str:
    return name[name.index("<") + 1:name.index(",")]


def _case(index: int, name: str) -> str:
    io = _storage(name)
    if name.startswith("snnsk_lif_forward"):
        pointers = (f"(const {io}*)x, ({io}*)s, ({io}*)h, (unsigned int*)held, ({io}*)v, "
                    "T, N, threshold, v_reset, inv_tau, refractory")
    else:
        pointers = (f"(const {io}*)gs, (const {io}*)gv, (const {io}*)h, (const unsigned int*)held, "
                    f"({io}*)gx, T, N, threshold, v_reset, alpha, aux, dh_dx, decay, through_reset")
    return f"    case {index}: snnsk_host_launch(&{name}, n_threads, block, {pointers}); return 0;\n"


def harness_source(names: list[str]) -> str:
    """C++ source: the shim, the kernels and one extern "C" launcher per kernel kind."""
    parts = [SHIM, cuda.kernel_source(), LAUNCH]
    for kind, args in (("forward", FORWARD_ARGS), ("backward", BACKWARD_ARGS)):
        cases = "".join(_case(i, n) for i, n in enumerate(names) if n.startswith(f"snnsk_lif_{kind}"))
        parts.append(f'extern "C" int snnsk_host_{kind}(int index, long long n_threads, unsigned int block, '
                     f"{args})\n{{\n    switch (index) {{\n{cases}    }}\n    return -1;\n}}\n")
    return "".join(parts)


def compiler() -> str | None:
    """A host C++ compiler, or None."""
    return shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def build(names: list[str], directory: Path) -> ctypes.CDLL:
    """Compile the kernels ``names`` for the host into a shared library in ``directory``."""
    source = directory / "lif_host.cpp"
    source.write_text(harness_source(names))
    library = directory / "lif_host.so"
    # -ffp-contract=off: no FMA contraction, as the _rn intrinsics guarantee on the device
    subprocess.run([compiler(), "-std=c++14", "-O1", "-ffp-contract=off", "-shared", "-fPIC",
                    "-o", str(library), str(source)], check=True, capture_output=True, text=True)
    lib = ctypes.CDLL(str(library))
    lib.snnsk_host_forward.argtypes = [_C.c_int, _C.c_longlong, _C.c_uint] + FORWARD_TYPES
    lib.snnsk_host_backward.argtypes = [_C.c_int, _C.c_longlong, _C.c_uint] + BACKWARD_TYPES
    return lib


def host_launcher(lib: ctypes.CDLL, names: list[str], launched: set | None = None):
    """A replacement for ``cuda._launch`` that runs the host build ``lib`` (built from ``names``).

    ``launched`` collects the names of the kernels run, if given.
    """
    index = {name: i for i, name in enumerate(names)}

    def launch(name, n_threads, args, device):
        assert device.type == "cpu", device
        if name not in index:
            raise KeyError(f"{name} was not built into the host harness")
        values = [int(a) if isinstance(a, (np.integer, int)) else float(a) for a in args]
        run = lib.snnsk_host_forward if name.startswith("snnsk_lif_forward") else lib.snnsk_host_backward
        if run(index[name], n_threads, cuda.BLOCK, *values) != 0:
            raise RuntimeError(f"host harness has no case for {name}")
        if launched is not None:
            launched.add(name)

    return launch
