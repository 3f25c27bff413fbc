"""LIF forward+backward on the CPU or a GPU, side by side with the peers.

CPU mode (the default) measures, for T in {4, 8, 16} and N = 2**20 neurons in float32, the median time
of one forward + backward pass (the input gradient for a fixed, preallocated
output gradient) of:

* snnsk, backend 'cpu'   - the fused numba kernel;
* snnsk, backend 'torch' - the readable per-step PyTorch reference (autograd);
* SpikingJelly's multi-step ``LIFNode`` (see the "SpikingJelly path" line the
  script prints: on a CPU float32 tensor 2.0 runs its registered ``sj_lif``
  operator, whose CPU implementation is an eager per-time-step PyTorch loop
  that stores H, with a hand-written backward loop);
* snnTorch's ``Leaky`` (single-step API: a Python loop over T);
* a plain copy of the input into a preallocated tensor: the bandwidth floor is
  3 x the copy (a fused training kernel ideally moves 24 bytes per element and
  step; a copy moves 8);

and the forward-only time (``torch.no_grad``) of snnsk 'cpu'. All neurons use
tau=2, threshold=1, the atan surrogate (alpha=2), hard reset (snnTorch:
beta=0.5 and its default subtract reset; only its speed is compared).

GPU mode (``--device cuda``) measures, for T in {4, 8, 16, 32}, N in {2**20, 2**22,
2**24} and float32 and bfloat16, the median CUDA-event time of the training
forward (the input requires a gradient, so H is stored) and of forward +
backward, of:

* snnsk, backend 'cupy'  - the fused CUDA kernels of ``kernels/lif.cu``;
* snnsk, backend 'torch' - the per-step PyTorch reference (autograd);
* SpikingJelly's hand-written CUDA kernels: ``LIFNode(step_mode='m',
  backend='cupy')`` where SpikingJelly has that argument (0.0.0.0.14), else
  (2.0) the 'cuda' implementation of its ``sj_lif`` operator (a native
  extension built from source);
* SpikingJelly 2.0's Triton implementation, when Triton is installed;

with the effective bandwidth: the ideal traffic of a fused kernel (forward:
read x, write the spike and H, 3 elements per neuron and step; forward +
backward: 6) over the time, in GB/s and as a fraction of the GPU's peak memory
bandwidth (known H100 and H200 variants by device name, or ``--peak-gbs``).
A plain copy of x gives the bandwidth a simple kernel reaches on the device.
Rows a peer cannot run say why below the tables.

Usage::

    python bench/lif.py                       # the full measurement (about a minute)
    python bench/lif.py --runs 3 --breakdown  # what bench/BENCHMARKS.md reports
    python bench/lif.py --quick               # small N, a smoke run
    THP_MEM_ALLOC_ENABLE=1 python bench/lif.py   # PyTorch CPU allocations on huge pages
    python bench/lif.py --device cuda         # the GPU tables (needs CuPy for snnsk 'cupy')
    python bench/lif.py --device cuda --log2N 20 21 22 23 24 --peak-gbs 3350
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import platform
import statistics
import sys
import time
import warnings

import torch

HEADER = ("T", "copy", "floor", "snnsk cpu", "cpu fwd", "snnsk torch", "SpikingJelly", "snnTorch",
          "SJ/cpu", "cpu/floor")


def median_ms(cases: dict, repeats: int, warmup: int) -> dict:
    """Median wall time in ms of each callable in ``cases`` after ``warmup`` calls.

    The repeats are interleaved (one call of every case per round), so a noisy
    spell on a shared machine hits all rows alike instead of one row.
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def make_cases(x: torch.Tensor, grad: torch.Tensor):
    """name -> (callable, or None and the reason the row is skipped)."""
    from snnsk.core.neurons import NeuronConfig, lif

    T = x.shape[0]
    xr = x.detach().requires_grad_(True)
    cases = {}
    cpu_neuron, torch_neuron = NeuronConfig(backend="cpu"), NeuronConfig(backend="torch")

    dst = torch.empty_like(x)
    cases["copy"] = (lambda: dst.copy_(x), None)

    def snnsk_fb(neuron):
        def run():
            s = lif(xr, neuron)
            torch.autograd.grad(s, xr, grad)
        return run

    cases["snnsk cpu"] = (snnsk_fb(cpu_neuron), None)

    def cpu_forward():
        with torch.no_grad():
            lif(x, cpu_neuron)

    cases["cpu fwd"] = (cpu_forward, None)
    cases["snnsk torch"] = (snnsk_fb(torch_neuron), None)

    try:
        from spikingjelly.activation_based import functional as sj_functional
        from spikingjelly.activation_based import neuron as sj_neuron
        from spikingjelly.activation_based import surrogate as sj_surrogate

        node = sj_neuron.LIFNode(step_mode="m", tau=2.0, v_threshold=1.0, v_reset=0.0,
                                 surrogate_function=sj_surrogate.ATan(alpha=2.0))

        def sj_run():
            sj_functional.reset_net(node)
            s = node(xr)
            torch.autograd.grad(s, xr, grad)

        cases["SpikingJelly"] = (sj_run, None)
    except Exception as exc:  # not installed or broken
        cases["SpikingJelly"] = (None, f"spikingjelly not importable: {exc!r}")

    try:
        import snntorch

        leaky = snntorch.Leaky(beta=0.5, threshold=1.0)

        def snntorch_run():
            mem = leaky.init_leaky()
            spikes = []
            for t in range(T):
                s, mem = leaky(xr[t], mem)
                spikes.append(s)
            torch.autograd.grad(torch.stack(spikes), xr, grad)

        cases["snnTorch"] = (snntorch_run, None)
    except Exception as exc:
        cases["snnTorch"] = (None, f"snntorch not importable: {exc!r}")
    return cases


