"""The spiking mixin: parameter forwarding, set_params after fit, losses, spike stats, errors."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from snnsk import SpikingMLPClassifier
from snnsk.core.losses import MeanOverTimeLoss, TETLoss
from snnsk.core.neurons import NeuronConfig


@pytest.fixture(scope="module")
def fitted():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    clf = SpikingMLPClassifier(hidden_layer_sizes=(48, 32), max_epochs=5, random_state=0)
    return clf.fit(X[:400], y[:400]), X[400:600], y[400:600]


def test_spiking_params_reach_every_neuron():
    X = np.random.rand(40, 6).astype(np.float32)
    y = np.arange(40) % 3
    clf = SpikingMLPClassifier(hidden_layer_sizes=(5, 4), timesteps=3, threshold=0.7, tau=3.0,
                               reset="soft", refractory=1, surrogate="triangle", alpha=0.5,
                               max_epochs=1).fit(X, y)
    assert clf.module_.timesteps == 3
    expected = NeuronConfig(threshold=0.7, tau=3.0, reset="soft", refractory=1,
                            surrogate="triangle", alpha=0.5)
    assert clf.neuron_config() == expected
    for layer in clf.module_.neurons:
        assert layer.neuron == expected


def test_set_params_after_fit_takes_effect_and_keeps_weights(fitted):
    _, X, y = fitted
    clf = SpikingMLPClassifier(hidden_layer_sizes=(48,), max_epochs=5, random_state=0).fit(X, y)
    weights = clf.module_.linears[0].weight.detach().clone()
    before = clf.spike_stats(X).loc["neurons.0", "firing_rate"]
    assert before > 0
    clf.set_params(threshold=2.0, timesteps=6)
    assert clf.module_.timesteps == 6
    assert clf.module_.neurons[0].neuron == NeuronConfig(threshold=2.0)
    assert torch.equal(clf.module_.linears[0].weight, weights)
    after = clf.spike_stats(X)
    assert after.loc["neurons.0", "timesteps"] == 6
    assert after.loc["neurons.0", "firing_rate"] < before  # a higher threshold fires less
    clf.set_params(loss="mean")
    assert isinstance(clf.criterion_, MeanOverTimeLoss)
    clf.set_params(loss="tet", tet_lambda=0.05)
    assert isinstance(clf.criterion_, TETLoss) and clf.criterion_.lamb == 0.05
    clf.set_params(hidden_layer_sizes=(16,))  # architecture: module rebuilt
    assert clf.module_.linears[0].out_features == 16
    assert clf.predict(X).shape == (len(X),)


def test_a_bad_neuron_value_after_fit_changes_nothing():
    X = np.random.rand(40, 6).astype(np.float32)
    y = np.arange(40) % 3
    clf = SpikingMLPClassifier(hidden_layer_sizes=(5,), max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"tau must be >= 1"):
        clf.set_params(threshold=0.4, tau=0.5)  # a good value beside a bad one: neither applied
    assert clf.threshold == 1.0
    assert clf.module_.neurons[0].neuron == NeuronConfig()
    # numpy scalars, as parameter grids give them, are welcome and stored as numbers
    clf.set_params(threshold=np.float32(0.5), refractory=np.int64(1))
    assert clf.module_.neurons[0].neuron == NeuronConfig(threshold=0.5, refractory=1)


def test_clone_round_trips_every_parameter():
    clf = SpikingMLPClassifier(threshold=0.3, timesteps=7, tau=4.0, reset="soft", refractory=2,
                               surrogate="sigmoid", alpha=3.0, loss="mean", tet_lambda=0.2,
                               random_state=5, lr=0.01, optimizer__weight_decay=1e-4)
    params = clone(clf).get_params(deep=False)
    for name, value in clf.get_params(deep=False).items():
        assert params[name] == value, name


def test_get_loss_sees_per_timestep_outputs(fitted):
    clf, X, y = fitted
    seen = []

    class Spy(SpikingMLPClassifier):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            seen.append(tuple(y_pred.shape))
            return super().get_loss(y_pred, y_true, X=X, training=training)

    Spy(hidden_layer_sizes=(8,), timesteps=3, max_epochs=1, batch_size=50).fit(X[:100], y[:100])
    assert seen and all(len(s) == 3 and s[0] == 3 and s[2] == len(np.unique(y[:100])) for s in seen)


def test_predict_proba_is_softmax_of_time_averaged_logits(fitted):
    clf, X, _ = fitted
    clf.module_.eval()
    with torch.no_grad():
        logits = clf.module_(torch.as_tensor(X[:20]))
    expected = torch.softmax(logits.mean(0), dim=-1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X[:20]), expected, rtol=1e-5, atol=1e-7)


def test_spike_stats_counts_spikes(fitted):
    clf, X, _ = fitted
    stats = clf.spike_stats(X[:50])
    assert list(stats.index) == ["neurons.0", "neurons.1"]
    assert list(stats["neurons"]) == [48, 32]
    assert (stats["timesteps"] == clf.timesteps).all()
    # recount layer 0 by hand
    with torch.no_grad():
        x = torch.as_tensor(X[:50])
        z = clf.module_.linears[0](x).unsqueeze(0).expand(clf.timesteps, -1, -1)
        spikes = clf.module_.neurons[0](z)
    assert stats.loc["neurons.0", "spikes"] == spikes.sum().item()
    assert stats.loc["neurons.0", "firing_rate"] == pytest.approx(spikes.mean().item())


def test_interrupted_fit_leaves_a_usable_estimator(fitted):
    from skorch.callbacks import Callback
    _, X, y = fitted

    class Interrupt(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    clf = SpikingMLPClassifier(hidden_layer_sizes=(16,), max_epochs=50, random_state=0,
                               callbacks=[Interrupt()]).fit(X, y)
    assert len(clf.history) == 2
    assert clf.predict(X).shape == (len(X),)


@pytest.mark.parametrize("params, match", [
    (dict(timesteps=0), "timesteps must be a positive integer"),
    (dict(timesteps=2.5), "timesteps must be a positive integer"),
    (dict(threshold=0.0), "threshold must be > 0"),
    (dict(threshold=-1.0), "threshold must be > 0"),
    (dict(surrogate="relu"), "unknown surrogate 'relu'"),
    (dict(reset="none"), "reset must be 'hard' or 'soft'"),
    (dict(tau=0.5), "tau must be >= 1"),
    (dict(refractory=-1), "refractory must be a non-negative integer"),
    (dict(loss="hinge"), "loss must be one of"),
    (dict(tet_lambda=2.0), "tet_lambda must be a number in"),
    (dict(encoding="morse"), "encoding must be one of direct, rate, poisson, latency, got 'morse'"),
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes must be positive integers"),
])
def test_bad_hyperparameters_raise_at_fit(params, match):
    X = np.random.rand(10, 4)
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=match):
        SpikingMLPClassifier(max_epochs=1, **params).fit(X, y)


def test_bad_input_raises_clear_errors(fitted):
    clf, X, y = fitted
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SpikingMLPClassifier(max_epochs=1).fit(bad, y[:5])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.predict(X[0])
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        SpikingMLPClassifier(max_epochs=1).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="requires y"):
        SpikingMLPClassifier(max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="Unknown label type"):
        SpikingMLPClassifier(max_epochs=1).fit(X[:20], np.linspace(0, 1, 20))


def test_training_keeps_spikes_compact_and_the_result_is_unchanged():
    """Each training step runs inside compact_saved_spikes (spikes kept as int8), with exactly
    the weights a plain step gives."""
    from sklearn.datasets import load_digits

    from snnsk.core import memory
    from snnsk.estimators.base import SpikingMixin

    X, y = load_digits(return_X_y=True)
    X, y = (X[:96] / 16).astype(np.float32), y[:96]

    def fitted(compact):
        est = SpikingMLPClassifier(hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
        if not compact:  # skorch's own step, without the block
            est.train_step_single = lambda batch, **kw: super(
                SpikingMixin, est).train_step_single(batch, **kw)
        est.fit(X, y)
        blocks = []
        est.module_.register_forward_hook(
            lambda module, *_: blocks.append(module.training and memory._RECORD.get() is not None))
        est.partial_fit(X, y)
        return est, blocks

    (compact, blocks), (plain, plain_blocks) = fitted(True), fitted(False)
    assert blocks and blocks[0] and not any(plain_blocks)
    for a, b in zip(compact.module_.parameters(), plain.module_.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("cls", ["SpikingMLPClassifier", "SpikingViTClassifier",
                                 "SpikingSSMClassifier", "SpikeDecoderLM"])
def test_every_hyperparameter_is_checked_in_one_declared_place(cls):
    import inspect

    import snnsk
    from skorch import NeuralNet

    cls = getattr(snnsk, cls)
    skorch_params = set(inspect.signature(NeuralNet.__init__).parameters)
    own = {name for name in inspect.signature(cls.__init__).parameters
           if name not in skorch_params and name not in ("self", "kwargs") and "__" not in name}
    declared = set(cls._parameter_constraints) | set(cls._neuron_params)
    assert own - declared == set()
    # and the declared checks take numpy scalars as grids give them, and refuse booleans
    est = cls(timesteps=np.int64(3)) if "timesteps" in own else cls()
    est.check_params()
    with pytest.raises(ValueError, match="must be a positive integer"):
        cls(**{next(n for n in ("timesteps", "embed_dim") if n in own): True}).check_params()


@pytest.mark.parametrize("estimator, model", [
    ("SpikingMLPClassifier", "snnsk.models.mlp.SpikingMLP"),
    ("SpikingViTClassifier", "snnsk.models.spikformer.SpikingViT"),
    ("SpikingSSMClassifier", "snnsk.models.pspikessm.PSpikeSSM"),
    ("SpikeDecoderLM", "snnsk.models.decoder.SpikeDecoder"),
])
def test_model_and_estimator_defaults_are_equal(estimator, model):
    import importlib
    import inspect

    import snnsk

    estimator = getattr(snnsk, estimator)
    module_name, _, class_name = model.rpartition(".")
    model = getattr(importlib.import_module(module_name), class_name)

    def defaults(f):
        return {name: p.default for name, p in inspect.signature(f).parameters.items()
                if p.default is not inspect.Parameter.empty}

    ours, theirs = defaults(estimator.__init__), defaults(model.__init__)
    shared = set(ours) & set(theirs) - {"neuron"}
    assert shared, "the estimator and its model share no hyperparameter"
    assert {n: ours[n] for n in shared} == {n: theirs[n] for n in shared}
    # the model's own default neuron is the one the estimator builds from its defaults
    assert estimator().neuron_config() == estimator._base_neuron
    assert theirs["neuron"] is None
