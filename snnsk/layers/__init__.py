"""Building blocks shared by the spiking models (attention, ...)."""

from .attention import (CausalSelfAttention, KVCache, causal_linear_attention, causal_mask,
                        head_decay_rates)

__all__ = ["CausalSelfAttention", "KVCache", "causal_linear_attention", "causal_mask",
           "head_decay_rates"]
