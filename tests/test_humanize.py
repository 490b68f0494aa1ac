"""``drumsynth humanize``: General MIDI patterns rendered with a fresh variation per hit, deterministic by
seed, velocity as level, tempo as asked, stems that sum to the mix, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from drumsynth.cli.main import main
from drumsynth.errors import DrumsynthError
from drumsynth.export.humanize import perform, velocity_gain
from drumsynth.export.kit import pairwise_lsd
from drumsynth.export.midi_pattern import MAX_NOTES, read_pattern
from drumsynth.export.wav import PEAK
from drumsynth.inference.session import Session

TPB = 480
SR = 44100


def write_midi(path: Path, notes: list[tuple[float, int, int]], *, channel: int = 9, bpm: float | None = None,
               extra: list[mido.Message] = ()) -> Path:
    """A type-1 file with (beat, key, velocity) note-ons (and note-offs a 16th later) on ``channel``."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    if bpm is not None:
        track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    events = [(int(beat * TPB), 1, key, vel) for beat, key, vel in notes]
    events += [(int(beat * TPB) + TPB // 4, 0, key, 0) for beat, key, _ in notes]
    now = 0
    for tick, on, key, vel in sorted(events):
        track.append(mido.Message("note_on" if on else "note_off", channel=channel, note=key, velocity=vel,
                                  time=tick - now))
        now = tick
    track.extend(extra)
    midi.save(path)
    return path


@pytest.fixture(scope="module")
def ndm() -> Session:
    return Session.load("ndm")


def _onsets(wave: np.ndarray, starts: list[float], seconds: float = 0.45) -> list[np.ndarray]:
    return [wave[int(t * SR):int((t + seconds) * SR)] for t in starts]


def test_every_hit_is_a_fresh_small_variation(ndm, tmp_path):
    # 4 beats at 120 bpm = 2 s apart: longer than a hit (ndm's are 1.49 s), so no tail reaches the next.
    # A fifth note after the four compared: the render ends soon after the pattern's last note.
    pattern = read_pattern(write_midi(tmp_path / "p.mid", [(4.0 * i, 38, 127) for i in range(5)]))
    perf = perform(ndm, pattern, seed=1)
    assert perf.played == {"snare": 5} and perf.scale == 1.0
    hits = _onsets(perf.mix, [2.0 * i for i in range(4)])
    lsd = pairwise_lsd(hits)
    assert min(lsd) > 0.05, "no two hits may be the same sample"
    assert float(np.mean(lsd)) < 6.0, lsd
    # Without variation every hit is the instrument's one sound.
    same = perform(ndm, pattern, seed=1, amount=0.0)
    plain = _onsets(same.mix, [2.0 * i for i in range(4)])
    assert all(np.array_equal(plain[0], h) for h in plain[1:])


def _first_sound(wave: np.ndarray, after: float) -> float:
    """Seconds of the first sample above -80 dBFS at or after ``after`` s."""
    start = int(after * SR)
    return (start + int(np.argmax(np.abs(wave[start:]) > 1e-4))) / SR


def test_velocity_sets_the_level_and_time_follows_the_tempo(ndm, tmp_path):
    path = write_midi(tmp_path / "v.mid", [(0.0, 36, 127), (4.0, 36, 64), (8.0, 36, 32)], bpm=60)
    perf = perform(ndm, read_pattern(path), seed=2)  # constant 120 bpm: hits at 0, 2, 4 s
    peaks = [float(np.max(np.abs(h))) for h in _onsets(perf.mix, [0.0, 2.0, 4.0], 1.9)]
    assert peaks[0] == pytest.approx(PEAK, rel=1e-5)
    assert peaks[1] / peaks[0] == pytest.approx(velocity_gain(64), rel=1e-3)
    assert peaks[2] / peaks[0] == pytest.approx(velocity_gain(32), rel=1e-3)
    assert 2.0 <= _first_sound(perf.mix, 1.6) < 2.05
    # The file's own tempo (60 bpm): the second hit comes at 4 s.
    slow = perform(ndm, read_pattern(path, tempo_from_file=True), seed=2)
    assert 4.0 <= _first_sound(slow.mix, 3.6) < 4.05
    assert len(slow.mix) > 8 * SR > len(perf.mix)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_cli_same_seed_same_bytes_and_stems_sum_to_the_mix(tmp_path, capsys):
    notes = [(i * 0.25, 42, 70 + (i % 4) * 10) for i in range(16)] + [(0, 36, 120), (2, 36, 110), (1, 38, 115),
                                                                      (3, 38, 118), (3.5, 71, 100), (3.75, 46, 90)]
    path = write_midi(tmp_path / "groove.mid", notes,
                      extra=[mido.Message("note_on", channel=0, note=60, velocity=100, time=0)])
    runs = []
    for run in ("a", "b"):
        time.sleep(1.05 if runs else 0)  # a clock second apart: no timestamp may reach the files
        (tmp_path / run).mkdir()
        assert main(["humanize", str(path), "--out", str(tmp_path / run / "mix.wav"), "--model", "ndm",
                     "--seed", "5", "--stems", "--bit-depth", "32f", "--json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == ["mix.json", "mix.wav", "mix_hihat_closed.wav", "mix_hihat_open.wav", "mix_kick.wav",
                         "mix_snare.wav"]
    assert all(a[name] == b[name] for name in a if name.endswith(".wav"))
    assert runs[0]["skipped_keys"] == {"71 Short Whistle": 1} and runs[0]["other_channel_notes"] == 1
    assert runs[0]["played"] == {"hihat_closed": 16, "kick": 2, "snare": 2, "hihat_open": 1}
    mix, _ = sf.read(tmp_path / "a" / "mix.wav", dtype="float32")
    stems = [sf.read(tmp_path / "a" / n, dtype="float32")[0] for n in a if n.startswith("mix_")]
    np.testing.assert_allclose(np.sum(stems, axis=0), mix, atol=1e-6)
    sidecar = json.loads((tmp_path / "a" / "mix.json").read_text())
    assert sidecar["seed"] == 5 and sidecar["family"] == "ndm" and sidecar["tempo"] == "120 bpm"
    # Another seed, another performance.
    assert main(["humanize", str(path), "--out", str(tmp_path / "c.wav"), "--model", "ndm", "--seed", "6",
                 "--bit-depth", "32f"]) == 0
    assert (tmp_path / "c.wav").read_bytes() != a["mix.wav"]
    # An existing output is refused (and kept) without --overwrite.
    before = (tmp_path / "c.wav").read_bytes()
    assert main(["humanize", str(path), "--out", str(tmp_path / "c.wav"), "--model", "ndm"]) == 2
    assert "exist" in capsys.readouterr().err and (tmp_path / "c.wav").read_bytes() == before


def test_drumgan_plays_hats_as_cymbal_and_skips_toms(tmp_path):
    path = write_midi(tmp_path / "p.mid", [(0, 36, 100), (1, 42, 100), (2, 46, 100), (3, 45, 100)])
    perf = perform(Session.load("drumgan"), read_pattern(path), seed=0)
    assert perf.played == {"kick": 1, "cymbal": 2} and perf.skipped == {45: 1}


def test_corrupt_and_oversized_patterns_are_one_line_errors(tmp_path, capsys):
    cases = {
        "garbage.mid": b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x10\x00\x99",
        "random.mid": bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)),
        "empty.mid": b"",
    }
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
    write_midi(tmp_path / "bass.mid", [(0, 36, 100)], channel=0)
    write_midi(tmp_path / "whistles.mid", [(0, 71, 100), (1, 72, 100)])
    write_midi(tmp_path / "long.mid", [(0, 36, 100), (700.0, 36, 100)])  # 350 s at 120 bpm
    expected = {"garbage.mid": "not a readable MIDI", "random.mid": "not a readable MIDI",
                "empty.mid": "not a readable MIDI", "bass.mid": "no drum notes", "whistles.mid": "no note",
                "long.mid": "patterns may run", "missing.mid": "no such file"}
    for name, message in expected.items():
        assert main(["humanize", str(tmp_path / name), "--out", str(tmp_path / "o.wav"), "--model", "ndm"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("drumsynth humanize: error:") and err.count("\n") == 1 and message in err, (name, err)
    assert not (tmp_path / "o.wav").exists()
    for argv in (["--out", str(tmp_path / "o.mp3")], ["--out", str(tmp_path / "o.wav"), "--amount", "-1"],
                 ["--out", str(tmp_path / "o.wav"), "--bpm", "0"]):
        assert main(["humanize", str(tmp_path / "bass.mid"), "--model", "ndm", *argv]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    with pytest.raises(DrumsynthError, match="not a regular file"):
        read_pattern(fifo)


def test_note_count_is_bounded(tmp_path):
    path = write_midi(tmp_path / "many.mid", [(i / 64, 42, 80) for i in range(MAX_NOTES + 1)])
    with pytest.raises(DrumsynthError, match=f"more than {MAX_NOTES}"):
        read_pattern(path)
