"""LIF backends behind one interface.

Each backend exposes ``run(x, params, return_v) -> (spikes, v or None)`` for an
input ``x`` of shape ``[T, ...]`` and a reason it cannot run a given input
(``None`` when it can):

* ``torch`` — the readable reference, any device, dtype and surrogate;
* ``cpu`` — fused numba kernel, CPU float32/float64, built-in surrogates;
* ``cupy`` — fused CUDA kernels (``kernels/lif.cu``, compiled by CuPy), CUDA
  float32/float16/bfloat16 tensors, built-in surrogates.

``auto`` picks the fastest backend able to run the input: ``cpu`` then
``torch`` on the CPU, ``cupy`` then ``torch`` on CUDA (so a machine without
CuPy still runs, on the reference). CuPy is imported only when a CUDA tensor
asks for the ``cupy`` backend.
"""

from __future__ import annotations

import torch

from . import cpu, cuda, torch_ref
from .params import LIFParams, make_params

__all__ = ["BACKENDS", "LIFParams", "make_params", "run_lif", "resolve_backend"]

BACKENDS = ("auto", "torch", "cpu", "cupy")

_UNSUPPORTED = {
    "torch": lambda x, p: None,
    "cpu": cpu.unsupported_reason,
    "cupy": cuda.unsupported_reason,
}
_RUN = {"torch": torch_ref.lif_torch, "cpu": cpu.lif_cpu, "cupy": cuda.lif_cuda}


def resolve_backend(backend: str, x: torch.Tensor, p: LIFParams) -> str:
    """Return the concrete backend that runs ``x``.

    Raises
    ------
    ValueError
        For an unknown name.
    RuntimeError
        When an explicitly requested backend cannot run this input; the
        message gives the real cause.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        preference = ("cupy", "torch") if x.device.type == "cuda" else ("cpu", "torch")
        for name in preference:
            if _UNSUPPORTED[name](x, p) is None:
                return name
        return "torch"
    reason = _UNSUPPORTED[backend](x, p)
    if reason is not None:
        raise RuntimeError(f"LIF backend {backend!r} cannot run this input: {reason}")
    return backend


def run_lif(x: torch.Tensor, p: LIFParams, backend: str = "auto", return_v: bool = False):
    """Dispatch the multi-step LIF to a backend; returns ``(spikes, v or None)``."""
    return _RUN[resolve_backend(backend, x, p)](x, p, return_v)
