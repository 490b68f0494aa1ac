"""The ndm schema: one dataclass tree; presets (``presets/*.toml``) overlay its defaults.

The defaults are the seed's own values where the seed gives them (Aouameur et al. 2019: 22.05 kHz,
22015 samples, Hann 1024 / hop 256 / n_fft 2048, 512 mel bins, conv kernel (11, 5) stride (3, 2)
padding (5, 2), FC 1024 -> 512 -> 64, beta 10, MCNN 8 heads x 8 layers of width 13 and stride 2,
loss weights 3 / 10 / 1). Models never import this module: :func:`wae_kwargs` and
:func:`mcnn_kwargs` turn it into plain keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from drumsynth.config import check_domains
from drumsynth.errors import DrumsynthError


@dataclass
class DataConfig:
    """Audio and features. These travel with the model (inference reads them from the checkpoint).

    sr : sample rate of the model (Hz)
    length : clip length in samples (zero-padded or cut, then peak-normalised)
    n_fft, win_length, hop_length : STFT (Hann window of ``win_length`` centred in ``n_fft``)
    n_mels : mel bins (librosa slaney filters, fmin 0, fmax sr / 2)
    log_eps : the CWAE works on ``log(mel + log_eps)`` (mel magnitudes, power 1)
    std_floor : per-element standard deviations below this are raised to it (padding is constant)
    fade_out : linear fade (samples) applied when a clip had to be cut to ``length``
    max_items : use at most this many clips per split (tests); 0 = all
    pitch_semitones : varispeed pitch-shifted copies of every *training* clip (0 = the clip itself);
        a regulariser for small corpora (the valid and test splits are never shifted)
    """

    sr: int = 22050
    length: int = 22015
    n_fft: int = 2048
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 512
    log_eps: float = 1e-4
    std_floor: float = 0.05
    fade_out: int = 64
    max_items: int = 0
    pitch_semitones: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        check_domains(self, "data", {"sr": "count", "length": "count", "n_fft": "count", "win_length": "count",
                                     "hop_length": "count", "n_mels": "count", "log_eps": "positive",
                                     "std_floor": "positive", "fade_out": "non_negative",
                                     "max_items": "non_negative"})


@dataclass
class ModelConfig:
    """The conditional Wasserstein autoencoder (CWAE).

    channels : output channels of the encoder's conv blocks (the decoder mirrors them)
    kernel, stride, padding : (frequency, time) geometry of every conv block
    fc : hidden FC sizes from the conv stack towards the latent (seed: 1024, 512)
    latent_dim : d_z
    decoder_label_input : also concatenate the class weights to z at the decoder input (the seed's
        server "concatenates z with the conditioning vector"); conditional BN conditions both ways
    """

    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    kernel: list[int] = field(default_factory=lambda: [11, 5])
    stride: list[int] = field(default_factory=lambda: [3, 2])
    padding: list[int] = field(default_factory=lambda: [5, 2])
    fc: list[int] = field(default_factory=lambda: [1024, 512])
    latent_dim: int = 64
    decoder_label_input: bool = True

    def __post_init__(self) -> None:
        check_domains(self, "model", {"channels": "count", "kernel": "count", "stride": "count",
                                      "padding": "non_negative", "fc": "count", "latent_dim": "count"})


@dataclass
class MCNNConfig:
    """The multi-head CNN inverter (mel frames -> waveform).

    heads : number of heads
    layers : transposed-conv layers per head; ``2 ** layers`` must equal ``data.hop_length``
    width : filter width of every layer (stride 2)
    channels : output channels of the first layer; they halve towards the output (floor 2, and the
        last layer always has 2: signal and mask logit). ``drumsynth train --init`` from a narrower model
        starts from its function, the new channels learning (:func:`drumsynth.models.ndm.mcnn.widened_weight`)
    mask_threshold_db : a target sample is "sound" when the envelope (max |x| over
        ``mask_window`` samples, centred) is within this many dB of full scale (clips peak at 1)
    mask_window : envelope window in samples (odd)
    mel_rank : 0 = the seed's first layer over all mel bins; r > 0 = each mel frame projected to r
        channels first (a low-rank first layer, ours: ~1/7 of its multiplies at r = 32). ``drumsynth train
        --init`` from a model without it fits the two factors to the training frames
        (:func:`drumsynth.models.ndm.mcnn.factor_first_layer`)
    mixed_layers : 0 = separate heads (the seed); n > 0 = the last n layers before the output read every
        head's channels (ours: no extra time, see :class:`drumsynth.models.ndm.mcnn.MCNN`). ``drumsynth train
        --init`` from a model with separate heads starts from the same function (zero off the heads' blocks)
    """

    heads: int = 8
    layers: int = 8
    width: int = 13
    channels: int = 128
    mel_rank: int = 0
    mixed_layers: int = 0
    mask_threshold_db: float = -60.0
    mask_window: int = 255

    def __post_init__(self) -> None:
        check_domains(self, "mcnn", {"heads": "count", "layers": "count", "width": "count", "channels": "count",
                                     "mask_window": "count", "mel_rank": "non_negative",
                                     "mixed_layers": "non_negative"})


@dataclass
class TrainConfig:
    """Optimisation of both networks (one Recipe; a WAE step and an MCNN step per iteration).

    max_steps : training iterations (each one WAE update and one MCNN update)
    per_class : clips per class in a class-balanced WAE batch (batch = per_class x classes)
    beta : weight of the per-class MMD (key ``loss/mmd``)
    mmd_scales : the IMQ kernel is summed over ``C = 2 * latent_dim * s`` for each scale ``s``
    lr, adam_betas : Adam for the WAE
    plateau_window, plateau_patience, plateau_factor, min_lr : the learning rate is multiplied by
        ``plateau_factor`` when the mean training loss of a window of ``plateau_window`` steps has
        not improved for ``plateau_patience`` windows (the seed's "annealed on plateau"; the Trainer
        steps schedulers blindly, so the recipe does it from its own training losses)
    mcnn_batch_size, mcnn_lr : the MCNN's batch (uniform over clips) and Adam learning rate
    mcnn_decoded_share : share of every MCNN batch whose input is the CWAE's reconstruction of the clip
        (encode -> decode with its class, eval mode, no gradient) instead of the clip's own mel; the
        target stays the real clip. 0 = the seed (real mels only); ours, see docs/ndm.md
    mcnn_plateau_factor, mcnn_plateau_patience : the MCNN's own plateau schedule
    sc_weight, sc_log_weight, mask_weight : MCNN loss weights (seed: 3, 10, 1)
    sc_log_eps : epsilon inside the log of the SClog term
    envelope_weight : weight of the MCNN's fine-time band-envelope term (``loss/envelope``,
        :func:`drumsynth.nn.wave.band_envelope_distance`: 2.9 ms cells that see the 86 Hz flutter the
        seed's 11.6 ms spectral terms miss); 0 = the seed's loss. Ours, see docs/ndm.md
    stft_weight, stft_ffts : weight of the MCNN's multi-resolution STFT term (``loss/stft``,
        :func:`drumsynth.nn.wave.spectral_loss`: log-magnitude L1 plus spectral convergence on linear
        STFTs of these sizes, the neural vocoders' loss; the seed's terms see only the mel); 0 = off
    freeze_wae : train the MCNN only and leave the CWAE as it is (an MCNN continuation of a trained
        model, ``drumsynth train --init``: its codes, PCA and class priors stay the same)
    freeze_mcnn : train the CWAE only and leave the MCNN as it is (a CWAE continuation of a trained model;
        ``release_extra`` refits the PCA and class priors to the new codes)
    freeze_encoder : train the CWAE's decoder only: the encoder's weights and batch-norm statistics stay as
        they are, so every code, PCA direction, class prior and saved pad keeps its meaning (the MMD term,
        which moves only the encoder, is then left out of the loss and still reported)
    render_weight : weight of the decoder's rendering term (``loss/render``, ours): ``render_clips`` of the
        batch's reconstructions are rendered by the MCNN (soft mask; this term trains the decoder only)
        and compared with their clips by the MCNN's waveform terms (the multi-resolution STFT loss of
        ``stft_ffts`` plus ``envelope_weight`` times the band-envelope gap), so the decoder
        learns mels the inverter renders as the clip, not only mels close to the clip's (docs/ndm.md,
        "The decoder through the inverter"); 0 = off
    render_adversarial_weight, render_feature_matching : with ``render_weight``, the MCNN's spectrogram critic
        (the ``mcnn_critic_*`` settings) also judges random crops of those renderings against their clips,
        after its own step on them, and the decoder gains the least-squares adversarial term
        (``loss/render_adv``) and the feature-matching gap (``loss/render_fm``) with these weights; 0 = off
    render_clips : how many of the batch's reconstructions the rendering term renders (its cost: an MCNN
        forward and backward per clip)
    adversarial_weight : weight of the CWAE's adversarial term (``loss/adv_g``): a class-conditional patch
        critic on standardised log-mels (:class:`drumsynth.models.ndm.mel_critic.MelCritic`, hinge loss)
        judges the training clips against the decoder's mels of prior codes; 0 = the seed's MSE-only CWAE.
        Ours, see docs/ndm.md
    critic_channels, critic_lr : the critic's conv widths and its Adam learning rate (betas 0.5, 0.9)
    class_spectrum : weight of the CWAE's class-spectrum term (``loss/class_spectrum``): the mean absolute
        gap between the per-class mean of the decoder's standardised log-mels of prior codes and that of
        the batch's clips, on cells of 8 mel bins x 2 frames (ours, the mel-domain twin of the drumgan and
        style term; docs/ndm.md: the prior's draws are darker than the recordings); 0 = off
    mcnn_adversarial_weight : weight of the MCNN's adversarial term (``loss/mcnn_adv``): a multi-resolution
        spectrogram critic (:class:`drumsynth.nn.wave_critic.MultiResolutionCritic`, least squares)
        judges random crops of the clips against the MCNN's renderings of them; 0 = off (the seed). Ours,
        the neural vocoders' critic, see docs/ndm.md
    mcnn_feature_matching : weight of the gap between the critic's activations on the clips and on their
        renderings (``loss/mcnn_fm``), with the adversarial term only
    mcnn_critic_ffts, mcnn_critic_channels, mcnn_critic_crop, mcnn_critic_lr : the critic's FFT sizes (one
        conv stack each, hop a quarter of the size), conv widths, the crop it judges (samples) and its Adam
        learning rate (betas 0.5, 0.9)
    grad_clip : clip each network's gradient norm to this (0 = off)
    log_every, checkpoint_every, preview_every, preview_n, valid_every, ema_decay, seed, threads :
        Trainer cadence and settings (``ema_decay`` unused: ndm keeps no EMA, see docs/ndm.md)
    """

    max_steps: int = 110000
    per_class: int = 64
    beta: float = 10.0
    mmd_scales: list[float] = field(default_factory=lambda: [1.0])
    lr: float = 1e-3
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    plateau_window: int = 200
    plateau_patience: int = 10
    plateau_factor: float = 0.5
    min_lr: float = 1e-5
    mcnn_batch_size: int = 128
    mcnn_lr: float = 1e-4
    mcnn_decoded_share: float = 0.0
    mcnn_plateau_factor: float = 0.2
    mcnn_plateau_patience: int = 50
    sc_weight: float = 3.0
    sc_log_weight: float = 10.0
    mask_weight: float = 1.0
    sc_log_eps: float = 1e-4
    envelope_weight: float = 0.0
    stft_weight: float = 0.0
    stft_ffts: list[int] = field(default_factory=lambda: [256, 1024, 4096])
    freeze_wae: bool = False
    freeze_mcnn: bool = False
    freeze_encoder: bool = False
    render_weight: float = 0.0
    render_adversarial_weight: float = 0.0
    render_feature_matching: float = 0.0
    render_clips: int = 8
    adversarial_weight: float = 0.0
    critic_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 64])
    critic_lr: float = 2e-4
    class_spectrum: float = 0.0
    mcnn_adversarial_weight: float = 0.0
    mcnn_feature_matching: float = 2.0
    mcnn_critic_ffts: list[int] = field(default_factory=lambda: [512, 1024, 2048])
    mcnn_critic_channels: list[int] = field(default_factory=lambda: [8, 16, 32, 32])
    mcnn_critic_crop: int = 32768
    mcnn_critic_lr: float = 2e-4
    grad_clip: float = 0.0
    log_every: int = 50
    checkpoint_every: int = 1000
    preview_every: int = 0
    preview_n: int = 8
    valid_every: int = 1000
    ema_decay: float = 0.999
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        check_domains(self, "train", {
            "max_steps": "count", "per_class": "count", "beta": "non_negative", "mmd_scales": "positive",
            "lr": "positive", "adam_betas": "decay", "plateau_window": "count",
            "plateau_patience": "non_negative", "plateau_factor": "share", "min_lr": "non_negative",
            "mcnn_batch_size": "count", "mcnn_lr": "positive", "mcnn_decoded_share": "share",
            "mcnn_plateau_factor": "share", "mcnn_plateau_patience": "non_negative",
            "sc_weight": "non_negative", "sc_log_weight": "non_negative", "mask_weight": "non_negative",
            "sc_log_eps": "positive", "envelope_weight": "non_negative", "stft_weight": "non_negative",
            "stft_ffts": "count", "adversarial_weight": "non_negative", "critic_channels": "count",
            "class_spectrum": "non_negative", "mcnn_adversarial_weight": "non_negative",
            "mcnn_feature_matching": "non_negative", "mcnn_critic_ffts": "count", "mcnn_critic_channels": "count",
            "mcnn_critic_crop": "count", "mcnn_critic_lr": "positive",
            "render_weight": "non_negative", "render_adversarial_weight": "non_negative",
            "render_feature_matching": "non_negative", "render_clips": "count",
            "critic_lr": "positive", "grad_clip": "non_negative", "log_every": "non_negative",
            "checkpoint_every": "non_negative", "preview_every": "non_negative", "preview_n": "non_negative",
            "valid_every": "non_negative", "ema_decay": "share", "seed": "non_negative",
            "threads": "non_negative"})


@dataclass
class Config:
    """Root of the ndm schema."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    mcnn: MCNNConfig = field(default_factory=MCNNConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # Architecture keys a run may change from its ``--init`` model (drumsynth.train.finetune): the recipe
    # converts the init's weights (NDMRecipe.with_factored_mcnn fits a dense first layer's factors,
    # NDMRecipe.with_grown_mcnn mixes the heads or widens the layers, each the same function), or,
    # for the CWAE's widths (CWAE_SHAPE), starts a new CWAE beside the init's MCNN (NDMRecipe.init_from).
    CWAE_SHAPE: ClassVar[tuple[str, ...]] = ("channels", "fc")
    INIT_CONVERTIBLE: ClassVar[tuple[str, ...]] = ("mcnn.mel_rank", "mcnn.mixed_layers", "mcnn.channels",
                                                   *(f"model.{key}" for key in CWAE_SHAPE))


