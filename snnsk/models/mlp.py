"""A fully connected spiking network: encoder → (Linear → LIF)* → Linear readout."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_real, is_int
from ..core.encoding import DirectEncoder, bin_frames, get_encoder
from ..core.neurons import LIF, NeuronConfig

__all__ = ["SpikingMLP", "check_layer_sizes"]


def check_layer_sizes(name, sizes) -> tuple:
    """``sizes`` (an integer or a non-empty sequence of them, each >= 1) as a tuple of ints."""
    widths = (sizes,) if is_int(sizes) else tuple(sizes) if isinstance(sizes, (tuple, list)) else ()
    if not widths or not all(is_int(h) and h >= 1 for h in widths):
        raise ValueError(f"{name} must be positive integers, got {sizes!r}")
    return tuple(int(h) for h in widths)


class SpikingMLP(nn.Module):
    """Multi-layer spiking perceptron with per-timestep outputs.

    Parameters
    ----------
    n_features : int
        Input size.
    n_classes : int
        Output size.
    hidden_layer_sizes : tuple of int, default=(512,)
        Width of each spiking hidden layer.
    timesteps : int, default=4
        Number of simulation steps T.
    neuron : NeuronConfig or None, default=None
        The neurons of every hidden layer (:class:`snnsk.core.neurons.NeuronConfig`;
        ``None``: the defaults).
    encoding : {'direct', 'rate', 'latency'}, default='direct'
        How a static input becomes a ``[T, B, F]`` sequence.
    dropout : float, default=0.0
        Dropout on the hidden spikes during training.

    Input ``[B, n_features]`` (static, encoded by ``encoding``) or ``[B, L, n_features]`` (a
    sequence with its own time axis, such as spike counts per time bin: its ``L`` steps are
    summed into ``timesteps`` consecutive bins, see :func:`snnsk.core.encoding.bin_frames`, and fed
    one bin per step); output ``[T, B, n_classes]`` logits, one set per step.
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(512,), timesteps=4,
                 neuron: NeuronConfig | None = None, encoding="direct", dropout=0.0):
        super().__init__()
        sizes = check_layer_sizes("hidden_layer_sizes", hidden_layer_sizes)
        check_real("dropout", dropout, 0.0, 1.0, high_open=True, what="in [0, 1)")
        self.encoder = get_encoder(encoding, timesteps)
        widths = (n_features,) + sizes
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.neurons = nn.ModuleList(LIF(neuron) for _ in sizes)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(sizes[-1], n_classes)

    @property
    def timesteps(self) -> int:
        """Simulation steps T (the encoder's; settable, the weights are kept)."""
        return self.encoder.timesteps

    @timesteps.setter
    def timesteps(self, timesteps: int):
        self.encoder.timesteps = timesteps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            z = self.linears[0](bin_frames(x, self.timesteps))
        elif isinstance(self.encoder, DirectEncoder):
            # The same input at every step: apply the first layer once, then repeat.
            z = self.linears[0](x).unsqueeze(0).expand(self.timesteps, *x.shape[:-1], -1)
        else:
            z = self.linears[0](self.encoder(x))
        s = self.dropout(self.neurons[0](z))
        for linear, neuron in zip(self.linears[1:], self.neurons[1:]):
            s = self.dropout(neuron(linear(s)))
        return self.readout(s)
