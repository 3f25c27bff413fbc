"""Smoke test of the LIF benchmark script: it runs and prints its tables (no timing checks)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "lif.py"
MAIN_COLUMNS = ["T", "copy", "floor", "snnsk cpu", "cpu fwd", "snnsk torch", "SpikingJelly",
                "snnTorch", "SJ/cpu", "cpu/floor"]


def _tables(out):
    """Markdown tables in the output: a list of (header cells, rows of cells)."""
    tables, block = [], []
    for line in out.splitlines() + [""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif block:
            tables.append((block[0], block[2:]))  # block[1] is the alignment row
            block = []
    return tables


def test_lif_benchmark_quick_run_prints_table():
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--T", "2", "4", "--repeats", "3", "--warmup", "1",
         "--breakdown"],
        capture_output=True, text=True, timeout=300, env=env, cwd=SCRIPT.parents[1],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    tables = _tables(out)
    assert tables, out
    header, rows = tables[0]
    assert header == MAIN_COLUMNS, out
    assert [r[0] for r in rows] == ["2", "4"]
    for cells in rows:
        assert len(cells) == len(MAIN_COLUMNS)
        for cell in cells[1:6]:  # copy, floor and the snnsk rows are always measured
            assert float(cell) > 0
        assert cells[-1].endswith("x")
    assert "SpikingJelly path:" in out
    # the optional breakdown table (private internals: it may report itself skipped)
    if "# skipped breakdown:" not in out:
        assert len(tables) == 2 and tables[1][0][:3] == ["T", "fwd kernel", "bwd kernel"], out
        assert [r[0] for r in tables[1][1]] == ["2", "4"]


def _run_bench(name, *args, timeout=600):
    """Run ``bench/<name> args`` from the repository root; its stdout, after checking it succeeded."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(SCRIPT.parent / name), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_lm_benchmark_quick_run_prints_tables():
    out = _run_bench("lm.py", "--quick", "--runs", "1", timeout=300)
    tables = _tables(out)
    assert [t[0][0] for t in tables] == ["tokens", "context"], out
    training, generation = tables[0][1][0], tables[1][1][0]
    assert all(float(c) > 0 for c in training[:5])
    assert generation[-1] == "yes"  # cached and uncached generation wrote the same text


