"""The state-space layers: kernel, FFT convolution, sampler, mixer and fuse."""

import math

import numpy as np
import pytest
import torch

from snnsk.core.neurons import NeuronConfig, set_neuron_params
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


@pytest.mark.parametrize("channels", [1, 2])
def test_fft_convolution_gradients_pass_gradcheck(channels):
    # float64 takes the generic torch.fft path, whose backward is written by hand
    torch.manual_seed(channels)
    u = torch.randn(7, 2, 3, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(channels, 3, 9, dtype=torch.float64, requires_grad=True)
    d = torch.randn(channels, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fft_conv, (u, kernel, d))


@pytest.mark.parametrize("length", [1, 5, 64, 600])
@pytest.mark.parametrize("channels", [1, 2])
def test_compiled_cpu_convolution_equals_the_generic_path(length, channels):
    # float32 on CPU takes the compiled path (transposes and FFTs along rows): it must give
    # the float64 generic path's outputs and gradients to float32 accuracy
    torch.manual_seed(length)
    u = torch.randn(length, 3, 5)
    kernel = torch.randn(channels, 5, length) / math.sqrt(length)
    d = torch.randn(channels, 5)
    weights = torch.randn(length, 3, channels * 5)
    results = []
    for dtype in (torch.float32, torch.float64):
        inputs = [x.to(dtype).detach().requires_grad_() for x in (u, kernel, d)]
        y = fft_conv(*inputs)
        (y * weights.to(dtype)).sum().backward()
        results.append([y] + [x.grad for x in inputs])
    for fast, exact in zip(*results):
        assert fast.dtype == torch.float32
        torch.testing.assert_close(fast, exact.float(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("threshold", [-0.5, 0.3, 0.5, 1.5])
@pytest.mark.parametrize("masked", [False, True])
def test_threshold_spikes_equal_the_torch_expression(dtype, threshold, masked):
    # the compiled one-pass kernel against clamp(p, 0, 1) > threshold, values on the
    # threshold itself included (float32 rounding of the cut-off must agree too)
    from snnsk.layers.ssm import _apply_mask, threshold_spikes
    torch.manual_seed(0)
    p = torch.rand(7, 3, 5, dtype=dtype) * 2 - 0.5
    p[0, 0] = threshold
    mask = torch.rand(7, 3) > 0.3 if masked else None
    expected = _apply_mask((p.clamp(0, 1) > threshold).to(dtype), mask)
    spikes = threshold_spikes(p, threshold, mask)
    assert spikes.dtype == dtype
    torch.testing.assert_close(spikes, expected, rtol=0, atol=0)


def test_sampler_runs_under_the_profiler_recording_shapes():
    # its 64-bit key above 2^63 once made torch.profiler(record_shapes=True) raise in apply
    from torch.profiler import profile
    from snnsk.layers.ssm import bernoulli_spikes, counter_uniform
    p = torch.full((4, 3), 0.5)
    key = (1 << 64) - 12345
    with profile(record_shapes=True):
        spikes = bernoulli_spikes(p, key=key)
    torch.testing.assert_close(spikes, (counter_uniform(key, p.shape) < p).float())


@pytest.mark.parametrize("length, cols", [(45, 37), (16, 32), (3, 1)])
def test_compiled_transposes_move_every_series_and_zero_the_padding(length, cols):
    # tiles of 16 x 16 with partial tiles on both axes: each series lands in its own row,
    # the padding after step L is zero, and the way back restores the time-first array
    from snnsk.layers import ssm
    if ssm.numba is None:
        pytest.skip("numba does not import: the compiled transposes are not built")
    time_first = np.random.default_rng(0).random((length, cols), dtype=np.float32)
    rows = np.full((cols, 2 * length + 1), np.nan, np.float32)
    ssm._transpose_time(time_first, rows, True)
    np.testing.assert_array_equal(rows[:, :length], time_first.T)
    np.testing.assert_array_equal(rows[:, length:], 0)
    back = np.zeros_like(time_first)
    ssm._transpose_time(back, rows, False)
    np.testing.assert_array_equal(back, time_first)


@pytest.mark.parametrize("length, size", [(1, 1), (40, 80), (98, 200), (784, 1600), (1024, 2048)])
def test_fft_size_is_a_fast_length_of_at_least_2L_minus_1(length, size):
    from snnsk.layers.ssm import fft_size

    assert fft_size(length) == size


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


def test_counter_uniforms_are_uniform_and_uncorrelated():
    from scipy import stats

    from snnsk.layers.ssm import counter_uniform

    n = 1 << 20
    u = counter_uniform(12345, (n,)).double()
    assert 0 <= u.min() and u.max() < 1
    # 24-bit resolution, as torch.rand's float32
    assert torch.equal(u * 2**24, (u * 2**24).floor())
    counts = torch.histc(u, bins=64, min=0, max=1)
    assert stats.chisquare(counts.numpy()).pvalue > 1e-4
    # neighbours (same row, next row of a [L, B, H] layout) and pairs on an 8x8 grid
    for lag in (1, 128, 128 * 64):
        r = torch.corrcoef(torch.stack([u[:-lag], u[lag:]]))[0, 1]
        assert abs(r) < 4 / math.sqrt(n)
    pairs = (u[0::2] * 8).long() * 8 + (u[1::2] * 8).long()
    assert stats.chisquare(torch.bincount(pairs, minlength=64).numpy()).pvalue > 1e-4
    # two keys: independent streams
    other = counter_uniform(12346, (n,)).double()
    assert abs(torch.corrcoef(torch.stack([u, other]))[0, 1]) < 4 / math.sqrt(n)


def test_the_compiled_kernels_are_in_use_where_numba_imports():
    # the kernels sit behind an import guard: a failing internal import once turned them
    # all off silently, and every test below then compared the torch path with itself
    pytest.importorskip("numba")
    from snnsk.layers import ssm

    assert ssm._compiled(torch.zeros(3))
    assert ssm._compiled(torch.zeros(3, dtype=torch.float64))
    assert not ssm._compiled(torch.zeros(3, dtype=torch.float16))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_sampler_draws_exactly_the_reference_uniforms(dtype, monkeypatch):
    from snnsk.layers import ssm

    torch.manual_seed(0)
    p = torch.rand(9, 4, 6, dtype=dtype) * 1.4 - 0.2
    mask = torch.rand(9, 4) > 0.3
    compiled = ssm.bernoulli_spikes(p, mask, key=777)
    # the reference: the torch expressions of the same counter-based generator
    reference = ((ssm.counter_uniform(777, p.shape) < p) & mask[..., None]).to(dtype)
    assert torch.equal(compiled, reference)
    monkeypatch.setattr(ssm, "_compiled", lambda x: False)
    assert torch.equal(ssm.bernoulli_spikes(p, mask, key=777), reference)


def test_bernoulli_spikes_have_the_probability_of_each_entry():
    from snnsk.layers.ssm import bernoulli_spikes

    # 21 probability levels spread over a [L, B, H] tensor, 20,000 entries each
    levels = torch.linspace(0, 1, 21)
    p = levels[torch.arange(420_000) % 21].reshape(100, 42, 100)
    torch.manual_seed(1)
    spikes = bernoulli_spikes(p)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    means = torch.zeros(21).index_add_(0, torch.arange(420_000) % 21, spikes.flatten()) / 20_000
    tolerance = 4 * torch.sqrt(levels * (1 - levels) / 20_000)
    assert torch.all((means - levels).abs() <= tolerance)  # 0 and 1 exactly
    # successive calls draw fresh numbers; torch's seed replays them
    torch.manual_seed(1)
    assert torch.equal(bernoulli_spikes(p), spikes)
    assert not torch.equal(bernoulli_spikes(p), spikes)


def test_mean_field_is_the_clamp_with_the_sampler_gradient():
    from snnsk.layers.ssm import MeanFieldNeuron, mean_field

    p = torch.tensor([[-0.5, 0.2], [0.7, 1.5], [0.4, 0.0]], requires_grad=True)
    mask = torch.tensor([[True, True], [True, True], [False, False]])
    out = mean_field(p[..., None], mask)[..., 0]
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.2], [0.7, 1.0], [0.0, 0.0]]))
    out.sum().backward()
    assert p.grad.tolist() == [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    # the sampler's expectation: equal to 'expected' sampling at inference
    q = torch.rand(5, 3, 4)
    torch.testing.assert_close(MeanFieldNeuron().train()(q),
                               SpikeSampler(sampling="expected").eval()(q))


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
    sampler = SpikeSampler(sampling="threshold", neuron=NeuronConfig(threshold=0.5)).eval()
    assert sampler(p).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    set_neuron_params(sampler, threshold=0.25)
    assert sampler.threshold == 0.25
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
    sampler = SpikeSampler(sampling="threshold", neuron=NeuronConfig(threshold=0.5)).train()
    spikes = sampler(torch.full((10_000,), 0.3))
    assert 0.25 < spikes.mean().item() < 0.35  # not 0, as thresholding 0.3 at 0.5 would give


def test_sampler_mask_silences_padded_steps():
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    out = SpikeSampler(sampling="threshold").eval()(torch.ones(3, 2, 4), mask)
    assert out.sum(-1).tolist() == [[4.0, 4.0], [4.0, 0.0], [0.0, 0.0]]


def test_sampler_rejects_bad_settings():
    with pytest.raises(ValueError, match="sampling must be one of"):
        SpikeSampler(sampling="poisson")
    with pytest.raises(ValueError, match="threshold must be finite"):
        SpikeSampler(neuron=NeuronConfig(threshold=float("nan")))


def test_masked_lif_is_the_lif_with_padded_steps_silenced():
    x = torch.full((4, 2, 1), 1.5)
    mask = torch.tensor([[True, True], [True, True], [True, False], [True, False]])
    out = MaskedLIF(tau=2.0, threshold=1.0)(x, mask)
    # LIF with tau 2 and a constant 1.5 fires every other step (see snnsk.core.neurons.LIF)
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
    from snnsk.analysis.opcount import OperationCounter

    # spikes at steps 0 and 2 of a 3-step, one-channel sequence: step 0 reaches 3 outputs
    # forward (and 1 backward), step 2 reaches 1 forward (and 3 backward)
    conv = S4DConv(1, 2, bidirectional=bidirectional)
    with OperationCounter(conv) as counter:
        conv(torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1))
    (entry,) = [e for name, e in counter.layers.items() if name.endswith("convolution")]
    assert entry.synaptic_ops == expected and entry.macs == 0
    assert entry.dense_macs == (6 if not bidirectional else 12)
