"""The files the ``snnsk`` command reads: training data and saved models.

Every failure is a :class:`~snnsk.cli.errors.CommandError` or a
``FileNotFoundError`` whose message names the file and says what was
expected, so the command can print it as one line. :func:`check_samples`
runs the estimator's own checks of the data up front, for the same reason.
"""

from __future__ import annotations

import os
import pathlib
import zipfile

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import check_classification_targets

from ..datasets import load_text
from .errors import CommandError, user_input

__all__ = ["read_documents", "read_arrays", "check_samples", "load_model", "final_estimator"]

ARRAY_SUFFIXES = (".npz", ".csv")


def _existing_file(path) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise CommandError(f"{str(path)!r} is a directory, expected a file")
    return path


def read_documents(path) -> list[str]:
    """The documents of a text file: its paragraphs (blocks between blank lines).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of str
    """
    path = _existing_file(path)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        # a language model learns text; an array file here is a mix-up of DATA and model kind
        raise CommandError(f"{str(path)!r} is a {path.suffix} file; the language model (lm) learns "
                           f"a text file (paragraphs separated by blank lines are the documents)")
    return load_text(path)


def read_arrays(path, target: str | None = None, require_y: bool = True):
    """``X`` and ``y`` of a classifier from a ``.npz`` or ``.csv`` file.

    Parameters
    ----------
    path : str or path-like
        ``.npz``: arrays named ``X`` (any shape the estimator takes, such as
        ``(n, L)``, ``(n, L, C)`` or ``(n, C, H, W)``) and ``y``. ``.csv``:
        one sample per row, numeric feature columns and the label in the
        last column (or in the column named ``target``); a header row is
        optional unless ``target`` is given.
    target : str or None, default=None
        Name of the label column of a CSV file.
    require_y : bool, default=True
        Whether labels must be present (``False``: ``y`` may be None).

    Returns
    -------
    X : ndarray
    y : ndarray or None
    """
    path = _existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if target is not None:
            raise CommandError("--target names a CSV column; a .npz file holds arrays named X "
                               "and y")
        X, y = _read_npz(path)
    elif suffix == ".csv":
        X, y = _read_csv(path, target)
    else:
        raise CommandError(f"{str(path)!r}: a classifier's DATA must be a .npz file (arrays X "
                           f"and y) or a .csv file (label in the last column)")
    if require_y and y is None:
        raise CommandError(f"{str(path)!r} holds no labels: a .npz file needs an array named y")
    if y is not None and len(y) != len(X):
        raise CommandError(f"{str(path)!r}: X has {len(X)} samples but y has {len(y)} labels")
    if y is not None:
        # what every classifier's fit checks first (a label column of floats is a mix-up)
        with user_input(f"the labels y of {str(path)!r}"):
            check_classification_targets(y)
    return X, y


def check_samples(estimator, X, path, fitted: bool):
    """Run the estimator's own checks of the samples ``X`` read from ``path``, before it runs.

    A wrong shape, channel count or value is thus reported as a one-line
    error naming the file, and an error that fit or prediction raise later
    is never mistaken for one of the data.

    Parameters
    ----------
    estimator : snnsk estimator
    X : array-like or list of str
        As read by :func:`read_arrays` or :func:`read_documents` (and through
        a pipeline's earlier steps).
    path : str or path-like
        The file, for the message.
    fitted : bool
        ``True``: check ``X`` as prediction input of the fitted ``estimator``;
        ``False``: as training data (on a clone, which learns its input shape
        from them; the language model checks its documents when reading them).

    Raises
    ------
    CommandError
    """
    with user_input(f"{str(path)!r}"):
        if fitted:
            estimator._validate_predict_input(X)
        elif hasattr(estimator, "_validate_X"):
            clone(estimator)._validate_X(X, reset=True)


def _read_npz(path: pathlib.Path):
    if not zipfile.is_zipfile(path):
        raise CommandError(f"{str(path)!r} is not a .npz file (numpy.savez's zip archive of "
                           f"arrays)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in arrays.files}
    except ValueError:
        # only object arrays need pickle, and unpickling a data file could run any code
        raise CommandError(f"{str(path)!r} holds object arrays (ragged or mixed data); save "
                           f"numeric arrays, padding sequences to one length") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise CommandError(f"{str(path)!r} is not a readable .npz file "
                           f"({' '.join(str(exc).split())})") from None
    if "X" not in found:
        raise CommandError(f"{str(path)!r} has no array named X (found: {sorted(found)}); save "
                           f"it with numpy.savez(path, X=X, y=y)")
    X = found["X"]
    if X.ndim < 2:
        raise CommandError(f"X in {str(path)!r} must have one row per sample and at least 2 "
                           f"dimensions, got shape {X.shape}")
    return X, found.get("y")


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _read_csv(path: pathlib.Path, target: str | None):
    try:
        frame = pd.read_csv(path, header=None)
        # a first row of numbers is data; anything else in it is a header
        has_header = not all(_is_number(value) for value in frame.iloc[0])
        if has_header:
            frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            IndexError) as exc:
        raise CommandError(f"{str(path)!r} is not a readable CSV file with at least one row "
                           f"({' '.join(str(exc).split()) or type(exc).__name__})") from None
    if not has_header and target is not None:
        raise CommandError(f"--target {target!r} names a column, but {str(path)!r} has no "
                           f"header row")
    if frame.shape[1] < 2:
        raise CommandError(f"{str(path)!r} needs at least two columns: features, then the label")
    if target is None:
        target = frame.columns[-1]
    elif target not in frame.columns:
        raise CommandError(f"--target {target!r} is not a column of {str(path)!r} "
                           f"(columns: {list(map(str, frame.columns))})")
    features = frame.drop(columns=[target])
    text = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise CommandError(f"{str(path)!r}: feature columns must be numeric; {text[:5]} are not "
                           f"(the label goes in the last column, or name it with --target)")
    return features.to_numpy(dtype=np.float32), frame[target].to_numpy()


def load_model(path):
    """A model saved with ``joblib.dump`` (by ``snnsk fit``, ``search --out`` or ``demo``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    object
        The estimator or pipeline.
    """
    path = _existing_file(path)
    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways; all mean "not a model"
        raise CommandError(f"{str(path)!r} is not a model saved with joblib "
                           f"({type(exc).__name__}: {' '.join(str(exc).split())})") from None


def final_estimator(model, path=None):
    """The snnsk estimator of ``model`` (itself, or a pipeline's last step) and the steps before it.

    Returns
    -------
    estimator : snnsk estimator
    transform : callable
        Applies the pipeline's earlier steps to input (the identity for a
        bare estimator).
    """
    where = f"{os.fspath(path)!r}" if path is not None else "the model"
    estimator, transform = model, (lambda X: X)
    if isinstance(model, Pipeline):
        estimator = model[-1]
        if len(model) > 1:
            transform = model[:-1].transform
    if not hasattr(estimator, "spike_stats"):
        raise CommandError(f"{where} holds a {type(estimator).__name__}, not an snnsk spiking "
                           f"estimator")
    return estimator, transform
