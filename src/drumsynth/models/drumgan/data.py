"""DrumGAN's training data, computed once per cache and split.

Clips of the 3-class view (kick, snare incl. claps, cymbal incl. hats; toms and percussion have no
3-class label) are resampled to ``data.sr``, trimmed or padded to ``data.length``, peak-normalised,
turned into compressed complex-STFT channels (:mod:`.spectral`), and labelled with the drum
classifier's 3-class probabilities: the seed's soft labels (knowledge distilled from the classifier
into the GAN's conditioning). Training draws class-balanced batches with an explicit generator.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.errors import DrumsynthError
from drumsynth.models.drumgan import spectral
from drumsynth.models.drumgan.config import DataConfig


@dataclass(frozen=True)
class SpecSet:
    """One split in memory.

    spec : Tensor[N, 2, F, N_frames] compressed channels, gain 1 (the recipe scales them)
    soft : Tensor[N, 3] classifier probabilities (kick, snare, cymbal)
    labels : Tensor[N] int64 hard 3-class labels (from the corpus; for balanced sampling)
    waves : Tensor[N, length] the clips (peak 1)
    semitones : Tensor[N] pitch shift of each item (0 = the recording)
    """

    spec: torch.Tensor
    soft: torch.Tensor
    labels: torch.Tensor
    waves: torch.Tensor
    semitones: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def build_specset(cache: Cache, split: str, data: DataConfig, batch: int = 64) -> SpecSet:
    """Decode, fit, analyse and soft-label every 3-class clip of ``split`` (see the module docstring)."""
    from drumsynth.metrics.classifier import load_classifier

    shifts = tuple(data.pitch_semitones) if split == "train" else (0,)
    dataset = DrumDataset(cache, split, sr=data.sr, length=data.length, three_class=True, pitch_semitones=shifts,
                          fade_out=data.fade_out, max_items=data.max_items or None)
    waves = dataset.waves[:, 0].contiguous()
    classifier = load_classifier()
    with torch.no_grad():
        spec = torch.cat([spectral.to_channels(waves[i:i + batch], data) for i in range(0, len(waves), batch)])
        soft = classifier.probs3(waves, data.sr)
    semitones = torch.tensor(shifts, dtype=torch.int64).repeat(len(dataset) // len(shifts))
    return SpecSet(spec=spec, soft=soft.float(), labels=dataset.labels.clone(), waves=waves, semitones=semitones)


class _Key:
    """Hashable stand-in for (cache, split, data config): lru_cache needs hashable arguments."""

    def __init__(self, cache: Cache, split: str, data: DataConfig) -> None:
        self.cache, self.split, self.data = cache, split, data
        settings = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(vars(data).items()))
        self.key = (str(cache.root), len(cache), split, settings)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.key == self.key


@functools.lru_cache(maxsize=2)
def _specset(key: _Key) -> SpecSet:
    return build_specset(key.cache, key.split, key.data)


def specset(cache: Cache, split: str, data: DataConfig) -> SpecSet:
    """:func:`build_specset`, memoised (``build_recipe`` and ``data_factories`` both need the train split)."""
    return _specset(_Key(cache, split, data))


def fit_gain(spec: torch.Tensor) -> float:
    """The scalar that maps the training channels into [-1, 1]: 1 / max |x| (1 for silence)."""
    peak = float(spec.abs().max()) if spec.numel() else 0.0
    return 1.0 / peak if peak > 0 else 1.0


class BalancedSpecBatches:
    """``data_iter_factory`` for the Trainer: class-balanced batches drawn with the Trainer's generator.

    Each batch: ``{"spec": Tensor[B, 2, F, N] (times gain), "c": Tensor[B, 3] their soft labels,
    "c_fake": Tensor[B, 3] soft labels of other, independently drawn clips}`` — the generator is
    conditioned on labels that occur in the data, as in the seed.
    """

    def __init__(self, train: SpecSet, batch_size: int, gain: float) -> None:
        if len(train) == 0:
            raise DrumsynthError("the training split has no kick, snare or cymbal sounds")
        self.train, self.batch_size, self.gain = train, batch_size, gain
        pools = [torch.nonzero(train.labels == c).flatten() for c in range(3)]
        self.pools = [p for p in pools if len(p)]

    def _draw(self, generator: torch.Generator) -> torch.Tensor:
        cls = torch.randint(len(self.pools), (self.batch_size,), generator=generator)
        pick = torch.randint(1 << 30, (self.batch_size,), generator=generator)
        return torch.stack([self.pools[c][p % len(self.pools[c])] for c, p in zip(cls.tolist(), pick.tolist())])

    def __call__(self, generator: torch.Generator) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            idx, other = self._draw(generator), self._draw(generator)
            yield {"spec": self.train.spec[idx] * self.gain, "c": self.train.soft[idx], "c_fake": self.train.soft[other]}


class ValidSpecBatches:
    """``valid_data`` for the Trainer: every valid clip once, in order, per call."""

    def __init__(self, valid: SpecSet, gain: float, batch_size: int = 32) -> None:
        self.valid, self.gain, self.batch_size = valid, gain, batch_size

    def __call__(self) -> Iterator[dict[str, torch.Tensor]]:
        v = self.valid
        for i in range(0, len(v), self.batch_size):
            yield {"spec": v.spec[i:i + self.batch_size] * self.gain, "c": v.soft[i:i + self.batch_size],
                   "wave": v.waves[i:i + self.batch_size]}
