"""`snnsk fit / search / generate / report` end to end on small files: outputs, exit codes, errors."""

import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest

import snnsk
from snnsk.cli import main
from snnsk.datasets import load_sequential_digits
from snnsk.analysis.metrics import spike_report

TEXT = "\n\n".join(
    f"Paragraph {i}: The spiking model reads this text and learns which letter comes next."
    for i in range(8))

TINY = {
    "lm": ["embed_dim=16", "heads=2", "depth=1", "context_length=32", "max_epochs=1"],
    "ssm": ["embed_dim=16", "depth=1", "d_state=8", "max_epochs=2"],
    "mlp": ["hidden_layer_sizes=(16,)", "max_epochs=2"],
    "vit": ["embed_dim=16", "depth=1", "heads=2", "max_epochs=1"],
}

def params(kind):
    return [arg for p in TINY[kind] for arg in ("--param", p)]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    X, y = load_sequential_digits()
    X, y = X[:120], y[:120]
    paths = {"text": root / "book.txt", "seq": root / "seq.npz", "seq3": root / "seq3.npz",
             "csv": root / "digits.csv", "images": root / "images.npz",
             "images4": root / "images4.npz"}
    paths["text"].write_text(TEXT)
    np.savez(paths["seq"], X=X, y=y)
    np.savez(paths["seq3"], X=np.stack([X, 1 - X], axis=-1), y=y)   # (n, L, C) with C = 2
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    frame.insert(0, "digit", y)                                         # label first: --target
    frame.to_csv(paths["csv"], index=False)
    np.savez(paths["images"], X=X.reshape(-1, 8, 8), y=y)
    np.savez(paths["images4"], X=X.reshape(-1, 1, 8, 8), y=y)  # (n, C, H, W): not sequences
    return paths


@pytest.fixture(scope="module")
def fitted(files, tmp_path_factory):
    """A language model and a state-space classifier fitted once through the command."""
    root = tmp_path_factory.mktemp("models")
    models = {"lm": root / "lm.joblib", "ssm": root / "ssm.joblib"}
    assert main(["fit", "lm", str(files["text"]), "--out", str(models["lm"]), *params("lm")]) == 0
    assert main(["fit", "ssm", str(files["seq"]), "--out", str(models["ssm"]),
                 *params("ssm")]) == 0
    return models


# ---------------------------------------------------------------------- fit
@pytest.mark.parametrize("kind, data, extra", [
    ("ssm", "seq", []),
    ("ssm", "seq3", []),
    ("mlp", "csv", ["--target", "digit"]),
    ("vit", "images", []),
])
def test_fit_saves_a_model_that_loads_and_predicts(capsys, files, tmp_path, kind, data, extra):
    out = tmp_path / "model.joblib"
    code, printed, err = run(capsys, "fit", kind, files[data], "--out", out, *params(kind), *extra)
    assert code == 0, err
    assert "fitted" in printed and "training accuracy" in printed and str(out) in printed
    model = joblib.load(out)
    assert type(model).__name__ == {"ssm": "SpikingSSMClassifier", "mlp": "SpikingMLPClassifier",
                                    "vit": "SpikingViTClassifier"}[kind]
    assert model.random_state == 0 and model.max_epochs == int(TINY[kind][-1].split("=")[1])
    with np.load(files["seq"]) as arrays:
        X, y = arrays["X"], arrays["y"]
    if data == "images":
        X = X.reshape(-1, 8, 8)
    elif data == "seq3":
        X = np.stack([X, 1 - X], axis=-1)
    predictions = model.predict(X)
    assert predictions.shape == (len(y),) and set(predictions) <= set(y)


def test_fit_lm_on_a_text_file_and_the_default_seed(fitted, files):
    lm = joblib.load(fitted["lm"])
    assert type(lm).__name__ == "SpikeDecoderLM" and lm.embed_dim == 16 and lm.random_state == 0
    assert np.isfinite(lm.score([TEXT.split("\n\n")[0]]))
    # the default random_state makes the command reproducible
    again = fitted["lm"].with_name("again.joblib")
    assert main(["fit", "lm", str(files["text"]), "--out", str(again), *params("lm")]) == 0
    docs = ["The spiking model"]
    np.testing.assert_array_equal(joblib.load(again).predict_proba(docs), lm.predict_proba(docs))


