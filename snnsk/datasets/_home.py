"""Where the downloadable datasets live on disk, how they are downloaded, and the error for a
dataset that is not there -- shared by the image loaders and the event-camera loaders."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["get_data_home"]

_CHUNK = 1 << 20


def get_data_home(data_home=None) -> Path:
    """The folder the ``fetch_*`` loaders read their files from (and download into).

    Parameters
    ----------
    data_home : str, path-like or None, default=None
        ``None``: the ``SNNSK_DATA`` environment variable when set, else an
        ``snnsk`` folder inside scikit-learn's data home (the
        ``SCIKIT_LEARN_DATA`` environment variable, or ``~/scikit_learn_data``,
        as :func:`sklearn.datasets.get_data_home` has it). ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The folder. Unlike scikit-learn's function this does not create it: only
        a download does, so looking for a dataset that is not there leaves no
        empty folders behind.
    """
    if data_home is not None:
        return Path(os.fspath(data_home)).expanduser()
    env = os.environ.get("SNNSK_DATA")
    if env:
        return Path(env).expanduser()
    sklearn_home = os.environ.get("SCIKIT_LEARN_DATA", os.path.join("~", "scikit_learn_data"))
    return Path(sklearn_home).expanduser() / "snnsk"


def not_found(what: str, looked_for, how: str) -> FileNotFoundError:
    """The error for a dataset that is not on disk: what is missing, where it was looked for,
    and how to get it (``how`` says what ``download=True`` would fetch)."""
    places = "\n".join(f"  {path}" for path in looked_for)
    return FileNotFoundError(
        f"{what} not found; looked for:\n{places}\n"
        f"Pass download=True to {how}, or put the files there yourself. The folder is "
        f"data_home (default: the SNNSK_DATA environment variable, else "
        f"~/scikit_learn_data/snnsk).")


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(urls, destination: Path, md5: str) -> Path:
    """Download ``destination`` from the first of ``urls`` that serves it with checksum ``md5``.

    The file is written under a temporary name and renamed only once its checksum
    matches, so an interrupted download never leaves a file that looks complete.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    failures = []
    for url in urls:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "snnsk"})
            with urllib.request.urlopen(request, timeout=60) as response, open(partial, "wb") as out:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
        except (urllib.error.URLError, OSError) as err:
            failures.append(f"{url}: {err}")
            continue
        found = md5_of(partial)
        if found != md5:
            failures.append(f"{url}: checksum {found}, expected {md5}")
            continue
        os.replace(partial, destination)
        return destination
    partial.unlink(missing_ok=True)
    raise OSError(f"could not download {destination.name}:\n" + "\n".join(failures))
