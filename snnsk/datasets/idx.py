"""The MNIST family from its idx-ubyte files: a reader for the format and a ``fetch_*`` loader."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._home import download_file, get_data_home, not_found

__all__ = ["load_idx", "fetch_mnist"]

#: idx type codes (the third byte of the magic number) and the big-endian dtype they stand for
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"

_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# The official files are served gzipped; the checksums are those of the .gz files.
_KINDS = {
    "mnist": {
        "folder": "mnist",
        "mirrors": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "http://yann.lecun.com/exdb/mnist/"),
        "md5": {"train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c"},
        "target_names": [str(digit) for digit in range(10)],
        "title": "MNIST handwritten digits (LeCun, Cortes, Burges)",
    },
    "fashion": {
        "folder": "fashion_mnist",
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                    "data/fashion/"),
        "md5": {"train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310"},
        "target_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"],
        "title": "Fashion-MNIST (Xiao, Rasul, Vollgraf; Zalando Research)",
    },
}


def load_idx(path) -> np.ndarray:
    """Read one idx file (the format of MNIST and its relatives), gzipped or not.

    The format: two zero bytes, a type byte (``0x08`` uint8, ``0x09`` int8,
    ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), a
    byte with the number of dimensions, one big-endian 32-bit size per
    dimension, then the values in C order, big-endian.

    Parameters
    ----------
    path : str or path-like
        An ``*-idx?-ubyte`` file or its ``.gz``; a gzipped file is recognised
        by its content, not its name.

    Returns
    -------
    ndarray
        The array with the shape and type the header declares, in the
        machine's byte order.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is not an idx file (bad magic number), is truncated or has
        bytes beyond the data its header declares, or is a corrupt gzip
        stream. The message names the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx2-ubyte"
    >>> _ = path.write_bytes(bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> load_idx(path)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"idx file {path} does not exist")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip stream ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path} is not an idx file: it starts with {raw[:4].hex(' ') or 'nothing'}, not the "
            f"magic number 00 00 <type> <ndim> with type one of "
            f"{', '.join(f'{code:02x}' for code in _IDX_TYPES)}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header declares {ndim} dimensions "
                         f"({header} header bytes), but the file has {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[raw[2]]
    expected = header + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        problem = "is truncated" if len(raw) < expected else "has bytes beyond its data"
        raise ValueError(f"{path} {problem}: its header declares shape {shape} of {dtype.name} "
                         f"({expected} bytes with the header), but it has {len(raw)} bytes")
    values = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header)
    # a writable array in the machine's byte order (frombuffer's view is read-only)
    return values.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def fetch_mnist(kind: str = "mnist", *, subset: str = "train", data_home=None,
                download: bool = False, return_X_y: bool = False):
    """MNIST or Fashion-MNIST from their official idx files, the way scikit-learn fetches data.

    The four files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain or
    ``.gz``) are looked for in ``data_home/mnist/`` or
    ``data_home/fashion_mnist/``. Nothing is downloaded unless
    ``download=True``.

    Parameters
    ----------
    kind : {'mnist', 'fashion'}, default='mnist'
        The handwritten digits, or Zalando's clothing images (same format and
        sizes).
    subset : {'train', 'test', 'all'}, default='train'
        The official 60,000 training or 10,000 test images; ``'all'``: the
        training images followed by the test images.
    data_home : str, path-like or None, default=None
        The folder of the datasets; see :func:`get_data_home`.
    download : bool, default=False
        Download the missing ``.gz`` files from the official mirrors (with
        :mod:`urllib`, checksums verified) into the folder above. When
        ``False`` a missing file raises :class:`FileNotFoundError` saying
        where it was looked for.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : ndarray of shape (n, 28, 28), uint8
        The pixel values 0 to 255, as the files hold them: a quarter of the
        memory of float32 (47 MB for the training set instead of 188 MB). The
        estimators accept ``(n, H, W)`` images and convert them to float32,
        but do not rescale: divide by 255 for intensities in [0, 1].
    target : ndarray of shape (n,), int64
        The class, 0 to 9.
    Bunch
        With ``data``, ``target``, ``target_names`` (the class names),
        ``filenames`` (the files read) and ``DESCR``, when ``return_X_y`` is
        False.

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download`` is False.
    ValueError
        A file is not a valid idx file (see :func:`load_idx`), or the image
        and label files do not fit together.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    spec = _KINDS[kind]
    folder = get_data_home(data_home) / spec["folder"]
    parts = ("train", "test") if subset == "all" else (subset,)
    images, labels, filenames = [], [], []
    for part in parts:
        image_path, label_path = (_find(folder, name, spec, download) for name in _FILES[part])
        X, y = load_idx(image_path), load_idx(label_path)
        _check_pair(X, y, image_path, label_path)
        images.append(X)
        labels.append(y.astype(np.int64))
        filenames += [str(image_path), str(label_path)]
    data = images[0] if len(images) == 1 else np.concatenate(images)
    target = labels[0] if len(labels) == 1 else np.concatenate(labels)
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, target_names=list(spec["target_names"]),
                 filenames=filenames,
                 DESCR=f"{spec['title']}: {subset} subset, {len(data)} images of 28x28 uint8 "
                       f"pixels (0-255), labels 0-9; read from {folder}.")


def _find(folder: Path, name: str, spec, download: bool) -> Path:
    """The plain or gzipped file ``name`` in ``folder``, downloading the ``.gz`` if allowed."""
    candidates = [folder / name, folder / f"{name}.gz"]
    for path in candidates:
        if path.is_file():
            return path
    if not download:
        raise not_found(f"{name} ({spec['title']})", candidates,
                        f"download {name}.gz from {spec['mirrors'][0]}")
    return download_file([mirror + f"{name}.gz" for mirror in spec["mirrors"]],
                         folder / f"{name}.gz", spec["md5"][name])


def _check_pair(X, y, image_path, label_path):
    if X.ndim != 3 or X.dtype != np.uint8:
        raise ValueError(f"{image_path} holds {X.dtype.name} values of shape {X.shape}; "
                         f"images (n, height, width) of uint8 were expected")
    if y.ndim != 1 or y.dtype != np.uint8:
        raise ValueError(f"{label_path} holds {y.dtype.name} values of shape {y.shape}; "
                         f"labels (n,) of uint8 were expected")
    if len(X) != len(y):
        raise ValueError(f"{image_path} has {len(X)} images but {label_path} has {len(y)} labels")
    if len(y) and y.max() > 9:
        raise ValueError(f"{label_path} has label {int(y.max())}; the MNIST labels are 0 to 9")
