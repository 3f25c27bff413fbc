"""Argument checks shared across the package, so every error names its parameter the same way."""

from __future__ import annotations

import numbers

__all__ = ["check_int", "check_positive_int"]


def check_int(name, value, minimum=1) -> int:
    """Raise ValueError naming ``name`` unless ``value`` is an integer >= ``minimum``; return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_int(name, value) -> int:
    """Raise ValueError naming ``name`` unless ``value`` is an integer >= 1; return it as an ``int``.

    Numpy integers (as ``np.arange`` grids give them) are integers too; the
    value returned is a Python ``int``, for torch constructors.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
