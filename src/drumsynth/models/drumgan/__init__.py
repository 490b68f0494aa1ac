"""DrumGAN VST (Nistal, Aouameur, Velarde, Lattner, ICML workshop 2022): complex-STFT GAN + encoder.

A progressive-growing WGAN-GP generates the real and imaginary parts of a 2048-point STFT (1024 bins
x 48 frames, 0.55 s at 44.1 kHz), conditioned on three soft class weights (kick, snare, cymbal)
distilled from the drum classifier; the critic also predicts them. An encoder trained on generated
sounds maps a sound back to (z, c). The plugin's controls — class sliders, Analyze, Generate,
Variation intensity and direction, the 2-D plane — are Session methods (``drumsynth.inference``).

Family contract (``drumsynth.models``): ``FAMILY``, ``Config``, ``build_recipe``,
``data_factories``, ``load_model`` -> :class:`DrumGANModel`. See ``docs/drumgan.md``.
"""

from drumsynth.models.drumgan.config import Config
from drumsynth.models.drumgan.model import FAMILY, DrumGANModel, load_model

__all__ = ["FAMILY", "SMOKE_OVERRIDES", "SMOKE_STEPS", "Config", "DrumGANModel", "DrumGANRecipe", "build_recipe",
           "data_factories", "load_model"]

# The matrix test (tests/test_families.py) walks the whole schedule — one step per scale, then one
# encoder step — so every block, every to-spectrogram layer and the encoder receive a gradient.
SMOKE_OVERRIDES = ["train.stage_steps=[1, 1, 1, 1, 1, 1]", "train.batch_size=[2, 2, 2, 2, 2, 2]",
                   "train.encoder_batch=2", "train.fade_fraction=1.0"]
SMOKE_STEPS = 7

# Training code loads only when asked for (``family_module(f).build_recipe``): rendering a release
# imports the model and its networks, never ``drumsynth.train``.
_TRAINING = {"build_recipe", "DrumGANRecipe", "data_factories"}


def __getattr__(name: str):
    if name in _TRAINING:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.recipe"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
