"""Fine-tuning (``drumsynth train --init``), the release's data counts and the stage lines of ``train``.

A tiny ndm is trained once on a synthetic cache of all eight classes (the "release"); the "kit" is a
second synthetic cache with three classes, the way a producer's folder lacks most of the taxonomy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from conftest import synth_hit
from drumsynth.checkpoint import load_checkpoint
from drumsynth.cli.main import build_parser, main
from drumsynth.cli.train import run_config
from drumsynth.data.cache import write_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.errors import DrumsynthError
from drumsynth.train.finetune import MAX_STEPS, MIN_STEPS, STEPS_PER_FILE, load_init, steps_for

KIT_CLASSES = ("kick", "snare", "hihat_closed")


def make_cache(root: Path, classes, per_train: int, per_valid: int = 1) -> Path:
    """A cache of synthetic hits: ``per_train`` train and ``per_valid`` valid sounds of each class."""
    records, waves = [], []
    for label in classes:
        for split, count in (("train", per_train), ("valid", per_valid)):
            for _ in range(count):
                i = len(records)
                waves.append(synth_hit(label, seconds=0.2 + 0.05 * (i % 3), seed=i))
                records.append({"id": f"s{i}", "path": f"kit/{label}_{i}.wav", "source": "synthetic", "kit": "k",
                                "instrument": label, "label": label, "split": split, "licence": "CC0"})
    return write_cache(root, records, waves)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The release a fine-tuning run starts from: tiny ndm, 6 steps on all eight classes."""
    root = tmp_path_factory.mktemp("base")
    cache = make_cache(root / "cache", CLASSES, per_train=2)
    assert main(["train", "--family", "ndm", "--preset", "tiny", "--data", str(cache), "--out", str(root / "run"),
                 "--steps", "6", "--quiet"]) == 0
    return root / "run" / "release.pt"


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    return make_cache(tmp_path_factory.mktemp("kit") / "cache", KIT_CLASSES, per_train=3)


def finetune(base: Path, kit: Path, out: Path, *extra: str) -> int:
    return main(["train", "--init", str(base), "--preset", "tiny", "--data", str(kit), "--out", str(out),
                 "--quiet", *extra])


def test_init_starts_from_the_release_weights_and_records_where_it_came_from(base, kit, tmp_path):
    # Learning rates of 1e-12: one Adam step moves every weight by about 1e-12, so the release the run
    # writes shows what the first step started from.
    assert finetune(base, kit, tmp_path / "run", "--steps", "1", "--set", "train.lr=1e-12", "--set",
                    "train.mcnn_lr=1e-12") == 0
    start = load_checkpoint(base)
    tuned = load_checkpoint(tmp_path / "run" / "release.pt")
    for module in ("wae", "mcnn"):
        for name, value in start["model"][module].items():
            if "running_" in name or "num_batches" in name:
                continue  # batch-norm statistics move in train mode even without a gradient step
            moved = float((tuned["model"][module][name].double() - value.double()).abs().max())
            assert moved < 1e-9, f"{module}.{name} did not come from --init (moved {moved})"
    assert tuned["init"]["from"] == str(base) and tuned["init"]["step"] == start["step"]
    assert len(tuned["init"]["sha256"]) == 64 and tuned["init"]["family"] == "ndm"
    # The model keeps its eight classes; those the kit lacks keep the release's prior and PCA entry.
    extra = tuned["extra"]
    assert extra["classes"] == list(CLASSES)
    assert extra["inherited_classes"] == [c for c in CLASSES if c not in KIT_CLASSES]
    for name in CLASSES:
        same = torch.equal(extra["latent_prior"]["classes"][name]["mean"],
                           start["extra"]["latent_prior"]["classes"][name]["mean"])
        assert same == (name not in KIT_CLASSES), name


def test_a_run_from_scratch_does_not_start_from_the_release(base, kit, tmp_path):
    """The control of the test above: the same run without --init has other weights."""
    assert main(["train", "--family", "ndm", "--preset", "tiny", "--data", str(kit), "--out", str(tmp_path / "run"),
                 "--steps", "1", "--set", "train.lr=1e-12", "--set", "train.mcnn_lr=1e-12", "--quiet"]) == 0
    start = load_checkpoint(base)["model"]["wae"]
    fresh = load_checkpoint(tmp_path / "run" / "release.pt")
    name = next(k for k, v in start.items() if k.endswith(".weight") and v.ndim >= 2)
    assert float((fresh["model"]["wae"][name] - start[name]).abs().max()) > 1e-3
    assert "init" not in fresh and "inherited_classes" not in fresh["extra"]


def test_release_files_carry_the_caches_class_counts_by_split(base, kit, tmp_path):
    assert finetune(base, kit, tmp_path / "run", "--steps", "2", "--set", "train.valid_every=2") == 0
    expected = {split: {c: (3 if split == "train" else 1) if c in KIT_CLASSES and split != "test" else 0
                        for c in CLASSES} for split in ("train", "valid", "test")}
    for name in ("release.pt", "best.pt"):
        data = load_checkpoint(tmp_path / "run" / name)["data"]
        assert data == {"cache": str(kit.resolve()), "counts": expected}, name
    assert load_checkpoint(base)["data"]["counts"]["train"] == dict.fromkeys(CLASSES, 2)