def test_fit_default_output_path(capsys, files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, printed, _ = run(capsys, "fit", "ssm", files["seq"], *params("ssm"))
    assert code == 0 and (tmp_path / "snnsk_ssm.joblib").exists()


def test_param_values_are_python_literals(capsys, files, tmp_path):
    out = tmp_path / "mlp.joblib"
    code, _, err = run(capsys, "fit", "mlp", files["csv"], "--target", "digit", "--out", out,
                       "--param", "hidden_layer_sizes=(12, 8)", "--param", "max_epochs=1",
                       "--param", "surrogate=sigmoid", "--param", "alpha=None",
                       "--param", "threshold=0.75", "--param", "optimizer__weight_decay=0.01")
    assert code == 0, err
    model = joblib.load(out)
    assert model.hidden_layer_sizes == (12, 8) and model.surrogate == "sigmoid"
    assert model.alpha is None and model.threshold == 0.75
    assert model.optimizer_.param_groups[0]["weight_decay"] == 0.01


# ------------------------------------------------------------------- search
def test_search_prints_results_saves_them_and_the_best_model(capsys, files, tmp_path):
    results, out = tmp_path / "results.csv", tmp_path / "best.joblib"
    code, printed, err = run(capsys, "search", "ssm", files["seq"], *params("ssm"),
                             "--grid", "threshold=0.3,0.6", "--grid", "sampling=threshold,expected",
                             "--cv", 2, "--results", results, "--out", out)
    assert code == 0, err
    assert "4 candidates x 2 folds = 8 fits" in printed and "mean_test_score" in printed
    table = pd.read_csv(results)
    assert len(table) == 4
    assert set(table["param_threshold"]) == {0.3, 0.6}
    assert set(table["param_sampling"]) == {"threshold", "expected"}
    assert table["mean_test_score"].between(0, 1).all()
    best = table.loc[table["rank_test_score"].idxmin()]
    model = joblib.load(out)
    assert (model.threshold, model.sampling) == (best["param_threshold"], best["param_sampling"])
    assert model.embed_dim == 16  # --param applies to every candidate


def test_search_lm_with_a_tuple_valued_grid_split_at_top_level_commas(capsys, files, tmp_path):
    results = tmp_path / "lm.csv"
    code, printed, err = run(capsys, "search", "lm", files["text"], *params("lm"),
                             "--grid", "threshold=0.25,0.5", "--cv", 2, "--results", results)
    assert code == 0, err
    assert "mean log-likelihood per token" in printed
    table = pd.read_csv(results)
    assert sorted(table["param_threshold"]) == [0.25, 0.5] and (table["mean_test_score"] < 0).all()
    code, printed, err = run(capsys, "search", "mlp", files["csv"], "--target", "digit",
                             "--param", "max_epochs=1", "--grid",
                             "hidden_layer_sizes=(8,),(8, 4)", "--cv", 2)
    assert code == 0, err
    assert "(8,)" in printed and "(8, 4)" in printed


# ----------------------------------------------------------------- generate
def test_generate_continues_the_prompt_reproducibly(capsys, fitted):
    argv = ("generate", fitted["lm"], "--prompt", "The ", "--max-new-tokens", 25,
            "--temperature", 0.8, "--top-k", 5, "--random-state", 3)
    code, first, err = run(capsys, *argv)
    assert code == 0, err
    text = first.rstrip("\n")
    assert text.startswith("The ") and len(text) == 4 + 25  # characters are the tokens
    assert run(capsys, *argv)[1] == first


def test_generate_from_a_saved_pipeline(capsys, fitted, tmp_path):
    from sklearn.pipeline import make_pipeline

    from snnsk.text import TextNormalizer
    pipeline = make_pipeline(TextNormalizer(), joblib.load(fitted["lm"]))
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipeline, path)
    code, printed, err = run(capsys, "generate", path, "--prompt", "The ", "--max-new-tokens", 5,
                             "--random-state", 0)
    assert code == 0, err
    assert printed.startswith("The ") and len(printed.rstrip("\n")) == 4 + 5


# ------------------------------------------------------------------- report
def test_report_prints_and_saves_the_spike_report(capsys, files, fitted, tmp_path):
    csv = tmp_path / "report.csv"
    code, printed, err = run(capsys, "report", fitted["ssm"], files["seq"], "--max-samples", 50,
                             "--csv", csv)
    assert code == 0, err
    assert "firing_rate" in printed and "energy per sample" in printed and "accuracy:" in printed
    saved = pd.read_csv(csv, index_col="layer")
    model = joblib.load(fitted["ssm"])
    with np.load(files["seq"]) as arrays:
        expected = spike_report(model, arrays["X"][:50])
    assert saved.loc["total", "energy_j"] == pytest.approx(expected.loc["total", "energy_j"])
    assert list(saved.index) == list(expected.index)


def test_report_of_a_language_model(capsys, files, fitted):
    code, printed, err = run(capsys, "report", fitted["lm"], files["text"], "--max-samples", 2)
    assert code == 0, err
    assert "energy per context window" in printed and "mean log-likelihood per token" in printed
    assert "blocks.0.attention.scores" in printed


