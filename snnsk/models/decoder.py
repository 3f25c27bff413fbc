"""SpikeDecoder: a GPT-style decoder-only language model built from spiking neurons.

Token ids ``[B, L]`` → embedding (token code ⊕ position code) repeated over
``T`` steps → ``depth`` × (causal self-attention, MLP) with float residuals →
readout LIF → spike counts averaged over T → linear head → next-token logits
``[B, L, vocab]``. Because the head is linear, averaging the spikes before it
gives the same logits as averaging per-step logits after it, at 1/T the cost.

Three variants (``spiking``):

* ``'full'`` — binary token and position codes (Heaviside with an arctan
  surrogate), LIF neurons everywhere, spiking attention with no softmax;
* ``'partial'`` — float embeddings and ordinary GELU MLPs, spiking attention
  and spiking readout: only the token-mixing path spikes;
* ``'none'`` — the same architecture with softmax attention, GELU MLPs,
  pre-norm blocks and one time step: the non-spiking baseline.

``spike_code='ternary'`` replaces each neuron that reads the float residual
stream (block inputs, readout) by an ON/OFF pair emitting −1/0/+1
(:class:`snnsk.core.neurons.TernaryLIF`). A binary LIF is silent for every
negative input, so the weights after it never see the input's sign; on the
embedded corpus the ternary code closes about a third of the gap to the
non-spiking baseline (``bench/BENCHMARKS.md``). Q, K, V stay binary, so the
attention is the reference's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import check_int, is_real
from ..core.neurons import LIF, NeuronConfig, check_spike_code, input_neuron
from ..core.surrogate import ATan
from ..layers.attention import CausalSelfAttention, KVCache
from ..layers.dense import Linear

__all__ = ["SpikeDecoder", "DecoderMLPBlock", "sinusoidal_table", "SPIKING_MODES",
           "POSITION_ENCODINGS", "DECODER_NEURON"]

#: The language model's default neuron (the estimator's): threshold 0.5.
DECODER_NEURON = NeuronConfig(threshold=0.5)

SPIKING_MODES = ("full", "partial", "none")
POSITION_ENCODINGS = ("static", "learned")


def sinusoidal_table(length: int, dim: int, binary: bool) -> torch.Tensor:
    """Transformer sinusoidal position codes ``[length, dim]``, optionally binarised (> 0 → 1)."""
    position = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.zeros(length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    if binary:
        table = (table > 0).to(torch.float64)
    return table.float()


class DecoderMLPBlock(nn.Module):
    """Feed-forward block: ``Norm(Linear(LIF(Norm(Linear(LIF(x))))))`` or a pre-norm GELU MLP.

    ``spike_code='ternary'`` makes the first LIF an ON/OFF pair
    (:class:`snnsk.core.neurons.TernaryLIF`).
    """

    def __init__(self, embed_dim: int, hidden_dim: int, spiking: bool = True,
                 spike_code: str = "binary", neuron: NeuronConfig | None = None):
        super().__init__()
        self.spiking = spiking
        self.fc1 = Linear(embed_dim, hidden_dim)
        self.fc2 = Linear(hidden_dim, embed_dim)
        self.in_norm = nn.LayerNorm(embed_dim)
        if spiking:
            # binary or ON/OFF pair (see SpikeDecoder's `spike_code`); the hidden neuron stays binary
            self.input_neuron = input_neuron(spike_code, neuron)
            self.hidden_norm = nn.LayerNorm(hidden_dim)
            self.hidden_neuron = LIF(neuron)
            self.out_norm = nn.LayerNorm(embed_dim)
        else:
            self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            hidden = self.hidden_neuron(self.hidden_norm(self.fc1(self.input_neuron(self.in_norm(x)))))
            return self.out_norm(self.fc2(hidden))
        return self.fc2(self.activation(self.fc1(self.in_norm(x))))


class _DecoderBlock(nn.Module):
    def __init__(self, embed_dim, heads, hidden_dim, attention_spiking, mlp_spiking, scale, decay,
                 spike_code, neuron):
        super().__init__()
        self.attention = CausalSelfAttention(embed_dim, heads, spiking=attention_spiking,
                                             scale=scale, decay=decay, spike_code=spike_code,
                                             neuron=neuron)
        self.mlp = DecoderMLPBlock(embed_dim, hidden_dim, spiking=mlp_spiking,
                                   spike_code=spike_code,
                                   neuron=neuron)

    def forward(self, x, cache=None, timesteps=None):
        # x is [T, B, L, E], or [B, L, E] (the embedding, the same at every step)
        x = x + self.attention(x, cache, timesteps)
        return x + self.mlp(x)


class SpikeDecoder(nn.Module):
    """Spiking GPT-style decoder language model (see the module docstring).

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    context_length : int
        Longest sequence the model reads (size of the position code table).
    embed_dim : int, default=64
        Width of the residual stream; a quarter of it (at least 1) carries the
        position code, the rest the token code.
    heads : int, default=4
        Attention heads; must divide ``embed_dim``.
    depth : int, default=2
        Number of decoder blocks.
    mlp_ratio : float, default=4.0
        MLP hidden width as a multiple of ``embed_dim``.
    timesteps : int, default=4
        Simulation steps T (``spiking='none'`` always uses one).
    neuron : NeuronConfig or None, default=None
        Every LIF neuron's parameters; ``None`` takes :data:`DECODER_NEURON`.
    spiking : {'full', 'partial', 'none'}, default='full'
        Which variant (see the module docstring).
    position_encoding : {'static', 'learned'}, default='static'
        Sinusoidal codes (binarised when spiking) or a learned table.
    attention_scale : float, default=0.125
        Scale of the spiking attention.
    attention_decay : bool, default=True
        Decayed causal mask in the spiking attention (see
        :class:`snnsk.layers.CausalSelfAttention`); ``False`` is the
        reference's plain 0/1 mask.
    spike_code : {'binary', 'ternary'}, default='binary'
        Code of the neurons that read the float residual stream (the input
        neuron of every attention and MLP block, and the readout):
        ``'binary'`` LIF as in the reference, or ``'ternary'`` ON/OFF pairs
        (:class:`snnsk.core.neurons.TernaryLIF`) that also carry the sign of
        their input. Q, K, V, the attention output and the MLP hidden
        layer stay binary. Ignored by ``spiking='none'``.

    Input ``[B, L]`` token ids with ``L <= context_length``; output
    ``[B, L, vocab_size]`` next-token logits.
    """

    def __init__(self, vocab_size, context_length, embed_dim=64, heads=4, depth=2, mlp_ratio=4.0,
                 timesteps=4, neuron: NeuronConfig | None = None, spiking="full",
                 position_encoding="static", attention_scale=0.125, attention_decay=True,
                 spike_code="binary"):
        super().__init__()
        for name, value, minimum in (("vocab_size", vocab_size, 1),
                                     ("context_length", context_length, 1),
                                     ("embed_dim", embed_dim, 2), ("heads", heads, 1),
                                     ("depth", depth, 1), ("timesteps", timesteps, 1)):
            check_int(name, value, minimum)
        if embed_dim % heads:
            raise ValueError(f"heads ({heads}) must divide embed_dim ({embed_dim})")
        if spiking not in SPIKING_MODES:
            raise ValueError(f"spiking must be one of {', '.join(SPIKING_MODES)}, got {spiking!r}")
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(f"position_encoding must be one of {', '.join(POSITION_ENCODINGS)}, "
                             f"got {position_encoding!r}")
        # checked here too: spiking='none' builds no neuron that would check it
        check_spike_code(spike_code)
        if not is_real(mlp_ratio) or mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be a positive number, got {mlp_ratio!r}")
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.spiking = spiking
        self.timesteps = timesteps
        neuron = DECODER_NEURON if neuron is None else neuron
        position_dim = max(1, embed_dim // 4)
        self.binary_codes = spiking == "full"
        # The token code is binarised with an arctan surrogate, as in the reference.
        self.code_surrogate = ATan()
        self.token_embedding = nn.Embedding(vocab_size, embed_dim - position_dim)
        if position_encoding == "static":
            self.register_buffer("position_table",
                                 sinusoidal_table(context_length, position_dim, self.binary_codes),
                                 persistent=False)
            self.position_embedding = None
        else:
            self.position_embedding = nn.Embedding(context_length, position_dim)
        hidden_dim = max(1, int(round(mlp_ratio * embed_dim)))
        self.blocks = nn.ModuleList(
            _DecoderBlock(embed_dim, heads, hidden_dim, attention_spiking=spiking != "none",
                          mlp_spiking=spiking == "full", scale=attention_scale,
                          decay=bool(attention_decay), spike_code=spike_code,
                          neuron=neuron)
            for _ in range(depth))
        self.readout_norm = nn.LayerNorm(embed_dim)
        if spiking != "none":
            self.readout_neuron = input_neuron(spike_code, neuron)
        self.head = Linear(embed_dim, vocab_size)

    # ------------------------------------------------------------ parameters
    @property
    def effective_timesteps(self) -> int:
        """Steps actually simulated (1 for the non-spiking variant)."""
        return 1 if self.spiking == "none" else self.timesteps

    # --------------------------------------------------------------- forward
    def embed(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token ⊕ position codes ``[B, L, E]`` for ids at positions ``start ..``."""
        n = ids.shape[1]
        if start + n > self.context_length:
            raise ValueError(f"sequence of {start + n} tokens exceeds context_length "
                             f"({self.context_length})")
        tokens = self.token_embedding(ids)
        if self.position_embedding is None:
            positions = self.position_table[start:start + n]
        else:
            positions = self.position_embedding(torch.arange(start, start + n, device=ids.device))
        if self.binary_codes:
            tokens = self.code_surrogate(tokens)
            if self.position_embedding is not None:
                positions = self.code_surrogate(positions)
        positions = positions.to(tokens.dtype).expand(ids.shape[0], -1, -1)
        return torch.cat([tokens, positions], dim=-1)

    def forward(self, ids: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """Next-token logits ``[B, L, vocab_size]``.

        With ``caches`` (one :class:`KVCache` per block, as from
        :meth:`new_caches`), ``ids`` are the tokens that follow the cached ones.
        """
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape [batch, length], got {tuple(ids.shape)}")
        start = 0 if caches is None else len(caches[0])
        # The embedding is the same at every step: the first block normalises it once
        # and only then repeats it over T.
        x = self.embed(ids.long(), start)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i], self.effective_timesteps)
        if self.spiking == "none":
            return self.head(self.readout_norm(x[0]))
        return self.head(self.readout_neuron(self.readout_norm(x)).mean(0))

    def new_caches(self) -> list[KVCache]:
        """Empty key/value caches, one per block, for incremental decoding."""
        return [KVCache() for _ in self.blocks]

    # ------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(self, ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True, banned: tuple = ()) -> torch.Tensor:
        """Sample ``max_new_tokens`` continuations of ``ids`` ``[B, L]``; returns the new ids.

        The model reads a window of at most ``context_length`` tokens. When the
        window is full it restarts from its last three quarters; with the
        cache, that is the only time the window is encoded in full, so a new
        token costs O(context) on average. ``use_cache=False`` recomputes the
        window for every token (same tokens, slower; kept for checking).
        ``temperature=0`` picks the most likely token. ``banned`` ids are never
        sampled (padding and the document start).
        """
        keep = self.context_length - self.context_length // 4
        window = ids[:, -self.context_length:]
        caches = self.new_caches() if use_cache else None
        logits = self(window, caches)[:, -1]
        produced = []
        for step in range(max_new_tokens):
            token = _sample(logits, temperature, top_k, generator, banned)
            produced.append(token)
            if step == max_new_tokens - 1:
                break
            if window.shape[1] == self.context_length:
                window = window[:, -keep + 1:] if keep > 1 else window[:, :0]
                window = torch.cat([window, token], dim=1)
                caches = self.new_caches() if use_cache else None
                logits = self(window, caches)[:, -1]
                continue
            window = torch.cat([window, token], dim=1)
            logits = self(token, caches)[:, -1] if use_cache else self(window)[:, -1]
        return torch.cat(produced, dim=1) if produced else ids[:, :0]


def _sample(logits, temperature, top_k, generator, banned):
    # Sample on the CPU with a CPU generator: the same seed then gives the same
    # text whichever device the model runs on.
    device = logits.device
    logits = logits.detach().float().cpu().clone()
    if banned:
        logits[:, list(banned)] = float("-inf")
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True).to(device)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        cutoff = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < cutoff, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).to(device)
