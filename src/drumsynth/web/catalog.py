"""The models a web instrument offers: every shipped family and the checkpoints in a runs folder.

The page names a model by a key the server made (``ndm``, ``drumgan``, ``run:<path inside the runs
folder>``), never by a path: :meth:`Catalog.session` looks the key up in the list found at start (or at
the last :meth:`Catalog.refresh`), so no request can make the server open a file outside the shipped
models and the runs folder. Sessions are loaded on first use and kept, at most ``max_loaded`` of them
(the least recently used is dropped first): one Session per model, shared by every browser, whose
navigation state each render sets from its request (:mod:`drumsynth.web.app`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError

# Checkpoint names a training run leaves (drumsynth.train): the small release file and the best one;
# resume files hold optimiser state the page does not need.
RUN_FILES = ("release.pt", "best.pt")
MAX_RUN_DEPTH = 4       # runs/<name>/<sub>/release.pt is depth 3
MAX_RUN_MODELS = 200    # a runs folder with thousands of files must not make the picker unusable
MAX_LOADED = 4          # Sessions kept in memory (a drumgan Session holds about 100 MB)
# The layer groups the page offers for the style faders (Session.set_style_layers also takes a layer index).
STYLE_LAYER_GROUPS = ("all", "low", "mid", "high")


@dataclass(frozen=True)
class Entry:
    """One model of the picker: its key, a label, the checkpoint, and where it came from."""

    key: str
    label: str
    path: Path
    source: str  # "shipped" | "runs"


def _run_checkpoints(runs: Path) -> list[Path]:
    """``release.pt``/``best.pt`` files under ``runs`` (not following links out of it), sorted."""
    root = runs.resolve()
    found: list[Path] = []
    for depth in range(1, MAX_RUN_DEPTH + 1):
        for name in RUN_FILES:
            for path in sorted(root.glob("/".join(["*"] * (depth - 1) + [name]))):
                try:
                    inside = path.resolve().is_relative_to(root)
                except OSError:  # a link loop
                    inside = False
                if inside and path.is_file():
                    found.append(path)
                if len(found) >= MAX_RUN_MODELS:
                    return found
    return found


def discover(runs: Path | None) -> dict[str, Entry]:
    """The picker's models by key: the shipped families first (the default one leading), then runs."""
    from drumsynth.inference.session import shipped_models

    entries = {family: Entry(family, f"{family} (shipped)", path, "shipped")
               for family, path in shipped_models().items()}
    if runs is not None and runs.is_dir():
        for path in _run_checkpoints(runs):
            rel = path.resolve().relative_to(runs.resolve()).as_posix()
            entries[f"run:{rel}"] = Entry(f"run:{rel}", rel, path, "runs")
    return entries


def describe(key: str, session: Any) -> dict[str, Any]:
    """What the page needs to show a model's controls (controls a family lacks are hidden).

    ``pad`` says whether the model has the Neural Drum Machine's XY pad / Fine over its class PCA;
    ``estimates_classes`` whether Analyze sets the class sliders (DrumGAN VST's encoder); ``style``
    is ``{"faders": K, "layer_groups": [...], "n_layers": L}`` for a model with style faders and noise
    inputs (the style family), else ``None``.
    """
    model = session.model
    return {"key": key, "family": session.family, "label": session.label, "classes": list(session.classes),
            "trained_classes": list(session.trained_classes), "latent_dim": int(model.latent_dim),
            "sample_rate": int(model.sample_rate),
            "pad": hasattr(model, "latent_from_controls"),
            "estimates_classes": callable(getattr(model, "analyze", None)),
            "encoder": callable(getattr(model, "encode", None)), "style": style_controls(session)}


def style_controls(session: Any) -> dict[str, Any] | None:
    """The style controls' sizes for the page (``describe``'s ``style``), ``None`` without them."""
    state = session.style_state()
    if state is None:
        return None
    return {"faders": len(state["faders"]), "layer_groups": list(STYLE_LAYER_GROUPS), "n_layers": len(state["noise"])}


class Catalog:
    """The models on offer and their loaded Sessions.

    Parameters
    ----------
    runs : a folder of training runs (``None``: shipped models only)
    device : torch device of every Session
    default : the key of the model the page opens with (default: the first shipped one)
    max_loaded : Sessions kept loaded at once
    """

    def __init__(self, runs: str | Path | None = None, *, device: str = "cpu", default: str | None = None,
                 max_loaded: int = MAX_LOADED) -> None:
        self.runs = None if runs is None else Path(runs)
        if self.runs is not None and not self.runs.is_dir():
            raise DrumsynthError(f"runs folder {self.runs} is not a folder")
        self.device = device
        self.max_loaded = max_loaded
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Any] = OrderedDict()
        self.entries = discover(self.runs)
        if not self.entries:
            raise DrumsynthError("no model to offer: none is shipped and the runs folder holds no "
                                 f"{' or '.join(RUN_FILES)}")
        if default is not None and default not in self.entries:
            raise DrumsynthError(f"default model {default!r} is not one of {sorted(self.entries)}")
        self.default = default or next(iter(self.entries))

    def refresh(self) -> None:
        """Look at the runs folder again (a training run may have written a new checkpoint)."""
        entries = discover(self.runs)
        with self._lock:
            self.entries = entries

    def entry(self, key: object) -> Entry:
        if not isinstance(key, str) or key not in self.entries:
            raise DrumsynthError(f"unknown model {key!r:.120}; the server offers {sorted(self.entries)}")
        return self.entries[key]

    def session(self, key: object) -> Any:
        """The Session of model ``key``, loaded on first use (a ``DrumsynthError`` for an unknown key)."""
        from drumsynth.inference.session import Session

        entry = self.entry(key)
        with self._lock:
            if entry.key in self._sessions:
                self._sessions.move_to_end(entry.key)
                return self._sessions[entry.key]
        session = Session.load(str(entry.path), device=self.device)
        with self._lock:
            self._sessions[entry.key] = session
            while len(self._sessions) > self.max_loaded:
                self._sessions.popitem(last=False)
        return session

    def listing(self) -> list[dict[str, str]]:
        """The picker's entries (no paths: the page needs keys and labels only)."""
        return [{"key": e.key, "label": e.label, "source": e.source} for e in self.entries.values()]
