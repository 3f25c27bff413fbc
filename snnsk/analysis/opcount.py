"""Count the arithmetic a forward pass really does, for energy estimates.

A spiking network saves energy because a binary spike turns a
multiply-accumulate into a plain accumulate, and a silent neuron costs nothing
downstream. The counts here come from the tensors of a real forward pass, not
from layer shapes:

* **synaptic operations** (accumulates driven by spikes): in a product where
  one operand is binary, one accumulate per term whose two factors are both
  nonzero. A spike into an ``nn.Linear`` with ``out_features = F`` costs ``F``;
  into a convolution, one per output position it reaches per output channel
  of its group; in a product of two spike matrices, one per pair of co-active
  entries.
* **MACs**: multiply-accumulates on real-valued (non-binary) operands, counted
  densely (the first layer reading analog input, an encoder, a non-spiking
  baseline).
* **dense MACs**: what the same product costs done densely, whatever the
  operands hold: the equivalent non-spiking count of that layer, at every
  step it was run.

Whether an operand is binary is decided from its values (every entry 0 or 1,
or −1 for the OFF spikes of a ternary layer),
so a layer fed spikes that were averaged or scaled is counted as MACs.
Biases, normalisation, neuron updates, softmax and constant scales that fold
into the next neuron's threshold are not counted, as in the usual estimates.

Two ways in:

* :class:`OperationCounter`, a context manager over a module: forward hooks
  on the spiking layers (spikes, firing rate), on ``nn.Linear`` and on
  ``nn.Conv1d/2d/3d`` layers (counts), and bookkeeping of which module is
  running.
* :func:`count_matmul`, :func:`count_scaling` and :func:`count_macs`, called
  from inside layers for products that hooks cannot see (attention between
  spike matrices). They are attributed to the innermost running module, as
  ``"<module name>.<op>"``. Outside an :class:`OperationCounter` they return
  at once, so layers may call them unconditionally; guard any extra work
  (building a mask only for counting) with :func:`counting`.
"""

from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .._validation import check_int
from ..core.neurons import spiking_layers
from .spike_counts import SpikeCount, padding_mask, spike_output

__all__ = ["OperationCounter", "LayerCount", "count_matmul", "count_elementwise", "count_scaling",
           "count_macs", "count_fanout", "counting", "is_binary"]

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("snnsk_operation_counter", default=None)


def counting() -> bool:
    """Whether an :class:`OperationCounter` is active (layers skip counting work otherwise)."""
    return _ACTIVE.get() is not None


def is_binary(x: torch.Tensor) -> bool:
    """Whether every entry of ``x`` is 0, 1 or −1 (a spike tensor, judged by its values).

    A −1 is an OFF spike of a :class:`snnsk.core.neurons.TernaryLIF`: the layer it
    reaches subtracts the weight instead of adding it, still one accumulate.
    """
    if x.dtype == torch.bool:
        return True
    return bool(torch.all((x == 0) | (x.abs() == 1)))


@dataclass
class LayerCount:
    """What one layer did during the counted forward passes (totals over all calls).

    Attributes
    ----------
    kind : str
        ``'spiking'`` (a layer yielded by :func:`snnsk.core.neurons.spiking_layers`),
        ``'linear'``, ``'conv'`` or ``'matmul'`` (a product reported by a layer).
    spike_count : SpikeCount
        Spiking layers: the running count of :mod:`snnsk.analysis.spike_counts`,
        read through ``neurons`` (per sample), ``timesteps`` (of the longest
        call), ``spikes`` and ``neuron_steps`` (real, unpadded steps: the
        denominator of the firing rate).
    synaptic_ops, macs, dense_macs : int
        Accumulates driven by spikes, multiply-accumulates on real operands
        and the dense equivalent (see the module docstring).
    spike_calls, real_calls : int
        Calls whose input was binary / real-valued.
    """

    kind: str
    spike_count: SpikeCount = field(default_factory=SpikeCount, repr=False)
    synaptic_ops: int = 0
    macs: int = 0
    dense_macs: int = 0
    spike_calls: int = 0
    real_calls: int = 0

    @property
    def neurons(self) -> int:
        return self.spike_count.neurons

    @property
    def timesteps(self) -> int:
        return self.spike_count.timesteps

    @property
    def spikes(self) -> float:
        return self.spike_count.spikes

    @property
    def neuron_steps(self) -> int:
        return self.spike_count.neuron_steps

    @property
    def input(self) -> str | None:
        """``'spikes'``, ``'real'`` or ``'mixed'`` for counted layers; None for spiking layers."""
        if not self.spike_calls and not self.real_calls:
            return None
        if self.spike_calls and self.real_calls:
            return "mixed"
        return "spikes" if self.spike_calls else "real"

    def add_product(self, spike_driven: bool, synaptic_ops: int, dense_macs: int):
        """Add one product: spike-driven ones cost accumulates, real ones their dense MACs."""
        self.dense_macs += dense_macs
        if spike_driven:
            self.spike_calls += 1
            self.synaptic_ops += synaptic_ops
        else:
            self.real_calls += 1
            self.macs += dense_macs