@pytest.mark.parametrize("override, key", [("model.latent_dim=4", "model.latent_dim"),
                                           ("data.n_mels=32", "data.n_mels"),
                                           ("mcnn.heads=3", "mcnn.heads")])
def test_changing_the_architecture_is_refused(base, kit, tmp_path, capsys, override, key):
    assert finetune(base, kit, tmp_path / "run", "--steps", "1", "--set", override) == 2
    err = capsys.readouterr().err
    assert key in err and "architecture" in err
    assert not (tmp_path / "run").exists()


def test_a_preset_of_another_architecture_is_refused_but_training_settings_pass(base, kit, tmp_path):
    args = build_parser().parse_args(["train", "--init", str(base), "--data", str(kit), "--out", str(tmp_path),
                                      "--preset", "cpu"])
    with pytest.raises(DrumsynthError, match="keeps the model's architecture"):
        run_config(args, "ndm", load_init(str(base)), 9)
    args = build_parser().parse_args(["train", "--init", str(base), "--data", str(kit), "--out", str(tmp_path),
                                      "--set", "train.lr=5e-5", "--set", "data.pitch_semitones=[0, 1]"])
    config = run_config(args, "ndm", load_init(str(base)), 9)
    assert config.train.lr == 5e-5 and config.data.pitch_semitones == [0, 1]
    assert config.data.n_mels == load_checkpoint(base)["config"]["data"]["n_mels"]


def test_steps_scale_with_the_number_of_training_files(base, kit, tmp_path):
    assert steps_for(1) == MIN_STEPS and steps_for(10 ** 6) == MAX_STEPS
    middle = (MIN_STEPS + MAX_STEPS) // (2 * STEPS_PER_FILE)
    assert steps_for(middle) == middle * STEPS_PER_FILE < steps_for(middle + 1) == (middle + 1) * STEPS_PER_FILE
    with pytest.raises(DrumsynthError, match="empty"):
        steps_for(0)
    init = load_init(str(base))

    def steps(*options: str, n_train: int = 60) -> int:
        args = build_parser().parse_args(["train", "--init", str(base), "--data", str(kit), "--out", str(tmp_path),
                                          *options])
        return run_config(args, "ndm", init, n_train).train.max_steps

    assert steps(n_train=30) == steps_for(30) != steps(n_train=60) == steps_for(60)
    assert steps("--steps", "7") == 7 and steps("--set", "train.max_steps=9") == 9
    # The finetune preset is the default with --init: its cadence replaces the release's (tiny's).
    args = build_parser().parse_args(["train", "--init", str(base), "--data", str(kit), "--out", str(tmp_path)])
    train = run_config(args, "ndm", init, 60).train
    assert (train.valid_every, train.plateau_window) == (50, 50)
    assert load_checkpoint(base)["config"]["train"]["valid_every"] != 50


def test_the_help_states_the_steps_rule():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    text = " ".join(text.split())
    assert f"{STEPS_PER_FILE} steps per training file (within {MIN_STEPS}-{MAX_STEPS})" in text


def test_init_names_and_family_mismatches_are_one_line_errors(base, kit, tmp_path, capsys):
    assert finetune(tmp_path / "nope.pt", kit, tmp_path / "run") == 2
    assert "nope.pt" in capsys.readouterr().err
    assert main(["train", "--init", str(base), "--family", "drumgan", "--data", str(kit), "--out",
                 str(tmp_path / "run")]) == 2
    assert "is a ndm model" in capsys.readouterr().err
    assert main(["train", "--data", str(kit), "--out", str(tmp_path / "run")]) == 2
    assert "--family is required" in capsys.readouterr().err


def test_drumgan_refuses_init_naming_what_its_release_lacks(kit, tmp_path, capsys):
    assert main(["train", "--init", "drumgan", "--data", str(kit), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "drumgan cannot be fine-tuned" in err and "critic" in err
    assert not (tmp_path / "run").exists()


def test_train_prints_one_line_per_stage_before_the_bar(kit, tmp_path, capsys):
    assert main(["train", "--family", "ndm", "--preset", "tiny", "--data", str(kit), "--out", str(tmp_path / "run"),
                 "--steps", "2"]) == 0
    err = capsys.readouterr().err
    stages = ["loading the cache", "decoding and analysing the clips", "building the model", "first step"]
    lines = [line for line in err.splitlines() if any(line.startswith(s) for s in stages)]
    assert [next(s for s in stages if line.startswith(s)) for line in lines] == stages
    assert all(re.search(r" \.\.\. \d+\.\d s", line) for line in lines)
    assert err.index("first step") < err.index("ndm:")   # the bar comes after the stage lines
    assert main(["train", "--family", "ndm", "--preset", "tiny", "--data", str(kit), "--out", str(tmp_path / "q"),
                 "--steps", "1", "--quiet"]) == 0
    assert "loading the cache" not in capsys.readouterr().err

