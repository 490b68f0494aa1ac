"""Parsing Hydrogen drum kits (``drumkit.xml`` + sample files in one folder).

Hydrogen's format changed over the years and the Debian kits span them all:

* 0.9.3-era kits: ``<instrument><filename>`` directly (one sample per instrument, no layers);
* 0.9.4+: ``<instrument><layer><filename><min><max>...`` (velocity layers);
* 0.9.7+/1.x: ``<instrument><instrumentComponent><layer>...`` and an XML namespace
  (``http://www.hydrogen-music.org/drumkit``) on every tag.

Tags are read with their namespace stripped, and layers are found wherever they sit below an instrument.
Labelling (instrument name -> class) lives in ``drumsynth.data.labelling``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from drumsynth.errors import DrumsynthError

DRUMKIT_XML = "drumkit.xml"


@dataclass(frozen=True)
class Layer:
    """One sample of an instrument; ``vel_min``/``vel_max`` in [0, 1] (Hydrogen's velocity range)."""

    filename: str
    path: Path
    vel_min: float = 0.0
    vel_max: float = 1.0
    gain: float = 1.0


@dataclass
class Instrument:
    """A Hydrogen instrument: its name as written in the kit, and its layers (softest first)."""

    id: str
    name: str
    layers: list[Layer] = field(default_factory=list)
    midi_note: int | None = None


@dataclass
class DrumKit:
    """A parsed kit folder."""

    name: str
    folder: Path
    author: str = ""
    license: str = ""
    info: str = ""
    instruments: list[Instrument] = field(default_factory=list)


def _strip_namespaces(root: ET.Element) -> ET.Element:
    """Drop ``{namespace}`` prefixes from every tag in place (kits from different versions differ)."""
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _text(el: ET.Element | None, tag: str, default: str = "") -> str:
    found = el.find(tag) if el is not None else None
    return (found.text or "").strip() if found is not None and found.text else default


def _float(el: ET.Element, tag: str, default: float) -> float:
    try:
        return float(_text(el, tag, str(default)))
    except ValueError:
        return default


def _resolve(folder: Path, filename: str) -> Path:
    """A layer's file: relative to the kit folder; falls back to the bare name inside the folder
    (some kits store absolute paths from their author's machine)."""
    candidate = folder / filename
    if candidate.is_file():
        return candidate
    return folder / Path(filename.replace("\\", "/")).name


def _layers(folder: Path, ins: ET.Element) -> list[Layer]:
    """Every layer below an instrument, or the old-style single ``<filename>``; softest first."""
    layers = []
    for lay in ins.iter("layer"):
        name = _text(lay, "filename")
        if name:
            layers.append(Layer(filename=name, path=_resolve(folder, name), vel_min=_float(lay, "min", 0.0),
                                vel_max=_float(lay, "max", 1.0), gain=_float(lay, "gain", 1.0)))
    if not layers:
        name = _text(ins, "filename")
        if name:
            layers.append(Layer(filename=name, path=_resolve(folder, name)))
    # Order by velocity range, then by file name, so layer numbers are stable.
    return sorted(layers, key=lambda lay: (lay.vel_min, lay.vel_max, lay.filename))


def read_drumkit(path: str | Path) -> DrumKit:
    """Parse a kit folder (or its ``drumkit.xml``); a broken file is a ``DrumsynthError``."""
    path = Path(path)
    xml_path = path if path.name == DRUMKIT_XML else path / DRUMKIT_XML
    folder = xml_path.parent
    try:
        root = _strip_namespaces(ET.parse(xml_path).getroot())
    except (OSError, ET.ParseError) as err:
        raise DrumsynthError(f"cannot read Hydrogen kit {xml_path}: {err}") from err
    if root.tag != "drumkit_info":
        raise DrumsynthError(f"{xml_path} is not a Hydrogen drumkit.xml (root <{root.tag}>)")
    kit = DrumKit(name=_text(root, "name", folder.name), folder=folder, author=_text(root, "author"),
                  license=_text(root, "license"), info=_text(root, "info"))
    instrument_list = root.find("instrumentList")
    for ins in (instrument_list.findall("instrument") if instrument_list is not None else []):
        note = _text(ins, "midiOutNote")
        kit.instruments.append(Instrument(
            id=_text(ins, "id"), name=_text(ins, "name"), layers=_layers(folder, ins),
            midi_note=int(note) if note.lstrip("-").isdigit() else None))
    return kit


def find_kits(root: str | Path) -> list[Path]:
    """Kit folders directly below ``root`` (or ``root`` itself when it holds a drumkit.xml), sorted."""
    root = Path(root)
    if (root / DRUMKIT_XML).is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / DRUMKIT_XML).is_file())