def n_frames(data: DataConfig) -> int:
    """STFT frames of one clip (centred frames): ``1 + length // hop_length``."""
    return 1 + data.length // data.hop_length


def check(config: Config) -> Config:
    """Raise ``DrumsynthError`` for settings that cannot build a working model."""
    d, m, c, t = config.data, config.model, config.mcnn, config.train
    for name, value in (("data.sr", d.sr), ("data.length", d.length), ("data.n_fft", d.n_fft),
                        ("data.win_length", d.win_length), ("data.hop_length", d.hop_length),
                        ("data.n_mels", d.n_mels), ("model.latent_dim", m.latent_dim),
                        ("mcnn.heads", c.heads), ("mcnn.layers", c.layers), ("mcnn.width", c.width),
                        ("mcnn.channels", c.channels), ("train.per_class", t.per_class),
                        ("train.mcnn_batch_size", t.mcnn_batch_size)):
        if value <= 0:
            raise DrumsynthError(f"{name} must be positive, got {value!r}")
    if not 0.0 <= t.mcnn_decoded_share <= 1.0:
        raise DrumsynthError(f"train.mcnn_decoded_share must be in [0, 1], got {t.mcnn_decoded_share}")
    if 2 ** c.layers != d.hop_length:
        raise DrumsynthError(
            f"the MCNN upsamples frames by 2 ** mcnn.layers = {2 ** c.layers}, which must equal "
            f"data.hop_length = {d.hop_length}")
    if c.width < 3 or c.width % 2 == 0:
        raise DrumsynthError(f"mcnn.width must be odd and >= 3 (exact x2 upsampling), got {c.width}")
    if t.freeze_wae and t.freeze_mcnn:
        raise DrumsynthError("train.freeze_wae and train.freeze_mcnn together leave nothing to train")
    for name in ("adversarial_weight", "class_spectrum", "freeze_encoder", "render_weight"):
        if t.freeze_wae and getattr(t, name):
            raise DrumsynthError(f"train.{name} trains the CWAE's decoder: train.freeze_wae must be false")
    if (t.render_adversarial_weight > 0 or t.render_feature_matching > 0) and t.render_weight <= 0:
        raise DrumsynthError("train.render_adversarial_weight and train.render_feature_matching judge the "
                             "rendering term's clips: train.render_weight must be above 0")
    if t.freeze_mcnn and t.mcnn_adversarial_weight > 0:
        raise DrumsynthError("train.mcnn_adversarial_weight trains the MCNN: train.freeze_mcnn must be false")
    if uses_wave_critic(t) and min(t.mcnn_critic_crop, d.length) < max(t.mcnn_critic_ffts):
        raise DrumsynthError(f"the MCNN critic's crop ({min(t.mcnn_critic_crop, d.length)} samples: "
                             f"train.mcnn_critic_crop or data.length) must hold its largest FFT "
                             f"(train.mcnn_critic_ffts: {max(t.mcnn_critic_ffts)})")
    if c.mel_rank >= d.n_mels:
        raise DrumsynthError(f"mcnn.mel_rank must be below data.n_mels = {d.n_mels} (0 = no projection), "
                             f"got {c.mel_rank}")
    if c.mixed_layers > c.layers - 2:
        raise DrumsynthError(f"mcnn.mixed_layers counts layers between the first and the output: at most "
                             f"mcnn.layers - 2 = {c.layers - 2}, got {c.mixed_layers}")
    if c.mask_window < 1 or c.mask_window % 2 == 0:
        raise DrumsynthError(f"mcnn.mask_window must be odd, got {c.mask_window}")
    if not m.channels:
        raise DrumsynthError("model.channels must list at least one conv block")
    for name in ("kernel", "stride", "padding"):
        if len(getattr(m, name)) != 2:
            raise DrumsynthError(f"model.{name} must be [frequency, time], got {getattr(m, name)!r}")
    if t.per_class < 2:
        raise DrumsynthError(f"train.per_class must be >= 2 (the MMD U-statistic needs pairs), got {t.per_class}")
    if 0 not in d.pitch_semitones:
        raise DrumsynthError(f"data.pitch_semitones must include 0 (the clips themselves), got {d.pitch_semitones}")
    if d.log_eps <= 0 or d.std_floor <= 0:
        raise DrumsynthError("data.log_eps and data.std_floor must be positive")
    return config