def spikingjelly_path() -> str:
    """Which SpikingJelly implementation a CPU float32 multi-step LIFNode runs."""
    try:
        import spikingjelly  # noqa: F401
    except Exception as exc:
        return f"unavailable ({exc!r})"
    try:
        from importlib.metadata import version as dist_version

        version = dist_version("spikingjelly")
    except Exception:
        version = "?"
    try:  # private internals of 2.0: the dispatch rule of functional.lif_multi_step
        from spikingjelly._ops.surrogate import _DTYPES, _surrogate_spec
        from spikingjelly.activation_based import surrogate as sj_surrogate
    except Exception:
        return f"spikingjelly {version}: implementation not identified"
    if _surrogate_spec(sj_surrogate.ATan(alpha=2.0)) is not None and torch.float32 in _DTYPES:
        return (f"spikingjelly {version}: registered op torch.ops.sj_lif (CPU implementation "
                "spikingjelly/_ops/lif/cpu.py: eager per-step PyTorch loop storing H, "
                "hand-written backward loop)")
    return f"spikingjelly {version}: torch reference (per-step autograd)"


def _busy_seconds():
    """(CPU seconds used by the whole machine, CPU seconds used by this process)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        machine = (sum(fields[:3]) + sum(fields[5:8])) / hz  # user nice system irq softirq steal
    except (OSError, ValueError, IndexError):
        return None
    own = os.times()
    return machine, own.user + own.system


def other_load(start, wall: float) -> str:
    """Share of the CPUs used by other processes while the benchmark ran."""
    end = _busy_seconds()
    if start is None or end is None or wall <= 0:
        return "unknown"
    other = (end[0] - start[0]) - (end[1] - start[1])
    return f"{100 * max(0.0, other) / (wall * os.cpu_count()):.0f}% of {os.cpu_count()} CPUs"


def describe_machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    thp = "?"
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            thp = f.read().strip()
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; THP_MEM_ALLOC_ENABLE="
            f"{os.environ.get('THP_MEM_ALLOC_ENABLE', '(unset)')}; kernel THP: {thp}")


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (str, int)):
        return str(value)
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def breakdown_cases(x: torch.Tensor, grad: torch.Tensor):
    """Where the snnsk 'cpu' time goes: its two kernels on preallocated outputs,
    and the first touch of the three fresh [T, N] outputs a training step
    allocates (spikes and H in forward, the input gradient in backward).

    Uses private snnsk internals; a diagnostic, not part of the comparison.
    """
    from snnsk.core.backends import cpu as cpu_backend
    from snnsk.core.neurons import NeuronConfig

    p = NeuronConfig()  # tau=2, threshold=1, hard reset, atan(2): the main table's neuron
    spikes, h, grad_x = (torch.empty_like(x) for _ in range(3))

    def forward():
        cpu_backend.forward_into(x.numpy(), spikes.numpy(), h.numpy(), None, None, p)

    def backward():
        cpu_backend.backward_into(grad.numpy(), None, h.numpy(), None, grad_x.numpy(), p)

    def fresh():  # allocate three outputs and touch every page once
        for _ in range(3):
            torch.empty_like(x).fill_(0)

    def reuse():  # the same writes into preallocated memory
        for t in (spikes, h, grad_x):
            t.fill_(0)

    return {"fwd kernel": forward, "bwd kernel": backward, "fresh outputs": fresh,
            "fill reused": reuse, "copy": lambda: grad_x.copy_(x)}


BREAKDOWN_HEADER = ("T", "fwd kernel", "bwd kernel", "kernels", "kernels/floor",
                    "3 new outputs", "same, reused", "page-fault cost")


def print_table(header, rows):
    widths = [max(len(h), 8) for h in header]
    print("| " + " | ".join(h.rjust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(fmt(v).rjust(w) for v, w in zip(row, widths)) + " |")


def measure(Ts, N, repeats, warmup, skipped, breakdown):
    """One measurement of every T: {T: {case: ms}}."""
    result = {}
    for T in Ts:
        gen = torch.Generator().manual_seed(T)
        x = torch.randn(T, N, generator=gen) * 0.8 + 0.7  # fires at about a third of the steps
        grad = torch.randn(T, N, generator=gen)
        cases = make_cases(x, grad)
        skipped.update({name: reason for name, (fn, reason) in cases.items() if fn is None})
        times = dict.fromkeys(cases)
        times.update(median_ms({name: fn for name, (fn, _) in cases.items() if fn is not None},
                               repeats, warmup))
        del cases
        if breakdown:
            try:
                more = median_ms(breakdown_cases(x, grad), repeats, warmup)
                times.update({f"bd {k}": v for k, v in more.items()})
            except Exception as exc:  # private internals changed
                skipped["breakdown"] = repr(exc)
        result[T] = times
        del x, grad
    return result


def main_rows(times_by_T):
    rows = []
    for T, t in times_by_T.items():
        floor = 3 * t["copy"]
        cpu, sj = t["snnsk cpu"], t["SpikingJelly"]
        rows.append([T, t["copy"], floor, cpu, t["cpu fwd"], t["snnsk torch"], sj, t["snnTorch"],
                     f"{sj / cpu:.1f}x" if sj else "-", f"{cpu / floor:.2f}x"])
    return rows


#: The CPU goals at T = 8 (issue 16): snnsk cpu >= 10x SpikingJelly's CPU path, <= 1.25x the floor.
CPU_GOAL_T, CPU_GOAL_SJ, CPU_GOAL_FLOOR = 8, 10.0, 1.25


def print_cpu_goals(times_by_T):
    """Print the T = 8 goals with met / not met (when T = 8 was measured)."""
    t = times_by_T.get(CPU_GOAL_T)
    if t is None:
        return
    cpu, sj, floor = t["snnsk cpu"], t["SpikingJelly"], 3 * t["copy"]
    print(f"\n# goals at T = {CPU_GOAL_T}:")
    if sj:
        ratio = sj / cpu
        print(f"#   SpikingJelly / snnsk cpu = {ratio:.1f}x (goal >= {CPU_GOAL_SJ:.0f}x): "
              f"{'met' if ratio >= CPU_GOAL_SJ else 'NOT MET'}")
    ratio = cpu / floor
    print(f"#   snnsk cpu / floor = {ratio:.2f}x (goal <= {CPU_GOAL_FLOOR}x): "
          f"{'met' if ratio <= CPU_GOAL_FLOOR else 'NOT MET'}")


def breakdown_rows(times_by_T):
    rows = []
    for T, t in times_by_T.items():
        if "bd fwd kernel" not in t:
            continue
        kernels = t["bd fwd kernel"] + t["bd bwd kernel"]
        rows.append([T, t["bd fwd kernel"], t["bd bwd kernel"], kernels,
                     f"{kernels / (3 * t['bd copy']):.2f}x", t["bd fresh outputs"],
                     t["bd fill reused"], t["bd fresh outputs"] - t["bd fill reused"]])
    return rows


def median_over_runs(runs):
    merged = {}
    for T in runs[0]:
        merged[T] = {}
        for name in runs[0][T]:
            values = [r[T][name] for r in runs if r[T].get(name) is not None]
            merged[T][name] = statistics.median(values) if values else None
    return merged


# ---------------------------------------------------------------------------
# GPU mode (--device cuda)
# ---------------------------------------------------------------------------

#: Peak memory bandwidth in GB/s by a substring of the device name (first match wins).
PEAK_GBS = (("H200", 4800.0), ("H100 NVL", 3900.0), ("H100 PCIe", 2000.0), ("H100", 3350.0))
GPU_IMPLS = ("snnsk cupy", "snnsk torch", "SJ cupy", "SJ triton")
GPU_MODES = ("fwd", "fwd+bwd")
#: Elements moved per neuron and step by an ideal fused kernel (ALGORITHMS.md section 1).
IDEAL_ELEMENTS = {"fwd": 3, "fwd+bwd": 6}


def peak_bandwidth(device_name: str) -> float | None:
    """Peak memory bandwidth (GB/s) of a known GPU by its name, else None.

    "NVIDIA H100 80GB HBM3" is the SXM part (3.35 TB/s); PCIe and NVL parts
    are told apart by name; every H200 variant has 4.8 TB/s.
    """
    for key, gbs in PEAK_GBS:
        if key in device_name:
            return gbs
    return None


def ideal_gb(T: int, N: int, dtype: torch.dtype, mode: str) -> float:
    """Ideal traffic of one call in GB."""
    return IDEAL_ELEMENTS[mode] * T * N * dtype.itemsize / 1e9


def cuda_ms(fn, repeats: int, warmup: int) -> float:
    """Median time in ms of ``fn`` between two CUDA events on the current stream."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _spikingjelly_lif(impl: str):
    """(LIFNode, setup, description) for SpikingJelly's 'cupy' or 'triton' path.

    ``setup()`` selects the implementation before the node is timed:
    SpikingJelly 2.0 chooses one per process from ``SJ_LIF_CUDA_IMPLEMENTATION``
    (read at import), so switching in one run sets its private selection object
    and checks the choice with the public ``functional.neuron_implementation``.
    """
    from spikingjelly.activation_based import functional as sj_functional
    from spikingjelly.activation_based import neuron as sj_neuron
    from spikingjelly.activation_based import surrogate as sj_surrogate

    kwargs = dict(step_mode="m", tau=2.0, v_threshold=1.0, v_reset=0.0,
                  surrogate_function=sj_surrogate.ATan(alpha=2.0))
    if impl == "cupy":
        try:
            return (sj_neuron.LIFNode(backend="cupy", **kwargs), lambda device: None,
                    "LIFNode(step_mode='m', backend='cupy')")
        except TypeError:  # SpikingJelly 2.0 has no backend argument
            pass
    from spikingjelly._ops import lif as sj_lif_ops

    name = "cuda" if impl == "cupy" else "triton"

    def setup(device):
        selection = sj_lif_ops._selection
        selection._requested = name
        selection._selections.clear()
        chosen = sj_functional.neuron_implementation("lif", device)["implementation"]
        if chosen != name:
            raise RuntimeError(f"SpikingJelly chose {chosen!r} instead of {name!r}")

    return (sj_neuron.LIFNode(**kwargs), setup,
            f"LIFNode(step_mode='m'), sj_lif implementation {name!r} (SpikingJelly 2.0)")


