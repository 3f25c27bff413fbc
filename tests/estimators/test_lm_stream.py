"""SpikeDecoderLM on document streams: read once per epoch, the same windows as in memory."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from skorch.helper import predefined_split

from snnsk import SpikeDecoderLM
from snnsk.datasets import load_corpus
from snnsk.estimators.lm import _buffer_shuffled
from snnsk.text import DocumentStream, TextFiles

SMALL = dict(context_length=16, embed_dim=16, heads=2, depth=1, timesteps=2, max_epochs=2,
             batch_size=8, random_state=0)


class CountingSource:
    """Documents with no length, counting how often they are read."""

    def __init__(self, docs):
        self.docs = docs
        self.iterations = 0

    def __iter__(self):
        self.iterations += 1
        yield from self.docs


class Batches(Callback):
    """The training batches of every epoch, ``[epoch][batch] -> (x, y)``."""

    def initialize(self):
        self.epochs = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.epochs[-1].append((batch[0].clone(), batch[1].clone()))


def _epochs(lm):
    return dict(lm.callbacks_)["b"].epochs


def _rows(batches):
    """The windows of one epoch as sorted rows (x then y), to compare as multisets."""
    rows = torch.cat([torch.cat([x, y], dim=1) for x, y in batches]).numpy()
    return rows[np.lexsort(rows.T[::-1])]


@pytest.fixture(scope="module")
def docs():
    return load_corpus()[:8]


def test_a_stream_is_read_once_per_epoch_and_trains_on_the_in_memory_windows(docs):
    in_order = {**SMALL, "iterator_train__shuffle": False}
    memory = SpikeDecoderLM(**in_order, callbacks=[("b", Batches())]).fit(docs[:6])
    source = CountingSource(docs[:6])
    stream = SpikeDecoderLM(**in_order, callbacks=[("b", Batches())]).fit(source)
    # one pass for the vocabulary, one per epoch
    assert source.iterations == 1 + SMALL["max_epochs"]
    assert stream.tokenizer_.vocabulary_ == memory.tokenizer_.vocabulary_
    seen, expected = _epochs(stream), _epochs(memory)
    assert len(seen) == len(expected) == SMALL["max_epochs"]
    for got, want in zip(seen, expected):  # same batches in the same order
        assert len(got) == len(want)
        for (xg, yg), (xw, yw) in zip(got, want):
            assert torch.equal(xg, xw) and torch.equal(yg, yw)
    assert stream.score(docs[6:8]) == pytest.approx(memory.score(docs[6:8]), rel=1e-6)


def test_a_shuffled_stream_sees_every_window_once_per_epoch_in_a_seeded_order(docs):
    memory = SpikeDecoderLM(**SMALL, callbacks=[("b", Batches())]).fit(docs[:6])
    runs = [SpikeDecoderLM(**SMALL, shuffle_buffer=16, callbacks=[("b", Batches())])
            .fit(CountingSource(docs[:6])) for _ in range(2)]
    epochs = [_epochs(run) for run in runs]
    want = _rows(_epochs(memory)[0])
    for epoch in epochs[0]:
        np.testing.assert_array_equal(_rows(epoch), want)
    first, second = (torch.cat([x for x, _ in epoch]) for epoch in epochs[0])
    assert not torch.equal(first, second)  # a new order every epoch
    for a, b in zip(epochs[0], epochs[1]):  # the same seed, the same orders
        assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b))
    assert runs[0].score(docs[6:8]) == runs[1].score(docs[6:8])


def test_text_files_partial_fit_and_scores_on_streams(docs, tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join(docs[:4]) + "\n", encoding="utf-8")
    files = TextFiles(path)
    assert list(files) == docs[:4] and list(files) == docs[:4]
    lm = SpikeDecoderLM(**{**SMALL, "max_epochs": 1}).fit(files)
    lm.partial_fit(files)
    assert len(lm.history_) == 2
    test = docs[4:6]
    # scoring reads a stream once, so a one-shot generator is fine there
    assert lm.log_likelihood(d for d in test) == pytest.approx(lm.log_likelihood(test), rel=1e-9)
    assert lm.score(CountingSource(test)) == pytest.approx(lm.score(test), rel=1e-9)
    assert lm.bits_per_char(d for d in test) == pytest.approx(lm.bits_per_char(test), rel=1e-9)


def test_one_shot_iterators_are_refused_for_training_and_a_generator_function_is_not(docs):
    with pytest.raises(TypeError, match="one-shot generator: training reads the documents once "
                                        "per epoch"):
        SpikeDecoderLM(**SMALL).fit(d for d in docs[:2])

    def documents():
        yield from docs[:2]

    lm = SpikeDecoderLM(**{**SMALL, "max_epochs": 1}).fit(DocumentStream(documents))
    assert np.isfinite(lm.score(docs[2:3]))
    with pytest.raises(TypeError, match="one-shot"):
        lm.partial_fit(iter(docs[:2]))


def test_validation_documents_and_splits_on_a_stream(docs):
    lm = SpikeDecoderLM(**SMALL, train_split=predefined_split(CountingSource(docs[6:8])))
    lm.fit(CountingSource(docs[:4]))
    assert np.isfinite(lm.history_[:, "valid_loss"]).all()
    # the validation loss is the loss of the validation windows
    last = lm.history_[-1, "valid_loss"]
    assert np.isfinite(last) and last > 0
    in_memory = SpikeDecoderLM(**SMALL, train_split=predefined_split(docs[6:8])).fit(docs[:4])
    assert np.isfinite(in_memory.history_[-1, "valid_loss"])
    with pytest.raises(ValueError, match="train_split cannot split a document stream"):
        SpikeDecoderLM(**SMALL, train_split=ValidSplit(3)).fit(CountingSource(docs[:4]))


def test_empty_streams_and_bad_shuffle_buffer_give_clear_errors(docs):
    with pytest.raises(ValueError, match="X is empty: expected at least one document"):
        SpikeDecoderLM(**SMALL).fit(CountingSource([]))
    with pytest.raises(TypeError, match=r"X\[1\] is int"):
        SpikeDecoderLM(**SMALL).fit(CountingSource(["text", 3]))
    with pytest.raises(ValueError, match="shuffle_buffer must be an integer >= 0"):
        SpikeDecoderLM(**{**SMALL, "shuffle_buffer": -1}).fit(docs[:2])


def test_buffer_shuffle_is_a_permutation_that_moves_items_a_bounded_distance():
    rng = np.random.default_rng(0)
    out = list(_buffer_shuffled(range(100), 10, rng))
    assert sorted(out) == list(range(100)) and out != list(range(100))
    # an item leaves the buffer only after it was filled: the k-th output is among the first k + 10
    assert all(item < k + 10 for k, item in enumerate(out))
    assert sorted(_buffer_shuffled(range(5), 10, rng)) == list(range(5))
