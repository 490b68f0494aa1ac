"""The instrument behind ``drumsynth serve``: a Session with the two seeds' controls, and the sound
they currently describe, written as a WAV on request.

The controls are those of the Neural Drum Machine's Max for Live device (class menu, XY pad, Fine,
Range, waveform crop) and of DrumGAN VST (class sliders, Generate, Analyze, Variation intensity,
Change direction), plus morphing between two sounds. Each message changes one control; the sound is
a function of all of them:

- ``view`` says what a render decodes: ``"vary"`` the centre moved by the variation intensity
  (``Session.vary``; Generate and Analyze come back here at intensity 0, i.e. the centre itself),
  ``"pad"`` the XY pad (``Session.controls`` on a model with the NDM's controls, else the variation
  plane ``Session.plane``), ``"morph"`` the morph between two sounds (``Session.morph``);
- the class: the menu's class name (``type``: the NDM pad spans one class) and the sliders (the class
  weights every other view decodes with); choosing a type sets the sliders to it, and one-hot sliders
  choose that type;
- the crop applies to whatever is rendered.

Everything here runs on the render worker, one call at a time, in the order the messages came. A
render decodes only when a control changed since the last one (``dirty``): a crop or a Save reuses the
decoded hit.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError
from drumsynth.export.wav import HitFolder
from drumsynth.inference.session import Render, Session

# Sounds a client asks to analyse or morph are drum hits: a file longer than this is refused before it
# is decoded, which bounds the worker's memory and time per request.
MAX_SOUND_SECONDS = 30.0
# The pad's edge in standard deviations: the NDM device offered a few; beyond ~8 the decoders leave the
# region they were trained on.
RANGE_MAX = 8.0


def _file_key(path: Path) -> tuple[str, int, int]:
    """What identifies a file's contents cheaply: its path, modification time and size."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise DrumsynthError(f"cannot read {path}: {err.strerror or err}") from None
    return str(path), st.st_mtime_ns, st.st_size


def check_crop(start: float, end: float) -> tuple[float, float]:
    """The waveform crop as fractions of the hit, ``0 <= start < end <= 1``."""
    if not 0.0 <= start < end <= 1.0:
        raise DrumsynthError(f"crop needs 0 <= start < end <= 1, got {start} {end}")
    return float(start), float(end)


