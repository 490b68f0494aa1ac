"""The sequencer's sounds as a drum kit: SFZ + Hydrogen (``drumsynth.export``'s kit writers), zipped.

Each lane becomes one instrument on the next free General MIDI key of its sound's class
(``export.gm.kit_notes``): its sound, and with per-hit variation on, its variations as the round-robin
set (one velocity layer), so the kit plays in a sampler what the page's sequencer played. The sample
files are the renders' own WAVs and sidecars, copied. Kits go into the server's kit folder, each into a
new ``<name>-<NNN>`` folder beside its ``.zip``, and are served back by id.
"""

from __future__ import annotations

import re
import secrets
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError
from drumsynth.export import gm
from drumsynth.export.hydrogen_kit import MAX_LAYERS, drumkit_xml
from drumsynth.export.kit_folder import KitFolder
from drumsynth.export.kit_layout import KitInstrument, KitLayout, KitSample, sample_name, velocity_ranges
from drumsynth.export.sfz import sfz_text
from drumsynth.export.wav import plain_name

KEEP = 20  # kits served back; older ids are forgotten (their files stay)
ID = re.compile(r"^[0-9a-f]{16}$")


def _instruments(lanes: list[list[Any]]) -> tuple[list[tuple[KitInstrument, list[Any]]], dict[int, str]]:
    """Each lane's instrument (with the stored renders it plays) and ``{lane: why}`` for lanes left out."""
    used: set[int] = set()
    planned, skipped = [], {}
    velocity = velocity_ranges(1)[0]
    for index, sounds in enumerate(lanes):
        head = sounds[0].meta
        cls, classes = head["class"], tuple(head["labels"])
        free = [n for n in gm.kit_notes(cls, classes) if n not in used]
        if not free:
            skipped[index] = f"no free General MIDI key for another {cls}"
            continue
        used.add(free[0])
        instrument = KitInstrument(cls=cls, note=free[0])
        for position, _ in enumerate(sounds[:MAX_LAYERS], start=1):
            instrument.samples.append(KitSample(file=sample_name(free[0], cls, 1, position), layer=1,
                                                velocity=velocity, position=position))
        planned.append((instrument, sounds[:MAX_LAYERS]))
    return planned, skipped


class KitStore:
    """Writes kits into ``folder`` and finds their zips again by id."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._zips: OrderedDict[str, Path] = OrderedDict()

    def _new_folder(self, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        for number in range(1000):
            path = self.folder / f"{name}-{number:03d}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise DrumsynthError(f"{self.folder} holds 1000 kits named {name!r} already; choose another name")

    def export(self, lanes: list[list[Any]], name: str) -> dict[str, Any]:
        """A kit of ``lanes`` (each: the lane's stored render, then its variations); its metadata."""
        name = plain_name(name, "kit name")
        planned, skipped = _instruments(lanes)
        if not planned:
            raise DrumsynthError(f"no lane's sound has a General MIDI key: {skipped}")
        folder = KitFolder(self._new_folder(name))
        layout = KitLayout(name=name, instruments=sorted((ins for ins, _ in planned), key=lambda ins: ins.note))
        files = [s.file for ins, _ in planned for s in ins.samples]
        folder.plan(files + [f[:-len(".wav")] + ".json" for f in files] + ["kit.sfz", "drumkit.xml"])
        for instrument, sounds in planned:
            for sample, stored in zip(instrument.samples, sounds):
                folder.write(sample.file, stored.path.read_bytes())
                folder.write(sample.file[:-len(".wav")] + ".json", stored.path.with_suffix(".json").read_bytes())
        about = ["the sequencer's sounds from the drumsynth web instrument"]
        folder.write("kit.sfz", sfz_text(layout, about).encode())
        folder.write("drumkit.xml", drumkit_xml(layout, info=about[0]))
        folder.finish({"name": name, "source": "web", "skipped": {str(k): v for k, v in skipped.items()},
                       "renders": {ins.note: [s.id for s in sounds] for ins, sounds in planned}})
        archive = folder.folder.with_suffix(".zip")
        with zipfile.ZipFile(archive, "x", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.folder.iterdir()):
                zf.write(path, f"{folder.folder.name}/{path.name}")
        kid = secrets.token_hex(8)
        with self._lock:
            self._zips[kid] = archive
            while len(self._zips) > KEEP:
                self._zips.popitem(last=False)
        return {"id": kid, "url": f"/api/kit/{kid}", "name": archive.name, "skipped": skipped,
                "instruments": [{"note": ins.note, "name": ins.name, "class": ins.cls, "samples": len(ins.samples)}
                                for ins in layout.instruments]}

    def path(self, kid: object) -> Path:
        """The zip of kit ``kid`` (a ``KeyError`` for any id this server did not hand out)."""
        if not isinstance(kid, str) or not ID.fullmatch(kid):
            raise KeyError(kid)
        with self._lock:
            return self._zips[kid]
