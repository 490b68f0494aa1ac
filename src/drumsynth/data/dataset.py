"""In-memory datasets over a decoded cache, with class-balanced sampling.

A ``DrumDataset`` turns the cache's 44.1 kHz sounds into one fixed-size tensor for one model family:
resampled to the family's rate, optionally pitch-shifted copies, trimmed or padded to its length,
peak-normalised and faded. Everything is computed once; batches are then drawn with an explicit
``torch.Generator``, so a training run is reproducible from its seed and resumes exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from drumsynth.audio.dsp import prepare_clip
from drumsynth.audio.resample import resample
from drumsynth.data.augment import BatchAugment, pitch_shift
from drumsynth.data.cache import Cache
from drumsynth.data.taxonomy import CLASSES, CLASSES3, TO_CLASS3
from drumsynth.errors import DrumsynthError


def fit_clip(wave: np.ndarray, length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Trim or zero-pad np.ndarray[T] to ``length``, apply linear fades (in samples), peak-normalise.

    The fade-out is applied only when the clip had to be cut, so a naturally decayed hit is untouched.
    """
    cut = len(wave) > length
    return prepare_clip(np.asarray(wave, dtype=np.float32), length, fade_in=fade_in,
                        fade_out=fade_out if cut else 0)


class DrumDataset:
    """Fixed-length clips and labels of one split, held in memory.

    Attributes
    ----------
    waves : Tensor[N, 1, length] float32, peak 1 per clip
    labels : Tensor[N] int64, index into ``classes``
    classes : the 8 classes, or the 3-class view when ``three_class``
    source_index : Tensor[N] int64, the cache index each clip came from
    """

    def __init__(self, cache: Cache, split: str | None, *, sr: int, length: int, three_class: bool = False,
                 pitch_semitones: tuple[int, ...] = (0,), fade_in: int = 0, fade_out: int = 64,
                 max_items: int | None = None):
        indices = cache.indices(split, three_class=three_class)
        if max_items is not None:
            indices = indices[:max_items]
        if not indices:
            raise DrumsynthError(f"cache {cache.root} has no sounds in split {split!r}")
        self.classes = CLASSES3 if three_class else CLASSES
        self.sr = sr
        self.length = length
        # Filled in place: a list of clips then np.stack would hold every clip twice at the peak (the
        # ndm cpu preset's 4195 training clips are 370 MB once).
        waves = np.empty((len(indices) * len(pitch_semitones), length), dtype=np.float32)
        labels, sources = [], []
        for i in indices:
            base = resample(cache.wave(i), cache.sr, sr) if sr != cache.sr else np.asarray(cache.wave(i))
            label = cache.records[i]["label"]
            label = TO_CLASS3[label] if three_class else label
            for semitones in pitch_semitones:
                clip = pitch_shift(base, semitones, sr) if semitones else base
                waves[len(labels)] = fit_clip(clip, length, fade_in, fade_out)
                labels.append(self.classes.index(label))
                sources.append(i)
        self.waves = torch.from_numpy(waves).unsqueeze(1)
        self.labels = torch.tensor(labels, dtype=torch.int64)
        self.source_index = torch.tensor(sources, dtype=torch.int64)
        self._by_class = [torch.nonzero(self.labels == c).flatten() for c in range(len(self.classes))]

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        return {name: len(idx) for name, idx in zip(self.classes, self._by_class)}

    def sample_indices(self, batch_size: int, generator: torch.Generator, *, balanced: bool = True
                       ) -> torch.Tensor:
        """Tensor[batch_size] of clip indices; ``balanced`` draws a class uniformly, then a clip of it."""
        if not balanced:
            return torch.randint(0, len(self), (batch_size,), generator=generator)
        present = [idx for idx in self._by_class if len(idx)]
        cls = torch.randint(0, len(present), (batch_size,), generator=generator)
        picks = torch.empty(batch_size, dtype=torch.int64)
        for b, c in enumerate(cls.tolist()):
            pool = present[c]
            picks[b] = pool[torch.randint(0, len(pool), (1,), generator=generator)]
        return picks

    def sample_batch(self, batch_size: int, generator: torch.Generator, *, balanced: bool = True,
                     augment: BatchAugment | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(Tensor[B, 1, length], Tensor[B]) drawn with ``generator``; augmentation optional."""
        idx = self.sample_indices(batch_size, generator, balanced=balanced)
        waves = self.waves[idx]
        if augment is not None:
            waves = augment(waves, generator)
        return waves, self.labels[idx]

    def batches(self, batch_size: int):
        """Every clip once, in order: yields (Tensor[b, 1, length], Tensor[b]) for evaluation."""
        for start in range(0, len(self), batch_size):
            yield self.waves[start:start + batch_size], self.labels[start:start + batch_size]
