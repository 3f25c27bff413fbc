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

import warnings

import torch

from ..neuron_config import BACKENDS, NeuronConfig
from . import cpu, cuda, torch_ref

__all__ = ["BACKENDS", "run_lif", "resolve_backend"]

_UNSUPPORTED = {
    "torch": lambda x, p: None,
    "cpu": cpu.unsupported_reason,
    "cupy": cuda.unsupported_reason,
}
_RUN = {"torch": torch_ref.lif_torch, "cpu": cpu.lif_cpu, "cupy": cuda.lif_cuda}


def _environment_reason(name: str, x: torch.Tensor) -> str | None:
    """Why fused backend ``name`` is not usable on this machine at all (not just for this input)."""
    if name == "cpu":
        return None if cpu.numba is not None else f"numba could not be imported ({cpu.NUMBA_ERROR!r})"
    return cuda.unavailable_reason(torch.cuda.current_device() if x.device.index is None
                                   else x.device.index)


def resolve_backend(x: torch.Tensor, p: NeuronConfig) -> str:
    """Return the concrete backend that runs ``x`` with ``p`` (``p.backend`` names the request).

    ``'auto'`` falls back to the torch reference when the fused backend cannot
    run this input (a dtype, a custom surrogate); when it is not usable on
    this machine at all (numba or CuPy missing or broken), the fallback is
    announced with a :class:`RuntimeWarning` giving the cause.

    Raises
    ------
    RuntimeError
        When an explicitly requested backend cannot run this input; the
        message gives the real cause.
    """
    backend = p.backend
    if backend == "auto":
        fused = "cupy" if x.device.type == "cuda" else "cpu"
        reason = _UNSUPPORTED[fused](x, p)
        if reason is None:
            return fused
        broken = _environment_reason(fused, x)
        if broken is not None:
            warnings.warn(f"backend='auto' runs the torch reference LIF (much slower): the "
                          f"{fused!r} backend is not usable here: {broken}", RuntimeWarning,
                          stacklevel=3)
        return "torch"
    reason = _UNSUPPORTED[backend](x, p)
    if reason is not None:
        raise RuntimeError(f"LIF backend {backend!r} cannot run this input: {reason}")
    return backend


def run_lif(x: torch.Tensor, p: NeuronConfig, return_v: bool = False):
    """Dispatch the multi-step LIF to the backend ``p.backend`` picks; returns ``(spikes, v or None)``."""
    return _RUN[resolve_backend(x, p)](x, p, return_v)
