"""The numba warm-up compiles exactly the kernels, and signatures, that the cpu backend calls."""

import itertools

import pytest
import torch

from snnsk.core.backends import cpu, cpu_warmup
from snnsk.core.neurons import lif


def test_warm_up_covers_every_variant_with_the_real_call_signatures():
    assert cpu_warmup.compile_forward() == 2 * 2**5
    assert cpu_warmup.compile_backward() == 2 * 4 * 2**3
    kernels = dict(cpu._KERNELS)  # one dispatcher per option set, one signature per dtype
    assert len(kernels) == 2**5 + 4 * 2**3
    assert all(len(kernel.signatures) == 2 for kernel in kernels.values())
    # the backend's own calls find those signatures: nothing new is compiled
    for dtype, reset, refractory, return_v in itertools.product(
            (torch.float32, torch.float64), ("hard", "soft"), (0, 2), (False, True)):
        x = torch.rand(5, 3, 7, dtype=dtype, requires_grad=True)
        spikes, v = lif(x, reset=reset, refractory=refractory, surrogate="triangle",
                        backend="cpu", return_v=True) if return_v else (
            lif(x, reset=reset, refractory=refractory, surrogate="triangle", backend="cpu"), None)
        loss = spikes.sum() + (v.sum() if v is not None else 0)
        loss.backward()
        with torch.no_grad():
            lif(x, reset=reset, refractory=refractory, backend="cpu")
    assert cpu._KERNELS == kernels
    new = {key: kernel.signatures for key, kernel in kernels.items()
           if len(kernel.signatures) != 2}
    assert not new, f"compiled again by the real calls: {new}"


def test_an_unknown_half_is_refused():
    with pytest.raises(KeyError):
        cpu_warmup.main(["sideways"])
