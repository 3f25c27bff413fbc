"""The state-space layers: kernel, FFT convolution, sampler, mixer and fuse."""

import math

import pytest
import torch

from snnsk.layers.ssm import (ChannelAffine, ClampFuse, MaskedLIF, S4DConv, S4DKernel, SpikeMixer,
                              SpikeSampler, fft_conv, ssm_recurrence)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("length", [1, 2, 8, 33])
@pytest.mark.parametrize("init", ["inv", "lin"])
def test_fft_convolution_equals_the_step_by_step_recurrence(bidirectional, length, init):
    torch.manual_seed(length)
    conv = S4DConv(5, 8, bidirectional=bidirectional, init=init, dt_max=1.0).double()
    u = torch.randn(length, 3, 5, dtype=torch.float64)
    fast = fft_conv(u, conv.kernel(length), conv.d)
    slow = ssm_recurrence(u, conv.kernel, conv.d)
    assert fast.shape == (length, 3, 10 if bidirectional else 5)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)


def test_kernel_of_one_real_mode_matches_the_closed_form():
    # A = -1/2 (no oscillation), dt = 1, C = 1: K[l] = 2 (e^{-1/2} - 1) / (-1/2) · e^{-l/2}
    kernel = S4DKernel(1, 2).double()
    with torch.no_grad():
        kernel.log_dt.zero_()
        kernel.log_neg_a_real.fill_(math.log(0.5))
        kernel.a_imag.zero_()
        kernel.c.copy_(torch.tensor([[[[1.0, 0.0]]]], dtype=torch.float64))
    k = kernel(5)[0, 0]
    scale = 2 * (math.exp(-0.5) - 1) / -0.5
    expected = torch.tensor([scale * math.exp(-0.5 * l) for l in range(5)], dtype=torch.float64)
    torch.testing.assert_close(k, expected)


def test_convolution_by_hand_on_a_short_sequence():
    # causal kernel [1, 2, 3], D = 10: y[t] = Σ_j K[t-j] u[j] + 10 u[t]
    u = torch.tensor([1.0, 0.0, -1.0]).reshape(3, 1, 1)
    y = fft_conv(u, torch.tensor([[[1.0, 2.0, 3.0]]]), torch.tensor([[10.0]]))
    assert y.flatten().tolist() == pytest.approx([11.0, 2.0, 3.0 - 1.0 - 10.0], abs=1e-5)
    # the backward kernel reads the future: y[t] = Σ_{j>=t} K[j-t] u[j] (+ D u[t] = 0 here)
    y = fft_conv(u, torch.tensor([[[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]]),
                 torch.tensor([[0.0], [0.0]]))
    assert y[:, 0, 1].tolist() == pytest.approx([1.0 - 3.0, -2.0, -1.0], abs=1e-5)


def test_the_causal_convolution_never_reads_the_future():
    torch.manual_seed(0)
    conv = S4DConv(4, 8)
    u = torch.randn(20, 2, 4)
    changed = u.clone()
    changed[12:] = torch.randn(8, 2, 4)
    with torch.no_grad():
        a, b = conv(u), conv(changed)
    torch.testing.assert_close(a[:12], b[:12])
    assert not torch.allclose(a[12:], b[12:])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_zero_padding_at_the_end_leaves_real_steps_unchanged(bidirectional):
    torch.manual_seed(1)
    conv = S4DConv(4, 8, bidirectional=bidirectional).double()
    u = torch.randn(13, 2, 4, dtype=torch.float64)
    padded = torch.cat([u, torch.zeros(19, 2, 4, dtype=torch.float64)])
    with torch.no_grad():
        torch.testing.assert_close(conv(padded)[:13], conv(u))


def test_kernel_parameters_and_checks():
    kernel = S4DKernel(3, 4, channels=2)
    assert kernel(7).shape == (2, 3, 7)
    assert {id(p) for p in kernel.ssm_parameters()} == {
        id(kernel.log_dt), id(kernel.log_neg_a_real), id(kernel.a_imag)}
    with pytest.raises(ValueError, match="d_state must be an even"):
        S4DKernel(3, 5)
    with pytest.raises(ValueError, match="init must be one of"):
        S4DKernel(3, 4, init="legs")
    with pytest.raises(ValueError, match="dt_min"):
        S4DKernel(3, 4, dt_min=0.5, dt_max=0.1)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        kernel(0)


def test_dt_is_drawn_log_uniformly_inside_its_range():
    kernel = S4DKernel(2000, 2, dt_min=1e-3, dt_max=1e-1, generator=torch.Generator().manual_seed(0))
    dt = kernel.log_dt.exp()
    assert dt.min() >= 1e-3 and dt.max() <= 1e-1
    # log-uniform: the geometric mean sits at the middle of the log range
    assert kernel.log_dt.mean().item() == pytest.approx(math.log(1e-2), abs=0.1)


# ------------------------------------------------------------------ sampler
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_sampler_spikes_with_probability_p(p):
    torch.manual_seed(0)
    n = 200_000
    spikes = SpikeSampler().train()(torch.full((n,), p))
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    # four standard errors of a Bernoulli mean
    assert spikes.mean().item() == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))


