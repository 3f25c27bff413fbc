"""The shared argument checks of snnsk._validation."""

import math

import numpy as np
import pytest

from snnsk._validation import (
    check_bool,
    check_int,
    check_options,
    check_positive_int,
    check_real,
    is_bool,
    is_int,
    is_real,
)

NUMPY_INTS = [np.int8(3), np.int16(3), np.int32(3), np.int64(3), np.uint8(3), np.uint64(3)]
NUMPY_FLOATS = [np.float16(0.5), np.float32(0.5), np.float64(0.5)]
BOOLS = [True, False, np.True_, np.False_, np.bool_(True)]


# ------------------------------------------------------------------ predicates
@pytest.mark.parametrize("value", BOOLS)
def test_is_bool_accepts_python_and_numpy_booleans(value):
    assert is_bool(value)


@pytest.mark.parametrize("value", [0, 1, 1.0, np.int64(1), "True", None, np.array(True)])
def test_is_bool_refuses_everything_else(value):
    assert not is_bool(value)


@pytest.mark.parametrize("value", [0, -2, 3, 10**30, *NUMPY_INTS])
def test_is_int_accepts_python_and_numpy_integers(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [*BOOLS, 3.0, np.float64(3.0), "3", None, np.array(3), 1j])
def test_is_int_refuses_booleans_floats_and_non_numbers(value):
    assert not is_int(value)


@pytest.mark.parametrize("value", [0, 3, -1.5, math.inf, math.nan, *NUMPY_INTS, *NUMPY_FLOATS])
def test_is_real_accepts_python_and_numpy_numbers(value):
    # finiteness is the checks' business, not the predicate's
    assert is_real(value)


@pytest.mark.parametrize("value", [*BOOLS, "1.0", None, 1j, np.complex128(1), np.array(1.0), [1.0]])
def test_is_real_refuses_booleans_complex_and_non_numbers(value):
    assert not is_real(value)


# ------------------------------------------------------------------ check_int
@pytest.mark.parametrize("value", [3, *NUMPY_INTS])
def test_check_int_returns_a_python_int(value):
    out = check_int("n", value)
    assert out == 3 and type(out) is int


def test_check_int_bounds_are_closed():
    assert check_int("n", 1) == 1                      # default minimum 1
    assert check_int("n", 0, minimum=0) == 0
    assert check_int("n", -5, minimum=-5) == -5
    assert check_int("n", 10, minimum=0, maximum=10) == 10
    assert check_int("n", np.int64(0), 0, 10) == 0
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got 0$"):
        check_int("n", 0)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 3, got np.int64\(2\)$"):
        check_int("n", np.int64(2), minimum=3)
    with pytest.raises(ValueError, match=r"^n must be an integer in \[0, 10\], got 11$"):
        check_int("n", 11, minimum=0, maximum=10)
    with pytest.raises(ValueError, match=r"in \[0, 10\], got -1$"):
        check_int("n", -1, minimum=0, maximum=10)


@pytest.mark.parametrize("value", [*BOOLS, 2.0, np.float64(2.0), "2", None, np.array(2), [2]])
def test_check_int_refuses_non_integers_with_a_value_error(value):
    with pytest.raises(ValueError, match=r"^timesteps must be an integer >= 0, got "):
        check_int("timesteps", value, minimum=0)


# ------------------------------------------------------------ check_positive_int
@pytest.mark.parametrize("value", [1, 7, *NUMPY_INTS])
def test_check_positive_int_returns_a_python_int(value):
    out = check_positive_int("size", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, np.int64(0), *BOOLS, 1.0, np.float32(2), "1", None])
def test_check_positive_int_refuses(value):
    with pytest.raises(ValueError, match=r"^size must be a positive integer, got "):
        check_positive_int("size", value)


def test_check_positive_int_message_shows_the_value():
    with pytest.raises(ValueError, match=r"got True$"):
        check_positive_int("size", True)
    with pytest.raises(ValueError, match=r"got -3$"):
        check_positive_int("size", -3)


