"""Hostile and careless input to the loaders and the console script (issue 12).

Unsafe pickles, flipped bytes, text files as checkpoints, FIFOs, oversized multi-channel audio, file
names that are not UTF-8, bad runtime options, failing file systems, closed pipes, orphan temporary
files and the model card of ``drumsynth info``. Every case must end in a one-line ``DrumsynthError``
(exit 2 on the CLI) or correct behaviour, quickly, with bounded memory.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from drumsynth.audio.io import MAX_SAMPLES, atomic_open, is_atomic_temp, load_audio, write_atomic
from drumsynth.checkpoint import load_checkpoint, read_weights_only
from drumsynth.cli import info as info_verb
from drumsynth.cli.main import main
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.classifier import load_classifier
from drumsynth.train.checkpoint import new_checkpoint, remove_orphan_temps, save_checkpoint

EXE = [sys.executable, "-m", "drumsynth.cli.main"]
TIMEOUT = 120  # seconds; each command below takes a few (imports), a hang would take forever


def run_cli(args: list, env: dict | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(EXE + args, capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    for needle in needles:
        assert needle in err, err
    return err


def wav_file(path: Path, seconds: float = 0.2, sr: int = 44100) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    # bytes path: libsndfile is handed the name as it is on disk (not UTF-8 in one test)
    sf.write(os.fsencode(path), (0.5 * np.sin(2 * np.pi * 60 * t) * np.exp(-10 * t)).astype(np.float32), sr)
    return path


# ---- unsafe and damaged checkpoints ---------------------------------------------------------------------


class _Evil:
    """Unpickling this calls ``open(marker, "w")``: a stand-in for any code a stranger's pickle runs."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_checkpoint(path: Path, marker: Path, fmt: str = "drumsynth-checkpoint") -> Path:
    torch.save({"format": fmt, "format_version": 1, "kind": "release", "x": _Evil(marker)}, path)
    return path