def gpu_cases(x: torch.Tensor, grad: torch.Tensor, paths: dict):
    """impl -> (setup, forward, forward+backward) callables, or a string: why it is skipped.

    ``paths`` receives a description of what each SpikingJelly column runs.
    """
    from snnsk.core.backends import resolve_backend
    from snnsk.core.neurons import NeuronConfig, lif

    xr = x.detach().requires_grad_(True)
    cases = {}

    def snnsk_case(backend):
        neuron = NeuronConfig(backend=backend)

        def fwd():
            lif(xr, neuron)

        def fb():
            torch.autograd.grad(lif(xr, neuron), xr, grad)

        return (lambda device: None), fwd, fb

    for backend in ("cupy", "torch"):
        try:  # the reason an explicit backend cannot run this input, if any
            resolve_backend(xr, NeuronConfig(backend=backend))
            cases[f"snnsk {backend}"] = snnsk_case(backend)
        except Exception as exc:
            cases[f"snnsk {backend}"] = f"{type(exc).__name__}: {exc}"

    for impl in ("cupy", "triton"):
        try:
            from spikingjelly.activation_based import functional as sj_functional

            node, setup, paths[f"SJ {impl}"] = _spikingjelly_lif(impl)

            def fwd(node=node):
                sj_functional.reset_net(node)
                node(xr)

            def fb(node=node):
                sj_functional.reset_net(node)
                torch.autograd.grad(node(xr), xr, grad)

            cases[f"SJ {impl}"] = (setup, fwd, fb)
        except Exception as exc:  # not installed, or this version has no such path
            cases[f"SJ {impl}"] = f"{type(exc).__name__}: {exc}"
    return cases