SPEED_LM_RUN = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("speed_lm", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
print("GOALS " + json.dumps(bench.run(["--quick"])))
"""


def test_lm_speed_benchmark_quick_run_prints_rates_and_returns_the_goal_rows():
    # run() is what bench/train_speed.py imports: it prints the tables and returns the goals
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", SPEED_LM_RUN, str(SCRIPT.parent / "speed_lm.py")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    tables = _tables(out)
    header, rows = tables[0]
    assert header[:3] == ["model", "LIF backend", "train tok/s"] and header[-1] == "train time / twin"
    assert [(r[0], r[1]) for r in rows] == [
        ("default (= bench/lm.py's model)", "cpu"), ("default (= bench/lm.py's model)", "torch"),
        ("default (= bench/lm.py's model), precision='bfloat16'", "cpu"),
        ("default (= bench/lm.py's model): spiking='none' twin", "-"),
        ("demo (ternary, batch 4)", "cpu"), ("demo (ternary, batch 4)", "torch"),
        ("demo (ternary, batch 4): spiking='none' twin", "-")]
    for cells in rows:
        assert all(float(c.replace(",", "").rstrip("%")) > 0 for c in cells[2:8] if c != "0"), cells
    goals = json.loads(out.split("GOALS ", 1)[1])
    assert all(set(g) == {"goal", "measured", "target", "met"} and isinstance(g["met"], bool)
               for g in goals)
    assert goals[0]["measured"] is None and not goals[0]["met"]  # no --baseline in quick mode
    ratios = [g for g in goals if "its twin" in g["goal"]]
    assert len(ratios) == 2 and all(g["measured"] > 1 for g in ratios)
    assert tables[-1][0] == ["goal", "measured", "target", "met"]
    assert [r[-1] for r in tables[-1][1]] == ["met" if g["met"] else "not met" for g in goals]


def test_ssm_benchmarks_quick_runs_print_their_tables():
    bench = Path(__file__).resolve().parents[1] / "bench"
    speed = subprocess.run([sys.executable, str(bench / "ssm.py"), "--quick"], capture_output=True,
                           text=True, timeout=600)
    assert speed.returncode == 0, speed.stderr
    assert "log-log slope" in speed.stdout and "LIF/sampler" in speed.stdout
    quality = subprocess.run([sys.executable, str(bench / "ssm_quality.py"), "--quick"],
                             capture_output=True, text=True, timeout=600)
    assert quality.returncode == 0, quality.stderr
    assert "bag-of-tokens LogisticRegression" in quality.stdout
    assert "fraction of neurons spiking per step" in quality.stdout


def _load_lif_bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lif_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lif_benchmark_knows_the_peak_bandwidth_of_h100_and_h200():
    bench = _load_lif_bench()
    assert bench.peak_bandwidth("NVIDIA H100 80GB HBM3") == 3350.0  # SXM
    assert bench.peak_bandwidth("NVIDIA H100 PCIe") == 2000.0
    assert bench.peak_bandwidth("NVIDIA H100 NVL") == 3900.0
    assert bench.peak_bandwidth("NVIDIA H200") == bench.peak_bandwidth("NVIDIA H200 NVL") == 4800.0
    assert bench.peak_bandwidth("NVIDIA GeForce RTX 4090") is None  # then --peak-gbs
    # ideal traffic: 3 (forward) and 6 (forward + backward) elements per neuron and step
    assert bench.ideal_gb(8, 2**20, torch.float32, "fwd+bwd") == 6 * 8 * 2**20 * 4 / 1e9
    assert bench.ideal_gb(8, 2**20, torch.bfloat16, "fwd") == 3 * 8 * 2**20 * 2 / 1e9


def test_lif_benchmark_gpu_mode_without_a_gpu_says_so():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the GPU mode would measure for real")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda", "--quick"],
                          capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no CUDA device" in proc.stderr


DRY_RUN = r"""
import importlib.util, statistics, sys, time
import torch
spec = importlib.util.spec_from_file_location("lif_bench", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

def wall_ms(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)

skipped, paths = {}, {}
dtypes = [torch.float32, torch.bfloat16]
results = bench.measure_gpu([2**10, 1000], [2, 3], dtypes, 2, 1, skipped, paths, device="cpu",
                            timer=wall_ms)
for dtype in dtypes:
    for mode in bench.GPU_MODES:
        bench.print_table(bench.gpu_header(), bench.gpu_rows(results, dtype, mode, 3350.0))
        print()
for what, reason in skipped.items():
    print(f"# skipped {what}: {reason}")
"""


def test_lif_benchmark_gpu_tables_from_a_cpu_dry_run():
    # the GPU mode's measurement loop and tables, on CPU tensors with a wall-clock timer:
    # snnsk 'cupy' cannot run there and says why; the torch reference fills its columns
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", DRY_RUN, str(SCRIPT)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tables = _tables(proc.stdout)
    assert len(tables) == 4, proc.stdout  # float32 and bfloat16, forward and forward+backward
    for header, rows in tables:
        assert header[:5] == ["N", "T", "copy GB/s", "snnsk cupy ms", "GB/s"], header
        assert header[-2:] == ["cupy % peak", "SJ cupy/cupy"]
        assert [(r[0], r[1]) for r in rows] == [("2^10", "2"), ("2^10", "3"), ("1000", "2"), ("1000", "3")]
        torch_ms = header.index("snnsk torch ms")
        for cells in rows:
            assert len(cells) == len(header)
            assert cells[3] == "-" and float(cells[torch_ms]) > 0 and float(cells[torch_ms + 1]) > 0
    assert "# skipped snnsk cupy: RuntimeError: LIF backend 'cupy' cannot run this input: " \
           "the 'cupy' backend runs on CUDA tensors" in proc.stdout


def test_vit_quality_quick_run_prints_both_tables():
    out = _run_bench("vit_quality.py", "--quick")
    for model in ("SVC (RBF, default)", "SpikingViT ssa", "SpikingViT sdsa", "SpikingViT qk",
                  "SVC on flattened event frames"):
        assert model in out, out
    assert "Firing rate per spiking layer" in out and "blocks.0.attention.attention_neuron" in out


def test_lm_ablation_quick_run_prints_each_row_beside_its_non_spiking_twin():
    out = _run_bench("lm_ablation.py", "--quick")
    rows = {line[:56].strip(): line[56:].split() for line in out.splitlines()
            if line.startswith(("ternary", "non-spiking"))}
    assert set(rows) == {"ternary, soft reset, alpha 4, batch 16", "non-spiking, batch 16"}, out
    seed, bits, ratio, _ = rows["ternary, soft reset, alpha 4, batch 16"]
    assert seed == "0" and float(bits) > 0
    assert float(ratio) == pytest.approx(float(bits) / float(rows["non-spiking, batch 16"][1]),
                                         abs=2e-3)
    assert float(rows["non-spiking, batch 16"][2]) == 1.0


def test_gpu_check_script_runs_every_step_and_logs_it(tmp_path):
    # kernels/gpu_check.sh is what a GPU machine runs in one call; here it must still run each
    # step, log it and list the exit statuses (the GPU tests skip, the GPU benchmark refuses)
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run the real GPU checks")
    script = SCRIPT.parents[1] / "kernels" / "gpu_check.sh"
    env = dict(os.environ, OUT=str(tmp_path), PY=sys.executable, TESTS_LIMIT="240",
               BENCH_LIMIT="120")
    proc = subprocess.run(["bash", str(script), "run"], capture_output=True, text=True,
                          timeout=420, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = (tmp_path / "summary.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in summary] == ["environment", "gpu_tests", "bench_lif"]
    assert summary[1].startswith("gpu_tests: exit 0 "), summary
    tests_log = (tmp_path / "gpu_tests.log").read_text()
    assert "needs a CUDA device" in tests_log and " passed" not in tests_log, tests_log
    assert summary[2].startswith("bench_lif: exit 2 "), summary
    assert "no CUDA device" in (tmp_path / "bench_lif.log").read_text()
    usage = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_train_speed_quick_run_prints_every_estimators_goals():
    # synthetic data of the real shapes: no ../shared files needed
    out = _run_bench("train_speed.py", "--quick", timeout=900)
    goals = out[out.rindex("### Goals"):]
    rows = [line for line in goals.splitlines()[4:] if line.startswith("|")]
    names = [line.split("|")[1].strip() for line in rows]
    for prefix in ("ViT ssa:", "ViT sdsa:", "ViT qk:", "MLP:", "SSM:"):
        assert any(name.startswith(prefix) for name in names), goals
    assert any("SpikeDecoderLM" in name or "twin's" in name for name in names), goals
    for line in rows:
        assert line.rstrip(" |").endswith(("met", "NOT MET")), line
    for table in ("SpikingSSMClassifier (default) training and inference",
                  "Length 1,024, one channel"):
        assert table in out


def test_lm_stream_memory_benchmark_quick_run_prints_the_three_peaks():
    out = _run_bench("lm_stream_memory.py", "--quick", "--steps", "2", timeout=300)
    rows = {cells[0]: cells for cells in _tables(out)[0][1]}
    assert list(rows) == ["baseline", "stream", "list"], out
    assert all(float(cells[1]) > 0 for cells in rows.values())
    assert "list / stream peak:" in out
