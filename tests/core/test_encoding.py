import pytest
import torch

from snnsk.core.encoding import (DirectEncoder, LatencyEncoder, RateEncoder, direct, get_encoder,
                            latency, rate)


def test_direct_repeats_input():
    x = torch.tensor([[0.2, -1.0, 3.0]])
    out = direct(x, 3)
    assert out.shape == (3, 1, 3)
    for t in range(3):
        assert torch.equal(out[t], x)


def test_rate_is_bernoulli_with_probability_x():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.7, -0.3])
    gen = torch.Generator().manual_seed(0)
    out = rate(x.expand(20000, -1), 4, generator=gen)  # [4, 20000, 6]
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    freq = out.mean(dim=(0, 1))
    expected = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.0, 0.0])
    # 80000 draws: standard error <= 0.0018
    assert torch.allclose(freq, expected, atol=0.01)


def test_rate_is_reproducible_with_a_seeded_generator():
    x = torch.rand(5, 7)
    a = rate(x, 6, generator=torch.Generator().manual_seed(3))
    b = rate(x, 6, generator=torch.Generator().manual_seed(3))
    c = rate(x, 6, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_latency_fires_once_earlier_for_stronger_input():
    x = torch.tensor([[1.0, 0.5, 0.0, 0.26]])
    out = latency(x, 5)  # fire at round((1 - x) * 4): 0, 2, never (x <= 0), round(2.96) = 3
    assert out.shape == (5, 1, 4)
    assert out[:, 0, 0].tolist() == [1, 0, 0, 0, 0]
    assert out[:, 0, 1].tolist() == [0, 0, 1, 0, 0]
    assert out[:, 0, 2].tolist() == [0, 0, 0, 0, 0]
    assert out[:, 0, 3].tolist() == [0, 0, 0, 1, 0]


@pytest.mark.parametrize("name, cls", [("direct", DirectEncoder), ("rate", RateEncoder),
                                       ("poisson", RateEncoder), ("latency", LatencyEncoder)])
def test_get_encoder(name, cls):
    enc = get_encoder(name, 3)
    assert isinstance(enc, cls)
    assert enc(torch.rand(2, 4)).shape == (3, 2, 4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown encoding 'morse'"):
        get_encoder("morse", 2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="timesteps must be a positive integer"):
            direct(torch.ones(2), bad)


def test_bin_frames_sums_consecutive_frames_by_hand():
    from snnsk.core.encoding import bin_frames
    frames = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)  # [B=2, F=5, C=3]
    binned = bin_frames(frames, 2)  # 5 frames in 2 bins: [0, 2) and [2, 5)
    assert binned.shape == (2, 2, 3)
    assert torch.equal(binned[0], frames[:, 0] + frames[:, 1])
    assert torch.equal(binned[1], frames[:, 2] + frames[:, 3] + frames[:, 4])
    assert torch.equal(bin_frames(frames, 5), frames.transpose(0, 1))
    with pytest.raises(ValueError, match="5 frames .* fewer than timesteps \\(6\\)"):
        bin_frames(frames, 6)
