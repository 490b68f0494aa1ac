"""General MIDI drum notes for a model's classes, both ways: class -> kit notes, note -> class.

The corpus labeller's table (``drumsynth.data.labelling.GM_KEY_CLASS``) says which class every GM
percussion key is; this module adds the choices a kit needs:

* which keys a class's instruments sit on, main key first (:data:`KIT_NOTES`): kick 36, snare 38, clap
  39, closed hat 42, open hat 46, crash 49, toms 45/47/48/50, perc 56 (cowbell) and 75 (claves) ...;
* how many instruments a class gets by default (:data:`DEFAULT_PER_CLASS`: four toms, two percs, one of
  everything else);
* a model trained on the 3-class view (kick, snare, cymbal: drumgan) plays the 8-class keys through
  ``taxonomy.TO_CLASS3``: a clap or a hat key plays its snare or cymbal, a tom or perc key plays nothing.
"""

from __future__ import annotations

from drumsynth.data.labelling import GM_KEY_CLASS, gm_key_name
from drumsynth.data.taxonomy import CLASSES3, TO_CLASS3

# Keys of each class for kit instruments, in the order they are taken (the first is the class's main
# note). Toms run from the rack toms (45, 47, 48, 50: the usual four of a kit) to the floor toms.
KIT_NOTES: dict[str, tuple[int, ...]] = {
    "kick": (36, 35),
    "snare": (38, 40, 37),
    "clap": (39,),
    "hihat_closed": (42, 44),
    "hihat_open": (46,),
    "cymbal": (49, 57, 51, 55, 52, 59, 53),
    "tom": (45, 47, 48, 50, 43, 41),
    "perc": (56, 75, 54, 76, 77, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 73, 74, 80, 81, 82, 85),
}
# A 3-class model's classes cover more keys: its cymbal is the hats' class too.
KIT_NOTES3: dict[str, tuple[int, ...]] = {
    "kick": KIT_NOTES["kick"],
    "snare": (38, 40, 37, 39),
    "cymbal": (49, 42, 46, 51, 44, 57, 55, 52, 59, 53),
}
DEFAULT_PER_CLASS = {"tom": 4, "perc": 2}  # any other class: 1
# Keys from low to high pitch, for classes whose instruments should be ordered by pitch (toms).
PITCH_ORDER = {"tom": (41, 43, 45, 47, 48, 50)}
# Hi-hat choke: a closed or pedal hat stops a ringing open hat (SFZ off_by, Hydrogen mute groups).
CHOKED_BY_CLOSED_HAT = {46}
CLOSED_HATS = {42, 44}


def is_three_class(classes: tuple[str, ...]) -> bool:
    return tuple(classes) == CLASSES3


def kit_notes(cls: str, classes: tuple[str, ...]) -> tuple[int, ...]:
    """The GM keys a kit may put instruments of ``cls`` on, main key first (empty for unknown names)."""
    table = KIT_NOTES3 if is_three_class(classes) else KIT_NOTES
    return table.get(cls, ())


def note_class(note: int, classes: tuple[str, ...]) -> str | None:
    """The class of ``classes`` that plays GM key ``note``, or ``None`` when none does."""
    label = GM_KEY_CLASS.get(int(note))
    if label is not None and is_three_class(classes):
        label = TO_CLASS3.get(label)
    return label if label in classes else None


def note_label(note: int) -> str:
    """``"36 Bass Drum 1"``: a key with its General MIDI name, for messages and instrument names."""
    return f"{int(note)} {gm_key_name(note)}"
