"""The style schema: one dataclass tree; presets (``presets/*.toml``) overlay its defaults.

Defaults are the seed's values where the seed or the authors' code gives them (Drysdale, Tomczak,
Hockman, ISMIR 2021 LBD; DESIGN.md §1): 44.1 kHz, T = 16384, z of 128, w of 128, a 50-d label embedding
through a dense layer to 128 concatenated with z, a 3-layer mapping MLP, one w per synthesis block through
an affine into AdaIN, per-block noise with learned per-channel scales, a critic with the label as an extra
channel and phase shuffle, WGAN-GP, Adam 0.002 for both networks, batch 64, pitch shift of ±3 semitones.
Where the seed is silent (widths, the style-mixing probability, the encoder's spectral term, the number
of faders) the values are ours and docs/style.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drumsynth.config import check_domains
from drumsynth.data.taxonomy import CLASSES, CLASSES3
from drumsynth.errors import DrumsynthError
from drumsynth.nn.wave import UPSAMPLE, check_upsampling, scale_lengths

# Layer groups of the style faders: thirds of the synthesis layers, coarsest first.
LAYER_GROUPS = ("low", "mid", "high")


@dataclass
class DataConfig:
    """Audio. These travel with the model.

    sr, length : sample rate (Hz) and clip length T in samples (seed: 44100, 16384)
    three_class : the corpus's 3-class view (kick, snare incl. claps, cymbal incl. hats) when True; the
        cache's own 8 classes when False (a prepared folder's labels)
    fade_in, fade_out : linear fades in samples at both ends (fade-out where a clip had to be cut)
    pitch_semitones : pitch-shift augmentation: every training clip is played back at a whole number of
        semitones in [-s, s], drawn uniformly (seed: 3, its "x7 data"); 0 = off
    max_items : at most this many clips per split (tests); 0 = all
    """

    sr: int = 44100
    length: int = 16384
    three_class: bool = True
    fade_in: int = 16
    fade_out: int = 64
    pitch_semitones: int = 3
    max_items: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "data", {"sr": "count", "length": "count", "fade_in": "non_negative",
                                     "fade_out": "non_negative", "pitch_semitones": "non_negative",
                                     "max_items": "non_negative"})


@dataclass
class ModelConfig:
    """Mapping network, synthesis network, critic and encoder.

    latent_dim, style_dim : z and w (seed: 128, 128)
    embed_dim : the label embedding, which a dense layer takes to ``style_dim`` before it joins z (seed: 50)
    mapping_layers : dense layers of the mapping MLP after the concatenation (authors' code: 3)
    channels : synthesis feature channels at each length, coarsest first: ``channels[0]`` on the learned
        constant of ``length / 4**(len(channels) - 1)`` samples, ``channels[s]`` after block ``s``; the
        critic and the encoder mirror them. ``len(channels)`` style layers (the constant's and one per block)
    kernel_size : every block's convolution
    phase_shuffle : the critic's phase shuffle s, in samples (seed: 2; 0 = off)
    start_length : progressive growing: the clip length of the first stage; 0 = every step at full length
    envelope_length : 0 = the seed's network. N (ours) = from clip length N on, the output is multiplied by
        a decay envelope of layer 0's style, two exponential decays mixed (time constants 2 ms to 4 s), so
        that silence after a decay is silence whatever the noise inputs and the AdaIN biases leave there
        (docs/style.md, "Decay envelope"). N must be one of the clip lengths
    upsampling : how every synthesis block up-samples by 4, one of ``drumsynth.nn.wave.UPSAMPLINGS`` (the
        seed's "nearest"; "linear" and "kaiser" filter the coarse scale's images, see that module)
    """

    latent_dim: int = 128
    style_dim: int = 128
    embed_dim: int = 50
    mapping_layers: int = 3
    channels: list[int] = field(default_factory=lambda: [512, 512, 256, 128, 64, 32])
    kernel_size: int = 25
    phase_shuffle: int = 2
    start_length: int = 0
    envelope_length: int = 0
    upsampling: str = "nearest"

    def __post_init__(self) -> None:
        check_domains(self, "model", {"latent_dim": "count", "style_dim": "count", "embed_dim": "count",
                                      "mapping_layers": "count", "channels": "count", "kernel_size": "count",
                                      "phase_shuffle": "non_negative", "start_length": "non_negative",
                                      "envelope_length": "non_negative"})
        check_upsampling(self.upsampling)


@dataclass
class PcaConfig:
    """Principal feature directions (GANSpace, seed §2.2): computed when a model loads, never trained.

    samples : codes z drawn per class to fit the PCA of w (issue: at least 10,000)
    faders : style faders offered, the leading principal directions (the seed's "preset number")
    seed : the draws' seed (the same release always gives the same directions)
    """

    samples: int = 10000
    faders: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "pca", {"samples": "count", "faders": "count", "seed": "non_negative"})


@dataclass
class TrainConfig:
    """WGAN-GP training of M, G and D, then the encoder E on generated pairs.

    max_steps : GAN steps plus ``encoder_steps``; the encoder trains in the last ``encoder_steps``
    batch_size, n_critic, lr, adam_betas, gp_weight : WGAN-GP (seed: batch 64, Adam 0.002; 5 critic
        updates per generator update and lambda 10 as in WaveGAN)
    mixing_prob : share of generator batches drawn with two codes of the same class, the second
        taking over from a random layer on (StyleGAN's style mixing regularisation)
    stage_steps, fade_fraction : progressive growing (one entry per length from ``model.start_length``)
    class_spectrum : weight of the class-spectrum distance (:func:`drumsynth.nn.wave.class_spectrum_distance`)
        added to the generator loss at full length (ours; 0 = the seed's adversarial loss alone)
    select_per_class : N > 0 = every validation at full length after the last fade-in judges N hits per
        class from fixed codes with the drum classifier (``valid/class_agreement``); the encoder phase
        starts from the best generator so judged. 3-class models only
    encoder_steps, encoder_batch, encoder_lr : the encoder phase; each step draws ``encoder_batch`` fresh
        codes, so the encoder sees ``encoder_steps * encoder_batch`` (w, G(w)) pairs (issue: >= 10,000)
    encoder_spectral : weight of the spectral distance between G(E(x)) and x added to the seed's MSE on
        w (0 = the seed's loss alone)
    encoder_real : weight of the same spectral distance on a batch of real training clips per step
        (ours: the seed trains on generated sounds only, and real sounds lie off the generator's manifold)
    n_ffts : STFT sizes of that spectral distance
    log_every ... threads : Trainer cadence and settings (``ema_decay`` unused: the generator itself is
        released, as drumgan's moving average added a broadband floor at this training length)
    """

    max_steps: int = 200000
    batch_size: int = 64
    n_critic: int = 5
    lr: float = 2e-3
    adam_betas: list[float] = field(default_factory=lambda: [0.0, 0.99])
    gp_weight: float = 10.0
    mixing_prob: float = 0.9
    stage_steps: list[int] = field(default_factory=list)
    fade_fraction: float = 0.5
    class_spectrum: float = 0.0
    select_per_class: int = 0
    encoder_steps: int = 5000
    encoder_batch: int = 64
    encoder_lr: float = 1e-4
    encoder_spectral: float = 0.0
    encoder_real: float = 0.0
    n_ffts: list[int] = field(default_factory=lambda: [2048, 512, 128])
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
            "adam_betas": "decay", "gp_weight": "non_negative", "mixing_prob": "share",
            "stage_steps": "non_negative", "fade_fraction": "share", "class_spectrum": "non_negative",
            "select_per_class": "non_negative",
            "encoder_steps": "non_negative", "encoder_batch": "count", "encoder_lr": "positive",
            "encoder_spectral": "non_negative", "encoder_real": "non_negative", "n_ffts": "count", "log_every": "non_negative",
            "checkpoint_every": "non_negative", "preview_every": "non_negative", "preview_n": "non_negative",
            "valid_every": "non_negative", "ema_decay": "share", "seed": "non_negative",
            "threads": "non_negative"})


@dataclass
class Config:
    """Root of the style schema."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pca: PcaConfig = field(default_factory=PcaConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def lengths(config: Config) -> list[int]:
    """Clip length at every scale, coarsest first; the last is T."""
    return scale_lengths(config.data.length, len(config.model.channels) - 1)


def first_scale(config: Config) -> int:
    """The scale training starts at: ``model.start_length``'s, or the last (no growing)."""
    sizes = lengths(config)
    start = config.model.start_length
    return sizes.index(start) if start else len(sizes) - 1


def gan_steps(train: TrainConfig) -> int:
    """Steps of the GAN phase; the encoder trains after them."""
    return train.max_steps - train.encoder_steps


def class_names(data: DataConfig) -> tuple[str, ...]:
    """The model's classes: the 3-class view or the cache's 8."""
    return CLASSES3 if data.three_class else CLASSES


def layer_group(n_layers: int, group: str) -> list[int]:
    """The style layers of a fader group: ``"all"``, ``"low"``/``"mid"``/``"high"`` (thirds of the
    ``n_layers`` layers, coarsest first; the middle third takes the remainder), or one layer index."""
    if group == "all":
        return list(range(n_layers))
    if group in LAYER_GROUPS:
        third = n_layers // 3
        bounds = {"low": (0, third), "mid": (third, n_layers - third), "high": (n_layers - third, n_layers)}
        lo, hi = bounds[group]
        return list(range(lo, hi))
    if group.isdigit() and int(group) < n_layers:
        return [int(group)]
    raise DrumsynthError(f"style layers must be 'all', 'low', 'mid', 'high' or a layer index 0..{n_layers - 1}, "
                         f"got {group!r}")


def check(config: Config) -> Config:
    """Raise ``DrumsynthError`` for settings that cannot build a working model."""
    d, m, t = config.data, config.model, config.train
    n_blocks = len(m.channels) - 1
    if n_blocks < 2:
        raise DrumsynthError(f"model.channels needs at least 3 widths (two blocks, three style layers), got {m.channels}")
    if d.length % UPSAMPLE ** n_blocks:
        raise DrumsynthError(f"data.length {d.length} is not divisible by 4**{n_blocks} "
                             f"(model.channels has {n_blocks} blocks)")
    if m.kernel_size % 2 == 0 or m.kernel_size < 3:
        raise DrumsynthError(f"model.kernel_size must be odd and >= 3, got {m.kernel_size}")
    sizes = lengths(config)
    shuffled = sizes[1:-1]
    if m.phase_shuffle and shuffled and min(shuffled) <= m.phase_shuffle:
        raise DrumsynthError(f"model.phase_shuffle {m.phase_shuffle} needs every shuffled critic layer longer "
                             f"than it; the shortest is {min(shuffled)} samples")
    if sizes[0] < 2:
        raise DrumsynthError(f"the learned constant needs at least 2 samples for instance normalisation; "
                             f"data.length {d.length} gives {sizes[0]}")
    if m.start_length:
        if m.start_length not in sizes:
            raise DrumsynthError(f"model.start_length {m.start_length} is not one of the lengths {sizes}")
        n_stages = len(sizes) - sizes.index(m.start_length)
        if len(t.stage_steps) != n_stages:
            raise DrumsynthError(f"train.stage_steps needs one entry per length from {m.start_length} to "
                                 f"{d.length} ({n_stages}), got {t.stage_steps}")
        if sum(t.stage_steps) != gan_steps(t):
            raise DrumsynthError(f"train.stage_steps add up to {sum(t.stage_steps)}, but the GAN phase has "
                                 f"max_steps - encoder_steps = {gan_steps(t)} steps")
    if m.envelope_length and m.envelope_length not in sizes:
        raise DrumsynthError(f"model.envelope_length {m.envelope_length} is not one of the lengths {sizes}")
    if gan_steps(t) < 1:
        raise DrumsynthError(f"train.max_steps ({t.max_steps}) must exceed train.encoder_steps ({t.encoder_steps})")
    if len(t.adam_betas) != 2:
        raise DrumsynthError(f"train.adam_betas needs two values, got {t.adam_betas}")
    if t.select_per_class and not d.three_class:
        raise DrumsynthError("train.select_per_class judges with the 3-class drum classifier: it needs "
                             "data.three_class = true")
    if config.pca.faders > m.style_dim:
        raise DrumsynthError(f"pca.faders ({config.pca.faders}) cannot exceed model.style_dim ({m.style_dim})")
    return config


def generator_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.style.networks.StyleGenerator`."""
    m = config.model
    return {"latent_dim": m.latent_dim, "style_dim": m.style_dim, "n_classes": n_classes, "embed_dim": m.embed_dim,
            "mapping_layers": m.mapping_layers, "channels": list(m.channels), "length": config.data.length,
            "kernel_size": m.kernel_size, "first_scale": first_scale(config),
            "envelope_scale": lengths(config).index(m.envelope_length) if m.envelope_length else None,
            "upsampling": m.upsampling}


def critic_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.nn.wave.Critic`."""
    m = config.model
    return {"n_classes": n_classes, "embed_dim": m.embed_dim, "channels": list(m.channels),
            "length": config.data.length, "kernel_size": m.kernel_size, "first_scale": first_scale(config),
            "phase_shuffle": m.phase_shuffle}


def encoder_kwargs(config: Config) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.style.networks.Encoder`."""
    m = config.model
    return {"style_dim": m.style_dim, "channels": list(m.channels), "length": config.data.length,
            "kernel_size": m.kernel_size}
