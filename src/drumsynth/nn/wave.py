"""Waveform-GAN building blocks shared by the wavegan and style families.

Both families work on raw clips whose coarser scales are 4x shorter each (the seed's stride): they
share the resampling between scales, WaveGAN's phase shuffle and the conditional critic (the class as an
extra input channel, progressive growing), the multi-resolution spectral distance that their GAN
inversion and encoder training compare hits with, and the class-spectrum distance a generator update
can add to its adversarial loss.

Lengths: scale ``s`` holds ``L_s = length / 4**(n_blocks - s)`` samples; scale 0 is the coarsest, the
last scale is the clip.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.audio.dsp import stft_magnitude, stft_power
from drumsynth.errors import DrumsynthError

UPSAMPLE = 4  # every block changes the length by 4 (the seed's stride)
LEAK = 0.2
# Floor of the log-magnitude (peak-1 clips): about -100 dB below a full-scale bin of the smallest STFT.
LOG_FLOOR = 1e-5


# How a generator block up-samples by 4 before its convolution:
# - "nearest": the seeds' (each sample held 4 times). A 4-sample box leaves its images only 11 dB down, so
#   the coarse scales' sample grids can survive as lines at multiples of their rates (the shipped wavegan's
#   snares and cymbals: combs at 172 and 689 Hz, docs/wavegan.md);
# - "linear": centred linear interpolation (a triangle: images 23 dB down);
# - "kaiser": a Kaiser-windowed sinc over KAISER_HALF_WIDTH input samples each side, cut at the coarse
#   rate's Nyquist: images 58 dB down from 1.6 x that Nyquist on (80 dB from 2 x), so what lies above
#   it comes from the nonlinearities, not from the grid.
UPSAMPLINGS = ("nearest", "linear", "kaiser")
KAISER_HALF_WIDTH = 4
KAISER_BETA = 8.0


def upsample(x: torch.Tensor, kind: str = "nearest") -> torch.Tensor:
    """Up-sampling by 4: Tensor[B, C, L] -> Tensor[B, C, 4 L]; ``kind`` one of :data:`UPSAMPLINGS`.

    Every kind keeps a constant signal constant, and every output sample ``n`` sits at ``(n + 0.5) / 4 -
    0.5`` input samples (the centres of nearest's runs), so the kinds differ only in their filter.
    """
    if kind == "nearest":
        return x.repeat_interleave(UPSAMPLE, dim=2)
    if kind == "linear":
        # Edge samples are held (align_corners=False clamps), as nearest holds them.
        return F.interpolate(x, scale_factor=UPSAMPLE, mode="linear", align_corners=False)
    if kind == "kaiser":
        half = KAISER_HALF_WIDTH
        kernel = KAISER_TAPS.to(dtype=x.dtype, device=x.device)                # [4 * 2 * half], read only
        # Edges replicated (a constant stays constant to the last sample). The transposed convolution puts
        # x[m] * kernel[k] at output 4 m + k; cropping K / 2 - 2 (plus the padding's 4 half) puts input m at
        # output 4 m + 1.5, the centre of nearest's run.
        padded = F.pad(x, (half, half), mode="replicate")
        weight = kernel.expand(x.shape[1], 1, -1)
        return F.conv_transpose1d(padded, weight, stride=UPSAMPLE, groups=x.shape[1],
                                  padding=len(kernel) // 2 - 2 + UPSAMPLE * half)
    raise ValueError(f"unknown up-sampling {kind!r}; expected one of {UPSAMPLINGS}")


def check_upsampling(kind: str) -> None:
    """Raise ``DrumsynthError`` unless ``kind`` is one of :data:`UPSAMPLINGS` (a config's ``model.upsampling``)."""
    if kind not in UPSAMPLINGS:
        raise DrumsynthError(f"model.upsampling must be one of {list(UPSAMPLINGS)}, got {kind!r}")


def _kaiser_taps() -> torch.Tensor:
    """The "kaiser" up-sampler's filter, float64 Tensor[8 * KAISER_HALF_WIDTH]: tap ``k`` weighs an input
    sample ``d_k = (k - (K - 1) / 2) / 4`` input samples from the output, ``sinc(d_k) * kaiser(d_k)``, each
    of the 4 phases (every 4th tap) scaled to sum to 1."""
    size = UPSAMPLE * 2 * KAISER_HALF_WIDTH
    d = (torch.arange(size, dtype=torch.float64) - (size - 1) / 2) / UPSAMPLE
    taps = torch.sinc(d) * torch.kaiser_window(size, periodic=False, beta=KAISER_BETA, dtype=torch.float64)
    phases = taps.view(-1, UPSAMPLE)                      # row j holds taps 4 j .. 4 j + 3: column = phase
    return (phases / phases.sum(0)).flatten()


# Built once at import, outside any trace: an exported graph holds the taps as a constant (ONNX has no
# Kaiser window, and a tap table first built under torch.export would be a fake tensor).
KAISER_TAPS = _kaiser_taps()


def downsample(x: torch.Tensor) -> torch.Tensor:
    """Average pooling by 4: Tensor[B, C, L] -> Tensor[B, C, L / 4] (the coarser scales' "sample rate")."""
    return F.avg_pool1d(x, UPSAMPLE)


def scale_lengths(length: int, n_blocks: int) -> list[int]:
    """Clip length at every scale, coarsest first: ``length / 4**(n_blocks - s)``; the last is ``length``."""
    return [length // UPSAMPLE ** (n_blocks - s) for s in range(n_blocks + 1)]


def real_at_scale(wave: torch.Tensor, lengths: list[int], scale: int, alpha: float,
                  upsampling: str = "nearest") -> torch.Tensor:
    """Full-length clips Tensor[B, 1, T] as the critic sees them at ``scale`` while it fades in:
    pooled to ``lengths[scale]``, then blended with their own coarser version exactly as the
    generator's output is (progressive GAN: real and fake go through the same fade, with the
    generator's ``upsampling``)."""
    here = wave
    for _ in range(len(lengths) - 1 - scale):
        here = downsample(here)
    if alpha >= 1.0 or scale == 0:
        return here
    return torch.lerp(upsample(downsample(here), upsampling), here, alpha)


def spectral_loss(x: torch.Tensor, y: torch.Tensor, n_ffts: list[int]) -> torch.Tensor:
    """Multi-resolution spectral distance per clip: x, y Tensor[B, T] -> Tensor[B].

    The mean over STFT sizes (hop n_fft / 4, Hann) of the mean absolute log-magnitude difference
    plus the spectral convergence ``|| |X| - |Y| ||_F / || |Y| ||_F``: the log term follows the decay
    tails, the convergence term the loud attack.
    """
    total = x.new_zeros(len(x))
    sizes = [min(n, x.shape[-1]) for n in n_ffts]
    for n in sizes:
        window = torch.hann_window(n, device=x.device, dtype=x.dtype)
        mx, my = (stft_magnitude(torch.stft(w, n, n // 4, window=window, return_complex=True)) for w in (x, y))
        log = (torch.log(mx + LOG_FLOOR) - torch.log(my + LOG_FLOOR)).abs().mean((-2, -1))
        convergence = (mx - my).norm(dim=(-2, -1)) / my.norm(dim=(-2, -1)).clamp_min(1e-8)
        total = total + log + convergence
    return total / len(sizes)


# The class-spectrum view: STFT size and hop, and the pooling of its power into coarse cells.
CLASS_SPECTRUM_FFT = 512
CLASS_SPECTRUM_POOL = (8, 2)  # (frequency bins, frames) per cell: 32 bands of 689 Hz, 11.6 ms cells at 44.1 kHz
CLASS_SPECTRUM_DB_SCALE = 20.0  # a 20 dB gap in every cell costs 1
POWER_FLOOR = 1e-10  # -100 dB

# The fine-time band-envelope view (band_envelope_distance): 16 bands of 1.38 kHz and 2.9 ms cells at
# 44.1 kHz, four cells to an 11.6 ms STFT frame; a peak-normalised hat's tail reaches -90 dB.
ENVELOPE_FFT = 256
ENVELOPE_HOP = 64
ENVELOPE_POOL = (8, 2)
ENVELOPE_FLOOR_DB = -90.0


def log_spectrum_cells(x: torch.Tensor, n_fft: int = CLASS_SPECTRUM_FFT, hop: int | None = None,
                       pool: tuple[int, int] = CLASS_SPECTRUM_POOL) -> torch.Tensor:
    """Coarse log-power spectrogram of clips: x Tensor[B, T] -> dB Tensor[B, bands, cells] (Hann STFT of
    ``n_fft`` (at most T) with hop ``hop`` (default n_fft / 2), the DC bin dropped, power averaged over
    ``pool`` = (bins, frames) cells, floored at -100 dB). The defaults are the class-spectrum view."""
    n = min(n_fft, x.shape[-1])
    window = torch.hann_window(n, device=x.device, dtype=x.dtype)
    power = stft_power(torch.stft(x, n, hop or n // 2, window=window, return_complex=True)) / window.sum().pow(2)
    cells = F.avg_pool2d(power[:, None, 1:], pool, ceil_mode=True)[:, 0]
    return 10.0 * torch.log10(cells + POWER_FLOOR)


def band_envelope_distance(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """How far each clip's fine-time band envelopes lie from its reference's (ours, not the seeds'): the
    mean absolute dB gap of :func:`log_spectrum_cells` at ``ENVELOPE_FFT`` / ``ENVELOPE_HOP`` with
    ``ENVELOPE_POOL`` cells, both floored at ``ENVELOPE_FLOOR_DB``, over ``CLASS_SPECTRUM_DB_SCALE``.

    Why: an inverter trained on spectra with 11.6 ms frames cannot see a ripple at that frame rate (the
    session-6 ndm MCNN's open hats fluttered at 86 Hz, 55 ticks/s), while 2.9 ms cells of 1.4 kHz bands do;
    bands wide enough to average a noise's bins keep the target meaningful for hats and cymbals, whose
    samples no model can match one by one. Below the floor (deep in a tail) gaps do not count.

    x Tensor[B, T] (differentiable), ref Tensor[B, T] -> scalar Tensor.
    """
    cells = [log_spectrum_cells(v, ENVELOPE_FFT, ENVELOPE_HOP, ENVELOPE_POOL).clamp_min(ENVELOPE_FLOOR_DB)
             for v in (x, ref)]
    return (cells[0] - cells[1]).abs().mean() / CLASS_SPECTRUM_DB_SCALE


def class_means(cells: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class (weighted) mean of per-clip cells: cells Tensor[B, F, N], class weights c Tensor[B, C] ->
    (means Tensor[C, F, N], present Tensor[C] bool: the classes with at least one clip)."""
    counts = c.sum(0)
    means = torch.einsum("bc,bfn->cfn", c, cells) / counts.clamp_min(1)[:, None, None]
    return means, counts > 0


def spectral_ripple(x: torch.Tensor) -> torch.Tensor:
    """How much each band's level jumps from one 2.9 ms cell to the next beyond a straight line, on average
    over the clip: the absolute second difference over time of :func:`log_spectrum_cells` in the
    band-envelope view (``ENVELOPE_FFT`` / ``ENVELOPE_HOP`` / ``ENVELOPE_POOL``: 16 bands of 1.38 kHz), averaged
    over the cells (ours). A decay in dB is close to a line, so in real hits only the attack, its end and a
    noise's own flicker count, while every tick (a burst louder than the cells around it) adds.

    Why these cells: the listener's tick count (:func:`drumsynth.metrics.listener.tick_rate`) looks for a 6 dB
    rise of the >4 kHz band within 2.9 ms, and 11.6 ms cells average such a burst away. Why the average over
    time: a drumgan batch at full size holds 2-3 hits a class, and per-cell class means of a 2.9 ms ripple
    are mostly the noise's flicker (two batches of the same decaying noise differ by as much as one with
    bursts 26 dB down, tested), while the time average separates them by 7x.

    x Tensor[B, T] -> dB Tensor[B, bands, 1]."""
    cells = log_spectrum_cells(x, ENVELOPE_FFT, ENVELOPE_HOP, ENVELOPE_POOL)
    return (cells[..., 2:] - 2.0 * cells[..., 1:-1] + cells[..., :-2]).abs().mean(-1, keepdim=True)


def class_mean_spectra(x: torch.Tensor, c: torch.Tensor, view: Callable[[torch.Tensor], torch.Tensor]
                       = log_spectrum_cells) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class mean of ``view`` (default :func:`log_spectrum_cells`; or :func:`spectral_ripple`): x
    Tensor[B, T], one-hot c Tensor[B, C] -> (means Tensor[C, bands, cells], present Tensor[C] bool: the
    classes with at least one clip)."""
    return class_means(view(x), c)


def class_spectrum_distance(fake: torch.Tensor, c_fake: torch.Tensor, real_means: torch.Tensor,
                            real_present: torch.Tensor, view: Callable[[torch.Tensor], torch.Tensor]
                            = log_spectrum_cells) -> torch.Tensor:
    """How far a generated batch's per-class mean log-spectrogram lies from the real one's (ours, not
    the seeds'): the mean absolute dB gap over the cells of the classes present in both, over
    ``CLASS_SPECTRUM_DB_SCALE``. A critic on linear waveforms barely sees a tail 25 dB down or a missing
    octave of hiss; in dB both are as large as the attack. Batch means, not per-hit targets, so hits
    stay free to differ.

    fake Tensor[B, T] (differentiable), one-hot c_fake Tensor[B, C], real_means Tensor[C, bands, cells]
    and real_present Tensor[C] from :func:`class_mean_spectra` of real clips at the same length and
    ``view`` -> scalar Tensor (0 when no class is in both). With ``view`` = :func:`spectral_ripple` it is
    the class-ripple term: the gap between how much the generated and the real hits jump from cell to cell.
    """
    means, present = class_mean_spectra(fake, c_fake, view)
    both = present & real_present
    if not bool(both.any()):
        return fake.sum() * 0.0
    return (means[both] - real_means[both]).abs().mean() / CLASS_SPECTRUM_DB_SCALE


class PhaseShuffle(nn.Module):
    """WaveGAN's phase shuffle: each example's activations move by k ~ U{-s, ..., s} samples, the
    gap filled by reflection; identity in eval mode.

    Tensor[B, C, L] -> Tensor[B, C, L] with ``out[b, :, t] = x[b, :, t - k_b]`` (reflected at the edges).
    """

    def __init__(self, shift: int) -> None:
        super().__init__()
        self.shift = int(shift)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training or self.shift == 0:
            return x
        b, c, n = x.shape
        s = self.shift
        # The shifts come from ``generator`` when given (the recipe's), else torch's global RNG (as
        # dropout does; the Trainer checkpoints both).
        device = generator.device if generator is not None else x.device
        k = torch.randint(-s, s + 1, (b,), generator=generator, device=device).to(x.device)
        padded = F.pad(x, (s, s), mode="reflect")
        index = torch.arange(n, device=x.device)[None, :] + (s - k)[:, None]
        return padded.gather(2, index[:, None, :].expand(b, c, n))


class Critic(nn.Module):
    """(waveform, class) -> Wasserstein score, mirroring a generator of ``channels`` (coarsest first).

    The class embedding goes through a dense layer to the clip's length and is concatenated to it as
    a second input channel (one such layer per scale); a 1x1 convolution per scale (progressive
    GAN's "fromRGB") maps the two channels to features; blocks of stride-4 convolutions with leaky
    ReLU 0.2 and phase shuffle (not after the last block, as in WaveGAN); a dense linear output.
    ``scale`` says how many blocks are in use and ``alpha`` fades the newest in: at ``alpha = 0`` the
    critic at ``scale`` sees its input average-pooled to ``scale - 1``.

    x Tensor[B, 1, L_scale], class weights c Tensor[B, C] -> score Tensor[B].
    """

    def __init__(self, *, n_classes: int, embed_dim: int, channels: list[int], length: int, kernel_size: int,
                 first_scale: int, phase_shuffle: int = 2) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.channels = list(channels)
        self.n_blocks = len(channels) - 1
        self.lengths = scale_lengths(length, self.n_blocks)
        self.first_scale = first_scale
        scales = range(first_scale, self.n_blocks + 1)
        self.embed = nn.Linear(n_classes, embed_dim, bias=False)
        self.label_to_length = nn.ModuleList([nn.Linear(embed_dim, self.lengths[s]) for s in scales])
        self.from_wave = nn.ModuleList([nn.Conv1d(2, channels[s], 1) for s in scales])
        # Block s takes scale s (channels[s], L_s) to scale s - 1 (channels[s - 1], L_s / 4).
        self.blocks = nn.ModuleList([nn.Conv1d(channels[s], channels[s - 1], kernel_size, stride=UPSAMPLE,
                                               padding=kernel_size // 2 - 1) for s in range(1, self.n_blocks + 1)])
        self.shuffle = PhaseShuffle(phase_shuffle)
        # No bias: it cancels in E[D(real)] - E[D(fake)] and the penalty never sees it (always zero gradient).
        self.head = nn.Linear(channels[0] * self.lengths[0], 1, bias=False)

    def _from_wave(self, x: torch.Tensor, e: torch.Tensor, scale: int) -> torch.Tensor:
        k = scale - self.first_scale
        label = self.label_to_length[k](e)[:, None, :]
        return F.leaky_relu(self.from_wave[k](torch.cat([x, label], dim=1)), LEAK)

    def _block(self, h: torch.Tensor, s: int, generator: torch.Generator | None) -> torch.Tensor:
        h = F.leaky_relu(self.blocks[s - 1](h), LEAK)
        return self.shuffle(h, generator) if s >= 2 else h

    def forward(self, x: torch.Tensor, c: torch.Tensor, scale: int | None = None, alpha: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """x Tensor[B, 1, L_scale], c Tensor[B, C] -> score Tensor[B]; ``generator`` drives phase shuffle."""
        scale = self.n_blocks if scale is None else scale
        e = self.embed(c)
        h = self._from_wave(x, e, scale)
        if scale > 0:
            h = self._block(h, scale, generator)
            if alpha < 1.0 and scale > self.first_scale:
                h = torch.lerp(self._from_wave(downsample(x), e, scale - 1), h, alpha)
            for s in range(scale - 1, 0, -1):
                h = self._block(h, s, generator)
        return self.head(h.flatten(1))[:, 0]
