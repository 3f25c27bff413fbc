"""Plain ``nn.Module`` spiking models, usable without skorch."""

from .mlp import SpikingMLP

__all__ = ["SpikingMLP"]
