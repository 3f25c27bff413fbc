"""Losses over per-timestep outputs ``[T, B, C]``.

* :class:`TETLoss` — Temporal Efficient Training (Deng et al., ICLR 2022):
  ``L = (1 - λ) · (1/T) Σ_t CE(O[t], y) + λ · (1/T) Σ_t MSE(O[t], φ)``.
* :class:`MeanOverTimeLoss` — the usual loss on the output averaged over time.

Both are called like torch losses: ``loss(outputs, y)``. Inference is the same
for both: predict from the mean of the outputs over T.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TETLoss", "MeanOverTimeLoss", "LOSSES", "get_loss"]


def _check_outputs(outputs: torch.Tensor) -> None:
    if outputs.dim() < 3:
        raise ValueError(
            "per-timestep outputs of shape [T, B, C] are expected, "
            f"got shape {tuple(outputs.shape)}"
        )


def _build(criterion):
    if isinstance(criterion, nn.Module):
        return criterion
    if isinstance(criterion, type) and issubclass(criterion, nn.Module):
        return criterion()
    raise TypeError(f"criterion must be a torch loss class or instance, got {criterion!r}")


class TETLoss(nn.Module):
    """Temporal Efficient Training loss.

    Parameters
    ----------
    criterion : torch loss class or instance, default=nn.CrossEntropyLoss
        Per-step classification loss ``CE(O[t], y)``.
    lamb : float, default=1e-3
        Weight λ of the MSE regulariser that pulls every output towards ``phi``
        (0.05 was used on CIFAR, 1e-3 on ImageNet and DVS-CIFAR10).
    phi : float, default=1.0
        Target φ of the regulariser (the firing threshold in the paper).
    """

    def __init__(self, criterion=nn.CrossEntropyLoss, lamb: float = 1e-3, phi: float = 1.0):
        super().__init__()
        if not 0.0 <= lamb <= 1.0:
            raise ValueError(f"lamb (tet_lambda) must be in [0, 1], got {lamb!r}")
        self.criterion = _build(criterion)
        self.lamb = float(lamb)
        self.phi = float(phi)

    def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_outputs(outputs)
        T = outputs.shape[0]
        # Fold T into the batch: the mean over B·T samples equals the mean over
        # t of the per-step means, for the default reduction='mean'.
        ce = self.criterion(outputs.flatten(0, 1), target.repeat(T, *([1] * (target.dim() - 1))))
        if self.lamb == 0:
            return ce
        mse = (outputs - self.phi).pow(2).mean()
        return (1 - self.lamb) * ce + self.lamb * mse

    def extra_repr(self):
        return f"lamb={self.lamb}, phi={self.phi}"


class MeanOverTimeLoss(nn.Module):
    """Loss on the time-averaged output: ``criterion(mean_t O[t], y)``."""

    def __init__(self, criterion=nn.CrossEntropyLoss):
        super().__init__()
        self.criterion = _build(criterion)

    def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_outputs(outputs)
        return self.criterion(outputs.mean(0), target)


LOSSES = {"tet": TETLoss, "mean": MeanOverTimeLoss}


def get_loss(name: str, tet_lambda: float = 1e-3, criterion=nn.CrossEntropyLoss) -> nn.Module:
    """Build a loss by name: ``'tet'`` (with ``tet_lambda``) or ``'mean'``."""
    if name == "tet":
        return TETLoss(criterion, lamb=tet_lambda)
    if name == "mean":
        return MeanOverTimeLoss(criterion)
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
