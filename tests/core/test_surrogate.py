"""Surrogate gradients: formulas, forward step, autograd, pickling, lookup and validation.

Every expected derivative below is computed independently with :mod:`math`
from the table in ALGORITHMS.md §1, never by calling ``.derivative``.
"""

import math
import pickle

import pytest
import torch

from snnsk.core.surrogate import (
    SURROGATES,
    ATan,
    FastSigmoid,
    Sigmoid,
    Surrogate,
    Triangle,
    get_surrogate,
)


def _sigmoid_ref(x, a):
    s = 1.0 / (1.0 + math.exp(-a * x))
    return a * s * (1.0 - s)


def _atan_ref(x, a):
    return a / (2.0 * (1.0 + (math.pi * a * x / 2.0) ** 2))


def _fast_sigmoid_ref(x, a):
    return a / (2.0 * (1.0 + a * abs(x)) ** 2)


def _triangle_ref(x, a):
    return max(0.0, a - a * a * abs(x))


# name -> (class, default alpha from the table, independent formula)
CASES = {
    "sigmoid": (Sigmoid, 4.0, _sigmoid_ref),
    "atan": (ATan, 2.0, _atan_ref),
    "fast_sigmoid": (FastSigmoid, 2.0, _fast_sigmoid_ref),
    "triangle": (Triangle, 1.0, _triangle_ref),
}
XS = [-3.0, -1.0, -0.7, -0.5, -0.25, -0.1, 0.0, 1e-3, 0.1, 0.3, 0.5, 0.9, 1.0, 2.5]
ALPHAS = [None, 0.5, 1.0, 2.0, 4.0, 10.0]


def test_registry_has_the_four_surrogates():
    assert set(SURROGATES) == set(CASES)
    for name, (cls, default, _) in CASES.items():
        assert SURROGATES[name] is cls
        assert cls.name == name
        assert cls.default_alpha == default
        assert cls().alpha == default


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("alpha", ALPHAS)
def test_derivative_matches_formula(name, alpha):
    cls, default, ref = CASES[name]
    a = default if alpha is None else alpha
    sg = cls(alpha)
    x = torch.tensor(XS, dtype=torch.float64)
    got = sg.derivative(x)
    want = torch.tensor([ref(v, a) for v in XS], dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    # float32 too (the dtype of training); the absolute tolerance covers the
    # cancellation in 1 - σ(αx) for sigmoid at large αx (σ(10) = 1 - 4.5e-5).
    got32 = sg.derivative(x.float())
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32, want.float(), rtol=1e-5, atol=1e-6)


def test_derivative_spot_values_by_hand():
    # atan, alpha=2, x=0: 2 / (2 (1 + 0)) = 1
    assert ATan().derivative(torch.tensor(0.0)).item() == 1.0
    # sigmoid, alpha=4, x=0: 4 * 0.5 * 0.5 = 1
    assert Sigmoid().derivative(torch.tensor(0.0)).item() == 1.0
    # fast_sigmoid, alpha=2, x=0.5: 2 / (2 (1 + 1)^2) = 0.25
    assert FastSigmoid().derivative(torch.tensor(0.5)).item() == 0.25
    # triangle, alpha=1: x=0.25 -> 0.75; |x| >= 1/alpha -> 0
    assert Triangle().derivative(torch.tensor(0.25)).item() == 0.75
    assert Triangle().derivative(torch.tensor(-1.5)).item() == 0.0
    # triangle, alpha=2, x=-0.25: 2 - 4 * 0.25 = 1
    assert Triangle(2.0).derivative(torch.tensor(-0.25)).item() == 1.0


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_is_heaviside_with_theta0_equal_1(name, dtype):
    sg = get_surrogate(name)
    x = torch.tensor([-2.0, -1e-6, -0.0, 0.0, 1e-6, 0.5, 3.0], dtype=dtype)
    out = sg(x)
    assert out.dtype == dtype
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    # the forward does not depend on alpha
    assert torch.equal(get_surrogate(name, alpha=0.3)(x), out)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("alpha", [None, 0.5, 3.0])
