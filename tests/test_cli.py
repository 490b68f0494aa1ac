"""The console script: verbs listed, one-line errors with a non-zero exit, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from drumsynth.cli.main import main

EXE = [sys.executable, "-m", "drumsynth.cli.main"]


def test_help_lists_the_verbs():
    out = subprocess.run(EXE + ["--help"], capture_output=True, text=True, check=True).stdout
    for verb in ("corpus", "prepare", "train", "generate", "classify", "evaluate", "bench", "demo", "info"):
        assert verb in out


def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path: Path):
    proc = subprocess.run(EXE + ["prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not a folder" in proc.stderr


def test_prepare_json_output(one_shot_folder: Path, tmp_path: Path, capsys):
    assert main(["prepare", str(one_shot_folder), "--out", str(tmp_path / "c"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["counts"] == {"kick": 8, "snare": 8, "hihat_closed": 8}
    assert len(payload["skipped"]) == 1


def _kit_with_every_class(root: Path) -> Path:
    """A producer's folder with 3 hits of each of the 8 classes."""
    import soundfile as sf

    from conftest import SR, synth_hit
    from drumsynth.data.taxonomy import CLASSES

    for c, label in enumerate(CLASSES):
        (root / label).mkdir(parents=True)
        for k in range(3):
            sf.write(root / label / f"{k}.wav", synth_hit(label, seed=10 * c + k), SR)
    return root


def test_prepare_train_generate_demo_end_to_end(tmp_path: Path, capsys):
    import soundfile as sf

    kit = _kit_with_every_class(tmp_path / "kit")
    assert main(["prepare", str(kit), "--out", str(tmp_path / "cache"), "--json"]) == 0
    run = tmp_path / "run"
    assert main(["train", "--family", "ndm", "--preset", "tiny", "--data", str(tmp_path / "cache"),
                 "--out", str(run), "--steps", "3", "--quiet"]) == 0
    capsys.readouterr()
    # Resuming a finished run with more steps continues from its checkpoint.
    assert main(["train", "--family", "ndm", "--preset", "tiny", "--data", str(tmp_path / "cache"),
                 "--out", str(run), "--steps", "4", "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 4

    outs = []
    for name in ("a", "b"):
        assert main(["generate", "--model", str(run / "release.pt"), "--class", "kick", "-n", "2", "--seed", "1",
                     "--out", str(tmp_path / name), "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out)["files"])
    for fa, fb in zip(outs[0], outs[1], strict=True):
        a, sr = sf.read(fa)
        b, _ = sf.read(fb)
        assert sr == 44100 and (a == b).all()
        sidecar = json.loads(Path(fa).with_suffix(".json").read_text())
        assert sidecar["class"] == "kick" and sidecar["seed"] == 1 and len(sidecar["checkpoint_sha256"]) == 64
    assert main(["demo", "--model", str(run / "release.pt"), "-n", "1", "--out", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "sheet.png").is_file()
    assert len(list((tmp_path / "demo").rglob("*.wav"))) == 8


def test_unknown_family_and_class_are_clear_errors(tmp_path: Path, capsys):
    assert main(["train", "--family", "vocoder", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "unknown model family 'vocoder'" in capsys.readouterr().err


def _checksums(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_renders_into_one_folder_never_overwrite(tmp_path: Path, capsys):
    """The README's flow: generate, then vary and a --mix generate into the same folder keep every file."""
    import pytest

    from drumsynth.inference.session import shipped_models

    if "ndm" not in shipped_models():
        pytest.skip("no shipped ndm model")
    hits = tmp_path / "hits"
    assert main(["generate", "--model", "ndm", "--class", "kick", "-n", "2", "--seed", "1", "--out", str(hits)]) == 0
    first = _checksums(hits)
    assert sorted(first) == ["ndm_kick_000.json", "ndm_kick_000.wav", "ndm_kick_001.json", "ndm_kick_001.wav"]
    assert main(["vary", "--model", "ndm", "--file", str(hits / "ndm_kick_000.wav"), "--class", "kick",
                 "--intensity", "0", "1", "--out", str(hits)]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", "ndm", "--mix", "kick=1", "snare=0.5", "--out", str(hits), "--json"]) == 0
    (mixed,) = json.loads(capsys.readouterr().out)["files"]
    assert Path(mixed).name == "ndm_kick_004.wav"  # the mix is mostly kick: the kicks' next number
    after = _checksums(hits)
    assert {name: after[name] for name in first} == first
    assert len(after) == 10  # 2 + 2 + 1 hits, each with its sidecar
    verbs = [json.loads((hits / f"ndm_kick_{k:03d}.json").read_text())["verb"] for k in range(5)]
    assert verbs == ["generate", "generate", "vary", "vary", "generate"]
    # --overwrite rewrites the names from 000: the first file now holds seed 7's hit.
    assert main(["generate", "--model", "ndm", "--class", "kick", "--seed", "7", "--out", str(hits),
                 "--overwrite"]) == 0
    rewritten = _checksums(hits)
    assert rewritten["ndm_kick_000.wav"] != first["ndm_kick_000.wav"]
    assert {k: v for k, v in rewritten.items() if not k.startswith("ndm_kick_000")} == \
           {k: v for k, v in after.items() if not k.startswith("ndm_kick_000")}
    assert json.loads((hits / "ndm_kick_000.json").read_text())["params"]["seed"] == 7


def test_encode_out_refuses_a_folder_and_an_existing_file_without_overwrite(tmp_path: Path, capsys):
    import pytest
    import soundfile as sf

    from conftest import SR, synth_hit
    from drumsynth.inference.session import shipped_models

    if "ndm" not in shipped_models():
        pytest.skip("no shipped ndm model")
    sound = tmp_path / "kick.wav"
    sf.write(sound, synth_hit("kick"), SR)
    encode = ["encode", str(sound), "--model", "ndm", "--class", "kick", "--out"]
    assert main(encode + [str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a folder" in capsys.readouterr().err
    existing = tmp_path / "latent.json"
    existing.write_text("the user's notes")
    assert main(encode + [str(existing)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and existing.read_text() == "the user's notes"
    assert main(encode + [str(existing), "--overwrite"]) == 0
    assert len(json.loads(existing.read_text())["latent"]) > 0
