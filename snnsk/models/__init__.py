"""Plain ``nn.Module`` spiking models, usable without skorch."""

from .decoder import SpikeDecoder
from .mlp import SpikingMLP
from .pspikessm import PSpikeSSM
from .spikformer import SpikingViT

__all__ = ["PSpikeSSM", "SpikeDecoder", "SpikingMLP", "SpikingViT"]
