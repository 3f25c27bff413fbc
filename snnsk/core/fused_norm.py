"""Batch norm (and the layer before it) feeding a LIF neuron, recomputed in backward instead of kept.

In the spiking vision transformer nearly every neuron reads a batch norm:
``LIF(BN(Linear(x)))`` or ``LIF(BN(Conv(x)))``. Composed by autograd, the
pair keeps two full-size float tensors per step for backward: the norm's
input (for its own gradient) and the neuron's pre-reset potentials (for the
surrogate); at ``T = 4`` they were most of a training step's activation
memory. :func:`normalised_lif` keeps the norm's input, its per-channel
statistics and the spikes (which the next layer keeps anyway, as int8 inside
:func:`~snnsk.core.memory.compact_saved_spikes`). Backward rebuilds the
potentials in one pass of a compiled kernel
(:mod:`snnsk.core.backends.cpu_norm`): the normalised input as the per-channel
affine map ``α_c z + β_c``, the resets from the saved spikes, so every branch
is the forward's; then the neuron's backward and the norm's
(``native_batch_norm_backward``, as the composition runs it). Given the layer
before the norm too (``layer=``, the tokenizer's convolutions), it keeps only
that layer's input and computes the layer's output again in backward, one
more convolution for two fewer full-size tensors.

Forward values and running statistics are those of ``neuron(norm(layer(x)))``
exactly; gradients agree to rounding (the potentials are recomputed with a
different but equivalent formula for the normalised input). The fused path
runs for the ``cpu`` backend without a refractory period whenever a gradient
is needed and nothing hooks the norm or the layer; everywhere else the layers
run one after the other.

Used through :class:`snnsk.core.neurons.LIF`: ``neuron(x, norm=bn)`` or
``neuron(x, norm=bn, layer=conv)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .backends import resolve_backend, run_lif
from .backends.cpu_norm import normalised_backward_into
from .memory import mark_spikes, packed_spikes
from .neuron_config import NeuronConfig

__all__ = ["normalised_lif", "apply_norm", "drive", "time_folded"]


def _fold(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The time-first ``x`` ``[T, B, ...]`` in the shape ``norm`` takes (a view when possible)."""
    fold = getattr(norm, "fold_time", None)
    return fold(x) if fold is not None else x.flatten(0, 1)