def _measure_gpu_size(dtype, N, T, repeats, warmup, skipped, paths, device, timer):
    """{"copy": ms, (impl, mode): ms or None} for one size; its tensors are freed on return."""
    gen = torch.Generator(device=device).manual_seed(T)
    # fires at about a third of the steps
    x = (torch.randn(T, N, generator=gen, device=device) * 0.8 + 0.7).to(dtype)
    grad = torch.randn(T, N, generator=gen, device=device).to(dtype)
    times = {"copy": timer(functools.partial(torch.empty_like(x).copy_, x), repeats, warmup)}
    for impl, case in gpu_cases(x, grad, paths).items():
        for mode in GPU_MODES:
            times[(impl, mode)] = None
        if isinstance(case, str):
            skipped.setdefault(impl, case)
            continue
        setup, *fns = case
        for mode, fn in zip(GPU_MODES, fns):
            try:
                setup(x.device)
                times[(impl, mode)] = timer(fn, repeats, warmup)
            except torch.cuda.OutOfMemoryError:
                skipped.setdefault(f"{impl} {dtype} N={N} T={T}", "out of GPU memory")
            except Exception as exc:
                skipped.setdefault(f"{impl} {dtype}", f"{type(exc).__name__}: {exc}")
            if device == "cuda":
                torch.cuda.empty_cache()  # the torch reference's graph is large: start level
    return times


