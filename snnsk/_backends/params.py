"""The resolved, validated parameter set every LIF backend receives."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from ..surrogate import Surrogate, get_surrogate

RESETS = ("hard", "soft")


@dataclass(frozen=True)
class LIFParams:
    """Validated LIF parameters shared by all backends (see :func:`snnsk.neurons.lif`)."""

    tau: float
    threshold: float
    reset: str
    v_reset: float
    refractory: int
    surrogate: Surrogate
    decay_input: bool
    detach_reset: bool

    @property
    def hard_reset(self) -> bool:
        return self.reset == "hard"


def _number(name, value):
    # numbers.Real admits numpy scalars, as parameter grids produce them
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def make_params(
    tau=2.0,
    threshold=1.0,
    reset="hard",
    v_reset=0.0,
    refractory=0,
    surrogate="atan",
    alpha=None,
    decay_input=True,
    detach_reset=False,
) -> LIFParams:
    """Check every LIF parameter and return a :class:`LIFParams`.

    Raises
    ------
    ValueError, TypeError
        Naming the offending parameter and what it must be.
    """
    tau = _number("tau", tau)
    if tau < 1.0:
        raise ValueError(f"tau must be >= 1 (1 means no memory), got {tau!r}")
    threshold = _number("threshold", threshold)
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    if reset not in RESETS:
        raise ValueError(f"reset must be 'hard' or 'soft', got {reset!r}")
    v_reset = _number("v_reset", v_reset)
    if v_reset >= threshold:
        raise ValueError(
            f"v_reset ({v_reset!r}) must be below threshold ({threshold!r}), "
            "otherwise the neuron fires at every step"
        )
    # numpy integers (as they come out of parameter grids) are integers too
    if isinstance(refractory, bool) or not hasattr(refractory, "__index__") or refractory < 0:
        raise ValueError(f"refractory must be a non-negative integer (steps), got {refractory!r}")
    refractory = int(refractory)
    for name, flag in (("decay_input", decay_input), ("detach_reset", detach_reset)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    return LIFParams(
        tau=tau,
        threshold=threshold,
        reset=reset,
        v_reset=v_reset,
        refractory=refractory,
        surrogate=get_surrogate(surrogate, alpha),
        decay_input=decay_input,
        detach_reset=detach_reset,
    )
