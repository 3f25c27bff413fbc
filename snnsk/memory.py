"""Spikes kept for backward in one byte each instead of four.

Autograd keeps the input of every layer whose weight gradient needs it: the
input of a ``Linear`` or a convolution, of a max-pool, of the products of
spiking attention. In a spiking network most of those inputs are spike
tensors (0 and 1, or −1 for the OFF spikes of a ternary layer), stored in the
network's float type — a quarter of the activation memory of a spiking
vision transformer at ``T = 4``, where time multiplies every activation.
Inside :func:`compact_saved_spikes`, a tensor that autograd saves is stored as
``int8`` when it is (a view of) the output of a spiking layer, and turned
back into its float type when backward needs it: exactly the same values,
so the gradients are unchanged.

A tensor counts as spikes only by where it came from, never by inspecting its
values: the outputs of every :class:`~snnsk.neurons.SpikingLayer` that runs
inside the context are recorded, and a saved tensor whose storage is that of
a recorded, still-living output is packed. (A living output keeps its storage,
so the address cannot have been reused by another tensor.) The estimators
train inside this context; a plain module can use it around its forward pass::

    with compact_saved_spikes():
        loss = criterion(module(x), y)
    loss.backward()
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref

import torch
from torch import nn

from .neurons import SpikingLayer

__all__ = ["compact_saved_spikes", "PackedSpikes", "saved_activation_bytes"]


class _Record:
    """What one :func:`compact_saved_spikes` block knows: spike outputs and their packed copies."""

    def __init__(self):
        self.outputs: dict[int, weakref.ref] = {}  # storage address -> the spiking layer's output
        # storage address -> {view: its int8 copy}: one copy per view, however often saved
        self.packed: dict[int, dict[tuple, PackedSpikes]] = {}


_RECORD: contextvars.ContextVar = contextvars.ContextVar("snnsk_spike_record", default=None)


class PackedSpikes:
    """A saved spike tensor stored as ``int8``, with the float type to restore."""

    __slots__ = ("values", "dtype")

    def __init__(self, tensor: torch.Tensor):
        self.values = tensor.detach().to(torch.int8)
        self.dtype = tensor.dtype

    def unpack(self) -> torch.Tensor:
        return self.values.to(self.dtype)


def _record_spike_output(module, _inputs, output):
    record = _RECORD.get()
    if record is None or not isinstance(module, SpikingLayer):
        return
    spikes = output[0] if isinstance(output, tuple) else output
    if torch.is_tensor(spikes) and spikes.is_floating_point():
        address = spikes.untyped_storage().data_ptr()
        record.outputs[address] = weakref.ref(spikes)
        # an earlier output at this address has been freed: its copies hold other values
        record.packed.pop(address, None)


def _pack(tensor: torch.Tensor):
    record = _RECORD.get()
    if record is None or not tensor.is_floating_point():
        return tensor
    address = tensor.untyped_storage().data_ptr()
    ref = record.outputs.get(address)
    spikes = ref() if ref is not None else None
    if spikes is None or spikes.untyped_storage().data_ptr() != address:
        return tensor
    copies = record.packed.setdefault(address, {})
    view = (tensor.storage_offset(), tuple(tensor.shape), tensor.stride(), tensor.dtype)
    packed = copies.get(view)
    if packed is None:
        packed = copies[view] = PackedSpikes(tensor)
    return packed


def _unpack(saved):
    return saved.unpack() if isinstance(saved, PackedSpikes) else saved


@contextlib.contextmanager
def compact_saved_spikes():
    """Store the spike tensors autograd saves during the block as ``int8`` (see the module docstring).

    The graph built inside may be run backward after the block ends. Nesting
    is allowed; an inner block shares the outer one's record.
    """
    with _recording():
        with torch.autograd.graph.saved_tensors_hooks(_pack, _unpack):
            yield


@contextlib.contextmanager
def _recording():
    if _RECORD.get() is not None:
        yield
        return
    token = _RECORD.set(_Record())
    handle = nn.modules.module.register_module_forward_hook(_record_spike_output)
    try:
        yield
    finally:
        handle.remove()
        _RECORD.reset(token)


def saved_activation_bytes(step, compact: bool = True) -> int:
    """Bytes of the distinct storages autograd keeps for backward while ``step()`` runs.

    ``step`` runs a forward pass and returns the loss (the graph is freed
    without a backward pass). Storages shared by several saved tensors count
    once; with ``compact``, spikes count as the ``int8`` copies
    :func:`compact_saved_spikes` keeps. This is the activation memory of a
    training step: the part that grows with the batch and with ``T``.
    """
    storages = {}

    def pack(tensor):
        saved = _pack(tensor) if compact else tensor
        kept = saved.values if isinstance(saved, PackedSpikes) else saved
        storages[kept.untyped_storage().data_ptr()] = kept.untyped_storage().nbytes()
        return saved

    with (_recording() if compact else contextlib.nullcontext()):
        with torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
            loss = step()
    del loss
    return sum(storages.values())
