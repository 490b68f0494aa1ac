"""Shared fixtures: small synthetic drum hits, written as files or held in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 44100


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run every test on one torch thread, then restore the setting.

    The tests' tensors are small: OpenMP hand-offs dominate, and on a busy 2-core machine two threads
    were measured tens of times slower than one.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def synth_hit(kind: str, sr: int = SR, seconds: float = 0.3, seed: int = 0) -> np.ndarray:
    """A crude but class-typical drum hit: np.ndarray[T] float32, peak ≈ 0.9."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    if kind == "kick":
        freq = 50 + 120 * np.exp(-t * 30)
        wave = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 12)
    elif kind in ("snare", "clap"):
        wave = (0.5 * np.sin(2 * np.pi * 190 * t) + rng.standard_normal(len(t))) * np.exp(-t * 25)
    elif kind == "tom":
        wave = np.sin(2 * np.pi * (110 + 40 * np.exp(-t * 20)) * t) * np.exp(-t * 10)
    else:  # hats, cymbals, perc: bright noise
        noise = rng.standard_normal(len(t))
        wave = np.diff(noise, prepend=0.0) * np.exp(-t * (40 if "closed" in kind else 6))
    wave = wave / np.max(np.abs(wave)) * 0.9
    return wave.astype(np.float32)


def write_synthetic_cache(root: Path, classes, splits=("train", "valid"), per_class: int = 3,
                          seconds: float = 0.3) -> Path:
    """A drumsynth cache at ``root`` holding ``per_class`` synthetic hits of each class in each split."""
    from drumsynth.data.cache import write_cache

    records, waves = [], []
    for split in splits:
        for c, label in enumerate(classes):
            for k in range(per_class):
                records.append({"id": f"{split}-{label}-{k}", "path": "synthetic", "source": "test",
                                "kit": f"{split}-kit", "instrument": label, "label": label, "split": split,
                                "licence": "CC0"})
                waves.append(synth_hit(label, seconds=seconds, seed=10 * c + k))
    write_cache(root, records, waves)
    return root


def torchrun_train(family: str, cache: Path, out: Path, *extra: str, timeout: int = 600) -> None:
    """``drumsynth train --family FAMILY --preset tiny`` under ``torchrun --nproc_per_node 2`` (gloo, one
    thread per process), asserting that it exits 0."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={port}", "-m", "drumsynth.cli.main", "train", "--family", family, "--preset", "tiny",
           "--data", str(cache), "--out", str(out), "--quiet", *extra]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture
def one_shot_folder(tmp_path: Path) -> Path:
    """A producer's folder: MyKit/{Kicks,Snares,Hats}/*.wav, 8 files each, plus a corrupt file."""
    root = tmp_path / "MyKit"
    for folder, kind in (("Kicks", "kick"), ("Snares", "snare"), ("Hats", "hihat_closed")):
        (root / folder).mkdir(parents=True)
        for i in range(8):
            sf.write(root / folder / f"{kind}_{i}.wav", synth_hit(kind, seed=i), SR, subtype="PCM_16")
    (root / "Kicks" / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav file")
    return root


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_corpus(tmp_path_factory):
    """The free drum corpus cache: the repo's ``data/corpus`` when built, else built once for this session.

    Skips (with the command to fix it) only when the Debian packages are not installed.
    """
    from drumsynth.data import corpus
    from drumsynth.data.cache import load_cache

    if (REPO / "data" / "corpus" / "info.json").is_file():
        return load_cache(REPO / "data" / "corpus")
    missing = [p for p, ok in corpus.installed_packages().items() if not ok]
    if missing:
        pytest.skip(f"free drum corpus packages missing ({' '.join(missing)}); "
                    "install them with scripts/install-corpus")
    return load_cache(corpus.build_corpus(tmp_path_factory.mktemp("corpus") / "corpus", progress=False))


def write_tiny_style_release(path: Path) -> Path:
    """An untrained tiny ``style`` release file at ``path`` (what a fresh run would write), its noise scales
    set (an untrained network's are zero, StyleGAN's start: training gives them values)."""
    import torch

    from drumsynth.models import build_family_config, family_module
    from drumsynth.train import seed_everything
    from drumsynth.train.checkpoint import module_state, new_checkpoint, save_checkpoint, to_cpu

    seed_everything(0)
    recipe = family_module("style").build_recipe(build_family_config("style", "tiny"), None)
    with torch.no_grad():
        for noise in recipe.generator.synthesis.noise:
            noise.scale.normal_(0.0, 0.5)
    model = {name: module_state(recipe.modules()[name]) for name in recipe.release_modules()}
    checkpoint = new_checkpoint("release", family="style", config=to_cpu(recipe.config), step=0, model=model,
                                weights=dict.fromkeys(model, "raw"), extra=to_cpu(recipe.release_extra()), seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(checkpoint, path)
