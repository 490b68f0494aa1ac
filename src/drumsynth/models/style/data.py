"""The style family's data: fixed-length clips of one cache split, decoded once per process.

As wavegan's (:mod:`drumsynth.models.wavegan.data`): the 3-class view (or the cache's 8 classes),
resampled to ``data.sr``, trimmed or zero-padded to T with short linear fades, peak 1. The training split
is augmented as the seed says: every clip also at each whole number of semitones in ±``pitch_semitones``
(varispeed, as a sampler repitches a hit: the seed's 9000 sounds became 63000), each version cut to T
afterwards. Batches are class-balanced (:class:`drumsynth.data.gan_batches.BalancedWaveBatches`).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.memo import split_memo
from drumsynth.models.style.config import DataConfig

VALID_BATCH = 32


def build_waveset(cache: Cache, split: str, data: DataConfig) -> DrumDataset:
    """Every clip of ``split`` in the model's class view, pitch-shifted copies included for the training
    split: ``waves`` Tensor[N, 1, length], ``labels`` Tensor[N]."""
    shifts = tuple(range(-data.pitch_semitones, data.pitch_semitones + 1)) if split == "train" else (0,)
    return DrumDataset(cache, split, sr=data.sr, length=data.length, three_class=data.three_class,
                       pitch_semitones=shifts, fade_in=data.fade_in, fade_out=data.fade_out,
                       max_items=data.max_items or None)


waveset = split_memo(build_waveset, maxsize=2)


class ValidWaves:
    """Validation batches for the encoder: every clip of the valid split once, ``{"wave": Tensor[b, 1, T]}``."""

    def __init__(self, valid: DrumDataset) -> None:
        self.valid = valid

    def __call__(self) -> Iterator[dict[str, torch.Tensor]]:
        for waves, _ in self.valid.batches(VALID_BATCH):
            yield {"wave": waves}