def test_sampler_clamps_probabilities_outside_0_1():
    spikes = SpikeSampler().train()(torch.tensor([-0.3, 0.0, 1.0, 1.4]).repeat(1000))
    assert spikes.reshape(1000, 4).mean(0).tolist() == [0.0, 0.0, 1.0, 1.0]


def test_sampler_gradient_is_that_of_its_expectation():
    # d E[s] / dp = d clamp(p, 0, 1) / dp: 1 inside (0, 1), 0 outside
    p = torch.tensor([-0.5, 0.2, 0.7, 1.5], requires_grad=True)
    SpikeSampler().train()(p).sum().backward()
    assert p.grad.tolist() == [0.0, 1.0, 1.0, 0.0]
    weights = torch.tensor([3.0, -2.0, 5.0, 1.0])
    p.grad = None
    (SpikeSampler().train()(p) * weights).sum().backward()
    assert p.grad.tolist() == [0.0, -2.0, 5.0, 0.0]


def test_sampler_inference_modes():
    p = torch.tensor([-0.2, 0.3, 0.5, 0.6, 1.2])
    sampler = SpikeSampler(sampling="threshold", threshold=0.5).eval()
    assert sampler(p).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    sampler.threshold = 0.25
    assert sampler(p).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    sampler.sampling = "expected"
    assert sampler(p).tolist() == pytest.approx([0.0, 0.3, 0.5, 0.6, 1.0])
    sampler.sampling = "bernoulli"
    torch.manual_seed(3)
    first = sampler(p.repeat(100))
    torch.manual_seed(3)
    assert torch.equal(sampler(p.repeat(100)), first)
    assert set(first.unique().tolist()) == {0.0, 1.0}


def test_training_always_samples_whatever_the_inference_mode():
    torch.manual_seed(0)
    spikes = SpikeSampler(sampling="threshold", threshold=0.5).train()(torch.full((10_000,), 0.3))
    assert 0.25 < spikes.mean().item() < 0.35  # not 0, as thresholding 0.3 at 0.5 would give


def test_sampler_mask_silences_padded_steps():
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    out = SpikeSampler(sampling="threshold").eval()(torch.ones(3, 2, 4), mask)
    assert out.sum(-1).tolist() == [[4.0, 4.0], [4.0, 0.0], [0.0, 0.0]]


def test_sampler_rejects_bad_settings():
    with pytest.raises(ValueError, match="sampling must be one of"):
        SpikeSampler(sampling="poisson")
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        SpikeSampler(threshold=float("nan"))


def test_masked_lif_is_the_lif_with_padded_steps_silenced():
    x = torch.full((4, 2, 1), 1.5)
    mask = torch.tensor([[True, True], [True, True], [True, False], [True, False]])
    out = MaskedLIF(tau=2.0, threshold=1.0)(x, mask)
    # LIF with tau 2 and a constant 1.5 fires every other step (see snnsk.neurons.LIF)
    assert out[:, 0, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert out[:, 1, 0].tolist() == [0.0, 1.0, 0.0, 0.0]


# ----------------------------------------------------------- mixer and fuse
def test_clamp_fuse_keeps_the_residual_and_clamps_the_probabilities():
    torch.manual_seed(0)
    fuse = ClampFuse(6)
    x, y = torch.randn(3, 2, 6), torch.randn(3, 2, 6)
    residual, p = fuse(x, y)
    torch.testing.assert_close(residual, x + y)
    normed = torch.nn.functional.layer_norm(x + y, (6,))
    torch.testing.assert_close(p, normed.clamp(0, 1))
    assert p.min() >= 0 and p.max() <= 1
    residual, _ = fuse(x)
    assert residual is x


def test_mixer_and_channel_affine():
    mixer = SpikeMixer(4, 3)
    s = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    expected = torch.nn.functional.gelu(s @ mixer.linear.weight.T + mixer.linear.bias)
    torch.testing.assert_close(mixer(s), expected)
    affine = ChannelAffine(2, scale=2.0, bias=-1.0)
    assert affine(torch.tensor([[1.0, 3.0]])).tolist() == [[1.0, 5.0]]


@pytest.mark.parametrize("bidirectional, expected", [(False, 3 + 1), (True, (3 + 1) + (1 + 3))])
def test_operation_count_of_the_convolution_by_hand(bidirectional, expected):
    from snnsk.opcount import OperationCounter

    # spikes at steps 0 and 2 of a 3-step, one-channel sequence: step 0 reaches 3 outputs
    # forward (and 1 backward), step 2 reaches 1 forward (and 3 backward)
    conv = S4DConv(1, 2, bidirectional=bidirectional)
    with OperationCounter(conv) as counter:
        conv(torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1))
    (entry,) = [e for name, e in counter.layers.items() if name.endswith("convolution")]
    assert entry.synaptic_ops == expected and entry.macs == 0
    assert entry.dense_macs == (6 if not bidirectional else 12)
