"""A multi-resolution spectrogram critic on waveforms (ours; shared by ndm's inverter and drumgan).

Spectral distances to one target let a network answer what they leave open (the phase of a noise burst,
the texture of a cymbal's highs) with an average of what it could be, and a critic that sees only 11.6 ms
frames lets a generator tick between them. Neural vocoders close that gap with a critic on the waveform
(MelGAN, Kumar et al. 2019; HiFi-GAN, Kong et al. 2020); this one judges log-magnitude STFTs at several
resolutions, as UnivNet's multi-resolution discriminator does (Jang et al. 2021), because a drum hit is
noise and transients more than periodic voice: at a 512-sample FFT its hop is 2.9 ms, fine enough to hear
a frame-rate flutter or a tick, and at 2048 it sees the spectral texture.

- ndm (``train.mcnn_adversarial_weight``): the MCNN's renderings of real mels against the clips, with
  feature matching (the pairs are known). On the train split's own mels the shipped MCNN scored FAD_aisfx
  161 against 84 for Griffin-Lim (docs/ndm.md, "Where the distance to the real kits comes from").
- drumgan (``train.wave_critic``): the released sounds of the last scale against real clips, beside the
  Wasserstein critic on complex-STFT channels (docs/drumgan.md: its ticks are 2.9 ms broadband frames).

Every resolution is a small 2-D conv stack striding over frequency and time, with spectral normalisation
(Miyato et al. 2018); a CPU budget: at the default widths its convolutions cost 0.09 GFLOP per second of
44.1 kHz audio and resolution (torch's FlopCounterMode). Losses are least-squares (HiFi-GAN's); feature
matching is the mean L1 gap between every layer's activations on a real clip and on its rendering.

Shapes: ``wave Tensor[B, T]`` -> per resolution, a score map ``Tensor[B, F', T']`` and the list of
intermediate activations ``Tensor[B, C, F_i, T_i]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from drumsynth.audio.dsp import stft_magnitude

LEAK = 0.2
# Magnitudes below this (-100 dB re 1) read as silence in the log.
LOG_FLOOR = 1e-5

Scores = list[torch.Tensor]
Features = list[list[torch.Tensor]]


class SpectrogramCritic(nn.Module):
    """One resolution: the log-magnitude STFT of a wave, then strided convolutions.

    Parameters
    ----------
    n_fft : window and FFT size; the hop is a quarter of it
    channels : output channels of the conv layers; the first two read 5 x 5 cells at stride 2 (frequency
        and time), the next 3 x 3 at stride 2, the last 3 x 3 at stride 1, then a 3 x 3 score layer
    """

    def __init__(self, n_fft: int, channels: list[int]) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        layers = []
        previous = 1
        for i, width in enumerate(channels):
            kernel, stride = (5, 2) if i < 2 else (3, 2) if i < len(channels) - 1 else (3, 1)
            layers.append(spectral_norm(nn.Conv2d(previous, width, kernel, stride, kernel // 2)))
            previous = width
        self.layers = nn.ModuleList(layers)
        self.score = spectral_norm(nn.Conv2d(previous, 1, 3, 1, 1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """wave Tensor[B, T] -> (scores Tensor[B, F', T'], activations [Tensor[B, C_i, F_i, T_i]])."""
        spec = torch.stft(wave, self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        h = torch.log(stft_magnitude(spec).clamp_min(LOG_FLOOR)).unsqueeze(1)
        activations = []
        for layer in self.layers:
            h = F.leaky_relu(layer(h), LEAK)
            activations.append(h)
        return self.score(h).squeeze(1), activations


class MultiResolutionCritic(nn.Module):
    """One :class:`SpectrogramCritic` per FFT size; ``forward`` returns every resolution's scores and
    activations (lists in the order of ``ffts``)."""

    def __init__(self, ffts: list[int], channels: list[int]) -> None:
        super().__init__()
        self.critics = nn.ModuleList(SpectrogramCritic(n, channels) for n in ffts)

    def forward(self, wave: torch.Tensor) -> tuple[Scores, Features]:
        """wave Tensor[B, T] -> ([Tensor[B, F', T']] per resolution, [[activations]] per resolution)."""
        results = [critic(wave) for critic in self.critics]
        return [scores for scores, _ in results], [activations for _, activations in results]


def critic_least_squares_loss(real: Scores, fake: Scores) -> torch.Tensor:
    """The critic's loss, mean over resolutions of E[(D(x) - 1)²] + E[D(G(m))²] -> scalar."""
    return torch.stack([((r - 1) ** 2).mean() + (f ** 2).mean() for r, f in zip(real, fake)]).mean()


def critic_update(critic: MultiResolutionCritic, optimizer: torch.optim.Optimizer, real: torch.Tensor,
                  fake: torch.Tensor, sync: Callable[[nn.Module], None] | None = None) -> tuple[float, float, float]:
    """One least-squares update of ``critic`` on real and generated waves ``Tensor[B, T]`` each (``fake``
    without gradient to its maker); ``sync(critic)`` runs between backward and step (gradient averaging
    across processes). Returns (loss, mean score of the real waves, mean score of the generated ones)."""
    real_scores, _ = critic(real)
    fake_scores, _ = critic(fake)
    loss = critic_least_squares_loss(real_scores, fake_scores)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if sync is not None:
        sync(critic)
    optimizer.step()
    return (loss.item(), torch.stack([s.mean() for s in real_scores]).mean().item(),
            torch.stack([s.mean() for s in fake_scores]).mean().item())


def generator_least_squares_loss(fake: Scores) -> torch.Tensor:
    """The generator's (or inverter's) adversarial loss, mean over resolutions of E[(D(G(m)) - 1)²] -> scalar."""
    return torch.stack([((f - 1) ** 2).mean() for f in fake]).mean()


def feature_matching_loss(real: Features, fake: Features) -> torch.Tensor:
    """Mean over resolutions and layers of the mean L1 gap between activations on the real clips
    (constants) and on their renderings -> scalar."""
    gaps = [F.l1_loss(f, r.detach()) for rs, fs in zip(real, fake) for r, f in zip(rs, fs)]
    return torch.stack(gaps).mean()


def random_crops(waves: list[torch.Tensor], length: int, generator: torch.Generator) -> list[torch.Tensor]:
    """The same random window of ``length`` samples from every clip of each ``Tensor[B, T]`` (one offset per
    row, shared across the list, so a clip and its rendering are cut alike) -> list of Tensor[B, length].
    ``length`` at or above T returns the waves whole."""
    total = waves[0].shape[-1]
    if length >= total:
        return waves
    offsets = torch.randint(0, total - length + 1, (waves[0].shape[0],), generator=generator,
                            device=generator.device).to(waves[0].device)
    index = offsets[:, None] + torch.arange(length, device=waves[0].device)
    return [w.gather(1, index) for w in waves]
