"""snnsk: scikit-learn compatible spiking neural network estimators.

The estimators are skorch ``NeuralNet`` subclasses, so ``Pipeline``,
``GridSearchCV``, ``cross_validate`` and ``joblib.dump`` work on them. The
spiking core (:mod:`snnsk.neurons`, :mod:`snnsk.surrogate`,
:mod:`snnsk.encoding`, :mod:`snnsk.losses`) is usable on its own.
"""

from .estimators import (SpikeDecoderLM, SpikingMLPClassifier, SpikingSSMClassifier,
                         SpikingViTClassifier)

__version__ = "0.1.0"

__all__ = ["SpikeDecoderLM", "SpikingMLPClassifier", "SpikingSSMClassifier", "SpikingViTClassifier",
           "__version__"]
