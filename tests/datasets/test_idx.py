"""load_idx and fetch_mnist on small idx files written here, byte by byte; no network."""

import doctest
import gzip
import hashlib
import struct
import urllib.request

import numpy as np
import pytest

import snnsk.datasets.idx
from snnsk.datasets import fetch_mnist, get_data_home, load_idx

REAL_URLOPEN = urllib.request.urlopen
TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array) -> bytes:
    """The idx encoding of ``array``, written out from the format's description."""
    array = np.asarray(array)
    header = bytes([0, 0, TYPE_CODES[array.dtype.type], array.ndim])
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the tests must not open a URL")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_doctests():
    result = doctest.testmod(snnsk.datasets.idx)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("dtype", list(TYPE_CODES), ids=lambda d: d.__name__)
@pytest.mark.parametrize("gzipped", [False, True])
def test_load_idx_reads_every_type_and_shape(tmp_path, dtype, gzipped):
    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)]:
        info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
        values = (rng.integers(info.min, info.max, size=shape, endpoint=True) if info
                  else rng.normal(size=shape) * 1e3).astype(dtype)
        data = idx_bytes(values)
        path = tmp_path / f"a-{len(shape)}.idx"
        path.write_bytes(gzip.compress(data) if gzipped else data)
        got = load_idx(path)
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.shape == shape
        np.testing.assert_array_equal(got, values)
        got[...] = 0                          # a writable copy, not a view of the bytes


def test_load_idx_known_bytes(tmp_path):
    # 2 int16 values, 258 and -2, big-endian after a 1-d header
    path = tmp_path / "known"
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]))
    np.testing.assert_array_equal(load_idx(path), [258, -2])
    # a .gz name is not needed: gzip is recognised by its content
    path.write_bytes(gzip.compress(path.read_bytes()))
    np.testing.assert_array_equal(load_idx(str(path)), [258, -2])


def test_load_idx_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(FileNotFoundError, match="nope-idx1-ubyte"):
        load_idx(missing)
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    cases = {
        "truncated": (good[:-1], "truncated"),
        "header-cut": (good[:9], "truncated: its header declares 2 dimensions"),
        "extra": (good + b"\0", "bytes beyond its data"),
        "magic": (b"\x01" + good[1:], "not an idx file"),
        "type": (good[:2] + b"\x07" + good[3:], "not an idx file"),
        "empty": (b"", "not an idx file: it starts with nothing"),
        "bad-gzip": (gzip.compress(good)[:-6], "corrupt or truncated gzip"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / f"{name}-idx3-ubyte"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=message) as err:
            load_idx(path)
        assert str(path) in str(err.value)


# ---------------------------------------------------------------------------
# fetch_mnist
# ---------------------------------------------------------------------------

IMAGES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
LABELS = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}


