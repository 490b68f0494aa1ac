"""The ndm networks of a config: the one place that turns a ``Config`` into modules.

Both the inference object (:mod:`.model`, which rebuilds the networks of a release) and training
(:mod:`.recipe`) build from here, so rendering never imports the training code: ``recipe -> model -> builder``.
"""

from __future__ import annotations

from drumsynth.data.taxonomy import CLASSES
from drumsynth.models.ndm.config import Config, check, mcnn_kwargs, wae_kwargs
from drumsynth.models.ndm.mcnn import MCNN
from drumsynth.models.ndm.wae import CWAE


def build_modules(config: Config, n_classes: int = len(CLASSES)) -> tuple[CWAE, MCNN]:
    """The two networks of a config, untrained (feature statistics at their neutral defaults)."""
    check(config)
    wae = CWAE(**wae_kwargs(config, n_classes), log_eps=config.data.log_eps)
    mcnn = MCNN(**mcnn_kwargs(config))
    return wae, mcnn
