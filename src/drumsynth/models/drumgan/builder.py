"""The drumgan networks of a config: the one place that turns a ``Config`` into modules.

Both the inference object (:mod:`.model`, which rebuilds the generator and encoder of a release) and
training (:mod:`.recipe`, which also needs the critic) build from here, so the imports run one way:
``recipe -> model -> builder``.
"""

from __future__ import annotations

from drumsynth.data.taxonomy import CLASSES3
from drumsynth.models.drumgan.config import Config, check, encoder_kwargs, full_size, generator_kwargs
from drumsynth.models.drumgan.encoder import Encoder
from drumsynth.models.drumgan.networks import Critic, Generator


def build_modules(config: Config, n_classes: int = len(CLASSES3)) -> tuple[Generator, Critic, Encoder]:
    """The three networks of a config, untrained: (generator, critic, encoder)."""
    check(config)
    kwargs = generator_kwargs(config, n_classes)
    return (Generator(**kwargs, class_bias=config.model.class_bias,
                      smooth_upsample=config.model.smooth_upsample,
                      output_gate=config.model.output_gate,
                      envelope_length=full_size(config.data)[1] * config.data.hop_length
                      if config.model.decay_envelope else None), Critic(**kwargs),
            Encoder(**encoder_kwargs(config, n_classes)))