def write_mnist(folder, n_train=6, n_test=4, gzipped=("train",)):
    """Small MNIST-format files: images whose every pixel is its index, labels i % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for part, n in (("train", n_train), ("test", n_test)):
        offset = 0 if part == "train" else 100
        X = np.broadcast_to((offset + np.arange(n, dtype=np.uint8))[:, None, None],
                            (n, 28, 28)).copy()
        y = ((offset + np.arange(n)) % 10).astype(np.uint8)
        for name, values in ((IMAGES[part], X), (LABELS[part], y)):
            data = idx_bytes(values)
            if part in gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        arrays[part] = X, y
    return arrays


def test_fetch_mnist_subsets_and_bunch(tmp_path):
    arrays = write_mnist(tmp_path / "mnist")          # train gzipped, test plain
    bunch = fetch_mnist(data_home=tmp_path)
    assert bunch.data.dtype == np.uint8 and bunch.data.shape == (6, 28, 28)
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.data, arrays["train"][0])
    np.testing.assert_array_equal(bunch.target, arrays["train"][1])
    assert bunch.target_names == [str(d) for d in range(10)]
    assert [p.rsplit("/", 1)[-1] for p in bunch.filenames] == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert "MNIST" in bunch.DESCR
    X, y = fetch_mnist(subset="test", data_home=tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X, arrays["test"][0])
    np.testing.assert_array_equal(y, arrays["test"][1])
    X_all, y_all = fetch_mnist(subset="all", data_home=tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X_all, np.concatenate([arrays["train"][0], X]))
    np.testing.assert_array_equal(y_all, np.concatenate([arrays["train"][1], y]))


def test_fetch_fashion_reads_its_own_folder(tmp_path):
    write_mnist(tmp_path / "fashion_mnist", n_train=3, gzipped=())
    bunch = fetch_mnist("fashion", data_home=tmp_path)
    assert len(bunch.data) == 3 and bunch.target_names[9] == "Ankle boot"
    with pytest.raises(FileNotFoundError):       # not the MNIST folder
        fetch_mnist("mnist", data_home=tmp_path)


def test_fetch_mnist_missing_file_says_where_and_how_without_downloading(tmp_path):
    home = tmp_path / "nothing-here"
    with pytest.raises(FileNotFoundError) as err:
        fetch_mnist(data_home=home)
    message = str(err.value)
    assert str(home / "mnist" / "train-images-idx3-ubyte") in message
    assert str(home / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert "download=True" in message and "ossci-datasets" in message
    assert not home.exists()                   # looking does not create folders


def test_fetch_mnist_files_that_do_not_fit_together(tmp_path):
    folder = tmp_path / "mnist"
    write_mnist(folder, gzipped=())
    (folder / LABELS["train"]).write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match="has 6 images but .*train-labels-idx1-ubyte has 5"):
        fetch_mnist(data_home=tmp_path)
    (folder / LABELS["train"]).write_bytes(idx_bytes(np.full(6, 12, np.uint8)))
    with pytest.raises(ValueError, match="label 12"):
        fetch_mnist(data_home=tmp_path)
    (folder / IMAGES["train"]).write_bytes(idx_bytes(np.zeros((6, 28, 28), np.float32)))
    with pytest.raises(ValueError, match="float32 .*images .* of uint8 were expected"):
        fetch_mnist(data_home=tmp_path)


@pytest.mark.parametrize("kwargs, message", [(dict(kind="kmnist"), "kind"),
                                             (dict(subset="validation"), "subset")])
def test_fetch_mnist_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fetch_mnist(data_home=tmp_path, **kwargs)


def test_fetch_mnist_download_from_a_mirror(tmp_path, monkeypatch):
    """download=True with the mirrors pointed at a local folder (file:// URLs): the first
    mirror lacks the files, the second has them; checksums are verified."""
    served = tmp_path / "mirror"
    write_mnist(served, gzipped=("train", "test"))
    md5 = {name: hashlib.md5((served / f"{name}.gz").read_bytes()).hexdigest()
           for name in (*IMAGES.values(), *LABELS.values())}
    spec = dict(snnsk.datasets.idx._KINDS["mnist"],
                mirrors=((tmp_path / "empty").as_uri() + "/", served.as_uri() + "/"), md5=md5)
    monkeypatch.setitem(snnsk.datasets.idx._KINDS, "mnist", spec)
    opened = []

    def local_only(request, *args, **kwargs):
        url = request.full_url
        assert url.startswith("file://")
        opened.append(url)
        return REAL_URLOPEN(request, *args, **kwargs)
    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    home = tmp_path / "home"
    X, y = fetch_mnist(data_home=home, download=True, return_X_y=True)
    assert X.shape == (6, 28, 28) and y.tolist() == list(range(6))
    assert sorted(p.name for p in (home / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert len(opened) == 4                    # two files, each tried on both mirrors
    # a checksum that does not match: no file is left behind, the error says why
    spec["md5"] = dict(md5, **{IMAGES["test"]: "0" * 32})
    with pytest.raises(OSError, match="checksum"):
        fetch_mnist(subset="test", data_home=home, download=True)
    assert not (home / "mnist" / f"{IMAGES['test']}.gz").exists()
    assert not list((home / "mnist").glob("*.part"))


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SNNSK_DATA", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert get_data_home() == tmp_path / "sk" / "snnsk"
    monkeypatch.setenv("SNNSK_DATA", str(tmp_path / "mine"))
    assert get_data_home() == tmp_path / "mine"
    assert get_data_home(tmp_path / "given") == tmp_path / "given"
    assert not (tmp_path / "mine").exists()
    write_mnist(tmp_path / "mine" / "mnist", n_train=2)
    assert len(fetch_mnist().data) == 2         # the environment variable is the default
