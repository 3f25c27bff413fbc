"""The cpu backend's output buffer pool and the kernels' column partition."""

import itertools

import numpy as np
import pytest
import torch

from snnsk.core.backends import cpu
from snnsk.core.backends.cpu import BufferPool
from snnsk.core.neurons import lif


def test_pool_reuses_a_buffer_only_once_nothing_references_it():
    pool = BufferPool(max_bytes=1 << 30, min_bytes=0)
    a = pool.empty((4, 1000), np.float32)
    a_ptr = a.data_ptr()
    view = a[1:]
    del a
    b = pool.empty((4, 1000), np.float32)  # the view still holds the first buffer
    assert b.data_ptr() != a_ptr
    del view
    c = pool.empty((4, 1000), np.float32)
    assert c.data_ptr() == a_ptr
    d = pool.empty((4, 1000), np.float64)  # another dtype never shares
    assert d.data_ptr() not in (a_ptr, b.data_ptr())


def test_pool_keeps_buffers_alive_for_autograd():
    pool_user = torch.randn(8, 40000, requires_grad=True)  # 1.28 MB: pooled
    s1 = lif(pool_user, backend="cpu")
    s2 = lif(pool_user * 2, backend="cpu")  # must not overwrite s1's saved H or spikes
    expected = lif(pool_user.detach(), backend="torch")
    assert torch.equal(s1, expected)
    (s1.sum() + s2.sum()).backward()
    g_cpu = pool_user.grad.clone()
    pool_user.grad = None
    (lif(pool_user, backend="torch").sum() + lif(pool_user * 2, backend="torch").sum()).backward()
    torch.testing.assert_close(g_cpu, pool_user.grad, rtol=1e-5, atol=1e-6)


def test_pool_evicts_beyond_its_budget():
    pool = BufferPool(max_bytes=3 * 4000, min_bytes=0)
    held = [pool.empty((1000,), np.float32) for _ in range(5)]
    assert sum(b.nbytes for b in pool._buffers) <= 3 * 4000
    assert len({t.data_ptr() for t in held}) == 5


# Small blocks, three column chunks and streaming stores forced on or off put every edge of
# the kernels' column partition (chunk and block bounds, short first tiles before a 64-byte
# boundary, partial last tiles, rows that start unaligned) into inputs of a few hundred columns.
EDGE_WIDTHS = [1, 15, 37, 300, 1031]
EDGE_OPTIONS = [dict(), dict(reset="soft", refractory=2, surrogate="sigmoid"),
                dict(refractory=1, surrogate="triangle", detach_reset=True),
                dict(v_reset=-0.3, decay_input=False, surrogate="fast_sigmoid")]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_partition_edges_and_streaming_stores_match_the_reference(monkeypatch, dtype, stream):
    monkeypatch.setattr(cpu, "BLOCK_BYTES", 200 * torch.finfo(dtype).bits // 8)  # 200 columns
    monkeypatch.setattr(cpu, "STREAM_MIN_BYTES", 0 if stream else 1 << 62)
    monkeypatch.setattr(cpu, "_partition", lambda n_elements: 3)  # chunks, whatever the threads
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    g = torch.Generator().manual_seed(5)
    for N, options in itertools.product(EDGE_WIDTHS, EDGE_OPTIONS):
        x = (0.9 + 0.9 * torch.randn(5, N, generator=g, dtype=torch.float64)).to(dtype)
        w = torch.randn(2, 5, N, generator=g, dtype=dtype)
        results = []
        for backend in ("cpu", "torch"):
            xg = x.clone().requires_grad_(True)
            s, v = lif(xg, backend=backend, return_v=True, **options)
            (gx,) = torch.autograd.grad((s * w[0]).sum() + (v * w[1]).sum(), xg)
            s_only = lif(xg, backend=backend, **options)  # h and the mask stored, v not
            (gs,) = torch.autograd.grad((s_only * w[0]).sum(), xg)
            with torch.no_grad():
                s_inference = lif(x, backend=backend, **options)
            results.append((s, v, gx, gs, s_inference))
        (s, v, gx, gs, si), (s_ref, v_ref, gx_ref, gs_ref, si_ref) = results
        where = f"N={N} {options}"
        assert torch.equal(s, s_ref) and torch.equal(v, v_ref) and torch.equal(si, si_ref), where
        torch.testing.assert_close(gx, gx_ref, **tol, msg=lambda m: f"{where}: {m}")
        torch.testing.assert_close(gs, gs_ref, **tol, msg=lambda m: f"{where}: {m}")


def test_pooled_buffers_start_on_a_page():
    pool = BufferPool(max_bytes=1 << 30, min_bytes=0)
    for shape in [(3, 1000), (7, 4099)]:
        for dtype in (np.float32, np.float64, np.uint8):
            t = pool.empty(shape, dtype)
            assert t.data_ptr() % 4096 == 0 and t.shape == shape and t.is_contiguous()


def test_vectorised_float32_exp_is_within_two_ulp_over_its_range():
    # the sigmoid surrogate's exp (cpu._exp32): against float64 exp, every float32
    # exponent from the clamp at -87 to 88, and the clamp itself beyond
    from numba import njit

    @njit
    def exp_all(z, out):
        for i in range(z.size):
            out[i] = cpu._exp(z[i])

    z = np.concatenate([np.linspace(-87, 88, 200_001), [-1e-30, 0.0, 1e-30]]).astype(np.float32)
    out = np.empty_like(z)
    exp_all(z, out)
    exact = np.exp(z.astype(np.float64))
    assert np.max(np.abs(out - exact) / exact) < 2 * np.finfo(np.float32).eps
    assert out[-2] == 1.0
    beyond = np.array([-200.0, 200.0], np.float32)
    out = np.empty_like(beyond)
    exp_all(beyond, out)
    np.testing.assert_allclose(out, np.exp(np.array([-87.0, 88.0])).astype(np.float32), rtol=1e-6)
    # float64 keeps libm's exp (numba's libm, which can differ from numpy's by an ulp)
    z64 = np.linspace(-700, 700, 1001)
    out64 = np.empty_like(z64)
    exp_all(z64, out64)
    np.testing.assert_allclose(out64, np.exp(z64), rtol=4e-16, atol=0)


def test_a_repeated_input_keeps_one_step_not_the_potentials():
    """Direct encoding feeds the same current at every step (a stride-0 view): backward keeps
    that one step and recomputes the potentials, with the gradients of the copied input."""
    from snnsk.core.memory import saved_activation_bytes

    torch.manual_seed(0)
    z = (torch.randn(2, 3, 5) + 0.6).requires_grad_()
    grad = torch.randn(4, 2, 3, 5)

    def spikes_of(x):
        return lif(x, backend="cpu", tau=2.0, threshold=0.5, surrogate="sigmoid")

    repeated = spikes_of(z.unsqueeze(0).expand(4, -1, -1, -1))
    (repeated * grad).sum().backward()
    via_repeat = z.grad.clone()
    z.grad = None
    copied = spikes_of(z.unsqueeze(0).expand(4, -1, -1, -1).contiguous())
    (copied * grad).sum().backward()
    assert torch.equal(repeated, copied) and 0 < repeated.mean() < 1
    torch.testing.assert_close(via_repeat, z.grad, rtol=1e-6, atol=1e-7)
    step = 2 * 3 * 5 * 4  # bytes of one float32 step
    kept = saved_activation_bytes(lambda: spikes_of(z.unsqueeze(0).expand(4, -1, -1, -1)).sum(),
                                  compact=False)
    assert kept == step  # the potentials would be 4 steps
