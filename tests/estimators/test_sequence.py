"""SpikingSSMClassifier: input forms, padding, seeding, scikit-learn integration, bad input."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks

from snnsk import SpikingSSMClassifier
from snnsk.datasets import LISTOPS_TOKENS, load_sequential_digits, make_listops
from snnsk.estimators.sequence import EXPECTED_FAILED_CHECKS
from snnsk.layers.ssm import check_sampling

SMALL = dict(embed_dim=16, depth=1, d_state=8, max_epochs=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_sequential_digits()
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return SpikingSSMClassifier(**SMALL).fit(X, y)


def _ragged(n=12, seed=0, channels=None):
    rng = np.random.RandomState(seed)
    shape = (lambda L: (L,)) if channels is None else (lambda L: (L, channels))
    X = [rng.rand(*shape(L)).astype(np.float32) for L in rng.randint(3, 20, size=n)]
    return X, np.arange(n) % 3


def test_learns_sequential_digits_well_above_chance():
    X, y = load_sequential_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    clf = SpikingSSMClassifier(embed_dim=32, depth=1, d_state=16, bidirectional=True,
                               max_epochs=6, batch_size=32, lr=1e-2, random_state=0)
    # chance is 0.1 (this seed scores 0.46); the 0.95 bar of the full model is in bench/ssm.py
    assert clf.fit(Xtr, ytr).score(Xte, yte) > 0.35


def test_two_epochs_on_permuted_digits_are_well_above_chance():
    # The default model after a 2-epoch fit (the budget of a successive-halving search's
    # first round). Its pooled readout once sat at chance (0.11) for several epochs; the
    # original P-SpikeSSM code reaches 0.30 at this budget. This seed scores 0.72.
    X, y = load_sequential_digits(permute=True, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    clf = SpikingSSMClassifier(max_epochs=2, random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.30


def test_inference_statistics_are_those_of_the_final_weights(digits):
    # the twin draws no random numbers, so the calibrated statistics can be recomputed
    # exactly; 200 samples are fewer than the calibration's 256, so it sees them all
    X, y = digits[0][:200], digits[1][:200]
    clf = SpikingSSMClassifier(**{**SMALL, "max_epochs": 1}, spiking="none").fit(X, y)
    module = clf.module_.eval()
    with torch.no_grad():
        pooled = module.pooled_features(torch.as_tensor(X[:, :, None])).double()
    torch.testing.assert_close(module.readout_norm.running_mean, pooled.mean(0).float(),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(module.readout_norm.running_var, pooled.var(0).float(),
                               rtol=1e-3, atol=1e-6)


def test_array_forms_and_string_labels(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"])[y]
    clf = SpikingSSMClassifier(**SMALL).fit(X[:, :, None], labels)
    assert clf.n_features_in_ == 1
    assert set(clf.predict(X[:20])) <= set(labels)
    proba = clf.predict_proba(X[:20])
    assert proba.shape == (20, 10)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    # (n, L) and (n, L, 1) are the same input
    np.testing.assert_array_equal(clf.predict(X[:20]), clf.predict(X[:20, :, None]))


def test_multichannel_and_ragged_input():
    X, y = _ragged(channels=3)
    clf = SpikingSSMClassifier(**SMALL).fit(X, y)
    assert clf.n_features_in_ == 3
    assert clf.predict(X).shape == (12,)
    with pytest.raises(ValueError, match="X has 2 channels per step, but SpikingSSMClassifier "
                                         "was fitted with 3"):
        clf.predict([np.zeros((5, 2))])


@pytest.mark.parametrize("sampling", ["threshold", "expected"])
def test_padding_never_changes_a_prediction(sampling):
    X, y = _ragged(n=30)
    clf = SpikingSSMClassifier(**SMALL, sampling=sampling).fit(X, y)
    together = clf.predict_proba(X)
    alone = np.vstack([clf.predict_proba([seq]) for seq in X])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), np.concatenate([clf.predict([s]) for s in X]))


def test_same_seed_same_model_and_seeded_bernoulli_inference(digits):
    X, y = digits
    a = SpikingSSMClassifier(**SMALL).fit(X, y)
    b = SpikingSSMClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X[:50]), b.predict_proba(X[:50]))
    a.set_params(sampling="bernoulli")
    first = a.predict_proba(X[:50])
    np.testing.assert_array_equal(a.predict_proba(X[:50]), first)
    a.set_params(sampling="threshold")
    assert not np.array_equal(a.predict_proba(X[:50]), first)


def test_sampling_set_after_fit_takes_effect_and_keeps_weights(fitted, digits):
    X, _ = digits
    clf = clone(fitted).fit(*digits)
    weights = clf.module_.decoder.weight.detach().clone()
    expected = clf.set_params(sampling="expected").predict_proba(X[:30])
    assert all(s.sampling == "expected" for s in clf.module_.samplers())
    assert torch.equal(clf.module_.decoder.weight, weights)
    clf.set_params(sampling="threshold", threshold=0.9)
    assert all(s.threshold == 0.9 for s in clf.module_.samplers())
    assert not np.allclose(clf.predict_proba(X[:30]), expected)


def test_ssm_dynamics_get_their_own_learning_rate_and_no_weight_decay(digits):
    clf = SpikingSSMClassifier(**SMALL, ssm_lr=5e-4, lr=2e-2).fit(*digits)
    groups = clf.optimizer_.param_groups
    ssm_ids = {id(p) for p in clf.module_.ssm_parameters()}
    ssm_groups = [g for g in groups if {id(p) for p in g["params"]} & ssm_ids]
    assert len(ssm_groups) == 1
    assert {id(p) for p in ssm_groups[0]["params"]} == ssm_ids
    assert ssm_groups[0]["lr"] == 5e-4 and ssm_groups[0]["weight_decay"] == 0.0
    others = [g for g in groups if g is not ssm_groups[0]]
    assert all(g["lr"] == 2e-2 and g["weight_decay"] > 0 for g in others)
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(clf.module_.parameters()))
    clf.set_params(ssm_lr=1e-4)
    assert [g["lr"] for g in clf.optimizer_.param_groups if g["weight_decay"] == 0.0] == [1e-4]


def test_grid_search_over_the_issue_grid(digits):
    X, y = digits
    grid = {"d_state": [4, 8], "depth": [1, 2], "threshold": [0.4, 0.6],
            "sampling": ["threshold", "expected"]}
    search = GridSearchCV(SpikingSSMClassifier(embed_dim=8, max_epochs=1, batch_size=64,
                                               random_state=0), grid, cv=2)
    search.fit(X[:120], y[:120])
    assert len(search.cv_results_["params"]) == 16
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.predict(X[:5]).shape == (5,)


def test_joblib_round_trip_predicts_identically(fitted, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "ssm.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_listops_tokens_with_lif_neurons():
    X, y = make_listops(60, min_length=5, max_length=40, random_state=0)
    clf = SpikingSSMClassifier(**{**SMALL, "max_epochs": 1}, vocab_size=len(LISTOPS_TOKENS),
                               spiking="lif", threshold=0.3)
    clf.fit(X, y)
    assert clf.predict(X[:7]).shape == (7,)
    with pytest.raises(ValueError, match=r"token ids must be in \[0, vocab_size=16\)"):
        clf.predict([np.array([1, 2, 16])])
    with pytest.raises(ValueError, match="integer token ids"):
        clf.predict([np.array([1.5, 2.0])])


def test_spike_stats_count_only_real_steps():
    X, y = _ragged(n=20)
    clf = SpikingSSMClassifier(**SMALL).fit(X, y)
    stats = clf.spike_stats(X)
    assert len(stats) == 2 and stats["neurons"].tolist() == [16, 16]
    # the same spikes counted sequence by sequence, with no padding anywhere
    spikes = {name: 0.0 for name in stats.index}
    layers = dict((name, m) for name, m in clf.module_.named_modules() if name in spikes)
    handles = [layers[n].register_forward_hook(
        lambda m, i, o, n=n: spikes.__setitem__(n, spikes[n] + float(o.sum()))) for n in spikes]
    clf.module_.eval()
    with torch.no_grad():
        for seq in X:
            clf.module_(torch.as_tensor(seq)[None, :, None])
    for h in handles:
        h.remove()
    steps = sum(len(seq) for seq in X)
    for name in stats.index:
        assert stats.loc[name, "spikes"] == pytest.approx(spikes[name], abs=1e-3)
        assert stats.loc[name, "firing_rate"] == pytest.approx(spikes[name] / (steps * 16))


@pytest.mark.parametrize("X, error, match", [
    (np.full((4, 5), np.nan), ValueError, "NaN or infinity"),
    (np.zeros(5), ValueError, r"for one sequence, pass \[sequence\]"),
    (np.zeros((2, 3, 4, 5)), ValueError, "X must be an array"),
    ([np.zeros(4), np.zeros((4, 2))], ValueError, "must be all"),
    ([np.zeros((4, 2)), np.zeros((3, 3))], ValueError, "different numbers of channels"),
    ([np.zeros(4), np.zeros(0)], ValueError, "sequence 1 of X is empty"),
    ([], ValueError, "X is empty"),
    ([np.array(["a", "b"])], ValueError, "not numeric"),
    ("abc", TypeError, "got a string"),
])
def test_bad_input_gets_a_clear_error(X, error, match):
    with pytest.raises(error, match=match):
        SpikingSSMClassifier(**SMALL).fit(X, np.zeros(len(X) if hasattr(X, "__len__") else 1))


@pytest.mark.parametrize("params, match", [
    (dict(sampling="poisson"), "sampling must be one of"),
    (dict(ssm_lr=0), "ssm_lr must be a positive number"),
    (dict(spiking="izhikevich"), "spiking must be one of"),
    (dict(tau=0.5), "tau"),
])
def test_bad_parameters_are_named_at_fit(params, match, digits):
    with pytest.raises(ValueError, match=match):
        SpikingSSMClassifier(**SMALL, **params).fit(*digits)


def test_sampler_check_is_shared_with_set_params(fitted):
    clf = clone(fitted)
    with pytest.raises(ValueError, match="sampling must be one of"):
        clf.set_params(sampling="x").fit(np.zeros((4, 3)), [0, 1, 0, 1])
    assert check_sampling("bernoulli") == "bernoulli"


# ------------------------------------------------------------ scikit-learn's estimator checks
@parametrize_with_checks(
    # one small block and two epochs: the checks take seconds
    [SpikingSSMClassifier(embed_dim=16, depth=1, d_state=8, max_epochs=2, random_state=0)],
    # the checks that take the columns of a 2-D X for a fixed number of features, where the
    # SSM reads steps of sequences of any length (the reasons are in EXPECTED_FAILED_CHECKS);
    # every other check passes (array-API input is skipped unless SCIPY_ARRAY_API is set)
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_what_check_classifiers_train_asks_besides_a_fixed_number_of_steps():
    X, y = make_blobs(n_samples=90, random_state=0)
    clf = SpikingSSMClassifier(**SMALL)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    clf.fit(X.tolist(), y.tolist())
    predicted, proba = clf.predict(X), clf.predict_proba(X)
    assert predicted.shape == (90,) and proba.shape == (90, 3)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


def test_training_batches_are_shuffled_unless_told_otherwise_and_init_sets_no_default():
    from torch.utils.data import RandomSampler, SequentialSampler, TensorDataset

    dataset = TensorDataset(torch.zeros(8, 1))
    clf = SpikingSSMClassifier()
    assert "iterator_train__shuffle" not in vars(clf)
    assert isinstance(clf.get_iterator(dataset, training=True).sampler, RandomSampler)
    assert isinstance(clf.get_iterator(dataset, training=False).sampler, SequentialSampler)
    in_order = SpikingSSMClassifier(iterator_train__shuffle=False)
    assert clone(in_order).get_params()["iterator_train__shuffle"] is False
    assert isinstance(clone(in_order).get_iterator(dataset, training=True).sampler,
                      SequentialSampler)


def test_partial_fit_refuses_another_channel_count_and_takes_another_length():
    rng = np.random.RandomState(0)
    y = np.arange(20) % 2
    clf = SpikingSSMClassifier(**{**SMALL, "max_epochs": 1})
    clf.partial_fit(rng.rand(20, 6, 2), y, classes=[0, 1])
    for channels, X in ((3, rng.rand(20, 6, 3)), (1, rng.rand(20, 6))):
        with pytest.raises(ValueError, match=f"X has {channels} channels per step, but "
                                             f"SpikingSSMClassifier was fitted with 2"):
            clf.partial_fit(X, y)
    clf.partial_fit(rng.rand(20, 9, 2), y)
    assert len(clf.history_) == 2 and clf.n_features_in_ == 2