def measure_gpu(Ns, Ts, dtypes, repeats, warmup, skipped, paths, device="cuda", timer=cuda_ms):
    """{(dtype, N, T): {"copy": ms, (impl, mode): ms or None}}; reasons go to ``skipped``.

    ``paths`` receives what each SpikingJelly column runs; ``device`` and
    ``timer`` exist so the loop and tables can be tried on the CPU.
    """
    return {(dtype, N, T): _measure_gpu_size(dtype, N, T, repeats, warmup, skipped, paths, device,
                                             timer)
            for dtype, N, T in itertools.product(dtypes, Ns, Ts)}


def gpu_header():
    cols = ["N", "T", "copy GB/s"]
    for impl in GPU_IMPLS:
        cols += [f"{impl} ms", "GB/s"]
    return tuple(cols + ["cupy % peak", "SJ cupy/cupy"])


def gpu_rows(results, dtype, mode, peak):
    rows = []
    for (dt, N, T), t in results.items():
        if dt != dtype:
            continue
        gb = ideal_gb(T, N, dtype, mode)
        copy_gbs = 2 * T * N * dtype.itemsize / 1e9 / (t["copy"] / 1e3)  # read + write
        row = [f"2^{N.bit_length() - 1}" if N & (N - 1) == 0 else N, T, copy_gbs]
        for impl in GPU_IMPLS:
            ms = t[(impl, mode)]
            row += [ms, gb / (ms / 1e3) if ms else None]
        ours, sj = t[("snnsk cupy", mode)], t[("SJ cupy", mode)]
        row.append(f"{100 * gb / (ours / 1e3) / peak:.0f}%" if ours and peak else None)
        row.append(f"{sj / ours:.2f}x" if ours and sj else None)
        rows.append(row)
    return rows


