"""Conditional WaveGAN drum synthesis (Drysdale, Tomczak, Hockman, DAFx 2020).

A WGAN-GP on raw waveforms (44.1 kHz, T = 16384): the generator maps a latent z and a learned class
embedding (kick, snare, cymbal) through blocks of x4 nearest-neighbour up-sampling and kernel-25
convolutions; the critic mirrors it with stride-4 convolutions and phase shuffle, and sees the class as
an extra input channel. Optional progressive growing from 256 samples. No encoder: Analyze, ``vary
--file`` and Table 2 invert the generator by optimisation (:mod:`.invert`).

Family contract (``drumsynth.models``): ``FAMILY``, ``Config``, ``build_recipe``, ``data_factories``,
``load_model`` -> :class:`WaveGANModel`. See ``docs/wavegan.md``.
"""

from drumsynth.models.wavegan.config import Config
from drumsynth.models.wavegan.model import FAMILY, WaveGANModel, load_model

__all__ = ["FAMILY", "SMOKE_OVERRIDES", "SMOKE_STEPS", "Config", "WaveGANModel", "WaveGANRecipe", "build_recipe",
           "data_factories", "load_model"]

# The matrix test (tests/test_families.py) trains SMOKE_STEPS steps with these overrides: small batches,
# one critic update, and (for a growing preset) one step per length with full fade, so that every
# block and every to/from-waveform layer receives a gradient.
SMOKE_OVERRIDES = ["train.batch_size=2", "train.n_critic=1", "train.stage_steps=[1, 1, 1, 1]", "train.fade_fraction=1.0",
                   "train.select_per_class=0"]
SMOKE_STEPS = 4

# Training code loads only when asked for (``family_module(f).build_recipe``): rendering a release
# imports the model and its networks, never ``drumsynth.train``.
_TRAINING = {"build_recipe", "WaveGANRecipe", "data_factories"}


def __getattr__(name: str):
    if name in _TRAINING:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.recipe"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
