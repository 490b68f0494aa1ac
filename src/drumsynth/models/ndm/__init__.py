"""Neural Drum Machine (Aouameur, Esling & Hadjeres, ICCC 2019): conditional WAE + MCNN inverter.

A conditional Wasserstein autoencoder learns standardised log-mel spectrograms (512 bins, 22.05 kHz,
22015 samples) with class conditioning by conditional batch norm and a per-class MMD prior; a
multi-head CNN turns mel frames back into a waveform, with a binarised mask that cuts the tail the
transposed convolutions leak into the padding. The interface is a PCA of the latent space to three
controls (XY pad + Fine), a range, a class menu and a waveform crop (:mod:`.controls`).

Family contract (``drumsynth.models``): ``FAMILY``, ``Config``, ``build_recipe``,
``data_factories``, ``load_model`` -> :class:`NDMModel`. See ``docs/ndm.md``.
"""

from drumsynth.models.ndm.config import Config
from drumsynth.models.ndm.model import FAMILY, NDMModel, load_model

__all__ = ["FAMILY", "SMOKE_OVERRIDES", "Config", "NDMModel", "NDMRecipe", "build_recipe", "data_factories",
           "load_model"]

# The matrix test (tests/test_families.py) trains the large presets for one step: same architecture,
# smaller batches, so it stays a smoke test.
SMOKE_OVERRIDES = ["train.per_class=2", "train.mcnn_batch_size=2"]

# Training code loads only when asked for (``family_module(f).build_recipe``): rendering a release
# imports the model and its networks, never ``drumsynth.train``.
_TRAINING = {"build_recipe", "NDMRecipe", "data_factories"}


def __getattr__(name: str):
    if name in _TRAINING:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.recipe"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
