"""What a rendered kit holds, independent of its file formats (SFZ, Hydrogen): instruments on General
MIDI notes, each with velocity layers of round-robin samples.

Velocity layers split MIDI velocities 1..127 into contiguous ranges (:func:`velocity_ranges`: 3 layers
are 1-42, 43-85, 86-127); every layer holds ``round_robin`` samples the sampler plays in turn. Sample
files are named by the kit's own General MIDI scheme, ``<note>_<class>_v<layer>_rr<position>.wav``
(``036_kick_v2_rr1.wav``), so a folder sorts by note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drumsynth.data.labelling import gm_key_name
from drumsynth.errors import DrumsynthError

MIDI_VELOCITY = (1, 127)  # velocity 0 is a note-off


def velocity_ranges(layers: int) -> list[tuple[int, int]]:
    """``layers`` contiguous inclusive ranges (lo, hi) that tile 1..127 without gaps or overlaps."""
    lo, hi = MIDI_VELOCITY
    span = hi - lo + 1
    if not isinstance(layers, int) or isinstance(layers, bool) or not 1 <= layers <= span:
        raise DrumsynthError(f"velocity layers must be an integer in 1..{span}, got {layers!r}")
    edges = [lo + round(span * i / layers) for i in range(layers + 1)]
    return [(edges[i], edges[i + 1] - 1) for i in range(layers)]


def sample_name(note: int, cls: str, layer: int, position: int) -> str:
    """File name of one sample: ``036_kick_v1_rr2.wav`` (layer and position count from 1)."""
    return f"{note:03d}_{cls}_v{layer}_rr{position}.wav"


@dataclass(frozen=True)
class KitSample:
    """One sample file (a path relative to the kit folder) and where it plays."""

    file: str
    layer: int  # velocity layer, 1 = softest
    velocity: tuple[int, int]  # inclusive MIDI velocity range
    position: int  # round-robin position, 1-based


@dataclass
class KitInstrument:
    """The samples of one General MIDI note, softest layer first, then by round-robin position."""

    cls: str
    note: int
    samples: list[KitSample] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The General MIDI key name ("Bass Drum 1")."""
        return gm_key_name(self.note)

    @property
    def round_robin(self) -> int:
        return max((s.position for s in self.samples), default=0)


@dataclass
class KitLayout:
    """A whole kit: its name and instruments in note order."""

    name: str
    instruments: list[KitInstrument] = field(default_factory=list)

    def files(self) -> list[str]:
        return [s.file for ins in self.instruments for s in ins.samples]
