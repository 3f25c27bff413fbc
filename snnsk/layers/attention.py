"""Self-attention layers for spiking models.

Tensors are time first, ``[T, B, L, E]`` (``T`` simulation steps, ``B``
sequences, ``L`` tokens, ``E`` channels). Non-spiking layers (Linear,
LayerNorm) act on the last dimension, so T behaves like an extra batch axis.

* :class:`CausalSelfAttention` — the SpikeDecoder's causal attention. Spiking:
  ``Q, K, V = LIF(Norm(Linear(LIF(x))))``, ``A = Q Kᵀ`` with the causal mask
  applied as zeros (no softmax), ``Y = LIF(scale · A V)``, output
  ``Norm(Linear(Y))``. Non-spiking: pre-norm softmax attention of the same
  size, the baseline spiking variants are compared against.

Vision attention (tokens are not ordered, no mask), all spiking and
multi-head, input ``[T, B, N, D]`` from the residual stream:

* :class:`SpikingSelfAttention` — Spikformer's SSA,
  ``LIF_0.5(Q Kᵀ V · scale)`` with binary ``Q, K, V`` and no softmax;
  quadratic in the number of tokens.
* :class:`SpikeDrivenSelfAttention` — the Spike-driven Transformer's SDSA,
  ``Q ⊙ LIF_0.5(Σ_tokens K ⊙ V)``; linear in tokens, masks and additions only.
* :class:`QKTokenAttention` — QKFormer's token attention,
  ``LIF_0.5(Σ_channels Q) ⊙ K``; linear in tokens, no ``V``.

:func:`vision_attention` builds one by name (``'ssa'``, ``'sdsa'``, ``'qk'``).
The products between spike tensors are reported to :mod:`snnsk.analysis.opcount`.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from ..analysis.opcount import count_elementwise, count_macs, count_matmul, count_scaling, counting
from ..core.memory import mark_spikes
from ..core.neurons import LIF, NeuronConfig, input_neuron
from .dense import Linear
from .linear import LinearBN, fire

__all__ = ["CausalSelfAttention", "KVCache", "causal_linear_attention", "causal_mask",
           "head_decay_rates", "SpikingSelfAttention", "SpikeDrivenSelfAttention",
           "QKTokenAttention", "VISION_ATTENTION", "vision_attention"]


class KVCache:
    """Keys and values of the positions processed so far, for one attention layer.

    Generation feeds one new token at a time; the layer appends that token's
    key and value here and attends over everything cached, so each new token
    costs O(context) instead of a full recomputation.
    """

    def __init__(self):
        self.keys = None
        self.values = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    def extend(self, keys: torch.Tensor, values: torch.Tensor):
        """Append ``[..., L_new, d]`` keys and values; return all of them."""
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            self.keys = torch.cat([self.keys, keys], dim=-2)
            self.values = torch.cat([self.values, values], dim=-2)
        return self.keys, self.values


def head_decay_rates(heads: int) -> torch.Tensor:
    """Per-head decay ``γ_h`` of the decayed causal mask, from 0.5 (local) to ~0.97 (long range)."""
    exponents = 1.0 + torch.arange(heads, dtype=torch.float64) * 4.0 / max(1, heads - 1)
    return 1.0 - 2.0 ** -exponents


def causal_mask(n_queries: int, n_keys: int, decay: torch.Tensor | None = None,
                device=None, dtype=torch.float32) -> torch.Tensor:
    """Causal mask with zeros above the diagonal: ``[Lq, Lk]``, or ``[h, Lq, Lk]`` with ``decay``.

    The queries are the last ``Lq`` of the ``Lk`` positions (the cached case),
    so query ``i`` sees keys ``0 .. Lk - Lq + i``. With per-head ``decay``
    rates ``γ_h`` a visible key at distance ``Δ`` is weighted ``γ_h ** Δ``.
    """
    offset = n_keys - n_queries
    distance = (torch.arange(n_queries, device=device)[:, None] + offset
                - torch.arange(n_keys, device=device)[None, :]).to(torch.float64)
    visible = distance >= 0
    if decay is None:
        return visible.to(dtype)
    weights = decay.to(device)[:, None, None] ** distance.clamp(min=0)
    return torch.where(visible, weights, torch.zeros((), dtype=torch.float64, device=device)).to(dtype)


@functools.lru_cache(maxsize=256)
def _scaled_mask(n_queries: int, n_keys: int, decay: tuple | None, scale: float, device,
                 dtype) -> torch.Tensor:
    # Built once per shape instead of at every call (in float64, then cast), with the
    # attention's scale folded in: one multiply over the scores instead of two passes.
    # A normal tensor even when first asked for under inference_mode, so that a training
    # step may save it for backward later.
    with torch.inference_mode(False):
        rates = None if decay is None else torch.tensor(decay, dtype=torch.float64)
        return (causal_mask(n_queries, n_keys, rates, device, torch.float64) * scale).to(dtype)


def causal_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                            scale: float, decay: torch.Tensor | None = None) -> torch.Tensor:
    """``scale · (Q Kᵀ ⊙ M) V`` with the causal mask ``M`` applied as zeros, no softmax.

    ``q`` is ``[..., h, Lq, d]`` and ``k``, ``v`` are ``[..., h, Lk, d]`` with
    ``Lk >= Lq`` (see :func:`causal_mask`). ``decay`` (``[h]``) makes ``M``
    the decayed mask ``γ_h ** (i - j)`` (RetNet's retention).

    With spike inputs, the plain 0/1 mask and a power-of-two ``scale`` every
    product and sum is exact in floating point, so the result does not depend
    on how the positions are batched.
    """
    rates = None if decay is None else tuple(decay.tolist())
    mask = _scaled_mask(q.shape[-2], k.shape[-2], rates, float(scale), q.device, q.dtype)
    if counting() or not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
        scores = (q @ k.transpose(-2, -1)) * mask
        if counting():
            _count_linear_attention(q, k, v, scores, decayed=decay is not None)
        return scores @ v
    return _MaskedAttention.apply(q, k, v, mask)


def _autocast_dtype(x: torch.Tensor):
    """The dtype an active autocast computes products of ``x``'s device in, else ``x.dtype``."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


class _MaskedAttention(torch.autograd.Function):
    """``(Q Kᵀ ⊙ M) V`` for a constant mask ``M`` (or none), the masking done in place.

    The score matrices (``[..., Lq, Lk]``, ``Lk / d`` times larger than Q, K
    and V) are the largest tensors of the attention; autograd's composition
    allocates four of them per call (scores, masked scores, and their two
    gradients), this two. With ``keep_scores=False`` it keeps none for
    backward and computes ``Q Kᵀ`` again there (spiking self-attention, whose
    binary ``Q, K, V`` are kept as int8 by :mod:`snnsk.core.memory`: the scores
    would be most of its activation memory). Same products, same order:
    equal to the composition.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, keep_scores=True):
        # Under an autocast the products run in its dtype (binary Q, K, V are exact in
        # bfloat16), the output in the inputs' dtype; backward computes in the same dtype.
        dtype = _autocast_dtype(q)
        ctx.dtypes = (q.dtype, k.dtype, v.dtype)
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
        mask = mask.to(dtype) if mask is not None else None
        with torch.autocast(q.device.type, enabled=False):
            scores = _masked_scores(q, k, mask)
            out = scores @ v
        ctx.keep_scores = keep_scores
        ctx.save_for_backward(q, k, v, mask, scores if keep_scores else None)
        return out.to(ctx.dtypes[0])

    @staticmethod
    def backward(ctx, grad):
        q, k, v, mask, scores = ctx.saved_tensors
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        grad = grad.to(q.dtype)
        grad_q = grad_k = grad_v = None
        if need_v:
            if scores is None:
                scores = _masked_scores(q, k, mask)
            grad_v = (scores.transpose(-2, -1) @ grad).to(ctx.dtypes[2])
        if need_q or need_k:
            grad_scores = grad @ v.transpose(-2, -1)
            if mask is not None:
                grad_scores.mul_(mask)
            if need_q:
                grad_q = (grad_scores @ k).to(ctx.dtypes[0])
            if need_k:
                grad_k = (grad_scores.transpose(-2, -1) @ q).to(ctx.dtypes[1])
        return grad_q, grad_k, grad_v, None, None


def _masked_scores(q, k, mask):
    scores = q @ k.transpose(-2, -1)
    return scores.mul_(mask) if mask is not None else scores


def _count_linear_attention(q, k, v, scores, decayed):
    # For snnsk.analysis.opcount (energy estimates): only the causal scores are computed;
    # `scale` folds into the next neuron's threshold, so it is not counted.
    visible = causal_mask(q.shape[-2], k.shape[-2], device=q.device, dtype=torch.bool)
    count_matmul("scores", q, k.transpose(-2, -1), keep=visible)
    if decayed:
        count_scaling("scores", scores, keep=visible)
    count_matmul("values", scores, v)


def _count_softmax_attention(q, k, v, visible):
    # The non-spiking baseline's products, so its energy estimate is complete (softmax not counted).
    count_matmul("scores", q, k.transpose(-2, -1), keep=visible)
    count_macs("values", q.shape[:-1].numel() * k.shape[-2] * v.shape[-1])


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, spiking or not.

    Parameters
    ----------
    embed_dim : int
        Channels ``E`` of the input and output.
    heads : int
        Number of heads; must divide ``embed_dim``.
    spiking : bool, default=True
        Spiking attention (binary Q, K, V, no softmax) or ordinary softmax
        attention (the non-spiking baseline).
    scale : float, default=0.125
        Constant scale of the spiking attention (SpikeDecoder / Spikformer).
    spike_code : {'binary', 'ternary'}, default='binary'
        Spiking attention only: code of the neuron that reads the residual
        stream into the Q/K/V projection; ``'ternary'`` is an ON/OFF pair
        (:class:`snnsk.core.neurons.TernaryLIF`). Q, K and V stay binary.
    decay : bool, default=False
        Spiking attention only: weight a key ``Δ`` positions back by
        ``γ_h ** Δ`` with a per-head rate (:func:`head_decay_rates`) instead of
        the plain 0/1 causal mask. Without a softmax, the plain mask cannot
        single out recent positions, which a character model needs most; the
        decay also bounds the attention sum, which otherwise grows with the
        position.
    neuron : NeuronConfig or None, default=None
        The LIF neurons' parameters (:class:`snnsk.core.neurons.NeuronConfig`; ``None``: the defaults).

    Input ``[T, B, L, E]``, or ``[B, L, E]`` together with ``timesteps``: the
    same input at every step (a model's embedding), whose normalisation is
    then computed once instead of ``T`` times. Output ``[T, B, L, E]`` (to be
    added to the residual stream). With a :class:`KVCache`, ``x`` holds only
    the new positions, which follow the cached ones.
    """

    def __init__(self, embed_dim: int, heads: int, spiking: bool = True, scale: float = 0.125,
                 decay: bool = False, spike_code: str = "binary",
                 neuron: NeuronConfig | None = None):
        super().__init__()
        if embed_dim % heads:
            raise ValueError(f"heads ({heads}) must divide embed_dim ({embed_dim})")
        self.heads = heads
        self.spiking = spiking
        self.scale = scale
        self.register_buffer("decay_rates", head_decay_rates(heads) if decay and spiking else None,
                             persistent=False)
        self.qkv = Linear(embed_dim, 3 * embed_dim)
        self.proj = Linear(embed_dim, embed_dim)
        # Pre-norm in both variants: the residual stream's scale drifts with
        # depth, and a LIF with a fixed threshold would see a different input
        # range in every block (binary codes alone never reach threshold 1 with tau=2).
        self.in_norm = nn.LayerNorm(embed_dim)
        if spiking:
            self.input_neuron = input_neuron(spike_code, neuron)
            # one norm per projection: Q, K and V have their own statistics
            self.qkv_norms = nn.ModuleList(nn.LayerNorm(embed_dim) for _ in range(3))
            self.qkv_neuron = LIF(neuron)
            self.attention_neuron = LIF(neuron)
            self.out_norm = nn.LayerNorm(embed_dim)

    def _split_heads(self, qkv: torch.Tensor):
        # [T, B, L, 3E] -> q, k, v, each [T, B, h, L, d], in one copy (the products want
        # contiguous heads; three separate copies would read the projection three times)
        t, b, n, e3 = qkv.shape
        heads = self.heads
        parts = qkv.view(t, b, n, 3, heads, e3 // (3 * heads)).permute(3, 0, 1, 4, 2, 5)
        return parts.contiguous().unbind(0)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                timesteps: int | None = None) -> torch.Tensor:
        if x.dim() == 3:
            if timesteps is None:
                raise ValueError("a [B, L, E] input (the same at every step) needs `timesteps`")
            normed = self.in_norm(x).expand(timesteps, *x.shape)
        elif x.dim() == 4:
            normed = self.in_norm(x)
        else:
            raise ValueError(f"x must have shape [T, B, L, E] or [B, L, E], got {tuple(x.shape)}")
        t, b, n, e = normed.shape
        if self.spiking:
            projected = self.qkv(self.input_neuron(normed))
            projected = torch.cat([norm(part) for norm, part
                                   in zip(self.qkv_norms, projected.chunk(3, dim=-1))], dim=-1)
            q, k, v = self._split_heads(self.qkv_neuron(projected))
        else:
            q, k, v = self._split_heads(self.qkv(normed))
        if cache is not None:
            k, v = cache.extend(k, v)
        if self.spiking:
            y = self.attention_neuron(causal_linear_attention(q, k, v, self.scale, self.decay_rates))
        else:
            y = self._softmax_attention(q, k, v)
        y = self.proj(y.transpose(2, 3).reshape(t, b, n, e))
        return self.out_norm(y) if self.spiking else y

    @staticmethod
    def _softmax_attention(q, k, v):
        n_queries, n_keys = q.shape[-2], k.shape[-2]
        if counting():
            _count_softmax_attention(q, k, v, causal_mask(n_queries, n_keys, device=q.device,
                                                           dtype=torch.bool))
        if n_queries == n_keys:
            # no cached keys: the fused kernel's own causal mask, which also skips the masked blocks
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = _scaled_mask(n_queries, n_keys, None, 1.0, q.device, torch.bool)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return y.to(q.dtype)  # an autocast's dtype back to the stream's


# ------------------------------------------------------------------ vision


class _HeadedAttention(nn.Module):
    """Shared plumbing of the vision attention layers: head split/merge and the attention neuron.

    The neuron that thresholds the attention map has its own threshold
    (0.5 in all three papers), kept when the network's threshold is changed.
    """

    def __init__(self, embed_dim: int, heads: int, attention_threshold: float,
                 neuron: NeuronConfig | None):
        super().__init__()
        if embed_dim % heads:
            raise ValueError(f"heads ({heads}) must divide embed_dim ({embed_dim})")
        self.heads = heads
        self.attention_neuron = LIF(neuron, threshold=attention_threshold, fixed=("threshold",))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # [T, B, N, E] -> [T, B, h, N, d]
        t, b, n, e = x.shape
        return x.view(t, b, n, self.heads, e // self.heads).transpose(2, 3)

    @staticmethod
    def _merge_heads(x: torch.Tensor) -> torch.Tensor:
        # [T, B, h, N, d] -> [T, B, N, E]; the copy the reshape makes of spikes is spikes
        t, b, h, n, d = x.shape
        return mark_spikes(x.transpose(2, 3).reshape(t, b, n, h * d), x)


class SpikingSelfAttention(_HeadedAttention):
    """Spikformer's spiking self-attention (SSA).

    ``Q, K, V = LIF(BN(Linear(x)))``; ``Y = LIF_0.5(Q Kᵀ V · scale)`` per head
    (no softmax: every factor is non-negative); output
    ``LIF(BN(Linear(Y)))``, spikes to be added to the residual stream.

    Parameters
    ----------
    embed_dim, heads : int
        Channels and heads (``heads`` must divide ``embed_dim``).
    scale : float, default=0.125
        Constant scale of the attention map (Spikformer's 0.125).
    attention_threshold : float, default=0.5
    neuron : NeuronConfig or None, default=None
        The LIF neurons' parameters (:class:`snnsk.core.neurons.NeuronConfig`; ``None``: the defaults).
    """

    def __init__(self, embed_dim: int, heads: int, scale: float = 0.125,
                 attention_threshold: float = 0.5, neuron: NeuronConfig | None = None):
        super().__init__(embed_dim, heads, attention_threshold, neuron)
        self.scale = scale
        self.qkv = LinearBN(embed_dim, 3 * embed_dim)
        self.qkv_neuron = LIF(neuron)
        self.proj = LinearBN(embed_dim, embed_dim)
        self.proj_neuron = LIF(neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one Linear + BN for Q, K and V: BN is per channel, so this equals three separate ones
        q, k, v = (self._split_heads(part)
                   for part in fire(self.qkv_neuron, self.qkv, x).chunk(3, dim=-1))
        if counting():
            scores = q @ k.transpose(-2, -1)
            count_matmul("scores", q, k.transpose(-2, -1))
            count_matmul("values", scores, v)
            product = scores @ v
        else:
            product = _MaskedAttention.apply(q, k, v, None, False)  # scores not kept
        y = self.attention_neuron(product * self.scale)
        return fire(self.proj_neuron, self.proj, self._merge_heads(y))


class SpikeDrivenSelfAttention(_HeadedAttention):
    """The Spike-driven Transformer's self-attention (SDSA).

    Membrane shortcut: the input is first turned into spikes,
    ``Q, K, V = LIF(BN(Linear(LIF(x))))``; per head and channel
    ``kv = LIF_0.5(Σ_tokens K ⊙ V)`` (``[T, B, h, 1, d]``), ``Y = Q ⊙ kv``;
    output ``BN(Linear(Y))``, real-valued, added to the residual
    (membrane) stream. Cost is linear in the number of tokens.

    Parameters
    ----------
    embed_dim, heads : int
    attention_threshold : float, default=0.5
    **neuron
    """

    def __init__(self, embed_dim: int, heads: int, attention_threshold: float = 0.5,
                 neuron: NeuronConfig | None = None):
        super().__init__(embed_dim, heads, attention_threshold, neuron)
        self.input_neuron = LIF(neuron)
        self.qkv = LinearBN(embed_dim, 3 * embed_dim)
        self.qkv_neuron = LIF(neuron)
        self.proj = LinearBN(embed_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split_heads(part) for part in
                   fire(self.qkv_neuron, self.qkv, self.input_neuron(x)).chunk(3, dim=-1))
        kv = self.attention_neuron((k * v).sum(dim=-2, keepdim=True))
        y = mark_spikes(q * kv, q, kv)
        if counting():
            # Σ_tokens K ⊙ V is the diagonal of Kᵀ V: only those outputs are computed
            diagonal = torch.eye(k.shape[-1], dtype=torch.bool, device=k.device)
            count_matmul("kv", k.transpose(-2, -1), v, keep=diagonal)
            count_elementwise("mask", q, kv)
        return self.proj(self._merge_heads(y))


class QKTokenAttention(_HeadedAttention):
    """QKFormer's Q-K token attention (QKTA).

    ``Q, K = LIF(BN(Linear(x)))``; per head a token mask
    ``A = LIF_0.5(Σ_channels Q)`` (``[T, B, h, N, 1]``) selects the tokens of
    ``K``: ``Y = A ⊙ K``; output ``LIF(BN(Linear(Y)))``. No ``V``, no scale;
    linear in the number of tokens.

    Parameters
    ----------
    embed_dim, heads : int
    attention_threshold : float, default=0.5
    **neuron
    """

    def __init__(self, embed_dim: int, heads: int, attention_threshold: float = 0.5,
                 neuron: NeuronConfig | None = None):
        super().__init__(embed_dim, heads, attention_threshold, neuron)
        self.qk = LinearBN(embed_dim, 2 * embed_dim)
        self.qk_neuron = LIF(neuron)
        self.proj = LinearBN(embed_dim, embed_dim)
        self.proj_neuron = LIF(neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k = (self._split_heads(part) for part in fire(self.qk_neuron, self.qk, x).chunk(2, dim=-1))
        mask = self.attention_neuron(q.sum(dim=-1, keepdim=True))
        y = mark_spikes(mask * k, mask, k)
        if counting():
            count_matmul("token_scores", q, torch.ones(q.shape[-1], 1, dtype=q.dtype,
                                                       device=q.device))
            count_elementwise("mask", mask, k)
        return fire(self.proj_neuron, self.proj, self._merge_heads(y))


#: The vision attention variants by name.
VISION_ATTENTION = {"ssa": SpikingSelfAttention, "sdsa": SpikeDrivenSelfAttention,
                    "qk": QKTokenAttention}


def vision_attention(name: str, embed_dim: int, heads: int,
                     neuron: NeuronConfig | None = None) -> nn.Module:
    """Build a vision attention layer by name: ``'ssa'``, ``'sdsa'`` or ``'qk'``."""
    if name not in VISION_ATTENTION:
        raise ValueError(f"attention must be one of {', '.join(VISION_ATTENTION)}, got {name!r}")
    return VISION_ATTENTION[name](embed_dim, heads, neuron=neuron)
