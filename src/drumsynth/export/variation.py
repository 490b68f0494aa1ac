"""Small latent variations of one sound: the seeds' "humanise" idea, shared by kits and the humaniser.

A :class:`Voice` is one instrument: a class (the sliders), a latent centre drawn from the class's prior
with a seed, and the class's latent spread (``Session.latent_spread``). Its hits decode
``centre + a·e1`` for a fresh random direction ``e1`` per hit (``Session.variations``), with
``a = amount × spread``: an ``amount`` is a fraction of the distance between typical hits of the class,
so 0.1 means the same for every family. Measured on the shipped models' default kits
(``scripts/kit_lsd.py``, docs/kits.md): at amount 0.1 round-robin samples lie 2.2 dB (ndm) and 1.5 dB
(drumgan) LSD apart on average, where independent hits of a class lie 13.7 and 9.9 dB apart.

Seeds are derived from the user's one seed and names (:func:`derive_seed`), so adding an instrument or
a note never changes the sound of another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

from drumsynth.errors import DrumsynthError
from drumsynth.inference import checks
from drumsynth.inference.session import Render, Session

DEFAULT_AMOUNT = 0.1
MAX_AMOUNT = 1.0  # a whole class spread: beyond it a "variation" is another sound


def derive_seed(seed: int, *parts: object) -> int:
    """A seed in [0, 2**63 - 1] from ``seed`` and names: stable across runs, machines and Python versions
    (sha256 of the text, not ``hash()``, which is salted per process)."""
    text = "/".join([str(checks.seed(seed)), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") & checks.MAX_SEED


def check_amount(amount: object) -> float:
    """A variation amount in [0, ``MAX_AMOUNT``] (fractions of the class's latent spread)."""
    value = checks.real("amount", amount)
    if not 0.0 <= value <= MAX_AMOUNT:
        raise DrumsynthError(f"variation amount must be in [0, {MAX_AMOUNT}] (a fraction of the class's "
                             f"latent spread), got {value}")
    return value


class Voice:
    """One instrument of a class: a latent centre from ``seed``, varied hit by hit.

    Parameters
    ----------
    session : the loaded model (its sliders and centre are set by every :meth:`render`)
    cls : a class of ``session.trained_classes``
    seed : the centre's seed
    """

    def __init__(self, session: Session, cls: str, seed: int) -> None:
        if cls not in session.trained_classes:
            raise DrumsynthError(f"class {cls!r} is not one this model was trained on: "
                                 f"{list(session.trained_classes)}")
        self.session, self.cls, self.seed = session, cls, checks.seed(seed)
        self.spread = session.latent_spread(cls)

    def render(self, direction_seeds: Sequence[int], amounts: Sequence[float]) -> Iterator[Render]:
        """Hit ``k`` decodes ``centre + amounts[k]·spread·e1(direction_seeds[k])``; streamed in batches
        whose ``waves`` are np.ndarray[b, T] at the model's rate."""
        amounts = [check_amount(a) for a in amounts]
        self.session.set_sliders(self.cls)
        self.session.new_center(self.seed)
        return self.session.variations(direction_seeds, [a * self.spread for a in amounts])