def apply_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``norm`` applied to the time-first ``x`` ``[T, B, ...]``, time folded into the batch.

    A norm with a ``fold_time(x)`` method (:class:`~snnsk.layers.TokenBatchNorm`)
    says how; any other folds the first two axes (``[T·B, C, ...]``, as
    ``BatchNorm1d/2d`` expect).
    """
    return norm(_fold(norm, x)).reshape(x.shape)


def _channels_last(z: torch.Tensor) -> bool:
    # the norm's input is contiguous or a channels-last image batch (see _layer_output)
    return z.dim() == 4 and not z.is_contiguous()


def _rows(t: torch.Tensor, steps: int) -> torch.Tensor:
    """``t`` (the norm's layout, time outermost in its first axis) as ``[T, N]`` in memory order."""
    return (t.permute(0, 2, 3, 1) if _channels_last(t) else t).view(steps, -1)


def _matching_layout(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``t`` (shaped like ``z``) in ``z``'s memory layout (a no-op when it is already)."""
    return t.contiguous(memory_format=torch.channels_last if _channels_last(z)
                        else torch.contiguous_format)


def _channel_run(z: torch.Tensor) -> int:
    """Consecutive columns of :func:`_rows` that share a channel (1: channels innermost)."""
    return 1 if _channels_last(z) else math.prod(z.shape[2:])


def drive(x: torch.Tensor, norm: nn.Module | None = None,
          layer: nn.Module | None = None) -> torch.Tensor:
    """``norm(layer(x))`` for the time-first ``x``, each step's layers in turn, nothing fused.

    What a neuron called as ``neuron(x, norm=norm, layer=layer)`` is driven by
    (a stand-in for the neuron, such as a non-spiking twin's ReLU, takes the
    same arguments through this).
    """
    z = time_folded(layer, x) if layer is not None else x
    return z if norm is None else apply_norm(norm, z)


def _fusable(norm: nn.Module, x: torch.Tensor, p: NeuronConfig, layer) -> bool:
    if not isinstance(norm, nn.modules.batchnorm._BatchNorm) or not torch.is_grad_enabled():
        return False  # inference keeps nothing for backward: nothing to save
    if norm._forward_hooks or norm._forward_pre_hooks:
        return False  # someone observes the norm's own call: make it
    if layer is not None and (not isinstance(layer, nn.Module) or layer._forward_hooks
                              or layer._forward_pre_hooks):
        return False
    if p.refractory or resolve_backend(x, p) != "cpu":
        return False  # the fused backward is the cpu backend's kernel, without refractory periods
    params = [t for t in (norm.weight, norm.bias) if t is not None]
    if layer is not None:
        params += list(layer.parameters())
    return x.requires_grad or any(t.requires_grad for t in params)


def _statistics_arguments(norm: nn.modules.batchnorm._BatchNorm):
    """``(use batch statistics, momentum, running mean, running var)`` as ``_BatchNorm.forward`` computes them.

    Like that forward, counts the batch in ``num_batches_tracked`` when training.
    """
    momentum = 0.0 if norm.momentum is None else norm.momentum
    if norm.training and norm.track_running_stats and norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        momentum = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    batch_statistics = norm.training or (norm.running_mean is None and norm.running_var is None)
    track = not norm.training or norm.track_running_stats
    return (batch_statistics, momentum, norm.running_mean if track else None,
            norm.running_var if track else None)


def _layer_output(layer, norm, x):
    """The norm's input in its own layout, contiguous or channels-last; and its time-first shape."""
    z = time_folded(layer, x) if layer is not None else x
    folded = _fold(norm, z)
    if not (folded.is_contiguous() or (
            folded.dim() == 4 and folded.is_contiguous(memory_format=torch.channels_last))):
        folded = folded.contiguous()
    return folded, z.shape


def time_folded(layer, x: torch.Tensor) -> torch.Tensor:
    """Apply ``layer`` (a module or callable on ``[N, ...]``) to ``x`` of shape ``[T, B, ...]`` with time folded into the batch."""
    t, b = x.shape[:2]
    y = layer(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class _NormalisedLIF(torch.autograd.Function):
    """``LIF(BN(layer(x)))``; see the module docstring."""

    @staticmethod
    def forward(ctx, x, weight, bias, norm, layer, p: NeuronConfig, *layer_params):
        z, time_shape = _layer_output(layer, norm, x)
        batch_statistics, momentum, running_mean, running_var = _statistics_arguments(norm)
        y, mean, invstd = torch.native_batch_norm(z, weight, bias, running_mean, running_var,
                                                  batch_statistics, momentum, norm.eps)
        spikes, _ = run_lif(y.reshape(time_shape), p)
        ctx.batch_statistics, ctx.eps, ctx.p, ctx.layer, ctx.norm = (
            batch_statistics, norm.eps, p, layer, norm)
        ctx.steps = time_shape[0]
        if batch_statistics:
            statistics = (mean, invstd)
        else:
            # the running statistics of this call (training may change them before backward)
            statistics = (running_mean.clone(), running_var.clone())
            invstd = torch.rsqrt(statistics[1] + norm.eps)
        # the normalisation as a per-channel affine map, for the kernel
        scale = invstd if weight is None else invstd * weight
        shift = -statistics[0] * scale
        if bias is not None:
            shift = shift + bias
        # The spikes give backward the forward's resets. Inside compact_saved_spikes they are
        # kept as the int8 copy the next layer saving them shares (and the kernel reads).
        mark_spikes(spikes)
        fired = packed_spikes(spikes)
        # with a layer, its input is kept and its output recomputed; else the output itself
        ctx.save_for_backward(x, weight, *statistics, scale, shift,
                              spikes if fired is None else fired)
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        x, weight, first, second, scale, shift, spikes = ctx.saved_tensors
        layer, norm = ctx.layer, ctx.norm
        if layer is not None:
            with torch.enable_grad():
                x_in = x.detach().requires_grad_(ctx.needs_input_grad[0])
                z_graph, _ = _layer_output(layer, norm, x_in)
            z = z_graph.detach()
        else:
            z, _ = _layer_output(None, norm, x)
        grad_y = torch.empty_like(z)
        fired = _matching_layout(spikes.reshape(z.shape), z)
        grad_s = _matching_layout(grad_spikes.reshape(z.shape), z)
        rows = [_rows(t, ctx.steps) for t in (z, fired, grad_s, grad_y)]
        normalised_backward_into(*(r.numpy() for r in rows), scale.numpy(), shift.numpy(),
                                 _channel_run(z), ctx.p)
        mean, invstd, running_mean, running_var = (
            (first, second, None, None) if ctx.batch_statistics else (None, None, first, second))
        needs = [ctx.needs_input_grad[0] or layer is not None,
                 weight is not None and ctx.needs_input_grad[1],
                 norm.bias is not None and ctx.needs_input_grad[2]]
        grad_z, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad_y, z, weight, running_mean, running_var, mean, invstd, ctx.batch_statistics,
            ctx.eps, needs)
        if layer is None:
            grad_x = grad_z.reshape(x.shape) if ctx.needs_input_grad[0] else None
            grad_params = ()
        else:
            needs_params = ctx.needs_input_grad[6:]
            wanted = ([x_in] if ctx.needs_input_grad[0] else []) + [
                t for t, need in zip(layer.parameters(), needs_params) if need]
            grads = list(torch.autograd.grad(z_graph, wanted, grad_z)) if wanted else []
            grad_x = grads.pop(0) if ctx.needs_input_grad[0] else None
            grad_params = tuple(grads.pop(0) if need else None for need in needs_params)
        return (grad_x, grad_weight if needs[1] else None, grad_bias if needs[2] else None,
                None, None, None, *grad_params)


def normalised_lif(x: torch.Tensor, norm: nn.Module, p: NeuronConfig,
                   layer: nn.Module | None = None):
    """Spikes of a LIF neuron ``p`` driven by ``norm(layer(x))``, time folded into the batch.

    Parameters
    ----------
    x : torch.Tensor of shape ``[T, B, ...]``
        Time first: the norm's input, or the layer's with ``layer``.
    norm : torch.nn.Module
        Applied as :func:`apply_norm` does.
    p : NeuronConfig
        The neuron (its ``backend`` included).
    layer : torch.nn.Module or None
        A layer before the norm (a convolution, a linear map), applied to
        ``x`` with time folded into the batch.

    Returns
    -------
    torch.Tensor
        Spikes, the shape of the norm's output.

    Notes
    -----
    A batch norm is fused (see the module docstring) whenever a gradient is
    needed, nothing hooks the norm's or the layer's own call, and the neuron
    runs on the ``cpu`` backend without a refractory period; the layer's
    output is then recomputed in backward from ``x`` too. Otherwise the
    layers run one after the other.
    """
    if not _fusable(norm, x, p, layer):
        return run_lif(drive(x, norm, layer), p)[0]
    if layer is None:
        norm._check_input_dim(_fold(norm, x))
    params = tuple(layer.parameters()) if layer is not None else ()
    return _NormalisedLIF.apply(x, norm.weight, norm.bias, norm, layer, p, *params)
