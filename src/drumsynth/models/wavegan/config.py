"""The wavegan schema: one dataclass tree; presets (``presets/*.toml``) overlay its defaults.

Defaults are the seed's values where the seed gives them (Drysdale et al., DAFx 2020, and the authors'
README as quoted in DESIGN.md: 44.1 kHz, T = 16384, z of 100, a 50-d class embedding, 5 blocks of x4
nearest up-sampling + kernel-25 convolution, 1024 filters at most, phase shuffle s = 2, WGAN-GP
lambda 10, 5 critic updates per generator update, Adam 2e-4 with betas (0.5, 0.99), batch 64,
progressive growing from 256 samples). Where the seed is silent (the 1x1 to/from-waveform layers,
the class in every generator block, GAN inversion) the values are ours and docs/wavegan.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drumsynth.config import check_domains
from drumsynth.data.taxonomy import CLASSES, CLASSES3
from drumsynth.errors import DrumsynthError
from drumsynth.nn.wave import UPSAMPLE, check_upsampling, scale_lengths


@dataclass
class DataConfig:
    """Audio. These travel with the model.

    sr, length : sample rate (Hz) and clip length T in samples (seed: 44100, 16384)
    three_class : the corpus's 3-class view (kick, snare incl. claps, cymbal incl. hats; the seed's
        classes) when True; the cache's own 8 classes when False (a prepared folder's labels)
    fade_in, fade_out : linear fades in samples (the seed's "short linear fade" at both ends; the
        fade-out is applied where a clip had to be cut, a zero-padded clip already ends at 0)
    max_items : at most this many clips per split (tests); 0 = all
    """

    sr: int = 44100
    length: int = 16384
    three_class: bool = True
    fade_in: int = 16
    fade_out: int = 64
    max_items: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "data", {"sr": "count", "length": "count", "fade_in": "non_negative",
                                     "fade_out": "non_negative", "max_items": "non_negative"})


@dataclass
class ModelConfig:
    """Generator and critic (mirrored).

    latent_dim : z (seed: 100; the authors' README default: 3, a directly explorable space)
    embed_dim : the class embedding w (seed: 50)
    channels : feature channels at each length, coarsest first: ``channels[0]`` at ``length /
        4**(len(channels) - 1)`` samples (the dense layer's output), ``channels[s]`` after block ``s``.
        ``len(channels) - 1`` blocks (seed: 5)
    kernel_size : every block's convolution (seed: 25)
    phase_shuffle : the critic's phase shuffle s, in samples (seed: 2; 0 = off)
    class_every_block : the class embedding also enters every generator block after the first as a
        per-channel bias of its up-sampled input (ours: drumgan's lesson, docs/drumgan.md)
    start_length : progressive growing: the clip length of the first stage (seed: 256); 0 = no
        growing, every step at full length
    upsampling : how every generator block up-samples by 4, one of ``drumsynth.nn.wave.UPSAMPLINGS``
        (seed: "nearest"; "linear" and "kaiser" filter the coarse scale's images, see that module)
    envelope_length : 0 = the seed's network. N (ours) = from clip length N on, the output is multiplied by
        a decay envelope of [z, class embedding] (``drumsynth.nn.envelope.DecayEnvelope``, style's and
        drumgan's), so that a hit can end before the clip does (docs/wavegan.md, "Networks").
        N must be one of the clip lengths
    """

    latent_dim: int = 100
    embed_dim: int = 50
    channels: list[int] = field(default_factory=lambda: [1024, 512, 256, 128, 64, 32])
    kernel_size: int = 25
    phase_shuffle: int = 2
    class_every_block: bool = True
    start_length: int = 0
    upsampling: str = "nearest"
    envelope_length: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "model", {"latent_dim": "count", "embed_dim": "count", "channels": "count",
                                      "kernel_size": "count", "phase_shuffle": "non_negative",
                                      "start_length": "non_negative", "envelope_length": "non_negative"})
        check_upsampling(self.upsampling)


@dataclass
class InvertConfig:
    """GAN inversion (the model's ``encode``/``analyze``): optimise z (and the class weights) so that
    the generated hit's multi-resolution log-magnitude spectrum matches the sound's. Ours; the seed
    has no encoder.

    steps : Adam steps per sound (the budget)
    candidates : seeded latents screened for starting points (z = 0 and draws from N(0, I); with free
        class weights each is tried leaning towards every class): forward passes only
    restarts : starting points per sound, the screened candidates nearest the sound; the best final loss
        wins
    lr : Adam learning rate of z and of the class logits
    n_ffts : STFT sizes of the spectral loss (hop n_fft / 4)
    seed : seed of the restarts' starting points (the same sound gives the same latent)
    """

    steps: int = 30
    candidates: int = 32
    restarts: int = 1
    lr: float = 0.05
    n_ffts: list[int] = field(default_factory=lambda: [2048, 512, 128])
    seed: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "invert", {"steps": "count", "candidates": "count", "restarts": "count", "lr": "positive",
                                       "n_ffts": "count", "seed": "non_negative"})
        if self.restarts > self.candidates:
            raise DrumsynthError(f"invert.restarts ({self.restarts}) cannot exceed invert.candidates "
                                 f"({self.candidates}): starts are chosen among the candidates")


@dataclass
class TrainConfig:
    """WGAN-GP training.

    batch_size : clips per critic update and per generator update (seed: 64)
    n_critic : critic updates per generator update (seed: 5); one training step does all of them
    lr, adam_betas : Adam for both networks (seed: 2e-4, (0.5, 0.99))
    gp_weight : WGAN-GP lambda (seed: 10)
    stage_steps : progressive growing: steps at each length from ``model.start_length`` up to
        ``data.length`` (one entry per length); ignored without growing
    fade_fraction : share of a stage (after the first) spent fading the new block in linearly
    select_per_class : N > 0 = every validation at full length (after the last fade-in) judges N hits
        per class from fixed latents with the drum classifier (``valid/class_agreement``), and
        keep-best writes the best generator to ``best.pt`` (drumgan's lesson: select the released
        generator by class agreement). 3-class models only
    log_every, checkpoint_every, preview_every, preview_n, valid_every, ema_decay, seed, threads :
        Trainer cadence and settings (``ema_decay`` unused: the generator itself is released, as
        drumgan's moving average added a broadband floor at this training length)
    """

    max_steps: int = 50000
    batch_size: int = 64
    n_critic: int = 5
    lr: float = 2e-4
    adam_betas: list[float] = field(default_factory=lambda: [0.5, 0.99])
    gp_weight: float = 10.0
    stage_steps: list[int] = field(default_factory=list)
    fade_fraction: float = 0.5
    select_per_class: int = 0
    log_every: int = 100
    checkpoint_every: int = 1000
    preview_every: int = 0
    preview_n: int = 6
    valid_every: int = 1000
    ema_decay: float = 0.999
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "train", {
            "max_steps": "count", "batch_size": "count", "n_critic": "count", "lr": "positive",
            "adam_betas": "decay", "gp_weight": "non_negative", "stage_steps": "non_negative",
            "fade_fraction": "share", "select_per_class": "non_negative", "log_every": "non_negative",
            "checkpoint_every": "non_negative", "preview_every": "non_negative", "preview_n": "non_negative",
            "valid_every": "non_negative", "ema_decay": "share", "seed": "non_negative",
            "threads": "non_negative"})


@dataclass
class Config:
    """Root of the wavegan schema."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    invert: InvertConfig = field(default_factory=InvertConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def lengths(config: Config) -> list[int]:
    """Clip length at every scale, coarsest first: ``length / 4**(n_blocks - s)``; the last is T."""
    return scale_lengths(config.data.length, len(config.model.channels) - 1)


def first_scale(config: Config) -> int:
    """The scale training starts at: ``model.start_length``'s, or the last (no growing)."""
    sizes = lengths(config)
    start = config.model.start_length
    return sizes.index(start) if start else len(sizes) - 1


def class_names(data: DataConfig) -> tuple[str, ...]:
    """The model's classes: the 3-class view or the cache's 8."""
    return CLASSES3 if data.three_class else CLASSES


def check(config: Config) -> Config:
    """Raise ``DrumsynthError`` for settings that cannot build a working model."""
    d, m, t = config.data, config.model, config.train
    n_blocks = len(m.channels) - 1
    if n_blocks < 1:
        raise DrumsynthError(f"model.channels needs at least 2 widths (one block), got {m.channels}")
    if d.length % UPSAMPLE ** n_blocks:
        raise DrumsynthError(f"data.length {d.length} is not divisible by 4**{n_blocks} "
                             f"(model.channels has {n_blocks} blocks)")
    if m.kernel_size % 2 == 0 or m.kernel_size < 3:
        raise DrumsynthError(f"model.kernel_size must be odd and >= 3 (same-length convolutions, and the "
                             f"critic's stride-4 padding of kernel_size // 2 - 1), got {m.kernel_size}")
    sizes = lengths(config)
    # Reflection padding needs more samples than the shift at every shuffled layer (lengths[1:-1]).
    shuffled = sizes[1:-1]
    if m.phase_shuffle and shuffled and min(shuffled) <= m.phase_shuffle:
        raise DrumsynthError(f"model.phase_shuffle {m.phase_shuffle} needs every shuffled critic layer longer "
                             f"than it; the shortest is {min(shuffled)} samples")
    if m.envelope_length and m.envelope_length not in sizes:
        raise DrumsynthError(f"model.envelope_length {m.envelope_length} is not one of the lengths {sizes}")
    if m.start_length:
        if m.start_length not in sizes:
            raise DrumsynthError(f"model.start_length {m.start_length} is not one of the lengths {sizes}")
        n_stages = len(sizes) - sizes.index(m.start_length)
        if len(t.stage_steps) != n_stages:
            raise DrumsynthError(f"train.stage_steps needs one entry per length from {m.start_length} to "
                                 f"{d.length} ({n_stages}), got {t.stage_steps}")
        if t.stage_steps[-1] < 1:
            raise DrumsynthError("train.stage_steps must spend at least one step at full length")
    if not 0 <= t.fade_fraction <= 1:
        raise DrumsynthError(f"train.fade_fraction must be in [0, 1], got {t.fade_fraction}")
    if len(t.adam_betas) != 2:
        raise DrumsynthError(f"train.adam_betas needs two values, got {t.adam_betas}")
    if t.select_per_class and not d.three_class:
        raise DrumsynthError("train.select_per_class judges with the 3-class drum classifier: it needs "
                             "data.three_class = true")
    return config


def generator_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.wavegan.networks.Generator`."""
    m = config.model
    return {"latent_dim": m.latent_dim, "n_classes": n_classes, "embed_dim": m.embed_dim,
            "channels": list(m.channels), "length": config.data.length, "kernel_size": m.kernel_size,
            "first_scale": first_scale(config), "class_every_block": m.class_every_block,
            "upsampling": m.upsampling,
            "envelope_scale": lengths(config).index(m.envelope_length) if m.envelope_length else None}


def critic_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.wavegan.networks.Critic`."""
    m = config.model
    return {"n_classes": n_classes, "embed_dim": m.embed_dim, "channels": list(m.channels),
            "length": config.data.length, "kernel_size": m.kernel_size, "first_scale": first_scale(config),
            "phase_shuffle": m.phase_shuffle}
