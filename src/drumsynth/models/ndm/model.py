"""The inference object of the ndm family (the ``FamilyModel`` of ``drumsynth.models``).

Chain: ``z`` (drawn from the class's fitted Gaussian, or given) + class weights -> CWAE decoder
-> standardised log-mel -> mel magnitudes -> MCNN
-> waveform at 22.05 kHz, masked with the binarised mask. Griffin-Lim (mel -> linear by the
filter bank's pseudo-inverse, then fast Griffin-Lim) is kept as a baseline inverter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from drumsynth.audio.dsp import (
    griffin_lim,
    mel_filterbank,
    mel_spectrogram,
    mel_to_linear,
    peak_normalise,
)
from drumsynth.data.taxonomy import CLASSES
from drumsynth.errors import DrumsynthError
from drumsynth.models import as_clips, as_latent, checkpoint_config, load_weights
from drumsynth.models.ndm import controls, latent_prior
from drumsynth.models.ndm.builder import build_modules
from drumsynth.models.ndm.config import Config, mel_kwargs, n_frames
from drumsynth.models.ndm.features import mel as mel_of
from drumsynth.models.ndm.mcnn import MCNN
from drumsynth.models.ndm.wae import CWAE

FAMILY = "ndm"

# On CPU, generate runs the decoder and the MCNN in micro-batches of this many hits: the MCNN's last
# layers hold 1 MB per hit, and a whole batch of 64 overflows the caches (shipped model, one thread,
# batch 64, median of 6: 610-690 ms whole, 540-670 ms in micro-batches of 16, the best of 4-32).
GENERATE_CHUNK = 16


class NDMModel:
    """A trained (or freshly built) Neural Drum Machine, in eval mode.

    Attributes
    ----------
    family : "ndm"
    sample_rate : 22050 for the shipped presets (``config.data.sr``)
    length : samples per generated hit (``config.data.length``, 22015)
    classes : class names, the columns of ``labels``
    latent_dim : d_z
    pca : the latent PCA for the controls (:mod:`drumsynth.models.ndm.controls`); the prior's PCA
        when the checkpoint carries none
    inverter : what :meth:`generate` inverts mels with: ``"mcnn"`` (default, the seed's, fast) or
        ``"griffin_lim"`` (the baseline: slower, no learned artefacts)
    latent_prior : per-class Gaussians of the training encodings (:mod:`.latent_prior`), or None
        when the checkpoint carries none
    prior : what :meth:`sample_latent` draws from when given class weights: ``"class"`` (the class's
        fitted Gaussian; the default when the checkpoint has them) or ``"normal"`` (N(0, I), the WAE's
        nominal prior)
    """

    # Inference options a Session may set (``Session.set_option``): which inverter ``generate`` uses,
    # and which prior ``sample_latent`` draws from.
    OPTIONS = {"inverter": ("mcnn", "griffin_lim"), "prior": ("class", "normal")}

    family = FAMILY

    def __init__(self, config: Config, wae: CWAE, mcnn: MCNN, *, classes: tuple[str, ...] = CLASSES,
                 pca: dict[str, Any] | None = None, latent_prior: dict[str, Any] | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.wae = wae.to(self.device).eval()
        self.mcnn = mcnn.to(self.device).eval()
        self.classes = tuple(classes)
        self.sample_rate = config.data.sr
        self.length = config.data.length
        self.latent_dim = wae.latent_dim
        self.pca = pca if pca is not None else controls.prior_pca(self.latent_dim, self.classes)
        self.inverter = "mcnn"
        self.latent_prior = latent_prior
        self.prior = "class" if latent_prior is not None else "normal"

    # ---- argument checks -----------------------------------------------------------------------

    def _labels(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Class weights Tensor[B, C], each row divided by the sum of its absolute values (all-zero rows:
        uniform).

        For weights >= 0 this is the sum-1 mix of the classes' batch-norm parameters. Weights below 0 (or
        above 1) pass through as the sliders promise: a negative weight subtracts that class's parameters
        (``kick=1 snare=-0.5`` decodes with ``(2·kick - snare) / 3``). Dividing by the absolute sum rather
        than the sum keeps every row's conditioning within the classes' own range: a sum near 0 would
        otherwise blow it up.
        """
        n = len(self.classes)
        if labels is None:
            return torch.full((batch, n), 1.0 / n, device=self.device)
        labels = torch.as_tensor(labels)
        if not labels.is_floating_point() and labels.ndim == 1:
            if labels.numel() and (labels.min() < 0 or labels.max() >= n):
                raise DrumsynthError(f"class indices must be in 0..{n - 1}, got {labels.tolist()}")
            labels = torch.nn.functional.one_hot(labels.long(), n)
        labels = labels.to(self.device, torch.float32)
        if labels.ndim != 2 or labels.shape != (batch, n):
            raise DrumsynthError(f"labels must be [B={batch}, C={n}] class weights, got {tuple(labels.shape)}")
        if not torch.isfinite(labels).all():
            raise DrumsynthError("labels must be finite class weights")
        return mix_weights(labels)

    def _latent(self, z: torch.Tensor) -> torch.Tensor:
        return as_latent(z, self.latent_dim, self.device)

    # ---- the contract --------------------------------------------------------------------------

    def sample_latent(self, n: int, generator: torch.Generator | None = None,
                      labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` codes Tensor[n, latent_dim]: with class weights ``labels`` Tensor[n, C] and
        ``prior == "class"``, from the classes' fitted Gaussians (:func:`.latent_prior.sample`; weights
        below 0 count as 0), else from N(0, I). The same generator state gives the same standard-normal
        draws either way."""
        device = generator.device if generator is not None else self.device
        noise = torch.randn(n, self.latent_dim, generator=generator, device=device).to(self.device)
        if labels is None or self.prior == "normal":
            return noise
        if self.latent_prior is None:
            raise DrumsynthError("this ndm checkpoint has no fitted class priors; use prior=normal")
        labels = torch.as_tensor(labels)
        if labels.is_floating_point():
            # A mix of class priors needs weights >= 0: sliders below 0 (which the Session passes on as
            # they are) count as 0 here; all of them <= 0 draw from the uniform mix of every class.
            labels = labels.clamp_min(0.0)
        return latent_prior.sample(self.latent_prior, self.classes, self._labels(labels, n), noise)

    @torch.no_grad()
    def decode_mel(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z Tensor[B, d] + class weights Tensor[B, C] -> mel magnitudes Tensor[B, n_mels, N]."""
        z = self._latent(z)
        return self._decode(z, self._labels(labels, len(z)))

    def _decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """:meth:`decode_mel` of checked arguments (``labels`` already mixed by :meth:`_labels`)."""
        return self.wae.denormalise(self.wae.decode(z, labels))

    @torch.no_grad()
    def invert(self, mel: torch.Tensor, method: str = "mcnn", n_iter: int = 32,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Mel magnitudes Tensor[B, n_mels, N] -> waveform Tensor[B, length] in [-1, 1].

        ``method="mcnn"`` (the model's inverter, binarised mask) or ``"griffin_lim"`` (baseline:
        pseudo-inverse of the mel filter bank, ``n_iter`` fast Griffin-Lim iterations, then peak
        normalisation since Griffin-Lim's level is only approximate).
        """
        mel = torch.as_tensor(mel, dtype=torch.float32, device=self.device)
        d = self.config.data
        if mel.ndim != 3 or mel.shape[1] != d.n_mels:
            raise DrumsynthError(f"mel must be [B, {d.n_mels}, N], got {tuple(mel.shape)}")
        if method == "mcnn":
            return self._in_chunks(lambda m: self.mcnn.infer(m, self.length), mel)
        if method == "griffin_lim":
            fb = mel_filterbank(d.sr, d.n_fft, d.n_mels, device=self.device)
            linear = mel_to_linear(mel, fb)
            wave = griffin_lim(linear, d.n_fft, d.hop_length, d.win_length, n_iter=n_iter,
                               length=self.length, generator=generator)
            return peak_normalise(wave).clamp(-1.0, 1.0)
        raise DrumsynthError(f"unknown inverter {method!r}; expected 'mcnn' or 'griffin_lim'")

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z Tensor[B, latent_dim] + class weights Tensor[B, C] -> waveform Tensor[B, length] in [-1, 1].

        Soft weights mix the classes' conditional batch-norm parameters (rows are divided by the sum of
        their absolute values: sum 1 for weights >= 0, and negative weights subtract a class); integer
        class indices Tensor[B] are accepted too. The mel is inverted with
        ``self.inverter`` (Griffin-Lim starts from a fixed zero phase, so output stays deterministic).
        """
        z = self._latent(z)
        labels = self._labels(labels, len(z))
        if self.inverter != "mcnn":
            return self.invert(self._decode(z, labels), method=self.inverter)
        return self._in_chunks(lambda zc, lc: self.mcnn.infer(self._decode(zc, lc), self.length), z, labels)

    def _in_chunks(self, fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
        """``fn(*tensors)`` in micro-batches of ``GENERATE_CHUNK`` rows on CPU (whole elsewhere), concatenated."""
        n = len(tensors[0])
        step = GENERATE_CHUNK if self.device.type == "cpu" else n
        if n <= step:
            return fn(*tensors)
        return torch.cat([fn(*(t[i:i + step] for t in tensors)) for i in range(0, n, step)])

    @torch.no_grad()
    def mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveforms Tensor[B, T] at ``sample_rate`` -> mel magnitudes Tensor[B, n_mels, N].

        Clips are zero-padded or cut to ``length`` and peak-normalised first, like the training data.
        """
        return mel_of(as_clips(wave, self.length, self.device), self.config.data)

    @torch.no_grad()
    def encode(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Waveforms Tensor[B, T] at ``sample_rate`` (+ class weights) -> codes Tensor[B, latent_dim].

        The encoder is class-conditional (conditional batch norm); without ``labels`` it uses the
        uniform mix of all classes.
        """
        mel = self.mel(wave)
        return self.wae.encode(self.wae.normalise(mel), self._labels(labels, len(mel)))

    @torch.no_grad()
    def reconstruct(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """encode -> generate through the whole chain: Tensor[B, T] -> Tensor[B, length]."""
        mel = self.mel(wave)
        labels = self._labels(labels, len(mel))
        return self.generate(self.wae.encode(self.wae.normalise(mel), labels), labels)

    def export_graphs(self, portable: bool = False) -> dict[str, torch.nn.Module]:
        """Tensor-only modules for file exports (``drumsynth.export``), sharing this model's weights:
        ``"decode"`` (:class:`DecodeGraph`: :meth:`generate` with the MCNN inverter) and ``"encode"``
        (:class:`EncodeGraph`: :meth:`encode` with the uniform class mix). The decode graph is plain
        convolutions either way (``portable`` is for families with an inverse STFT). Griffin-Lim, an
        iterative baseline, is not exported: the inverter must be the MCNN."""
        del portable
        if self.inverter != "mcnn":
            raise DrumsynthError(f"only the MCNN inverter can be exported, not {self.inverter!r}")
        return {"decode": DecodeGraph(self), "encode": EncodeGraph(self)}

    # ---- the seed's controls -------------------------------------------------------------------

    def latent_from_controls(self, cls: str | None, p1: float, p2: float, p3: float = 0.0,
                             range_std: float = 2.0) -> torch.Tensor:
        """XY pad (p1, p2), Fine (p3) in [-1, 1], range in std, class menu -> z Tensor[1, latent_dim]."""
        return controls.latent_from_controls(self.pca, cls, p1, p2, p3, range_std).unsqueeze(0).to(self.device)

    def class_weights(self, cls: str) -> torch.Tensor:
        """One-hot class weights Tensor[1, C] of a class name."""
        if cls not in self.classes:
            raise DrumsynthError(f"unknown class {cls!r}; expected one of {list(self.classes)}")
        out = torch.zeros(1, len(self.classes), device=self.device)
        out[0, self.classes.index(cls)] = 1.0
        return out

    def from_controls(self, cls: str, p1: float, p2: float, p3: float = 0.0, range_std: float = 2.0,
                      crop: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
        """One hit from the seed's interface: Tensor[T'] (``crop`` as fractions of the clip)."""
        z = self.latent_from_controls(cls, p1, p2, p3, range_std)
        wave = self.generate(z, self.class_weights(cls))[0]
        if tuple(crop) != (0.0, 1.0):
            wave = controls.crop(wave, *crop)
        return wave


def mix_weights(labels: torch.Tensor) -> torch.Tensor:
    """Class weights Tensor[B, C] -> the decoder's conditioning: each row divided by the sum of its
    absolute values, all-zero rows uniform (see :meth:`NDMModel._labels`)."""
    total = labels.abs().sum(1, keepdim=True)
    return torch.where(total > 0, labels / total.clamp_min(1e-12), torch.full_like(labels, 1.0 / labels.shape[1]))


class DecodeGraph(torch.nn.Module):
    """:meth:`NDMModel.generate` (MCNN inverter) without its argument checks, as one module that traces
    and exports: z Tensor[B, latent_dim] + class weights Tensor[B, C] -> Tensor[B, length] in [-1, 1]."""

    def __init__(self, model: NDMModel) -> None:
        super().__init__()
        self.wae, self.mcnn, self.length = model.wae, model.mcnn, model.length

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        mel = self.wae.denormalise(self.wae.decode(z, mix_weights(labels)))
        return self.mcnn.infer(mel, self.length)


class EncodeGraph(torch.nn.Module):
    """:meth:`NDMModel.encode` without labels (the uniform class mix) or checks: clips Tensor[B, length]
    -> (z Tensor[B, latent_dim], the conditioning used Tensor[B, C]). Uses complex STFT ops (TorchScript,
    not ONNX)."""

    def __init__(self, model: NDMModel) -> None:
        super().__init__()
        self.wae, self.data = model.wae, model.config.data
        n = len(model.classes)
        self.register_buffer("uniform", torch.full((1, n), 1.0 / n, device=model.device))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        labels = self.uniform.expand(wave.shape[0], -1)
        # mel_spectrogram itself, not features.mel: its chunk loop would fix the batch size of a trace
        mel = mel_spectrogram(peak_normalise(wave), **mel_kwargs(self.data))
        return self.wae.encode(self.wae.normalise(mel), labels), labels


def config_from_checkpoint(checkpoint: dict[str, Any]) -> Config:
    """The ``Config`` stored in a checkpoint (unknown keys and wrong types are errors)."""
    return checkpoint_config(checkpoint, FAMILY, Config)


def load_model(checkpoint: dict[str, Any], device: str | torch.device = "cpu") -> NDMModel:
    """The family contract's ``load_model``: rebuild from a release (or resume) checkpoint dict."""

    config = config_from_checkpoint(checkpoint)
    extra = checkpoint.get("extra") or {}
    classes = tuple(extra.get("classes", CLASSES))
    wae, mcnn = build_modules(config, len(classes))
    load_weights(checkpoint, FAMILY, {"wae": wae, "mcnn": mcnn})
    if n_frames(config.data) != wae.n_frames:
        raise DrumsynthError("ndm checkpoint is inconsistent: frame count differs from its config")
    return NDMModel(config, wae, mcnn, classes=classes, pca=extra.get("pca"),
                    latent_prior=extra.get("latent_prior"), device=device)
