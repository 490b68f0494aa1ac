"""The wavegan networks of a config: the one place that turns a ``Config`` into modules.

The inference object (:mod:`.model`, which rebuilds the generator of a release) and training
(:mod:`.recipe`, which also needs the critic) both build from here: ``recipe -> model -> builder``.
"""

from __future__ import annotations

from drumsynth.models.wavegan.config import Config, check, class_names, critic_kwargs, generator_kwargs
from drumsynth.models.wavegan.networks import Generator
from drumsynth.nn.wave import Critic


def build_modules(config: Config, n_classes: int | None = None) -> tuple[Generator, Critic]:
    """The two networks of a config, untrained: (generator, critic). ``n_classes`` defaults to the
    config's class view (3 or 8)."""
    check(config)
    n = len(class_names(config.data)) if n_classes is None else n_classes
    return Generator(**generator_kwargs(config, n)), Critic(**critic_kwargs(config, n))
