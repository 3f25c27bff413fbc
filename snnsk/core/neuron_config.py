"""One immutable, validated-once configuration of a LIF neuron, from the estimator to the kernel.

Public as :class:`snnsk.core.neurons.NeuronConfig`. It sits below the neurons and
the backends so that both can read it: an estimator builds one from its
top-level hyperparameters, a model hands it to its layers, every
:class:`~snnsk.core.neurons.LIF` keeps it and the backends read its fields. The
neuron keywords are written out here and nowhere else (the estimators'
explicit ``__init__`` signatures aside, which scikit-learn requires).
"""

from __future__ import annotations

import dataclasses
import math

from .._validation import check_bool, is_int, is_real
from .surrogate import Surrogate, get_surrogate

__all__ = ["NeuronConfig", "NEURON_PARAMS", "RESETS", "BACKENDS"]

RESETS = ("hard", "soft")
#: LIF backends (see :mod:`snnsk.core.backends`).
BACKENDS = ("auto", "torch", "cpu", "cupy")


def _real(name, value) -> float:
    # numbers.Real admits numpy scalars, as parameter grids produce them
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class NeuronConfig:
    """Every parameter of a LIF neuron, validated when the object is made.

    The semantics are those of :func:`snnsk.core.neurons.lif` (see the module
    docstring of :mod:`snnsk.core.neurons` for the exact dynamics). The object is
    immutable: :meth:`replace` returns a changed, re-validated copy. Numpy
    scalars (as parameter grids produce them) are accepted and stored as
    Python numbers.

    Parameters
    ----------
    tau : float, default=2.0
        Membrane time constant (>= 1; 1 means no memory).
    threshold : float, default=1.0
        Firing threshold (> 0).
    reset : {'hard', 'soft'}, default='hard'
        Hard reset sets the potential to ``v_reset`` after a spike; soft reset
        subtracts ``threshold``.
    v_reset : float, default=0.0
        Reset and resting potential (< ``threshold``).
    refractory : int, default=0
        Steps after a spike during which the neuron ignores input and cannot fire.
    surrogate : str or Surrogate, default='atan'
        Surrogate gradient: ``'atan'``, ``'sigmoid'``, ``'fast_sigmoid'``,
        ``'triangle'`` or a :class:`snnsk.core.surrogate.Surrogate` instance. Stored
        as the resolved instance (with ``alpha`` applied).
    alpha : float or None, default=None
        Surrogate sharpness; ``None`` takes the surrogate's own. Stored as the
        resolved sharpness.
    decay_input : bool, default=True
        Whether the input is divided by ``tau`` when charging.
    detach_reset : bool, default=False
        Stop the gradient through the spike in the reset.
    backend : {'auto', 'torch', 'cpu', 'cupy'}, default='auto'
        Which implementation runs the neuron (see :func:`snnsk.core.neurons.lif`).

    Raises
    ------
    ValueError, TypeError
        Naming the offending parameter and what it must be.

    Examples
    --------
    >>> from snnsk.core.neurons import NeuronConfig
    >>> config = NeuronConfig(threshold=0.5)
    >>> config.replace(tau=4.0).tau, config.tau
    (4.0, 2.0)
    """

    tau: float = 2.0
    threshold: float = 1.0
    reset: str = "hard"
    v_reset: float = 0.0
    refractory: int = 0
    surrogate: str | Surrogate = "atan"
    alpha: float | None = None
    decay_input: bool = True
    detach_reset: bool = False
    backend: str = "auto"

    def __post_init__(self):
        tau = _real("tau", self.tau)
        if tau < 1.0:
            raise ValueError(f"tau must be >= 1 (1 means no memory), got {self.tau!r}")
        threshold = _real("threshold", self.threshold)
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold!r}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be 'hard' or 'soft', got {self.reset!r}")
        v_reset = _real("v_reset", self.v_reset)
        if v_reset >= threshold:
            raise ValueError(f"v_reset ({self.v_reset!r}) must be below threshold "
                             f"({self.threshold!r}), otherwise the neuron fires at every step")
        refractory = self.refractory
        if not is_int(refractory) or refractory < 0:
            raise ValueError(f"refractory must be a non-negative integer (steps), got {refractory!r}")
        alpha = None if self.alpha is None else _real("alpha", self.alpha)
        surrogate = get_surrogate(self.surrogate, alpha)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        values = dict(tau=tau, threshold=threshold, v_reset=v_reset, refractory=int(refractory),
                      surrogate=surrogate, alpha=surrogate.alpha,
                      decay_input=check_bool("decay_input", self.decay_input),
                      detach_reset=check_bool("detach_reset", self.detach_reset))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def hard_reset(self) -> bool:
        """Whether a spike resets the potential to ``v_reset`` (else subtracts ``threshold``)."""
        return self.reset == "hard"

    def replace(self, **changes) -> NeuronConfig:
        """A copy with ``changes`` applied, validated as a whole (a bad value raises, nothing changes)."""
        unknown = set(changes) - set(NEURON_PARAMS)
        if unknown:
            raise ValueError(f"unknown neuron parameters: {sorted(unknown)}; known: {NEURON_PARAMS}")
        if "surrogate" in changes and "alpha" not in changes:
            # a new surrogate brings its own sharpness unless one is given with it
            changes["alpha"] = None
        elif changes.get("alpha", 0.0) is None and "surrogate" not in changes:
            # alpha=None means the surrogate's default sharpness, not "keep the current one"
            changes["surrogate"] = type(self.surrogate)()
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """The parameters as keyword arguments (the surrogate as its resolved instance)."""
        return {name: getattr(self, name) for name in NEURON_PARAMS}


#: The names of the neuron parameters, in :class:`NeuronConfig`'s order.
NEURON_PARAMS = tuple(field.name for field in dataclasses.fields(NeuronConfig))
