"""The multi-step LIF neuron: hand-computed dynamics, backend agreement,
hand-computed gradients, agreement with SpikingJelly, validation, the module.

Conventions (ALGORITHMS.md §1), with V[-1] = v_reset:
    decay_input=True : H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau
    decay_input=False: H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]
    S[t] = 1 if H[t] >= threshold
    hard: V[t] = v_reset if S[t] else H[t];  soft: V[t] = H[t] - threshold * S[t]
Inputs in the hand-computed cases are dyadic fractions, so every value below is
exact in float32 and the traces are compared with ``==``.
"""

import itertools
import math
import pickle

import pytest
import torch
from torch import nn

from snnsk.core.backends import resolve_backend
from snnsk.core.neurons import LIF, NeuronConfig, lif, set_neuron_params, spiking_layers
from snnsk.core.surrogate import ATan, Sigmoid, Surrogate

BACKENDS = ["torch", "cpu"]
DTYPES = [torch.float32, torch.float64]


def _const(value, T, dtype=torch.float32):
    """A constant input of T steps for one neuron, shape [T, 1]."""
    return torch.full((T, 1), float(value), dtype=dtype)


def _flat(t):
    return t.flatten().tolist()


# ---------------------------------------------------------------------------
# Spike trains computed by hand, both backends
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
class TestHandComputed:
    def test_constant_input_hard_reset(self, backend, dtype):
        # tau=2, threshold=1, v_reset=0, x=1.5:
        # t0: H = 0 + (1.5 - 0)/2 = 0.75 < 1      -> S=0, V=0.75
        # t1: H = 0.75 + (1.5 - 0.75)/2 = 1.125   -> S=1, V=0 (hard reset)
        # t2: back to the state of t0: H = 0.75   -> S=0 ... period 2
        s, v = lif(_const(1.5, 8, dtype), tau=2.0, backend=backend, return_v=True)
        assert s.dtype == dtype and s.shape == (8, 1)
        assert _flat(s) == [0, 1, 0, 1, 0, 1, 0, 1]
        assert _flat(v) == [0.75, 0, 0.75, 0, 0.75, 0, 0.75, 0]

    def test_constant_input_soft_reset_keeps_residual(self, backend, dtype):
        # soft reset subtracts the threshold and keeps what was above it:
        # t0: H = 0 + (1.5 - 0)/2         = 0.75     -> S=0, V=0.75
        # t1: H = 0.75 + (1.5 - 0.75)/2   = 1.125    -> S=1, V=0.125
        # t2: H = 0.125 + (1.5 - 0.125)/2 = 0.8125   -> S=0, V=0.8125
        # t3: H = 0.8125 + 0.6875/2       = 1.15625  -> S=1, V=0.15625
        # t4: H = 0.15625 + 1.34375/2     = 0.828125 -> S=0, V=0.828125
        # t5: H = 0.828125 + 0.671875/2   = 1.1640625 -> S=1, V=0.1640625
        s, v = lif(_const(1.5, 6, dtype), reset="soft", backend=backend, return_v=True)
        assert _flat(s) == [0, 1, 0, 1, 0, 1]
        assert _flat(v) == [0.75, 0.125, 0.8125, 0.15625, 0.828125, 0.1640625]

    def test_refractory_blocks_firing_hard_reset(self, backend, dtype):
        # x=4, tau=2: H = 0 + (4 - 0)/2 = 2 >= 1, so without refractory the
        # neuron fires at every step (V resets to 0, next H is 2 again).
        assert _flat(lif(_const(4.0, 7, dtype), backend=backend)) == [1] * 7
        # refractory=2: after each spike two held steps (V stays 0, no spike).
        s, v = lif(_const(4.0, 7, dtype), refractory=2, backend=backend, return_v=True)
        assert _flat(s) == [1, 0, 0, 1, 0, 0, 1]
        assert _flat(v) == [0] * 7
        # refractory=1 with x=1.5 (period-2 train without it):
        # t0: H=0.75 S=0; t1: H=1.125 S=1, V=0; t2: held, V=0;
        # t3: H = 0 + 1.5/2 = 0.75 S=0; t4: H=1.125 S=1; t5 held; t6 0.75; t7 1.125 S=1
        s = lif(_const(1.5, 8, dtype), refractory=1, backend=backend)
        assert _flat(s) == [0, 1, 0, 0, 1, 0, 0, 1]

    def test_refractory_holds_post_reset_potential_soft(self, backend, dtype):
        # soft reset, x=4, tau=2, refractory=2; a held neuron keeps V and does
        # not fire even though its held potential is at threshold.
        # t0: H = 0 + 4/2 = 2          -> S=1, V = 2 - 1 = 1
        # t1, t2: held                  -> S=0, V = 1   (V >= threshold, still no spike)
        # t3: H = 1 + (4 - 1)/2 = 2.5   -> S=1, V = 1.5
        # t4, t5: held                  -> S=0, V = 1.5
        # t6: H = 1.5 + 2.5/2 = 2.75    -> S=1, V = 1.75
        s, v = lif(_const(4.0, 7, dtype), reset="soft", refractory=2, backend=backend,
                   return_v=True)
        assert _flat(s) == [1, 0, 0, 1, 0, 0, 1]
        assert _flat(v) == [1, 1, 1, 1.5, 1.5, 1.5, 1.75]

    def test_refractory_ignores_input(self, backend, dtype):
        # hard reset, refractory=2; a huge input during the held steps changes nothing.
        # t0: H = 0 + 4/2 = 2 -> S=1, V=0;  t1, t2 held (input 100 and -100 ignored), V=0
        # t3: H = 0 + 1/2 = 0.5 -> S=0, V=0.5
        x = torch.tensor([[4.0], [100.0], [-100.0], [1.0]], dtype=dtype)
        s, v = lif(x, refractory=2, backend=backend, return_v=True)
        assert _flat(s) == [1, 0, 0, 0]
        assert _flat(v) == [0, 0, 0, 0.5]

    def test_decay_input_false(self, backend, dtype):
        # H = V - (V - 0)/2 + X, x=0.625:
        # t0: H = 0 - 0 + 0.625              = 0.625   -> S=0
        # t1: H = 0.625 - 0.3125 + 0.625     = 0.9375  -> S=0
        # t2: H = 0.9375 - 0.46875 + 0.625   = 1.09375 -> S=1, V=0
        # then it repeats (period 3)
        s, v = lif(_const(0.625, 6, dtype), decay_input=False, backend=backend, return_v=True)
        assert _flat(s) == [0, 0, 1, 0, 0, 1]
        assert _flat(v) == [0.625, 0.9375, 0, 0.625, 0.9375, 0]
        # with decay_input=True the same input only drives V towards 0.625: never fires
        # (H = 0.3125, 0.46875, 0.546875, ...)
        s, v = lif(_const(0.625, 3, dtype), decay_input=True, backend=backend, return_v=True)
        assert _flat(s) == [0, 0, 0]
        assert _flat(v) == [0.3125, 0.46875, 0.546875]

    def test_v_reset_nonzero_hard(self, backend, dtype):
        # v_reset=-0.5 is both the start, the leak target and the reset value; x=2:
        # t0: H = -0.5 + (2 - (-0.5 + 0.5))/2 = 0.5              -> S=0, V=0.5
        # t1: H = 0.5 + (2 - (0.5 + 0.5))/2   = 1.0 (= threshold) -> S=1, V=-0.5
        # and it repeats (period 2); also checks Θ(0) = 1
        s, v = lif(_const(2.0, 4, dtype), v_reset=-0.5, backend=backend, return_v=True)
        assert _flat(s) == [0, 1, 0, 1]
        assert _flat(v) == [0.5, -0.5, 0.5, -0.5]

    def test_v_reset_nonzero_soft(self, backend, dtype):
        # soft reset with resting potential -0.5, x=2:
        # t0: H = -0.5 + (2 - 0)/2            = 0.5   -> S=0, V=0.5
        # t1: H = 0.5 + (2 - 1)/2             = 1.0   -> S=1, V=0.0
        # t2: H = 0 + (2 - 0.5)/2             = 0.75  -> S=0, V=0.75
        # t3: H = 0.75 + (2 - 1.25)/2         = 1.125 -> S=1, V=0.125
        s, v = lif(_const(2.0, 4, dtype), v_reset=-0.5, reset="soft", backend=backend,
                   return_v=True)
        assert _flat(s) == [0, 1, 0, 1]
        assert _flat(v) == [0.5, 0.0, 0.75, 0.125]

    def test_tau_threshold_and_return_v_trace(self, backend, dtype):
        # tau=4, threshold=0.5, x=1: H = V + (1 - V)/4
        # t0: H = 0.25                    -> S=0, V=0.25
        # t1: H = 0.25 + 0.75/4 = 0.4375  -> S=0, V=0.4375
        # t2: H = 0.4375 + 0.5625/4 = 0.578125 -> S=1, V=0
        s, v = lif(_const(1.0, 4, dtype), tau=4.0, threshold=0.5, backend=backend,
                   return_v=True)
        assert _flat(s) == [0, 0, 1, 0]
        assert _flat(v) == [0.25, 0.4375, 0.0, 0.25]
        # tau=1 means no memory: H = X
        s, v = lif(torch.tensor([[0.5], [1.0], [0.99], [3.0]], dtype=dtype), tau=1.0,
                   backend=backend, return_v=True)
        assert _flat(s) == [0, 1, 0, 1]
        assert _flat(v) == [0.5, 0.0, torch.tensor(0.99, dtype=dtype).item(), 0.0]

    def test_independent_neurons_and_shape(self, backend, dtype):
        # neurons are independent: three columns with the traces of above.
        x = torch.tensor([[1.5, 4.0, 0.25]], dtype=dtype).expand(4, 3).reshape(4, 1, 3)
        s = lif(x, backend=backend)
        assert s.shape == (4, 1, 3)
        assert s[:, 0, 0].tolist() == [0, 1, 0, 1]
        assert s[:, 0, 1].tolist() == [1, 1, 1, 1]
        assert s[:, 0, 2].tolist() == [0, 0, 0, 0]
        # 1-D input [T] is T steps of a single neuron
        assert _flat(lif(torch.full((4,), 1.5, dtype=dtype), backend=backend)) == [0, 1, 0, 1]


