"""Surrogate gradients for the Heaviside spike function.

The forward pass of every surrogate is the Heaviside step ``Θ(x) = 1 if x >= 0``
(with ``x = h - threshold``); only the derivative used in the backward pass
differs. Surrogates are small picklable classes with a single ``alpha``
sharpness parameter (no closures or lambdas, so estimators holding them can be
saved with :mod:`joblib` and cloned by scikit-learn).

===============  =============  ====================================
name             default alpha  dS/dx
===============  =============  ====================================
``sigmoid``      4              ``α σ(αx) (1 - σ(αx))``
``atan``         2              ``α / (2 (1 + (π α x / 2)²))``
``fast_sigmoid`` 2              ``α / (2 (1 + α|x|)²)``
``triangle``     1              ``max(0, α - α² |x|)``
===============  =============  ====================================
"""

from __future__ import annotations

import math

import torch

from .._validation import check_real

__all__ = [
    "Surrogate",
    "Sigmoid",
    "ATan",
    "FastSigmoid",
    "Triangle",
    "SURROGATES",
    "get_surrogate",
]


class _HeavisideWithSurrogate(torch.autograd.Function):
    """Heaviside forward, ``surrogate.derivative`` backward."""

    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base class: Heaviside forward pass, smooth derivative backward.

    Subclasses set ``name`` and ``default_alpha`` and implement
    :meth:`derivative`. Calling an instance on ``x = h - threshold`` returns
    spikes (0/1 in the dtype of ``x``) whose gradient is ``derivative(x)``.

    Parameters
    ----------
    alpha : float or None, default=None
        Sharpness of the surrogate; ``None`` takes the class default. Larger
        values approach the true (zero almost everywhere) derivative.
    """

    name = "base"
    default_alpha = 1.0

    def __init__(self, alpha: float | None = None):
        alpha = self.default_alpha if alpha is None else alpha
        self.alpha = check_real("alpha", alpha, 0, low_open=True, what="a positive number")

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """Surrogate derivative ``dS/dx`` evaluated at ``x``."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _HeavisideWithSurrogate.apply(x, self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha:g})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.alpha == other.alpha

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.alpha))


class Sigmoid(Surrogate):
    """Logistic surrogate: ``dS/dx = α σ(αx)(1 − σ(αx))`` (default α = 4)."""

    name = "sigmoid"
    default_alpha = 4.0

    def derivative(self, x):
        s = torch.sigmoid(self.alpha * x)
        return self.alpha * s * (1 - s)


class ATan(Surrogate):
    """Arctangent surrogate: ``dS/dx = α / (2 (1 + (π α x / 2)²))`` (default α = 2)."""

    name = "atan"
    default_alpha = 2.0

    def derivative(self, x):
        return self.alpha / (2 * (1 + (math.pi / 2 * self.alpha * x) ** 2))


class FastSigmoid(Surrogate):
    """SoftSign / SuperSpike surrogate: ``dS/dx = α / (2 (1 + α|x|)²)`` (default α = 2)."""

    name = "fast_sigmoid"
    default_alpha = 2.0

    def derivative(self, x):
        return self.alpha / (2 * (1 + self.alpha * x.abs()) ** 2)


class Triangle(Surrogate):
    """Piecewise-quadratic (triangle) surrogate: ``dS/dx = max(0, α − α²|x|)`` (default α = 1)."""

    name = "triangle"
    default_alpha = 1.0

    def derivative(self, x):
        return torch.clamp(self.alpha - self.alpha**2 * x.abs(), min=0)


SURROGATES = {cls.name: cls for cls in (ATan, Sigmoid, FastSigmoid, Triangle)}


def get_surrogate(surrogate: str | Surrogate = "atan", alpha: float | None = None) -> Surrogate:
    """Return a surrogate instance from a name or an instance.

    Parameters
    ----------
    surrogate : str or Surrogate
        One of ``'atan'``, ``'sigmoid'``, ``'fast_sigmoid'``, ``'triangle'``,
        or a :class:`Surrogate` instance (returned as is unless ``alpha`` is given).
    alpha : float or None
        Sharpness; ``None`` keeps the instance's alpha or the class default.

    Raises
    ------
    ValueError
        If the name is unknown (the message lists the known names).
    """
    if isinstance(surrogate, Surrogate):
        if alpha is None or alpha == surrogate.alpha:
            return surrogate
        return type(surrogate)(alpha)
    if isinstance(surrogate, type) and issubclass(surrogate, Surrogate):
        return surrogate(alpha)
    if not isinstance(surrogate, str):
        raise TypeError(
            f"surrogate must be a name ({', '.join(SURROGATES)}) or a Surrogate instance, "
            f"got {surrogate!r}"
        )
    try:
        cls = SURROGATES[surrogate]
    except KeyError:
        raise ValueError(
            f"unknown surrogate {surrogate!r}; choose one of {', '.join(sorted(SURROGATES))}"
        ) from None
    return cls(alpha)
