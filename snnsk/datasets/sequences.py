"""Sequence classification data for the state-space models, available offline."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from .._validation import check_int, is_bool

__all__ = ["load_sequential_digits", "make_listops", "LISTOPS_TOKENS", "listops_to_string"]

#: ListOps vocabulary; a token's id is its index. Id 0 is padding and never
#: occurs in a generated sequence.
LISTOPS_TOKENS = ("<pad>",) + tuple(str(d) for d in range(10)) + ("[MAX", "[MIN", "[MED", "[SM", "]")
_DIGIT_IDS = np.arange(1, 11)
_OPERATORS = {
    "[MAX": max,
    "[MIN": min,
    # Long Range Arena's definition: the median, rounded down
    "[MED": lambda values: int(np.median(values)),
    "[SM": lambda values: sum(values) % 10,
}
_OPERATOR_IDS = {name: LISTOPS_TOKENS.index(name) for name in _OPERATORS}
_CLOSE_ID = LISTOPS_TOKENS.index("]")


def load_sequential_digits(permute: bool = False, random_state=None):
    """scikit-learn's 8×8 digits read pixel by pixel as 64-step sequences.

    The small, offline counterpart of sequential MNIST (pixels in raster
    order) and permuted sequential MNIST (one fixed random permutation of the
    pixel order, shared by every image, which destroys locality and makes the
    task depend on long-range structure).

    Parameters
    ----------
    permute : bool, default=False
        Shuffle the pixel order with one fixed permutation.
    random_state : int, RandomState or None, default=None
        Seeds the permutation (used only with ``permute=True``).

    Returns
    -------
    X : ndarray of shape (1797, 64), float32
        Pixel intensities scaled to [0, 1], one step per pixel.
    y : ndarray of shape (1797,), int
        The digit, 0 to 9.

    Examples
    --------
    >>> X, y = load_sequential_digits(permute=True, random_state=0)
    >>> X.shape, y[:3].tolist()
    ((1797, 64), [0, 1, 2])
    """
    if not is_bool(permute):
        raise ValueError(f"permute must be True or False, got {permute!r}")
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if permute:
        X = X[:, check_random_state(random_state).permutation(X.shape[1])]
    return X, y


def _expression(rng, depth, max_depth, max_args, leaf_probability, budget):
    """One random expression as ``(token ids, value)``; raises OverflowError past ``budget`` tokens."""
    if depth > 0 and (depth >= max_depth or rng.random_sample() < leaf_probability):
        digit = int(rng.randint(10))
        return [int(_DIGIT_IDS[digit])], digit
    name = list(_OPERATORS)[rng.randint(len(_OPERATORS))]
    tokens, values = [_OPERATOR_IDS[name]], []
    for _ in range(rng.randint(2, max_args + 1)):
        child, value = _expression(rng, depth + 1, max_depth, max_args, leaf_probability,
                                   budget - len(tokens) - 1)
        tokens += child
        values.append(value)
        if len(tokens) + 1 > budget:
            raise OverflowError
    tokens.append(_CLOSE_ID)
    return tokens, _OPERATORS[name](values)


def make_listops(n_samples: int = 2000, min_length: int = 32, max_length: int = 512,
                 max_depth: int = 10, max_args: int = 5, random_state=None):
    """Generate the Long Range Arena ListOps task: evaluate nested list operations.

    Each sample is a prefix expression such as ``[MAX 4 3 [MIN 2 3 ] 1 0 ]``
    over the digits 0–9 with the operators MAX, MIN, MED (median, rounded
    down) and SM (sum modulo 10); the label is its value (10 classes). As in
    Long Range Arena, an operator has 2 to ``max_args`` arguments, each a
    digit or (below ``max_depth``) another expression, and expressions are
    drawn until their length falls in ``[min_length, max_length]``. The outermost node is always an operator.
    The tokens follow :data:`LISTOPS_TOKENS` (id 0 is padding and never
    appears); there are no parentheses tokens.

    Parameters
    ----------
    n_samples : int, default=2000
    min_length, max_length : int, default=32, 512
        Inclusive range of sequence lengths in tokens.
    max_depth : int, default=10
        Deepest nesting level.
    max_args : int, default=5
        Most arguments of one operator (at least 2).
    random_state : int, RandomState or None, default=None

    Returns
    -------
    X : list of ndarray of int64
        One token-id sequence per sample, of varying length (the sequence
        estimators pad them inside).
    y : ndarray of shape (n_samples,), int64
        The value of each expression.

    Examples
    --------
    >>> X, y = make_listops(3, min_length=5, max_length=20, random_state=0)
    >>> listops_to_string(X[0])  # doctest: +SKIP
    '[SM 3 [MAX 5 2 ] 7 ]'
    """
    n_samples = check_int("n_samples", n_samples, 1)
    min_length = check_int("min_length", min_length, 3)
    max_length = check_int("max_length", max_length, min_length)
    max_depth = check_int("max_depth", max_depth, 1)
    max_args = check_int("max_args", max_args, 2)
    rng = check_random_state(random_state)
    # Long expressions need a supercritical branching rate: the leaf
    # probability is drawn per attempt, LRA's 3/4 for short targets down to
    # 1/2 for long ones, and runaway trees are cut off at max_length.
    X, y = [], []
    attempts = 0
    while len(X) < n_samples:
        attempts += 1
        if attempts > 1000 * n_samples:
            raise ValueError(
                f"could not generate expressions of {min_length} to {max_length} tokens with "
                f"max_depth={max_depth} and max_args={max_args}; widen the range")
        leaf_probability = rng.uniform(0.5, 0.75)
        try:
            tokens, value = _expression(rng, 0, max_depth, max_args, leaf_probability, max_length)
        except OverflowError:
            continue
        if len(tokens) >= min_length:
            X.append(np.asarray(tokens, dtype=np.int64))
            y.append(value)
    return X, np.asarray(y, dtype=np.int64)


def listops_to_string(ids) -> str:
    """The ListOps expression that a sequence of token ids spells (padding dropped)."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be one sequence (1-D), got shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(LISTOPS_TOKENS)):
        raise ValueError(f"token ids must be in [0, {len(LISTOPS_TOKENS)}), got {ids.min()}..{ids.max()}")
    return " ".join(LISTOPS_TOKENS[i] for i in ids.tolist() if i != 0)
