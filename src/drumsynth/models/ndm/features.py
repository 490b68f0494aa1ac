"""Features of the Neural Drum Machine, computed once per cache and split.

Clips are resampled to ``data.sr``, zero-padded (or cut, with a short fade) to ``data.length`` and
peak-normalised (:class:`drumsynth.data.dataset.DrumDataset`), then turned into mel magnitudes
(``|STFT|``, Hann ``win_length`` in ``n_fft``, hop ``hop_length``, librosa slaney mel filters).
The CWAE sees ``(log(mel + log_eps) - mean) / std`` with per-element statistics of the training
split; the MCNN sees the mel magnitudes themselves (times one scalar gain), as in the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from drumsynth.audio.dsp import mel_spectrogram
from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.memo import split_memo
from drumsynth.errors import DrumsynthError
from drumsynth.models.ndm.config import DataConfig, mel_kwargs


@dataclass(frozen=True)
class FeatureSet:
    """One split in memory.

    waves : Tensor[N, length] float32, peak 1 (the MCNN's targets)
    mels : Tensor[N, n_mels, n_frames] float32 mel magnitudes
    labels : Tensor[N] int64 indices into ``drumsynth.data.taxonomy.CLASSES``
    semitones : Tensor[N] int64 pitch shift of each item (0 = the recording itself)
    """

    waves: torch.Tensor
    mels: torch.Tensor
    labels: torch.Tensor
    semitones: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def mel(wave: torch.Tensor, data: DataConfig, batch: int = 64) -> torch.Tensor:
    """Mel magnitudes of clips: wave Tensor[B, T] -> Tensor[B, n_mels, 1 + T // hop_length].

    Works in chunks of ``batch`` clips to bound memory (the 2048-point STFT of a batch is large), written
    into one preallocated tensor (concatenating the chunks would hold every mel twice at the peak).
    """
    out = wave.new_empty(len(wave), data.n_mels, 1 + wave.shape[-1] // data.hop_length)
    for i in range(0, len(wave), batch):
        out[i:i + batch] = mel_spectrogram(wave[i:i + batch], **mel_kwargs(data))
    return out


def build_features(cache: Cache, split: str, data: DataConfig) -> FeatureSet:
    """Decode, fit and analyse every clip of ``split`` (see the module docstring).

    The training split gets ``data.pitch_semitones`` copies of every clip; other splits only the
    clips themselves.
    """
    shifts = tuple(data.pitch_semitones) if split == "train" else (0,)
    dataset = DrumDataset(cache, split, sr=data.sr, length=data.length, pitch_semitones=shifts, fade_in=0,
                          fade_out=data.fade_out, max_items=data.max_items or None)
    waves = dataset.waves[:, 0].contiguous()
    with torch.no_grad():
        mels = mel(waves, data)
    # DrumDataset lays the copies of each source clip out consecutively, in the order of ``shifts``.
    semitones = torch.tensor(shifts, dtype=torch.int64).repeat(len(dataset) // len(shifts))
    return FeatureSet(waves=waves, mels=mels, labels=dataset.labels.clone(), semitones=semitones)


# build_recipe (statistics, PCA) and data_factories (batches) both need the training features.
features = split_memo(build_features)


def statistics(mels: torch.Tensor, log_eps: float, std_floor: float, batch: int = 256
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element mean and std of ``log(mel + log_eps)`` over clips: Tensor[N, F, T] -> 2 x Tensor[F, T].

    Elements that are (almost) constant over the split — the padding, where every clip is
    silent — get ``std_floor`` instead of a near-zero std that would blow up any deviation.
    One pass over chunks of ``batch`` clips with float64 sums of the log-mels minus the first clip's
    (so the squares do not cancel): a float64 copy of the whole split would be twice its size (1.5 GB
    for the cpu preset's training mels), and two passes took seconds more.
    """
    n = len(mels)
    if n == 0:
        raise DrumsynthError("feature statistics need at least one clip")
    shift = torch.log(mels[0] + log_eps)
    total = torch.zeros(mels.shape[1:], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for i in range(0, n, batch):
        centred = torch.log(mels[i:i + batch] + log_eps).sub_(shift).double()
        total += centred.sum(0)
        squares += centred.square_().sum(0)
    mean = total / n
    if n == 1:
        return (mean + shift).float(), torch.ones_like(shift)
    std = (squares / n - mean.square()).clamp_min(0.0).sqrt().clamp_min(std_floor)
    return (mean + shift).float(), std.float()


def input_gain(mels: torch.Tensor, batch: int = 256) -> float:
    """The MCNN's input gain: 1 / RMS of the training mels (1 when they are all silent)."""
    energy = sum(float(mels[i:i + batch].double().square().sum()) for i in range(0, len(mels), batch))
    rms = (energy / mels.numel()) ** 0.5 if mels.numel() else 0.0
    return 1.0 / rms if rms > 0 else 1.0
