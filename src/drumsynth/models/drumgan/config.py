"""The drumgan schema: one dataclass tree; presets (``presets/*.toml``) overlay its defaults.

Defaults are the seed's values where the seed gives them (Nistal et al. 2022, DrumGAN VST: 44.1 kHz,
0.55 s = 24255 samples, STFT n_fft 2048 with 75 % overlap -> 1024 bins x 48 frames, z of 128, 3 soft
class probabilities, 6 blocks per side, WGAN-GP lambda 10 + drift 0.001, encoder of Table 3 with
lr 1e-4, batch 28, alpha 1, beta 3). Where the seed is silent (block widths, stage lengths, the
auxiliary loss weight) the values are ours and docs/drumgan.md says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from drumsynth.config import check_domains
from drumsynth.errors import DrumsynthError


@dataclass
class DataConfig:
    """Audio and the spectral representation. These travel with the model.

    sr, length : sample rate (Hz) and clip length in samples (trimmed or zero-padded, peak 1)
    n_fft, hop_length : STFT (Hann window of n_fft, centred frames); the Nyquist bin is dropped,
        so a clip is ``[2, n_fft // 2, 1 + length // hop_length]`` (real, imaginary)
    magnitude_power : p of the magnitude compression ``X |X|^(p - 1)`` (phase kept); 1 = the seed's
        plain real and imaginary parts
    demodulate : refer every frame's phase to the clip's start (:func:`spectral.phase_rotation`), so
        steady partials have constant phase over frames; False = the STFT's own per-frame phase
    fade_out : linear fade (samples) applied where a clip had to be cut
    pitch_semitones : varispeed pitch-shifted copies of every training clip (0 = the clip itself)
    max_items : at most this many clips per split (tests); 0 = all
    encoder_floor_db : the encoder sees log-magnitudes in dB below each clip's peak, floored here
        (the seed's thresholding of silent parts, see docs/drumgan.md)
    """

    sr: int = 44100
    length: int = 24255
    n_fft: int = 2048
    hop_length: int = 512
    magnitude_power: float = 1.0
    demodulate: bool = False
    fade_out: int = 64
    pitch_semitones: list[int] = field(default_factory=lambda: [0])
    max_items: int = 0
    encoder_floor_db: float = 60.0

    def __post_init__(self) -> None:
        check_domains(self, "data", {"sr": "count", "length": "count", "n_fft": "count", "hop_length": "count",
                                     "magnitude_power": "positive", "fade_out": "non_negative",
                                     "max_items": "non_negative", "encoder_floor_db": "positive"})


@dataclass
class ModelConfig:
    """Generator and critic (mirrored), grown progressively from the coarsest scale.

    latent_dim : z (seed: 128); the generator input is [z, c] with c the 3 class weights
    channels : feature channels of each scale's block, coarsest first (one per block; seed: 6 blocks)
    factors : [frequency, time] up-sampling factor between consecutive scales (len(channels) - 1
        entries); the coarsest scale is the full size divided by their products
    class_bias : c also enters every finer generator block as a per-channel bias (ours, not the
        seed's; the `cpu` preset: the fine blocks otherwise make the same upper octaves for every class)
    smooth_upsample : the generator's blocks up-sample their input features bilinearly instead of by
        nearest neighbour (ours; issue 14: nearest-neighbour copies of whole frames were the first
        suspect for the broadband ticks of run 5). The fade-in skip path stays nearest, so the fade-in
        equivalence holds either way
    output_gate : the generator's output layer writes a third channel g and the spectrum is (real,
        imaginary) * sigmoid(g) (ours; issue 14: run 5's kick and snare ticks sit in a broadband
        magnitude floor that a linear output layer cannot easily bring to silence)
    decay_envelope : every scale's spectrum frames are multiplied by a two-exponential decay envelope
        (:class:`drumsynth.nn.envelope.DecayEnvelope`, peak 1 at the first frame) whose time constants
        and mix come from the coarsest block's features averaged over the grid (ours; issue 14: with the
        class-spectrum term the kicks swelled for 100 ms and were cut at the clip's end)
    """

    latent_dim: int = 128
    channels: list[int] = field(default_factory=lambda: [256, 256, 256, 256, 128, 64])
    factors: list[list[int]] = field(default_factory=lambda: [[2, 1], [2, 2], [2, 2], [2, 2], [2, 2]])
    class_bias: bool = False
    smooth_upsample: bool = False
    output_gate: bool = False
    decay_envelope: bool = False

    def __post_init__(self) -> None:
        check_domains(self, "model", {"latent_dim": "count", "channels": "count"})


@dataclass
class EncoderConfig:
    """The encoder E of the seed's Table 3 (log-magnitude -> (z, c)).

    channels : conv layers (3x3, padding 1, batch norm, no biases, leaky ReLU)
    strides : [frequency, time] stride of each conv layer (seed: alternating 2x2 and 2x1)
    fc : hidden fully connected sizes after flattening (seed: 1024, 512)
    """

    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 128, 64, 32])
    strides: list[list[int]] = field(default_factory=lambda: [[2, 2], [2, 1]] * 3)
    fc: list[int] = field(default_factory=lambda: [1024, 512])

    def __post_init__(self) -> None:
        check_domains(self, "encoder", {"channels": "count", "fc": "count"})


@dataclass
class TrainConfig:
    """Progressive GAN training, then the encoder on generated sounds (and real ones: ``encoder_real``).

    stage_steps : generator/critic steps spent at each scale (coarsest first); steps after their sum
        (up to ``max_steps``) train the encoder against the frozen EMA generator
    fade_fraction : share of a stage (after the first) spent fading the new block in
    batch_size : GAN batch at each scale (small scales are cheap: larger batches)
    lr : Adam learning rate of generator and critic at each scale (progressive GAN: 1e-3 throughout;
        a short run needs a higher rate where the stages are short and the nets small)
    adam_betas : Adam betas of generator and critic (progressive GAN: (0, 0.99))
    gp_weight, drift_weight : WGAN-GP lambda and the critic's drift penalty epsilon
    aux_weight : weight of the auxiliary MSE between the critic's class estimate and c
    g_ema_decay : the generator's moving average (the released generator); its own weights, since
        the encoder must invert exactly the generator that ships. 0 releases the generator itself
        (the `cpu` preset: at its high learning rates the average of the weights is a worse
        generator, see docs/drumgan.md)
    encoder_batch, encoder_lr : the encoder's batch and Adam learning rate (seed: 28, 1e-4)
    encoder_alpha, encoder_beta : weights of the latent and the log-magnitude MSE (seed: 1, 3)
    encoder_real : weight of the log-magnitude MSE between G(E(x)) and x for the first
        ``encoder_batch`` real training clips of each batch, added to the seed's loss (0 = the seed's
        generated sounds only). Ours, as the style family's ``encoder_real`` (docs/style.md): a real
        sound lies off the generator's manifold, and only a loss measured on real sounds tells the
        encoder which point of it sounds closest; the gradient passes through the frozen G into E only
    select_per_class : 0 = the encoder inverts the generator as the GAN schedule leaves it. N > 0 =
        at every validation of the last stage after its fade-in, N hits per class from fixed latents
        are judged by the drum classifier (the one that gave the soft labels), and the encoder phase
        starts from the generator with the highest class agreement (``valid/class_agreement``): GAN
        checkpoint selection on a validation score, as FID-based selection is elsewhere. Ours.
    critic_hears_release : at the last scale, the critic judges real and generated channels as the
        release plays them (:func:`recipe.played`: the edge frames zeroed, inverse STFT, STFT again), so
        the generator is scored on the sound it makes, not on spectrogram parts the inverse STFT discards.
        Ours (issue 14: the shipped generator's spectrograms lose more than half of their energy through
        the inverse STFT, and its cymbal ticks come from that disagreement; docs/drumgan.md, session 11)
    class_spectrum : weight of the class-spectrum term at the last scale (the dB gap between the per-class
        mean log-spectrograms of the generated and the real clips of a step, as the style family's; 0 = off).
        Ours (issue 14: run 5's kicks and snares keep a broadband floor 35-41 dB down in their decay, where
        the real kits have -92 dB, and the Wasserstein critic lets it be; in dB it is as large as the
        attack; docs/drumgan.md, session 13)
    class_ripple : weight of the class-ripple term at the last scale: the same gap on each band's mean
        absolute second difference over 2.9 ms cells of the released sounds' log-spectrograms
        (:func:`drumsynth.nn.wave.spectral_ripple`), so that generated hits jump from one cell to the next
        as much as real ones do, and no more; 0 = off.
        Ours (issue 14: run 5's ticks are broadband frames louder than their neighbours; docs/drumgan.md,
        session 14)
    wave_critic : weight of the generator's least-squares loss against a second critic at the last scale, a
        multi-resolution spectrogram critic (:class:`drumsynth.nn.wave_critic.MultiResolutionCritic`) that
        judges the released sounds against the step's real clips on log-magnitude STFTs, the finest with
        2.9 ms hops; 0 = off. Ours (issue 14: run 5's ticks are 2.9 ms broadband frames, and the Wasserstein
        critic sees 11.6 ms frames; docs/drumgan.md, session 15)
    wave_critic_ffts, wave_critic_channels, wave_critic_lr : that critic's FFT sizes (hop a quarter of each),
        conv widths and Adam learning rate (betas 0.5, 0.9)
    log_every, checkpoint_every, preview_every, preview_n, valid_every, ema_decay, seed, threads :
        Trainer cadence and settings (``ema_decay`` unused: see ``g_ema_decay``)
    """

    max_steps: int = 200000
    stage_steps: list[int] = field(default_factory=lambda: [16000, 16000, 16000, 24000, 32000, 48000])
    fade_fraction: float = 0.5
    batch_size: list[int] = field(default_factory=lambda: [64, 64, 64, 32, 32, 16])
    lr: list[float] = field(default_factory=lambda: [1e-3] * 6)
    adam_betas: list[float] = field(default_factory=lambda: [0.0, 0.99])
    gp_weight: float = 10.0
    drift_weight: float = 0.001
    aux_weight: float = 10.0
    g_ema_decay: float = 0.999
    encoder_batch: int = 28
    encoder_lr: float = 1e-4
    encoder_alpha: float = 1.0
    encoder_beta: float = 3.0
    encoder_real: float = 0.0
    select_per_class: int = 0
    critic_hears_release: bool = False
    class_spectrum: float = 0.0
    class_ripple: float = 0.0
    wave_critic: float = 0.0
    wave_critic_ffts: list[int] = field(default_factory=lambda: [512, 1024, 2048])
    wave_critic_channels: list[int] = field(default_factory=lambda: [8, 16, 32, 32])
    wave_critic_lr: float = 2e-4
    log_every: int = 100
    checkpoint_every: int = 2000
    preview_every: int = 0
    preview_n: int = 6
    valid_every: int = 2000
    ema_decay: float = 0.999
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "train", {
            "max_steps": "count", "stage_steps": "non_negative", "fade_fraction": "share",
            "batch_size": "count", "lr": "positive", "adam_betas": "decay", "gp_weight": "non_negative",
            "drift_weight": "non_negative", "aux_weight": "non_negative", "g_ema_decay": "decay",
            "encoder_batch": "count", "encoder_lr": "positive", "encoder_alpha": "non_negative",
            "encoder_beta": "non_negative", "encoder_real": "non_negative", "select_per_class": "non_negative",
            "class_spectrum": "non_negative", "class_ripple": "non_negative", "wave_critic": "non_negative",
            "wave_critic_ffts": "count", "wave_critic_channels": "count", "wave_critic_lr": "positive",
            "log_every": "non_negative", "checkpoint_every": "non_negative", "preview_every": "non_negative", "preview_n": "non_negative",
            "valid_every": "non_negative", "ema_decay": "share", "seed": "non_negative",
            "threads": "non_negative"})


@dataclass
class Config:
    """Root of the drumgan schema."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def full_size(data: DataConfig) -> tuple[int, int]:
    """(frequency bins, frames) of one clip: (n_fft // 2, 1 + length // hop_length)."""
    return data.n_fft // 2, 1 + data.length // data.hop_length


def scale_sizes(config: Config) -> list[tuple[int, int]]:
    """(bins, frames) at every scale, coarsest first; the last is :func:`full_size`."""
    f, n = full_size(config.data)
    sizes = [(f, n)]
    for ff, ft in reversed(config.model.factors):
        f, n = f // ff, n // ft
        sizes.append((f, n))
    return sizes[::-1]


def gan_steps(train: TrainConfig) -> int:
    """Steps of the progressive GAN schedule (the encoder trains after them)."""
    return sum(train.stage_steps)


def check(config: Config) -> Config:
    """Raise ``DrumsynthError`` for settings that cannot build a working model."""
    d, m, e, t = config.data, config.model, config.encoder, config.train
    for name, value in (("data.sr", d.sr), ("data.length", d.length), ("data.n_fft", d.n_fft),
                        ("data.hop_length", d.hop_length), ("model.latent_dim", m.latent_dim),
                        ("train.encoder_batch", t.encoder_batch)):
        if value <= 0:
            raise DrumsynthError(f"{name} must be positive, got {value!r}")
    if not 0 < d.magnitude_power <= 1:
        raise DrumsynthError(f"data.magnitude_power must be in (0, 1], got {d.magnitude_power}")
    if 0 not in d.pitch_semitones:
        raise DrumsynthError(f"data.pitch_semitones must include 0 (the clips themselves), got {d.pitch_semitones}")
    if d.encoder_floor_db <= 0:
        raise DrumsynthError(f"data.encoder_floor_db must be positive, got {d.encoder_floor_db}")
    n_scales = len(m.channels)
    if n_scales < 1 or any(c <= 0 for c in m.channels):
        raise DrumsynthError(f"model.channels must list positive widths, got {m.channels}")
    if len(m.factors) != n_scales - 1 or any(len(f) != 2 or min(f) < 1 for f in m.factors):
        raise DrumsynthError(f"model.factors needs {n_scales - 1} [frequency, time] pairs >= 1, got {m.factors}")
    f, n = full_size(d)
    pf = math.prod(x[0] for x in m.factors)
    pt = math.prod(x[1] for x in m.factors)
    if f % pf or n % pt:
        raise DrumsynthError(f"the spectrogram ({f} bins x {n} frames) is not divisible by the product of "
                             f"model.factors ({pf} x {pt})")
    for name, values in (("train.stage_steps", t.stage_steps), ("train.batch_size", t.batch_size),
                         ("train.lr", t.lr)):
        if len(values) != n_scales:
            raise DrumsynthError(f"{name} needs one entry per scale ({n_scales}), got {values}")
    if any(rate <= 0 for rate in t.lr):
        raise DrumsynthError(f"train.lr must be positive at every scale, got {t.lr}")
    if t.wave_critic > 0 and max(t.wave_critic_ffts) > d.length:
        raise DrumsynthError(f"train.wave_critic_ffts ({max(t.wave_critic_ffts)}) must fit a clip "
                             f"(data.length {d.length})")
    if any(s < 0 for s in t.stage_steps) or any(b < 2 for b in t.batch_size):
        raise DrumsynthError("train.stage_steps must be >= 0 and train.batch_size >= 2 (minibatch stddev)")
    if t.stage_steps[-1] < 1:
        raise DrumsynthError("train.stage_steps must spend at least one step at the full scale")
    if not 0 <= t.fade_fraction <= 1:
        raise DrumsynthError(f"train.fade_fraction must be in [0, 1], got {t.fade_fraction}")
    if not 0 <= t.g_ema_decay < 1:
        raise DrumsynthError(f"train.g_ema_decay must be in [0, 1), got {t.g_ema_decay}")
    if t.select_per_class < 0:
        raise DrumsynthError(f"train.select_per_class must be >= 0, got {t.select_per_class}")
    if len(e.channels) != len(e.strides) or any(len(s) != 2 for s in e.strides):
        raise DrumsynthError("encoder.strides needs one [frequency, time] pair per encoder.channels entry")
    return config


def generator_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.drumgan.networks.Generator` (and the critic)."""
    return {"latent_dim": config.model.latent_dim, "n_classes": n_classes, "channels": list(config.model.channels),
            "sizes": scale_sizes(config)}


def encoder_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.drumgan.encoder.Encoder`."""
    e = config.encoder
    return {"input_size": full_size(config.data), "latent_dim": config.model.latent_dim, "n_classes": n_classes,
            "channels": list(e.channels), "strides": [tuple(s) for s in e.strides], "fc": list(e.fc)}
