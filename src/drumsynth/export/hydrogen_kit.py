"""A kit as a Hydrogen drumkit (``drumkit.xml`` beside its WAVs), in the 1.x format Debian's kits use.

One ``<instrument>`` per note with ``midiOutNote``, and one ``<layer>`` per sample in its
``<instrumentComponent>``. Hydrogen velocities run 0..1: a layer covers its MIDI range widened by half
a step each side (``(lo - 0.5) / 127 .. (hi + 0.5) / 127``, the first from 0, the last to 1), so the
layers tile 0..1 with shared edges and every MIDI velocity lands in exactly one layer. The
round-robin samples of a velocity layer share its range, and ``sampleSelectionAlgo`` ``ROUND_ROBIN``
makes Hydrogen play them in turn (``VELOCITY`` when there is one sample per layer). Hydrogen holds at
most ``MAX_LAYERS`` layers per instrument. Open and closed hats share a mute group (the choke).

``drumsynth.data.hydrogen.read_drumkit`` reads these files back (the tests do).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from drumsynth.errors import DrumsynthError
from drumsynth.export.gm import CHOKED_BY_CLOSED_HAT, CLOSED_HATS
from drumsynth.export.kit_layout import MIDI_VELOCITY, KitInstrument, KitLayout

NAMESPACE = "http://www.hydrogen-music.org/drumkit"
MAX_LAYERS = 16  # Hydrogen's InstrumentComponent::MAX_LAYERS
HAT_MUTE_GROUP = 0

# Instrument fields as Hydrogen 1.x writes them, before the layers: name -> text.
_INSTRUMENT_DEFAULTS = (
    ("volume", "1"), ("isMuted", "false"), ("isSoloed", "false"), ("pan", "0"), ("pitchOffset", "0"),
    ("randomPitchFactor", "0"), ("gain", "1"), ("applyVelocity", "true"), ("filterActive", "false"),
    ("filterCutoff", "1"), ("filterResonance", "0"), ("Attack", "0"), ("Decay", "0"), ("Sustain", "1"),
    ("Release", "1000"),
)


def layer_range(velocity: tuple[int, int]) -> tuple[float, float]:
    """A MIDI velocity range -> Hydrogen's (min, max) in [0, 1], contiguous with its neighbours."""
    lo, hi = velocity
    first, last = MIDI_VELOCITY
    low = 0.0 if lo <= first else (lo - 0.5) / last
    high = 1.0 if hi >= last else (hi + 0.5) / last
    return round(low, 6), round(high, 6)


def _sub(parent: ET.Element, tag: str, text: object) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = str(text)
    return el


def _instrument(parent: ET.Element, index: int, ins: KitInstrument, hats: bool) -> None:
    if len(ins.samples) > MAX_LAYERS:
        raise DrumsynthError(f"Hydrogen holds at most {MAX_LAYERS} layers per instrument; {ins.name} has "
                             f"{len(ins.samples)} (velocity layers x round robin)")
    el = ET.SubElement(parent, "instrument")
    _sub(el, "id", index)
    _sub(el, "name", ins.name)
    for tag, text in _INSTRUMENT_DEFAULTS:
        _sub(el, tag, text)
    choked = hats and ins.note in CHOKED_BY_CLOSED_HAT | CLOSED_HATS
    _sub(el, "muteGroup", HAT_MUTE_GROUP if choked else -1)
    _sub(el, "midiOutChannel", -1)
    _sub(el, "midiOutNote", ins.note)
    _sub(el, "isStopNote", "false")
    _sub(el, "sampleSelectionAlgo", "ROUND_ROBIN" if ins.round_robin > 1 else "VELOCITY")
    for tag, text in (("isHihat", -1), ("lower_cc", 0), ("higher_cc", 127)):
        _sub(el, tag, text)
    component = ET.SubElement(el, "instrumentComponent")
    _sub(component, "component_id", 0)
    _sub(component, "gain", 1)
    for sample in sorted(ins.samples, key=lambda s: (s.layer, s.position)):
        low, high = layer_range(sample.velocity)
        layer = ET.SubElement(component, "layer")
        for tag, text in (("filename", sample.file), ("min", low), ("max", high), ("gain", 1), ("pitch", 0)):
            _sub(layer, tag, text)


def drumkit_xml(kit: KitLayout, *, author: str = "drumsynth", info: str = "", license: str = "") -> bytes:
    """The ``drumkit.xml`` bytes of ``kit`` (UTF-8, with XML declaration)."""
    root = ET.Element("drumkit_info", {"xmlns": NAMESPACE})
    for tag, text in (("name", kit.name), ("author", author), ("info", info), ("license", license)):
        _sub(root, tag, text)
    components = ET.SubElement(root, "componentList")
    main = ET.SubElement(components, "drumkitComponent")
    for tag, text in (("id", 0), ("name", "Main"), ("volume", 1)):
        _sub(main, tag, text)
    notes = {ins.note for ins in kit.instruments}
    hats = bool(notes & CLOSED_HATS and notes & CHOKED_BY_CLOSED_HAT)
    instruments = ET.SubElement(root, "instrumentList")
    for index, ins in enumerate(kit.instruments):
        _instrument(instruments, index, ins, hats)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
