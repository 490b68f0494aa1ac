"""WaveGAN's training data: fixed-length clips of one cache split, decoded once per process.

Clips of the 3-class view (kick, snare incl. claps, cymbal incl. hats; toms and percussion have no
3-class label), or of the cache's own 8 classes (``data.three_class = false``), are resampled to
``data.sr`` and prepared as the seed says: trimmed or zero-padded to T, short linear fades, peak 1
(:class:`drumsynth.data.dataset.DrumDataset`). Batches are class-balanced and drawn with the
Trainer's explicit generator (:class:`drumsynth.data.gan_batches.BalancedWaveBatches`).
"""

from __future__ import annotations

from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.memo import split_memo
from drumsynth.models.wavegan.config import DataConfig


def build_waveset(cache: Cache, split: str, data: DataConfig) -> DrumDataset:
    """Every clip of ``split`` in the model's class view: ``waves`` Tensor[N, 1, length], ``labels`` Tensor[N]."""
    return DrumDataset(cache, split, sr=data.sr, length=data.length, three_class=data.three_class,
                       fade_in=data.fade_in, fade_out=data.fade_out, max_items=data.max_items or None)


# build_recipe (the class counts) and data_factories (batches) both need the training split.
waveset = split_memo(build_waveset, maxsize=2)
