"""The drum taxonomy: 8 classes, and the 3-class view the seed papers train on.

Decision (DESIGN.md §3 leaves it open): in the 3-class view a clap counts as a snare — both are the
backbeat hit, and DrumGAN VST's "snare" slider is meant to cover both — while closed hats, open hats and
cymbals all count as cymbal. Toms and other percussion have no place in the 3-class view.
"""

from __future__ import annotations

from drumsynth.errors import DrumsynthError

CLASSES = ("kick", "snare", "clap", "hihat_closed", "hihat_open", "cymbal", "tom", "perc")
CLASSES3 = ("kick", "snare", "cymbal")
TO_CLASS3: dict[str, str | None] = {
    "kick": "kick",
    "snare": "snare",
    "clap": "snare",
    "hihat_closed": "cymbal",
    "hihat_open": "cymbal",
    "cymbal": "cymbal",
    "tom": None,
    "perc": None,
}

# Folder and user-facing names that mean one of our classes (lower case, no separators), plurals included.
# ``drumsynth prepare`` asks the corpus labeller (``labelling.label_from_name``) first; these exact
# names are its fallback for abbreviations it does not know ("OH", "CH", "Percs").
ALIASES = {
    "kick": "kick", "kicks": "kick", "bd": "kick", "bds": "kick", "bassdrum": "kick", "bassdrums": "kick",
    "kickdrum": "kick", "kickdrums": "kick",
    "snare": "snare", "snares": "snare", "sd": "snare", "snaredrum": "snare", "snaredrums": "snare",
    "rim": "snare", "rims": "snare", "rimshot": "snare", "rimshots": "snare",
    "clap": "clap", "claps": "clap", "handclap": "clap", "handclaps": "clap",
    "hihatclosed": "hihat_closed", "closedhihat": "hihat_closed", "closedhihats": "hihat_closed",
    "closedhat": "hihat_closed", "closedhats": "hihat_closed",
    "hhc": "hihat_closed", "ch": "hihat_closed", "hihat": "hihat_closed", "hihats": "hihat_closed",
    "hat": "hihat_closed", "hats": "hihat_closed",
    "hihatopen": "hihat_open", "openhihat": "hihat_open", "openhihats": "hihat_open", "openhat": "hihat_open",
    "openhats": "hihat_open", "hho": "hihat_open", "oh": "hihat_open",
    "cymbal": "cymbal", "cymbals": "cymbal", "crash": "cymbal", "crashes": "cymbal", "ride": "cymbal",
    "rides": "cymbal", "china": "cymbal", "splash": "cymbal",
    "tom": "tom", "toms": "tom",
    "perc": "perc", "percs": "perc", "percussion": "perc", "shaker": "perc", "shakers": "perc",
}


def class_index(name: str, classes: tuple[str, ...] = CLASSES) -> int:
    """Index of ``name`` in ``classes``; an unknown name is a ``DrumsynthError``."""
    try:
        return classes.index(name)
    except ValueError as err:
        raise DrumsynthError(f"unknown drum class {name!r}; expected one of {list(classes)}") from err


def normalise_label(text: str) -> str:
    """A folder or user label (``"Hi-Hat Closed"``, ``"BD"``, ``"kicks"``) -> a class of ``CLASSES``."""
    key = "".join(ch for ch in text.lower() if ch.isalnum())
    if key in ALIASES:
        return ALIASES[key]
    if text in CLASSES:
        return text
    raise DrumsynthError(
        f"unknown drum label {text!r}; use one of {list(CLASSES)} (or a common alias such as 'bd', 'sd', 'hats')")