# ---------------------------------------------------------------------------
# The cpu backend against the torch reference
# ---------------------------------------------------------------------------

SURROGATE_NAMES = ["atan", "sigmoid", "fast_sigmoid", "triangle"]
OPTION_SETS = list(itertools.product(["hard", "soft"], SURROGATE_NAMES, [0, 2], [False, True],
                                     [True, False]))
# scalar parameters rotate over the option sets: (tau, threshold, v_reset, alpha)
SCALARS = [(2.0, 1.0, 0.0, None), (3.0, 0.7, -0.3, 1.5), (1.5, 1.2, 0.2, 3.0)]
SHAPES = [(3, 37), (1031,)]  # odd N, and N > kernel block (512) and not a multiple of it
TOLERANCE = {torch.float64: dict(rtol=1e-10, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-6)}


def _input(T, shape, dtype, threshold, v_reset, tau, decay_input, seed):
    """Random input that makes a neuron fire at roughly a third of its steps."""
    g = torch.Generator().manual_seed(seed)
    gap = threshold - v_reset  # what H must climb above rest to fire
    scale = 1.0 if decay_input else 1.0 / tau
    x = gap * scale * (0.9 + 0.9 * torch.randn((T, *shape), generator=g, dtype=torch.float64))
    return x.to(dtype)