# ------------------------------------------------------------------- errors
def _error_cases(files, fitted, tmp_path):
    not_a_model = tmp_path / "model.joblib"
    not_a_model.write_text("not a pickle")
    return [
        (["fit", "ssm", tmp_path / "missing.npz"], "missing.npz"),
        (["fit", "ssm", files["text"]], "must be a .npz file"),
        (["fit", "lm", files["seq"]], "learns a text file"),
        (["fit", "ssm", files["seq"], "--param", "colour=red"], "has no parameter 'colour'"),
        (["fit", "ssm", files["seq"], "--param", "threshold"], "NAME=VALUE"),
        (["fit", "ssm", files["seq"], "--param", "embed_dim=16", "--param", "embed_dim=8"],
         "given twice"),
        (["fit", "mlp", files["csv"], "--param", "threshold=high", "--param", "max_epochs=1",
          "--target", "digit"], "threshold"),
        (["fit", "mlp", files["csv"]], "Unknown label type: continuous"),  # last column: a pixel
        (["fit", "mlp", files["csv"], "--target", "label"], "'label' is not a column"),
        (["fit", "ssm", files["seq"], "--param", "max_epochs=1", "--param", "bogus__x=1"],
         "bogus__x"),
        (["search", "ssm", files["seq"]], "at least one --grid"),
        (["search", "ssm", files["seq"], "--grid", "thresold=0.5,1"], "no parameter 'thresold'"),
        (["search", "ssm", files["seq"], "--grid", "threshold=0.5,", "--cv", 2], "empty value"),
        (["search", "ssm", files["seq"], "--param", "threshold=0.5", "--grid", "threshold=0.5,1"],
         "both as --param and --grid"),
        (["search", "ssm", files["seq"], "--grid", "threshold=0.5,1", "--cv", 1],
         "at least 2 folds"),
        (["search", "ssm", files["seq"], "--grid", "threshold=0.5,1", "--cv", 50],
         "--cv 50: n_splits=50 cannot be greater than the number of members in each class"),
        (["search", "ssm", files["seq"], "--grid", "threshold=0.5,1", "--n-jobs", 0],
         "--n-jobs: must be a positive number"),
        (["search", "mlp", files["csv"], "--target", "digit", "--grid", "timesteps=2,0"],
         "--grid timesteps=0: timesteps must be a positive integer, got 0"),
        (["search", "lm", files["text"], "--grid", "precision=float32,float16"],
         "--grid precision='float16': precision must be one of"),
        (["fit", "mlp", files["csv"], "--target", "digit", "--param", "timesteps=0"],
         "--param: timesteps must be a positive integer, got 0"),
        (["fit", "ssm", files["images4"]], "X must be an array (n_samples, length)"),
        (["generate", fitted["ssm"], "--prompt", "The "], "does not write text"),
        (["generate", fitted["lm"], "--prompt", "The ~~"], "--prompt contains tokens the model "
                                                            "has never seen: ['~']"),
        (["generate", fitted["lm"], "--prompt", "The ", "--temperature", "-1"],
         "--temperature: must be a finite number >= 0"),
        (["generate", not_a_model, "--prompt", "x"], "not a model saved with joblib"),
        (["generate", tmp_path / "nothing.joblib", "--prompt", "x"], "nothing.joblib"),
        (["generate", fitted["lm"]], "--prompt"),
        (["report", fitted["ssm"], files["images"]], "channels"),
        (["fit", "cnn", files["seq"]], "invalid choice"),
    ]


def test_every_error_is_one_line_and_exit_code_2(capsys, files, fitted, tmp_path):
    for argv, phrase in _error_cases(files, fitted, tmp_path):
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert err.startswith("snnsk") and err.count("\n") == 1, (argv, err)
        assert phrase in err, (argv, err)


def test_model_kinds_map_to_the_classes_imported_by_the_command(monkeypatch):
    from snnsk.cli.params import MODELS, estimator_class
    from snnsk.estimators.lm import SpikeDecoderLM
    from snnsk.estimators.mlp import SpikingMLPClassifier
    from snnsk.estimators.sequence import SpikingSSMClassifier
    from snnsk.estimators.vision import SpikingViTClassifier

    expected = {"lm": SpikeDecoderLM, "ssm": SpikingSSMClassifier, "vit": SpikingViTClassifier,
                "mlp": SpikingMLPClassifier}
    # not looked up by name on the package: its attributes do not matter
    for name in ("SpikeDecoderLM", "SpikingSSMClassifier", "SpikingViTClassifier",
                 "SpikingMLPClassifier"):
        monkeypatch.delattr(snnsk, name)
    assert {kind: estimator_class(kind) for kind in MODELS} == expected
    with pytest.raises(ValueError, match="unknown model kind 'cnn'; choose from lm, ssm, vit, mlp"):
        estimator_class("cnn")


