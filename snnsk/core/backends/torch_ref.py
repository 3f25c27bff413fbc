"""The readable PyTorch reference of the multi-step LIF neuron.

A plain Python loop over time; autograd differentiates it. Every other backend
is tested against this one: spikes must match exactly and gradients closely.
"""

from __future__ import annotations

import torch

from ..neuron_config import NeuronConfig


def lif_torch(x: torch.Tensor, p: NeuronConfig, return_v: bool = False):
    """Run the LIF over ``x`` of shape ``[T, ...]``.

    Returns ``(spikes, v)`` where ``v`` is the post-reset membrane potential
    sequence (``None`` unless ``return_v``).
    """
    v = torch.full_like(x[0], p.v_reset)
    refractory_left = torch.zeros_like(x[0], dtype=torch.int32) if p.refractory else None
    spikes, vs = [], []
    # unbind, not x[t]: indexing's backward writes a full-size zero tensor per step (O(T^2 N))
    for x_t in x.unbind(0):
        # Operation order mirrors SpikingJelly so spikes agree bit for bit.
        if p.decay_input:
            h = v + (x_t - (v - p.v_reset)) / p.tau
        else:
            h = v - (v - p.v_reset) / p.tau + x_t
        if refractory_left is None:
            s = p.surrogate(h - p.threshold)
        else:
            # A refractory neuron ignores its input, holds its post-reset
            # potential and cannot fire.
            active = refractory_left == 0
            h = torch.where(active, h, v)
            s = p.surrogate(h - p.threshold) * active
        s_reset = s.detach() if p.detach_reset else s
        if p.hard_reset:
            v = h * (1 - s_reset) + p.v_reset * s_reset
        else:
            v = h - p.threshold * s_reset
        if refractory_left is not None:
            refractory_left = torch.where(
                s > 0,
                torch.full_like(refractory_left, p.refractory),
                (refractory_left - 1).clamp_(min=0),
            )
        spikes.append(s)
        if return_v:
            vs.append(v)
    return torch.stack(spikes), (torch.stack(vs) if return_v else None)
