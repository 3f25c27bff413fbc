"""snnsk.analysis.opcount's functional reports (the hooks are tested with the layers, tests/layers)."""

import numpy as np
import pytest
from torch import nn

from snnsk.analysis.opcount import OperationCounter, count_macs


@pytest.mark.parametrize("n", [5, np.int64(5), np.int32(5), np.uint16(5)])
def test_count_macs_accepts_numpy_integers(n):
    with OperationCounter(nn.Linear(2, 2)) as counter:
        count_macs("products", n)
    entry = counter.layers["products"]
    assert entry.kind == "matmul" and entry.input == "real"
    assert entry.macs == entry.dense_macs == 5
    assert type(entry.macs) is int and type(entry.dense_macs) is int


@pytest.mark.parametrize("n", [-1, 2.0, np.float64(2.0), True, np.True_, "3", None])
def test_count_macs_refuses_what_is_not_a_count(n):
    with OperationCounter(nn.Linear(2, 2)):
        with pytest.raises(ValueError, match=r"^n must be an integer >= 0, got "):
            count_macs("products", n)


def test_count_macs_outside_a_counter_does_nothing():
    count_macs("products", -1)   # not counting: no check, no error