def uses_wave_critic(t: TrainConfig) -> bool:
    """Whether a run trains the spectrogram critic (it judges the MCNN's renderings, the decoder's, or both)."""
    return t.mcnn_adversarial_weight > 0 or t.render_adversarial_weight > 0 or t.render_feature_matching > 0


def wae_kwargs(config: Config, n_classes: int) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.ndm.wae.CWAE`."""
    d, m = config.data, config.model
    return {"n_mels": d.n_mels, "n_frames": n_frames(d), "n_classes": n_classes,
            "channels": list(m.channels), "kernel": tuple(m.kernel), "stride": tuple(m.stride),
            "padding": tuple(m.padding), "fc": list(m.fc), "latent_dim": m.latent_dim,
            "decoder_label_input": m.decoder_label_input}


def mcnn_kwargs(config: Config) -> dict[str, Any]:
    """Keyword arguments of :class:`drumsynth.models.ndm.mcnn.MCNN`."""
    c = config.mcnn
    return {"n_mels": config.data.n_mels, "heads": c.heads, "layers": c.layers, "width": c.width,
            "channels": c.channels, "mel_rank": c.mel_rank, "mixed_layers": c.mixed_layers}


def mel_kwargs(data: DataConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`drumsynth.audio.dsp.mel_spectrogram` for these features."""
    return {"sr": data.sr, "n_fft": data.n_fft, "hop_length": data.hop_length,
            "win_length": data.win_length, "n_mels": data.n_mels}