def test_the_evil_pickle_really_runs_code_when_loaded_unsafely(tmp_path):
    """The control: without weights_only the marker appears, so its absence below means something."""
    marker = tmp_path / "pwned"
    torch.load(evil_checkpoint(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("loader", [load_checkpoint, load_classifier, read_weights_only])
def test_forced_unsafe_loading_cannot_run_a_pickle(loader, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "pwned"
    path = evil_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(DrumsynthError) as info:
        loader(path)
    message = str(info.value)
    assert not marker.exists()
    assert "\n" not in message and "refused" in message
    assert "weights_only" not in message and "trust" not in message  # no advice to load it unsafely


def test_classify_with_an_evil_model_does_not_run_it(tmp_path):
    marker = tmp_path / "pwned"
    path = evil_checkpoint(tmp_path / "evil.pt", marker, fmt="drumsynth-classifier")
    proc = run_cli(["classify", "--model", str(path), str(wav_file(tmp_path / "a.wav"))],
                   env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    assert_one_line_error(proc, "refused")
    assert not marker.exists()


def _flip_tensor_byte(src: bytes) -> bytes:
    """``src`` (a torch zip) with one byte of its first tensor's data inverted (headers intact)."""
    data = bytearray(src)
    with zipfile.ZipFile(io.BytesIO(src)) as archive:
        member = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 8)
    header = member.header_offset
    name_len = int.from_bytes(data[header + 26:header + 28], "little")
    extra_len = int.from_bytes(data[header + 28:header + 30], "little")
    data[header + 30 + name_len + extra_len + 3] ^= 0xFF
    return bytes(data)


def test_a_flipped_byte_is_refused_not_loaded_silently(tmp_path):
    weights = torch.linspace(-1, 1, 64)
    save_checkpoint(new_checkpoint("release", family="toy", config={}, step=1, model={"w": weights}),
                    tmp_path / "good.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(_flip_tensor_byte((tmp_path / "good.pt").read_bytes()))
    # torch's own reader does not notice: it returns different weights without a word
    silently = torch.load(bad, weights_only=True)["model"]["w"]
    assert not torch.equal(silently, weights)
    with pytest.raises(DrumsynthError, match="CRC"):
        load_checkpoint(bad)
    assert torch.equal(load_checkpoint(tmp_path / "good.pt")["model"]["w"], weights)


def test_shipped_checkpoints_pass_the_crc_check():
    from drumsynth.checkpoint import verify_zip

    shipped = sorted((Path(info_verb.PRETRAINED)).glob("*.pt"))
    assert shipped
    for path in shipped:
        verify_zip(path)


def test_a_text_file_as_model_or_to_info_is_one_line(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("these are not weights\n")
    assert_one_line_error(run_cli(["info", str(text)]), "not a zip archive")
    assert_one_line_error(run_cli(["classify", "--model", str(text), str(wav_file(tmp_path / "a.wav"))]),
                          "not a zip archive")
    with pytest.raises(DrumsynthError, match="not a regular file|folder"):
        load_checkpoint(tmp_path)


# ---- audio: FIFOs, oversized files, names that are not UTF-8 ------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
@pytest.mark.parametrize("verb", [["classify"], ["encode", "--model", "ndm"]])
def test_a_fifo_named_wav_is_refused_without_hanging(verb, tmp_path):
    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    start = time.monotonic()
    proc = run_cli(verb + [str(fifo)], timeout=60)
    assert_one_line_error(proc, "not a regular file")
    assert time.monotonic() - start < 60


def test_load_audio_refuses_folders_and_missing_files(tmp_path):
    with pytest.raises(DrumsynthError, match="folder"):
        load_audio(tmp_path)
    with pytest.raises(DrumsynthError, match="no such file"):
        load_audio(tmp_path / "missing.wav")


def flac_claiming(path: Path, *, channels: int, sr: int, seconds: float) -> Path:
    """A tiny FLAC whose STREAMINFO claims ``seconds`` (what a long stretch of silence looks like to
    the header: the issue's 935 KB file says 8 channels, 192 kHz, 599 s)."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((1000, channels), np.float32), sr, format="FLAC", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    field = slice(8 + 10, 8 + 18)  # after "fLaC" and the block header: rate|channels|bits|total samples
    packed = int.from_bytes(data[field], "big")
    packed = (packed & ~((1 << 36) - 1)) | int(seconds * sr)
    data[field] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


MEASURE = textwrap.dedent("""
    import resource, sys
    from drumsynth.audio.io import load_audio
    from drumsynth.errors import DrumsynthError
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        wave, sr = load_audio(sys.argv[1])
        result = f"{wave.shape[0]} {sr}"
    except DrumsynthError as err:
        result = f"error {err}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(result)
    print((peak - base) // 1024)  # MB above the imports
""")


def test_the_eight_channel_192k_flac_is_refused_with_bounded_memory(tmp_path):
    path = flac_claiming(tmp_path / "silence.flac", channels=8, sr=192_000, seconds=599)
    assert sf.info(str(path)).frames == 599 * 192_000 and path.stat().st_size < 1000
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    result, grown = proc.stdout.strip().splitlines()
    assert result.startswith("error") and "8 channels" in result and str(MAX_SAMPLES) in result
    assert int(grown) < 100
    # and the CLI says so in one line
    assert_one_line_error(run_cli(["classify", str(path)]), "limit")


def test_a_multichannel_file_is_mixed_down_while_reading(tmp_path):
    """8 channels x 60 s at 48 kHz: a whole [T, C] read takes ~190 MB; block-wise mixdown ~the mono output."""
    path = tmp_path / "eight.flac"
    frames, sr = 60 * 48_000, 48_000
    with sf.SoundFile(path, "w", samplerate=sr, channels=8, format="FLAC", subtype="PCM_16") as fh:
        block = np.zeros((sr * 10, 8), np.int16)
        block[::1000, 3] = 8000  # not all zeros: the mixdown must carry channel 3 / 8
        for _ in range(frames // block.shape[0]):
            fh.write(block)
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                          timeout=TIMEOUT)
    result, grown = proc.stdout.strip().splitlines()
    assert result == f"{frames} {sr}", proc.stderr
    mono_mb = frames * 4 / 2**20  # 11 MB
    assert int(grown) < mono_mb + 40, f"peak grew {grown} MB for an {mono_mb:.0f} MB output"
    wave, _ = load_audio(path)
    assert np.allclose(wave[::1000], 8000 / 32768 / 8) and np.all(wave[1::1000] == 0)


def test_non_utf8_file_names_decode(tmp_path):
    name = os.fsdecode(b"Caf\xe9 Kick.wav")  # Latin-1 bytes, as old sample packs name their files
    path = wav_file(tmp_path / name)
    assert os.fsencode(path.name) in os.listdir(os.fsencode(tmp_path))
    with pytest.raises(UnicodeEncodeError):  # what libsndfile's str path did with it
        sf.info(str(path))
    wave, sr = load_audio(path)
    assert sr == 44100 and wave.shape == (8820,)
    proc = subprocess.run(EXE + ["classify", os.fsencode(path)], capture_output=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert b"Caf\xe9 Kick.wav" in proc.stdout and b"Traceback" not in proc.stderr


# ---- runtime options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args,needle", [
    (["generate", "--class", "kick", "--out", "o", "--threads", "100000"], "--threads"),
    (["generate", "--class", "kick", "--out", "o", "--threads", "-1"], "--threads"),
    (["classify", "x.wav", "--threads", "0"], "--threads"),
    (["generate", "--class", "kick", "--out", "o", "--seed", str(2**64)], "--seed"),
    (["generate", "--class", "kick", "--out", "o", "--seed", "-1"], "--seed"),
    (["generate", "--class", "kick", "--out", "o", "--seed", "x"], "--seed"),
    (["generate", "--class", "kick", "--out", "o", "--device", "bogus"], "--device"),
    (["generate", "--class", "kick", "--out", "o", "--device", "meta"], "--device"),
    (["classify", "x.wav", "--device", "mps"], "--device"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--repeats", "-3"], "--repeats"),
])
def test_bad_runtime_options_are_argparse_errors(args, needle, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {needle}" in err and "Traceback" not in err


def test_option_types_accept_their_whole_range():
    from drumsynth.cli.common import SEED_MAX, device_name, seed_int, thread_count, usable_cores

    assert seed_int("0") == 0 and seed_int(str(SEED_MAX)) == SEED_MAX
    assert thread_count("1") == 1 and thread_count(str(usable_cores())) == usable_cores()
    assert [device_name(d) for d in ("cpu", "CUDA", "cuda:1")] == ["cpu", "cuda", "cuda:1"]
    torch.manual_seed(SEED_MAX)  # the top of the range is a seed torch accepts


def test_a_cuda_device_that_is_not_there_is_one_line():
    import argparse

    from drumsynth.cli.common import apply_runtime

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DrumsynthError, match="CUDA"):
        apply_runtime(argparse.Namespace(device=f"cuda:{count}", threads=None))


# ---- file systems and pipes ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.ENAMETOOLONG, errno.EEXIST])
def test_os_errors_become_one_line(code, monkeypatch, capsys):
    def failing(args):
        raise OSError(code, os.strerror(code), "/music/out/kick.wav")

    monkeypatch.setattr(info_verb, "run", failing)
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err == f"drumsynth info: error: {os.strerror(code)}: /music/out/kick.wav\n"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_folder_is_one_line(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = run_cli(["generate", "--model", "ndm", "--class", "kick", "--out", str(out / "hits")])
    finally:
        out.chmod(0o755)
    assert_one_line_error(proc, "ermission denied")


def test_a_closed_stdout_pipe_exits_quietly():
    proc = subprocess.Popen(EXE + ["info", "ndm"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first write (like `| head -c0`)
    err = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT) == 1
    assert err == b""


# ---- atomic writes: modes and orphans ------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_respect_the_umask(umask, tmp_path):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.wav", b"RIFF")
        save_checkpoint(new_checkpoint("release", family="toy", config={}, step=0), tmp_path / "r.pt")
    finally:
        os.umask(old)
    for name in ("a.wav", "r.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


KILLED_WRITER = textwrap.dedent("""
    import os, sys, torch
    from drumsynth.train.checkpoint import new_checkpoint, save_checkpoint
    def dying(obj, fh, *args, **kwargs):
        fh.write(b"half a checkpoint")
        fh.flush()
        os._exit(9)  # what kill -9 leaves: no cleanup of any kind
    torch.save = dying
    save_checkpoint(new_checkpoint("resume", family="toy", config={}, step=1), sys.argv[1])
""")


def test_remove_orphan_temps_deletes_only_our_temporaries(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(run / "resume.pt")], timeout=TIMEOUT)
    assert proc.returncode == 9
    orphans = [p for p in run.iterdir()]
    assert len(orphans) == 1 and orphans[0].name.startswith(".resume.pt.") and is_atomic_temp(orphans[0])
    with atomic_open(run / "x.wav") as fh:  # a finished write leaves nothing behind
        fh.write(b"ok")
    keep = {"resume.pt": b"mine", "notes.tmp": b"user", ".resume.pt.tmp": b"user", ".a.b.tmp": b"user",
            ".x.wav.ABCDEFGH.tmp": b"user", "x.wav.abcdefgh.tmp": b"user"}
    for name, payload in keep.items():
        (run / name).write_bytes(payload)
    (run / ".d.abcdefgh.tmp").mkdir()  # a folder with our pattern is not ours either
    (run / "sub").mkdir()
    (run / "sub" / ".resume.pt.abcdefgh.tmp").write_bytes(b"not in this folder")
    removed = remove_orphan_temps(run)
    assert removed == orphans and not orphans[0].exists()
    assert {name: (run / name).read_bytes() for name in keep} == keep
    assert (run / ".d.abcdefgh.tmp").is_dir() and (run / "sub" / ".resume.pt.abcdefgh.tmp").exists()
    assert (run / "x.wav").read_bytes() == b"ok"
    assert remove_orphan_temps(run) == [] and remove_orphan_temps(tmp_path / "missing") == []


# ---- the model card ---------------------------------------------------------------------------------


def card_checkpoint(path: Path, **fields) -> Path:
    config = {"data": {"sr": 22050, "length": 11025}, "model": {"latent_dim": 16}, "train": {}}
    ckpt = new_checkpoint("release", family="ndm", config=config, step=1234, metrics={"valid/loss": 0.25},
                          extra={"classes": ["kick", "snare"]}, seed=7, **fields)
    return save_checkpoint(ckpt, path)


def test_info_prints_the_model_card(tmp_path, capsys):
    data = {"cache": "kits/mine", "counts": {"train": {"kick": 30, "snare": 12}, "valid": {"kick": 3}}}
    path = card_checkpoint(tmp_path / "m.pt", data=data)
    assert main(["info", str(path), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["family"] == "ndm" and card["classes"] == ["kick", "snare"]
    assert card["sr"] == 22050 and card["length"] == 11025 and card["seconds"] == 0.5
    assert card["latent_dim"] == 16 and card["step"] == 1234 and card["metrics"] == {"valid/loss": 0.25}
    assert card["data"] == data and card["version"] and card["created"]
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    for line in ("classes: kick, snare (2)", "sample rate: 22050 Hz; length: 11025 samples (0.500 s)",
                 "latent dim: 16", "steps: 1234 (seed 7)", "valid/loss: 0.25", "training data: kits/mine",
                 "train: 42 (kick 30, snare 12)", "valid: 3 (kick 3)", f"sha256: {card['sha256']}"):
        assert line in text, line


def test_info_says_when_the_training_data_was_not_recorded(tmp_path, capsys):
    path = card_checkpoint(tmp_path / "old.pt")
    assert main(["info", str(path)]) == 0
    assert "training data: not recorded" in capsys.readouterr().out
    malformed = card_checkpoint(tmp_path / "bad.pt", data={"counts": {"train": {"kick": "many"}}})
    assert main(["info", str(malformed), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] is None


def test_info_on_the_shipped_models_names_rate_length_and_classes(capsys):
    assert main(["info", "ndm", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["family"] == "ndm" and card["sr"] == card["config"]["data"]["sr"]
    assert len(card["classes"]) == 8 and card["latent_dim"] == card["config"]["model"]["latent_dim"]


def test_info_names_what_a_fine_tuned_model_started_from(tmp_path, capsys):
    init = {"from": "ndm", "path": "/x/ndm.pt", "sha256": "ab" * 32, "family": "ndm", "step": 4000,
            "version": "0.1.0", "created": "2026-12-02"}
    config = {"data": {"sr": 22050, "length": 11025}, "model": {"latent_dim": 16}, "train": {}}
    ckpt = new_checkpoint("release", family="ndm", config=config, step=680, metrics={},
                          extra={"classes": ["kick", "clap"], "inherited_classes": ["clap"]}, seed=0, init=init)
    path = save_checkpoint(ckpt, tmp_path / "ft.pt")
    assert main(["info", str(path), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["init"] == init and card["inherited_classes"] == ["clap"]
    assert main(["info", str(path)]) == 0
    assert "fine-tuned from: ndm (step 4000, sha256 abababababab…); inherited classes: clap" in capsys.readouterr().out
    assert main(["info", str(card_checkpoint(tmp_path / "plain.pt")), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["init"] is None
