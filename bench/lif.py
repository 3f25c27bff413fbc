"""LIF forward+backward on the CPU, side by side with the peers.

Measures, for T in {4, 8, 16} and N = 2**20 neurons in float32, the median time
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

Usage::

    python bench/lif.py                       # the full measurement (about a minute)
    python bench/lif.py --runs 3 --breakdown  # what bench/BENCHMARKS.md reports
    python bench/lif.py --quick               # small N, a smoke run
    THP_MEM_ALLOC_ENABLE=1 python bench/lif.py   # PyTorch CPU allocations on huge pages
"""

from __future__ import annotations

import argparse
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
    from snnsk.neurons import lif

    T = x.shape[0]
    xr = x.detach().requires_grad_(True)
    cases = {}

    dst = torch.empty_like(x)
    cases["copy"] = (lambda: dst.copy_(x), None)

    def snnsk_fb(backend):
        def run():
            s = lif(xr, backend=backend)
            torch.autograd.grad(s, xr, grad)
        return run

    cases["snnsk cpu"] = (snnsk_fb("cpu"), None)

    def cpu_forward():
        with torch.no_grad():
            lif(x, backend="cpu")

    cases["cpu fwd"] = (cpu_forward, None)
    cases["snnsk torch"] = (snnsk_fb("torch"), None)

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
    import numpy as np

    from snnsk._backends import cpu as cpu_backend
    from snnsk._backends.params import make_params

    p = make_params()  # tau=2, threshold=1, hard reset, atan(2): the main table's neuron
    spikes, h, grad_x = (torch.empty_like(x) for _ in range(3))
    dummy = x.new_empty((1, 1))
    c = cpu_backend._constants(p, np.float32)
    held = np.empty((1, 1), np.uint8)  # no refractory period: the mask is not used
    fwd = cpu_backend.forward_kernel(True, True, False, True, False)
    bwd = cpu_backend.backward_kernel(cpu_backend.SURROGATE_CODES["atan"], True, False, False)

    def forward():
        cpu_backend._set_threads(x.numel())
        fwd(x.numpy(), spikes.numpy(), h.numpy(), held, dummy.numpy(), c, 0)

    def backward():
        cpu_backend._set_threads(x.numel())
        bwd(grad.numpy(), dummy.numpy(), h.numpy(), held, grad_x.numpy(), c)

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small N and few repeats: a smoke run, not a measurement")
    parser.add_argument("--N", type=int, default=None, help="neurons (default 2**20; --quick 2**12)")
    parser.add_argument("--T", type=int, nargs="+", default=[4, 8, 16], help="time steps")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per run (>= 7 for a "
                        "measurement)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before timing")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat the whole measurement; the last table is the per-cell median")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the snnsk cpu kernels on preallocated outputs and the "
                             "first touch of fresh outputs")
    args = parser.parse_args(argv)
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
    if args.runs == 1:
        print(f"# other processes used {load} during the measurement "
              "(a shared machine: compare runs with little other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
