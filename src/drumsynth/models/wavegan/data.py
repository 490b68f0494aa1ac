"""WaveGAN's training data: fixed-length clips of one cache split, decoded once per process.

Clips of the 3-class view (kick, snare incl. claps, cymbal incl. hats; toms and percussion have no
3-class label), or of the cache's own 8 classes (``data.three_class = false``), are resampled to
``data.sr`` and prepared as the seed says: trimmed or zero-padded to T, short linear fades, peak 1
(:class:`drumsynth.data.dataset.DrumDataset`). Batches are class-balanced and drawn with the
Trainer's explicit generator.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.memo import split_memo
from drumsynth.errors import DrumsynthError
from drumsynth.models.wavegan.config import DataConfig


def build_waveset(cache: Cache, split: str, data: DataConfig) -> DrumDataset:
    """Every clip of ``split`` in the model's class view: ``waves`` Tensor[N, 1, length], ``labels`` Tensor[N]."""
    return DrumDataset(cache, split, sr=data.sr, length=data.length, three_class=data.three_class,
                       fade_in=data.fade_in, fade_out=data.fade_out, max_items=data.max_items or None)


# build_recipe (the class counts) and data_factories (batches) both need the training split.
waveset = split_memo(build_waveset, maxsize=2)


class BalancedWaveBatches:
    """``data_iter_factory`` for the Trainer: class-balanced batches drawn with the Trainer's generator.

    Each batch, for one training step of ``n_critic`` critic updates and one generator update:
    ``{"wave": Tensor[n_critic * B, 1, T] real clips, "c": Tensor[n_critic * B, C] their one-hot
    classes, "c_fake": Tensor[B, C] one-hot classes for the generator update}`` — a class drawn
    uniformly, then a clip of it (the seed's classes hold 3000 sounds each; ours do not).
    """

    def __init__(self, train: DrumDataset, batch_size: int, n_critic: int) -> None:
        if len(train) == 0:
            raise DrumsynthError("the training split has no sounds of the model's classes")
        self.train, self.batch_size, self.n_critic = train, batch_size, n_critic
        self.n_classes = len(train.classes)
        self.present = torch.tensor([c for c, n in enumerate(train.class_counts().values()) if n])

    def __call__(self, generator: torch.Generator) -> Iterator[dict[str, torch.Tensor]]:
        eye = torch.eye(self.n_classes)
        b, k = self.batch_size, self.n_critic
        while True:
            waves, labels = self.train.sample_batch(k * b, generator)
            fake = self.present[torch.randint(len(self.present), (b,), generator=generator)]
            yield {"wave": waves, "c": eye[labels], "c_fake": eye[fake]}
