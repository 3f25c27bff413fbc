"""Batch-norm statistics recomputed at the end of fit (snnsk.estimators.recalibration)."""

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from torch import nn

from snnsk import SpikingMLPClassifier, SpikingViTClassifier
from snnsk.estimators.recalibration import batch_norm_layers, recalibrate_batch_norm


class LinearNorm(nn.Module):
    """Linear → Dropout → BatchNorm1d: the norm's input is known in closed form."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 4)
        self.dropout = nn.Dropout(0.5)
        self.norm = nn.BatchNorm1d(4, momentum=0.1)

    def forward(self, x):
        return self.norm(self.dropout(self.linear(x)))


def _net(batch_size=10):
    net = NeuralNet(LinearNorm, criterion=nn.MSELoss, batch_size=batch_size, max_epochs=0,
                    train_split=None)
    return net.initialize()


def test_running_statistics_are_those_of_the_data_with_the_final_weights():
    net = _net()
    X = np.random.default_rng(0).normal(2.0, 3.0, size=(40, 3)).astype(np.float32)
    with torch.no_grad():
        z = net.module_.linear(torch.as_tensor(X))  # dropout off: the inference-time input
    used = recalibrate_batch_norm(net, X, max_samples=100)
    norm = net.module_.norm
    # a single norm: exact statistics accumulated over the net's batches of 10
    assert used == 40 and int(norm.num_batches_tracked) == 4
    torch.testing.assert_close(norm.running_mean, z.mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(norm.running_var, z.var(0, unbiased=True), rtol=1e-5, atol=1e-5)
    # the layer's own momentum and the module's mode come back
    assert norm.momentum == 0.1 and net.module_.training is True


class TwoNorms(nn.Module):
    """Two Linear → BN stages, registered in the reverse of their forward order."""

    def __init__(self):
        super().__init__()
        self.second = nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2))
        self.first = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())

    def forward(self, x):
        return self.second(self.first(x))


def test_each_layer_gets_the_statistics_of_its_calibrated_input():
    """The second norm's running mean is the mean of its input when the first norm normalises
    with the statistics of the whole sample (not with those of batches)."""
    net = NeuralNet(TwoNorms, criterion=nn.MSELoss, batch_size=8, max_epochs=0,
                    train_split=None).initialize()
    X = torch.as_tensor(np.random.default_rng(2).normal(1.0, 2.0, size=(32, 3)).astype(np.float32))
    recalibrate_batch_norm(net, X.numpy())
    first, second = net.module_.first, net.module_.second
    with torch.no_grad():
        z1 = first[0](X)
        torch.testing.assert_close(first[1].running_mean, z1.mean(0), rtol=1e-5, atol=1e-5)
        normed = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + first[1].eps)
        z2 = second[0](torch.relu(normed * first[1].weight + first[1].bias))
        torch.testing.assert_close(second[1].running_mean, z2.mean(0), rtol=1e-5, atol=1e-5)
        # batches of 8 normalised by their own statistics would have given another input
        first[1].train()
        batched = torch.cat([second[0](first(X[i:i + 8])) for i in range(0, 32, 8)])
    assert not torch.allclose(batched.mean(0), z2.mean(0), atol=1e-3)


def test_a_sample_of_the_data_is_used_beyond_max_samples():
    net = _net()
    X = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    assert recalibrate_batch_norm(net, X, max_samples=20, seed=3) == 20
    first = net.module_.norm.running_mean.clone()
    recalibrate_batch_norm(net, X, max_samples=20, seed=3)
    torch.testing.assert_close(net.module_.norm.running_mean, first)  # same seed, same subset
    recalibrate_batch_norm(net, X, max_samples=20, seed=4)
    assert not torch.allclose(net.module_.norm.running_mean, first)


def test_a_module_without_batch_norm_is_left_alone(digits):
    X, y = digits
    clf = SpikingMLPClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    clf.fit(X[:50], y[:50])
    assert batch_norm_layers(clf.module_) == []
    assert recalibrate_batch_norm(clf, X[:50], y[:50]) == 0


def test_fit_ends_with_statistics_of_the_final_weights(digits):
    """After fit, the ViT's running statistics equal a fresh recalibration pass."""
    X, y = digits
    clf = SpikingViTClassifier(embed_dim=16, depth=1, heads=2, max_epochs=1, batch_size=32,
                               random_state=0).fit(X[:96], y[:96])
    after_fit = [m.running_mean.clone() for m in batch_norm_layers(clf.module_)]
    recalibrate_batch_norm(clf, clf._validate_X(X[:96], reset=False))
    for m, kept in zip(batch_norm_layers(clf.module_), after_fit):
        torch.testing.assert_close(m.running_mean, kept, rtol=1e-5, atol=1e-6)


def test_an_interrupted_fit_still_recalibrates(digits):
    """skorch ends an interrupted fit normally: on_train_end (and the calibration) still run."""
    X, y = digits
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_batch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    clf = SpikingViTClassifier(embed_dim=16, depth=1, heads=2, max_epochs=3, batch_size=32,
                               random_state=0, callbacks=[Interrupt()]).fit(X[:96], y[:96])
    after_fit = [m.running_mean.clone() for m in batch_norm_layers(clf.module_)]
    # the momentum-0.1 average after the one training batch is far from the calibrated one
    recalibrate_batch_norm(clf, clf._validate_X(X[:96], reset=False))
    for m, kept in zip(batch_norm_layers(clf.module_), after_fit):
        torch.testing.assert_close(m.running_mean, kept, rtol=1e-5, atol=1e-6)
    assert clf.predict(X[:5]).shape == (5,)