def test_autograd_gradient_is_the_formula(name, alpha):
    cls, default, ref = CASES[name]
    a = default if alpha is None else alpha
    x = torch.tensor(XS, dtype=torch.float64, requires_grad=True)
    w = torch.linspace(-1.0, 2.0, len(XS), dtype=torch.float64)
    (cls(alpha)(x) * w).sum().backward()
    want = torch.tensor([wi * ref(v, a) for wi, v in zip(w.tolist(), XS)], dtype=torch.float64)
    torch.testing.assert_close(x.grad, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("alpha", [None, 0.75])
def test_pickle_round_trip(name, alpha):
    sg = get_surrogate(name, alpha)
    back = pickle.loads(pickle.dumps(sg))
    assert type(back) is type(sg)
    assert back.alpha == sg.alpha
    assert back == sg
    x = torch.linspace(-1, 1, 11, dtype=torch.float64)
    assert torch.equal(back.derivative(x), sg.derivative(x))


def test_repr_eq_hash():
    assert repr(ATan()) == "ATan(alpha=2)"
    assert repr(Sigmoid(0.5)) == "Sigmoid(alpha=0.5)"
    assert ATan(2) == ATan(2.0)
    assert ATan(2) != ATan(3)
    assert ATan(2) != FastSigmoid(2)
    assert hash(ATan(2)) == hash(ATan(2.0))
    assert len({ATan(), ATan(2.0), Sigmoid()}) == 2


def test_get_surrogate_by_name_and_default_is_atan():
    assert type(get_surrogate()) is ATan and get_surrogate().alpha == 2.0
    for name, (cls, default, _) in CASES.items():
        sg = get_surrogate(name)
        assert type(sg) is cls
        assert sg.alpha == default
        sg = get_surrogate(name, alpha=7)
        assert type(sg) is cls
        assert sg.alpha == 7.0 and isinstance(sg.alpha, float)


def test_get_surrogate_by_instance_and_class():
    sg = Triangle(0.5)
    assert get_surrogate(sg) is sg
    assert get_surrogate(sg, alpha=None) is sg
    assert get_surrogate(sg, alpha=0.5) is sg
    over = get_surrogate(sg, alpha=3.0)
    assert type(over) is Triangle and over.alpha == 3.0
    assert sg.alpha == 0.5  # the given instance is not mutated
    by_class = get_surrogate(Sigmoid)
    assert type(by_class) is Sigmoid and by_class.alpha == 4.0
    assert get_surrogate(Sigmoid, alpha=1.5).alpha == 1.5


def test_unknown_name_raises_value_error_naming_known_names():
    with pytest.raises(ValueError, match="unknown surrogate") as info:
        get_surrogate("relu")
    msg = str(info.value)
    assert "'relu'" in msg
    for name in CASES:
        assert name in msg


def test_non_string_non_surrogate_raises_type_error():
    with pytest.raises(TypeError, match="surrogate"):
        get_surrogate(3)
    with pytest.raises(TypeError, match="surrogate"):
        get_surrogate(lambda x: x)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("bad", [0, 0.0, -1.0, -1e-9, float("inf"), float("nan")])
def test_bad_alpha_value_raises_value_error(name, bad):
    cls = CASES[name][0]
    with pytest.raises(ValueError, match="alpha"):
        cls(bad)
    with pytest.raises(ValueError, match="alpha"):
        get_surrogate(name, alpha=bad)
    with pytest.raises(ValueError, match="alpha"):
        get_surrogate(cls(), alpha=bad)


@pytest.mark.parametrize("bad", ["2", [2.0], True, torch.tensor(2.0), object()])
def test_non_number_alpha_raises_type_error(bad):
    with pytest.raises(TypeError, match="alpha"):
        ATan(bad)
    with pytest.raises(TypeError, match="alpha"):
        get_surrogate("sigmoid", alpha=bad)


def test_base_class_derivative_not_implemented():
    with pytest.raises(NotImplementedError):
        Surrogate().derivative(torch.zeros(1))
