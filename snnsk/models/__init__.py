"""Plain ``nn.Module`` spiking models, usable without skorch."""

from .decoder import SpikeDecoder
from .mlp import SpikingMLP

__all__ = ["SpikeDecoder", "SpikingMLP"]
