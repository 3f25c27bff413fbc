import math

import pytest
import torch
from torch import nn

from snnsk.core.losses import MeanOverTimeLoss, TETLoss, get_loss


def tet_by_hand(outputs, y, lamb, phi):
    """ALGORITHMS §2 written out with explicit loops (no torch losses)."""
    T, B, C = outputs.shape
    ce_sum, mse_sum = 0.0, 0.0
    for t in range(T):
        ce_t = 0.0
        for b in range(B):
            logits = outputs[t, b].tolist()
            m = max(logits)
            log_z = m + math.log(sum(math.exp(v - m) for v in logits))
            ce_t += log_z - logits[y[b]]
        ce_sum += ce_t / B
        mse_sum += sum((v - phi) ** 2 for v in outputs[t].flatten().tolist()) / (B * C)
    return (1 - lamb) * ce_sum / T + lamb * mse_sum / T


@pytest.mark.parametrize("lamb, phi", [(1e-3, 1.0), (0.05, 1.0), (0.3, 0.5), (0.0, 1.0)])
def test_tet_matches_formula(lamb, phi):
    gen = torch.Generator().manual_seed(1)
    outputs = torch.randn(4, 5, 3, generator=gen, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0])
    got = TETLoss(lamb=lamb, phi=phi)(outputs, y).item()
    assert got == pytest.approx(tet_by_hand(outputs, y.tolist(), lamb, phi), rel=1e-12)


def test_tet_gradient_flows_to_every_step():
    outputs = torch.randn(3, 2, 4, requires_grad=True)
    TETLoss()(outputs, torch.tensor([1, 3])).backward()
    assert (outputs.grad.abs().sum(dim=(1, 2)) > 0).all()


def test_mean_over_time_is_ce_of_the_mean():
    outputs = torch.randn(4, 6, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    expected = nn.functional.cross_entropy(outputs.mean(0), y)
    assert MeanOverTimeLoss()(outputs, y).item() == pytest.approx(expected.item(), rel=1e-12)


def test_criterion_instance_and_class_accepted():
    outputs = torch.randn(2, 3, 4)
    y = torch.tensor([0, 1, 3])
    a = TETLoss(nn.CrossEntropyLoss, lamb=0.1)(outputs, y)
    b = TETLoss(nn.CrossEntropyLoss(), lamb=0.1)(outputs, y)
    assert torch.equal(a, b)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        TETLoss()(torch.randn(3, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="lamb"):
        TETLoss(lamb=1.5)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge")
    with pytest.raises(TypeError, match="criterion"):
        TETLoss(criterion="ce")
