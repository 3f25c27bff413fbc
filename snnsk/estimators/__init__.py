"""skorch estimators: the spiking mixin and the models wired into scikit-learn."""

from .base import NEURON_HYPERPARAMS, SpikingClassifierMixin, SpikingMixin
from .lm import SpikeDecoderLM
from .mlp import SpikingMLPClassifier
from .sequence import SpikingSSMClassifier
from .vision import SpikingViTClassifier

__all__ = ["SpikingMixin", "SpikingClassifierMixin", "SpikeDecoderLM", "SpikingMLPClassifier",
           "SpikingSSMClassifier", "SpikingViTClassifier",
           "NEURON_HYPERPARAMS"]