def _fails(*args, **kwargs):
    raise AssertionError("the estimator ran: the command should have refused its input first")


def test_wrong_input_is_refused_before_any_fit_or_prediction(capsys, files, fitted,
                                                             monkeypatch):
    from snnsk.estimators.mlp import SpikingMLPClassifier
    from snnsk.estimators.sequence import SpikingSSMClassifier

    for cls in (SpikingMLPClassifier, SpikingSSMClassifier):
        for method in ("fit", "partial_fit", "predict", "predict_proba", "spike_stats"):
            monkeypatch.setattr(cls, method, _fails)
    monkeypatch.setattr("snnsk.cli.commands.spike_report", _fails)
    cases = [
        (["fit", "mlp", files["csv"], "--target", "digit", "--param", "timesteps=0"], "timesteps"),
        (["fit", "mlp", files["csv"], "--param", "max_epochs=1"], "Unknown label type"),
        (["fit", "ssm", files["images4"]], "images4.npz"),
        (["fit", "ssm", files["seq"], "--param", "bogus__x=1"], "bogus__x"),
        (["search", "ssm", files["seq"], "--grid", "sampling=threshold,poisson"],
         "sampling='poisson'"),
        (["search", "ssm", files["seq"], "--grid", "threshold=0.5,1", "--cv", 50], "--cv 50"),
        (["report", fitted["ssm"], files["images"]], "channels"),
    ]
    for argv, phrase in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1 and phrase in err, (argv, err)


@pytest.mark.parametrize("error", [TypeError, ValueError, RuntimeError])
def test_an_error_raised_while_fitting_is_a_bug_and_keeps_its_traceback(capsys, files,
                                                                       monkeypatch, error):
    from snnsk.estimators.sequence import SpikingSSMClassifier

    def broken(self, *args, **kwargs):
        raise error("an internal error")

    monkeypatch.setattr(SpikingSSMClassifier, "initialize_module", broken)
    with pytest.raises(error, match="an internal error"):
        main(["fit", "ssm", str(files["seq"]), *params("ssm")])
    assert capsys.readouterr().err == ""  # nothing printed in its place


def test_an_internal_error_of_report_and_generate_propagates(files, fitted, monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("an internal error")

    monkeypatch.setattr("snnsk.cli.commands.spike_report", broken)
    with pytest.raises(TypeError, match="an internal error"):
        main(["report", str(fitted["ssm"]), str(files["seq"])])
    from snnsk.estimators.lm import SpikeDecoderLM
    monkeypatch.setattr(SpikeDecoderLM, "generate", broken)
    with pytest.raises(TypeError, match="an internal error"):
        main(["generate", str(fitted["lm"]), "--prompt", "The "])


def test_the_command_line_prints_the_traceback_of_a_bug(tmp_path):
    # the console script and `python -m snnsk.cli` let the exception out: Python prints it
    code = ("import sys; from snnsk.estimators.sequence import SpikingSSMClassifier as C\n"
            "def broken(self, *a, **k): raise ValueError('an internal error')\n"
            "C.initialize_module = broken\n"
            "from snnsk.cli import main; sys.exit(main(sys.argv[1:]))")
    rng = np.random.RandomState(0)
    data = tmp_path / "seq.npz"
    np.savez(data, X=rng.rand(20, 6), y=np.arange(20) % 2)
    result = subprocess.run([sys.executable, "-c", code, "fit", "ssm", str(data),
                             "--out", str(tmp_path / "m.joblib"), *params("ssm")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "in broken" in result.stderr and "ValueError: an internal error" in result.stderr


@pytest.mark.parametrize("command, options", [
    ("fit", ["--param", "--target", "--out", "DATA"]),
    ("search", ["--grid", "--cv", "--scheduler", "--results", "--n-jobs", "dask worker"]),
    ("generate", ["--prompt", "--max-new-tokens", "--temperature", "--top-k", "--random-state"]),
    ("report", ["--csv", "--max-samples", "energy"]),
    ("demo", ["--text", "--task"]),
])
def test_help_of_every_subcommand(capsys, command, options):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    for option in options:
        assert option in out


def test_every_snnsk_command_line_in_the_readme_parses():
    import pathlib
    import re
    import shlex

    from snnsk.cli import build_parser
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    lines = [line for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
             for line in block.splitlines() if line.startswith("snnsk ")]
    assert any(" search " in line and "--scheduler" in line for line in lines)
    assert {shlex.split(line)[1] for line in lines} >= {"fit", "search", "generate", "report"}
    parser = build_parser()
    for line in lines:
        args = parser.parse_args(shlex.split(line, comments=True)[1:])
        assert callable(args.func), line
