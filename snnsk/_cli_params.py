"""Model kinds of the ``snnsk`` command and its ``--param`` / ``--grid`` values.

The kinds map to estimator classes looked up on the :mod:`snnsk` package when
a command runs, so a kind whose estimator this installation lacks fails with
one clear message instead of breaking the whole command.
"""

from __future__ import annotations

import ast
import re

__all__ = ["MODELS", "estimator_class", "parse_value", "parse_param", "parse_grid",
           "make_estimator", "check_grid"]

#: kind -> (class name in :mod:`snnsk`, what its DATA file holds)
MODELS = {
    "lm": ("SpikeDecoderLM", "a text file (paragraphs separated by blank lines are documents)"),
    "ssm": ("SpikingSSMClassifier", ".npz with X (n, L) or (n, L, C) and y, or .csv"),
    "vit": ("SpikingViTClassifier", ".npz with X (n, C, H, W), (n, H, W), flat (n, D) or event "
                                    "frames (n, T, C, H, W) and y, or .csv of flat images"),
    "mlp": ("SpikingMLPClassifier", ".npz with X (n, D) and y, or .csv"),
}

#: Settings the command uses unless --param overrides them: reproducible by default.
DEFAULTS = {"random_state": 0}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_CLOSING = {"(": ")", "[": "]", "{": "}"}


def estimator_class(kind: str):
    """The estimator class of a model kind (``'lm'``, ``'ssm'``, ``'vit'``, ``'mlp'``)."""
    import snnsk

    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose from {', '.join(MODELS)}")
    name = MODELS[kind][0]
    cls = getattr(snnsk, name, None)
    if cls is None:
        raise ValueError(f"the {kind!r} model needs snnsk.{name}, which this installation of "
                         f"snnsk {snnsk.__version__} does not have")
    return cls


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
        raise ValueError(f"{option} takes NAME=VALUE (such as threshold=0.5), got {text!r}")
    if not value.strip():
        raise ValueError(f"{option} {name}= needs a value")
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
        raise ValueError(f"--grid {name}= has an empty value in {value!r}")
    return name, [parse_value(v) for v in values]


def _as_dict(pairs, option: str) -> dict:
    result = {}
    for name, value in pairs or ():
        if name in result:
            raise ValueError(f"{option} {name} is given twice")
        result[name] = value
    return result


def _check_names(cls, kind: str, names, option: str):
    known = set(cls().get_params(deep=False))
    # skorch routes prefixed names (optimizer__weight_decay...) itself and rejects bad prefixes at fit
    unknown = sorted(n for n in names if "__" not in n and n not in known)
    if unknown:
        raise ValueError(f"{option}: {cls.__name__} ({kind}) has no parameter "
                         f"{', '.join(map(repr, unknown))}; its parameters are: "
                         f"{', '.join(sorted(known))}")


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
    return cls(**{**DEFAULTS, **params})


def check_grid(estimator, kind: str, grid=(), params=()) -> dict:
    """The ``param_grid`` dict of ``--grid`` options, checked against the estimator and ``--param``."""
    grid = _as_dict(grid, "--grid")
    if not grid:
        raise ValueError("search needs at least one --grid NAME=V1,V2,...")
    both = sorted(set(grid) & set(_as_dict(params, "--param")))
    if both:
        raise ValueError(f"{', '.join(both)} given both as --param and --grid")
    _check_names(type(estimator), kind, grid, "--grid")
    return grid
