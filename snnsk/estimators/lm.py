"""SpikeDecoderLM: the spiking decoder language model as a scikit-learn estimator.

``fit(X)`` takes raw documents; the estimator tokenizes them, cuts each
document (prefixed with the ``<bos>`` token) into windows of
``context_length`` tokens and trains the :class:`~snnsk.models.SpikeDecoder`
on next-token prediction. ``score`` is the mean log-likelihood per token, so
``GridSearchCV`` needs no ``scoring`` argument.

The documents can be a list in memory or a stream read once per epoch
(:class:`snnsk.text.TextFiles`, :class:`snnsk.text.DocumentStream`): then the
windows are cut as the documents are read and fed to skorch as a torch
``IterableDataset``, shuffled within a bounded buffer (see ``fit``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.dataset import ValidSplit
from skorch.utils import to_device, to_tensor
from torch.utils.data import IterableDataset, get_worker_info

from .._validation import Boolean, Check, Integer, Options, Real, check_int, is_real
from ..core.neurons import SPIKE_CODES
from ..models.decoder import DECODER_NEURON, POSITION_ENCODINGS, SPIKING_MODES, SpikeDecoder
from ..text.lm_scores import LanguageModelScoresMixin
from ..text.tokenizers import (BOS_ID, PAD_ID, UNK_ID, check_document_stream, check_documents,
                    is_document_stream, iter_documents, make_tokenizer)
from .base import SpikingMixin, _torch_seed

__all__ = ["SpikeDecoderLM"]

#: Ids never generated or predicted: padding, unknown and the document start.
_NEVER_PREDICTED = (PAD_ID, UNK_ID, BOS_ID)
#: Values of ``precision``.
PRECISIONS = ("float32", "bfloat16")


def _buffer_shuffled(items, size: int, rng: np.random.Generator):
    """``items`` in a random order drawn within a buffer of ``size`` (a full shuffle when all fit).

    The buffer fills up first; then every new item takes the place of a
    random one, which is yielded; the rest leaves in a random order at the end.
    """
    buffer = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        i = int(rng.integers(size))
        yield buffer[i]
        buffer[i] = item
    for i in rng.permutation(len(buffer)):
        yield buffer[i]


class WindowStream(IterableDataset):
    """The training windows of a document stream, cut afresh each time it is iterated.

    A torch ``IterableDataset`` of ``(inputs, targets)`` windows, the items
    :meth:`SpikeDecoderLM.fit` feeds skorch when the documents are a stream:
    each iteration reads ``source`` once, tokenising and cutting windows as
    it goes, so only ``shuffle_buffer`` windows (and the current document)
    are in memory.

    Parameters
    ----------
    windows : callable
        Turns an iterable of documents into an iterator of ``(x, y)``
        windows (:meth:`SpikeDecoderLM._iter_windows`).
    source : iterable of str
        The documents; read once per iteration.
    shuffle_buffer : int, default=0
        Shuffle within a buffer of this many windows (0 or 1: document
        order). The order is drawn from torch's random generator when the
        iteration starts, so a seeded fit gives the same order, a new one
        every epoch.
    """

    def __init__(self, windows, source, shuffle_buffer=0):
        self.windows = windows
        self.source = source
        self.shuffle_buffer = shuffle_buffer

    def __iter__(self):
        info = get_worker_info()
        if info is not None and info.num_workers > 1:
            raise ValueError("a document stream is read by one loader worker: set "
                             "iterator_train__num_workers (and iterator_valid__num_workers) to 0 or 1")
        windows = self.windows(iter_documents(self.source))
        if self.shuffle_buffer <= 1:
            return windows
        seed = int(torch.empty((), dtype=torch.int64).random_().item())
        return _buffer_shuffled(windows, self.shuffle_buffer, np.random.default_rng(seed))


class SpikeDecoderLM(LanguageModelScoresMixin, SpikingMixin, NeuralNet):
    """Spiking GPT-style decoder language model.

    A skorch ``NeuralNet`` around :class:`snnsk.models.SpikeDecoder`: every
    skorch parameter (``lr``, ``max_epochs``, ``optimizer__*``, ``callbacks``,
    ``device``...) works, and the spiking hyperparameters are top-level, so a
    grid search over thresholds, timesteps and heads is one ``GridSearchCV``.

    Parameters
    ----------
    tokenizer : {'char', 'word'} or tokenizer object, default='char'
        How text becomes tokens: :class:`snnsk.text.CharTokenizer`,
        :class:`snnsk.text.WordTokenizer`, or an unfitted instance of either
        (cloned and fitted on the training documents).
    context_length : int, default=64
        Tokens the model reads at once; training windows have this length.
    embed_dim : int, default=64
        Width of the residual stream.
    heads : int, default=4
        Attention heads; must divide ``embed_dim``.
    depth : int, default=2
        Decoder blocks.
    mlp_ratio : float, default=4.0
        MLP hidden width as a multiple of ``embed_dim``.
    timesteps : int, default=4
        Simulation steps T per token.
    threshold : float, default=0.5
        Firing threshold of every LIF neuron.
    tau : float, default=2.0
        Membrane time constant.
    reset : {'hard', 'soft'}, default='hard'
    refractory : int, default=0
    surrogate : {'atan', 'sigmoid', 'fast_sigmoid', 'triangle'}, default='atan'
    alpha : float or None, default=None
        Surrogate sharpness (``None``: the surrogate's default).
    spiking : {'full', 'partial', 'none'}, default='full'
        Fully spiking, spiking attention only, or the non-spiking baseline
        of the same size (see :mod:`snnsk.models.decoder`).
    position_encoding : {'static', 'learned'}, default='static'
    attention_scale : float, default=0.125
    attention_decay : bool, default=True
        Decayed causal mask in the spiking attention; ``False`` is the
        reference's plain mask.
    spike_code : {'binary', 'ternary'}, default='binary'
        Code of the neurons that read the float residual stream (block
        inputs and readout): binary LIF as in the reference, or ON/OFF pairs
        emitting −1/0/+1 (:class:`snnsk.core.neurons.TernaryLIF`), which also
        carry the sign of their input. Q, K and V stay binary.
    backend : {'auto', 'torch', 'cpu', 'cupy'}, default='auto'
        LIF kernel backend.
    precision : {'float32', 'bfloat16'}, default='float32'
        Arithmetic of the products (linear layers and attention) in training
        and inference. ``'bfloat16'`` runs them under a bfloat16
        :class:`torch.autocast` while the neurons, norms, residual stream and
        loss stay float32: faster where the CPU has bfloat16 instructions
        (training about 1.2x on the AVX-512 machine of ``bench/BENCHMARKS.md``),
        at the cost of bfloat16 rounding in every product. Opt-in; it can be
        changed after fit.
    random_state : int, RandomState or None, default=None
        Seeds initialisation and shuffling; two fits with the same seed give
        the same model.
    lr : float, default=3e-3
    max_epochs : int, default=4
    batch_size : int, default=32
        Windows per training step (and per inference batch).
    shuffle_buffer : int, default=4096
        Training on a document stream (see :meth:`fit`), windows are shuffled
        within a buffer of this many windows, as they are read: a stream cannot
        be shuffled as a whole. ``context_length=64`` windows cost 1 kB each in
        the buffer. 0 or 1 keeps the document order. Lists of documents are
        shuffled as a whole and ignore it.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        The default AdamW runs fused (``optimizer__fused=True``) unless told otherwise.
    train_split : None or callable, default=None
        skorch's validation split, of the training windows. On a document
        stream, only a split that brings its own validation documents works:
        ``skorch.helper.predefined_split(docs)`` with a list of documents or a
        stream (such as :class:`snnsk.text.TextFiles`), which are cut into
        windows as the training documents are; validation scores come in
        ``history_`` as ``valid_loss``. ``predefined_split`` takes documents
        with lists of documents too.
    verbose : int, default=0
    **kwargs
        Any other skorch ``NeuralNet`` parameter. ``iterator_train__shuffle``
        defaults to True here (training windows are shuffled every epoch; on a
        stream, within ``shuffle_buffer``; ``False`` keeps the document order).

    Attributes
    ----------
    tokenizer_ : CharTokenizer or WordTokenizer
        The tokenizer fitted on the training documents.
    classes_ : ndarray of str
        The vocabulary; ``predict_proba`` columns follow it.
    module_ : SpikeDecoder
    history_ : skorch.History

    Examples
    --------
    >>> from snnsk import SpikeDecoderLM
    >>> docs = ["the cat sat on the mat. " * 4, "the dog sat on the log. " * 4]
    >>> lm = SpikeDecoderLM(max_epochs=2, embed_dim=16, heads=2, random_state=0).fit(docs)
    >>> isinstance(lm.generate("the ", max_new_tokens=10, random_state=0), str)
    True
    """

    _architecture_params = ("context_length", "embed_dim", "heads", "depth", "mlp_ratio",
                            "spiking", "position_encoding", "attention_scale", "attention_decay",
                            "spike_code")
    _loss_params = ()
    _base_neuron = DECODER_NEURON
    _parameter_constraints = {
        **SpikingMixin._parameter_constraints,
        "context_length": Integer(1), "embed_dim": Integer(2), "heads": Integer(1),
        "depth": Integer(1), "mlp_ratio": Real(0, low_open=True, what="a positive number"),
        "spiking": Options(*SPIKING_MODES), "position_encoding": Options(*POSITION_ENCODINGS),
        "attention_scale": Real(0, low_open=True, what="a positive number"),
        "attention_decay": Boolean(), "spike_code": Options(*SPIKE_CODES),
        "precision": Options(*PRECISIONS), "shuffle_buffer": Integer(0),
        "tokenizer": Check(lambda name, value: make_tokenizer(value)),
    }

    def __init__(
        self,
        tokenizer="char",
        *,
        context_length=64,
        embed_dim=64,
        heads=4,
        depth=2,
        mlp_ratio=4.0,
        timesteps=4,
        threshold=0.5,
        tau=2.0,
        reset="hard",
        refractory=0,
        surrogate="atan",
        alpha=None,
        spiking="full",
        position_encoding="static",
        attention_scale=0.125,
        attention_decay=True,
        spike_code="binary",
        backend="auto",
        precision="float32",
        random_state=None,
        module=SpikeDecoder,
        criterion=None,
        optimizer=torch.optim.AdamW,
        lr=3e-3,
        max_epochs=4,
        batch_size=32,
        shuffle_buffer=4096,
        train_split=None,
        verbose=0,
        **kwargs,
    ):
        # Windows come in document order; skorch does not shuffle unless asked.
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         verbose=verbose, **kwargs)
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.embed_dim = embed_dim
        self.heads = heads
        self.depth = depth
        self.mlp_ratio = mlp_ratio
        self.timesteps = timesteps
        self.threshold = threshold
        self.tau = tau
        self.reset = reset
        self.refractory = refractory
        self.surrogate = surrogate
        self.alpha = alpha
        self.spiking = spiking
        self.position_encoding = position_encoding
        self.attention_scale = attention_scale
        self.attention_decay = attention_decay
        self.spike_code = spike_code
        self.backend = backend
        self.precision = precision
        self.random_state = random_state
        self.shuffle_buffer = shuffle_buffer
        self._drop_init_state()

    # ------------------------------------------------------------------ data
    def _sequence(self, doc) -> np.ndarray:
        """The document's ids with ``<bos>`` in front."""
        return np.concatenate([np.array([BOS_ID], dtype=np.int64), self.tokenizer_.encode(doc)])

    def _sequences(self, docs) -> list[np.ndarray]:
        """Each document's ids with ``<bos>`` in front."""
        return [self._sequence(doc) for doc in docs]

    def _iter_windows(self, docs):
        """Yield input and next-token target windows ``(x, y)`` of ``context_length`` tokens.

        Every token is a target once. Windows overlap by one token so the
        target of one window's last position is the first input of the next;
        padding targets are ``PAD_ID`` and ignored by the loss. Documents are
        tokenised one at a time, as they come (a stream is never held whole).
        """
        n = self.context_length
        found = False
        for seq in map(self._sequence, docs):
            for start in range(0, len(seq) - 1, n):
                chunk = seq[start:start + n + 1]
                x = np.full(n, PAD_ID, dtype=np.int64)
                y = np.full(n, PAD_ID, dtype=np.int64)
                x[:len(chunk) - 1] = chunk[:-1]
                y[:len(chunk) - 1] = chunk[1:]
                found = True
                yield x, y
        if not found:
            raise ValueError("X holds no tokens: every document is empty after tokenization")

    def _windows(self, docs):
        """All windows of in-memory documents as arrays: inputs and targets ``[n, context_length]``."""
        inputs, targets = zip(*self._iter_windows(docs))
        return np.stack(inputs), np.stack(targets)

    def _documents(self, X, name="X"):
        return check_documents(X, name=name, allow_single_string=True)

    def _window_data(self, X, training=False):
        """The windows of documents ``X`` in the form skorch takes: ``(X, y)``.

        In-memory documents give the arrays of :meth:`_windows`; a document
        stream gives a :class:`WindowStream` (and ``None``), which reads it
        again at every iteration. ``training``: the stream must be
        re-iterable, and is shuffled within ``shuffle_buffer`` when
        ``iterator_train__shuffle`` is on.
        """
        if not is_document_stream(X):
            return self._windows(self._documents(X))
        source = check_document_stream(X, reiterable=training)
        shuffle = training and self.get_params_for("iterator_train").get("shuffle", False)
        return WindowStream(self._iter_windows, source, self.shuffle_buffer if shuffle else 0), None

    def get_split_datasets(self, X, y=None, **fit_params):
        """skorch's split; validation documents (``predefined_split(docs)``) are cut into windows."""
        if isinstance(X, WindowStream) and isinstance(self.train_split, ValidSplit):
            raise ValueError(
                "train_split cannot split a document stream (it has no length and cannot be "
                "indexed): use train_split=None, or skorch.helper.predefined_split(documents) "
                "with validation documents")
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if dataset_valid is not None and not isinstance(dataset_valid, torch.utils.data.Dataset):
            dataset_valid = self.get_dataset(*self._window_data(dataset_valid))
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        """skorch's loader; a :class:`WindowStream` shuffles itself, so no ``shuffle`` is passed."""
        if not isinstance(dataset, IterableDataset):
            return super().get_iterator(dataset, training=training)
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.pop("shuffle", None)  # a DataLoader refuses it for an IterableDataset
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            raise ValueError("batch_size=-1 (one batch of every window) needs the number of "
                             "windows, which a document stream does not know; give a batch size")
        return getattr(self, prefix)(dataset, **kwargs)

    # ------------------------------------------------------------------- fit
    def fit(self, X, y=None, **fit_params):
        """Fit the tokenizer and train the language model on documents.

        Documents in memory (a list, tuple, array or Series) are cut into
        windows once, all of which are shuffled every epoch. A document stream
        — :class:`snnsk.text.TextFiles`, :class:`snnsk.text.DocumentStream`,
        or any object without ``len`` whose ``__iter__`` yields the documents
        afresh — is never held whole: one pass fits the tokenizer, then every
        epoch reads the documents again, tokenising them and cutting the same
        windows as they come, in batches of ``batch_size`` shuffled within
        ``shuffle_buffer`` windows. A one-shot iterator (a generator, an open
        file) cannot be read once per epoch and is refused with a
        ``TypeError``: wrap the generator function in ``DocumentStream``, or
        ``list`` it. scikit-learn's searches and cross-validation index their
        ``X`` fold by fold, so they take lists, not streams.

        Parameters
        ----------
        X : str, list of str or iterable of str
            Training documents (one string is one document), or a stream of them.
        y : None
            Ignored; the targets are the next tokens.

        Returns
        -------
        self
        """
        stream = is_document_stream(X)
        docs = check_document_stream(X, reiterable=True) if stream else self._documents(X)
        self.check_params()
        self.tokenizer_ = make_tokenizer(self.tokenizer).fit(docs)
        self.classes_ = np.asarray(self.tokenizer_.tokens_)
        inputs, targets = self._window_data(docs, training=True)
        return super().fit(inputs, targets, _prepared=True, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training on more documents with the fitted tokenizer (X as in :meth:`fit`)."""
        if fit_params.pop("_prepared", False):
            # fit() already turned the documents into windows
            return super().partial_fit(X, y, classes, **fit_params)
        if not self.initialized_:
            return self.fit(X, **fit_params)
        inputs, targets = self._window_data(X, training=True)
        return super().partial_fit(inputs, targets, classes, **fit_params)

    def _data_module_kwargs(self):
        return {"vocab_size": int(self.tokenizer_.vocab_size_)}

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        # The fused AdamW step is one kernel for all parameters instead of several per
        # parameter: a fifth of a training step of the demo's model on a CPU. Only for the
        # default optimizer, and never over the user's own `optimizer__fused`.
        if prefix == "optimizer" and self.optimizer is torch.optim.AdamW:
            kwargs.setdefault("fused", True)
        return args, kwargs

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        if self.criterion is None:
            self.criterion_ = torch.nn.CrossEntropyLoss(ignore_index=PAD_ID, **kwargs)
        else:
            self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Cross-entropy of the next-token logits ``[B, L, vocab]``; padding is ignored."""
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred.reshape(-1, y_pred.shape[-1]), y_true.reshape(-1))

    def set_params(self, **params):
        """Set parameters (see :meth:`SpikingMixin.set_params`); ``precision`` applies at once."""
        if "precision" in params:
            # read at every forward pass, so a bad value is refused before it is set
            self._parameter_constraints["precision"]("precision", params["precision"])
        return super().set_params(**params)

    def _autocast(self):
        """The autocast of ``precision`` (a disabled one for float32)."""
        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16,
                              enabled=self.precision == "bfloat16")

    def infer(self, x, **fit_params):
        """The module's forward pass, in ``precision`` (training and inference both come here)."""
        with self._autocast():
            return super().infer(x, **fit_params)

    # ------------------------------------------------------------- inference
    def _logit_batches(self, inputs, targets=None):
        """Yield logits ``[b, L, vocab]`` (float32, CPU) and the batch's targets, batch by batch.

        ``inputs, targets`` as :meth:`_window_data` gives them (arrays, or a
        :class:`WindowStream` and None).
        """
        with self._seeded(offset=1):
            for batch in self.get_iterator(self.get_dataset(inputs, targets), training=False):
                logits = to_device(self.evaluation_step(batch, training=False), device="cpu")
                yield logits.float(), batch[1]

    def log_likelihood(self, X):
        """Total natural-log likelihood of the documents and the number of tokens.

        Each document is read from ``<bos>`` in windows of ``context_length``
        tokens; every token of it is predicted once. ``X`` may be a document
        stream (even a one-shot generator): it is read once, a batch of
        windows at a time, and the sums accumulate over the batches.

        Returns
        -------
        total : float
            Sum of ``log p(token | context)`` in nats.
        n_tokens : int
        """
        check_is_fitted(self)
        total, n_tokens = 0.0, 0
        for logits, y in self._logit_batches(*self._window_data(X)):
            log_p = torch.log_softmax(logits, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
            total += float(log_p[y != PAD_ID].double().sum())
            n_tokens += int((y != PAD_ID).sum())
        return total, n_tokens

    def _last_position_logits(self, docs) -> torch.Tensor:
        """Next-token logits after each document ``[n, vocab]`` (last ``context_length`` tokens)."""
        n = self.context_length
        seqs = [seq[-n:] for seq in self._sequences(docs)]
        inputs = np.full((len(seqs), n), PAD_ID, dtype=np.int64)
        for row, seq in zip(inputs, seqs):
            row[:len(seq)] = seq  # right padding: causal, so it never reaches earlier positions
        last = torch.as_tensor([len(seq) - 1 for seq in seqs])
        chunks, start = [], 0
        for logits, _ in self._logit_batches(inputs):
            idx = last[start:start + len(logits)]
            chunks.append(logits[torch.arange(len(logits)), idx])
            start += len(logits)
        return torch.cat(chunks)

    def predict_proba(self, X) -> np.ndarray:
        """Next-token distribution after each text, over the tokens the model can produce.

        The padding, unknown and document-start tokens (``<pad>``, ``<unk>``,
        ``<bos>``) are never a next token (:meth:`predict` and
        :meth:`generate` exclude them too): their probability is 0 and the
        rest is renormalised, so ``predict`` is the argmax of these rows.
        :meth:`score` and :meth:`log_likelihood` read the model's full
        softmax, not this distribution.

        Returns
        -------
        ndarray of shape (n_texts, vocab_size)
            Columns follow ``classes_``; each row sums to 1.
        """
        check_is_fitted(self)
        logits = self._last_position_logits(self._documents(X))
        # -inf logits: softmax gives them exactly 0 and renormalises the others
        logits[:, list(_NEVER_PREDICTED)] = float("-inf")
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, X) -> np.ndarray:
        """Most likely next token (a string) after each text: argmax of :meth:`predict_proba`."""
        # argmax of the probabilities themselves (not the logits), so that two logits which
        # round to one probability break the tie as predict_proba's argmax does
        proba = self.predict_proba(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[proba.argmax(axis=1)]

    def generate(self, prompt: str, max_new_tokens: int = 100, temperature: float = 1.0,
                 top_k: int | None = None, random_state=None, use_cache: bool = True) -> str:
        """Continue ``prompt`` by sampling from the model.

        Parameters
        ----------
        prompt : str
            Text to continue; every token of it must be in the vocabulary.
        max_new_tokens : int, default=100
        temperature : float, default=1.0
            Softmax temperature; 0 always takes the most likely token.
        top_k : int or None, default=None
            Sample only among the ``top_k`` most likely tokens.
        random_state : int, RandomState or None, default=None
            Seed of the sampling; the same seed gives the same text.
        use_cache : bool, default=True
            Reuse each layer's keys and values so a new token costs O(context);
            ``False`` recomputes the context for every token (same text).

        Returns
        -------
        str
            The prompt followed by the generated text.
        """
        check_is_fitted(self)
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        check_int("max_new_tokens", max_new_tokens, 0)
        if not is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if top_k is not None:
            check_int("top_k", top_k)
        unknown = self.tokenizer_.unknown_tokens(prompt)
        if unknown:
            raise ValueError(f"prompt contains tokens the model has never seen: {unknown!r}")
        seed = _torch_seed(random_state)
        prompt_ids = self._sequences([prompt])[0]
        ids = torch.as_tensor(prompt_ids, device=self.device).unsqueeze(0)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        # generation runs in eval mode (no dropout); the caller's mode of every submodule
        # is put back after, so generating between training steps does not change training
        modes = [(module, module.training) for module in self.module_.modules()]
        self.module_.eval()
        try:
            with self._autocast():
                new = self.module_.generate(ids, max_new_tokens, temperature=float(temperature),
                                            top_k=top_k, generator=generator,
                                            use_cache=use_cache, banned=_NEVER_PREDICTED)
        finally:
            for module, training in modes:
                module.training = training
        all_ids = np.concatenate([prompt_ids, new[0].cpu().numpy()])
        return self.tokenizer_.decode(all_ids)

    # ------------------------------------------------------- spike statistics
    def _validate_predict_input(self, X):
        check_is_fitted(self)
        return self._windows(self._documents(X))[0]

    def _forward_for_stats(self, X):
        for _ in self._logit_batches(X):
            pass

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags
