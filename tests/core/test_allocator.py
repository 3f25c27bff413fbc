"""glibc's malloc thresholds for training (snnsk.core._allocator)."""

import platform

import pytest

from snnsk.core import _allocator


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt thresholds exist only in glibc")
def test_thresholds_apply_on_glibc():
    assert _allocator._apply() is True
    assert _allocator.keep_freed_memory() is True


def test_environment_leaves_malloc_alone(monkeypatch):
    monkeypatch.setenv("SNNSK_KEEP_FREED_MEMORY", "0")
    assert _allocator._apply() is False


def test_fit_applies_it(monkeypatch):
    import numpy as np

    from snnsk import SpikingMLPClassifier

    calls = []
    monkeypatch.setattr("snnsk.estimators.base.keep_freed_memory", lambda: calls.append(1))
    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    SpikingMLPClassifier(hidden_layer_sizes=(4,), max_epochs=1).fit(X, np.arange(20) % 2)
    assert calls
