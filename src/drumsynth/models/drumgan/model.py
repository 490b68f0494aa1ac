"""The inference object of the drumgan family (the ``FamilyModel`` of ``drumsynth.models``).

Chain: ``[z, c]`` -> EMA generator -> compressed complex-STFT channels -> inverse STFT -> a 0.55 s
hit at 44.1 kHz, peak-normalised. ``c`` are the plugin's class sliders: three independent,
continuous weights (kick, snare, cymbal), used as given — values outside [0, 1] are allowed. The
encoder (:meth:`analyze`) maps a sound to ``(z, c)``: the plugin's Analyze button.
"""

from __future__ import annotations

from typing import Any

import torch

from drumsynth.audio.dsp import peak_normalise
from drumsynth.data.taxonomy import CLASSES3
from drumsynth.errors import DrumsynthError
from drumsynth.models import as_class_weights, as_clips, as_latent, checkpoint_config, load_weights
from drumsynth.models.drumgan import spectral
from drumsynth.models.drumgan.builder import build_modules
from drumsynth.models.drumgan.config import Config, DataConfig
from drumsynth.models.drumgan.encoder import Encoder
from drumsynth.models.drumgan.networks import Generator

FAMILY = "drumgan"
# The generator's last frames are a border artifact (its convolutions see zero padding past the grid):
# the trained `cpu` models put as much energy in frame 47 as in the attack, and the inverse STFT turns it
# into a broadband click ~25 ms before the end of every hit (peak 0.5 on a kick). The run-5 release also
# raises frames 44-45 of its snares sixfold over the decay before them (a click at -38 dB). Generated hits
# drop these frames, so they end on the Hann taper of frame 43, 0.50 s in (docs/drumgan.md).
EDGE_FRAMES_DROPPED = 4
# The generator runs on CPU in micro-batches of this many hits. Its finest scales are large (a 16-channel
# 1024 x 48 grid is 3 MB per hit): a whole batch of 16 overflows the caches and took 72 ms per hit
# against 36-38 ms in micro-batches of 1-4 (one thread, median of 4; issue 14, docs/drumgan.md).
GENERATOR_CHUNK = 4


