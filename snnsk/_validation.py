"""Argument checks shared across the package: one place that knows what a number is.

Numpy scalars (as ``np.arange`` / ``np.linspace`` grids and scipy
distributions give them) are numbers, booleans are not (``True`` is an
``int`` to Python, never a size or a rate here). Every check names the
parameter, says what it must be and returns the value as a plain Python
object. Estimators declare their hyperparameters with scikit-learn's
constraint objects instead (``_parameter_constraints``, see
:mod:`snnsk.estimators.base`); these functions serve models, layers,
callbacks and utilities, which have no such machinery.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_int", "check_positive_int", "check_real", "check_bool", "check_options",
           "is_int", "is_real", "is_bool", "Integer", "Real", "Boolean", "Options", "AnyOf", "Check",
           "validate_params"]


def is_bool(value) -> bool:
    """Whether ``value`` is ``True`` / ``False`` (numpy's included)."""
    return isinstance(value, (bool, np.bool_))


def is_int(value) -> bool:
    """Whether ``value`` is an integer (numpy's included) and not a boolean."""
    return isinstance(value, numbers.Integral) and not is_bool(value)


def is_real(value) -> bool:
    """Whether ``value`` is a real number (numpy's included) and not a boolean."""
    return isinstance(value, numbers.Real) and not is_bool(value)


def check_int(name, value, minimum=1, maximum=None) -> int:
    """Raise ValueError naming ``name`` unless ``value`` is an integer in ``[minimum, maximum]``; return it."""
    if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


def check_positive_int(name, value) -> int:
    """Raise ValueError naming ``name`` unless ``value`` is an integer >= 1; return it as an ``int``."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_real(name, value, low=None, high=None, *, low_open=False, high_open=False,
               what=None) -> float:
    """Check that ``value`` is a finite real number in the given range; return it as a ``float``.

    Parameters
    ----------
    name : str
    value : object
    low, high : float or None
        Bounds (None: unbounded).
    low_open, high_open : bool, default=False
        Whether a bound itself is excluded.
    what : str or None, default=None
        What the message says the value must be (``'a positive number'``...);
        ``None``: "a real number" and the range.

    Raises
    ------
    TypeError
        For a value that is not a real number.
    ValueError
        For a non-finite value or one out of range.
    """
    if what is None:
        what = "a real number"
        if (low, high) != (None, None):
            what += (f" in {'(' if low_open else '['}{'-inf' if low is None else low}, "
                     f"{'inf' if high is None else high}{')' if high_open else ']'}")
    if not is_real(value):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or below or above:
        raise ValueError(f"{name} must be {what}{'' if math.isfinite(value) else ' (finite)'}, "
                         f"got {value!r}")
    return value


def check_bool(name, value) -> bool:
    """Raise TypeError naming ``name`` unless ``value`` is True or False; return it as a ``bool``."""
    if not is_bool(value):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_options(name, value, options):
    """Raise ValueError naming ``name`` and the choices unless ``value`` is one of ``options``."""
    if isinstance(value, (list, dict, set)) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(str, options))}, got {value!r}")
    return value


# ------------------------------------------------------- declarative constraints
class Integer:
    """An integer in ``[minimum, maximum]`` (``maximum=None``: unbounded); ``None`` too with ``none``."""

    def __init__(self, minimum=1, maximum=None, none=False):
        self.minimum, self.maximum, self.none = minimum, maximum, none

    def __call__(self, name, value):
        if value is None and self.none:
            return None
        try:
            if self.minimum == 1 and self.maximum is None:
                return check_positive_int(name, value)
            return check_int(name, value, self.minimum, self.maximum)
        except ValueError as exc:
            if self.none:
                raise ValueError(f"{exc} (or None)") from None
            raise


class Real:
    """A finite real number in a range (see :func:`check_real`); ``None`` too with ``none``."""

    def __init__(self, low=None, high=None, *, low_open=False, high_open=False,
                 what=None, none=False):
        self.range = dict(low=low, high=high, low_open=low_open, high_open=high_open, what=what)
        self.none = none

    def __call__(self, name, value):
        if value is None and self.none:
            return None
        return check_real(name, value, **self.range)


class Boolean:
    """True or False."""

    def __call__(self, name, value):
        return check_bool(name, value)


class Options:
    """One of a fixed set of values (``None`` may be one of them)."""

    def __init__(self, *options):
        self.options = options

    def __call__(self, name, value):
        return check_options(name, value, self.options)


class AnyOf:
    """The first of ``constraints`` that accepts the value; else a ValueError saying ``what``."""

    def __init__(self, *constraints, what: str):
        self.constraints = constraints
        self.what = what

    def __call__(self, name, value):
        for constraint in self.constraints:
            try:
                return constraint(name, value)
            except (TypeError, ValueError):
                continue
        raise ValueError(f"{name} must be {self.what}, got {value!r}")


class Check:
    """A check written as a function ``(name, value)`` that raises (a shape, a tokenizer...)."""

    def __init__(self, function):
        self.function = function

    def __call__(self, name, value):
        return self.function(name, value)


def validate_params(constraints: dict, values: dict) -> None:
    """Check ``values`` against ``constraints`` (name -> a constraint above, or any callable
    ``(name, value)`` that raises); names without a constraint are not checked.

    The estimators' ``_parameter_constraints`` (in the spirit of scikit-learn's)
    are checked with it at fit.
    """
    for name, constraint in constraints.items():
        if name in values:
            constraint(name, values[name])
