"""Building blocks shared by the spiking models (attention, ...)."""

from .ssm import (ClampFuse, S4DConv, S4DKernel, SpikeMixer, SpikeSampler, fft_conv,
                  ssm_recurrence)
from .attention import (CausalSelfAttention, KVCache, causal_linear_attention, causal_mask,
                        head_decay_rates)

__all__ = ["CausalSelfAttention", "KVCache", "causal_linear_attention", "causal_mask",
           "head_decay_rates", "S4DKernel", "S4DConv", "fft_conv", "ssm_recurrence", "SpikeSampler",
           "SpikeMixer", "ClampFuse"]
