"""P-SpikeSSM: a probabilistic spiking state-space model for sequence classification.

Bal & Sengupta, "P-SpikeSSM: Harnessing Probabilistic Spiking State Space
Models for Long-Range Dependency Tasks" (ICLR 2025). Each block

1. samples spikes (:class:`~snnsk.layers.ssm.SpikeSampler`) from the
   probabilities the previous block (or the encoder) left: the normalised
   residual stream clamped into [0, 1];
2. filters the spikes with a diagonal SSM applied as an FFT convolution
   (:class:`~snnsk.layers.ssm.S4DConv`), ``GELU``;
3. scales per channel into probabilities and samples again;
4. mixes the spikes across neurons (:class:`~snnsk.layers.ssm.SpikeMixer`);
5. adds the result to the residual stream and normalises and clamps that
   into the next block's spike probabilities (:class:`~snnsk.layers.ssm.ClampFuse`).

``neuron='lif'`` replaces both samplers by LIF neurons running along the
sequence, the LIF-based spiking SSM the paper compares against;
``neuron='none'`` by their mean-field value ``clamp(p, 0, 1)`` (no random
numbers, no spikes, in training and inference): the non-spiking twin, the same
network but for the sampling, that the spiking model's cost is measured against. The encoder
is a Linear layer (real-valued features) or an embedding (token ids); the
decoder takes the last block's normalised residual stream (its fuse's
normalisation, before the clamp), mean-pools it over the real (unpadded) steps,
standardises the pooled features across samples (batch normalisation) and reads
out with a Linear layer.

Why the readout standardises: each step's features are layer-normalised, so
their average over a sequence is dominated by a part common to every sample.
At initialisation (``d_model=128``, permuted sequential digits) the pooled
features have a mean of 0.8 in magnitude and vary by 0.026 from one sample to
the next; a linear readout of such features is badly conditioned, and a 2-epoch
fit stayed at chance (0.11) while the loss crept from 2.37 to 2.31. Centred and
scaled across the batch, the same fit reaches 0.60 (0.94 for the non-spiking
twin). Batch statistics are used in training; at inference the statistics
are those the estimator's batch-norm calibration recorded at the end of the
fit (:mod:`snnsk.estimators.recalibration`: one pass of a training sample in
inference mode, so they match the trained weights and the samplers' inference
mode however short the fit), and running averages until then.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_positive_int
from ..layers.ssm import (KERNEL_INITS, ChannelAffine, ClampFuse, MaskedLIF, MeanFieldNeuron,
                          S4DConv, SpikeMixer, SpikeSampler)
from ..neurons import NEURON_PARAMS, set_neuron_params

__all__ = ["PSpikeSSM", "PSpikeSSMBlock", "NEURONS"]

#: Neurons a block can use: the stochastic sampler, LIF, or none (the mean-field twin).
NEURONS = ("sampler", "lif", "none")


def _make_neuron(neuron: str, sampling: str, threshold: float, lif_params: dict) -> nn.Module:
    if neuron == "sampler":
        return SpikeSampler(sampling=sampling, threshold=threshold)
    if neuron == "none":
        return MeanFieldNeuron()
    return MaskedLIF(threshold=threshold, **lif_params)


class PSpikeSSMBlock(nn.Module):
    """One P-SpikeSSM block on ``[L, B, H]`` (see the module docstring).

    Parameters
    ----------
    d_model, d_state, bidirectional, init
        Width, SSM state size, kernel direction(s) and A initialisation (see
        :class:`~snnsk.layers.ssm.S4DConv`).
    dropout : float
        Dropout on the mixer output during training.
    neuron : {'sampler', 'lif', 'none'}
    sampling, threshold
        Sampler settings (see :class:`~snnsk.layers.ssm.SpikeSampler`);
        ``threshold`` is also the LIF firing threshold.
    lif_params : dict
        Other LIF parameters (``tau``, ``reset``...) for ``neuron='lif'``.
    """

    def __init__(self, d_model: int, d_state: int, bidirectional: bool, dropout: float,
                 neuron: str, sampling: str, threshold: float, lif_params: dict,
                 init: str = "inv", dt_max: float = 1.0):
        super().__init__()
        self.in_spikes = _make_neuron(neuron, sampling, threshold, lif_params)
        self.conv = S4DConv(d_model, d_state, bidirectional=bidirectional, init=init,
                            dt_max=dt_max)
        self.conv_scale = ChannelAffine(self.conv.out_channels)
        self.conv_spikes = _make_neuron(neuron, sampling, threshold, lif_params)
        self.mixer = SpikeMixer(self.conv.out_channels, d_model)
        self.dropout = nn.Dropout(dropout)
        self.fuse = ClampFuse(d_model)

    def forward(self, residual: torch.Tensor, probabilities: torch.Tensor,
                mask: torch.Tensor | None = None):
        """``(residual, spike probabilities) -> (residual, spike probabilities)``, each ``[L, B, H]``."""
        spikes = self.in_spikes(probabilities, mask)
        filtered = nn.functional.gelu(self.conv(spikes))
        mixed = self.mixer(self.conv_spikes(self.conv_scale(filtered), mask))
        return self.fuse(residual, self.dropout(mixed))


class PSpikeSSM(nn.Module):
    """Stack of :class:`PSpikeSSMBlock` with an encoder and a pooled linear decoder.

    Parameters
    ----------
    n_classes : int
        Output size.
    n_features : int, default=1
        Channels per step of real-valued input ``[B, L, n_features]``.
    vocab_size : int or None, default=None
        If set, the input is token ids ``[B, L]`` in ``[0, vocab_size)``,
        embedded; ``n_features`` is then ignored.
    d_model : int, default=128
    n_layers : int, default=4
    d_state : int, default=64
    bidirectional : bool, default=False
        Non-causal kernels (forward and backward).
    dropout : float, default=0.0
    neuron : {'sampler', 'lif', 'none'}, default='sampler'
        ``'none'``: the non-spiking twin, ``clamp(p, 0, 1)`` in place of every
        sampler (``sampling`` and ``threshold`` then have no effect).
    sampling : {'bernoulli', 'expected', 'threshold'}, default='threshold'
        The samplers' inference mode (training always samples).
    threshold : float, default=0.5
        Sampler cut-off for ``sampling='threshold'``; LIF firing threshold.
    tau, reset, refractory, surrogate, alpha, backend
        LIF parameters for ``neuron='lif'`` (see :class:`snnsk.neurons.LIF`).
    init : {'inv', 'lin'}, default='inv'
        S4D initialisation of A.
    dt_max : float, default=1.0
        Largest initial SSM step (the smallest is 1e-3): the range reaches
        from memories of about a thousand steps down to about one, so short
        sequences (64-step digits) and long ones (ListOps) both train; S4D's
        usual 0.1 suits only long sequences.

    Forward ``(x, lengths=None)``: ``lengths`` (``[B]``) gives each
    sequence's real length when ``x`` is right-padded; padding never changes
    the output. Returns ``[1, B, n_classes]`` logits (one readout step, the
    time-first convention of the other models).
    """

    def __init__(self, n_classes: int, n_features: int = 1, vocab_size: int | None = None,
                 d_model: int = 128, n_layers: int = 4, d_state: int = 64,
                 bidirectional: bool = False, dropout: float = 0.0, neuron: str = "sampler",
                 sampling: str = "threshold", threshold: float = 0.5, tau: float = 2.0,
                 reset: str = "hard", refractory: int = 0, surrogate="atan", alpha=None,
                 backend: str = "auto", init: str = "inv", dt_max: float = 1.0):
        super().__init__()
        for name, value in (("n_classes", n_classes), ("n_features", n_features),
                            ("d_model", d_model), ("n_layers", n_layers)):
            check_positive_int(name, value)
        if vocab_size is not None and (isinstance(vocab_size, bool) or not isinstance(vocab_size, int)
                                       or vocab_size < 1):
            raise ValueError(f"vocab_size must be None or a positive integer, got {vocab_size!r}")
        if neuron not in NEURONS:
            raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
        if not isinstance(bidirectional, bool):
            raise ValueError(f"bidirectional must be True or False, got {bidirectional!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if init not in KERNEL_INITS:
            raise ValueError(f"init must be one of {', '.join(KERNEL_INITS)}, got {init!r}")
        SpikeSampler.check(sampling=sampling, threshold=threshold)
        lif_params = dict(tau=tau, reset=reset, refractory=refractory, surrogate=surrogate,
                          alpha=alpha, backend=backend)
        self.vocab_size = vocab_size
        self.encoder = (nn.Embedding(vocab_size, d_model) if vocab_size is not None
                        else nn.Linear(n_features, d_model))
        self.blocks = nn.ModuleList(
            PSpikeSSMBlock(d_model, d_state, bidirectional, dropout, neuron, sampling, threshold,
                           lif_params, init=init, dt_max=dt_max)
            for _ in range(n_layers))
        self.input_fuse = ClampFuse(d_model)
        # affine-free: the decoder that follows supplies scale and offset
        self.readout_norm = nn.BatchNorm1d(d_model, affine=False)
        self.decoder = nn.Linear(d_model, n_classes)

    def ssm_parameters(self):
        """Parameters of the SSM dynamics (``dt``, ``A``): their own learning rate, no weight decay."""
        return [p for block in self.blocks for p in block.conv.ssm_parameters()]

    def samplers(self):
        return [m for m in self.modules() if isinstance(m, SpikeSampler)]

    def set_spiking_params(self, **params):
        """Change sampler and neuron settings in place (weights are kept).

        ``sampling`` and ``threshold`` go to every sampler; ``threshold`` and
        the LIF parameters to every LIF neuron. Values are validated first, so
        a bad one changes nothing.
        """
        unknown = set(params) - set(NEURON_PARAMS) - {"sampling"}
        if unknown:
            raise ValueError(f"unknown spiking parameters: {sorted(unknown)}")
        sampler_params = {k: params[k] for k in ("sampling", "threshold") if k in params}
        SpikeSampler.check(**sampler_params)
        lif_params = {k: v for k, v in params.items() if k != "sampling"}
        if lif_params:
            set_neuron_params(self, **lif_params)
        for sampler in self.samplers():
            for name, value in sampler_params.items():
                setattr(sampler, name, value)

    def pooled_features(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The readout's input: the last normalised residual stream averaged over real steps, ``[B, d_model]``."""
        batch, steps = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device)
        # A batch is only as long as its longest sequence: drop the shared padding. The copy
        # makes the input of a batch cut from longer padding the input of one padded to its own
        # length (a streamed batch): a strided view's gradients round differently, and an
        # array fit and a Dataset fit would drift apart.
        steps = int(lengths.max())
        x = x[:, :steps].contiguous()
        # without padding there is nothing to mask: skip the multiplications altogether
        mask = (None if int(lengths.min()) == steps
                else torch.arange(steps, device=x.device)[:, None] < lengths[None, :])  # [L, B]
        residual, probabilities = self.input_fuse(self.encoder(x).transpose(0, 1))  # time first
        for block in self.blocks:
            residual, probabilities = block(residual, probabilities, mask)
        # the decoder reads the last fuse's normalisation, before its clamp
        h = self.blocks[-1].fuse.norm(residual)
        if mask is None:
            return h.mean(0)
        return (h * mask[..., None]).sum(0) / lengths[:, None].to(h.dtype)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        pooled = self.pooled_features(x, lengths)
        norm = self.readout_norm
        if self.training and pooled.shape[0] == 1:
            # one sample has no batch statistics: it is standardised with the stored ones
            pooled = nn.functional.batch_norm(pooled, norm.running_mean, norm.running_var,
                                              training=False, eps=norm.eps)
        else:
            pooled = norm(pooled)
        return self.decoder(pooled).unsqueeze(0)