# ------------------------------------------------------------------ check_real
@pytest.mark.parametrize("value", [0.5, *NUMPY_FLOATS])
def test_check_real_returns_a_python_float(value):
    out = check_real("rate", value)
    assert out == 0.5 and type(out) is float


@pytest.mark.parametrize("value", [2, np.int64(2), np.uint8(2)])
def test_check_real_converts_integers_to_float(value):
    out = check_real("rate", value)
    assert out == 2.0 and type(out) is float


@pytest.mark.parametrize("value", [*BOOLS, "0.5", None, 1j, np.array(0.5), [0.5]])
def test_check_real_refuses_non_numbers_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^rate must be a real number, got "):
        check_real("rate", value)


def test_check_real_type_error_names_the_range():
    with pytest.raises(TypeError, match=r"^p must be a real number in \[0, 1\), got '0.5'$"):
        check_real("p", "0.5", 0, 1, high_open=True)


def test_check_real_what_replaces_the_description():
    with pytest.raises(TypeError, match=r"^alpha must be a positive number, got 'x'$"):
        check_real("alpha", "x", 0, low_open=True, what="a positive number")
    with pytest.raises(ValueError, match=r"^alpha must be a positive number, got 0.0$"):
        check_real("alpha", 0, 0, low_open=True, what="a positive number")
    with pytest.raises(ValueError, match=r"^alpha must be a positive number \(finite\), got inf$"):
        check_real("alpha", math.inf, 0, low_open=True, what="a positive number")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")])
def test_check_real_refuses_non_finite_values_with_a_value_error(value):
    with pytest.raises(ValueError, match=r"^rate must be a real number \(finite\), got "):
        check_real("rate", value)


def test_check_real_non_finite_inside_bounds_is_still_refused():
    with pytest.raises(ValueError, match=r"^rate must be a real number in \[0, inf\] \(finite\), got inf$"):
        check_real("rate", math.inf, 0)


def test_check_real_closed_bounds_include_their_ends():
    assert check_real("p", 0, 0, 1) == 0.0
    assert check_real("p", 1, 0, 1) == 1.0
    assert check_real("p", np.float32(1.0), 0, 1) == 1.0
    with pytest.raises(ValueError, match=r"^p must be a real number in \[0, 1\], got 1.5$"):
        check_real("p", 1.5, 0, 1)
    with pytest.raises(ValueError, match=r"^p must be a real number in \[0, 1\], got -0.5$"):
        check_real("p", -0.5, 0, 1)


def test_check_real_open_bounds_exclude_their_ends():
    assert check_real("p", 0.5, 0, 1, low_open=True, high_open=True) == 0.5
    with pytest.raises(ValueError, match=r"^p must be a real number in \(0, 1\), got 0.0$"):
        check_real("p", 0, 0, 1, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"^p must be a real number in \(0, 1\), got 1.0$"):
        check_real("p", 1, 0, 1, low_open=True, high_open=True)
    # one open end, the other closed
    assert check_real("p", 0, 0, 1, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"^p must be a real number in \[0, 1\), got 1.0$"):
        check_real("p", 1, 0, 1, high_open=True)
    assert check_real("p", 1, 0, 1, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"in \(0, 1\], got 0.0$"):
        check_real("p", 0.0, 0, 1, low_open=True)


def test_check_real_one_sided_bounds_show_infinity():
    assert check_real("lr", 1e9, 0, low_open=True) == 1e9
    with pytest.raises(ValueError, match=r"^lr must be a real number in \(0, inf\], got 0.0$"):
        check_real("lr", 0.0, 0, low_open=True)
    assert check_real("shift", -1e9, high=0) == -1e9
    with pytest.raises(ValueError, match=r"^shift must be a real number in \[-inf, 0\], got 0.5$"):
        check_real("shift", 0.5, high=0)


# ------------------------------------------------------------------ check_bool
@pytest.mark.parametrize("value, expected", [(True, True), (False, False),
                                             (np.True_, True), (np.False_, False)])