class OperationCounter:
    """Count spikes and operations of every forward pass of ``module`` inside the block.

    Parameters
    ----------
    module : nn.Module
        The network; every submodule is watched.
    operations : bool, default=True
        Count operations; ``False`` records only the spiking layers (cheaper,
        enough for firing rates).

    Attributes
    ----------
    layers : dict of str to LayerCount
        One entry per layer, in the order the layers first ran.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from snnsk.analysis.opcount import OperationCounter
    >>> layer = nn.Linear(4, 3)
    >>> with OperationCounter(layer) as counter, torch.no_grad():
    ...     _ = layer(torch.tensor([[1.0, 0.0, 1.0, 0.0]]))
    >>> counter.layers[""].synaptic_ops            # 2 spikes x 3 outputs
    6
    """

    def __init__(self, module: nn.Module, operations: bool = True):
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.operations = operations
        self.layers: dict[str, LayerCount] = {}
        self._running: list[str] = []
        self._handles: list = []
        self._token = None

    # ------------------------------------------------------------- context
    def __enter__(self):
        if self._token is not None:
            raise RuntimeError("this OperationCounter is already active")
        self._token = _ACTIVE.set(self)
        try:
            self._install_hooks()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._running.clear()
        _ACTIVE.reset(self._token)
        self._token = None
        return False

    def _install_hooks(self):
        hook = self._handles.append
        for name, layer in spiking_layers(self.module):
            hook(layer.register_forward_hook(self._spike_hook(name)))
        if not self.operations:
            return
        for name, sub in self.module.named_modules():
            # which module is running, so functional products know whom to report to
            hook(sub.register_forward_pre_hook(self._enter_hook(name)))
            hook(sub.register_forward_hook(self._leave_hook, always_call=True))
            if isinstance(sub, nn.Linear):
                hook(sub.register_forward_hook(self._linear_hook(name)))
            elif isinstance(sub, nn.modules.conv._ConvNd) and not sub.transposed:
                hook(sub.register_forward_hook(self._conv_hook(name)))

    def _entry(self, name: str, kind: str) -> LayerCount:
        entry = self.layers.get(name)
        if entry is None:
            entry = self.layers[name] = LayerCount(kind)
        return entry

    # --------------------------------------------------------------- hooks
    def _enter_hook(self, name):
        def enter(_module, _inputs):
            self._running.append(name)
        return enter

    def _leave_hook(self, _module, _inputs, _output):
        if self._running:
            self._running.pop()

    def _spike_hook(self, name):
        def record(module, inputs, output):
            spikes = spike_output(output)
            self._entry(name, "spiking").spike_count.add(spikes, padding_mask(inputs, spikes),
                                                         module.populations)
        return record

    def _linear_hook(self, name):
        def record(module, inputs, _output):
            x = inputs[0].detach()
            spike_driven = is_binary(x)
            # x.numel() = rows * in_features, and each row costs in_features * out_features
            dense = x.numel() * module.out_features
            synaptic = int(torch.count_nonzero(x)) * module.out_features if spike_driven else 0
            self._entry(name, "linear").add_product(spike_driven, synaptic, dense)
        return record

    def _conv_hook(self, name):
        def record(module, inputs, output):
            x = inputs[0].detach()
            out_per_group = module.out_channels // module.groups
            taps = (module.in_channels // module.groups) * math.prod(module.kernel_size)
            dense = output.numel() * taps
            spike_driven = is_binary(x)
            synaptic = _conv_synaptic_ops(module, x) * out_per_group if spike_driven else 0
            self._entry(name, "conv").add_product(spike_driven, synaptic, dense)
        return record

    # ------------------------------------------------- functional reports
    def _product_entry(self, op: str) -> LayerCount:
        owner = self._running[-1] if self._running else ""
        return self._entry(f"{owner}.{op}" if owner else op, "matmul")


def _conv_synaptic_ops(conv: nn.modules.conv._ConvNd, x: torch.Tensor) -> int:
    """Spike-input pairs of ``conv`` for one output channel per group.

    Convolving the nonzero pattern with an all-ones kernel (one output channel
    per group, the layer's own stride, padding, padding mode, dilation and
    groups) gives, at each output position, how many spikes its receptive
    field holds; the sum is the accumulates of one output channel per group.
    """
    groups = conv.groups
    ones = torch.ones((groups, conv.in_channels // groups, *conv.kernel_size),
                      dtype=torch.float64, device=x.device)
    # float64: the per-position counts and their sum stay exact integers
    reach = conv._conv_forward((x != 0).to(torch.float64), ones, None)
    return int(reach.sum().item())


def _active_entry(op: str) -> LayerCount | None:
    counter = _ACTIVE.get()
    if counter is None or not counter.operations:
        return None
    if not isinstance(op, str) or not op:
        raise ValueError(f"op must be a non-empty string naming the product, got {op!r}")
    return counter._product_entry(op)


def _kept_outputs(keep: torch.Tensor | None, out_shape: torch.Size) -> int:
    # broadcasting repeats each entry of keep exactly numel(out) / numel(keep) times
    total = math.prod(out_shape)
    if keep is None:
        return total
    return int(torch.count_nonzero(keep)) * (total // keep.numel())


def count_matmul(op: str, a: torch.Tensor, b: torch.Tensor, keep: torch.Tensor | None = None):
    """Report the product ``a @ b`` to the active :class:`OperationCounter`.

    Parameters
    ----------
    op : str
        Name of the product; the row is ``"<running module>.<op>"``.
    a, b : torch.Tensor
        ``[..., n, m]`` and ``[..., m, p]`` (batch axes broadcast).
    keep : torch.Tensor or None, default=None
        Nonzero where an output entry is really computed (a causal mask,
        broadcastable to ``[..., n, p]``); other outputs cost nothing.

    Notes
    -----
    If ``a`` or ``b`` is binary, the cost is the number of terms
    ``a[i, k] * b[k, j]`` with both factors nonzero, over the kept outputs:
    one accumulate each (for two spike matrices, one per pair of co-active
    entries). Otherwise it is ``m`` MACs per kept output.
    """
    entry = _active_entry(op)
    if entry is None:
        return
    with torch.no_grad():
        out_shape = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        dense = a.shape[-1] * _kept_outputs(keep, out_shape)
        spike_driven = is_binary(a) or is_binary(b)
        synaptic = 0
        if spike_driven:
            # float64 keeps the pair counts exact
            pairs = (a != 0).to(torch.float64) @ (b != 0).to(torch.float64)
            if keep is not None:
                pairs = pairs * (keep != 0)
            synaptic = int(pairs.sum().item())
        entry.add_product(spike_driven, synaptic, dense)


def count_elementwise(op: str, a: torch.Tensor, b: torch.Tensor):
    """Report the elementwise product ``a * b`` (broadcast), e.g. a spike mask applied to spikes.

    If ``a`` or ``b`` is binary, each output whose two factors are both
    nonzero costs one accumulate (for two spike tensors, a logical AND per
    co-active pair); otherwise every output costs one MAC. The dense count is
    the number of outputs.
    """
    entry = _active_entry(op)
    if entry is None:
        return
    with torch.no_grad():
        dense = math.prod(torch.broadcast_shapes(a.shape, b.shape))
        spike_driven = is_binary(a) or is_binary(b)
        synaptic = int(torch.count_nonzero((a != 0) & (b != 0))) if spike_driven else 0
        entry.add_product(spike_driven, synaptic, dense)


def count_scaling(op: str, x: torch.Tensor, keep: torch.Tensor | None = None):
    """Report an elementwise multiplication of ``x`` by real factors (a decay mask).

    Each nonzero kept entry of ``x`` costs one multiply, counted as a MAC
    (zeros need no multiply); the dense count is every kept entry.
    """
    entry = _active_entry(op)
    if entry is None:
        return
    with torch.no_grad():
        kept = x if keep is None else x * (keep != 0)
        nonzero = int(torch.count_nonzero(kept))
    entry.macs += nonzero
    entry.dense_macs += _kept_outputs(keep, x.shape)


def count_macs(op: str, n: int):
    """Report ``n`` multiply-accumulates on real operands (a fused kernel hooks cannot see)."""
    entry = _active_entry(op)
    if entry is None:
        return
    entry.add_product(False, 0, check_int("n", n, minimum=0))


def count_fanout(op: str, x: torch.Tensor, fanout: torch.Tensor):
    """Report a layer in which each input entry reaches ``fanout`` outputs (a long convolution).

    Parameters
    ----------
    op : str
        Name of the product; the row is ``"<running module>.<op>"``.
    x : torch.Tensor
        The layer's input.
    fanout : torch.Tensor
        Outputs each entry of ``x`` is multiplied into, broadcastable to ``x``
        (e.g. ``L - t`` for step ``t`` of a causal convolution of length ``L``).

    Notes
    -----
    Spike input costs one accumulate per spike per output it reaches (the
    event-driven count, whatever algorithm computes it on a CPU or GPU);
    real input costs the same number of MACs for every entry.
    """
    entry = _active_entry(op)
    if entry is None:
        return
    with torch.no_grad():
        fanout = torch.broadcast_to(fanout.to(torch.float64), x.shape)
        dense = int(fanout.sum().item())
        spike_driven = is_binary(x)
        synaptic = int(((x != 0) * fanout).sum().item()) if spike_driven else 0
        entry.add_product(spike_driven, synaptic, dense)
