"""DrumGAN's training data, computed once per cache and split.

Clips of the 3-class view (kick, snare incl. claps, cymbal incl. hats; toms and percussion have no
3-class label) are resampled to ``data.sr``, trimmed or padded to ``data.length``, peak-normalised,
turned into compressed complex-STFT channels (:mod:`.spectral`), and labelled with the drum
classifier's 3-class probabilities: the seed's soft labels (knowledge distilled from the classifier
into the GAN's conditioning). Training draws class-balanced batches with an explicit generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.memo import split_memo
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
    # Building the classifier initialises (then overwrites) its weights with the global RNG; fork it
    # so a run's initial weights do not depend on whether this split was memoised already.
    with torch.random.fork_rng(devices=[]):
        classifier = load_classifier()
    with torch.no_grad():
        spec = torch.cat([spectral.to_channels(waves[i:i + batch], data) for i in range(0, len(waves), batch)])
        soft = classifier.probs3(waves, data.sr)
    semitones = torch.tensor(shifts, dtype=torch.int64).repeat(len(dataset) // len(shifts))
    return SpecSet(spec=spec, soft=soft.float(), labels=dataset.labels.clone(), waves=waves, semitones=semitones)


# build_recipe (the gain) and data_factories (batches) both need the training split.
specset = split_memo(build_specset, maxsize=2)


def fit_gain(spec: torch.Tensor, rms: float = 0.5) -> float:
    """The scalar that gives the training channels an RMS of ``rms`` (1 for silence).

    Progressive GANs are tuned for data of about unit scale (images in [-1, 1]); a WGAN-GP critic
    is 1-Lipschitz, so data an order of magnitude smaller would shrink its score differences
    relative to the drift and auxiliary terms. The peaks end up well above 1; the generator's
    output layer is linear.
    """
    value = float(spec.double().pow(2).mean().sqrt()) if spec.numel() else 0.0
    return rms / value if value > 0 else 1.0


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
