"""SpikeDecoderLM: likelihood conventions, generation, scikit-learn integration, persistence."""

import io
import math
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from snnsk import SpikeDecoderLM
from snnsk.text.baselines import NGramLM
from snnsk.datasets import load_corpus
from snnsk.analysis.callbacks import FiringRateMonitor, firing_rate_history
from snnsk.analysis.metrics import spike_report
from snnsk.core.neurons import TernaryLIF, spiking_layers
from snnsk.text import BOS_ID, TextNormalizer

SMALL = dict(context_length=16, embed_dim=16, heads=2, depth=1, timesteps=2, max_epochs=2,
             batch_size=8, random_state=0)
PANGRAM = "the quick brown fox jumps over the lazy dog. "


@pytest.fixture(scope="module")
def docs():
    return load_corpus()[:24]


@pytest.fixture(scope="module")
def fitted(docs):
    return SpikeDecoderLM(**SMALL).fit(docs[:12])


@pytest.fixture(scope="module")
def memorised():
    """A model that has learned one sentence by heart."""
    lm = SpikeDecoderLM(context_length=48, embed_dim=32, heads=2, depth=1, timesteps=2,
                        lr=1e-2, max_epochs=160, batch_size=8, random_state=0)
    return lm.fit([PANGRAM] * 8)


def test_overfits_a_short_text_to_near_zero_loss(memorised):
    assert memorised.history_[-1, "train_loss"] < 0.05
    assert memorised.score([PANGRAM]) > -0.05
    assert memorised.predict(["the quick brown fo"]).tolist() == ["x"]
    assert memorised.generate("the quick", 10, temperature=0) == "the quick brown fox"


def test_log_likelihood_equals_the_module_read_by_hand(fitted):
    doc = "the cat"  # shorter than the context: one window, <bos> + 7 characters
    ids = np.concatenate([[BOS_ID], fitted.tokenizer_.encode(doc)])
    fitted.module_.eval()
    with torch.no_grad():
        logits = fitted.module_(torch.as_tensor(ids[None, :-1]))
    expected = torch.log_softmax(logits[0], -1)[torch.arange(7), torch.as_tensor(ids[1:])].sum()
    total, n_tokens = fitted.log_likelihood([doc])
    assert n_tokens == 7
    assert total == pytest.approx(float(expected), rel=1e-6)


def test_long_documents_are_read_in_windows_covering_every_token(fitted, docs):
    total, n_tokens = fitted.log_likelihood(docs[12:14])
    assert n_tokens == sum(len(fitted.tokenizer_.encode(d)) for d in docs[12:14])
    assert fitted.score(docs[12:14]) == pytest.approx(total / n_tokens)


def test_score_perplexity_and_bits_per_char_agree(fitted, docs):
    test = docs[12:16]
    score = fitted.score(test)
    assert score < 0
    assert fitted.perplexity(test) == pytest.approx(math.exp(-score))
    total, n_tokens = fitted.log_likelihood(test)
    n_chars = sum(map(len, test))
    assert fitted.bits_per_char(test) == pytest.approx(-total / math.log(2) / n_chars)
    # the character tokenizer makes one token per character
    assert n_tokens == n_chars


