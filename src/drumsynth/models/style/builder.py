"""The style networks of a config: the one place that turns a ``Config`` into modules.

The inference object (:mod:`.model`: generator and encoder of a release) and training (:mod:`.recipe`,
which also needs the critic) both build from here: ``recipe -> model -> builder``.
"""

from __future__ import annotations

from drumsynth.models.style.config import (
    Config,
    check,
    class_names,
    critic_kwargs,
    encoder_kwargs,
    generator_kwargs,
)
from drumsynth.models.style.networks import Encoder, StyleGenerator
from drumsynth.nn.wave import Critic


def build_modules(config: Config, n_classes: int | None = None) -> tuple[StyleGenerator, Critic, Encoder]:
    """The three networks of a config, untrained: (generator M + G, critic D, encoder E). ``n_classes``
    defaults to the config's class view (3 or 8)."""
    check(config)
    n = len(class_names(config.data)) if n_classes is None else n_classes
    return (StyleGenerator(**generator_kwargs(config, n)), Critic(**critic_kwargs(config, n)),
            Encoder(**encoder_kwargs(config)))
