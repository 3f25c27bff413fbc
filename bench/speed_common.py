"""What the training-speed benchmarks share: timing, the arithmetic bound, memory, goal rows.

The per-estimator scripts (``bench/train_speed.py`` for the vision and MLP
classifiers, ``bench/speed_ssm.py``, ``bench/speed_lm.py``) measure with these
helpers so that their tables mean the same thing:

* throughput is the median of interleaved repeats (every row once per round:
  a noisy spell on a shared machine hits all rows alike), and the share of the
  CPUs other processes used during the run is printed, so a disturbed run is
  recognisable;
* the arithmetic lower bound is the dense multiply-accumulates of one sample
  (:class:`snnsk.analysis.opcount.OperationCounter`'s ``dense_macs``, what the same
  products cost done densely) at the FLOP rate of a plain ``torch.mm``
  measured in the same run, training counted as three forward passes
  (forward, input gradient, weight gradient);
* memory is the activation memory a training step keeps for backward
  (:func:`snnsk.core.memory.saved_activation_bytes`: every distinct tensor storage
  autograd saves; the weights of these models are a few hundred kB, what
  grows with batch size and ``T`` is what autograd keeps);
* a goal is a dict ``{goal, measured, target, met}``, printed by
  :func:`print_goals` with a met / not met column.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
#: Where the real datasets live beside a checkout (see the data folder's README).
DEFAULT_DATA = REPO.parent / "shared" / "data"


# ------------------------------------------------------------------ machine
def describe_machine() -> str:
    """CPU model, CPU count and the torch build and thread count, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def busy_seconds():
    """``(CPU seconds used by the whole machine, by this process and its children)``, or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    machine = (sum(fields[:3]) + sum(fields[5:8])) / hz  # user nice system irq softirq steal
    own = os.times()
    return machine, own.user + own.system + own.children_user + own.children_system


def other_load(start, wall: float) -> str:
    """Share of the CPUs other processes used since ``start = busy_seconds()``."""
    end = busy_seconds()
    if start is None or end is None or wall <= 0:
        return "unknown"
    other = (end[0] - start[0]) - (end[1] - start[1])
    return f"{100 * max(0.0, other) / (wall * os.cpu_count()):.0f}% of {os.cpu_count()} CPUs"


# ------------------------------------------------------------------- timing
def interleaved_medians(cases: dict, runs: int) -> dict:
    """Median seconds of each callable in ``cases`` over ``runs`` interleaved rounds."""
    times = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def matmul_flops(rows: int = 8192, inner: int = 256, cols: int = 256, repeats: int = 20) -> float:
    """FLOP/s of ``torch.mm`` on float32 ``[rows, inner] @ [inner, cols]`` (median of repeats).

    The default size is that of the models' larger projections (a few
    thousand time-folded tokens of a few hundred channels): a rate these
    layers can reach, not the cores' theoretical peak.
    """
    a = torch.randn(rows, inner)
    b = torch.randn(inner, cols)
    out = torch.empty(rows, cols)
    for _ in range(3):
        torch.mm(a, b, out=out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2.0 * rows * inner * cols / statistics.median(times)


def dense_macs_per_sample(estimator, X) -> float:
    """Dense multiply-accumulates of one inference pass per sample of ``X`` (fitted estimator)."""
    from snnsk.analysis.metrics import spike_report

    report = spike_report(estimator, X)
    return float(report.loc["total", "dense_macs"]) / len(X)


def bound_rates(macs_per_sample: float, flops: float) -> tuple[float, float]:
    """Samples/s of ``(training, inference)`` if every MAC ran at ``flops`` (training = 3 passes)."""
    if macs_per_sample <= 0:
        return math.inf, math.inf
    return flops / (6.0 * macs_per_sample), flops / (2.0 * macs_per_sample)


# -------------------------------------------------------------------- goals
def goal(name: str, measured: float, target: float, at_least: bool = True, unit: str = "",
         fmt: str = "{:,.1f}") -> dict:
    """A goal row: ``measured`` must be ``>= target`` (``at_least``) or ``<= target``."""
    met = measured >= target if at_least else measured <= target
    sign = ">=" if at_least else "<="
    return {"goal": name, "measured": fmt.format(measured) + unit,
            "target": f"{sign} {fmt.format(target)}{unit}", "met": bool(met)}


def print_table(rows: list[dict], title: str | None = None):
    """Print ``rows`` (dicts with the same keys) as a Markdown table."""
    if title:
        print(f"\n### {title}\n")
    if not rows:
        print("(no rows)")
        return
    columns = list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(str(c)), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(r, widths)) + " |")


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value)
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def print_goals(goals: list[dict], title: str = "Goals"):
    """Print goal rows with a met / not met column."""
    print_table([{"goal": g["goal"], "measured": g["measured"], "target": g["target"],
                  "result": "met" if g["met"] else "NOT MET"} for g in goals], title)


def data_file(data_dir, name: str) -> Path | None:
    """``data_dir / name`` if it exists, else None (after saying so)."""
    path = Path(data_dir) / name
    if not path.exists():
        print(f"# {path} not found: pass --data DIR with {name} (see the data README), "
              "or --quick for synthetic data of the same shapes")
        return None
    return path


# ------------------------------------------------------------- estimators
def measure_estimators(rows: dict, X, y, X_infer, runs: int, warm_samples: int = 128) -> dict:
    """Epoch and inference rates of each named estimator, interleaved over ``runs`` rounds.

    Each estimator is first fitted for one epoch on ``warm_samples`` samples
    (which compiles the numba kernels and warms the allocator); then every
    round times, for every row, ``fit(X, y)`` (one epoch: ``max_epochs=1``)
    and ``predict_proba(X_infer)``. Returns ``{name: {estimator, train/s,
    infer/s, epoch s}}`` and ``"_load"``, the other processes' CPU share.
    """
    fitted = {name: est.set_params(max_epochs=1).fit(X[:warm_samples], y[:warm_samples])
              for name, est in rows.items()}
    cases = {}
    for name, est in fitted.items():
        cases[f"{name}/fit"] = lambda est=est: est.fit(X, y)
        cases[f"{name}/predict"] = lambda est=est: est.predict_proba(X_infer)
    start, wall = busy_seconds(), time.perf_counter()
    seconds = interleaved_medians(cases, runs)
    load = other_load(start, time.perf_counter() - wall)
    out = {}
    for name, est in fitted.items():
        out[name] = {"estimator": est,
                     "train/s": len(X) / seconds[f"{name}/fit"],
                     "infer/s": len(X_infer) / seconds[f"{name}/predict"],
                     "epoch s": seconds[f"{name}/fit"]}
    out["_load"] = load
    return out


def print_header(script: str, argv=None):
    """The date, machine and command lines every speed table starts with."""
    import datetime
    import sys

    args = sys.argv[1:] if argv is None else argv
    print(f"# {datetime.date.today()}: {describe_machine()}")
    print(f"# command: python bench/{script} {' '.join(args)}")
