"""The renders of one web server: written through ``Session.save`` into the server's own folder, served
back by id.

Every render the page asks for is saved as ``<family>_<class>_<NNN>.wav`` + ``.json`` (the one naming
scheme of ``drumsynth.export.wav.HitFolder``; never over an existing file) and gets a random id. A
download names the id, never a path: :meth:`RenderStore.path` answers only for files this server wrote.
The newest ``keep`` renders are kept; the files of older ones (written by this server, so ours to
remove) are deleted, which bounds the folder however long someone drags the pad.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError
from drumsynth.export.wav import HitFolder

ID = re.compile(r"^[0-9a-f]{16}$")
KEEP = 1000


@dataclass
class Stored:
    """One saved render: its files and what the page and later requests (crop, morph) need."""

    id: str
    path: Path
    model: str
    render: Any  # drumsynth.inference.session.Render of this one hit, at the model's rate
    sha256: str
    meta: dict[str, Any]


def _hit(render: Any, i: int) -> Any:
    """Hit ``i`` of a Render as a Render of its own (what crop, morph and variations start from)."""
    return type(render)(waves=render.waves[i:i + 1], sample_rate=render.sample_rate,
                        latents=render.latents[i:i + 1], labels=render.labels[i:i + 1], seed=render.seed,
                        provenance=render.provenance, first=render.first + i)


class RenderStore:
    """Saves renders into ``folder`` and finds them again by id (thread-safe).

    Parameters
    ----------
    folder : the server's output folder (created on first save)
    keep : renders kept (0: all); the files of older ones are removed
    """

    def __init__(self, folder: str | Path, *, keep: int = KEEP) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise DrumsynthError(f"keep must be an integer >= 0, got {keep!r}")
        self.folder = HitFolder(folder)
        self.keep = keep
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Stored] = OrderedDict()

    def add(self, session: Any, model: str, render: Any, extra: dict[str, Any] | None = None) -> list[Stored]:
        """Save every hit of ``render`` with ``session.save`` and register each under a new id."""
        import soundfile as sf

        stored = []
        for i, path in enumerate(session.save(render, self.folder)):
            data = path.read_bytes()
            rid = secrets.token_hex(8)
            weights = render.labels[i].tolist()
            meta = {"id": rid, "url": f"/api/audio/{rid}", "name": path.name, "model": model,
                    "family": session.family, "verb": render.provenance.get("verb"),
                    "class": session.classes[max(range(len(weights)), key=weights.__getitem__)],
                    "labels": dict(zip(session.classes, weights)), "latent": render.latents[i].tolist(),
                    "seconds": round(sf.info(path).duration, 6), "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()} | (extra or {})
            stored.append(Stored(rid, path, model, _hit(render, i), meta["sha256"], meta))
        with self._lock:
            for item in stored:
                self._items[item.id] = item
            excess = max(0, len(self._items) - self.keep) if self.keep else 0
            old = [self._items.popitem(last=False)[1] for _ in range(excess)]
        for item in old:
            for file in (item.path, item.path.with_suffix(".json")):
                with contextlib.suppress(OSError):
                    file.unlink()
        return stored

    def get(self, rid: object) -> Stored:
        """The render of id ``rid`` (a ``KeyError`` for anything this server did not write or has let go)."""
        if not isinstance(rid, str) or not ID.fullmatch(rid):
            raise KeyError(rid)
        with self._lock:
            return self._items[rid]

    def path(self, rid: object) -> Path:
        """The WAV of id ``rid``: always a file this server wrote into its own folder."""
        return self.get(rid).path

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
