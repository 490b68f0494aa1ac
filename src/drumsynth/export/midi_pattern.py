"""General MIDI drum patterns from Standard MIDI Files (mido), for ``drumsynth humanize``.

The drum notes are the note-ons with a velocity above 0 on MIDI channel 10 (mido's channel 9); note-offs
and note lengths mean nothing to a one-shot. Time comes from a constant tempo (``bpm``, 120 by default,
as in a DAW clip exported without its tempo) or, with ``tempo_from_file``, from the file's own tempo
map. Bounded: a file of at most ``MAX_MIDI_BYTES``, at most ``MAX_NOTES`` drum notes, onsets within
``MAX_SECONDS``; a file mido cannot parse is a one-line ``DrumsynthError``.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from drumsynth.audio.io import open_regular
from drumsynth.errors import DrumsynthError
from drumsynth.inference.checks import MAX_HITS

DRUM_CHANNEL = 9  # "channel 10" counted from 1
MAX_MIDI_BYTES = 4 << 20
MAX_NOTES = MAX_HITS
MAX_SECONDS = 300.0  # the render's buffers (and stems) stay below ~0.5 GB
DEFAULT_BPM = 120.0
BPM_RANGE = (10.0, 1000.0)


@dataclass(frozen=True)
class DrumNote:
    """One drum hit: onset in seconds, General MIDI key, velocity 1..127."""

    time: float
    note: int
    velocity: int


@dataclass
class Pattern:
    """The drum notes of a file in time order, and what was left aside."""

    notes: list[DrumNote] = field(default_factory=list)
    other_channel_notes: int = 0  # note-ons on channels other than 10
    tempo: str = ""  # how time was computed, for reports
    sha256: str = ""  # of the file's bytes


def _check_bpm(bpm: object) -> float:
    if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not math.isfinite(bpm) \
            or not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        raise DrumsynthError(f"tempo must be {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g} bpm, got {bpm!r}")
    return float(bpm)


def _mido():
    try:
        import mido
    except ImportError as err:
        raise DrumsynthError("reading MIDI files needs mido: pip install 'drumsynth[midi]'") from err
    return mido


def _load(path: Path):
    """(mido.MidiFile, the file's bytes)."""
    mido = _mido()

    try:
        with open_regular(path) as fh:  # a FIFO or a device is refused, not read forever
            data = fh.read(MAX_MIDI_BYTES + 1)
    except OSError as err:
        raise DrumsynthError(f"cannot read MIDI file {path}: {err.strerror or err}") from err
    if len(data) > MAX_MIDI_BYTES:
        raise DrumsynthError(f"MIDI file {path} is over {MAX_MIDI_BYTES} bytes")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as err:  # mido raises many types on corrupt input: one message for all
        raise DrumsynthError(f"{path} is not a readable MIDI file: {type(err).__name__}: {err}"[:300]) from err
    if midi.type == 2:
        raise DrumsynthError(f"{path} is a type 2 (asynchronous tracks) MIDI file; export type 0 or 1")
    if midi.ticks_per_beat <= 0:
        raise DrumsynthError(f"{path} uses SMPTE time (division {midi.ticks_per_beat}); export with ticks per beat")
    return midi, data


def _timed_messages(midi, bpm: float | None):
    """(seconds, message) over all tracks merged, by the file's tempo map or a constant ``bpm``."""
    mido = _mido()

    now = 0.0
    if bpm is None:
        for msg in midi:  # mido converts delta ticks to seconds with the tempo map
            now += msg.time
            yield now, msg
        return
    seconds_per_tick = 60.0 / bpm / midi.ticks_per_beat
    ticks = 0
    for msg in mido.merge_tracks(midi.tracks):
        ticks += msg.time
        yield ticks * seconds_per_tick, msg


def read_pattern(path: str | Path, *, bpm: float | None = DEFAULT_BPM, tempo_from_file: bool = False) -> Pattern:
    """The drum notes of a MIDI file (see the module docstring).

    Parameters
    ----------
    path : a Standard MIDI File (type 0 or 1)
    bpm : constant tempo in beats per minute (ignored with ``tempo_from_file``)
    tempo_from_file : time by the file's own tempo map (120 bpm where it sets none)
    """
    path = Path(path)
    bpm = None if tempo_from_file else _check_bpm(bpm)
    midi, data = _load(path)
    pattern = Pattern(tempo="the file's tempo map" if bpm is None else f"{bpm:g} bpm",
                      sha256=hashlib.sha256(data).hexdigest())
    try:
        for seconds, msg in _timed_messages(midi, bpm):
            if msg.type != "note_on" or msg.velocity == 0:
                continue
            if msg.channel != DRUM_CHANNEL:
                pattern.other_channel_notes += 1
                continue
            if seconds > MAX_SECONDS:
                raise DrumsynthError(f"{path}: a drum note at {seconds:.1f} s; patterns may run {MAX_SECONDS:g} s")
            if len(pattern.notes) >= MAX_NOTES:
                raise DrumsynthError(f"{path} has more than {MAX_NOTES} drum notes (the limit of one render)")
            pattern.notes.append(DrumNote(time=seconds, note=msg.note, velocity=msg.velocity))
    except DrumsynthError:
        raise
    except Exception as err:  # a malformed track that only fails when read
        raise DrumsynthError(f"{path} is not a readable MIDI file: {type(err).__name__}: {err}"[:300]) from err
    if not pattern.notes:
        raise DrumsynthError(f"{path} has no drum notes on MIDI channel 10 "
                             f"({pattern.other_channel_notes} notes on other channels)")
    pattern.notes.sort(key=lambda n: n.time)  # stable: simultaneous notes keep the file's order
    return pattern
