"""The cpu backend's output buffer pool."""

import numpy as np
import torch

from snnsk._backends.cpu import BufferPool
from snnsk.neurons import lif


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
