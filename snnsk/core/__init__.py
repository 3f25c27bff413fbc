"""The spiking core: neurons and their configuration, surrogate gradients, encoders, losses, kernels.

* :mod:`snnsk.core.neuron_config` — :class:`~snnsk.core.neuron_config.NeuronConfig`, the one
  validated, immutable set of neuron parameters;
* :mod:`snnsk.core.neurons` — the multi-step LIF (functional and module), ON/OFF pairs;
* :mod:`snnsk.core.surrogate`, :mod:`snnsk.core.encoding`, :mod:`snnsk.core.losses`;
* :mod:`snnsk.core.backends` — the LIF kernels behind one interface (torch, numba, CuPy);
* :mod:`snnsk.core.fused_norm`, :mod:`snnsk.core.memory` — what keeps training memory low.

Nothing here depends on the layers, models or estimators above it.
"""