def gpu_goals(results, peak) -> list[str]:
    """The issue's two goals, checked on the measured cells."""
    lines = []
    ratios = [t[("SJ cupy", "fwd+bwd")] / t[("snnsk cupy", "fwd+bwd")]
              for (dt, N, T), t in results.items()
              if dt == torch.float32 and t[("SJ cupy", "fwd+bwd")] and t[("snnsk cupy", "fwd+bwd")]]
    if ratios:
        lines.append(f"float32 fwd+bwd, SpikingJelly cupy time / snnsk cupy time: min {min(ratios):.2f}x, "
                     f"median {statistics.median(ratios):.2f}x (goal >= 1.5x)")
    if peak:
        fractions = [ideal_gb(T, N, dt, mode) / (t[("snnsk cupy", mode)] / 1e3) / peak
                     for (dt, N, T), t in results.items() if N * T >= 2**26
                     for mode in GPU_MODES if t[("snnsk cupy", mode)]]
        if fractions:
            lines.append(f"snnsk cupy at N*T >= 2^26: {100 * min(fractions):.0f}% to "
                         f"{100 * max(fractions):.0f}% of peak bandwidth (goal >= 70%)")
    return lines


def describe_gpu(device_name: str, peak, peak_source: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    versions = [f"torch {torch.__version__} (CUDA {torch.version.cuda})"]
    for dist in ("cupy-cuda12x", "cupy-cuda13x", "cupy", "spikingjelly", "triton"):
        try:
            versions.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            pass
    peak_text = f"{peak:.0f} GB/s ({peak_source})" if peak else "unknown (pass --peak-gbs)"
    return f"{device_name}, peak bandwidth {peak_text}; " + ", ".join(versions)


def gpu_main(args) -> int:
    if not torch.cuda.is_available():
        print("# --device cuda: no CUDA device (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    Ns = [args.N] if args.N else [2**k for k in (args.log2N or ([16] if args.quick else [20, 22, 24]))]
    Ts = args.T or [4, 8, 16, 32]
    dtypes = [getattr(torch, name) for name in args.dtypes]
    name = torch.cuda.get_device_name()
    peak = args.peak_gbs or peak_bandwidth(name)
    peak_source = "--peak-gbs" if args.peak_gbs else "by device name"
    warnings.filterwarnings("ignore")
    skipped, paths = {}, {}
    results = measure_gpu(Ns, Ts, dtypes, args.repeats, args.warmup, skipped, paths)
    print(f"# LIF on {describe_gpu(name, peak, peak_source)}")
    print(f"# median of {args.repeats} CUDA-event timings after {args.warmup} warm-up calls; "
          "tau=2, threshold=1, hard reset, atan(2)")
    print("# GB/s = ideal traffic / time (fwd: x, spike, H = 3 elements per neuron-step; "
          "fwd+bwd: 6); copy GB/s = a plain copy of x (read + write)")
    for impl, path in paths.items():
        print(f"# {impl}: {path}")
    for dtype in dtypes:
        for mode in GPU_MODES:
            print(f"\n## {str(dtype).removeprefix('torch.')}, {mode} (times in ms)")
            print_table(gpu_header(), gpu_rows(results, dtype, mode, peak))
    print()
    for line in gpu_goals(results, peak):
        print(f"# {line}")
    for what, reason in skipped.items():
        print(f"# skipped {what}: {reason}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small N and few repeats: a smoke run, not a measurement")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu: the CPU table; cuda: the GPU tables (see the module docstring)")
    parser.add_argument("--N", type=int, default=None, help="neurons (default 2**20; --quick 2**12; "
                        "with --device cuda, replaces --log2N)")
    parser.add_argument("--T", type=int, nargs="+", default=None,
                        help="time steps (default 4 8 16; 4 8 16 32 with --device cuda)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per run (>= 7 for a "
                        "measurement)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before timing")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat the whole measurement; the last table is the per-cell median")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the snnsk cpu kernels on preallocated outputs and the "
                             "first touch of fresh outputs")
    gpu = parser.add_argument_group("GPU mode (--device cuda)")
    gpu.add_argument("--log2N", type=int, nargs="+", default=None,
                     help="neurons as powers of two (default 20 22 24; --quick 16)")
    gpu.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"],
                     choices=("float32", "float16", "bfloat16"), help="storage dtypes")
    gpu.add_argument("--peak-gbs", type=float, default=None,
                     help="peak memory bandwidth in GB/s (default: known H100/H200 by name)")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        return gpu_main(args)
    args.T = args.T or [4, 8, 16]
    N = args.N or (2**12 if args.quick else 2**20)
    warnings.filterwarnings("ignore")

    print(f"# LIF forward+backward, float32, N={N}, median of {args.repeats} interleaved repeats "
          f"after {args.warmup} warm-up calls" + (f", {args.runs} runs" if args.runs > 1 else ""))
    print(f"# machine: {describe_machine()}")
    print(f"# SpikingJelly path: {spikingjelly_path()}")
    print("# times in ms; floor = 3 x copy (24 B vs 8 B per element and step); "
          "cpu fwd = snnsk cpu forward only (no_grad)")

    skipped, runs = {}, []
    for run in range(args.runs):
        start, t_start = _busy_seconds(), time.perf_counter()
        runs.append(measure(args.T, N, args.repeats, args.warmup, skipped, args.breakdown))
        load = other_load(start, time.perf_counter() - t_start)
        if args.runs > 1:
            print(f"\n## run {run + 1} (other processes used {load})")
            print_table(HEADER, main_rows(runs[-1]))
    final = median_over_runs(runs)
    if args.runs > 1:
        print(f"\n## median of {args.runs} runs")
    print_table(HEADER, main_rows(final))
    if args.breakdown and breakdown_rows(final):
        print("\n# snnsk cpu breakdown (ms): its kernels on preallocated outputs, and allocating + "
              "touching the 3 new [T, N] outputs of a training step once")
        print_table(BREAKDOWN_HEADER, breakdown_rows(final))
    for name, reason in skipped.items():
        print(f"# skipped {name}: {reason}")
    print_cpu_goals(final)
    if args.runs == 1:
        print(f"# other processes used {load} during the measurement "
              "(a shared machine: compare runs with little other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