class Instrument:
    """A Session plus the current controls; see the module docstring.

    Parameters
    ----------
    session : the loaded model (its navigation state belongs to the instrument from now on)
    folder : where renders are written (``Session.save``: never over an existing file)
    out_sr, bit_depth : the files' rate and sample format

    Starts on the first class the model was trained on, centre from seed 0, directions from seed 0,
    at intensity 0: a render right away plays a sound.
    """

    def __init__(self, session: Session, folder: HitFolder, *, out_sr: int = 44100, bit_depth: str = "24") -> None:
        if not session.trained_classes:
            raise DrumsynthError(f"{session.label} was trained on no class: nothing to play")
        self.session, self.folder = session, folder
        self.out_sr, self.bit_depth = out_sr, bit_depth
        self.has_pad = callable(getattr(session.model, "latent_from_controls", None))
        self.has_style = session.style_state() is not None
        self.type = session.trained_classes[0]
        self.view = "vary"
        self.intensity = 0.0
        self.pad = {"x": 0.0, "y": 0.0, "fine": 0.0, "range_std": 2.0}
        self.crop = (0.0, 1.0)
        self.morph: dict[str, Any] | None = None
        self.raw: Render | None = None  # the last decoded hit, before the crop
        self.dirty = True
        # Generate and Change direction without a seed take the next one: a session replays the same.
        self._seeds = itertools.count(1)
        self._direction_seeds = itertools.count(1)
        session.set_sliders(self.type)
        session.new_center(0)
        session.new_direction(0)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.session.classes

    # ---- controls -------------------------------------------------------------------------------

    def _changed(self, view: str | None = None) -> None:
        if view is not None:
            self.view = view
        self.dirty = True

    def set_type(self, cls: str | int) -> None:
        """The class menu: a class name or index; the sliders become that class (one-hot)."""
        self.session.set_sliders(cls)
        self.type = self.classes[int(self.session.sliders.argmax())]
        self._changed()

    def set_sliders(self, weights: list[float]) -> None:
        """The class sliders: one weight per class (any finite values); one-hot weights set the type."""
        sliders = self.session.set_sliders(list(weights))
        values = sliders.tolist()
        if sorted(values) == [0.0] * (len(values) - 1) + [1.0]:
            self.type = self.classes[values.index(1.0)]
        self._changed()

    def generate(self, seed: int | None = None) -> int:
        """Generate: a new centre from the prior (``seed``, or the next one), played at intensity 0."""
        seed = next(self._seeds) if seed is None else seed
        self.session.new_center(seed)
        self.intensity = 0.0
        self._changed("vary")
        return seed

    def set_intensity(self, intensity: float) -> None:
        """Variation intensity: the centre moved this far along the variation direction."""
        self.intensity = float(intensity)
        self._changed("vary")

    def new_direction(self, seed: int | None = None) -> int:
        """Change variation direction (``seed``, or the next one); the current view is rendered again."""
        seed = next(self._direction_seeds) if seed is None else seed
        self.session.new_direction(seed)
        self._changed()
        return seed

    def check_pad(self, values: dict[str, float]) -> None:
        """Refuse pad values out of range: on a model with the NDM's controls ``x``, ``y`` and ``fine``
        lie in [-1, 1]; elsewhere x, y are any finite plane coordinates; ``range_std`` is in
        (0, ``RANGE_MAX``]. Reads nothing that changes (the receive thread calls it too)."""
        for key, value in values.items():
            if key not in ("x", "y", "fine", "range_std"):
                raise DrumsynthError(f"the pad has no control {key!r}")
            if key == "range_std" and not 0.0 < value <= RANGE_MAX:
                raise DrumsynthError(f"range must be in (0, {RANGE_MAX:g}] standard deviations, got {value}")
            if key != "range_std" and self.has_pad and not -1.0 <= value <= 1.0:
                raise DrumsynthError(f"{key} must be in [-1, 1], got {value}")

    def set_pad(self, **values: float) -> None:
        """The XY pad (``x``, ``y``), ``fine`` and ``range_std`` (checked by :meth:`check_pad`)."""
        self.check_pad(values)
        self.pad.update({k: float(v) for k, v in values.items()})
        self._changed("pad")

    def _load(self, path: Path) -> tuple[Any, int]:
        from drumsynth.audio.io import load_audio

        return load_audio(path, max_seconds=MAX_SOUND_SECONDS)

    def analyze(self, path: Path) -> dict[str, Any]:
        """Analyze: the sound at ``path`` becomes the centre (and the sliders, where the model estimates
        class weights), played at intensity 0."""
        result = self.session.analyze(*self._load(path))
        values = self.session.sliders.tolist()
        self.type = self.classes[values.index(max(values))]
        self.intensity = 0.0
        self._changed("vary")
        return result

    def set_morph(self, a: Path, b: Path, t: float, method: str) -> None:
        """Morph between the sounds at ``a`` and ``b`` at ``t`` (files decoded again only when they
        changed: a t-slider sweep reads them once)."""
        keys = (_file_key(a), _file_key(b))
        if self.morph is None or self.morph["keys"] != keys:
            self.morph = {"keys": keys, "sounds": (self._load(a), self._load(b))}
        self.morph.update(t=float(t), method=method, files=[str(a), str(b)])
        self._changed("morph")

    def set_style(self, k: int, value: float) -> None:
        """The style family's PCA fader ``k``, in standard deviations; the current view renders again."""
        self.session.set_style(k, value)
        self._changed()

    def set_noise(self, amount: float) -> None:
        """The style family's noise amount of every layer (1 as trained, 0 none)."""
        self.session.set_noise(amount)
        self._changed()

    def set_crop(self, start: float, end: float) -> None:
        """The waveform crop, fractions of the hit: 0 <= start < end <= 1 (0, 1 keeps it whole)."""
        self.crop = check_crop(start, end)

    # ---- sound -------------------------------------------------------------------------------------

    def _decode(self) -> Render:
        session = self.session
        if self.view == "pad":
            p = self.pad
            if self.has_pad:
                return session.controls(self.type, p1=p["x"], p2=p["y"], p3=p["fine"], range_std=p["range_std"])
            return session.plane(p["x"], p["y"])
        if self.view == "morph" and self.morph is not None:
            render = session.morph(*self.morph["sounds"], self.morph["t"], method=self.morph["method"])
            render.provenance["morph_files"] = self.morph["files"]
            return render
        return session.vary(self.intensity)

    def current(self) -> Render:
        """The current sound, cropped (decoded only when a control changed since the last time)."""
        if self.dirty or self.raw is None:
            self.raw = self._decode()
            self.dirty = False
        if self.crop == (0.0, 1.0):
            return self.raw
        return Session.crop(self.raw, *self.crop)

    def render(self, prefix: str | None = None) -> Path:
        """Write the current sound as ``<prefix>_<class>_<NNN>.wav`` (+ sidecar) and return its path;
        ``prefix`` defaults to the model family."""
        paths = self.session.save(self.current(), self.folder, prefix=prefix, out_sr=self.out_sr,
                                  bit_depth=self.bit_depth)
        return paths[0].resolve()
