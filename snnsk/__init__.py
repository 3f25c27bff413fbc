"""snnsk: scikit-learn compatible spiking neural network estimators.

The estimators are skorch ``NeuralNet`` subclasses, so ``Pipeline``,
``GridSearchCV``, ``cross_validate`` and ``joblib.dump`` work on them. The
spiking core (:mod:`snnsk.core.neurons`, :mod:`snnsk.core.surrogate`,
:mod:`snnsk.core.encoding`, :mod:`snnsk.core.losses`) is usable on its own.
"""

from .estimators import (SpikeDecoderLM, SpikingMLPClassifier, SpikingSSMClassifier,
                         SpikingViTClassifier)

__version__ = "0.1.0"

__all__ = ["SpikeDecoderLM", "SpikingMLPClassifier", "SpikingSSMClassifier", "SpikingViTClassifier",
           "__version__"]
