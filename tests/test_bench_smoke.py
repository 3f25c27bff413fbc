"""Smoke test of the LIF benchmark script: it runs and prints its tables (no timing checks)."""

import os
import subprocess
import sys
from pathlib import Path

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


def test_lm_benchmark_quick_run_prints_tables():
    script = SCRIPT.parent / "lm.py"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(script), "--quick", "--runs", "1"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tables = _tables(proc.stdout)
    assert [t[0][0] for t in tables] == ["tokens", "context"], proc.stdout
    training, generation = tables[0][1][0], tables[1][1][0]
    assert all(float(c) > 0 for c in training[:5])
    assert generation[-1] == "yes"  # cached and uncached generation wrote the same text


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


def test_vit_quality_quick_run_prints_both_tables():
    script = SCRIPT.parent / "vit_quality.py"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True,
                          timeout=600, env=env, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for model in ("SVC (RBF, default)", "SpikingViT ssa", "SpikingViT sdsa", "SpikingViT qk",
                  "SVC on flattened event frames"):
        assert model in out, out
    assert "Firing rate per spiking layer" in out and "blocks.0.attention.attention_neuron" in out