def _run(x, backend, params, loss_mode, weights):
    """Spikes, v and dL/dx for one backend.

    loss_mode: 's' (spikes, no v returned), 's+v' (v returned but unused), 'sv' (both), 'v'.
    """
    x = x.detach().clone().requires_grad_(True)
    return_v = loss_mode != "s"
    out = lif(x, backend=backend, return_v=return_v, **params)
    s, v = out if return_v else (out, None)
    loss = 0
    if "s" in loss_mode:
        loss = loss + (s * weights[0]).sum()
    if loss_mode in ("sv", "v"):
        loss = loss + (v * weights[1]).sum()
    (gx,) = torch.autograd.grad(loss, x)
    return s, v, gx


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "reset,surrogate,refractory,detach_reset,decay_input", OPTION_SETS,
    ids=["-".join(map(str, o)) for o in OPTION_SETS])
def test_cpu_backend_matches_torch_reference(reset, surrogate, refractory, detach_reset,
                                             decay_input, dtype):
    index = OPTION_SETS.index((reset, surrogate, refractory, detach_reset, decay_input))
    tau, threshold, v_reset, alpha = SCALARS[index % len(SCALARS)]
    params = dict(tau=tau, threshold=threshold, reset=reset, v_reset=v_reset,
                  refractory=refractory, surrogate=surrogate, alpha=alpha,
                  decay_input=decay_input, detach_reset=detach_reset)
    tol = TOLERANCE[dtype]
    for T, shape in itertools.product([1, 4, 16], SHAPES):
        seed = 1000 * index + 10 * T + len(shape)
        x = _input(T, shape, dtype, threshold, v_reset, tau, decay_input, seed)
        g = torch.Generator().manual_seed(seed + 1)
        weights = [torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype)
                   for _ in range(2)]
        for loss_mode in ("s", "s+v", "sv", "v"):
            where = f"T={T} shape={shape} loss={loss_mode}"
            s_ref, v_ref, gx_ref = _run(x, "torch", params, loss_mode, weights)
            s_cpu, v_cpu, gx_cpu = _run(x, "cpu", params, loss_mode, weights)
            assert s_cpu.dtype == dtype and s_cpu.shape == x.shape
            assert torch.equal(s_cpu, s_ref), f"spikes differ ({where})"
            if loss_mode != "s":
                assert torch.equal(v_cpu, v_ref), f"membrane potentials differ ({where})"
            torch.testing.assert_close(gx_cpu, gx_ref, **tol, msg=lambda m: f"{where}: {m}")
        if T == 16:  # the random input exercises both outcomes
            assert 0.05 < s_ref.mean().item() < 0.95


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reset,refractory", [("hard", 2), ("soft", 0)])
def test_cpu_backend_matches_torch_on_the_multithreaded_path(reset, refractory, dtype):
    # small inputs run single-threaded (cpu.PARALLEL_MIN_ELEMENTS = 2**18); this one is
    # above that, with N = 2**17 + 37 (not a multiple of the 512 block), so the blocks are
    # shared among the threads torch allows.
    T, N = 2, 2**17 + 37
    params = dict(reset=reset, refractory=refractory, surrogate="sigmoid", tau=2.0)
    x = _input(T, (N,), dtype, 1.0, 0.0, 2.0, True, seed=11)
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(12), dtype=dtype)
    s_ref, v_ref, gx_ref = _run(x, "torch", params, "sv", (w, w))
    s_cpu, v_cpu, gx_cpu = _run(x, "cpu", params, "sv", (w, w))
    assert torch.equal(s_cpu, s_ref) and torch.equal(v_cpu, v_ref)
    torch.testing.assert_close(gx_cpu, gx_ref, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_cpu_backend_non_contiguous_and_no_grad(dtype):
    x = _input(8, (37, 5), dtype, 1.0, 0.0, 2.0, True, seed=7).transpose(1, 2)
    assert not x.is_contiguous()
    assert torch.equal(lif(x, backend="cpu"), lif(x, backend="torch"))
    # no graph: input without grad, and a grad input under no_grad
    xg = x.clone().requires_grad_(True)
    with torch.no_grad():
        s = lif(xg, backend="cpu")
    assert not s.requires_grad
    assert not lif(x, backend="cpu").requires_grad
    # gradient with respect to a non-contiguous input has the input's shape
    (gx,) = torch.autograd.grad(lif(xg, backend="cpu").sum(), xg)
    (gx_ref,) = torch.autograd.grad(lif(xg, backend="torch").sum(), xg)
    assert gx.shape == x.shape
    torch.testing.assert_close(gx, gx_ref, **TOLERANCE[dtype])


@pytest.mark.parametrize("refractory", [0, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_input_propagates_to_the_gradient(backend, refractory):
    # a NaN input poisons V from that step on; the reference's gradient is NaN everywhere
    x = torch.tensor([[0.5], [float("nan")], [3.0], [0.5]], requires_grad=True)
    s, v = lif(x, refractory=refractory, backend=backend, return_v=True)
    assert _flat(s) == [0, 0, 0, 0]
    assert torch.isnan(v[1:]).all()
    (s.sum() + v.sum()).backward()
    assert torch.isnan(x.grad).all(), x.grad.flatten().tolist()


def test_auto_backend_picks_cpu_kernel_on_cpu_float():
    p = NeuronConfig()
    assert resolve_backend(torch.zeros(2, 3), p) == "cpu"
    assert resolve_backend(torch.zeros(2, 3, dtype=torch.float64), p) == "cpu"
    assert resolve_backend(torch.zeros(2, 3, dtype=torch.float16), p) == "torch"
    assert resolve_backend(torch.zeros(2, 3, dtype=torch.bfloat16), p) == "torch"


def test_auto_backend_warns_when_numba_is_unusable(monkeypatch):
    # a dtype the kernels lack falls back silently (above); a machine without numba is announced
    from snnsk.core.backends import cpu

    monkeypatch.setattr(cpu, "numba", None)
    monkeypatch.setattr(cpu, "NUMBA_ERROR", ImportError("no module named numba"))
    with pytest.warns(RuntimeWarning, match=r"runs the torch reference .* 'cpu' backend is not "
                                            r"usable here: numba could not be imported"):
        assert resolve_backend(torch.zeros(2, 3), NeuronConfig()) == "torch"
    with pytest.raises(RuntimeError, match="numba could not be imported"):
        resolve_backend(torch.zeros(2, 3), NeuronConfig(backend="cpu"))


# ---------------------------------------------------------------------------
# The torch reference's gradient, by hand (T=2, one neuron, atan with alpha=2)
# ---------------------------------------------------------------------------


def _g(u):
    # atan surrogate, alpha=2: alpha / (2 (1 + (pi alpha u / 2)^2)) = 1 / (1 + (pi u)^2)
    return 1.0 / (1.0 + (math.pi * u) ** 2)


# L = a S[0] + b S[1] + c V[1]
A, B, C = 0.7, 1.3, -0.4


def _hand_case(name):
    """(lif kwargs, x, expected dL/dx) for a hand-computed T=2 case."""
    if name == "hard":
        # tau=2, threshold=1, v_reset=0, decay_input=True, x=[3, 1]
        # H0 = 3/2 = 1.5 -> S0=1, V0=0;  H1 = 0 + (1 - 0)/2 = 0.5 -> S1=0, V1 = H1 = 0.5
        # dV1/dH1 = (1 - S1) + (v_reset - H1) g(H1 - 1) = 1 - 0.5 g(-0.5)
        # dL/dH1  = b g(-0.5) + c (1 - 0.5 g(-0.5));     dL/dX1 = dL/dH1 / tau
        # dL/dV0  = dL/dH1 * dH1/dV0 = dL/dH1 (1 - 1/tau)
        # dV0/dH0 = (1 - S0) + (v_reset - H0) g(H0 - 1) = -1.5 g(0.5)
        # dL/dH0  = a g(0.5) + dL/dV0 dV0/dH0;           dL/dX0 = dL/dH0 / tau
        dh1 = B * _g(-0.5) + C * (1 - 0.5 * _g(-0.5))
        dh0 = A * _g(0.5) + dh1 * 0.5 * (-1.5 * _g(0.5))
        return dict(reset="hard"), [3.0, 1.0], [dh0 / 2, dh1 / 2]
    if name == "hard_detach":
        # as "hard" but the reset carries no gradient through S:
        # dV1/dH1 = 1 - S1 = 1;  dV0/dH0 = 1 - S0 = 0
        dh1 = B * _g(-0.5) + C * 1.0
        dh0 = A * _g(0.5) + dh1 * 0.5 * 0.0
        return dict(reset="hard", detach_reset=True), [3.0, 1.0], [dh0 / 2, dh1 / 2]
    if name == "soft_no_decay_input":
        # soft reset, decay_input=False: H = V - V/2 + X (dH/dX = 1, dH/dV = 1/2), x=[1.5, 0.5]
        # H0 = 1.5 -> S0=1, V0 = 0.5;  H1 = 0.5 - 0.25 + 0.5 = 0.75 -> S1=0, V1 = 0.75
        # dV/dH = 1 - threshold g(H - 1)
        # dL/dH1 = b g(-0.25) + c (1 - g(-0.25));  dL/dX1 = dL/dH1
        # dL/dH0 = a g(0.5) + dL/dH1 * 1/2 * (1 - g(0.5));  dL/dX0 = dL/dH0
        dh1 = B * _g(-0.25) + C * (1 - _g(-0.25))
        dh0 = A * _g(0.5) + dh1 * 0.5 * (1 - _g(0.5))
        return dict(reset="soft", decay_input=False), [1.5, 0.5], [dh0, dh1]
    if name == "refractory":
        # hard, refractory=1, x=[3, 1]: S0=1, V0=0, step 1 is held: H1 = V0 = 0, S1=0, V1=0
        # the held step ignores its input and cannot fire: dL/dX1 = 0;
        # dV1/dV0 = 1 (held), so dL/dV0 = c, and dV0/dH0 = -1.5 g(0.5) as in "hard"
        dh0 = A * _g(0.5) + C * (-1.5 * _g(0.5))
        return dict(reset="hard", refractory=1), [3.0, 1.0], [dh0 / 2, 0.0]
    raise KeyError(name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["hard", "hard_detach", "soft_no_decay_input", "refractory"])
def test_gradient_by_hand(case, backend):
    kwargs, x_values, expected = _hand_case(case)
    x = torch.tensor(x_values, dtype=torch.float64).reshape(2, 1).requires_grad_(True)
    s, v = lif(x, surrogate="atan", backend=backend, return_v=True, **kwargs)
    (A * s[0] + B * s[1] + C * v[1]).sum().backward()
    torch.testing.assert_close(x.grad.flatten(), torch.tensor(expected, dtype=torch.float64),
                               rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# Agreement with SpikingJelly 2.0's multi-step LIFNode
# ---------------------------------------------------------------------------

SJ_SETTINGS = list(itertools.product(["hard", "soft"], ["sigmoid", "atan"], [False, True],
                                     [True, False]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reset,surrogate,detach_reset,decay_input", SJ_SETTINGS,
                         ids=["-".join(map(str, o)) for o in SJ_SETTINGS])
def test_agrees_with_spikingjelly(reset, surrogate, detach_reset, decay_input, dtype):
    pytest.importorskip("spikingjelly.activation_based",
                        reason="spikingjelly (2.0) is not installed: no cross-library check")
    from spikingjelly.activation_based import functional as sj_functional
    from spikingjelly.activation_based import neuron as sj_neuron
    from spikingjelly.activation_based import surrogate as sj_surrogate

    sj_sg = sj_surrogate.Sigmoid(alpha=4.0) if surrogate == "sigmoid" else sj_surrogate.ATan(alpha=2.0)
    index = SJ_SETTINGS.index((reset, surrogate, detach_reset, decay_input))
    # SpikingJelly's soft reset has v_reset=None (rest 0); hard reset may use any v_reset
    tau, threshold, v_reset = [(2.0, 1.0, 0.0), (3.0, 0.8, -0.25)][index % 2]
    if reset == "soft":
        v_reset = 0.0
    node = sj_neuron.LIFNode(step_mode="m", tau=tau, decay_input=decay_input,
                             v_threshold=threshold,
                             v_reset=None if reset == "soft" else v_reset,
                             detach_reset=detach_reset, surrogate_function=sj_sg)
    ours = dict(tau=tau, threshold=threshold, reset=reset, v_reset=v_reset,
                surrogate=surrogate, decay_input=decay_input, detach_reset=detach_reset)
    tol = TOLERANCE[dtype]
    for T, shape in [(1, (3, 37)), (8, (3, 37)), (16, (1031,))]:
        x = _input(T, shape, dtype, threshold, v_reset, tau, decay_input, seed=index + T)
        w = torch.randn(x.shape, generator=torch.Generator().manual_seed(T), dtype=dtype)
        xs = x.clone().requires_grad_(True)
        sj_functional.reset_net(node)
        s_sj = node(xs)
        (gx_sj,) = torch.autograd.grad((s_sj * w).sum(), xs)
        for backend in BACKENDS:
            xo = x.clone().requires_grad_(True)
            s = lif(xo, backend=backend, **ours)
            (gx,) = torch.autograd.grad((s * w).sum(), xo)
            where = f"{backend} T={T} shape={shape}"
            assert torch.equal(s, s_sj.to(dtype)), f"spikes differ from SpikingJelly ({where})"
            torch.testing.assert_close(gx, gx_sj.to(dtype), **tol, msg=lambda m: f"{where}: {m}")


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

X = torch.zeros(3, 4)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(threshold=0.0), ValueError, "threshold"),
    (dict(threshold=-1.0), ValueError, "threshold"),
    (dict(threshold="1"), TypeError, "threshold"),
    (dict(tau=0.5), ValueError, "tau"),
    (dict(tau=float("nan")), ValueError, "tau"),
    (dict(tau=None), TypeError, "tau"),
    (dict(reset="zero"), ValueError, "reset"),
    (dict(reset=None), ValueError, "reset"),
    (dict(refractory=-1), ValueError, "refractory"),
    (dict(refractory=1.5), ValueError, "refractory"),
    (dict(refractory=True), ValueError, "refractory"),
    (dict(v_reset=1.0), ValueError, "v_reset"),
    (dict(v_reset=float("inf")), ValueError, "v_reset"),
    (dict(surrogate="relu"), ValueError, "surrogate"),
    (dict(surrogate=3), TypeError, "surrogate"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha="sharp"), TypeError, "alpha"),
    (dict(decay_input=1), TypeError, "decay_input"),
    (dict(detach_reset="no"), TypeError, "detach_reset"),
    (dict(backend="gpu"), ValueError, "backend"),
    (dict(backend=None), ValueError, "backend"),
])
def test_bad_parameters_raise_naming_the_parameter(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        lif(X, **kwargs)
    with pytest.raises(exc, match=match):  # the module validates at construction
        LIF(**kwargs)


@pytest.mark.parametrize("x,exc,match", [
    ([[1.0, 2.0]], TypeError, "x must be a torch.Tensor"),
    (None, TypeError, "x must be a torch.Tensor"),
    (torch.zeros(3, 4, dtype=torch.int64), TypeError, "x must be a floating-point"),
    (torch.zeros(3, 4, dtype=torch.bool), TypeError, "x must be a floating-point"),
    (torch.zeros(0, 4), ValueError, "x must have a non-empty leading time dimension"),
    (torch.tensor(1.0), ValueError, "x must have a non-empty leading time dimension"),
])
def test_bad_input_raises(x, exc, match):
    with pytest.raises(exc, match=match):
        lif(x)
    with pytest.raises(exc, match=match):
        LIF()(x)


def test_numpy_scalars_from_parameter_grids_are_accepted():
    import numpy as np

    # np.float64 is a float subclass; numpy integers count as integer step counts
    s = lif(_const(1.5, 4), tau=np.float64(2.0), threshold=np.float64(1.0),
            refractory=np.int64(0), alpha=np.float64(2.0))
    assert _flat(s) == [0, 1, 0, 1]


@pytest.mark.parametrize("kwargs", [dict(tau=2), dict(alpha=2)])
def test_numpy_integer_and_float32_scalars_are_accepted(kwargs):
    import numpy as np

    for cast in (np.int64, np.float32):
        lif(_const(1.5, 4), **{k: cast(v) for k, v in kwargs.items()})


def test_cpu_backend_on_float16_raises_with_cause_and_auto_falls_back():
    x = _const(1.5, 4, torch.float16)
    with pytest.raises(RuntimeError, match="'cpu'.*float32 and float64.*float16"):
        lif(x, backend="cpu")
    s = lif(x, backend="auto")
    assert s.dtype == torch.float16
    assert _flat(s) == [0, 1, 0, 1]
    # bfloat16 too, with gradient
    xb = _const(1.5, 4, torch.bfloat16).requires_grad_(True)
    lif(xb).sum().backward()
    assert xb.grad.dtype == torch.bfloat16 and torch.isfinite(xb.grad).all()


def test_cupy_backend_on_cpu_tensor_raises_with_cause():
    with pytest.raises(RuntimeError, match="'cupy'.*CUDA tensors.*cpu"):
        lif(_const(1.5, 4), backend="cupy")


class _Custom(Surrogate):
    """A user-defined surrogate (only the torch backend can run it)."""

    name = "atan"  # same name as a built-in, but not the built-in class
    default_alpha = 1.0

    def derivative(self, x):
        return torch.ones_like(x)


def test_custom_surrogate_runs_on_torch_and_is_refused_by_cpu():
    x = _const(1.5, 4).requires_grad_(True)
    with pytest.raises(RuntimeError, match="built-in surrogates"):
        lif(x, surrogate=_Custom(), backend="cpu")
    s = lif(x, surrogate=_Custom(), backend="auto", detach_reset=True)
    assert _flat(s) == [0, 1, 0, 1]
    s.sum().backward()
    # derivative 1 everywhere, detached hard reset, L = sum S, tau=2:
    # dL/dH[t] = 1 + dL/dV[t] (1 - S[t]);  dL/dV[t] = dL/dH[t+1] (1 - 1/tau);  dL/dX = dL/dH / tau
    # t3: dL/dH = 1                          -> dL/dX3 = 0.5
    # t2: S=0, dL/dV = 0.5, dL/dH = 1.5      -> dL/dX2 = 0.75
    # t1: S=1, dL/dV = 0.75, dL/dH = 1 + 0   -> dL/dX1 = 0.5
    # t0: S=0, dL/dV = 0.5, dL/dH = 1.5      -> dL/dX0 = 0.75
    assert _flat(x.grad) == [0.75, 0.5, 0.75, 0.5]


# ---------------------------------------------------------------------------
# The LIF module
# ---------------------------------------------------------------------------


def test_module_repr_lists_parameters():
    r = repr(LIF(tau=3.0, reset="soft", surrogate="sigmoid", refractory=2))
    assert r.startswith("LIF(NeuronConfig(")
    for part in ("tau=3.0", "threshold=1.0", "reset='soft'", "v_reset=0.0", "refractory=2",
                 "surrogate=Sigmoid(alpha=4)", "alpha=4.0", "decay_input=True",
                 "detach_reset=False", "backend='auto'"):
        assert part in r


@pytest.mark.parametrize("backend", BACKENDS)
def test_module_pickle_round_trip(backend):
    m = LIF(tau=3.0, threshold=0.8, reset="soft", surrogate=ATan(1.5), refractory=1,
            backend=backend, return_v=True, fixed=("threshold",))
    back = pickle.loads(pickle.dumps(m))
    assert type(back) is LIF
    assert back.neuron == m.neuron and back.neuron.surrogate == ATan(1.5)
    for name in ("return_v", "fixed"):
        assert getattr(back, name) == getattr(m, name), name
    x = _input(6, (2, 9), torch.float32, 0.8, 0.0, 3.0, True, seed=3)
    for a, b in zip(m(x), back(x)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_module_keeps_no_state_between_calls(backend):
    m = LIF(backend=backend, reset="soft", refractory=1)
    x = _input(8, (4, 11), torch.float32, 1.0, 0.0, 2.0, True, seed=5)
    first = m(x)
    # a call on another input (and another shape) in between changes nothing
    m(torch.full((3, 2), 5.0))
    second = m(x)
    assert torch.equal(first, second)
    assert torch.equal(first, lif(x, reset="soft", refractory=1, backend=backend))
    assert list(m.parameters()) == [] and list(m.buffers()) == []


def test_module_matches_functional_and_a_new_configuration_takes_effect():
    m = LIF()
    x = _const(1.5, 6)
    assert _flat(m(x)) == [0, 1, 0, 1, 0, 1]
    m.neuron = m.neuron.replace(refractory=1)
    assert _flat(m(x)) == [0, 1, 0, 0, 1, 0]
    with pytest.raises(TypeError, match="neuron must be a NeuronConfig"):
        m.neuron = {"refractory": 1}
    m.return_v = True
    s, v = m(x)
    assert _flat(v) == [0.75, 0.0, 0.0, 0.75, 0.0, 0.0]


def test_module_rejects_unknown_fixed_name():
    with pytest.raises(ValueError, match="fixed"):
        LIF(fixed=("tau", "gain"))


def _net():
    return nn.Sequential(
        nn.Linear(4, 8), LIF(),
        nn.Sequential(nn.Linear(8, 8), LIF(threshold=0.5, fixed=("threshold", "surrogate"))),
        nn.Linear(8, 2), LIF(tau=4.0),
    )


def test_spiking_layers_finds_nested_lif():
    names = [name for name, _ in spiking_layers(_net())]
    assert names == ["1", "2.1", "4"]


def test_set_neuron_params_updates_all_layers_except_fixed():
    net = _net()
    out = set_neuron_params(net, tau=3.0, threshold=0.9, surrogate="sigmoid", alpha=2.0,
                            refractory=1, backend="torch")
    assert out is net
    layers = {name: layer.neuron for name, layer in spiking_layers(net)}
    for name, neuron in layers.items():
        assert neuron.tau == 3.0 and neuron.refractory == 1
        assert neuron.backend == "torch"
    assert layers["1"].threshold == 0.9 and layers["4"].threshold == 0.9
    assert layers["1"].surrogate == Sigmoid(2.0) and layers["4"].surrogate == Sigmoid(2.0)
    # the fixed layer keeps its own threshold and surrogate (with alpha 2 applied to it)
    assert layers["2.1"].threshold == 0.5
    assert layers["2.1"].surrogate == ATan(2.0)
    # and the network still runs with the new values
    y = net(torch.randn(5, 3, 4))
    assert y.shape == (5, 3, 2)


@pytest.mark.parametrize("bad,exc", [
    (dict(tau=0.5), ValueError),
    (dict(threshold=-1.0), ValueError),
    (dict(tau=3.0, reset="bogus"), ValueError),
    (dict(tau=3.0, refractory=-2), ValueError),
    (dict(tau=3.0, surrogate="relu"), ValueError),
    (dict(tau=3.0, backend="gpu"), ValueError),
    (dict(tau=3.0, gain=2.0), ValueError),
    (dict(tau=3.0, alpha="x"), TypeError),
    # valid for the free layers, invalid for the fixed one (its threshold 0.5 <= v_reset 0.7):
    # all-or-nothing, so no layer changes
    (dict(tau=3.0, v_reset=0.7), ValueError),
])
def test_set_neuron_params_rejects_bad_values_without_changes(bad, exc):
    net = _net()
    before = pickle.dumps(net)
    snapshot = [(name, layer.neuron) for name, layer in spiking_layers(net)]
    with pytest.raises(exc):
        set_neuron_params(net, **bad)
    after = [(name, layer.neuron) for name, layer in spiking_layers(net)]
    assert after == snapshot
    assert pickle.dumps(net) == before


@pytest.mark.parametrize("backend", ["cpu", "torch"])
@pytest.mark.parametrize("layout", ["channels_last", "expanded"])
def test_other_memory_layouts_give_the_same_spikes_and_gradients(backend, layout):
    """A channels-last [T, B, C, H, W] batch keeps its layout through the fused kernels (no copy
    back to contiguous), and an expanded (stride-0) input is read as its copy would be."""
    torch.manual_seed(3)
    base = torch.randn(4, 2, 3, 5, 6) * 0.8 + 0.6
    if layout == "channels_last":
        x = base.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    else:
        x = base[:1].expand(4, -1, -1, -1, -1)
    x = x.detach().requires_grad_()
    ref = x.detach().contiguous().requires_grad_()
    spikes = lif(x, backend=backend, tau=1.5, reset="soft")
    expected = lif(ref, backend=backend, tau=1.5, reset="soft")
    assert torch.equal(spikes, expected)
    if layout == "channels_last" and backend == "cpu":
        assert spikes.stride() == x.stride()
    grad = torch.randn_like(expected)
    spikes.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(x.grad, ref.grad, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# NeuronConfig: validated once, immutable, numpy scalars welcome
# ---------------------------------------------------------------------------


def test_config_accepts_numpy_scalars_and_stores_python_numbers():
    import numpy as np

    config = NeuronConfig(tau=np.float32(3.0), threshold=np.float64(0.5), v_reset=np.int64(0),
                          refractory=np.int64(2), alpha=np.float32(3.0),
                          decay_input=np.bool_(False), detach_reset=np.True_)
    assert config == NeuronConfig(tau=3.0, threshold=0.5, refractory=2, alpha=3.0,
                                  decay_input=False, detach_reset=True)
    for name in ("tau", "threshold", "v_reset", "alpha"):
        assert type(getattr(config, name)) is float, name
    assert type(config.refractory) is int
    assert type(config.decay_input) is bool and type(config.detach_reset) is bool


@pytest.mark.parametrize("bad,exc,message", [
    (dict(tau=0.5), ValueError, "tau must be >= 1"),
    (dict(threshold=0.0), ValueError, "threshold must be > 0"),
    (dict(threshold=True), TypeError, "threshold must be a real number"),
    (dict(v_reset=1.0), ValueError, r"v_reset \(1.0\) must be below threshold"),
    (dict(refractory=1.5), ValueError, "refractory must be a non-negative integer"),
    (dict(reset="none"), ValueError, "reset must be 'hard' or 'soft'"),
    (dict(surrogate="relu"), ValueError, "relu"),
    (dict(alpha=-1.0), ValueError, "alpha must be a positive"),
    (dict(decay_input=1), TypeError, "decay_input must be True or False"),
    (dict(backend="gpu"), ValueError, "backend must be one of auto, torch, cpu, cupy"),
    (dict(tau=float("nan")), ValueError, "tau must be finite"),
])
def test_config_names_the_bad_parameter(bad, exc, message):
    with pytest.raises(exc, match=message):
        NeuronConfig(**bad)


def test_config_is_immutable_and_replace_revalidates():
    config = NeuronConfig(threshold=0.5)
    with pytest.raises(AttributeError):
        config.threshold = 2.0
    changed = config.replace(tau=4.0)
    assert (changed.tau, config.tau) == (4.0, 2.0)
    with pytest.raises(ValueError, match="v_reset"):
        config.replace(v_reset=0.5)
    with pytest.raises(ValueError, match="unknown neuron parameters"):
        config.replace(gain=2.0)
    assert hash(config) == hash(NeuronConfig(threshold=0.5))
    assert pickle.loads(pickle.dumps(changed)) == changed


def test_config_alpha_travels_with_its_surrogate():
    sharp = NeuronConfig(alpha=5.0)
    assert sharp.surrogate == ATan(5.0) and sharp.alpha == 5.0
    # a new surrogate without an alpha takes its own default sharpness...
    assert sharp.replace(surrogate="sigmoid").surrogate == Sigmoid(4.0)
    # ...and alpha=None means the default, not "keep the current one"
    assert sharp.replace(alpha=None).surrogate == ATan()
    assert sharp.replace(surrogate="sigmoid", alpha=1.0).surrogate == Sigmoid(1.0)


def test_nothing_is_validated_per_forward_call(monkeypatch):
    layer = LIF(NeuronConfig(threshold=0.5))
    x = torch.rand(4, 3, requires_grad=True)
    made = []
    original = NeuronConfig.__post_init__
    monkeypatch.setattr(NeuronConfig, "__post_init__",
                        lambda self: (made.append(1), original(self)))
    for _ in range(3):
        layer(x).sum().backward()
    assert made == []
