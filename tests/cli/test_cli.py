import subprocess
import sys

import joblib

from snnsk.cli import main
from snnsk.cli.demo import run_demo, run_digits_demo

TEXT = "\n\n".join(
    f"Paragraph {i}: the spiking model reads this text and learns which letter comes next."
    for i in range(8))


def test_lm_demo_runs_a_real_grid_search(capsys, tmp_path):
    out = tmp_path / "best.joblib"
    result = run_demo(grid={"threshold": [0.5, 1.0], "heads": [2]}, cv=2, max_epochs=1,
                      out=str(out), sample_tokens=20, progress=False, embed_dim=16,
                      context_length=32, batch_size=32)
    printed = capsys.readouterr().out
    assert len(result.table) == 2 and set(result.table["threshold"]) == {0.5, 1.0}
    assert "mean_test_score" in printed and "bits_per_char" in printed and "firing rate" in printed
    assert list(result.held_out["model"]) == ["SpikeDecoderLM (best, spiking)",
                                              "SpikeDecoderLM (spiking='none')", "character bigram"]
    assert result.held_out["vs_non_spiking"].iloc[1] == 1.0
    assert 0 < result.firing_rate < 1
    assert result.sample.startswith("The ") and len(result.sample) == 24
    loaded = joblib.load(out)
    assert loaded[-1].threshold == result.search.best_params_["lm__threshold"]


def test_demo_on_a_user_text_file_from_the_command_line(capsys, tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(TEXT)
    out = tmp_path / "model.joblib"
    assert main(["demo", "--text", str(path), "--epochs", "1", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert str(path) in printed and "heads" in printed and out.exists()


def test_digits_demo_runs_a_real_grid_search(capsys):
    search, table = run_digits_demo(grid={"threshold": [0.5, 1.0], "timesteps": [2]}, cv=2)
    out = capsys.readouterr().out
    assert len(table) == 2 and set(table["threshold"]) == {0.5, 1.0}
    assert "mean_test_score" in out and "firing_rate" in out
    assert 0.8 < search.best_score_ <= 1.0


def test_help_and_bad_usage():
    result = subprocess.run([sys.executable, "-m", "snnsk.cli", "demo", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert "threshold x timesteps x heads" in result.stdout and "--text" in result.stdout
    result = subprocess.run([sys.executable, "-m", "snnsk.cli", "nonsense"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_main_reports_errors_in_one_line(capsys, tmp_path):
    assert main(["demo", "--task", "digits", "--cv", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnsk demo: error: argument --cv:") and err.count("\n") == 1
    assert main(["demo", "--text", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("one paragraph only")
    assert main(["demo", "--text", str(short)]) == 2
    assert "needs at least 3" in capsys.readouterr().err  # cv=2 folds + held-out documents
