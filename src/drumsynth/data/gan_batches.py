"""Batches for the waveform GANs (wavegan, style): class-balanced real clips for ``n_critic`` critic
updates and classes for one generator update, drawn with the Trainer's explicit generator."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from drumsynth.data.dataset import DrumDataset
from drumsynth.errors import DrumsynthError


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