def test_predict_and_predict_proba(fitted):
    proba = fitted.predict_proba(["The value", "x"])
    assert proba.shape == (2, fitted.tokenizer_.vocab_size_)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    predicted = fitted.predict(["The value", "x"])
    assert predicted.shape == (2,) and all(p in fitted.classes_ for p in predicted)
    assert not set(predicted) & {"<pad>", "<unk>", "<bos>"}
    # right padding never leaks into the prediction: the same text alone or in a batch
    np.testing.assert_allclose(fitted.predict_proba(["x"])[0], proba[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("favoured", [None, "<pad>", "<unk>", "<bos>"])
def test_predict_is_the_argmax_of_predict_proba(fitted, docs, favoured):
    """The special tokens get no probability, even where the model's logit favours them."""
    texts = ["The value", "x", "", docs[0]]
    specials = [fitted.tokenizer_.vocabulary_[t] for t in ("<pad>", "<unk>", "<bos>")]
    score = fitted.score(docs[12:14])
    boost = torch.zeros(len(fitted.classes_))
    if favoured is not None:
        boost[fitted.tokenizer_.vocabulary_[favoured]] = 50.0  # the raw softmax's argmax
    handle = fitted.module_.register_forward_hook(lambda module, inputs, out: out + boost)
    try:
        proba = fitted.predict_proba(texts)
        predicted = fitted.predict(texts)
        boosted_score = fitted.score(docs[12:14])
    finally:
        handle.remove()
    np.testing.assert_array_equal(predicted, fitted.classes_[proba.argmax(axis=1)])
    assert np.all(proba[:, specials] == 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # The likelihood reads the model's full softmax, not predict_proba's renormalised one:
    # the mass pushed onto a special token is taken from the real tokens.
    if favoured is None:
        assert boosted_score == score
    else:
        assert boosted_score < score - 0.5


def test_generate_puts_back_the_training_mode_of_every_submodule(fitted, monkeypatch):
    module = fitted.module_
    before = [m.training for m in module.modules()]
    try:
        module.train()
        in_training = fitted.generate("The ", 8, random_state=0)
        assert all(m.training for m in module.modules())
        module.eval()
        assert fitted.generate("The ", 8, random_state=0) == in_training  # sampled in eval mode
        assert not any(m.training for m in module.modules())
        mixed = [i % 2 == 0 for i, _ in enumerate(module.modules())]
        for m, training in zip(module.modules(), mixed):
            m.training = training
        fitted.generate("The ", 8, random_state=0)
        assert [m.training for m in module.modules()] == mixed
        # also when generation fails half-way
        module.train()
        monkeypatch.setattr(module, "generate", lambda *args, **kwargs: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            fitted.generate("The ", 8)
        assert all(m.training for m in module.modules())
    finally:
        for m, training in zip(module.modules(), before):
            m.training = training


def test_generation_is_seeded_and_cache_free_generation_matches(fitted):
    a = fitted.generate("The ", 40, random_state=3)
    assert a.startswith("The ") and len(a) == 44
    assert fitted.generate("The ", 40, random_state=3) == a
    assert fitted.generate("The ", 40, random_state=3, use_cache=False) == a
    assert fitted.generate("The ", 40, random_state=4) != a


def test_fit_is_seeded(docs):
    a = SpikeDecoderLM(**SMALL).fit(docs[:6])
    b = SpikeDecoderLM(**SMALL).fit(docs[:6])
    assert a.score(docs[6:8]) == b.score(docs[6:8])
    c = SpikeDecoderLM(**{**SMALL, "random_state": 1}).fit(docs[:6])
    assert a.score(docs[6:8]) != c.score(docs[6:8])


def test_grid_search_over_threshold_timesteps_and_heads(docs):
    search = GridSearchCV(SpikeDecoderLM(**{**SMALL, "max_epochs": 1}),
                          {"threshold": [0.25, 1.0], "timesteps": [1, 2], "heads": [1, 2]}, cv=3)
    search.fit(docs[:12])
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert best.module_.timesteps == search.best_params_["timesteps"]
    assert best.module_.blocks[0].attention.heads == search.best_params_["heads"]
    assert all(layer.neuron.threshold == search.best_params_["threshold"]
               for _, layer in spiking_layers(best.module_))


def test_cross_validate_and_a_pipeline(docs, tmp_path):
    result = cross_validate(SpikeDecoderLM(**{**SMALL, "max_epochs": 1}), docs[:9], cv=3)
    assert result["test_score"].shape == (3,) and np.all(result["test_score"] < 0)
    pipe = make_pipeline(TextNormalizer(lowercase=True), SpikeDecoderLM(**SMALL)).fit(docs[:8])
    assert "T" not in pipe[-1].tokenizer_.vocabulary_  # the normaliser ran first
    path = tmp_path / "lm.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    assert loaded.score(docs[8:10]) == pipe.score(docs[8:10])
    assert loaded[-1].generate("the ", 30, random_state=0) == pipe[-1].generate("the ", 30,
                                                                                 random_state=0)


def test_clone_and_set_params_after_fit(docs):
    lm = SpikeDecoderLM(**SMALL)
    assert clone(lm).get_params(deep=False) == lm.get_params(deep=False)
    lm.fit(docs[:6])
    weights = lm.module_.head.weight.clone()
    before = lm.score(docs[6:8])
    lm.set_params(threshold=2.0, timesteps=3)
    assert lm.module_.timesteps == 3
    assert all(layer.neuron.threshold == 2.0 for _, layer in spiking_layers(lm.module_))
    assert torch.equal(lm.module_.head.weight, weights)
    assert lm.score(docs[6:8]) != before
    lm.set_params(heads=4)  # architecture: a new, untrained module
    assert lm.module_.blocks[0].attention.heads == 4


def test_partial_fit_continues_training(docs):
    lm = SpikeDecoderLM(**SMALL).fit(docs[:6])
    vocab = dict(lm.tokenizer_.vocabulary_)
    lm.partial_fit(docs[6:8])
    # skorch's partial_fit trains max_epochs more epochs, keeping weights and vocabulary
    assert len(lm.history_) == 2 * SMALL["max_epochs"] and lm.tokenizer_.vocabulary_ == vocab


def test_word_tokenizer_and_other_variants(docs):
    words = SpikeDecoderLM(tokenizer="word", **SMALL).fit(docs[:8])
    assert words.predict(["the name of"])[0] in words.classes_
    assert words.generate("the", 5, random_state=0).startswith("the ")
    for spiking in ("partial", "none"):
        lm = SpikeDecoderLM(spiking=spiking, position_encoding="learned", **SMALL).fit(docs[:4])
        assert np.isfinite(lm.score(docs[4:6]))


def test_spike_stats_reports_every_spiking_layer(fitted, docs):
    stats = fitted.spike_stats(docs[12:14])
    assert set(stats.index) == {name for name, _ in spiking_layers(fitted.module_)}
    assert ((stats["firing_rate"] >= 0) & (stats["firing_rate"] <= 1)).all()
    assert (stats["timesteps"] == SMALL["timesteps"]).all()


def test_ternary_spikes_reach_the_block_inputs_and_readout_and_are_counted_as_two_neurons(docs):
    lm = SpikeDecoderLM(spike_code="ternary", callbacks=[FiringRateMonitor()],
                        **{**SMALL, "lr": 0.0, "max_epochs": 1}).fit(docs[:4])
    kinds = {name: type(layer) for name, layer in spiking_layers(lm.module_)}
    ternary = {name for name, kind in kinds.items() if kind is TernaryLIF}
    assert ternary == {"blocks.0.attention.input_neuron", "blocks.0.mlp.input_neuron",
                       "readout_neuron"}
    captured = []
    handle = lm.module_.readout_neuron.register_forward_hook(
        lambda _m, _i, out: captured.append(out.detach()))
    stats = lm.spike_stats(docs[:4])
    handle.remove()
    spikes = torch.cat([c.flatten() for c in captured])
    assert set(spikes.unique().tolist()) == {-1.0, 0.0, 1.0}
    row = stats.loc["readout_neuron"]
    # one spike per nonzero entry, two neurons (ON and OFF) per entry
    assert row["spikes"] == spikes.abs().sum().item()
    assert row["neurons"] == 2 * SMALL["context_length"] * SMALL["embed_dim"]
    assert row["firing_rate"] == pytest.approx(spikes.abs().sum().item() / (2 * spikes.numel()))
    # lr=0: the training epoch fired exactly as spike_stats on the same documents
    history = firing_rate_history(lm)
    assert history.loc[1, "readout_neuron"] == pytest.approx(row["firing_rate"])
    report = spike_report(lm, docs[:4])
    assert report.loc["readout_neuron", "neurons"] == row["neurons"]
    assert report.loc["blocks.0.mlp.fc1", "input"] == "spikes"
    assert report.loc["blocks.0.mlp.fc1", "synaptic_ops"] == \
        report.loc["blocks.0.mlp.input_neuron", "spikes"] * lm.module_.blocks[0].mlp.fc1.out_features


def test_default_adamw_runs_fused_unless_told_otherwise(fitted, docs):
    assert isinstance(fitted.optimizer_, torch.optim.AdamW) and fitted.optimizer_.defaults["fused"]
    plain = SpikeDecoderLM(optimizer__fused=False, **{**SMALL, "max_epochs": 1}).fit(docs[:2])
    assert not plain.optimizer_.defaults["fused"]
    sgd = SpikeDecoderLM(optimizer=torch.optim.SGD, **{**SMALL, "max_epochs": 1}).fit(docs[:2])
    assert isinstance(sgd.optimizer_, torch.optim.SGD) and not sgd.optimizer_.defaults.get("fused")


def test_spike_code_is_a_grid_searchable_architecture_parameter(docs):
    lm = SpikeDecoderLM(**SMALL).fit(docs[:4])
    lm.set_params(spike_code="ternary")
    assert type(lm.module_.readout_neuron) is TernaryLIF  # re-initialised
    search = GridSearchCV(SpikeDecoderLM(**{**SMALL, "max_epochs": 1}),
                          {"spike_code": ["binary", "ternary"]}, cv=2).fit(docs[:6])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    with pytest.raises(ValueError, match="spike_code must be one of binary, ternary"):
        SpikeDecoderLM(spike_code="bipolar", **SMALL).fit(docs[:2])


def test_bfloat16_precision_is_an_opt_in_that_applies_at_once(docs):
    lm = SpikeDecoderLM(precision="bfloat16", **SMALL).fit(docs[:4])
    # the products ran in bfloat16; the neurons, norms and logits stay float32
    assert lm.module_.head.weight.dtype == torch.float32
    bf16 = lm.score(docs[4:6])
    assert np.isfinite(bf16)
    lm.set_params(precision="float32")  # no refit: the next forward pass uses it
    float32 = lm.score(docs[4:6])
    assert float32 != bf16 and abs(float32 - bf16) < 0.1
    assert lm.generate("the ", 8, random_state=0).startswith("the ")
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        lm.set_params(precision="float16")
    assert lm.precision == "float32"
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        SpikeDecoderLM(precision="half", **SMALL).fit(docs[:2])


def test_interrupted_fit_leaves_a_usable_estimator(docs):
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 1:
                raise KeyboardInterrupt

    lm = SpikeDecoderLM(**{**SMALL, "max_epochs": 20}, callbacks=[Interrupt()]).fit(docs[:4])
    assert len(lm.history_) == 1
    assert np.isfinite(lm.score(docs[4:6]))


def test_a_model_saved_on_a_cuda_device_loads_on_the_cpu(fitted, docs):
    # Without a GPU we cannot train on one; what matters on load is skorch's
    # device handling, exercised by pickling a net whose device says 'cuda'.
    state = pickle.dumps(fitted)
    lm = pickle.loads(state)
    lm.device = "cuda"
    blob = pickle.dumps(lm)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        loaded = pickle.loads(blob)
    if not torch.cuda.is_available():
        assert str(loaded.device) == "cpu"
        assert loaded.score(docs[12:14]) == fitted.score(docs[12:14])
        assert loaded.generate("The ", 20, random_state=0) == fitted.generate("The ", 20,
                                                                               random_state=0)


@pytest.mark.slow
def test_spiking_model_beats_a_bigram_on_held_out_text():
    """Quality bar at a tiny budget: better than a character bigram (bench/BENCHMARKS.md has more)."""
    corpus = load_corpus()
    train, test = corpus[:120], corpus[130:150]
    lm = SpikeDecoderLM(max_epochs=3, batch_size=16, random_state=0).fit(train)
    bigram = NGramLM(order=2).fit(train)
    assert lm.bits_per_char(test) < bigram.bits_per_char(test)


def test_bad_input_gives_clear_errors(fitted):
    with pytest.raises(ValueError, match="X is empty"):
        SpikeDecoderLM(**SMALL).fit([])
    with pytest.raises(TypeError, match=r"X\[1\] is int"):
        SpikeDecoderLM(**SMALL).fit(["text", 3])
    with pytest.raises(ValueError, match=r"heads \(3\) must divide embed_dim \(16\)"):
        SpikeDecoderLM(**{**SMALL, "heads": 3}).fit(["some text"])
    with pytest.raises(ValueError, match="tokenizer must be 'char', 'word' or a tokenizer instance, got 'bpe'"):
        SpikeDecoderLM(tokenizer="bpe").fit(["some text"])
    with pytest.raises(ValueError, match="context_length must be a positive integer"):
        SpikeDecoderLM(context_length=0).fit(["some text"])
    with pytest.raises(ValueError, match=r"never seen: \['€'\]"):
        fitted.generate("price in €")
    with pytest.raises(TypeError, match="prompt must be a str"):
        fitted.generate(["The "])
    with pytest.raises(ValueError, match="temperature"):
        fitted.generate("The ", temperature=-1)
    with pytest.raises(NotFittedError):
        SpikeDecoderLM().predict(["text"])
    with pytest.raises(NotFittedError):
        SpikeDecoderLM().generate("text")


def test_single_string_is_one_document(fitted):
    assert fitted.score("The value") == fitted.score(["The value"])
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    assert joblib.load(buffer).score("The value") == fitted.score("The value")
