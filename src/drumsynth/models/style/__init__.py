"""Style-based drum synthesis with GAN inversion (Drysdale, Tomczak, Hockman, ISMIR 2021 LBD).

A conditional mapping network takes z and the class to an intermediate style w; a synthesis network
grows a waveform (44.1 kHz, T = 16384) from a learned constant through blocks of x4 up-sampling and
convolution, each with per-channel noise and AdaIN from its own w (style mixing in training). The critic
is wavegan's (label channel, phase shuffle, WGAN-GP), trained on pitch-shifted data. An encoder (the
critic's stack without the label) inverts sounds to w; PCA of w per class gives the style faders.

Family contract (``drumsynth.models``): ``FAMILY``, ``Config``, ``build_recipe``, ``data_factories``,
``load_model`` -> :class:`StyleModel`. See ``docs/style.md``.
"""

from drumsynth.models.style.config import Config
from drumsynth.models.style.model import FAMILY, StyleModel, load_model

__all__ = ["FAMILY", "SMOKE_OVERRIDES", "SMOKE_STEPS", "Config", "StyleModel", "StyleRecipe", "build_recipe",
           "data_factories", "load_model"]

# The matrix test (tests/test_families.py) trains SMOKE_STEPS steps with these overrides: small batches,
# one critic update, one step per length with full fade (every block and to-waveform layer gets a
# gradient), always mixing styles and one encoder step.
SMOKE_OVERRIDES = ["train.batch_size=2", "train.n_critic=1", "train.stage_steps=[1, 1, 1, 1]",
                   "train.fade_fraction=1.0", "train.select_per_class=0", "train.encoder_steps=1",
                   "train.mixing_prob=1.0", "train.encoder_batch=2", "data.pitch_semitones=1"]
SMOKE_STEPS = 5

# Training code loads only when asked for (``family_module(f).build_recipe``): rendering a release
# imports the model and its networks, never ``drumsynth.train``.
_TRAINING = {"build_recipe", "StyleRecipe", "data_factories"}


def __getattr__(name: str):
    if name in _TRAINING:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.recipe"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
