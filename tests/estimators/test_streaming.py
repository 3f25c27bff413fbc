"""Classifiers fitted on a torch Dataset or skorch's SliceDataset, never loaded whole (the SSM: ragged sequences)."""

import numpy as np
import pytest
import torch
from skorch.helper import SliceDataset
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, cross_validate
from torch.utils.data import Dataset, TensorDataset

from snnsk import SpikingMLPClassifier, SpikingSSMClassifier, SpikingViTClassifier

MLP = dict(hidden_layer_sizes=(16,), threshold=0.5, max_epochs=2, batch_size=32, random_state=0)
VIT = dict(embed_dim=16, depth=1, heads=2, max_epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def arrays(digits):
    X, y = digits
    return X[:160], y[:160]


class Counting(Dataset):
    """(x, y) items from arrays, counting the loads; optionally without a targets attribute."""

    def __init__(self, X, y, targets=True):
        self.X, self.y = X, y
        self.loads = 0
        if targets:
            self.targets = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.loads += 1
        return self.X[i], self.y[i]


@pytest.mark.parametrize("cls, params, shape", [
    (SpikingMLPClassifier, MLP, (64,)),
    (SpikingViTClassifier, VIT, (8, 8)),
], ids=["mlp", "vit"])
def test_a_dataset_fits_and_predicts_as_the_arrays_do(arrays, cls, params, shape):
    X, y = arrays
    X = X.reshape(len(X), *shape)
    dataset = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    from_arrays = cls(**params).fit(X, y)
    from_dataset = cls(**params).fit(dataset, None)
    assert from_dataset.n_features_in_ == 64
    np.testing.assert_array_equal(from_dataset.classes_, from_arrays.classes_)
    np.testing.assert_array_equal(from_dataset.predict_proba(dataset), from_arrays.predict_proba(X))
    np.testing.assert_array_equal(from_dataset.predict(X), from_arrays.predict(X))
    assert from_dataset.score(dataset) == from_arrays.score(X, y)
    stats_d, stats_a = from_dataset.spike_stats(dataset), from_arrays.spike_stats(X)
    np.testing.assert_allclose(stats_d["firing_rate"], stats_a["firing_rate"])


def test_grid_search_over_a_slice_dataset_equals_the_arrays(arrays):
    X, y = arrays
    dataset = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    grid = {"threshold": [0.5, 1.0]}
    on_arrays = GridSearchCV(SpikingMLPClassifier(**MLP), grid, cv=3).fit(X, y)
    on_slices = GridSearchCV(SpikingMLPClassifier(**MLP), grid, cv=3).fit(
        SliceDataset(dataset, idx=0), y)
    for key in ("split0_test_score", "split1_test_score", "split2_test_score", "mean_test_score"):
        np.testing.assert_array_equal(on_slices.cv_results_[key], on_arrays.cv_results_[key])
    # the labels may be a SliceDataset too
    labels = SliceDataset(dataset, idx=1)
    again = GridSearchCV(SpikingMLPClassifier(**MLP), grid, cv=3).fit(
        SliceDataset(dataset, idx=0), labels)
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  on_arrays.cv_results_["mean_test_score"])


def test_cross_validate_and_successive_halving_run_over_slices(arrays):
    X, y = arrays
    dataset = TensorDataset(torch.as_tensor(X.reshape(-1, 8, 8)), torch.as_tensor(y))
    scores = cross_validate(SpikingViTClassifier(**VIT), SliceDataset(dataset), y, cv=2)
    assert scores["test_score"].shape == (2,)
    flat = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    search = HalvingGridSearchCV(SpikingMLPClassifier(**MLP), {"threshold": [0.5, 1.0]},
                                 resource="max_epochs", min_resources=1, max_resources=2,
                                 factor=2, cv=2).fit(SliceDataset(flat), y)
    assert search.best_params_["threshold"] in (0.5, 1.0)


def test_partial_fit_continues_on_a_dataset(arrays):
    X, y = arrays
    dataset = TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    clf = SpikingMLPClassifier(**MLP).fit(dataset, None)
    first = [p.detach().clone() for p in clf.module_.parameters()]
    clf.partial_fit(dataset, None)
    assert any(not torch.equal(a, b) for a, b in zip(first, clf.module_.parameters()))
    assert len(clf.history) == 2 * MLP["max_epochs"]


def test_labels_come_from_targets_without_loading_the_samples(arrays):
    X, y = arrays
    with_targets, without = Counting(X, y), Counting(X, y, targets=False)
    SpikingMLPClassifier(**MLP).fit(with_targets, None)
    SpikingMLPClassifier(**MLP).fit(without, None)
    epochs_loads = MLP["max_epochs"] * len(X)
    assert with_targets.loads == epochs_loads + 1  # + the first sample, for the input shape
    assert without.loads == epochs_loads + 1 + len(X)  # + one pass for the labels


def _bad(X, y, i, value):
    X = X.copy()
    X[i] = value
    return TensorDataset(torch.as_tensor(X), torch.as_tensor(y))


