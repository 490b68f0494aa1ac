#!/usr/bin/env python3
"""Write a General MIDI drum pattern (channel 10) for ``drumsynth humanize``: a rock groove in 16ths.

Per bar: closed hats on every 16th (accents on the beats, softer off-beats), kick on 1 and 3 (and the
"and" of 3), snare on 2 and 4 with ghost notes, an open hat on the last 16th; a crash opens every
8 bars and every 4th bar ends on a tom fill (45/47/48/50). The default, 30 bars at 120 bpm, is one
minute: the humanize benchmark (BENCHMARKS.md).

    .venv/bin/python scripts/make_pattern.py --out groove.mid [--bars 30] [--bpm 120]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mido

TICKS_PER_BEAT = 480
SIXTEENTH = TICKS_PER_BEAT // 4
CHANNEL = 9  # MIDI channel 10
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
TOMS = (50, 48, 47, 45)


def bar_notes(bar: int) -> list[tuple[int, int, int]]:
    """(16th step 0..15, key, velocity) of one bar."""
    fill = bar % 4 == 3
    notes = []
    for step in range(16):
        if fill and step >= 12:
            continue
        if step == 15 and not fill:
            notes.append((step, OPEN_HAT, 90))
        else:
            notes.append((step, CLOSED_HAT, 100 if step % 4 == 0 else 75 if step % 2 == 0 else 50))
    notes += [(0, KICK, 120), (8, KICK, 115), (10, KICK, 90), (4, SNARE, 118), (12, SNARE, 122)]
    notes += [(7, SNARE, 32), (14, SNARE, 28)] if not fill else []
    if fill:
        notes += [(12 + i, tom, 100 + 5 * i) for i, tom in enumerate(TOMS)]
    if bar % 8 == 0:
        notes.append((0, CRASH, 110))
    return notes


def pattern(bars: int, bpm: float) -> mido.MidiFile:
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    events = []
    for bar in range(bars):
        for step, key, velocity in bar_notes(bar):
            tick = (bar * 16 + step) * SIXTEENTH
            events += [(tick, 1, key, velocity), (tick + SIXTEENTH // 2, 0, key, 0)]
    now = 0
    for tick, is_on, key, velocity in sorted(events):
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, channel=CHANNEL, note=key, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=bars * 16 * SIXTEENTH - now))
    return midi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--bars", type=int, default=30, help="bars of 4/4 (default 30: one minute at 120 bpm)")
    parser.add_argument("--bpm", type=float, default=120.0)
    args = parser.parse_args()
    midi = pattern(args.bars, args.bpm)
    midi.save(args.out)
    notes = sum(1 for msg in midi.tracks[0] if msg.type == "note_on")
    print(f"{args.out}: {notes} drum notes, {midi.length:.1f} s at {args.bpm:g} bpm")


if __name__ == "__main__":
    main()
