"""Every estimator searches over numpy grids and scipy distributions (numpy scalars as values)."""

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from snnsk import SpikeDecoderLM, SpikingMLPClassifier, SpikingSSMClassifier, SpikingViTClassifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:60] / 16).astype(np.float32), y[:60]


CASES = {
    "mlp": (lambda: SpikingMLPClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0),
            {"timesteps": np.arange(2, 4), "threshold": np.linspace(0.5, 1.0, 2),
             "refractory": np.arange(0, 2)}),
    "vit": (lambda: SpikingViTClassifier(embed_dim=8, max_epochs=1, random_state=0,
                                         image_shape=(8, 8)),
            {"depth": np.arange(1, 3), "heads": np.array([2, 4]),
             "mlp_ratio": np.linspace(1.0, 2.0, 2), "tau": np.linspace(2.0, 3.0, 2)}),
    "ssm": (lambda: SpikingSSMClassifier(embed_dim=8, depth=1, max_epochs=1, random_state=0),
            {"d_state": np.arange(8, 17, 8), "threshold": np.linspace(0.3, 0.5, 2),
             "bidirectional": np.array([True, False]), "dropout": np.linspace(0.0, 0.1, 2)}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_grid_of_numpy_values(name, digits):
    make, grid = CASES[name]
    search = GridSearchCV(make(), grid, cv=2, error_score="raise").fit(*digits)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert len(search.cv_results_["params"]) == np.prod([len(v) for v in grid.values()])


def test_language_model_grid_of_numpy_values():
    docs = ["the cat sat on the mat. " * 3, "the dog sat on the log. " * 3] * 2
    lm = SpikeDecoderLM(embed_dim=8, depth=1, context_length=16, max_epochs=1, random_state=0)
    grid = {"heads": np.array([1, 2]), "timesteps": np.arange(1, 3),
            "threshold": np.linspace(0.25, 0.5, 2)}
    search = GridSearchCV(lm, grid, cv=2, error_score="raise").fit(docs)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


SCIPY_CASES = {
    "mlp": (CASES["mlp"][0], {"threshold": stats.uniform(0.3, 0.7), "timesteps": stats.randint(2, 5),
                              "tau": stats.uniform(1.5, 1.0), "alpha": stats.loguniform(0.5, 4.0)}),
    "vit": (CASES["vit"][0], {"depth": stats.randint(1, 3), "mlp_ratio": stats.uniform(1.0, 1.0),
                              "threshold": stats.uniform(0.5, 0.5)}),
    "ssm": (CASES["ssm"][0], {"dropout": stats.uniform(0.0, 0.2), "threshold": stats.uniform(0.2, 0.5),
                              "ssm_lr": stats.loguniform(1e-4, 1e-2)}),
}


@pytest.mark.parametrize("name", list(SCIPY_CASES))
def test_scipy_distributions(name, digits):
    make, distributions = SCIPY_CASES[name]
    search = RandomizedSearchCV(make(), distributions, n_iter=2, cv=2, random_state=0,
                                error_score="raise").fit(*digits)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_language_model_scipy_distributions():
    docs = ["the cat sat on the mat. " * 3, "the dog sat on the log. " * 3] * 2
    lm = SpikeDecoderLM(embed_dim=8, heads=2, depth=1, context_length=16, max_epochs=1,
                        random_state=0)
    search = RandomizedSearchCV(lm, {"timesteps": stats.randint(1, 3),
                                     "threshold": stats.uniform(0.25, 0.5),
                                     "mlp_ratio": stats.uniform(1.0, 2.0)},
                                n_iter=2, cv=2, random_state=0, error_score="raise").fit(docs)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
