"""The multi-resolution spectrogram critic (nn/wave_critic.py: ndm's train.mcnn_adversarial_weight, drumgan's
train.wave_critic; issue 14, goals 3 and 4):
shapes, the least-squares and feature-matching losses, the shared crops, and that a few critic steps learn
to hear the frame-rate flutter the MCNN once made."""

from __future__ import annotations

import pytest
import torch

from drumsynth.nn.wave_critic import (
    MultiResolutionCritic,
    critic_least_squares_loss,
    feature_matching_loss,
    generator_least_squares_loss,
    random_crops,
)

SR = 44100


def _hats(seeds: range, ripple_hz: float = 0.0, depth: float = 0.0, length: int = 8192) -> torch.Tensor:
    """Hat-like decaying noises, optionally amplitude-modulated at ``ripple_hz``: Tensor[len(seeds), length]."""
    t = torch.arange(length) / SR
    envelope = torch.exp(-t / 0.06) * (1.0 - depth * (0.5 + 0.5 * torch.cos(2 * torch.pi * ripple_hz * t)))
    noise = torch.stack([torch.randn(length, generator=torch.Generator().manual_seed(s)) for s in seeds])
    return 0.5 * noise * envelope


def test_every_resolution_scores_a_map_and_keeps_one_activation_per_layer():
    critic = MultiResolutionCritic([256, 512, 1024], [4, 8, 8, 8])
    scores, features = critic(_hats(range(3)))
    assert len(scores) == len(features) == 3
    for n_fft, score, activations in zip([256, 512, 1024], scores, features):
        assert score.shape[0] == 3 and score.dim() == 3
        assert [a.shape[1] for a in activations] == [4, 8, 8, 8]
        # Frequency and time both halve in the first three layers (stride 2), not in the last.
        bins, frames = n_fft // 2 + 1, 8192 // (n_fft // 4) + 1
        assert activations[0].shape[2:] == ((bins + 1) // 2, (frames + 1) // 2)
        assert activations[-1].shape[2:] == activations[-2].shape[2:] == score.shape[1:]


def test_the_least_squares_losses_reach_zero_at_their_targets():
    ones, zeros = [torch.ones(2, 3, 4)], [torch.zeros(2, 3, 4)]
    assert critic_least_squares_loss(ones, zeros).item() == 0.0
    assert critic_least_squares_loss(zeros, ones).item() == pytest.approx(2.0)
    assert generator_least_squares_loss(ones).item() == 0.0
    assert generator_least_squares_loss(zeros).item() == pytest.approx(1.0)


def test_feature_matching_is_zero_for_the_clip_itself_and_sends_no_gradient_to_it():
    critic = MultiResolutionCritic([256], [4, 4, 4, 4]).eval()  # no power iteration between forwards
    real = _hats(range(2))
    fake = (real + 0.1 * torch.randn_like(real)).requires_grad_(True)
    _, real_features = critic(real.requires_grad_(True))
    _, same = critic(real)
    assert feature_matching_loss(real_features, same).item() == 0.0
    _, fake_features = critic(fake)
    gap = feature_matching_loss(real_features, fake_features)
    assert gap.item() > 0
    gap.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None


def test_random_crops_cut_a_clip_and_its_rendering_alike():
    a = torch.arange(40.0).reshape(2, 20)
    b = -a
    ca, cb = random_crops([a, b], 8, torch.Generator().manual_seed(0))
    assert ca.shape == cb.shape == (2, 8)
    assert torch.equal(cb, -ca)
    for row, crop in zip(a, ca):
        start = int(crop[0] - row[0])
        assert torch.equal(crop, row[start:start + 8])
    whole = random_crops([a, b], 20, torch.Generator().manual_seed(0))
    assert torch.equal(whole[0], a) and torch.equal(whole[1], b)


def test_a_few_critic_steps_hear_the_frame_rate_flutter_on_fresh_noise():
    """Real: decaying noise. Fake: the same kind of noise fluttering at 86 Hz (an 11.6 ms frame rate).
    After 40 least-squares steps the critic scores fresh real clips above fresh fluttering ones."""
    torch.manual_seed(0)
    critic = MultiResolutionCritic([256, 512], [8, 16, 16, 16])
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for step in range(40):
        seeds = range(100 * step, 100 * step + 8)
        real_scores, _ = critic(_hats(seeds))
        fake_scores, _ = critic(_hats(range(50 + 100 * step, 58 + 100 * step), ripple_hz=86.0, depth=0.8))
        loss = critic_least_squares_loss(real_scores, fake_scores)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        real_scores, _ = critic(_hats(range(10_000, 10_016)))
        fake_scores, _ = critic(_hats(range(20_000, 20_016), ripple_hz=86.0, depth=0.8))
    real_mean = torch.stack([s.mean(dim=(1, 2)) for s in real_scores]).mean(0)
    fake_mean = torch.stack([s.mean(dim=(1, 2)) for s in fake_scores]).mean(0)
    assert real_mean.min() > fake_mean.max(), (real_mean, fake_mean)
