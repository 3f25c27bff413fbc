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

``spiking='lif'`` replaces both samplers by LIF neurons running along the
sequence, the LIF-based spiking SSM the paper compares against;
``spiking='none'`` by their mean-field value ``clamp(p, 0, 1)`` (no random
numbers, no spikes, in training and inference): the non-spiking twin, the same
network but for the sampling, that the spiking model's cost is measured against. The encoder
is a Linear layer (real-valued features) or an embedding (token ids); the
decoder takes the last block's normalised residual stream (its fuse's
normalisation, before the clamp), mean-pools it over the real (unpadded) steps,
standardises the pooled features across samples (batch normalisation) and reads
out with a Linear layer.

Why the readout standardises: each step's features are layer-normalised, so
their average over a sequence is dominated by a part common to every sample.
At initialisation (``embed_dim=128``, permuted sequential digits) the pooled
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

from .._validation import check_positive_int, is_bool, is_real
from ..layers.ssm import (KERNEL_INITS, SAMPLER_NEURON, ChannelAffine, ClampFuse, MaskedLIF,
                          MeanFieldNeuron, S4DConv, SpikeMixer, SpikeSampler, check_sampling)
from ..core.neuron_config import NeuronConfig

__all__ = ["PSpikeSSM", "PSpikeSSMBlock", "SPIKING_NEURONS"]

#: Neurons a block can use: the stochastic sampler, LIF, or none (the mean-field twin).
SPIKING_NEURONS = ("sampler", "lif", "none")


def _make_neuron(spiking: str, sampling: str, neuron: NeuronConfig) -> nn.Module:
    if spiking == "sampler":
        return SpikeSampler(sampling=sampling, neuron=neuron)
    if spiking == "none":
        return MeanFieldNeuron()
    return MaskedLIF(neuron)


class PSpikeSSMBlock(nn.Module):
    """One P-SpikeSSM block on ``[L, B, H]`` (see the module docstring).

    Parameters
    ----------
    embed_dim, d_state, bidirectional, init
        Width, SSM state size, kernel direction(s) and A initialisation (see
        :class:`~snnsk.layers.ssm.S4DConv`).
    dropout : float
        Dropout on the mixer output during training.
    spiking : {'sampler', 'lif', 'none'}
        The neurons (see :class:`PSpikeSSM`).
    sampling : str
        The samplers' inference mode (see :class:`~snnsk.layers.ssm.SpikeSampler`).
    neuron : NeuronConfig
        The neurons' configuration: the LIF's, or the sampler's threshold.
    """

    def __init__(self, embed_dim: int, d_state: int, bidirectional: bool, dropout: float,
                 spiking: str, sampling: str, neuron: NeuronConfig,
                 init: str = "inv", dt_max: float = 1.0):
        super().__init__()
        self.in_spikes = _make_neuron(spiking, sampling, neuron)
        self.conv = S4DConv(embed_dim, d_state, bidirectional=bidirectional, init=init,
                            dt_max=dt_max)
        self.conv_scale = ChannelAffine(self.conv.out_channels)
        self.conv_spikes = _make_neuron(spiking, sampling, neuron)
        self.mixer = SpikeMixer(self.conv.out_channels, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.fuse = ClampFuse(embed_dim)

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
    embed_dim : int, default=128
    depth : int, default=4
    d_state : int, default=64
    bidirectional : bool, default=False
        Non-causal kernels (forward and backward).
    dropout : float, default=0.0
    spiking : {'sampler', 'lif', 'none'}, default='sampler'
        The spiking neurons: the stochastic sampler, LIF neurons along the
        sequence, or ``'none'``: the non-spiking twin, ``clamp(p, 0, 1)`` in
        place of every sampler (``sampling`` and ``neuron`` then have no effect).
    sampling : {'bernoulli', 'expected', 'threshold'}, default='threshold'
        The samplers' inference mode (training always samples); settable.
    neuron : NeuronConfig or None, default=None
        The neurons' configuration: ``threshold`` is where a neuron fires
        (the sampler's cut-off for ``sampling='threshold'``, the LIF's
        firing threshold); the other fields are the LIF's (``spiking='lif'``).
        ``None`` takes :data:`~snnsk.layers.ssm.SAMPLER_NEURON` (threshold 0.5).
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
                 embed_dim: int = 128, depth: int = 4, d_state: int = 64,
                 bidirectional: bool = False, dropout: float = 0.0, spiking: str = "sampler",
                 sampling: str = "threshold", neuron: NeuronConfig | None = None,
                 init: str = "inv", dt_max: float = 1.0):
        super().__init__()
        n_classes, n_features, embed_dim, depth = (
            check_positive_int(name, value) for name, value in (
                ("n_classes", n_classes), ("n_features", n_features), ("embed_dim", embed_dim),
                ("depth", depth)))
        if vocab_size is not None:
            try:
                vocab_size = check_positive_int("vocab_size", vocab_size)
            except ValueError:
                raise ValueError(f"vocab_size must be None or a positive integer, "
                                 f"got {vocab_size!r}") from None
        if spiking not in SPIKING_NEURONS:
            raise ValueError(f"spiking must be one of {', '.join(SPIKING_NEURONS)}, "
                             f"got {spiking!r}")
        if not is_bool(bidirectional):
            raise ValueError(f"bidirectional must be True or False, got {bidirectional!r}")
        bidirectional = bool(bidirectional)
        if not is_real(dropout) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if init not in KERNEL_INITS:
            raise ValueError(f"init must be one of {', '.join(KERNEL_INITS)}, got {init!r}")
        self._sampling = check_sampling(sampling)
        neuron = SAMPLER_NEURON if neuron is None else neuron
        self.vocab_size = vocab_size
        self.encoder = (nn.Embedding(vocab_size, embed_dim) if vocab_size is not None
                        else nn.Linear(n_features, embed_dim))
        self.blocks = nn.ModuleList(
            PSpikeSSMBlock(embed_dim, d_state, bidirectional, dropout, spiking, sampling, neuron,
                           init=init, dt_max=dt_max)
            for _ in range(depth))
        self.input_fuse = ClampFuse(embed_dim)
        # affine-free: the decoder that follows supplies scale and offset
        self.readout_norm = nn.BatchNorm1d(embed_dim, affine=False)
        self.decoder = nn.Linear(embed_dim, n_classes)

    def ssm_parameters(self):
        """Parameters of the SSM dynamics (``dt``, ``A``): their own learning rate, no weight decay."""
        return [p for block in self.blocks for p in block.conv.ssm_parameters()]

    def samplers(self):
        return [m for m in self.modules() if isinstance(m, SpikeSampler)]

    @property
    def sampling(self) -> str:
        """The samplers' inference mode (settable: every sampler changes, the weights are kept)."""
        return self._sampling

    @sampling.setter
    def sampling(self, sampling: str):
        self._sampling = check_sampling(sampling)
        for sampler in self.samplers():
            sampler.sampling = sampling

    def pooled_features(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The readout's input: the last normalised residual stream averaged over real steps, ``[B, embed_dim]``."""
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
