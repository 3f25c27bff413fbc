import subprocess
import sys

from snnsk.cli import main
from snnsk.demo import run_demo


def test_demo_runs_a_real_grid_search(capsys):
    search, table = run_demo(grid={"threshold": [0.5, 1.0], "timesteps": [2]}, cv=2)
    out = capsys.readouterr().out
    assert len(table) == 2 and set(table["threshold"]) == {0.5, 1.0}
    assert "mean_test_score" in out and "firing_rate" in out
    assert 0.8 < search.best_score_ <= 1.0


def test_help_and_bad_usage():
    result = subprocess.run([sys.executable, "-m", "snnsk.cli", "demo", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "threshold x timesteps" in result.stdout
    result = subprocess.run([sys.executable, "-m", "snnsk.cli", "nonsense"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_main_reports_errors_in_one_line(capsys):
    assert main(["demo", "--cv", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnsk: error:") and err.count("\n") == 1