def test_bad_samples_are_named(arrays):
    X, y = arrays

    class Ragged(Counting):
        def __getitem__(self, i):
            x, label = super().__getitem__(i)
            return (x[:10] if i == 7 else x), label

    with pytest.raises(ValueError, match="sample 7 of X has shape \\(10,\\)"):
        SpikingMLPClassifier(**MLP).fit(Ragged(X, y), None)
    with pytest.raises(ValueError, match="sample 5 of X contains NaN"):
        SpikingMLPClassifier(**MLP).fit(_bad(X, y, 5, np.nan), None)

    class Unlabelled(Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i]

    with pytest.raises(ValueError, match="item 0 of the dataset must be an \\(x, y\\) pair"):
        SpikingMLPClassifier(**MLP).fit(Unlabelled(), None)
    with pytest.raises(ValueError, match="pass the labels as y"):
        SpikingMLPClassifier(**MLP).fit(SliceDataset(TensorDataset(torch.as_tensor(X))), None)
    with pytest.raises(ValueError, match="X is an empty dataset"):
        SpikingMLPClassifier(**MLP).fit(TensorDataset(torch.empty(0, 64), torch.empty(0)), None)


def test_predict_checks_the_fitted_input(arrays):
    X, y = arrays
    clf = SpikingViTClassifier(**VIT).fit(X.reshape(-1, 8, 8), y)
    two_channels = TensorDataset(torch.rand(4, 2, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="X has 2 channels, but SpikingViTClassifier was fitted on 1"):
        clf.predict(two_channels)
    mlp = SpikingMLPClassifier(**MLP).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        mlp.predict(TensorDataset(torch.rand(4, 10), torch.zeros(4)))
    with pytest.raises(ValueError, match="not seen in fit"):
        mlp.partial_fit(TensorDataset(torch.as_tensor(X[:8]), torch.full((8,), 42)), None)


# --------------------------------------------------------------------- the SSM's sequences
SSM = dict(embed_dim=16, depth=1, d_state=8, max_epochs=2, batch_size=8, random_state=0)


def _ragged(n=24, channels=2, seed=0):
    """Sequences of 3 to 19 steps, (L_i, channels), and three classes."""
    rng = np.random.RandomState(seed)
    X = [rng.rand(L, channels).astype(np.float32) for L in rng.randint(3, 20, size=n)]
    return X, np.arange(n) % 3


class Pairs(Dataset):
    """(x, y) items from a list, as a dataset of recordings of their own lengths would give them."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def test_ssm_fits_a_dataset_of_ragged_sequences_as_the_lists():
    X, y = _ragged()
    dataset = Pairs(X, y)
    from_lists = SpikingSSMClassifier(**SSM).fit(X, y)
    from_dataset = SpikingSSMClassifier(**SSM).fit(dataset, None)
    assert from_dataset.n_features_in_ == 2
    # batches padded to their own length train the same weights as slices of the padded arrays
    np.testing.assert_array_equal(from_dataset.predict_proba(dataset), from_lists.predict_proba(X))
    np.testing.assert_array_equal(from_dataset.predict(X), from_lists.predict(X))
    assert from_dataset.score(dataset) == from_lists.score(X, y)
    assert from_dataset.spike_stats(dataset).equals(from_lists.spike_stats(X))
    from_dataset.partial_fit(dataset, None)
    assert len(from_dataset.history) == 2 * SSM["max_epochs"]


def test_ssm_grid_search_over_a_slice_dataset_equals_the_lists():
    X, y = _ragged()
    dataset = Pairs(X, y)
    grid = {"threshold": [0.3, 0.5]}
    on_lists = GridSearchCV(SpikingSSMClassifier(**SSM), grid, cv=2, refit=False).fit(X, y)
    on_slices = GridSearchCV(SpikingSSMClassifier(**SSM), grid, cv=2, refit=False).fit(
        SliceDataset(dataset, idx=0), SliceDataset(dataset, idx=1))
    np.testing.assert_array_equal(on_slices.cv_results_["mean_test_score"],
                                  on_lists.cv_results_["mean_test_score"])


def test_ssm_bad_streamed_samples_are_named():
    X, y = _ragged(n=8)
    nan = [x.copy() for x in X]
    nan[5][2, 1] = np.nan
    with pytest.raises(ValueError, match="sample 5 of X: X contains NaN or infinity"):
        SpikingSSMClassifier(**SSM).fit(Pairs(nan, y), None)
    clf = SpikingSSMClassifier(**{**SSM, "max_epochs": 1}).fit(Pairs(X, y), None)
    three = [x if i != 3 else np.zeros((4, 3)) for i, x in enumerate(X)]
    with pytest.raises(ValueError, match="sample 3 of X: X has 3 channels per step, but "
                                         "SpikingSSMClassifier was fitted with 2"):
        clf.predict(Pairs(three, y))
    with pytest.raises(ValueError, match="sample 0 of X: X has 1 channels per step"):
        clf.predict(SliceDataset(Pairs([x[:, 0] for x in X], y)))
    with pytest.raises(ValueError, match="item 0 of the dataset must be an \\(x, y\\) pair"):
        clf.predict(TensorDataset(torch.zeros(4, 5, 2)))
    tokens = [np.arange(4), np.arange(3), np.array([1, 9])]
    with pytest.raises(ValueError, match=r"sample 2 of X: token ids must be in \[0, vocab_size=5\)"):
        SpikingSSMClassifier(**SSM, vocab_size=5).fit(Pairs(tokens, [0, 1, 0]), None)
