"""Model kinds of the ``snnsk`` command and its ``--param`` / ``--grid`` values.

The kinds map to the estimator classes imported here, and every parameter
value is checked by the estimator's own validation before any fit starts, so
that a bad value is reported as a one-line :class:`~snnsk.cli.errors.CommandError`.
"""

from __future__ import annotations

import ast
import re

from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from ..estimators.lm import SpikeDecoderLM
from ..estimators.mlp import SpikingMLPClassifier
from ..estimators.sequence import SpikingSSMClassifier
from ..estimators.vision import SpikingViTClassifier
from .errors import CommandError, user_input

__all__ = ["MODELS", "estimator_class", "parse_value", "parse_param", "parse_grid",
           "make_estimator", "check_params", "check_grid"]

#: kind -> (estimator class, what its DATA file holds)
MODELS = {
    "lm": (SpikeDecoderLM, "a text file (paragraphs separated by blank lines are documents)"),
    "ssm": (SpikingSSMClassifier, ".npz with X (n, L) or (n, L, C) and y, or .csv"),
    "vit": (SpikingViTClassifier, ".npz with X (n, C, H, W), (n, H, W), flat (n, D) or event "
                                  "frames (n, T, C, H, W) and y, or .csv of flat images"),
    "mlp": (SpikingMLPClassifier, ".npz with X (n, D) and y, or .csv"),
}

#: Settings the command uses unless --param overrides them: reproducible by default.
DEFAULTS = {"random_state": 0}

#: The prefixes of skorch's ``NAME__key`` parameters for the net's module, criterion and
#: optimizer: skorch adds them to ``prefixes_`` only when it builds those, inside fit.
_COMPONENT_PREFIXES = ("module", "criterion", "optimizer")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_CLOSING = {"(": ")", "[": "]", "{": "}"}


def estimator_class(kind: str):
    """The estimator class of a model kind (``'lm'``, ``'ssm'``, ``'vit'``, ``'mlp'``)."""
    if kind not in MODELS:
        raise CommandError(f"unknown model kind {kind!r}; choose from {', '.join(MODELS)}")
    return MODELS[kind][0]


def parse_value(text: str):
    """A command-line value as a Python literal (int, float, bool, None, tuple...) or else a str.

    Examples
    --------
    >>> [parse_value(v) for v in ("4", "0.5", "True", "None", "(16, 8)", "sigmoid")]
    [4, 0.5, True, None, (16, 8), 'sigmoid']
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _split_name(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name.replace("__", "_")):
        raise CommandError(f"{option} takes NAME=VALUE (such as threshold=0.5), got {text!r}")
    if not value.strip():
        raise CommandError(f"{option} {name}= needs a value")
    return name, value.strip()


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, so ``(16,),(32,16)`` is two tuples."""
    parts, depth_stack, start = [], [], 0
    for i, char in enumerate(text):
        if char in _CLOSING:
            depth_stack.append(_CLOSING[char])
        elif depth_stack and char == depth_stack[-1]:
            depth_stack.pop()
        elif char == "," and not depth_stack:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def parse_param(text: str) -> tuple[str, object]:
    """``'threshold=0.5'`` -> ``('threshold', 0.5)``."""
    name, value = _split_name(text, "--param")
    return name, parse_value(value)


def parse_grid(text: str) -> tuple[str, list]:
    """``'timesteps=2,4'`` -> ``('timesteps', [2, 4])``; commas inside brackets do not split."""
    name, value = _split_name(text, "--grid")
    values = _split_top_level(value)
    if any(not v for v in values):
        raise CommandError(f"--grid {name}= has an empty value in {value!r}")
    return name, [parse_value(v) for v in values]


def _as_dict(pairs, option: str) -> dict:
    result = {}
    for name, value in pairs or ():
        if name in result:
            raise CommandError(f"{option} {name} is given twice")
        result[name] = value
    return result


def _check_names(cls, kind: str, names, option: str):
    estimator = cls()
    known = set(estimator.get_params(deep=False))
    unknown = sorted(n for n in names if "__" not in n and n not in known)
    if unknown:
        raise CommandError(f"{option}: {cls.__name__} ({kind}) has no parameter "
                           f"{', '.join(map(repr, unknown))}; its parameters are: "
                           f"{', '.join(sorted(known))}")
    # skorch routes the prefixed names (optimizer__weight_decay...) to their component, and
    # would refuse an unknown prefix only when fit initialises the net
    prefixes = set(estimator.prefixes_) | set(_COMPONENT_PREFIXES)
    unrouted = sorted(n for n in names if "__" in n and n.split("__")[0] not in prefixes)
    if unrouted:
        raise CommandError(f"{option}: {', '.join(map(repr, unrouted))} names no part of "
                           f"{cls.__name__} ({kind}); NAME__key parameters go to "
                           f"{', '.join(name + '__' for name in sorted(prefixes))}")


def make_estimator(kind: str, params=()):
    """A new, unfitted estimator of ``kind`` with :data:`DEFAULTS` and ``params``.

    Parameters
    ----------
    kind : {'lm', 'ssm', 'vit', 'mlp'}
    params : iterable of (name, value)
        From :func:`parse_param`.
    """
    cls = estimator_class(kind)
    params = _as_dict(params, "--param")
    _check_names(cls, kind, params, "--param")
    with user_input("--param"):
        estimator = cls(**{**DEFAULTS, **params})
    return check_params(estimator, "--param")


def check_params(estimator, option: str):
    """Run the estimator's checks of its parameter values now, before any fit; return it.

    They are the checks its ``fit`` starts with (the estimator's
    ``check_params``: every hyperparameter, the architecture's sizes
    included). Relations between sizes and the keys of prefixed parameters
    (``module__*``, ``optimizer__*``) are checked when the module and
    optimizer are built from the data, inside ``fit``.

    Raises
    ------
    CommandError
        Naming ``option`` (``'--param'`` or ``'--grid'``) and the bad value.
    """
    with user_input(option):
        estimator.check_params()
    return estimator


def check_grid(estimator, kind: str, grid=(), params=()) -> dict:
    """The ``param_grid`` dict of ``--grid`` options, checked against the estimator and ``--param``."""
    grid = _as_dict(grid, "--grid")
    if not grid:
        raise CommandError("search needs at least one --grid NAME=V1,V2,...")
    both = sorted(set(grid) & set(_as_dict(params, "--param")))
    if both:
        raise CommandError(f"{', '.join(both)} given both as --param and --grid")
    _check_names(type(estimator), kind, grid, "--grid")
    # every candidate's values are checked now, not by the search's fits one after another
    for candidate in ParameterGrid(grid):
        what = "--grid " + ", ".join(f"{name}={value!r}" for name, value in candidate.items())
        with user_input(what):
            checked = clone(estimator).set_params(**candidate)
        check_params(checked, what)
    return grid
