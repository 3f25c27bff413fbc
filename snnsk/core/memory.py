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
values: the outputs of every :class:`~snnsk.core.neurons.SpikingLayer` that runs
inside the context are recorded, and a saved tensor whose storage is that of
a recorded, still-living output is packed. (A living output keeps its storage,
so the address cannot have been reused by another tensor.) Layers whose
output is spikes when their inputs are (a max-pool, a product or a permuted
copy of spikes) record it with :func:`mark_spikes`, and a sum of spike tensors
(a residual stream of spikes) with :func:`mark_spike_sum`, which tracks the
largest count it can hold so that only exact int8 values are ever packed.
Each spike storage is copied once, whatever views of it are saved. The
estimators train inside this context; a plain module can use it around its
forward pass::

    with compact_saved_spikes():
        loss = criterion(module(x), y)
    loss.backward()
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import weakref

import torch
from torch import nn

from ._spiking import SpikingLayer

__all__ = ["compact_saved_spikes", "mark_spikes", "mark_spike_sum", "packed_spikes", "PackedSpikes",
           "saved_activation_bytes"]


#: Spike counts up to this magnitude are exact as int8.
INT8_MAX = 127


class _Record:
    """What one :func:`compact_saved_spikes` block knows: spike outputs and their packed copies."""

    def __init__(self):
        # storage address -> (the spike tensor's root, the largest |value| it can hold)
        self.outputs: dict[int, tuple[weakref.ref, int]] = {}
        # storage address -> {"storage": one int8 copy of it all} or, for views that do not
        # cover it, {view: its int8 copy}: one copy however often saved
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
    if isinstance(module, SpikingLayer):
        mark_spikes(output[0] if isinstance(output, tuple) else output)


def mark_spikes(tensor: torch.Tensor, *sources: torch.Tensor) -> torch.Tensor:
    """Record ``tensor`` as spikes for an active :func:`compact_saved_spikes` block; returns it.

    The outputs of spiking layers are recorded automatically. An autograd
    function that saves its own spike output marks it before saving it. A
    layer whose output is spikes whenever its inputs are (a max-pool, a
    product of spike tensors, a permuted copy) passes those inputs as
    ``sources``: ``tensor`` is then recorded only if every source is recorded
    spikes, so the same layer fed real values (in a non-spiking twin) keeps
    them as they are. Outside a block this does nothing.
    """
    bounds = [_recorded_bound(source) for source in sources]
    if any(b is None for b in bounds):
        return tensor
    return _mark(tensor, math.prod(bounds))


def mark_spike_sum(total: torch.Tensor, *terms: torch.Tensor) -> torch.Tensor:
    """Record ``total``, a sum of recorded spike tensors ``terms``, as small integers; returns it.

    A residual stream made of spikes (Spikformer's) holds spike counts: each
    value is an integer of magnitude at most the sum of the terms' bounds, kept
    exactly as int8 while that bound is at most 127 (beyond, it is not
    recorded).
    """
    bounds = [_recorded_bound(term) for term in terms]
    if not terms or any(b is None for b in bounds):
        return total
    return _mark(total, sum(bounds))


def _recorded_bound(tensor) -> int | None:
    record = _RECORD.get()
    return None if record is None else _recorded(record, tensor, bound=True)


def _mark(tensor: torch.Tensor, bound: int) -> torch.Tensor:
    record = _RECORD.get()
    if (record is None or not torch.is_tensor(tensor) or not tensor.is_floating_point()
            or bound > INT8_MAX):
        return tensor
    if _recorded(record, tensor) is not None:
        return tensor  # the same living storage, recorded already (its copies still hold)
    address = tensor.untyped_storage().data_ptr()
    # The root of the view chain: every view (the reshaped input a convolution keeps, say)
    # holds it alive, so it lives as long as anything shows this memory as spikes.
    root = tensor if tensor._base is None else tensor._base
    record.outputs[address] = (weakref.ref(root), bound)
    # an earlier output at this address has been freed: its copies hold other values
    record.packed.pop(address, None)
    return tensor


def packed_spikes(tensor: torch.Tensor) -> torch.Tensor | None:
    """The int8 copy an active block keeps of the recorded spikes ``tensor``, viewed like it.

    For an autograd function that saves its own spike output: saving this
    int8 view instead shares the one copy that every later layer saving the
    same spikes keeps too, and backward reads it without a float copy.
    ``None`` outside a block, for a tensor not recorded as spikes, or while
    no view covering its whole storage has been packed.
    """
    record = _RECORD.get()
    whole = None if record is None or _recorded(record, tensor) is None else _whole_copy(
        record, tensor)
    return None if whole is None else PackedView(whole, tensor).values()


def _whole_copy(record: _Record, tensor: torch.Tensor) -> PackedSpikes | None:
    """The one int8 copy of the recorded spike storage ``tensor`` shows: made when ``tensor``
    covers that storage exactly (a reshaped, permuted or chunked spike output), then shared by
    every view of it; ``None`` while no view has covered it."""
    storage = tensor.untyped_storage()
    copies = record.packed.setdefault(storage.data_ptr(), {})
    whole = copies.get("storage")
    if whole is None and storage.nbytes() == tensor.numel() * tensor.element_size():
        flat = tensor.new_empty(0).set_(storage, 0, (tensor.numel(),), (1,))
        whole = copies["storage"] = PackedSpikes(flat)
    return whole


def _recorded(record: _Record, tensor: torch.Tensor, bound: bool = False):
    """The living recorded spike tensor whose storage ``tensor`` shows (or its bound), or ``None``."""
    if not torch.is_tensor(tensor) or not tensor.is_floating_point():
        return None
    address = tensor.untyped_storage().data_ptr()
    ref, largest = record.outputs.get(address, (None, None))
    spikes = ref() if ref is not None else None
    if spikes is None or spikes.untyped_storage().data_ptr() != address:
        return None
    return largest if bound else spikes


def _pack(tensor: torch.Tensor):
    record = _RECORD.get()
    if record is None or _recorded(record, tensor) is None:
        return tensor
    whole = _whole_copy(record, tensor)
    if whole is not None:
        return PackedView(whole, tensor)
    copies = record.packed[tensor.untyped_storage().data_ptr()]
    view = (tensor.storage_offset(), tuple(tensor.shape), tensor.stride(), tensor.dtype)
    packed = copies.get(view)
    if packed is None:
        packed = copies[view] = PackedSpikes(tensor)
    return packed


class PackedView:
    """A saved view of a spike storage kept whole as ``int8`` (:class:`PackedSpikes`)."""

    __slots__ = ("whole", "shape", "stride", "offset")

    def __init__(self, whole: PackedSpikes, tensor: torch.Tensor):
        self.whole = whole
        self.shape, self.stride, self.offset = tuple(tensor.shape), tensor.stride(), tensor.storage_offset()

    def values(self) -> torch.Tensor:
        """The view's int8 values."""
        return self.whole.values.as_strided(self.shape, self.stride, self.offset)

    def unpack(self) -> torch.Tensor:
        return self.values().to(self.whole.dtype)


def _unpack(saved):
    return saved.unpack() if isinstance(saved, (PackedSpikes, PackedView)) else saved


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
        kept = (saved.values if isinstance(saved, PackedSpikes) else
                saved.whole.values if isinstance(saved, PackedView) else saved)
        storages[kept.untyped_storage().data_ptr()] = kept.untyped_storage().nbytes()
        return saved

    with (_recording() if compact else contextlib.nullcontext()):
        with torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
            loss = step()
    del loss
    return sum(storages.values())
