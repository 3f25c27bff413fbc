"""Encoders that turn static inputs ``[B, ...]`` into time sequences ``[T, B, ...]``.

* :func:`direct` repeats the (analog) input at every step; the first layer of
  the network then acts as the encoder (the usual choice for static images).
* :func:`rate` (Poisson / Bernoulli rate coding) emits a spike at each step
  with probability equal to the input intensity, clipped to [0, 1].
* :func:`latency` emits one spike per input, earlier for stronger inputs.
* :func:`bin_frames` is for input that already has a time axis (event frames,
  spike-count sequences such as the Spiking Heidelberg Digits'): ``F``
  frames, batch first, summed into ``T`` consecutive bins, time first.

Each has a thin module wrapper (:class:`DirectEncoder`, :class:`RateEncoder`,
:class:`LatencyEncoder`) and :func:`get_encoder` looks one up by name.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_positive_int

__all__ = [
    "direct",
    "rate",
    "latency",
    "bin_frames",
    "DirectEncoder",
    "RateEncoder",
    "LatencyEncoder",
    "ENCODERS",
    "get_encoder",
]


def _check_timesteps(timesteps) -> int:
    return check_positive_int("timesteps", timesteps)


def direct(x: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Repeat ``x`` at every time step: ``[B, ...]`` → ``[T, B, ...]``.

    Returns a broadcast view (no copy); do not modify it in place.
    """
    timesteps = _check_timesteps(timesteps)
    return x.unsqueeze(0).expand(timesteps, *x.shape)


def rate(x: torch.Tensor, timesteps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli (Poisson) rate coding: ``P(spike at t) = clip(x, 0, 1)``.

    Parameters
    ----------
    x : torch.Tensor of shape ``[B, ...]``
        Intensities, expected in [0, 1] (values outside are clipped).
    timesteps : int
        Number of steps T.
    generator : torch.Generator, optional
        Source of randomness, for reproducible spike trains.

    Returns
    -------
    torch.Tensor of shape ``[T, B, ...]``, values in {0, 1}, dtype of ``x``.
    """
    timesteps = _check_timesteps(timesteps)
    p = x.clamp(0, 1).unsqueeze(0).expand(timesteps, *x.shape)
    u = torch.rand(p.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (u < p).to(x.dtype)


def latency(x: torch.Tensor, timesteps: int, threshold: float = 0.0) -> torch.Tensor:
    """Latency (time-to-first-spike) coding: one spike per input.

    An input of intensity ``x`` in [0, 1] fires once, at step
    ``round((1 - x) * (T - 1))``: the strongest inputs fire first. Inputs at or
    below ``threshold`` never fire.
    """
    timesteps = _check_timesteps(timesteps)
    xc = x.clamp(0, 1)
    fire_at = torch.round((1 - xc) * (timesteps - 1)).long()
    steps = torch.arange(timesteps, device=x.device).view(-1, *([1] * x.dim()))
    spikes = (steps == fire_at.unsqueeze(0)) & (xc > threshold).unsqueeze(0)
    return spikes.to(x.dtype)


def bin_frames(frames: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Sum ``[B, F, ...]`` frames into ``[T, B, ...]``, ``T = timesteps`` bins of consecutive frames.

    Bin ``i`` holds frames ``i·F // T`` up to (not including) ``(i+1)·F // T``,
    so the bins differ in length by at most one frame; with ``F == T`` every
    frame is its own step. Summing keeps every event (spike counts add up).

    Raises
    ------
    ValueError
        When there are fewer frames than steps.
    """
    timesteps = _check_timesteps(timesteps)
    n_frames = frames.shape[1]
    if n_frames < timesteps:
        raise ValueError(f"the input has {n_frames} frames (time steps), fewer than timesteps "
                         f"({timesteps})")
    if n_frames == timesteps:
        return frames.transpose(0, 1)
    edges = [i * n_frames // timesteps for i in range(timesteps + 1)]
    return torch.stack([frames[:, a:b].sum(dim=1) for a, b in zip(edges[:-1], edges[1:])])


class DirectEncoder(nn.Module):
    """Module form of :func:`direct`."""

    def __init__(self, timesteps: int = 4):
        super().__init__()
        self.timesteps = _check_timesteps(timesteps)

    def forward(self, x):
        return direct(x, self.timesteps)

    def extra_repr(self):
        return f"timesteps={self.timesteps}"


class RateEncoder(nn.Module):
    """Module form of :func:`rate`.

    Draws from torch's global generator, so an estimator's ``random_state``
    (which seeds it around fit and predict) makes the spike trains reproducible.
    """

    def __init__(self, timesteps: int = 4):
        super().__init__()
        self.timesteps = _check_timesteps(timesteps)

    def forward(self, x):
        return rate(x, self.timesteps)

    def extra_repr(self):
        return f"timesteps={self.timesteps}"


class LatencyEncoder(nn.Module):
    """Module form of :func:`latency`."""

    def __init__(self, timesteps: int = 4, threshold: float = 0.0):
        super().__init__()
        self.timesteps = _check_timesteps(timesteps)
        self.threshold = threshold

    def forward(self, x):
        return latency(x, self.timesteps, self.threshold)

    def extra_repr(self):
        return f"timesteps={self.timesteps}, threshold={self.threshold}"


ENCODERS = {"direct": DirectEncoder, "rate": RateEncoder, "poisson": RateEncoder,
            "latency": LatencyEncoder}


def get_encoder(name: str, timesteps: int) -> nn.Module:
    """Build an encoder module by name: ``'direct'``, ``'rate'`` (= ``'poisson'``) or ``'latency'``."""
    try:
        cls = ENCODERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(ENCODERS)}") from None
    return cls(timesteps)