def test_check_bool_returns_a_python_bool(value, expected):
    out = check_bool("shuffle", value)
    assert out is expected


@pytest.mark.parametrize("value", [0, 1, np.int64(1), 1.0, "True", "yes", None, np.array(True)])
def test_check_bool_refuses_non_booleans_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^shuffle must be True or False, got "):
        check_bool("shuffle", value)


# --------------------------------------------------------------- check_options
def test_check_options_returns_the_value():
    assert check_options("mode", "b", ("a", "b")) == "b"
    out = check_options("mode", np.str_("a"), ("a", "b"))
    assert out == "a"
    assert check_options("order", 2, (1, 2)) == 2


@pytest.mark.parametrize("value", ["c", "A", None, 3, ["a"], {"a": 1}, {"a"}])
def test_check_options_names_the_choices(value):
    with pytest.raises(ValueError, match=r"^mode must be one of a, b, got "):
        check_options("mode", value, ("a", "b"))


def test_check_options_message_shows_the_value():
    with pytest.raises(ValueError, match=r"^schedule must be one of linear, exponential, got 'cosine'$"):
        check_options("schedule", "cosine", ("linear", "exponential"))


# ---------------------------------------------------------------------------
# Declarative constraints (the estimators' _parameter_constraints)
# ---------------------------------------------------------------------------
from snnsk._validation import AnyOf, Boolean, Check, Integer, Options, Real, validate_params  # noqa: E402


def _even(name, value):
    if value % 2:
        raise ValueError(f"{name} must be even, got {value!r}")


CONSTRAINTS = {
    "size": Integer(1), "count": Integer(0, 9), "vocab": Integer(1, none=True),
    "rate": Real(0, 1, high_open=True), "lr": Real(0, low_open=True, what="a positive number"),
    "flag": Boolean(), "mode": Options("a", "b", None),
    "patch": AnyOf(Options("auto"), Integer(1, 16), what="'auto' or an integer in [1, 16]"),
    "even": Check(_even),
}


def test_constraints_accept_numpy_scalars_and_leave_unlisted_names_alone():
    validate_params(CONSTRAINTS, dict(size=np.int64(3), count=np.uint8(9), vocab=None,
                                      rate=np.float32(0.5), lr=np.float64(1e-3),
                                      flag=np.bool_(True), mode=None, patch="auto", even=4,
                                      anything_else=object()))
    validate_params(CONSTRAINTS, dict(patch=np.int32(16)))


@pytest.mark.parametrize("values, exc, message", [
    (dict(size=True), ValueError, "size must be a positive integer, got True"),
    (dict(size=0), ValueError, "size must be a positive integer, got 0"),
    (dict(count=10), ValueError, r"count must be an integer in \[0, 9\], got 10"),
    (dict(vocab=0), ValueError, r"vocab must be a positive integer, got 0 \(or None\)"),
    (dict(rate=1.0), ValueError, r"rate must be a real number in \[0, 1\), got 1.0"),
    (dict(rate="x"), TypeError, r"rate must be a real number in \[0, 1\), got 'x'"),
    (dict(lr=0.0), ValueError, "lr must be a positive number, got 0.0"),
    (dict(lr=float("inf")), ValueError, r"lr must be a positive number \(finite\), got inf"),
    (dict(flag=1), TypeError, "flag must be True or False, got 1"),
    (dict(mode="c"), ValueError, "mode must be one of a, b, None, got 'c'"),
    (dict(patch=17), ValueError, r"patch must be 'auto' or an integer in \[1, 16\], got 17"),
    (dict(patch="big"), ValueError, r"patch must be 'auto' or an integer in \[1, 16\], got 'big'"),
    (dict(even=3), ValueError, "even must be even, got 3"),
])
def test_constraints_name_the_parameter(values, exc, message):
    with pytest.raises(exc, match=message):
        validate_params(CONSTRAINTS, values)
