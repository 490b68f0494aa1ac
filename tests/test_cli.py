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
    for verb in ("corpus", "prepare", "info"):
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
