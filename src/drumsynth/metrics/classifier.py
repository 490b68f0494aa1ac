"""The evaluation drum classifier: Inception-style blocks on a 128-bin log-mel spectrogram.

It has two jobs (DESIGN.md §4): its class probabilities are DrumGAN VST's soft labels, and its penultimate
layer is the ``*_clf`` embedding of IS, KID and FAD. It is small (a few hundred thousand parameters), so
it trains on a CPU in minutes and runs on thousands of generated hits quickly.

Front end (every parameter is stored in the checkpoint's ``config``; inference never takes them as flags):

1. mono clip at ``sr`` (44.1 kHz; other rates are resampled first), trimmed or zero-padded to ``length``
   samples (a 64-sample fade-out where cut), peak-normalised — so the prediction ignores playback gain;
2. power STFT (Hann ``n_fft``, ``hop_length``, centred), ``n_mels`` mel filters (``librosa.filters.mel``);
3. dB with a floor ``top_db`` below the clip's loudest bin, so that digital silence after the padding and
   a generator's faint noise floor look alike;
4. per-mel-bin standardisation with mean/std measured on the training set (buffers of the model).

Network: a 3×3 stem, then one Inception block per stage (1×1; 1×1→1×3→3×1; 1×1→3×3→3×3; avg-pool→1×1;
concatenated; each conv with BatchNorm and ReLU), 2×2 max-pooling between stages, a 1×1 conv to
``embed_dim`` channels and global average pooling: that ``embed_dim``-vector is the embedding. Two linear
heads read it: 8 classes (``CLASSES``) and the 3-class view (``CLASSES3``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drumsynth.data.taxonomy import CLASSES, CLASSES3
from drumsynth.errors import DrumsynthError

CHECKPOINT_FORMAT = "drumsynth-classifier"
CHECKPOINT_VERSION = 1
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "pretrained" / "classifier.pt"
FADE_OUT = 64  # samples; the same fade ``DrumDataset`` applies where it cuts a clip


class ClassifierOutput(NamedTuple):
    """embedding : Tensor[B, D]; logits8 : Tensor[B, 8]; logits3 : Tensor[B, 3]."""

    embedding: torch.Tensor
    logits8: torch.Tensor
    logits3: torch.Tensor


class ConvBN(nn.Sequential):
    """Conv2d (no bias) → BatchNorm → ReLU, 'same' padding for odd kernels."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int], stride: int = 1):
        k = (kernel, kernel) if isinstance(kernel, int) else kernel
        super().__init__(
            nn.Conv2d(in_ch, out_ch, k, stride=stride, padding=(k[0] // 2, k[1] // 2), bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated to ``out_ch`` channels (Szegedy et al. 2016, factorised).

    1×1 | 1×1 → 1×3 → 3×1 (a factorised 3×3) | 1×1 → 3×3 → 3×3 (a 5×5 as two 3×3) | 3×3 avg-pool → 1×1.
    The 1×1 reductions are half the branch width: they keep the block cheap on a CPU.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        if out_ch % 4:
            raise DrumsynthError(f"Inception block width {out_ch} is not a multiple of 4")
        b = out_ch // 4
        r = max(b // 2, 8)
        self.branch1 = ConvBN(in_ch, b, 1)
        self.branch3 = nn.Sequential(ConvBN(in_ch, r, 1), ConvBN(r, b, (1, 3)), ConvBN(b, b, (3, 1)))
        self.branch5 = nn.Sequential(ConvBN(in_ch, r, 1), ConvBN(r, b, 3), ConvBN(b, b, 3))
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                         ConvBN(in_ch, b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tensor[B, C_in, F, T] -> Tensor[B, out_ch, F, T]."""
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)


class DrumClassifier(nn.Module):
    """Log-mel front end + Inception-style CNN with an embedding and 8- and 3-class heads.

    Parameters
    ----------
    sr, length : sample rate and clip length (samples) of the front end
    n_fft, hop_length, n_mels, fmin, fmax, top_db : log-mel parameters (``fmax=None``: sr / 2)
    stem_channels : channels of the 3×3 stem
    widths : output channels of the Inception block of each stage (multiples of 4)
    embed_dim : size of the embedding (the penultimate layer)
    dropout : dropout before the heads (training only)
    """

    def __init__(self, *, sr: int = 44100, length: int = 32768, n_fft: int = 2048, hop_length: int = 512,
                 n_mels: int = 128, fmin: float = 20.0, fmax: float | None = None, top_db: float = 80.0,
                 stem_channels: int = 32, widths: Sequence[int] = (48, 96, 128, 192), embed_dim: int = 192,
                 dropout: float = 0.3):
        super().__init__()
        if length < n_fft:
            raise DrumsynthError(f"classifier clip length {length} is shorter than n_fft {n_fft}")
        self.config: dict[str, Any] = dict(
            sr=int(sr), length=int(length), n_fft=int(n_fft), hop_length=int(hop_length), n_mels=int(n_mels),
            fmin=float(fmin), fmax=None if fmax is None else float(fmax), top_db=float(top_db),
            stem_channels=int(stem_channels), widths=[int(w) for w in widths], embed_dim=int(embed_dim),
            dropout=float(dropout))
        self.sr, self.length = int(sr), int(length)
        self.n_fft, self.hop_length, self.top_db = int(n_fft), int(hop_length), float(top_db)
        self.classes, self.classes3 = CLASSES, CLASSES3
        self.metrics: dict[str, Any] = {}  # the training scores, filled in by load_classifier

        import librosa  # only the filter design; imported here so that importing drumsynth stays light

        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        # Rebuilt from the config, so not stored in the checkpoint.
        self.register_buffer("mel_fb", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        # Standardisation statistics of the training set's log-mels (set by the training routine).
        self.register_buffer("feat_mean", torch.zeros(n_mels))
        self.register_buffer("feat_std", torch.ones(n_mels))

        # The stem brings 128 x 65 down to 32 x 17 before the first Inception block (as Inception v3 brings
        # 299 x 299 to 35 x 35): full-resolution blocks would cost ten times more on a CPU for little gain.
        layers: list[nn.Module] = [ConvBN(1, stem_channels, 3, stride=2), nn.MaxPool2d(2, ceil_mode=True)]
        ch = stem_channels
        for i, w in enumerate(widths):
            layers.append(InceptionBlock(ch, w))
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            ch = w
        layers.append(ConvBN(ch, embed_dim, 1))
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head8 = nn.Linear(embed_dim, len(CLASSES))
        self.head3 = nn.Linear(embed_dim, len(CLASSES3))

    @property
    def embed_dim(self) -> int:
        return self.config["embed_dim"]

    # ----- front end -----------------------------------------------------------------------------------
    def fit_length(self, wave: torch.Tensor) -> torch.Tensor:
        """Tensor[B, T] (or [B, 1, T]) at ``self.sr`` -> Tensor[B, length]: trim/pad, fade where cut, peak 1."""
        if wave.dim() == 3:
            wave = wave[:, 0]
        if wave.dim() != 2:
            raise DrumsynthError(f"expected waves of shape [B, T] or [B, 1, T], got {tuple(wave.shape)}")
        wave = wave.float()
        if wave.shape[-1] >= self.length:
            cut = wave.shape[-1] > self.length
            wave = wave[:, :self.length]
            if cut:
                ramp = torch.linspace(1.0, 0.0, FADE_OUT + 1, device=wave.device)[:-1]
                wave = torch.cat([wave[:, :-FADE_OUT], wave[:, -FADE_OUT:] * ramp], dim=1)
        else:
            wave = F.pad(wave, (0, self.length - wave.shape[-1]))
        peak = wave.abs().amax(dim=1, keepdim=True)
        return wave / torch.where(peak > 0, peak, torch.ones_like(peak))

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Tensor[B, length] -> unstandardised log-mel in dB, Tensor[B, n_mels, frames]."""
        spec = torch.stft(wave, self.n_fft, self.hop_length, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)
        mel = torch.matmul(self.mel_fb, spec.real.square() + spec.imag.square())
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))
        floor = db.amax(dim=(1, 2), keepdim=True) - self.top_db
        return torch.maximum(db, floor)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """Tensor[B, T] or [B, 1, T] at ``self.sr`` -> standardised log-mel Tensor[B, 1, n_mels, frames]."""
        db = self.log_mel(self.fit_length(wave))
        return ((db - self.feat_mean[:, None]) / self.feat_std[:, None]).unsqueeze(1)

    # ----- network -------------------------------------------------------------------------------------
    def forward_features(self, feats: torch.Tensor) -> ClassifierOutput:
        """Standardised log-mel Tensor[B, 1, n_mels, frames] -> embedding and both heads' logits."""
        emb = self.body(feats).mean(dim=(2, 3))
        h = self.dropout(emb)
        return ClassifierOutput(emb, self.head8(h), self.head3(h))

    def forward(self, wave: torch.Tensor) -> ClassifierOutput:
        """Tensor[B, T] or [B, 1, T] at ``self.sr`` -> ClassifierOutput (embedding [B, D], logits [B, 8], [B, 3])."""
        return self.forward_features(self.features(wave))

    # ----- inference API -------------------------------------------------------------------------------
    def prepare(self, waves: Any, sr: int) -> torch.Tensor:
        """Waves at ``sr`` -> Tensor[B, length] at ``self.sr`` on the model's device.

        ``waves``: Tensor or np.ndarray [B, T], [B, 1, T] or [T], or a sequence of 1-D arrays of any lengths.
        """
        device = self.feat_mean.device
        if isinstance(waves, (torch.Tensor, np.ndarray)):
            arr = waves
            if arr.ndim == 1:
                arr = arr[None]
            elif arr.ndim == 3 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 2:
                raise DrumsynthError(f"expected waves of shape [B, T], [B, 1, T] or [T], got {tuple(arr.shape)}")
            if sr == self.sr and arr.shape[0] > 0:
                # Fast path: one tensor op for the whole batch.
                arr = torch.as_tensor(arr, dtype=torch.float32).to(device)
                if not torch.isfinite(arr).all():
                    raise DrumsynthError("waves contain NaN or infinite samples")
                return self.fit_length(arr)
            clips = list(arr)
        elif isinstance(waves, Sequence) and not isinstance(waves, (str, bytes)):
            clips = list(waves)
        else:
            raise DrumsynthError(f"cannot classify an object of type {type(waves).__name__}")
        if not clips:
            raise DrumsynthError("no waves to classify")
        if sr <= 0:
            raise DrumsynthError(f"sample rate must be positive, got {sr}")
        out = torch.zeros(len(clips), self.length, device=device)
        for i, clip in enumerate(clips):
            if sr != self.sr:
                from drumsynth.audio.resample import resample

                # Only the head of the clip matters: resample a little more than ``length`` of it.
                head = int(np.ceil(self.length * sr / self.sr)) + 64
                clip = np.asarray(clip.detach().cpu() if isinstance(clip, torch.Tensor) else clip)[:head]
                clip = resample(clip, sr, self.sr)
            clip = torch.as_tensor(clip, dtype=torch.float32, device=device).flatten()
            if not torch.isfinite(clip).all():
                raise DrumsynthError(f"wave {i} contains NaN or infinite samples")
            if clip.numel() > self.length:
                clip = self.fit_length(clip[None])[0]
            out[i, :clip.numel()] = clip
        return out

    @torch.no_grad()
    def predict(self, waves: Any, sr: int, *, batch_size: int = 64) -> dict[str, torch.Tensor]:
        """Class probabilities and embeddings of many clips, in eval mode, without gradients.

        Parameters
        ----------
        waves : Tensor | np.ndarray [B, T] / [B, 1, T] / [T], or a sequence of 1-D clips, float in [-1, 1]
        sr : their sample rate (resampled to ``self.sr`` when different)

        Returns
        -------
        {"probs8": Tensor[B, 8], "probs3": Tensor[B, 3], "embedding": Tensor[B, D]} on the CPU.
        """
        was_training = self.training
        self.eval()
        try:
            clips = self.prepare(waves, sr)
            outs = [self(clips[s:s + batch_size]) for s in range(0, len(clips), batch_size)]
        finally:
            self.train(was_training)
        return {"probs8": torch.cat([o.logits8 for o in outs]).softmax(-1).cpu(),
                "probs3": torch.cat([o.logits3 for o in outs]).softmax(-1).cpu(),
                "embedding": torch.cat([o.embedding for o in outs]).cpu()}

    def probs8(self, waves: Any, sr: int, *, batch_size: int = 64) -> torch.Tensor:
        """Tensor[B, 8] probabilities over ``CLASSES`` (see :meth:`predict` for ``waves``)."""
        return self.predict(waves, sr, batch_size=batch_size)["probs8"]

    def probs3(self, waves: Any, sr: int, *, batch_size: int = 64) -> torch.Tensor:
        """Tensor[B, 3] probabilities over ``CLASSES3`` (kick, snare, cymbal): DrumGAN VST's soft labels."""
        return self.predict(waves, sr, batch_size=batch_size)["probs3"]

    def embed(self, waves: Any, sr: int, *, batch_size: int = 64) -> torch.Tensor:
        """Tensor[B, D] penultimate-layer embeddings: the features of IS/KID/FAD ``*_clf``."""
        return self.predict(waves, sr, batch_size=batch_size)["embedding"]


# ----- checkpoints -------------------------------------------------------------------------------------
def checkpoint_dict(model: DrumClassifier, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The release checkpoint: plain types and tensors only (loads with ``torch.load(weights_only=True)``)."""
    from drumsynth import __version__

    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "family": "classifier",
            "config": dict(model.config), "classes": list(CLASSES), "classes3": list(CLASSES3),
            "model": state, "metrics": dict(metrics or {}), "version": __version__}


def save_classifier(model: DrumClassifier, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
    """Write the checkpoint atomically (temporary file in the same folder, then renamed)."""
    from drumsynth.audio.io import write_atomic

    buffer = io.BytesIO()
    torch.save(checkpoint_dict(model, metrics), buffer)
    path = write_atomic(path, buffer.getvalue())
    path.chmod(0o644)  # the temporary file was private; a checkpoint is meant to be shared and shipped
    return path


def load_classifier(path: str | Path | None = None, device: str | torch.device = "cpu") -> DrumClassifier:
    """Rebuild a classifier from its checkpoint (default: the shipped ``pretrained/classifier.pt``), in eval mode."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        hint = ("train one with 'python -m drumsynth.metrics.train_classifier --data data/corpus --out PATH'"
                if path == DEFAULT_PATH else "pass an existing checkpoint")
        raise DrumsynthError(f"classifier checkpoint {path} does not exist; {hint}")
    from drumsynth.checkpoint import read_weights_only

    # CRC-checked, weights_only=True passed explicitly (an environment variable cannot turn it off)
    ckpt = read_weights_only(path, what="classifier checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise DrumsynthError(f"{path} is not a drumsynth classifier checkpoint")
    if ckpt.get("format_version", 0) > CHECKPOINT_VERSION:
        raise DrumsynthError(f"classifier checkpoint {path} has format version {ckpt['format_version']}, "
                             "newer than this drumsynth")
    if tuple(ckpt.get("classes", CLASSES)) != CLASSES or tuple(ckpt.get("classes3", CLASSES3)) != CLASSES3:
        raise DrumsynthError(f"classifier checkpoint {path} was trained on other classes: {ckpt.get('classes')}")
    model = DrumClassifier(**ckpt["config"])
    model.load_state_dict(ckpt["model"])
    model.metrics = dict(ckpt.get("metrics", {}))
    return model.to(device).eval()
