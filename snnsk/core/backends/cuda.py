"""Fused multi-step LIF on CUDA: the ``cupy`` backend.

The kernels are the C++ templates of ``kernels/lif.cu`` (installed as package
data of ``snnsk.kernels``), compiled at run time by CuPy's NVRTC, so
``pip install snnsk[cuda]`` needs no CUDA compiler. Each option set is one
template instantiation, compiled on first use and then cached (in this process
per kernel and device, on disk by CuPy across processes).

* One thread per neuron walks the whole time loop, the membrane potential in a
  register. Training moves the ideal 6 elements per neuron and step: the
  forward reads ``x`` and writes the spikes and the pre-reset potential H,
  which is all the backward needs (plus one bit per step marking refractory
  steps, when there is a refractory period); the backward reads the spike
  gradient and H and writes the input gradient in one reverse pass. The
  potential sequence ``v`` is written only with ``return_v=True``.
* H is stored as ``u = H - threshold``, the surrogate's argument: in 16 bits it
  keeps its relative precision near the threshold, and its sign bit is exactly
  the forward's firing decision (rounding never flips a sign).
* float32, float16 and bfloat16 storage, float32 arithmetic. float32 spikes and
  potentials equal the ``torch`` backend's on the same device bit for bit (the
  kernel follows its operation order, including PyTorch's ``x * (1 / tau)``
  for a division by a scalar on CUDA). A 16-bit input gives the spikes and
  potentials (rounded) of the ``torch`` backend run in float32 on the same
  values; its gradients carry the 16-bit rounding of ``u`` and of the
  gradients themselves.
* Launched on PyTorch's current stream of the tensor's device, so it orders
  correctly with the surrounding PyTorch work and on any GPU of a multi-GPU
  machine. Non-contiguous inputs are copied to a contiguous layout first.

CuPy is imported only when a CUDA tensor reaches this backend: ``import
snnsk`` never needs it. :func:`unavailable_reason` says why the backend cannot
run (CuPy missing or broken, no CUDA device, no NVRTC).
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import math

import numpy as np
import torch

from ..neuron_config import NeuronConfig
from ._fused import SURROGATE_CODES, run_fused, surrogate_reason

KERNEL_FILE = "lif.cu"
# Storage dtype -> the kernel template's storage type.
STORAGE = {torch.float32: "float", torch.float16: "snnsk_half", torch.bfloat16: "snnsk_bf16"}
# Threads per block. N need not be a multiple: the last block's extra threads return at once.
BLOCK = 256
# No -arch: CuPy picks the device's architecture.
NVRTC_OPTIONS = ("--std=c++14",)


def forward_name(storage: str, hard: bool, decay_input: bool, refractory: bool, store_h: bool,
                 store_v: bool) -> str:
    """The C++ name of the forward kernel for one option set (see ``kernels/lif.cu``)."""
    flags = ", ".join(str(int(f)) for f in (hard, decay_input, refractory, store_h, store_v))
    return f"snnsk_lif_forward<{storage}, {flags}>"


def backward_name(storage: str, surrogate_code: int, hard: bool, refractory: bool,
                  has_grad_s: bool, has_grad_v: bool) -> str:
    """The C++ name of the backward kernel for one option set (see ``kernels/lif.cu``)."""
    flags = ", ".join(str(int(f)) for f in (hard, refractory, has_grad_s, has_grad_v))
    return f"snnsk_lif_backward<{storage}, {surrogate_code}, {flags}>"


def kernel_names() -> list[str]:
    """Every kernel this backend can launch (the nvcc build test compiles them all)."""
    names = []
    for storage in STORAGE.values():
        for flags in itertools.product((False, True), repeat=5):
            names.append(forward_name(storage, *flags))
        for code in SURROGATE_CODES.values():
            for hard, refractory, has_grad_s, has_grad_v in itertools.product((False, True), repeat=4):
                if has_grad_s or has_grad_v:  # with neither, the backward returns no gradient
                    names.append(backward_name(storage, code, hard, refractory, has_grad_s,
                                               has_grad_v))
    return names


def kernel_source() -> str:
    """The CUDA source of the kernels, read from the installed ``snnsk.kernels`` package."""
    return importlib.resources.files("snnsk.kernels").joinpath(KERNEL_FILE).read_text()


# ---------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------


def _cupy():
    import cupy

    return cupy


@functools.lru_cache(maxsize=None)
def unavailable_reason(device_index: int) -> str | None:
    """Why CuPy cannot run the kernels on CUDA device ``device_index`` (``None`` when it can).

    The reason is the real cause: CuPy not installed, installed but failing to
    import (the import error), no usable CUDA driver or device, or no NVRTC
    library to compile the kernels with. Cached per device; call
    ``unavailable_reason.cache_clear()`` after changing the environment.
    """
    if torch.version.hip:
        return "the kernels are CUDA code and this PyTorch is a ROCm build"
    try:
        cupy = _cupy()
    except ModuleNotFoundError as exc:
        return (f"CuPy is not installed ({exc}); install it with pip install 'snnsk[cuda]' "
                "('snnsk[cuda13]' with a CUDA 13 PyTorch)")
    except Exception as exc:  # installed but broken: a missing library, a version clash...
        return f"CuPy is installed but could not be imported: {type(exc).__name__}: {exc}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy cannot use a CUDA device: {type(exc).__name__}: {exc}"
    if count == 0:
        return "CuPy sees no CUDA device"
    if device_index >= count:
        return f"CuPy sees {count} CUDA device(s), not cuda:{device_index}"
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as exc:
        return (f"CuPy cannot load NVRTC, the run-time CUDA compiler the kernels need: "
                f"{type(exc).__name__}: {exc} (pip install 'snnsk[cuda]' installs it as "
                "nvidia-cuda-nvrtc-cu12, 'snnsk[cuda13]' as nvidia-cuda-nvrtc)")
    return None


def unsupported_reason(x: torch.Tensor, p: NeuronConfig) -> str | None:
    """Why this backend cannot run ``x`` with ``p`` (``None`` when it can)."""
    if x.device.type != "cuda":
        return f"the 'cupy' backend runs on CUDA tensors, got a tensor on {x.device}"
    if x.dtype not in STORAGE:
        return f"the 'cupy' backend supports float32, float16 and bfloat16, got {x.dtype}"
    reason = surrogate_reason("cupy", p)
    if reason is not None:
        return reason
    return unavailable_reason(x.device.index)


# ---------------------------------------------------------------------------
# Compilation and launch
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _kernel(name: str):
    """The compiled kernel ``name`` (a CuPy RawKernel; it compiles again per device itself)."""
    cupy = _cupy()
    module = cupy.RawModule(code=kernel_source(), options=NVRTC_OPTIONS, name_expressions=(name,))
    try:
        return module.get_function(name)
    except Exception as exc:
        raise RuntimeError(f"compiling {KERNEL_FILE} ({name}) with NVRTC failed: {exc}") from exc


def _launch(name: str, n_threads: int, args: tuple, device: torch.device):
    """Launch kernel ``name`` over ``n_threads`` threads on ``device``'s current PyTorch stream.

    ``args`` are numpy scalars of the kernel parameters' exact types (pointers
    as ``uint64``): CuPy would pass a Python float as a double.
    """
    cupy = _cupy()
    with cupy.cuda.Device(device.index):
        kernel = _kernel(name)
        stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream)
        kernel((math.ceil(n_threads / BLOCK),), (BLOCK,), args, stream=stream)


def _ptr(t: torch.Tensor | None) -> np.uint64:
    return np.uint64(0 if t is None else t.data_ptr())


def _forward_scalars(p: NeuronConfig) -> tuple:
    # 1 / tau in float32, as PyTorch computes a division by a scalar on CUDA
    inv_tau = np.float32(1.0) / np.float32(p.tau)
    return np.float32(p.threshold), np.float32(p.v_reset), inv_tau, np.int32(p.refractory)


def _backward_scalars(p: NeuronConfig) -> tuple:
    alpha = p.surrogate.alpha
    aux = {"atan": math.pi / 2 * alpha, "triangle": alpha * alpha}.get(p.surrogate.name, 0.0)
    dh_dx = 1.0 / p.tau if p.decay_input else 1.0
    return (np.float32(p.threshold), np.float32(p.v_reset), np.float32(alpha), np.float32(aux),
            np.float32(dh_dx), np.float32(1.0 - 1.0 / p.tau),
            np.float32(0.0 if p.detach_reset else 1.0))


def _run_forward(x: torch.Tensor, p: NeuronConfig, store_h: bool, return_v: bool):
    """Run the forward kernel on a contiguous ``[T, N]`` ``x``; returns spikes, u, held, v.

    ``u`` is the pre-reset potential minus the threshold (only with
    ``store_h``); ``held`` (int32 ``[ceil(T / 32), N]``, bit ``t % 32`` of word ``t // 32``:
    step ``t`` was refractory) exists only with ``store_h`` and a refractory
    period. Outputs not stored are ``None``. Every buffer is fully written by
    the kernel, so none is zero-filled.
    """
    T, N = x.shape
    refractory = p.refractory > 0
    spikes = torch.empty_like(x)
    u = torch.empty_like(x) if store_h else None
    held = x.new_empty(((T + 31) // 32, N), dtype=torch.int32) if store_h and refractory else None
    v = torch.empty_like(x) if return_v else None
    if N:
        name = forward_name(STORAGE[x.dtype], p.hard_reset, p.decay_input, refractory, store_h,
                            return_v)
        _launch(name, N, (_ptr(x), _ptr(spikes), _ptr(u), _ptr(held), _ptr(v), np.int32(T),
                          np.int64(N), *_forward_scalars(p)), x.device)
    return spikes, u, held, v


def _run_backward(grad_s, grad_v, u: torch.Tensor, held, p: NeuronConfig) -> torch.Tensor:
    """Run the backward kernel; ``grad_s`` or ``grad_v`` may be ``None`` (not both)."""
    T, N = u.shape
    grad_x = torch.empty_like(u)
    if N:
        name = backward_name(STORAGE[u.dtype], SURROGATE_CODES[p.surrogate.name], p.hard_reset,
                             p.refractory > 0, grad_s is not None, grad_v is not None)
        _launch(name, N, (_ptr(grad_s), _ptr(grad_v), _ptr(u), _ptr(held), _ptr(grad_x),
                          np.int32(T), np.int64(N), *_backward_scalars(p)), u.device)
    return grad_x


class LIFFunction(torch.autograd.Function):
    """Autograd wrapper around the fused CUDA kernels (input ``[T, N]``, contiguous)."""

    @staticmethod
    def forward(ctx, x, p: NeuronConfig, return_v: bool):
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, never zeros
        spikes, u, held, v = _run_forward(x, p, True, return_v)
        ctx.p = p
        ctx.save_for_backward(u, held)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_s, grad_v):
        if grad_s is None and grad_v is None:
            return None, None, None
        u, held = ctx.saved_tensors
        grad_s = grad_s.contiguous() if grad_s is not None else None
        grad_v = grad_v.contiguous() if grad_v is not None else None
        return _run_backward(grad_s, grad_v, u, held, ctx.p), None, None


def lif_cuda(x: torch.Tensor, p: NeuronConfig, return_v: bool = False):
    """Fused LIF over a CUDA tensor ``x`` of shape ``[T, ...]``; returns ``(spikes, v or None)``."""
    return run_fused(x, p, return_v, LIFFunction, _run_forward)
