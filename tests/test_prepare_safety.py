"""Your samples stay safe: ``prepare`` and ``corpus build`` never lose a file drumsynth did not write,
label the usual folder layouts leniently and honestly, and refuse damaged caches with one line.

Everything runs on synthetic WAVs under ``tmp_path``, except the last test (marked ``corpus``), which lays
out an installed Hydrogen kit as class folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, synth_hit
from drumsynth.cli.main import main
from drumsynth.data import cache as cache_mod
from drumsynth.data.cache import CACHE_FILES, load_cache, write_cache
from drumsynth.data.corpus import CLASS_MAX_SECONDS, build_corpus
from drumsynth.data.prepare import (
    MIN_VALID_PER_CLASS,
    SMALL_KIT,
    assign_splits,
    label_file,
    prepare_folders,
    split_hash,
)
from drumsynth.data.taxonomy import CLASSES
from drumsynth.errors import DrumsynthError

EXE = [sys.executable, "-m", "drumsynth.cli.main"]


# ----------------------------------------------------------------------------- helpers
def tree_digest(root: Path) -> dict[str, str]:
    """Every entry below ``root`` -> sha256 of a file's bytes, a link's target or "dir" (links not followed)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = os.fsencode(str(path.relative_to(root))).decode("utf-8", "backslashreplace")
            if path.is_symlink():
                out[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def write_hit(path: Path, kind: str, seed: int, seconds: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth_hit(kind, seconds=seconds, seed=seed), SR, subtype="PCM_16")
    return path


def make_kit(root: Path, layout: dict[str, tuple[str, int]]) -> Path:
    """``{"Kicks": ("kick", 8), ...}``: class folders of synthetic hits named ``hit N.wav``."""
    for seed, (folder, (kind, n)) in enumerate(layout.items()):
        for i in range(n):
            write_hit(root / folder / f"hit {i}.wav", kind, seed=100 * seed + i)
    return root


def music_folder(tmp_path: Path) -> tuple[Path, Path]:
    """``Music/MyKit`` (24 hits in class folders) next to an unrelated ``Music/song-project.als``."""
    music = tmp_path / "Music"
    kit = make_kit(music / "MyKit", {"Kicks": ("kick", 8), "Snares": ("snare", 8), "Hats": ("hihat_closed", 8)})
    (music / "song-project.als").write_bytes(b"a DAW project the user cares about\x00\x01")
    return music, kit


def small_cache(out: Path, n: int = 4, seed: int = 0, **kwargs) -> Path:
    records = [{"id": f"s{i}", "path": f"/x/{i}.wav", "source": "test", "kit": "k", "instrument": "kick",
                "label": "kick", "split": "train", "licence": "CC0"} for i in range(n)]
    waves = [synth_hit("kick", seconds=0.05, seed=seed + i) for i in range(n)]
    return write_cache(out, records, waves, **kwargs)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


# ----------------------------------------------------------------------------- never lose a file
@pytest.mark.parametrize("where", ["parent", "same", "inside", "unrelated-folder", "file"])
def test_prepare_out_never_touches_the_users_files(tmp_path: Path, capsys, where: str):
    music, kit = music_folder(tmp_path)
    other = tmp_path / "Projects"
    (other / "beat").mkdir(parents=True)
    (other / "beat" / "notes.txt").write_text("keep me")
    out = {"parent": music, "same": kit, "inside": kit / "cache", "unrelated-folder": other,
           "file": music / "song-project.als"}[where]
    before = tree_digest(tmp_path)
    for force in ([], ["--force"]):
        assert main(["prepare", str(kit), "--out", str(out), "--json", *force]) == 2
        err = one_line_error(capsys)
        assert "refusing" in err and str(out) in err
    assert tree_digest(tmp_path) == before


def test_prepare_refusal_is_one_line_from_the_console_script(tmp_path: Path):
    music, kit = music_folder(tmp_path)
    before = tree_digest(tmp_path)
    proc = subprocess.run(EXE + ["prepare", str(kit), "--out", str(music)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "refusing" in proc.stderr
    assert tree_digest(tmp_path) == before


def test_corpus_build_out_never_touches_the_users_files(tmp_path: Path, capsys):
    music, kit = music_folder(tmp_path)
    before = tree_digest(tmp_path)
    for out in (music, kit, kit / "Kicks" / "new", music / "song-project.als"):
        for force in (False, True):
            with pytest.raises(DrumsynthError, match="refusing"):
                build_corpus(out, roots=[kit], progress=False, force=force)
    assert tree_digest(tmp_path) == before
    # The CLI refuses a non-cache folder before it scans anything (installed packages or not).
    code = main(["corpus", "build", "--out", str(music), "--force", "--json"])
    assert code == 2 and tree_digest(tmp_path) == before
    one_line_error(capsys)


def test_force_replaces_only_a_drumsynth_cache(tmp_path: Path, capsys):
    _, kit = music_folder(tmp_path)
    out = tmp_path / "cache"
    assert main(["prepare", str(kit), "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    first = tree_digest(out)
    assert main(["prepare", str(kit), "--out", str(out), "--json"]) == 2  # exists: needs --force
    assert "--force" in one_line_error(capsys)
    assert tree_digest(out) == first
    write_hit(kit / "Kicks" / "hit 99.wav", "kick", seed=99)
    assert main(["prepare", str(kit), "--out", str(out), "--json", "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["kick"] == 9
    assert len(load_cache(out)) == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Music", "cache"]  # no temporary siblings left
    # A cache that also holds a file of the user's is not replaced, even with --force.
    (out / "my-notes.txt").write_text("mine")
    before = tree_digest(tmp_path)
    assert main(["prepare", str(kit), "--out", str(out), "--json", "--force"]) == 2
    assert "my-notes.txt" in one_line_error(capsys)
    assert tree_digest(tmp_path) == before


def test_corpus_build_needs_force_to_replace_a_corpus(tmp_path: Path):
    kit = tmp_path / "kit"
    for i in range(6):  # the corpus labels by file name and drops duplicates: distinct noisy hits
        write_hit(kit / f"snare {i}.wav", "snare", seed=i)
    out = build_corpus(tmp_path / "corpus", roots=[kit], progress=False)
    before = tree_digest(out)
    with pytest.raises(DrumsynthError, match="--force"):
        build_corpus(out, roots=[kit], progress=False)
    assert tree_digest(out) == before
    write_hit(kit / "snare 6.wav", "snare", seed=6)
    build_corpus(out, roots=[kit], progress=False, force=True)
    assert len(load_cache(out)) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "kit"]


def test_an_empty_folder_is_a_fine_destination(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    small_cache(tmp_path / "empty")
    assert len(load_cache(tmp_path / "empty")) == 4


def test_a_crash_mid_write_leaves_the_old_cache_intact(tmp_path: Path, monkeypatch):
    small_cache(tmp_path / "c", n=4)
    before = tree_digest(tmp_path)
    real_save = np.save

    def failing_save(file, arr, *args, **kwargs):
        if Path(file).name == "offsets.npy":  # audio.npy is already written by then
            raise OSError(28, "No space left on device")
        return real_save(file, arr, *args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        small_cache(tmp_path / "c", n=6, seed=50, force=True)
    assert tree_digest(tmp_path) == before  # old cache byte-identical, no temporary folder left
    monkeypatch.setattr(np, "save", real_save)
    small_cache(tmp_path / "c", n=6, seed=50, force=True)
    assert len(load_cache(tmp_path / "c")) == 6


def test_a_failed_rename_puts_the_old_cache_back(tmp_path: Path, monkeypatch):
    out = small_cache(tmp_path / "c", n=4)
    before = tree_digest(tmp_path)
    real_rename = os.rename

    def rename(src, dst):
        if Path(dst) == out and ".tmp" in Path(src).name:
            raise OSError(5, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(cache_mod.os, "rename", rename)
    with pytest.raises(DrumsynthError, match="cannot move the new cache into place"):
        small_cache(out, n=6, force=True)
    assert tree_digest(tmp_path) == before


def test_cache_permissions_follow_the_umask(tmp_path: Path):
    old = os.umask(0o022)
    try:
        out = small_cache(tmp_path / "c")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert {stat.S_IMODE((out / name).stat().st_mode) for name in CACHE_FILES} == {0o644}


# ----------------------------------------------------------------------------- damaged caches
def _damage_info_json(c):
    (c / "info.json").write_text("{not json")


def _damage_info_types(c):
    (c / "info.json").write_text(json.dumps({"format": "drumsynth-cache", "format_version": 1, "sr": "44100"}))


def _damage_info_list(c):
    (c / "info.json").write_text("[1, 2]")


def _damage_manifest_json(c):
    (c / "manifest.jsonl").write_text("{\"id\": 1}\nnot json\n")


def _damage_manifest_field(c):
    lines = (c / "manifest.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    del record["split"]
    (c / "manifest.jsonl").write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")


def _replace_in_manifest(old: str, new: str):
    def damage(c):
        (c / "manifest.jsonl").write_text((c / "manifest.jsonl").read_text().replace(old, new, 1))
    return damage


def _damage_missing_audio(c):
    (c / "audio.npy").unlink()


def _damage_truncated_audio(c):
    data = (c / "audio.npy").read_bytes()
    (c / "audio.npy").write_bytes(data[:len(data) // 2])


def _damage_truncated_offsets(c):
    data = (c / "offsets.npy").read_bytes()
    (c / "offsets.npy").write_bytes(data[:40])


def _damage_pickled_offsets(c):
    np.save(c / "offsets.npy", np.array([0, {"evil": 1}, 2, 3, 4], dtype=object), allow_pickle=True)


def _damage_decreasing_offsets(c):
    offsets = np.load(c / "offsets.npy")
    offsets[2] = offsets[1] - 1
    np.save(c / "offsets.npy", offsets)


def _damage_offsets_beyond_audio(c):
    offsets = np.load(c / "offsets.npy")
    offsets[-1] += 1000
    np.save(c / "offsets.npy", offsets)


def _damage_audio_dtype(c):
    np.save(c / "audio.npy", np.zeros(10, np.int16))


@pytest.mark.parametrize("damage,names", [
    (_damage_info_json, "info.json"), (_damage_info_types, "info.json"), (_damage_info_list, "info.json"),
    (_damage_manifest_json, "manifest.jsonl"), (_damage_manifest_field, "manifest.jsonl"),
    (_replace_in_manifest('"label": "kick"', '"label": "cowbell"'), "manifest.jsonl"),
    (_replace_in_manifest('"split": "train"', '"split": "holdout"'), "manifest.jsonl"),
    (_damage_missing_audio, "audio.npy"), (_damage_truncated_audio, "audio.npy"),
    (_damage_truncated_offsets, "offsets.npy"), (_damage_pickled_offsets, "offsets.npy"),
    (_damage_decreasing_offsets, "offsets.npy"), (_damage_offsets_beyond_audio, "offsets.npy"),
    (_damage_audio_dtype, "audio.npy"),
], ids=lambda x: getattr(x, "__name__", x))
def test_damaged_caches_are_refused_with_one_line_naming_the_file(tmp_path: Path, damage, names):
    c = small_cache(tmp_path / "c", n=4)
    damage(c)
    with pytest.raises(DrumsynthError) as info:
        load_cache(c)
    message = str(info.value)
    assert "\n" not in message and names in message


def test_stats_of_a_damaged_cache_is_one_line_on_the_cli(tmp_path: Path, capsys):
    c = small_cache(tmp_path / "c", n=4)
    _damage_truncated_audio(c)
    assert main(["corpus", "stats", str(c)]) == 2
    assert "audio.npy" in one_line_error(capsys)


# ----------------------------------------------------------------------------- labels
USUAL = {
    "Kicks/808 Kick Deep.wav": "kick", "Kick Drums/Punchy.wav": "kick", "Snares/Tight.wav": "snare",
    "Rimshots/Rim 1.wav": "snare", "Claps/Big.wav": "clap", "HiHats/Hat 1.wav": "hihat_closed",
    "HiHats/Open Hat 3.flac": "hihat_open", "HiHats/Open 2.wav": "hihat_open", "Open Hats/Sizzle.wav": "hihat_open",
    "Open Hats/Closed 2.wav": "hihat_closed", "Closed Hats/Tick.wav": "hihat_closed",
    "Crashes/Big One.wav": "cymbal", "Rides/Ping.wav": "cymbal", "Cymbals/Thin.wav": "cymbal",
    "Toms/Low.wav": "tom", "Percs/Clave.wav": "perc", "Percs/Thing.wav": "perc", "Shakers/Egg.wav": "perc",
    "808s/808 Kick.wav": "kick", "808s/808 Clap.wav": "clap", "OH/1.wav": "hihat_open", "BD/x.wav": "kick",
    "Noise Snares/Gritty.wav": "snare", "Drums/Kicks/Sub/Deep.wav": "kick",
}
SKIPPED = {"Loops/Kick Loop 120.wav": "loop", "Loops/Kick 1.wav": "loop", "Kicks/Kick Roll.wav": "loop",
           "FX/Laser.wav": "not a drum", "Kicks/FX/Zap.wav": "not a drum"}
UNLABELLED = ("808s/808 Bass.wav", "Misc/Thing.wav")


@pytest.mark.parametrize("rel,label", sorted(USUAL.items()))
def test_usual_folder_and_file_names_label_right(rel: str, label: str):
    assert label_file(Path(rel), "MyKit").label == label


@pytest.mark.parametrize("rel,reason", sorted(SKIPPED.items()))
def test_loops_and_non_drums_are_skipped_with_a_reason(rel: str, reason: str):
    found = label_file(Path(rel), "MyKit")
    assert found.label is None and found.skip.startswith(reason)


def test_the_given_folders_name_labels_but_never_excludes():
    assert label_file(Path("a.wav"), "Kicks").label == "kick"
    found = label_file(Path("a.wav"), "Vinyl Noise Pack")  # "vinyl"/"noise" say nothing of the user's files
    assert found.label is None and not found.skip


def test_prepare_on_the_usual_layout(tmp_path: Path):
    root = tmp_path / "MyKit"
    for i, rel in enumerate([*USUAL, *SKIPPED, *UNLABELLED]):
        kind = USUAL.get(rel, "kick")
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, synth_hit(kind, seed=i), SR, format="FLAC" if rel.endswith(".flac") else "WAV")
    report = prepare_folders([root], tmp_path / "cache", min_files=5, progress=False)
    records = {r["id"]: r for r in load_cache(tmp_path / "cache").records}
    assert {rid.split("/", 1)[1]: r["label"] for rid, r in records.items()} == USUAL
    assert all(r["label_source"] == "name" and r["label_name"] for r in records.values())
    assert records["MyKit/HiHats/Open Hat 3.flac"]["label_name"] == "file name"
    reasons = {Path(p).relative_to(root).as_posix(): why for p, why in report.skipped}
    assert set(reasons) == set(SKIPPED) | set(UNLABELLED)
    for rel, reason in SKIPPED.items():
        assert reasons[rel].startswith(reason)
    assert report.unlabelled == sorted(str(root / rel) for rel in UNLABELLED)


def test_classify_labels_the_unlabelled_as_inferred(tmp_path: Path):
    root = make_kit(tmp_path / "Kit", {"Kicks": ("kick", 6), "Snares": ("snare", 6)})
    for i in range(4):
        write_hit(root / "Unsorted" / f"take {i}.wav", "kick", seed=500 + i)
    report = prepare_folders([root], tmp_path / "cache", min_files=5, progress=False, classify=True,
                             min_confidence=0.0)
    assert report.inferred == 4 and len(report.unlabelled) == 4
    records = load_cache(tmp_path / "cache").records
    inferred = [r for r in records if r["label_source"] == "inferred"]
    assert sorted(r["id"] for r in inferred) == [f"Kit/Unsorted/take {i}.wav" for i in range(4)]
    assert all(r["label"] in CLASSES and 1 / len(CLASSES) <= r["label_confidence"] <= 1 for r in inferred)
    assert all("label_confidence" not in r for r in records if r["label_source"] == "name")
    # A softmax is never fully sure: asking for certainty skips every unlabelled file, with the reason.
    unsure = prepare_folders([root], tmp_path / "cache2", min_files=5, progress=False, classify=True,
                             min_confidence=1.0)
    assert unsure.inferred == 0 and sum("classifier is unsure" in why for _, why in unsure.skipped) == 4


# ----------------------------------------------------------------------------- odd files and folders
def test_latin1_file_names_decode(tmp_path: Path):
    root = make_kit(tmp_path / "Kit", {"Kicks": ("kick", 5)})
    sf.write(tmp_path / "x.wav", synth_hit("snare", seed=7), SR)
    name = os.path.join(os.fsencode(root / "Snares"), b"Caisse clair\xe9e.wav")  # Latin-1 "claireé"
    os.makedirs(os.path.dirname(name))
    with open(name, "wb") as fh:
        fh.write((tmp_path / "x.wav").read_bytes())
    report = prepare_folders([root], tmp_path / "cache", min_files=1, progress=False)
    assert dict(report.counts) == {"kick": 5, "snare": 1} and not report.skipped
    record = next(r for r in load_cache(tmp_path / "cache").records if r["label"] == "snare")
    assert record["id"] == "Kit/Snares/Caisse clair\\xe9e.wav"  # printable
    assert os.fsencode(record["path"]) == name  # and the real name, to find the file again


def test_symlinked_class_folders_are_followed_and_counted(tmp_path: Path):
    library = make_kit(tmp_path / "Library", {"Kicks": ("kick", 4), "Snares": ("snare", 4)})
    kit = tmp_path / "MyKit"
    kit.mkdir()
    (kit / "Kicks").symlink_to(library / "Kicks", target_is_directory=True)
    (kit / "Snares").symlink_to(library / "Snares", target_is_directory=True)
    (kit / "Snares" / "again").symlink_to(kit, target_is_directory=True)  # a loop back up
    (kit / "Twice").symlink_to(library / "Kicks", target_is_directory=True)  # the same folder again
    report = prepare_folders([kit], tmp_path / "cache", min_files=1, progress=False)
    assert dict(report.counts) == {"kick": 4, "snare": 4}
    assert report.links_followed == 2
    assert any("followed 2 symbolic link" in line for line in report.notes())
    assert sum("already read" in why for _, why in report.skipped) == 2


def test_a_fifo_named_wav_is_skipped_not_read(tmp_path: Path):
    kit = make_kit(tmp_path / "Kit", {"Kicks": ("kick", 3)})
    os.mkfifo(kit / "Kicks" / "x.wav")
    (kit / "Kicks" / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    write_hit(kit / "Kicks" / "._hit 0.wav", "kick", seed=1)  # a macOS resource fork
    proc = subprocess.run(EXE + ["prepare", str(kit), "--out", str(tmp_path / "cache"), "--min-files", "1",
                                 "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    reasons = {Path(s["path"]).name: s["reason"] for s in payload["skipped"]}
    assert reasons["x.wav"].startswith("not a regular file")
    assert reasons["gone.wav"] == "broken symbolic link"
    assert reasons["._hit 0.wav"] == "hidden file"
    assert payload["counts"] == {"kick": 3}


# ----------------------------------------------------------------------------- splits, lengths, report
def test_small_kit_default_split_keeps_a_valid_file_per_class_and_no_test(tmp_path: Path):
    kit = make_kit(tmp_path / "Kit", {"Kicks": ("kick", 10), "Snares": ("snare", 10), "Claps": ("clap", 3),
                                      "Toms": ("tom", 2), "HiHats": ("hihat_closed", 9)})
    report = prepare_folders([kit], tmp_path / "cache", progress=False)
    assert report.test_share == 0 and report.valid_share > 0 and sum(report.counts.values()) < SMALL_KIT
    assert sum(report.split_counts["test"].values()) == 0
    for c, n in report.counts.items():
        if n >= MIN_VALID_PER_CLASS:
            assert report.split_counts["valid"][c] >= 1, c
    assert any("small-kit default" in line for line in report.notes())


def test_split_is_by_path_hash_and_adding_a_file_moves_at_most_one_other():
    rng = np.random.default_rng(0)
    labels = [CLASSES[int(i)] for i in rng.integers(0, 4, 80)]
    hashes = rng.random(80).tolist()
    before = assign_splits(labels, hashes, 0.15, 0.1)
    for i, (u, split) in enumerate(zip(hashes, before)):
        expected = "valid" if u < 0.15 else "test" if u < 0.25 else "train"
        assert split == expected or (split == "valid" and expected == "train"), i  # the per-class guarantee
    for extra in range(20):
        after = assign_splits(labels + [labels[extra]], hashes + [float(rng.random())], 0.15, 0.1)
        assert sum(a != b for a, b in zip(before, after)) <= 1
    assert split_hash(Path("Kicks/a.wav")) == split_hash(Path("Kicks/a.wav")) != split_hash(Path("Kicks/b.wav"))


def test_valid_and_test_share_options(tmp_path: Path, capsys):
    kit = make_kit(tmp_path / "Kit", {"Kicks": ("kick", 12), "Snares": ("snare", 12)})
    assert main(["prepare", str(kit), "--out", str(tmp_path / "c"), "--json", "--valid-share", "0.3",
                 "--test-share", "0.3"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["valid_share"], payload["test_share"]) == (0.3, 0.3)
    for r in load_cache(tmp_path / "c").records:
        u = split_hash(Path(r["id"]).relative_to("Kit"))
        assert r["split"] == ("valid" if u < 0.3 else "test" if u < 0.6 else "train")
    for bad in (["--valid-share", "1.5"], ["--test-share", "-0.1"], ["--valid-share", "0.6", "--test-share", "0.5"],
                ["--valid-share", "nan"]):
        assert main(["prepare", str(kit), "--out", str(tmp_path / "d"), *bad]) == 2
        assert "share" in one_line_error(capsys)


def test_long_files_are_cut_at_their_class_cap_with_a_fade_and_counted(tmp_path: Path, capsys):
    kit = make_kit(tmp_path / "Kit", {"Kicks": ("kick", 4)})
    # A crash that rings longer than the cymbal cap (steady noise) and one that ends inside it.
    rng = np.random.default_rng(0)
    (kit / "Cymbals").mkdir()
    sf.write(kit / "Cymbals" / "long crash.wav", 0.5 * rng.uniform(-1, 1, int(8.0 * SR)), SR)
    write_hit(kit / "Cymbals" / "short crash.wav", "cymbal", seed=3, seconds=4.8)
    assert main(["prepare", str(kit), "--out", str(tmp_path / "c"), "--min-files", "1"]) == 0
    text = capsys.readouterr().out
    assert "1 sound(s) longer than their class's cap" in text and "cymbal 6 s" in text
    cache = load_cache(tmp_path / "c")
    lengths = {Path(r["id"]).name: len(cache.wave(i)) for i, r in enumerate(cache.records)}
    assert lengths["long crash.wav"] == round(CLASS_MAX_SECONDS["cymbal"] * SR)
    # The kept tail of the short crash runs past the old 1 s cut.
    assert round(1.0 * SR) < lengths["short crash.wav"] < round(CLASS_MAX_SECONDS["cymbal"] * SR)
    long = cache.wave(next(i for i, r in enumerate(cache.records) if r["id"].endswith("long crash.wav")))
    assert np.abs(long[-32:]).max() < 0.05 * np.abs(long).max()  # faded out at the cut, not clipped off
    assert cache.info["cut"] == 1
    # The table shows every class, with the ones the model will never see at 0.
    assert "hihat_open" in text and "total" in text


def test_class_caps_cover_every_shipped_model_length():
    from drumsynth.models import PRESETS, available_families, build_family_config

    for family in available_families():
        for preset in PRESETS:
            data = build_family_config(family, preset).data
            assert data.length / data.sr <= max(CLASS_MAX_SECONDS.values()), (family, preset)


# ----------------------------------------------------------------------------- a real kit
HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")
CLASS_FOLDERS = {"kick": "Kick Drums", "snare": "Snares", "clap": "Claps", "hihat_closed": "Closed Hats",
                 "hihat_open": "Open Hats", "cymbal": "Cymbals", "tom": "Toms", "perc": "Percs"}


@pytest.mark.corpus
def test_prepare_labels_a_real_kit_laid_out_as_class_folders(tmp_path: Path):
    from drumsynth.data import corpus

    kit_dir = HYDROGEN / "GMRockKit"
    if not (kit_dir / "drumkit.xml").is_file():
        pytest.skip("hydrogen-data is not installed (scripts/install-corpus)")
    cands, _ = corpus._scan_hydrogen(corpus.Source("hydrogen-data", "hydrogen", kit_dir, ""))
    assert len(cands) >= 10
    # Each class folder holds links to the kit's files under neutral names: the folder name must label.
    staging, expected = tmp_path / "staging", {}
    for i, cand in enumerate(cands):
        folder = staging / cand.label
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{i:03d}{Path(cand.path).suffix}"
        (folder / name).symlink_to(cand.path)
        expected[f"MyKit/{CLASS_FOLDERS[cand.label]}/{name}"] = cand.label
    kit = tmp_path / "MyKit"
    kit.mkdir()
    for label in {c.label for c in cands}:
        (kit / CLASS_FOLDERS[label]).symlink_to(staging / label, target_is_directory=True)
    before = tree_digest(kit_dir)
    report = prepare_folders([kit], tmp_path / "cache", min_files=10, progress=False)
    got = {r["id"]: r["label"] for r in load_cache(tmp_path / "cache").records}
    decoded = {p for p, why in report.skipped}
    assert got == {k: v for k, v in expected.items() if str(kit / k.split("/", 1)[1]) not in decoded}
    assert len(got) >= 0.9 * len(expected)
    assert report.links_followed == len({c.label for c in cands})
    assert tree_digest(kit_dir) == before