class DrumGANModel:
    """A trained (or freshly built) DrumGAN VST, in eval mode.

    Attributes
    ----------
    family : "drumgan"
    sample_rate, length : 44100 and 24255 for the shipped presets
    classes : ("kick", "snare", "cymbal"), the columns of ``labels``
    latent_dim : 128 for the seed's model
    gain : the channel gain fitted on the training set (stored in the checkpoint)
    encoder_trained : whether the checkpoint's encoder was trained (a GAN-only run's is not)
    """

    family = FAMILY

    def __init__(self, config: Config, generator: Generator, encoder: Encoder, *, gain: float = 1.0,
                 classes: tuple[str, ...] = CLASSES3, encoder_trained: bool = True,
                 device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.generator = generator.to(self.device).eval()
        self.encoder = encoder.to(self.device).eval()
        self.gain = float(gain)
        self.classes = tuple(classes)
        self.sample_rate = config.data.sr
        self.length = config.data.length
        self.latent_dim = generator.latent_dim
        self.encoder_trained = bool(encoder_trained)

    # ---- argument checks -----------------------------------------------------------------------

    def _labels(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Class sliders Tensor[B, C] as given (any finite values); ``None`` = equal thirds."""
        return as_class_weights(labels, len(self.classes), batch, self.device)

    def _latent(self, z: torch.Tensor) -> torch.Tensor:
        return as_latent(z, self.latent_dim, self.device)

    def _wave(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveforms Tensor[B, T] (or [T]) at ``sample_rate`` -> fitted clips Tensor[B, length], peak 1."""
        return as_clips(wave, self.length, self.device)

    # ---- the contract --------------------------------------------------------------------------

    def sample_latent(self, n: int, generator: torch.Generator | None = None,
                      labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` codes from the prior N(0, I): Tensor[n, latent_dim] (the GAN's prior is the same for
        every class: ``labels`` is accepted for the family contract and ignored)."""
        del labels
        device = generator.device if generator is not None else self.device
        return torch.randn(n, self.latent_dim, generator=generator, device=device).to(self.device)

    @torch.no_grad()
    def spectrogram(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z Tensor[B, latent_dim] + sliders Tensor[B, C] -> channels Tensor[B, 2, F, N] (model scale)."""
        z = self._latent(z)
        labels = self._labels(labels, len(z))
        if self.device.type != "cpu" or len(z) <= GENERATOR_CHUNK:
            return self.generator(z, labels)
        return torch.cat([self.generator(z[i:i + GENERATOR_CHUNK], labels[i:i + GENERATOR_CHUNK])
                          for i in range(0, len(z), GENERATOR_CHUNK)])

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z Tensor[B, latent_dim] + class sliders Tensor[B, C] -> waveform Tensor[B, length], peak 1,
        from the spectrogram without its last ``EDGE_FRAMES_DROPPED`` frames."""
        return render_hits(self.spectrogram(z, labels), self.config.data, self.gain)

    @torch.no_grad()
    def analyze(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The plugin's Analyze: sounds Tensor[B, T] at ``sample_rate`` -> (z Tensor[B, d], sliders Tensor[B, C])."""
        if not self.encoder_trained:
            raise DrumsynthError("this drumgan checkpoint's encoder was never trained (a GAN-only run); "
                                 "train past the GAN schedule to get one")
        channels = spectral.to_channels(self._wave(wave), self.config.data, self.gain)
        return self.encoder(spectral.log_magnitude(channels, self.config.data, self.gain))

    @torch.no_grad()
    def encode(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Sounds Tensor[B, T] -> codes Tensor[B, latent_dim] (the encoder estimates the class itself;
        ``labels`` is accepted for the family contract and ignored)."""
        del labels
        return self.analyze(wave)[0]

    @torch.no_grad()
    def reconstruct(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Analyze -> generate: Tensor[B, T] -> Tensor[B, length] (the encoder's own class estimate)."""
        del labels
        z, c = self.analyze(wave)
        return self.generate(z, c)

    def export_graphs(self, portable: bool = False) -> dict[str, torch.nn.Module]:
        """Tensor-only modules for file exports (``drumsynth.export``), sharing this model's weights:
        ``"decode"`` (:class:`DecodeGraph`, what :meth:`generate` computes) and, when the encoder was
        trained, ``"encode"`` (:class:`EncodeGraph`, what :meth:`analyze` computes). ``portable``: real
        operators only in the decode graph (for ONNX: the inverse DFT as matrix products, slower)."""
        graphs: dict[str, torch.nn.Module] = {"decode": DecodeGraph(self, fft=not portable)}
        if self.encoder_trained:
            graphs["encode"] = EncodeGraph(self)
        return graphs


def render_hits(spec: torch.Tensor, data: DataConfig, gain: float) -> torch.Tensor:
    """Generator output Tensor[B, 2, F, N] -> hits Tensor[B, length], peak 1, without the last
    ``EDGE_FRAMES_DROPPED`` frames (what a release plays; training-time selection judges the same)."""
    spec = spec.clone()
    spec[..., spec.shape[-1] - EDGE_FRAMES_DROPPED:] = 0.0
    return peak_normalise(spectral.to_wave(spec, data, gain)).clamp(-1.0, 1.0)


def config_from_checkpoint(checkpoint: dict[str, Any]) -> Config:
    """The ``Config`` stored in a checkpoint (unknown keys and wrong types are errors)."""
    return checkpoint_config(checkpoint, FAMILY, Config)


def load_model(checkpoint: dict[str, Any], device: str | torch.device = "cpu") -> DrumGANModel:
    """The family contract's ``load_model``: rebuild from a release (or resume) checkpoint dict."""
    config = config_from_checkpoint(checkpoint)
    extra = checkpoint.get("extra") or {}
    classes = tuple(extra.get("classes", CLASSES3))
    generator, _, encoder = build_modules(config, len(classes))
    load_weights(checkpoint, FAMILY, {"generator_ema": generator, "encoder": encoder})
    return DrumGANModel(config, generator, encoder, gain=float(extra.get("gain", 1.0)), classes=classes,
                        encoder_trained=bool(extra.get("encoder_trained", True)), device=device)


class DecodeGraph(torch.nn.Module):
    """:meth:`DrumGANModel.generate` without its argument checks, as one module that traces and exports:
    z Tensor[B, latent_dim] + class sliders Tensor[B, C] -> hits Tensor[B, length], peak 1.

    The inverse STFT is :class:`spectral.InverseGraph` (``fft=False``: real operators only); the edge
    frames are zeroed by a mask instead of an in-place write.
    """

    def __init__(self, model: DrumGANModel, fft: bool = True) -> None:
        super().__init__()
        self.generator = model.generator
        n_frames = model.generator.sizes[-1][1]
        self.inverse = spectral.InverseGraph(model.config.data, model.gain, n_frames, fft=fft)
        mask = torch.ones(n_frames, device=model.device)
        mask[n_frames - EDGE_FRAMES_DROPPED:] = 0.0
        self.register_buffer("frame_mask", mask)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        spec = self.generator(z, labels) * self.frame_mask
        return peak_normalise(self.inverse(spec)).clamp(-1.0, 1.0)


class EncodeGraph(torch.nn.Module):
    """:meth:`DrumGANModel.analyze` without its argument checks: clips Tensor[B, length] ->
    (z Tensor[B, latent_dim], sliders Tensor[B, C]). Uses complex STFT ops (TorchScript, not ONNX)."""

    def __init__(self, model: DrumGANModel) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.data, self.gain = model.config.data, model.gain

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = spectral.to_channels(peak_normalise(wave), self.data, self.gain)
        return self.encoder(spectral.log_magnitude(channels, self.data, self.gain))

