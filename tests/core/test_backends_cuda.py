"""The 'cupy' backend: kernels/lif.cu and its Python side.

On every machine:

* every kernel variant the backend can launch compiles with nvcc for sm_80 and
  sm_90 (skipped when nvcc is missing);
* the kernels, built for the host by a C++ compiler (tests/core/cuda_host.py), run
  through the backend's real Python side on CPU tensors and match the torch
  reference: spikes and potentials exactly, gradients within the bounds below;
* the error paths: a CPU tensor, CuPy missing or broken, no device.

On a GPU with CuPy (``pytest -m gpu``; skipped with the reason elsewhere): the
same comparison on the device over T in {1, 2, 8, 33} and N odd, even and not
a multiple of the block size, every option combination and storage dtype; a
small network trained a few steps with the 'cupy' and 'torch' backends ends
with the same weights; streams and devices.

16-bit inputs are computed in float32 by the kernels, so their reference is
the torch backend run in float32 on the same (16-bit) values: spikes must be
identical, potentials identical after rounding, and gradients, which the
kernel reads back from a 16-bit H and writes in 16 bits, within HALF_TOLERANCE.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import cuda_host
from snnsk.core.backends import cuda, resolve_backend, run_lif, torch_ref
from snnsk.core.neurons import NeuronConfig
from snnsk.core.neurons import LIF, lif
from snnsk.core.surrogate import ATan

# ---------------------------------------------------------------------------
# The comparison shared by the host build and the GPU
# ---------------------------------------------------------------------------

SURROGATE_NAMES = ["atan", "sigmoid", "fast_sigmoid", "triangle"]
OPTION_SETS = list(itertools.product(["hard", "soft"], SURROGATE_NAMES, [0, 2], [False, True],
                                     [True, False]))
OPTION_IDS = ["-".join(map(str, o)) for o in OPTION_SETS]
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
T_VALUES = (1, 2, 8, 33)
LOSS_MODES = ("s", "s+v", "sv", "v")
FLOAT32_TOLERANCE = dict(rtol=1e-5, atol=1e-6)
# (normwise relative error, largest error relative to the largest gradient) for 16-bit
# gradients against the float32 reference. u = H - threshold is stored with 11 (float16) or
# 8 (bfloat16) significant bits and the surrogate is evaluated on it: where the surrogate is
# steep but small (the triangle's tail: slope alpha^2) that rounding is a few percent of
# the element. Measured worst on the host build over this file's cases: 2.0e-3 / 2.6e-3
# (float16), 1.8e-2 / 2.8e-2 (bfloat16); the bounds leave room for the GPU cases' other
# sizes and tau.
HALF_TOLERANCE = {torch.float16: (1e-2, 2e-2), torch.bfloat16: (6e-2, 1e-1)}


def _params(index, dyadic_tau=False):
    """LIF parameters for option set ``index``; scalars rotate over three settings.

    With ``dyadic_tau``, 1/tau is exact, so a reference computing ``x / tau``
    (torch on the CPU) agrees bit for bit with the kernels' ``x * (1 / tau)``
    (as torch computes it on CUDA).
    """
    scalars = [(2.0, 1.0, 0.0, None), (3.0, 0.7, -0.3, 1.5), (1.5, 1.2, 0.2, 3.0)]
    if dyadic_tau:
        scalars = [(2.0, 1.0, 0.0, None), (4.0, 0.7, -0.3, 1.5), (1.0, 1.2, 0.2, 3.0)]
    tau, threshold, v_reset, alpha = scalars[index % len(scalars)]
    reset, surrogate, refractory, detach_reset, decay_input = OPTION_SETS[index]
    return NeuronConfig(tau=tau, threshold=threshold, reset=reset, v_reset=v_reset,
                       refractory=refractory, surrogate=surrogate, alpha=alpha,
                       decay_input=decay_input, detach_reset=detach_reset)


def _input(shape, p, dtype, seed, device="cpu"):
    """Random input that makes a neuron fire at roughly a third of its steps."""
    g = torch.Generator().manual_seed(seed)
    scale = (p.threshold - p.v_reset) * (1.0 if p.decay_input else 1.0 / p.tau)
    x = scale * (0.9 + 0.9 * torch.randn(shape, generator=g, dtype=torch.float64))
    return x.to(device=device, dtype=dtype)


def _grads(run, x, p, mode, weights):
    """Spikes, v and dL/dx of ``run(x, p, return_v)`` for a loss on the spikes and/or v.

    mode: 's' (spikes, v not returned), 's+v' (v returned but unused), 'sv' (both), 'v'.
    """
    x = x.detach().clone().requires_grad_(True)
    s, v = run(x, p, mode != "s")
    loss = (s * weights[0]).sum() if "s" in mode else 0
    if mode in ("sv", "v"):
        loss = loss + (v * weights[1]).sum()
    (gx,) = torch.autograd.grad(loss, x)
    return s, v, gx


def _assert_gradient_close(g, g_ref, dtype, where):
    if dtype == torch.float32:
        torch.testing.assert_close(g, g_ref, **FLOAT32_TOLERANCE, msg=lambda m: f"{where}: {m}")
        return
    norm_tol, max_tol = HALF_TOLERANCE[dtype]
    diff = g.float() - g_ref
    scale = g_ref.abs().max().clamp_min(1e-30)
    normwise = (diff.norm() / g_ref.norm().clamp_min(1e-30)).item()
    largest = (diff.abs().max() / scale).item()
    assert normwise <= norm_tol and largest <= max_tol, (
        f"{where}: {dtype} gradient error {normwise:.2e} normwise (bound {norm_tol:.0e}), "
        f"{largest:.2e} at worst relative to the largest (bound {max_tol:.0e})")


def check_against_reference(run, x, p, where):
    """``run`` (a backend's ``(x, p, return_v) -> (s, v)``) against the torch reference.

    float32: the reference runs on ``x`` itself (on the same device, so the
    same division rule). 16-bit: on ``x`` in float32 (see the module docstring).
    """
    dtype = x.dtype
    g = torch.Generator().manual_seed(x.numel())
    weights = [torch.randn(x.shape, generator=g).to(device=x.device, dtype=dtype) for _ in range(2)]
    for mode in LOSS_MODES:
        here = f"{where} loss={mode}"
        s_ref, v_ref, g_ref = _grads(torch_ref.lif_torch, x.float(), p, mode,
                                     [w.float() for w in weights])
        s, v, gx = _grads(run, x, p, mode, weights)
        assert s.dtype == dtype and s.shape == x.shape and gx.dtype == dtype, here
        assert torch.equal(s.float(), s_ref), f"spikes differ ({here})"
        if mode != "s":
            assert torch.equal(v, v_ref.to(dtype)), f"membrane potentials differ ({here})"
        else:
            assert v is None
        _assert_gradient_close(gx, g_ref, dtype, here)
    return s_ref


# ---------------------------------------------------------------------------
# nvcc builds every variant
# ---------------------------------------------------------------------------

ARCHS = ("sm_80", "sm_90")


def _nvcc():
    found = shutil.which("nvcc")
    if found:
        return found
    home = Path(os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda")
    return str(home / "bin" / "nvcc") if (home / "bin" / "nvcc").is_file() else None


def instantiation_source(names) -> str:
    """The kernel source plus a table taking the address of every kernel in ``names``.

    Taking a template kernel's address is what instantiates it, exactly as
    NVRTC does for CuPy's name expressions.
    """
    table = ",\n".join(f"    (void*)&{name}" for name in names)
    return cuda.kernel_source() + f"\nvoid* snnsk_lif_instances[] = {{\n{table}\n}};\n"


def test_every_kernel_variant_compiles_with_nvcc_for_sm80_and_sm90(tmp_path):
    nvcc = _nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found on PATH or in $CUDA_HOME/bin: the CUDA build check needs it")
    names = cuda.kernel_names()
    assert len(names) == len(set(names)) == 3 * (2**5 + 4 * 12)
    source = tmp_path / "lif_all.cu"
    source.write_text(instantiation_source(names))
    builds = {}
    for arch in ARCHS:  # one compiler per architecture, side by side
        cubin = tmp_path / f"lif_{arch}.cubin"
        # the language standard CuPy compiles with; warnings are errors
        cmd = [nvcc, "-std=c++14", f"-arch={arch}", "-cubin", "-Werror", "all-warnings",
               "-o", str(cubin), str(source)]
        builds[arch] = cmd, cubin, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                    stderr=subprocess.STDOUT, text=True)
    for arch, (cmd, cubin, build) in builds.items():
        output, _ = build.communicate()
        assert build.returncode == 0, f"{' '.join(cmd)}\n{output}"
        symbols = set(re.findall(rb"_Z\d+snnsk_lif_(?:forward|backward)I[0-9A-Za-z_]+",
                                 cubin.read_bytes()))
        assert len(symbols) == len(names), f"{arch}: {len(symbols)} kernels in the cubin"


def _nvrtc():
    try:
        from cupy.cuda import nvrtc

        nvrtc.getVersion()
    except Exception as exc:
        pytest.skip(f"CuPy's NVRTC is not usable here ({type(exc).__name__}: {exc})")
    return nvrtc


@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_nvrtc_compiles_every_name_expression(arch):
    # what CuPy does at run time (no GPU needed): the source, the backend's options and the
    # kernel names as name expressions, each lowered to its own symbol
    nvrtc = _nvrtc()
    names = cuda.kernel_names()
    program = nvrtc.createProgram(cuda.kernel_source(), cuda.KERNEL_FILE, (), ())
    try:
        for name in names:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, (*cuda.NVRTC_OPTIONS, f"-arch={arch}"))
        except Exception as exc:
            pytest.fail(f"{exc}\n{nvrtc.getProgramLog(program)}")
        assert nvrtc.getProgramLog(program).strip() == ""  # no warnings either
        assert len({nvrtc.getLoweredName(program, name) for name in names}) == len(names)
    finally:
        nvrtc.destroyProgram(program)


# ---------------------------------------------------------------------------
# The kernels built for the host, through the backend's Python side
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_library(tmp_path_factory):
    if cuda_host.compiler() is None:
        pytest.skip("no host C++ compiler (g++, c++ or clang++): cannot build the kernels for the CPU")
    names = cuda.kernel_names()
    return cuda_host.build(names, tmp_path_factory.mktemp("lif_host")), names


@pytest.fixture
def host_launched(host_library, monkeypatch):
    """Route the backend's launches to the host build; the set of kernels launched.

    A block of 64 threads makes the inputs below span several blocks, the last one partial.
    """
    lib, names = host_library
    launched = set()
    monkeypatch.setattr(cuda, "_launch", cuda_host.host_launcher(lib, names, launched))
    monkeypatch.setattr(cuda, "BLOCK", 64)
    return launched


def _host_run(x, p, return_v):
    return cuda.lif_cuda(x, p, return_v)


@pytest.mark.parametrize("dtype", list(DTYPES.values()), ids=list(DTYPES))
@pytest.mark.parametrize("index", range(len(OPTION_SETS)), ids=OPTION_IDS)
def test_host_built_kernels_match_torch_reference(host_launched, index, dtype):
    p = _params(index, dyadic_tau=True)
    for T, shape in itertools.product(T_VALUES, [(37,), (2, 150)]):  # N = 37, 300 (block 64)
        x = _input((T, *shape), p, dtype, seed=100 * index + T)
        s_ref = check_against_reference(_host_run, x, p, f"T={T} shape={shape}")
        if T == 33:  # the input exercises both outcomes
            assert 0.05 < s_ref.mean().item() < 0.95


def test_host_built_kernels_launch_only_what_is_needed(host_launched):
    p = NeuronConfig(refractory=2)
    x = _input((4, 10), p, torch.float32, seed=1)
    with torch.no_grad():
        _host_run(x, p, False)
    assert host_launched == {"snnsk_lif_forward<float, 1, 1, 1, 0, 0>"}  # no H, no V
    host_launched.clear()
    xg = x.clone().requires_grad_(True)
    s, v = _host_run(xg, p, True)
    v.sum().backward()  # the spikes get no gradient: none is materialised
    assert host_launched == {"snnsk_lif_forward<float, 1, 1, 1, 1, 1>",
                                     "snnsk_lif_backward<float, 0, 1, 1, 0, 1>"}


def test_host_built_kernels_on_non_contiguous_input_and_empty_neurons(host_launched):
    p = NeuronConfig(reset="soft", refractory=1)
    x = _input((8, 37, 5), p, torch.float32, seed=3).transpose(1, 2)
    assert not x.is_contiguous()
    s = check_against_reference(_host_run, x, p, "non-contiguous")
    assert s.shape == x.shape
    empty = torch.zeros((3, 0, 4), requires_grad=True)
    s, _ = _host_run(empty, p, False)
    s.sum().backward()
    assert s.shape == empty.shape and empty.grad.shape == empty.shape


def test_host_built_kernels_store_held_steps_as_bits(host_launched, monkeypatch):
    # T = 70 spans three 32-step words of the held mask; a refractory neuron ignores a
    # huge input on its held steps
    p = NeuronConfig(refractory=3)
    saved = {}
    forward = cuda._run_forward

    def spy(x, p, store_h, return_v):
        out = forward(x, p, store_h, return_v)
        saved["held"] = out[2]
        return out

    monkeypatch.setattr(cuda, "_run_forward", spy)
    x = torch.full((70, 3), 5.0)
    check_against_reference(_host_run, x, p, "held bits")
    held = saved["held"]
    assert held.shape == (3, 3) and held.dtype == torch.int32
    bits = [(int(held[t // 32, 0]) >> (t % 32)) & 1 for t in range(70)]
    assert bits == [0, 1, 1, 1] * 17 + [0, 1]  # fire, then three held steps


def _rounding_probes(target):
    """float32 values that exercise rounding to ``target``: every finite value of it, each
    midpoint between neighbours (a tie) and the float32 values either side of each midpoint,
    plus the overflow boundary."""
    every = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(target)
    values = every[torch.isfinite(every)].double().unique()  # sorted
    mids = ((values[:-1] + values[1:]) / 2).float()  # exact: a midpoint needs one more bit
    top = values[-1].item() + (values[-1] - values[-2]).item() / 2  # ties up to infinity
    edges = torch.tensor([top, -top, float("inf"), -float("inf"), 3e38, 1e-30], dtype=torch.float32)
    parts = [values.float(), mids, edges]
    parts += [torch.nextafter(t, torch.full_like(t, d))
              for t in (mids, edges[:2]) for d in (-math.inf, math.inf)]
    return torch.cat(parts)


def _call(function, source, out):
    import ctypes

    function(ctypes.c_void_p(source.data_ptr()), ctypes.c_void_p(out.data_ptr()),
             ctypes.c_long(source.numel()))
    return out


def test_host_conversions_round_like_torch(host_library, tmp_path):
    # the portable float <-> 16-bit conversions (host builds; bfloat16 before sm_80) against
    # torch's round-to-nearest-even, on every boundary case
    import ctypes

    source = tmp_path / "convert.cpp"
    source.write_text(cuda_host.SHIM + cuda.kernel_source() + r"""
extern "C" void to_half(const float* f, unsigned short* h, long n)
{ for (long i = 0; i < n; ++i) h[i] = snnsk_float_to_half(f[i]); }
extern "C" void to_bf16(const float* f, unsigned short* h, long n)
{ for (long i = 0; i < n; ++i) h[i] = snnsk_float_to_bf16(f[i]); }
extern "C" void from_half(const unsigned short* h, float* f, long n)
{ for (long i = 0; i < n; ++i) f[i] = snnsk_half_to_float(h[i]); }
""")
    lib_path = tmp_path / "convert.so"
    subprocess.run([cuda_host.compiler(), "-std=c++14", "-O1", "-shared", "-fPIC", "-o", str(lib_path),
                    str(source)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    halves = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)
    widened = _call(lib.from_half, halves, torch.empty(halves.shape, dtype=torch.float32))
    finite = torch.isfinite(halves.view(torch.float16))
    assert torch.equal(widened[finite], halves.view(torch.float16)[finite].float())
    assert torch.isnan(widened[~finite]).sum() == torch.isnan(halves.view(torch.float16)).sum()
    for target, convert in ((torch.float16, lib.to_half), (torch.bfloat16, lib.to_bf16)):
        probes = _rounding_probes(target)
        out = _call(convert, probes, torch.empty(probes.shape, dtype=torch.int16))
        expected = probes.to(target).view(torch.int16)
        bad = (out != expected).nonzero().flatten()[:5]
        assert bad.numel() == 0, (target, probes[bad].tolist(), out[bad].tolist(),
                                  expected[bad].tolist())
        nan = torch.tensor([float("nan"), -float("nan")])
        assert torch.isnan(_call(convert, nan, torch.empty(2, dtype=torch.int16)).view(target)).all()


def test_16_bit_storage_keeps_the_firing_decision_just_below_the_threshold(host_launched):
    # decay_input=False, tau=1: H = v_reset + x at the first step, here 0.5 - 2^-25 in
    # float32: no spike. Stored as H itself in 16 bits that would round to 0.5, the
    # threshold; stored as u = H - threshold = -2^-25 it rounds to -0.0 in float16. Either
    # way a backward testing `>= threshold` would take the fired branch of the hard reset's
    # derivative (dV/dH = -0.5 instead of +0.5); the sign bit of u does not.
    p = NeuronConfig(tau=1.0, threshold=0.5, v_reset=-3e-8, decay_input=False, surrogate="triangle")
    for dtype in (torch.float16, torch.bfloat16):
        x = torch.full((2, 3), 0.5, dtype=dtype)
        s_ref = check_against_reference(_host_run, x, p, f"{dtype} just below the threshold")
        assert s_ref[0].sum() == 0


# ---------------------------------------------------------------------------
# Error paths (no GPU needed)
# ---------------------------------------------------------------------------


def _fake_cuda_tensor(dtype=torch.float32):
    """Stands in for a CUDA tensor where the backends only look at device and dtype."""
    return types.SimpleNamespace(device=torch.device("cuda", 0), dtype=dtype)


@pytest.fixture
def fresh_probe():
    cuda.unavailable_reason.cache_clear()
    yield
    cuda.unavailable_reason.cache_clear()


def test_cupy_backend_on_a_cpu_tensor_names_the_device():
    with pytest.raises(RuntimeError, match="'cupy' backend runs on CUDA tensors, got a tensor on cpu"):
        lif(torch.ones(4, 2), backend="cupy")
    with pytest.raises(RuntimeError, match="CUDA tensors"):
        LIF(backend="cupy")(torch.ones(4, 2, dtype=torch.bfloat16))


def test_without_cupy_the_error_gives_the_import_error(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ModuleNotFoundError
    p = NeuronConfig()
    with pytest.raises(RuntimeError, match=r"CuPy is not installed \(import of cupy halted.*"
                                           r"snnsk\[cuda\]"):
        resolve_backend(_fake_cuda_tensor(), p.replace(backend="cupy"))
    # auto falls back to the reference on a CUDA tensor, and says why
    with pytest.warns(RuntimeWarning, match=r"backend='auto' runs the torch reference .*"
                                            r"CuPy is not installed"):
        assert resolve_backend(_fake_cuda_tensor(), p) == "torch"


def test_a_broken_cupy_is_not_reported_as_missing(monkeypatch, fresh_probe):
    def broken():
        raise OSError("libcudart.so.12: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(cuda, "_cupy", broken)
    reason = cuda.unavailable_reason(0)
    assert "not installed" not in reason
    assert reason.startswith("CuPy is installed but could not be imported: OSError: libcudart.so.12")


def _fake_cupy(count=1, count_error=None, nvrtc_error=None):
    def get_device_count():
        if count_error:
            raise count_error
        return count

    def get_version():
        if nvrtc_error:
            raise nvrtc_error
        return (12, 4)

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    nvrtc = types.SimpleNamespace(getVersion=get_version)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, nvrtc=nvrtc))


@pytest.mark.parametrize("fake,expected", [
    (dict(count_error=RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")),
     "CuPy cannot use a CUDA device: RuntimeError: cudaErrorNoDevice"),
    (dict(count=0), "CuPy sees no CUDA device"),
    (dict(count=1), None),
    (dict(nvrtc_error=OSError("libnvrtc.so.12: cannot open shared object file")),
     "CuPy cannot load NVRTC, the run-time CUDA compiler the kernels need: OSError: libnvrtc"),
], ids=["driver", "no-device", "ok", "no-nvrtc"])
def test_probe_reports_the_device_and_compiler_cause(monkeypatch, fresh_probe, fake, expected):
    monkeypatch.setattr(cuda, "_cupy", lambda: _fake_cupy(**fake))
    reason = cuda.unavailable_reason(0)
    assert reason == expected if expected is None else reason.startswith(expected), reason
    if expected is None:
        assert cuda.unavailable_reason(1) == "CuPy sees 1 CUDA device(s), not cuda:1"


def test_the_real_cupy_without_a_gpu_reports_the_driver_cause(fresh_probe):
    # What a user of pip install 'snnsk[cuda]' on a machine without a usable GPU sees: the
    # real CuPy's own error, not a guess (the fakes above pin the wording of each case).
    try:
        import cupy  # noqa: F401
    except Exception as exc:
        pytest.skip(f"CuPy is not importable here ({type(exc).__name__}: {exc})")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is usable here: this checks the machine without one")
    reason = cuda.unavailable_reason(0)
    assert reason is not None and reason.startswith(("CuPy cannot use a CUDA device: ",
                                                    "CuPy sees no CUDA device")), reason
    p = NeuronConfig()
    with pytest.raises(RuntimeError) as info:
        resolve_backend(_fake_cuda_tensor(), p.replace(backend="cupy"))
    assert str(info.value) == f"LIF backend 'cupy' cannot run this input: {reason}"
    with pytest.warns(RuntimeWarning, match="'cupy' backend is not usable here: CuPy"):
        assert resolve_backend(_fake_cuda_tensor(), p) == "torch"


def test_cupy_refuses_float64_and_custom_surrogates_before_probing(monkeypatch, fresh_probe):
    monkeypatch.setattr(cuda, "_cupy", lambda: pytest.fail("probed CuPy needlessly"))
    assert "float32, float16 and bfloat16, got torch.float64" in cuda.unsupported_reason(
        _fake_cuda_tensor(torch.float64), NeuronConfig())

    class Custom(ATan):
        pass

    reason = cuda.unsupported_reason(_fake_cuda_tensor(), NeuronConfig(surrogate=Custom()))
    assert "built-in surrogates" in reason


def test_kernel_names_are_the_loader_s():
    p = NeuronConfig(reset="soft", surrogate="triangle", decay_input=False)
    assert cuda.forward_name("snnsk_bf16", p.hard_reset, p.decay_input, True, True, False) == \
        "snnsk_lif_forward<snnsk_bf16, 0, 0, 1, 1, 0>"
    assert cuda.backward_name("float", 3, False, False, True, False) == \
        "snnsk_lif_backward<float, 3, 0, 0, 1, 0>"
    assert "snnsk_lif_forward<snnsk_half, 1, 1, 0, 0, 1>" in cuda.kernel_names()


class _FakeCupyLoader:
    """Just enough of CuPy for ``cuda._kernel`` and ``cuda._launch``; records what they do."""

    def __init__(self, compile_error=None):
        self.modules, self.launches, self.devices = [], [], []
        loader = self

        class Kernel:
            def __init__(self, name):
                self.name = name

            def __call__(self, grid, block, args, stream=None):
                loader.launches.append((self.name, grid, block, args, stream.ptr,
                                        tuple(loader.devices)))

        class RawModule:
            def __init__(self, code, options, name_expressions):
                loader.modules.append((code, options, name_expressions))

            def get_function(self, name):
                if compile_error is not None:
                    raise compile_error
                return Kernel(name)

        class Device:
            def __init__(self, index):
                self.index = index

            def __enter__(self):
                loader.devices.append(self.index)

            def __exit__(self, *exc):
                loader.devices.pop()

        self.RawModule = RawModule
        self.cuda = types.SimpleNamespace(
            Device=Device, ExternalStream=lambda ptr: types.SimpleNamespace(ptr=ptr))


@pytest.fixture
def fake_loader(monkeypatch):
    def install(**kwargs):
        fake = _FakeCupyLoader(**kwargs)
        monkeypatch.setattr(cuda, "_cupy", lambda: fake)
        # each device's current PyTorch stream, as a distinct handle
        monkeypatch.setattr(torch.cuda, "current_stream",
                            lambda device: types.SimpleNamespace(cuda_stream=1000 + device.index))
        return fake

    cuda._kernel.cache_clear()
    yield install
    cuda._kernel.cache_clear()


def test_loader_compiles_each_option_set_once_and_launches_on_the_current_stream(fake_loader):
    fake = fake_loader()
    forward = cuda.forward_name("float", True, True, False, True, False)
    backward = cuda.backward_name("snnsk_bf16", 0, True, False, True, False)
    args = (np.uint64(0), np.int32(3), np.float32(1.0))
    cuda._launch(forward, 1000, args, torch.device("cuda", 1))
    cuda._launch(forward, 256, args, torch.device("cuda", 0))
    cuda._launch(backward, 257, args, torch.device("cuda", 1))
    # one NVRTC module per option set, from the packaged source, with the backend's options and
    # the kernel's name as its only name expression (CuPy itself recompiles it per device)
    assert fake.modules == [(cuda.kernel_source(), cuda.NVRTC_OPTIONS, (forward,)),
                            (cuda.kernel_source(), cuda.NVRTC_OPTIONS, (backward,))]
    # ceil(N / BLOCK) blocks of BLOCK threads, on the tensor's device and its current stream
    assert fake.launches == [(forward, (4,), (256,), args, 1001, (1,)),
                             (forward, (1,), (256,), args, 1000, (0,)),
                             (backward, (2,), (256,), args, 1001, (1,))]
    assert fake.devices == []


def test_a_compile_failure_names_the_kernel(fake_loader):
    fake_loader(compile_error=Exception("lif.cu(12): error: identifier \"foo\" is undefined"))
    name = cuda.forward_name("snnsk_half", False, True, True, True, True)
    with pytest.raises(RuntimeError, match=re.escape(f"compiling lif.cu ({name}) with NVRTC "
                                                     "failed: lif.cu(12): error: identifier")):
        cuda._launch(name, 10, (), torch.device("cuda", 0))


# ---------------------------------------------------------------------------
# On a GPU
# ---------------------------------------------------------------------------


def _gpu_skip_reason():
    if not torch.cuda.is_available():
        return "needs a CUDA device (torch.cuda.is_available() is False)"
    reason = cuda.unavailable_reason(torch.cuda.current_device())
    return None if reason is None else f"the cupy backend cannot run here: {reason}"


_SKIP = _gpu_skip_reason()
gpu = pytest.mark.skipif(_SKIP is not None, reason=str(_SKIP))


def _cupy_run(x, p, return_v):
    return run_lif(x, p.replace(backend="cupy"), return_v)


# N: odd, even, a multiple of the block, neither (and several blocks)
GPU_SHAPES = [(37,), (2, 150), (cuda.BLOCK,), (5, 3, 67)]


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", list(DTYPES.values()), ids=list(DTYPES))
@pytest.mark.parametrize("index", range(len(OPTION_SETS)), ids=OPTION_IDS)
def test_gpu_kernels_match_torch_reference(index, dtype):
    p = _params(index)
    for T, shape in itertools.product(T_VALUES, GPU_SHAPES):
        x = _input((T, *shape), p, dtype, seed=100 * index + T, device="cuda")
        s_ref = check_against_reference(_cupy_run, x, p, f"T={T} shape={shape}")
        if T == 33:
            assert 0.05 < s_ref.mean().item() < 0.95


@pytest.mark.gpu
@gpu
def test_gpu_auto_picks_cupy_and_handles_non_contiguous_input():
    p = NeuronConfig(refractory=1)
    x = _input((8, 37, 5), p, torch.float32, seed=3, device="cuda").transpose(1, 2)
    assert resolve_backend(x, p) == "cupy"
    check_against_reference(_cupy_run, x, p, "non-contiguous")
    with torch.no_grad():
        assert torch.equal(lif(x, backend="cupy", refractory=1), lif(x, backend="torch", refractory=1))


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("refractory", [0, 2])
def test_gpu_nan_input_propagates_to_the_gradient(refractory):
    x = torch.tensor([[0.5], [float("nan")], [3.0], [0.5]], device="cuda", requires_grad=True)
    s, v = lif(x, refractory=refractory, backend="cupy", return_v=True)
    assert s.flatten().tolist() == [0, 0, 0, 0]
    (s.sum() + v.sum()).backward()
    assert torch.isnan(x.grad).all()


@pytest.mark.gpu
@gpu
def test_gpu_kernel_runs_on_the_current_stream():
    # x is produced on a side stream after a long sleep; a kernel launched on any other
    # stream would read it before it is written
    p = NeuronConfig()
    source = _input((16, 1 << 16), p, torch.float32, seed=5, device="cuda")
    expected = lif(source, backend="torch")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)
        x = source * 1.0
        s = lif(x, backend="cupy")
    torch.cuda.synchronize()
    assert torch.equal(s, expected)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
@gpu
def test_gpu_second_device():
    p = NeuronConfig(reset="soft", refractory=2)
    with torch.cuda.device(0):  # the current device is not the tensor's
        x = _input((8, 1000), p, torch.float32, seed=9, device="cuda:1")
        check_against_reference(_cupy_run, x, p, "cuda:1")


@pytest.mark.gpu
@gpu
def test_gpu_training_with_cupy_and_torch_backends_ends_with_the_same_weights():
    def train(backend):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(20, 64), LIF(backend=backend, refractory=1),
                                  torch.nn.Linear(64, 32), LIF(backend=backend, reset="soft"),
                                  torch.nn.Linear(32, 4)).to("cuda")
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        g = torch.Generator(device="cuda").manual_seed(1)
        for _ in range(5):
            x = torch.rand((6, 32, 20), generator=g, device="cuda")  # [T, B, features]
            y = torch.randint(0, 4, (32,), generator=g, device="cuda")
            loss = torch.nn.functional.cross_entropy(net(x).mean(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [t.detach().float() for t in net.parameters()]

    for ours, ref in zip(train("cupy"), train("torch")):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-6)
