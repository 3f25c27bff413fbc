"""Batch-norm statistics that match the trained weights, however short the fit.

A batch-norm layer normalises with the statistics of the current batch while
training, and with running averages (momentum 0.1) at inference. Those
averages lag behind the weights: after a short fit they describe the network
of a few dozen steps ago, and a spiking network is unforgiving about it — a
shifted input moves every neuron across or away from its threshold, and a
2-epoch vision transformer predicted one class for every input (accuracy
0.107 on digits). Budget-aware searches (``HalvingGridSearchCV`` with
``resource='max_epochs'``) judge candidates on exactly such short fits.

The remedy (the "precise BN" of the detection literature) is a calibration at
the end of every fit: with the final weights, everything in inference mode
(dropout off, the samplers in their inference mode), each batch-norm layer in
turn — in the order the forward pass reaches them — computes the cumulative
statistics (``momentum=None``) of a sample of the training data, and from then
on normalises with them. Layer ``k`` is thus calibrated on exactly the inputs
it will see at inference, given the calibrated layers before it; calibrating
all layers at once in training mode instead leaves each later layer with the
statistics of batch-normalised inputs, and measured worse than the lagging
running averages on a small model (0.69 against 0.85 training accuracy, where
the batch statistics themselves give 0.80 and the layer-by-layer calibration
0.80). Each pass stops at the layer it calibrates, so the whole costs about
half a forward pass over the sample per layer.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.dataset import unpack_data
from torch import nn
from torch.utils.data import Subset

__all__ = ["batch_norm_layers", "recalibrate_batch_norm"]


def batch_norm_layers(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every batch-norm layer in ``module`` that keeps running statistics."""
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


class _Calibrated(Exception):
    """Raised by the layer being calibrated: the rest of the forward pass is not needed."""


def _forward_order(net, batches, norms) -> list:
    """``norms`` in the order a forward pass reaches them (not always their registration order)."""
    order = []
    handles = [m.register_forward_pre_hook(lambda m, _: order.append(m) if m not in order else None)
               for m in norms]
    try:
        net.infer(batches[0])
    finally:
        for handle in handles:
            handle.remove()
    return order + [m for m in norms if m not in order]  # layers this input never reaches


def _stop(_module, _inputs, _output):
    raise _Calibrated


def recalibrate_batch_norm(net, X, y=None, max_samples: int = 1024, seed: int = 0) -> int:
    """Recompute the running statistics of every batch-norm layer of ``net.module_`` on ``X``.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialised net; its ``get_dataset``, ``get_iterator`` and
        ``infer`` feed the data, so the batches are those of prediction.
    X, y
        The training data, in any form the net takes (``y`` is not used but
        may be needed to build the dataset).
    max_samples : int, default=1024
        At most this many samples, drawn without replacement (the same ones
        for the same ``seed``); a thousand samples give each channel at
        least a thousand values (a convolution or a token layer many more),
        and keep the calibration a small part of a fit.
    seed : int, default=0

    Returns
    -------
    int
        The number of samples the statistics were computed on (0 when the
        module has no batch norm).
    """
    norms = batch_norm_layers(net.module_)
    if not norms:
        return 0
    dataset = net.get_dataset(X, y)
    n = len(dataset)
    if n > max_samples:
        # a random subset: training data is often ordered (by class, by speaker)
        picked = np.sort(np.random.default_rng(seed).choice(n, max_samples, replace=False))
        dataset = Subset(dataset, picked.tolist())
    module = net.module_
    was_training = module.training
    momenta = [m.momentum for m in norms]
    module.eval()
    try:
        with torch.no_grad():
            batches = [unpack_data(batch)[0]
                       for batch in net.get_iterator(dataset, training=False)]
            for layer in _forward_order(net, batches, norms):
                layer.reset_running_stats()
                layer.momentum = None  # a cumulative average over the sample
                layer.train()
                handle = layer.register_forward_hook(_stop)
                try:
                    for Xi in batches:
                        try:
                            net.infer(Xi)
                        except _Calibrated:
                            pass
                finally:
                    handle.remove()
                    layer.eval()
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        module.train(was_training)
    return len(dataset)
