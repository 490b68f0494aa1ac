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
