"""An estimator fitted on any device loads and predicts on a machine without a GPU.

Each estimator is fitted on ``device`` (the CPU everywhere; a CUDA device with
``pytest -m gpu`` where one is usable), saved with ``joblib.dump`` and loaded
by a fresh Python process that sees no GPU (``CUDA_VISIBLE_DEVICES=''``).

* Fitted on the CPU, the loaded model's outputs equal the original's exactly.
* Fitted on a GPU, the loader runs on the CPU, whose float arithmetic differs
  from the GPU's in the last bits; a potential that close to the threshold
  flips a spike, so the bounds are: at least 95 % of the predicted classes
  agree, and the language model's bits per character agree within 1 %.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch

from snnsk import SpikeDecoderLM, SpikingMLPClassifier, SpikingSSMClassifier, SpikingViTClassifier
from snnsk.datasets import load_corpus, load_sequential_digits

_NO_GPU = "needs a CUDA device (torch.cuda.is_available() is False)"
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=[
        pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason=_NO_GPU)]),
]
N_TEST = 60


def _classifiers(device, digits):
    """name -> (estimator, X_train, y_train, X_test); tiny models, a few seconds each on 2 cores."""
    X, y = digits
    Xs, ys = load_sequential_digits()
    common = dict(device=device, random_state=0)
    return {
        "mlp": (SpikingMLPClassifier(hidden_layer_sizes=(32,), threshold=0.3, max_epochs=3,
                                     **common), X[:300], y[:300], X[-N_TEST:]),
        "ssm": (SpikingSSMClassifier(embed_dim=16, depth=1, d_state=8, max_epochs=2, **common),
                Xs[:200], ys[:200], Xs[-N_TEST:]),
        "vit": (SpikingViTClassifier("sdsa", image_shape=(8, 8), patch_size=2, embed_dim=16,
                                     depth=1, heads=2, max_epochs=2, **common),
                X[:200], y[:200], X[-N_TEST:]),
    }


LOADER = textwrap.dedent("""
    import json, sys
    import joblib, numpy as np, torch
    assert not torch.cuda.is_available()
    folder, names = sys.argv[1], sys.argv[2:]
    out = {}
    for name in names:
        model, X_test = joblib.load(f"{folder}/{name}.joblib"), joblib.load(f"{folder}/{name}.x")
        if name == "lm":
            out[name] = dict(device=str(model.device), bits=model.bits_per_char(X_test),
                             text=model.generate("The ", 20, random_state=0))
        else:
            out[name] = dict(device=str(model.device), proba=model.predict_proba(X_test).tolist(),
                             pred=model.predict(X_test).tolist())
    print(json.dumps(out))
""")


def _load_without_gpu(folder: Path, names) -> dict:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", LOADER, str(folder), *names], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("device", DEVICES)
def test_saved_on_a_device_loads_and_predicts_without_a_gpu(device, digits, tmp_path):
    expected = {}
    for name, (clf, X, y, X_test) in _classifiers(device, digits).items():
        clf.fit(X, y)
        joblib.dump(clf, tmp_path / f"{name}.joblib")
        joblib.dump(X_test, tmp_path / f"{name}.x")
        expected[name] = (clf.predict_proba(X_test), clf.predict(X_test))
    docs = load_corpus()
    lm = SpikeDecoderLM(context_length=16, embed_dim=16, heads=2, depth=1, timesteps=2,
                        max_epochs=1, batch_size=8, device=device, random_state=0).fit(docs[:8])
    joblib.dump(lm, tmp_path / "lm.joblib")
    joblib.dump(docs[8:10], tmp_path / "lm.x")
    lm_bits, lm_text = lm.bits_per_char(docs[8:10]), lm.generate("The ", 20, random_state=0)

    loaded = _load_without_gpu(tmp_path, [*expected, "lm"])

    for name, (proba, pred) in expected.items():
        got = loaded[name]
        assert got["device"] == "cpu", name
        if device == "cpu":
            np.testing.assert_array_equal(np.asarray(got["proba"], dtype=proba.dtype), proba,
                                          err_msg=name)
            assert got["pred"] == pred.tolist(), name
        else:
            agreement = np.mean(np.asarray(got["pred"]) == pred)
            assert agreement >= 0.95, f"{name}: {agreement:.1%} of the predictions agree"
    assert loaded["lm"]["device"] == "cpu"
    if device == "cpu":
        assert loaded["lm"]["bits"] == lm_bits
        assert loaded["lm"]["text"] == lm_text
    else:
        assert abs(loaded["lm"]["bits"] - lm_bits) <= 0.01 * lm_bits
