"""Keep freed memory mapped while training on the CPU (glibc's malloc).

PyTorch's CPU tensors come from ``malloc``. glibc serves blocks above a
threshold (128 KiB, rising to at most 32 MiB as such blocks are freed) with a
fresh ``mmap`` and returns them with ``munmap``, and it returns free memory at
the top of its heap to the system past a trim threshold. A training step
allocates and frees the same multi-megabyte activations every time, so each
step pays one page fault per 4 KiB page to get the memory back: at ``T = 4``
the spiking ViT's largest activations are 25 MiB, and the faults measured
5-13 % of its training step on a 2-core machine (its non-spiking twin, with
four times smaller tensors, did not change). :func:`keep_freed_memory`
raises both thresholds (blocks under 64 MiB from the heap; up to 256 MiB of
free heap kept), the effect jemalloc or tcmalloc would give. Larger blocks
(datasets) are still mapped and unmapped as before.

The setting is process-wide and stays: the estimators apply it at the first
fit. ``SNNSK_KEEP_FREED_MEMORY=0`` in the environment leaves malloc alone;
on other C libraries it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20
_applied = None


def keep_freed_memory() -> bool:
    """Apply the thresholds (once per process); whether they are in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get("SNNSK_KEEP_FREED_MEMORY", "1") == "0" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
