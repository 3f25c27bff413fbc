"""Building blocks shared by the spiking models (attention, ...)."""

from .ssm import (ClampFuse, S4DConv, S4DKernel, SpikeMixer, SpikeSampler, fft_conv,
                  ssm_recurrence)
from .attention import (CausalSelfAttention, KVCache, QKTokenAttention, SpikeDrivenSelfAttention,
                        SpikingSelfAttention, causal_linear_attention, causal_mask,
                        head_decay_rates, vision_attention)
from .linear import LinearBN, TokenBatchNorm
from .patch import SpikingPatchSplit

__all__ = ["CausalSelfAttention", "KVCache", "causal_linear_attention", "causal_mask",
           "head_decay_rates", "S4DKernel", "S4DConv", "fft_conv", "ssm_recurrence", "SpikeSampler",
           "SpikeMixer", "ClampFuse", "SpikingSelfAttention", "SpikeDrivenSelfAttention",
           "QKTokenAttention", "vision_attention", "LinearBN", "TokenBatchNorm", "SpikingPatchSplit"]
