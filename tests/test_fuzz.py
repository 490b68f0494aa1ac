"""The fuzz suite: a few hundred bad inputs against every verb of the CLI.

Each case runs the console script's ``main`` in a forked child of a warm server (tests/fuzz_server.py)
and must end as drumsynth promises (docs/reliability.md):

- exit status 0, or 2 with a ``drumsynth VERB: error: ...`` line (argparse's usage errors included);
- no ``Traceback`` on stderr, no signal (segfault), finished within its timeout (no hang);
- peak memory (the child's resident set) under 2 GB;
- nothing written outside the case's own output folder, and every input file byte-identical.

The cases are built from tables of bad values (numbers, paths, files, checkpoints, caches, configs) crossed
with the verbs that take them; ``test_fuzz_totals`` prints the totals recorded in docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, synth_hit

HERE = Path(__file__).resolve().parent
PEAK_MB_LIMIT = 2048
ERROR_LINE = re.compile(r"^drumsynth( [\w-]+)*: error: \S", re.MULTILINE)
# The evil checkpoint's payload writes this file when unpickled with code execution allowed.
PWNED = "pwned-marker"


@dataclass
class Case:
    """One CLI invocation: ``argv`` with ``{placeholders}`` filled from the sandbox, its own output folder."""

    id: str
    argv: list[str]
    timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)


# ---- the sandbox: inputs, checkpoints, caches and configs the cases point at -----------------------


def _wav(path: Path, wave: np.ndarray, sr: int = SR, subtype: str = "PCM_16", **kw) -> None:
    sf.write(os.fsencode(path), wave, sr, subtype=subtype, **kw)


def make_audio_inputs(folder: Path) -> dict[str, str]:
    """Good and bad audio files; returns placeholder name -> path."""
    folder.mkdir(parents=True)
    hit = synth_hit("snare")
    files = {}

    def add(key: str, name: str | bytes) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
        files[key] = str(path)
        return path

    _wav(add("good", "good.wav"), hit)
    _wav(add("stereo96k", "stereo 96k.wav"), np.stack([hit, hit], axis=1), sr=96000, subtype="PCM_24")
    _wav(add("nan", "nan.wav"), np.where(np.arange(len(hit)) == 100, np.nan, hit), subtype="FLOAT")
    _wav(add("inf", "inf.wav"), np.where(np.arange(len(hit)) == 100, np.inf, hit), subtype="FLOAT")
    _wav(add("loud", "loud float.wav"), hit * 40.0, subtype="FLOAT")
    _wav(add("silent", "silent.wav"), np.zeros(SR // 2, dtype=np.float32))
    _wav(add("one_sample", "one sample.wav"), hit[:1])
    _wav(add("low_rate", "8k 8bit.wav"), hit[::5], sr=8000, subtype="PCM_U8")
    _wav(add("flac", "hit.flac"), hit, subtype="PCM_16", format="FLAC")
    _wav(add("aiff", "hit.aiff"), hit, subtype="PCM_16", format="AIFF")
    _wav(add("ogg", "hit.ogg"), hit, subtype="VORBIS", format="OGG")
    _wav(add("dash", "-dash.wav"), hit)
    _wav(add("unicode", "Snäre ☃ 1.wav"), hit)
    _wav(add("latin1", b"caf\xe9 snare.wav"), hit)  # a Latin-1 name: not valid UTF-8
    with sf.SoundFile(os.fsencode(add("empty", "empty.wav")), "w", samplerate=SR, channels=1, subtype="PCM_16"):
        pass
    good = Path(files["good"]).read_bytes()
    add("truncated", "truncated.wav").write_bytes(good[: len(good) // 3])
    add("header_only", "header only.wav").write_bytes(good[:44])
    add("zero_bytes", "zero bytes.wav").write_bytes(b"")
    add("text", "text.wav").write_text("this is not audio\n" * 20)
    add("random", "random.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    add("riff_lie", "riff lie.wav").write_bytes(b"RIFF\xff\xff\xff\x7fWAVEfmt " + b"\x00" * 64)
    add("dir_wav", "folder.wav").mkdir()
    os.mkfifo(add("fifo", "fifo.wav"))
    add("dev_zero", "zero.wav").symlink_to("/dev/zero")
    loop = add("loop", "loop.wav")
    loop.symlink_to(loop.name)
    files["missing"] = str(folder / "missing.wav")
    # 8 channels at 192 kHz, 599 s of near-silence: under a minute of duration limit, 920 M samples.
    with sf.SoundFile(add("many_channels", "8ch 192k.flac"), "w", samplerate=192000, channels=8,
                      subtype="PCM_16", format="FLAC") as fh:
        block = np.zeros((192000 * 10, 8), dtype=np.int16)
        for _ in range(60):
            fh.write(block)
    with sf.SoundFile(add("too_long", "too long.flac"), "w", samplerate=8000, channels=1,
                      subtype="PCM_16", format="FLAC") as fh:
        block = np.zeros(8000 * 100, dtype=np.int16)
        for _ in range(7):
            fh.write(block)
    return files


class _Evil:
    """Unpickling this runs ``open(marker, "w")``: what a weights-only loader must refuse."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def make_models(folder: Path, cwd: Path) -> dict[str, str]:
    """Bad checkpoint files; returns placeholder name -> path."""
    import torch

    from drumsynth.inference.session import shipped_models

    folder.mkdir(parents=True)
    shipped = shipped_models()
    files = {}
    (folder / "text.pt").write_text("not a checkpoint\n")
    (folder / "random.pt").write_bytes(np.random.default_rng(1).bytes(4096))
    (folder / "empty.pt").write_bytes(b"")
    torch.save({"model": {"w": torch.zeros(2)}}, folder / "plain.pt")
    torch.save({"format": "drumsynth-checkpoint", "format_version": 999, "kind": "release", "family": "ndm"},
               folder / "future.pt")
    torch.save({"format": "drumsynth-checkpoint", "format_version": 1, "kind": "release",
                "family": "no-such-family", "config": {}, "model": {}}, folder / "alien.pt")
    with (folder / "evil.pt").open("wb") as fh:
        pickle.dump({"format": _Evil(str(cwd / PWNED))}, fh, protocol=2)
    torch.save({"x": _Evil(str(cwd / PWNED))}, folder / "evil_zip.pt")
    ndm = Path(shipped["ndm"]).read_bytes()
    (folder / "ndm truncated.pt").write_bytes(ndm[: len(ndm) // 2])
    flipped = bytearray(ndm)
    with zipfile.ZipFile(shipped["ndm"]) as zf:  # flip one byte inside the largest stored tensor
        biggest = max(zf.infolist(), key=lambda i: i.file_size)
        header = biggest.header_offset + 30 + len(biggest.filename.encode()) + len(biggest.extra)
        flipped[header + biggest.compress_size // 2] ^= 0xFF
    (folder / "ndm flipped.pt").write_bytes(bytes(flipped))
    (folder / "a folder.pt").mkdir()
    for path in folder.iterdir():
        files[path.stem.replace(" ", "_")] = str(path)
    files["missing"] = str(folder / "missing.pt")
    return files


def _cache_records(n: int) -> tuple[list[dict], list[np.ndarray]]:
    kinds = ("kick", "snare", "hihat_closed")
    records, waves = [], []
    for i in range(n):
        label = kinds[i % 3]
        records.append({"id": f"k/{i}", "path": f"k/{i}.wav", "source": "user", "kit": "k", "instrument": label,
                        "label": label, "split": ("train", "train", "valid")[i % 3] if i < n - 3 else "test",
                        "licence": "user", "group": "k"})
        waves.append(synth_hit(label, seed=i))
    return records, waves


def make_caches(folder: Path) -> dict[str, str]:
    """A small good cache and broken copies of it; returns placeholder name -> path."""
    from drumsynth.data.cache import write_cache

    folder.mkdir(parents=True)
    records, waves = _cache_records(24)
    good = write_cache(folder / "good", records, waves, extra_info={"max_seconds": 1.0, "kind": "prepared"})
    files = {"good": str(good)}

    def broken(name: str, edit) -> None:
        path = folder / name
        shutil.copytree(good, path)
        edit(path)
        files[name] = str(path)

    broken("no_info", lambda p: (p / "info.json").unlink())
    broken("info_not_json", lambda p: (p / "info.json").write_text("{not json"))
    broken("info_list", lambda p: (p / "info.json").write_text("[1, 2]"))
    broken("info_bad_sr", lambda p: (p / "info.json").write_text(json.dumps(
        {"format": "drumsynth-cache", "format_version": 1, "sr": "fast", "n": 24})))
    broken("manifest_garbage", lambda p: (p / "manifest.jsonl").write_bytes(b"\xff\xfe garbage\n{"))
    broken("manifest_missing_fields", lambda p: (p / "manifest.jsonl").write_text('{"id": "x"}\n' * 24))
    broken("unknown_label", lambda p: (p / "manifest.jsonl").write_text(
        (p / "manifest.jsonl").read_text().replace('"label": "kick"', '"label": "cowbell"')))
    broken("audio_missing", lambda p: (p / "audio.npy").unlink())
    broken("audio_text", lambda p: (p / "audio.npy").write_text("not numpy"))
    broken("audio_pickle", lambda p: np.save(p / "audio.npy", np.array([{"a": 1}], dtype=object),
                                             allow_pickle=True))
    broken("audio_truncated", lambda p: (p / "audio.npy").write_bytes((p / "audio.npy").read_bytes()[:500]))
    broken("offsets_short", lambda p: np.save(p / "offsets.npy", np.arange(5, dtype=np.int64)))
    broken("offsets_beyond", lambda p: np.save(p / "offsets.npy", np.arange(25, dtype=np.int64) * 10**9))
    broken("offsets_decreasing", lambda p: np.save(p / "offsets.npy", np.arange(25, dtype=np.int64)[::-1]))
    (folder / "not_a_cache").mkdir()
    (folder / "not_a_cache" / "song.als").write_text("a user's file")
    files["not_a_cache"] = str(folder / "not_a_cache")
    return files


def make_configs(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True)
    (folder / "bad.toml").write_text("[train\nlr = = 3\n")
    (folder / "binary.toml").write_bytes(b"\xff\xfe\x00bad")
    (folder / "scalar_table.toml").write_text("train = 5\n")
    (folder / "unknown.toml").write_text("[nonsense]\nx = 1\n")
    (folder / "negative_lr.toml").write_text("[train]\nlr = -1.0\n")
    (folder / "a dir.toml").mkdir()
    return {p.stem.replace(" ", "_"): str(p) for p in folder.iterdir()} | {"missing": str(folder / "missing.toml")}


def make_sample_folder(folder: Path) -> str:
    """A messy producer's folder: class folders, odd names, a broken file, a loop, an unlabelled file."""
    for sub, kind in (("Kicks", "kick"), ("Snares", "snare"), ("HiHats", "hihat_closed")):
        (folder / sub).mkdir(parents=True)
        for i in range(8):
            _wav(folder / sub / f"{sub[:-1]} {i}.wav", synth_hit(kind, seed=i))
    _wav(folder / "HiHats" / "Open Hat 3.wav", synth_hit("hihat_open"))
    (folder / "Kicks" / "broken.wav").write_bytes(b"RIFF\x00\x00not a wav")
    (folder / "Loops").mkdir()
    _wav(folder / "Loops" / "beat 120bpm.wav", np.tile(synth_hit("kick"), 4))
    _wav(Path(os.fsdecode(os.fsencode(folder / "Snares") + b"/caf\xe9.wav")), synth_hit("snare"))
    (folder / "song-project.als").write_text("not audio")
    return str(folder)


# ---- the case catalogue -------------------------------------------------------------------------

BAD_INTS = ["-1", "0", "2147483648", str(2**63), str(2**64), str(-(2**63) - 1), "10" * 40, "1.5", "1e3", "nan",
            "x", ""]
BAD_FLOATS = ["nan", "inf", "-inf", "1e30", "-1e30", "1e309", "x", ""]
BAD_DEVICES = ["bogus", "meta", "mps", "cuda", "cuda:99", "", "cpu:7"]
BAD_THREADS = ["-1", "0", "100000", "x"]
BAD_MIX = [["kick=nan"], ["kick=1e309"], ["foo=1"], ["kick"], ["=1"], ["kick=1", "kick=2"], ["kick=-1"],
           ["kick=1e30"], ["kick=1", "snare=-0.5", "cymbal=2"], ["KICK=1"], ["kick=0x10"]]
AUDIO_KEYS = ["good", "stereo96k", "nan", "inf", "loud", "silent", "one_sample", "low_rate", "flac", "aiff", "ogg",
              "unicode", "latin1", "empty", "truncated", "header_only", "zero_bytes", "text", "random", "riff_lie",
              "dir_wav", "fifo", "dev_zero", "loop", "missing", "many_channels", "too_long"]
MODEL_KEYS = ["text", "random", "empty", "plain", "future", "alien", "evil", "evil_zip", "ndm_truncated",
              "ndm_flipped", "a_folder", "missing"]
MODEL_SPECS = [f"{{model:{k}}}" for k in MODEL_KEYS] + ["wavegan", "NDM", "../../etc/passwd", "", "{cache:good}"]
CACHE_KEYS = ["no_info", "info_not_json", "info_list", "info_bad_sr", "manifest_garbage", "manifest_missing_fields",
              "unknown_label", "audio_missing", "audio_text", "audio_pickle", "audio_truncated", "offsets_short",
              "offsets_beyond", "offsets_decreasing", "not_a_cache"]
BAD_OUTS = ["{audio:good}", "/proc/drumsynth-out", "/dev/full/x", "{long_name}", "{out}/sub/../renders",
            ""]
GEN = ["generate", "--model", "ndm", "--class", "kick"]
GEN_DRUMGAN = ["generate", "--model", "drumgan", "--class", "kick"]
VARY = ["vary", "--model", "ndm", "--class", "snare"]


def cases() -> list[Case]:
    out: list[Case] = []

    def add(id_: str, argv: list[str], **kw) -> None:
        out.append(Case(id_, argv, **kw))

    # numbers
    for value in BAD_INTS:
        add(f"generate-seed[{value}]", GEN + ["--seed", value, "--out", "{out}"])
        add(f"generate-n[{value}]", GEN + ["-n", value, "--out", "{out}"], timeout=120)
        add(f"vary-seed-center[{value}]", VARY + ["--seed-center", value, "--intensity", "1", "--out", "{out}"])
        add(f"vary-direction-seed[{value}]", VARY + ["--seed-center", "1", "--direction-seed", value,
                                                      "--intensity", "1", "--out", "{out}"])
    for value in ["4097", "100000"]:
        add(f"generate-n-huge[{value}]", GEN + ["-n", value, "--out", "{out}"], timeout=120)
    for value in BAD_THREADS:
        add(f"generate-threads[{value}]", GEN + ["--threads", value, "--out", "{out}"])
        add(f"classify-threads[{value}]", ["classify", "{audio:good}", "--threads", value])
        add(f"train-threads[{value}]", ["train", "--family", "ndm", "--preset", "tiny", "--data", "{cache:good}",
                                        "--out", "{out}", "--steps", "1", "--threads", value, "--quiet"])
    for value in BAD_DEVICES:
        add(f"generate-device[{value}]", GEN + ["--device", value, "--out", "{out}"])
        add(f"encode-device[{value}]", ["encode", "{audio:good}", "--model", "drumgan", "--device", value])
    for value in BAD_FLOATS:
        add(f"vary-intensity[{value}]", VARY + ["--seed-center", "1", "--intensity", value, "--out", "{out}"])
        add(f"vary-plane[{value}]", VARY + ["--seed-center", "1", "--plane", value, "0", "--out", "{out}"])
        add(f"generate-xy[{value}]", GEN + ["--xy", value, "0", "--out", "{out}"])
        add(f"generate-fine[{value}]", GEN + ["--xy", "0", "0", "--fine", value, "--out", "{out}"])
        add(f"generate-range[{value}]", GEN + ["--xy", "0.5", "0", "--range", value, "--out", "{out}"])
        add(f"generate-crop[{value}]", GEN + ["--crop", "0", value, "--out", "{out}"])
    for pair in (["1", "0"], ["-1", "2"], ["0", "0"], ["0.5", "0.5"]):
        add(f"generate-crop[{' '.join(pair)}]", GEN + ["--crop", *pair, "--out", "{out}"])
    add("vary-plane-huge", VARY + ["--seed-center", "1", "--plane", "1e6", "-1e6", "--out", "{out}"])
    add("generate-xy-outside", GEN + ["--xy", "2", "2", "--out", "{out}"])
    for items in BAD_MIX:
        add(f"generate-mix[{' '.join(items)}]", ["generate", "--model", "ndm", "--mix", *items, "--out", "{out}"])
        add(f"generate-drumgan-mix[{' '.join(items)}]",
            ["generate", "--model", "drumgan", "--mix", *items, "--out", "{out}"])
    for name in ["foo", "", "Kick", "hihat_open"]:
        add(f"generate-drumgan-class[{name}]", ["generate", "--model", "drumgan", "--class", name, "--out", "{out}"])
    add("generate-sr", GEN + ["--sr", "22050", "--out", "{out}"])
    add("generate-bit-depth", GEN + ["--bit-depth", "8", "--out", "{out}"])
    add("generate-no-class", ["generate", "--model", "ndm", "--out", "{out}"])
    for value in ["0", "-1", "x"]:
        add(f"bench-repeats[{value}]", ["bench", "--model", "ndm", "--repeats", value])
        add(f"classify-top[{value}]", ["classify", "{audio:good}", "--top", value])
        add(f"demo-n[{value}]", ["demo", "-n", value, "--out", "{out}"])
        add(f"evaluate-n[{value}]", ["evaluate", "--data", "{cache:good}", "-n", value, "--out", "{out}",
                                     "--no-aisfx"])
        add(f"prepare-min-files[{value}]", ["prepare", "{samples}", "--out", "{out}/cache", "--min-files", value])

    # audio files into every verb that reads one
    for key in AUDIO_KEYS:
        timeout = 60.0
        add(f"classify[{key}]", ["classify", f"{{audio:{key}}}"], timeout=timeout)
        add(f"encode[{key}]", ["encode", f"{{audio:{key}}}", "--model", "drumgan", "--out", "{out}/latent.json"],
            timeout=timeout)
        add(f"encode-ndm[{key}]", ["encode", f"{{audio:{key}}}", "--model", "ndm", "--class", "kick"],
            timeout=timeout)
        add(f"vary-file[{key}]", ["vary", "--model", "drumgan", "--file", f"{{audio:{key}}}", "--intensity", "0.5",
                                  "--out", "{out}"], timeout=timeout)
    add("classify-many", ["classify", "{audio:good}", "{audio:text}", "{audio:fifo}", "{audio:latin1}",
                          "{audio:nan}"])

    # checkpoints
    for spec in MODEL_SPECS:
        add(f"generate-model[{spec}]", ["generate", "--model", spec, "--class", "kick", "--out", "{out}"])
        add(f"info[{spec}]", ["info", spec])
        add(f"classify-model[{spec}]", ["classify", "{audio:good}", "--model", spec],
            env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
        add(f"evaluate-classifier[{spec}]", ["evaluate", "--data", "{cache:good}", "--classifier", spec,
                                             "--out", "{out}", "--no-aisfx", "-n", "2"])
    for key in ("evil", "evil_zip"):
        add(f"info-unsafe-env[{key}]", ["info", f"{{model:{key}}}"], env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
        add(f"generate-unsafe-env[{key}]", ["generate", "--model", f"{{model:{key}}}", "--class", "kick",
                                            "--out", "{out}"], env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})

    # caches
    for key in CACHE_KEYS:
        add(f"corpus-stats[{key}]", ["corpus", "stats", f"{{cache:{key}}}"])
        add(f"info-cache[{key}]", ["info", f"{{cache:{key}}}"])
        add(f"train[{key}]", ["train", "--family", "ndm", "--preset", "tiny", "--data", f"{{cache:{key}}}",
                              "--out", "{out}", "--steps", "1", "--quiet"])
        add(f"evaluate[{key}]", ["evaluate", "--data", f"{{cache:{key}}}", "--out", "{out}", "--no-aisfx",
                                 "-n", "2"])

    # training configuration
    train = ["train", "--family", "ndm", "--preset", "tiny", "--data", "{cache:good}", "--out", "{out}", "--quiet"]
    for item in ["train=5", "train.lr=-1", "train.lr=0", "train.lr=abc", "train.lr=nan", "nonsense=1",
                 "train.nonsense=1", "train.max_steps=-5", "train.batch_size=0", "train", "=1", "model=[1]",
                 "train.lr=1e400"]:
        add(f"train-set[{item}]", train + ["--steps", "1", "--set", item])
    for key in ["bad", "binary", "scalar_table", "unknown", "negative_lr", "a_dir", "missing"]:
        add(f"train-config[{key}]", train + ["--steps", "1", "--config", f"{{config:{key}}}"])
    for value in ["0", "-1", "x"]:
        add(f"train-steps[{value}]", train + ["--steps", value])
    for family, preset in (("foo", "tiny"), ("ndm", "foo"), ("ndm", "../../x"), ("", "tiny")):
        add(f"train-family[{family}/{preset}]", ["train", "--family", family, "--preset", preset,
                                                 "--data", "{cache:good}", "--out", "{out}", "--steps", "1"])
    add("train-tiny-ok", train + ["--steps", "2"], timeout=180)
    for spec in ["{model:text}", "{model:evil}", "{model:missing}", "drumgan", "wavegan"]:
        add(f"train-init[{spec}]", train + ["--steps", "1", "--init", spec], timeout=120)

    # outputs
    for target in BAD_OUTS:
        add(f"generate-out[{target}]", GEN + ["--out", target])
        add(f"encode-out[{target}]", ["encode", "{audio:good}", "--model", "drumgan", "--out", target])
        add(f"prepare-out[{target}]", ["prepare", "{samples}", "--out", target])
    add("encode-out-dir", ["encode", "{audio:good}", "--model", "drumgan", "--out", "{out}"])
    add("prepare-out-is-input", ["prepare", "{samples}", "--out", "{samples}"])
    add("prepare-out-is-parent", ["prepare", "{samples}", "--out", "{samples}/.."])
    add("prepare-out-inside-input", ["prepare", "{samples}", "--out", "{samples}/Kicks"])
    add("prepare-out-user-folder", ["prepare", "{samples}", "--out", "{cache:not_a_cache}"])
    add("prepare-ok", ["prepare", "{samples}", "--out", "{out}/cache", "--min-files", "5"], timeout=120)
    add("prepare-not-a-folder", ["prepare", "{audio:good}", "--out", "{out}/cache"])
    add("prepare-missing", ["prepare", "{audio:missing}", "--out", "{out}/cache"])
    add("corpus-build-out-user-folder", ["corpus", "build", "--out", "{cache:not_a_cache}"], timeout=300)
    add("corpus-build-out-is-file", ["corpus", "build", "--out", "{audio:good}"], timeout=300)
    add("demo-out-file", ["demo", "--out", "{audio:good}"])
    add("demo-model-text", ["demo", "--model", "{model:text}", "--out", "{out}"])
    add("evaluate-no-data", ["evaluate", "--out", "{out}"])
    add("evaluate-peaq-dir-missing", ["evaluate", "--peaq-conformance", "{audio:missing}"])
    add("evaluate-peaq-dir-file", ["evaluate", "--peaq-conformance", "{audio:good}"])
    add("unknown-verb", ["frobnicate"])
    add("no-verb", [])
    return out


# ---- running ------------------------------------------------------------------------------------


class FuzzServer:
    """The warm forking server, started once per module."""

    def __init__(self):
        env = os.environ | {"PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
        self.proc = subprocess.Popen([sys.executable, str(HERE / "fuzz_server.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, argv: list[str], cwd: Path, timeout: float, env: dict[str, str]) -> dict:
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd), "timeout": timeout, "env": env}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 (or the link target, or "dir"/"fifo") of everything below ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.fsdecode(os.path.relpath(path, os.fsencode(root)))
            if os.path.islink(path):
                out[rel] = "link:" + os.fsdecode(os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = "dir"
            elif not os.path.isfile(path):
                out[rel] = "special"
            else:
                with open(path, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    cwd = root / "cwd"
    cwd.mkdir()
    places = {
        "audio": make_audio_inputs(root / "inputs" / "audio"),
        "model": make_models(root / "inputs" / "models", cwd),
        "cache": make_caches(root / "inputs" / "caches"),
        "config": make_configs(root / "inputs" / "configs"),
    }
    samples = make_sample_folder(root / "inputs" / "My Kit")
    server = FuzzServer()
    yield {"root": root, "cwd": cwd, "places": places, "samples": samples, "server": server,
           "outcomes": {}}
    server.close()


def fill(argv: list[str], sandbox: dict, out: Path) -> list[str]:
    def one(arg: str) -> str:
        def sub(match: re.Match) -> str:
            kind, _, key = match.group(1).partition(":")
            if kind == "out":
                return str(out)
            if kind == "samples":
                return sandbox["samples"]
            if kind == "long_name":
                return str(out / ("x" * 300))
            return sandbox["places"][kind][key]

        return re.sub(r"\{([a-z_]+(?::[a-z0-9_]+)?)\}", sub, arg)

    return [one(a) for a in argv]


CASES = cases()


def test_catalogue_is_a_few_hundred_distinct_cases():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert 300 <= len(ids) <= 800


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz_case(case: Case, sandbox: dict):
    root, cwd = sandbox["root"], sandbox["cwd"]
    out = root / "out" / hashlib.sha1(case.id.encode()).hexdigest()[:12]
    before = tree_digest(root / "inputs")
    before_cwd = tree_digest(cwd)
    argv = fill(case.argv, sandbox, out)
    outcome = sandbox["server"].run(argv, cwd, case.timeout, case.env)
    sandbox["outcomes"][case.id] = outcome
    where = f"drumsynth {' '.join(argv)}\nstdout: {outcome['stdout'][-2000:]}\nstderr: {outcome['stderr'][-3000:]}"
    assert not outcome["timed_out"], f"hung past {case.timeout} s: {where}"
    assert outcome["signal"] is None, f"killed by signal {outcome['signal']}: {where}"
    assert "Traceback" not in outcome["stderr"], where
    assert outcome["rc"] in (0, 2), f"exit {outcome['rc']}: {where}"
    if outcome["rc"] == 2:
        assert ERROR_LINE.search(outcome["stderr"]), f"no 'drumsynth VERB: error: ...' line: {where}"
    assert outcome["peak_mb"] < PEAK_MB_LIMIT, f"peak memory {outcome['peak_mb']:.0f} MB: {where}"
    assert not (cwd / PWNED).exists(), f"a pickle ran code: {where}"
    assert tree_digest(root / "inputs") == before, f"an input changed: {where}"
    assert tree_digest(cwd) == before_cwd, f"wrote into the working folder: {where}"
    assert sorted(p.name for p in root.iterdir()) == ["cwd", "inputs", "out"][: 2 + (root / "out").exists()], \
        f"wrote outside its output folder: {sorted(root.iterdir())}: {where}"


def test_fuzz_totals(sandbox: dict, capsys):
    """Totals over the cases run in this session (docs/reliability.md records them)."""
    outcomes = sandbox["outcomes"]
    if not outcomes:
        pytest.skip("run together with test_fuzz_case")
    totals = Counter()
    for o in outcomes.values():
        totals["cases"] += 1
        totals["ok (exit 0)"] += o["rc"] == 0
        totals["clear errors (exit 2)"] += o["rc"] == 2 and bool(ERROR_LINE.search(o["stderr"]))
        totals["tracebacks"] += "Traceback" in o["stderr"]
        totals["hangs"] += o["timed_out"]
        totals["crashes"] += o["signal"] is not None and not o["timed_out"]
        totals["over 2 GB"] += o["peak_mb"] >= PEAK_MB_LIMIT
    peak = max(o["peak_mb"] for o in outcomes.values())
    slowest = max(o["seconds"] for o in outcomes.values())
    with capsys.disabled():
        print("\nfuzz totals: " + ", ".join(f"{k} {v}" for k, v in totals.items())
              + f"; peak memory {peak:.0f} MB; slowest case {slowest:.1f} s; "
              + f"total {math.fsum(o['seconds'] for o in outcomes.values()):.0f} s")
