"""Shared, seeded fixtures."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def small_fitted_mlp(digits):
    """A SpikingMLPClassifier (16, 8) after one epoch on 200 digits; threshold 0.3 so it spikes."""
    from snnsk import SpikingMLPClassifier
    X, y = digits
    return SpikingMLPClassifier(hidden_layer_sizes=(16, 8), threshold=0.3, max_epochs=1,
                                random_state=0).fit(X[:200], y[:200])
