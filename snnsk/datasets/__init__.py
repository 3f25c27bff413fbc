"""Datasets for the estimators.

The ``load_*`` and ``make_*`` functions work offline: they build their data
from files that ship with Python, scikit-learn or snnsk, generate it, or read
a file the user names. The ``fetch_*`` functions read public datasets from
``data_home`` (:func:`get_data_home`) and download them only when called with
``download=True``, the way scikit-learn's ``fetch_*`` functions do.

Text (for the language models)
------------------------------
* :func:`load_corpus` -- English prose documents extracted from the Python
  help text that ships with the interpreter (:mod:`pydoc_data.topics`).
* :func:`load_text` -- a user's own text file split into documents.

Sequences (for the sequence classifiers)
----------------------------------------
* :func:`load_sequential_digits` -- scikit-learn's digits as 64-step pixel
  sequences, optionally permuted (the small counterpart of sequential and
  permuted-sequential MNIST).
* :func:`make_listops` -- the Long Range Arena ListOps task, generated locally.

Events (for the vision transformers)
------------------------------------
* :func:`load_event_digits` -- the digits seen by a simulated event camera
  (DVS) during small saccades, as ON/OFF event frames.
* :func:`load_event_digit_recordings` -- the same camera's raw event lists
  (``x, y, t, p``), in the form tonic gives real recordings.

Real datasets
-------------
* :func:`load_idx`, :func:`fetch_mnist` -- MNIST and Fashion-MNIST from their
  idx-ubyte files.
* :func:`fetch_nmnist`, :func:`fetch_dvs_gesture`, :func:`fetch_shd` --
  N-MNIST, DVS128 Gesture and the Spiking Heidelberg Digits through tonic
  (``pip install 'snnsk[events]'``); :func:`write_nmnist` and :func:`write_shd`
  write recordings in N-MNIST's and SHD's file formats. Bin the events with
  :class:`snnsk.preprocessing.EventFrames`.
"""

from ._home import get_data_home
from .corpus import load_corpus, load_text
from .events import load_event_digit_recordings, load_event_digits
from .idx import fetch_mnist, load_idx
from .neuromorphic import fetch_dvs_gesture, fetch_nmnist, fetch_shd, write_nmnist, write_shd
from .sequences import LISTOPS_TOKENS, listops_to_string, load_sequential_digits, make_listops

__all__ = ["load_corpus", "load_text", "load_sequential_digits", "make_listops", "LISTOPS_TOKENS",
           "listops_to_string", "load_event_digits", "load_event_digit_recordings",
           "get_data_home", "load_idx", "fetch_mnist", "fetch_nmnist", "fetch_dvs_gesture",
           "fetch_shd", "write_nmnist", "write_shd"]
