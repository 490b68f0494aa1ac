"""``drumsynth kit``: the SFZ instrument parses and tiles, the Hydrogen kit reads back, round-robin samples
are small measured variations, velocity layers darken towards the soft end, and the folder rules hold."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumsynth.audio.io import read_wav_tags
from drumsynth.cli.main import main
from drumsynth.data.hydrogen import read_drumkit
from drumsynth.errors import DrumsynthError
from drumsynth.export.kit import KitOptions, pairwise_lsd, render_kit, spectral_centroid
from drumsynth.export.kit_folder import MANIFEST, KitFolder
from drumsynth.export.kit_layout import velocity_ranges
from drumsynth.inference.session import Session

# The default kit's notes for an 8-class model: kick, snare, clap, hats, crash, four toms, two percs.
DEFAULT_NOTES = {36, 38, 39, 42, 46, 49, 45, 47, 48, 50, 56, 75}
# Stated bound (docs/kits.md): at the default amount 0.1 the round-robin samples of an instrument lie on
# average within 6 dB LSD of each other, and at most half as far apart as independent hits of a class.
RR_MEAN_LSD_BOUND_DB = 6.0
LAYERS, RR = 2, 3


# ---- a small SFZ parser: headers <...>, opcodes name=value, // comments, inheritance ---------------

_TOKEN = re.compile(r"<(\w+)>|(\w+)=")
HEADERS = ("control", "global", "group", "region")


def parse_sfz(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The <control> opcodes, and every region with what it inherits (<global> < <group> < <region>).

    An opcode's value runs to the next opcode or header on its line (sample paths may hold spaces).
    Unknown headers, text that is neither, empty values and opcodes before any header are errors.
    """
    control: dict[str, str] = {}
    glob: dict[str, str] = {}
    group: dict[str, str] = {}
    regions: list[tuple[dict[str, str], dict[str, str], dict[str, str]]] = []
    scope: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("//", 1)[0]
        tokens = list(_TOKEN.finditer(line))
        lead = line[:tokens[0].start()] if tokens else line
        assert not lead.strip(), f"line {number}: text outside headers and opcodes: {raw!r}"
        for i, token in enumerate(tokens):
            end = tokens[i + 1].start() if i + 1 < len(tokens) else len(line)
            header, opcode = token.group(1), token.group(2)
            if header is not None:
                assert header in HEADERS, f"line {number}: unknown header <{header}>"
                assert not line[token.end():end].strip(), f"line {number}: junk after <{header}>"
                if header == "control":
                    scope = control
                elif header == "global":
                    glob, group = {}, {}
                    scope = glob
                elif header == "group":
                    group = {}
                    scope = group
                else:
                    scope = {}
                    regions.append((glob, group, scope))
            else:
                assert scope is not None, f"line {number}: opcode {opcode} before any header"
                value = line[token.end():end].strip()
                assert value, f"line {number}: {opcode} has no value"
                scope[opcode] = value
    return control, [{**g, **grp, **r} for g, grp, r in regions]


def test_sfz_parser_reads_headers_opcodes_and_inheritance():
    text = ("// c\n<control>\n<global> loop_mode=one_shot\n<group> key=36 lovel=1 hivel=64\n"
            "<region> sample=a b.wav seq_position=1\n<region>\nsample=c.wav\n<group>key=38\n<region>sample=d.wav\n")
    control, regions = parse_sfz(text)
    assert control == {}
    assert regions == [
        {"loop_mode": "one_shot", "key": "36", "lovel": "1", "hivel": "64", "sample": "a b.wav", "seq_position": "1"},
        {"loop_mode": "one_shot", "key": "36", "lovel": "1", "hivel": "64", "sample": "c.wav"},
        {"loop_mode": "one_shot", "key": "38", "sample": "d.wav"}]
    for bad in ("<regoin> sample=a.wav", "key=36", "<group> key=", "<group> oops key=36"):
        with pytest.raises(AssertionError):
            parse_sfz(bad)


# ---- one default-layout ndm kit, shared by the checks below -----------------------------------------

@pytest.fixture(scope="module")
def ndm() -> Session:
    return Session.load("ndm")


@pytest.fixture(scope="module")
def kit(ndm, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kit") / "ndm-kit"
    render_kit(ndm, folder, KitOptions(seed=7, velocity_layers=LAYERS, round_robin=RR, pack=2))
    return folder


def _regions(kit: Path) -> list[dict[str, str]]:
    return parse_sfz((kit / "kit.sfz").read_text())[1]


def test_sfz_regions_cover_the_gm_notes_and_every_sample_exists(kit):
    regions = _regions(kit)
    assert {int(r["key"]) for r in regions} == DEFAULT_NOTES
    assert len(regions) == len(DEFAULT_NOTES) * LAYERS * RR
    for region in regions:
        assert (kit / region["sample"]).is_file(), region["sample"]
        assert region["loop_mode"] == "one_shot"
    assert len({r["sample"] for r in regions}) == len(regions)


def test_sfz_velocity_ranges_tile_1_to_127_per_note(kit):
    ranges = defaultdict(set)
    for region in _regions(kit):
        ranges[int(region["key"])].add((int(region["lovel"]), int(region["hivel"])))
    for note, spans in ranges.items():
        covered = [v for lo, hi in sorted(spans) for v in range(lo, hi + 1)]
        assert covered == list(range(1, 128)), f"note {note}: {sorted(spans)}"
        assert len(spans) == LAYERS


def test_sfz_round_robin_sets_are_complete(kit):
    sets = defaultdict(list)
    for region in _regions(kit):
        sets[(region["key"], region["lovel"])].append(region)
    for (key, lovel), members in sets.items():
        assert {r["seq_length"] for r in members} == {str(RR)}, (key, lovel)
        assert sorted(int(r["seq_position"]) for r in members) == list(range(1, RR + 1)), (key, lovel)


def test_closed_hats_choke_the_open_hat(kit):
    regions = _regions(kit)
    open_hat = {r.get("off_by") for r in regions if r["key"] == "46"}
    closed = {r.get("group") for r in regions if r["key"] == "42"}
    assert len(open_hat) == 1 and open_hat == closed and None not in closed
    assert all("off_by" not in r for r in regions if r["key"] not in ("46",))


def _rr_sets(kit: Path) -> dict[tuple[int, int], list[np.ndarray]]:
    sets = defaultdict(list)
    for region in _regions(kit):
        sets[(int(region["key"]), int(region["lovel"]))].append(sf.read(kit / region["sample"], dtype="float32")[0])
    return sets


def test_round_robin_samples_differ_by_a_small_measured_lsd(kit, ndm):
    per_set = {key: pairwise_lsd(waves) for key, waves in _rr_sets(kit).items()}
    values = [x for pairs in per_set.values() for x in pairs]
    assert all(x > 0.05 for x in values), "round-robin samples must not be copies"
    mean = float(np.mean(values))
    assert 0.1 < mean < RR_MEAN_LSD_BOUND_DB, mean
    # The manifest reports what the files hold (computed before 24-bit quantisation: close, not equal).
    report = json.loads((kit / MANIFEST).read_text())["round_robin_lsd_db"]
    assert report["pairs"] == len(values) and report["mean"] == pytest.approx(mean, abs=0.05)
    # Independent hits of the same classes lie much further apart.
    independent = []
    for cls in ("kick", "snare", "hihat_closed", "tom"):
        render = ndm.generate(cls, n=4, seed=11)
        independent += pairwise_lsd([render.finished(k) for k in range(4)])
    assert mean < 0.5 * float(np.mean(independent)), (mean, float(np.mean(independent)))


def test_velocity_layers_get_brighter_and_toms_rise_in_pitch(kit):
    sets = {key: [spectral_centroid(w, 44100) for w in waves] for key, waves in _rr_sets(kit).items()}
    for note in DEFAULT_NOTES:
        layers = [sets[key] for key in sorted(k for k in sets if k[0] == note)]
        for soft, loud in zip(layers, layers[1:]):
            assert max(soft) <= min(loud) + 1e-3, (note, soft, loud)
    toms = [np.mean([c for key, cs in sets.items() if key[0] == note for c in cs]) for note in (45, 47, 48, 50)]
    assert toms == sorted(toms)


def test_samples_are_tagged_24_bit_with_sidecars(kit):
    regions = _regions(kit)
    for region in regions[:: RR * LAYERS]:
        path = kit / region["sample"]
        info = sf.info(path)
        assert (info.subtype, info.samplerate, info.channels) == ("PCM_24", 44100, 1)
        tags = read_wav_tags(path)
        assert tags["software"].startswith("drumsynth") and "ndm" in tags["comment"]
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["kit"]["note"] == int(region["key"])
        assert sidecar["kit"]["velocity"] == [int(region["lovel"]), int(region["hivel"])]
        assert sidecar["class"] == region["sample"][4:].rsplit("_v", 1)[0] and sidecar["family"] == "ndm"
        assert len(sidecar["latent"]) == 64 and sidecar["verb"] == "variations"


def test_hydrogen_kit_reads_back_with_drumsynths_reader(kit):
    drumkit = read_drumkit(kit)
    regions = _regions(kit)
    assert {ins.midi_note for ins in drumkit.instruments} == DEFAULT_NOTES
    for ins in drumkit.instruments:
        assert len(ins.layers) == LAYERS * RR
        assert all(layer.path.is_file() for layer in ins.layers)
        sfz_files = {r["sample"] for r in regions if int(r["key"]) == ins.midi_note}
        assert {layer.filename for layer in ins.layers} == sfz_files
        # Every MIDI velocity lands in the Hydrogen layers whose SFZ region covers it, and only those.
        for velocity in range(1, 128):
            hydrogen = {lay.filename for lay in ins.layers if lay.vel_min <= velocity / 127 <= lay.vel_max}
            sfz = {r["sample"] for r in regions if int(r["key"]) == ins.midi_note
                   and int(r["lovel"]) <= velocity <= int(r["hivel"])}
            assert hydrogen == sfz, (ins.name, velocity)
    text = (kit / "drumkit.xml").read_text()
    assert text.count("<sampleSelectionAlgo>ROUND_ROBIN</sampleSelectionAlgo>") == len(DEFAULT_NOTES)


def test_sample_pack_has_a_folder_per_class(kit, ndm):
    for cls in ndm.classes:
        files = sorted((kit / "pack" / cls).glob("*.wav"))
        assert [f.name for f in files] == [f"ndm_{cls}_000.wav", f"ndm_{cls}_001.wav"]
        assert all(f.with_suffix(".json").is_file() for f in files)
    manifest = json.loads((kit / MANIFEST).read_text())
    assert manifest["complete"] is True
    on_disk = {str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file()} - {MANIFEST}
    assert set(manifest["files"]) == on_disk


# ---- small kits: determinism, other models, folder rules, the CLI ------------------------------------

TINY = KitOptions(seed=3, classes=("kick",), velocity_layers=1, round_robin=2)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_samples(ndm, tmp_path):
    render_kit(ndm, tmp_path / "a", TINY)
    render_kit(ndm, tmp_path / "b", TINY)
    a, b = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    wavs = [name for name in a if name.endswith(".wav")]
    assert len(wavs) == 2 and all(a[name] == b[name] for name in wavs)
    render_kit(ndm, tmp_path / "c", KitOptions(seed=4, classes=("kick",), velocity_layers=1, round_robin=2))
    assert _snapshot(tmp_path / "c")[wavs[0]] != a[wavs[0]]


def test_drumgan_kit_maps_its_three_classes_to_kick_snare_cymbal(tmp_path):
    drumgan = Session.load("drumgan")
    report = render_kit(drumgan, tmp_path / "k", KitOptions(velocity_layers=1, round_robin=2))
    assert [(ins.note, ins.cls) for ins in report.layout.instruments] == [(36, "kick"), (38, "snare"),
                                                                        (49, "cymbal")]
    assert {int(r["key"]) for r in _regions(tmp_path / "k")} == {36, 38, 49}


def test_foreign_folder_is_refused_and_left_alone(ndm, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own file")
    with pytest.raises(DrumsynthError, match="not empty"):
        render_kit(ndm, folder, TINY)
    assert _snapshot(folder) == {"notes.txt": b"my own file"}
    # --overwrite renders there and leaves the unrelated file as it was.
    render_kit(ndm, folder, TINY, overwrite=True)
    assert (folder / "notes.txt").read_bytes() == b"my own file"
    assert (folder / "kit.sfz").is_file()


def test_own_kit_is_rerendered_stale_samples_go_foreign_names_refused(ndm, tmp_path):
    folder = tmp_path / "kit"
    render_kit(ndm, folder, KitOptions(seed=3, classes=("kick",), velocity_layers=2, round_robin=2))
    (folder / "readme.txt").write_text("kept")
    assert (folder / "036_kick_v2_rr2.wav").is_file()
    render_kit(ndm, folder, TINY)  # its own kit: no --overwrite needed
    assert not (folder / "036_kick_v2_rr2.wav").exists() and not (folder / "036_kick_v2_rr2.json").exists()
    assert (folder / "036_kick_v1_rr2.wav").is_file() and (folder / "readme.txt").read_text() == "kept"
    # A file the manifest does not list, where the kit wants to write, is refused.
    (folder / "038_snare_v1_rr1.wav").write_bytes(b"not ours")
    before = _snapshot(folder)
    with pytest.raises(DrumsynthError, match="038_snare_v1_rr1.wav"):
        render_kit(ndm, folder, KitOptions(seed=3, classes=("snare",), velocity_layers=1, round_robin=2))
    assert _snapshot(folder) == before


def test_a_manifest_reaching_outside_is_not_trusted(tmp_path):
    folder = tmp_path / "kit"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"format": "drumsynth-kit", "files": ["../victim.txt"]}))
    with pytest.raises(DrumsynthError, match="not empty"):
        KitFolder(folder)


@pytest.mark.parametrize("options, message", [
    (KitOptions(velocity_layers=4, round_robin=5), "at most 16"),
    (KitOptions(velocity_layers=0), "velocity layers"),
    (KitOptions(round_robin=0), "round robin"),
    (KitOptions(amount=1.5), "amount"),
    (KitOptions(amount=float("nan")), "amount"),
    (KitOptions(pack=-1), "pack"),
    (KitOptions(per_class=0), "instruments per class"),
    (KitOptions(classes=("whistle",)), "whistle"),
    (KitOptions(name="a\nb"), "kit name"),
])
def test_bad_options_are_refused_before_anything_is_written(ndm, tmp_path, options, message):
    with pytest.raises(DrumsynthError, match=message):
        render_kit(ndm, tmp_path / "k", options)
    assert not (tmp_path / "k").exists() or not any((tmp_path / "k").iterdir())


def test_velocity_ranges_tile_for_every_layer_count():
    for layers in range(1, 128):
        ranges = velocity_ranges(layers)
        assert [v for lo, hi in ranges for v in range(lo, hi + 1)] == list(range(1, 128))
    with pytest.raises(DrumsynthError):
        velocity_ranges(128)


def test_cli_kit_json_and_one_line_errors(tmp_path, capsys):
    out = tmp_path / "cli-kit"
    assert main(["kit", "--model", "ndm", "--out", str(out), "--classes", "snare", "--velocity-layers", "1",
                 "--round-robin", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [i["note"] for i in payload["instruments"]] == [38]
    assert payload["round_robin_lsd_db"]["pairs"] == 1 and payload["round_robin_lsd_db"]["mean"] > 0
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.wav").write_bytes(b"x")
    for argv in (["--out", str(tmp_path / "full")],
                 ["--out", str(tmp_path / "v"), "--velocity-layers", "8", "--round-robin", "3"],
                 ["--out", str(tmp_path / "a"), "--amount", "3"]):
        assert main(["kit", "--model", "ndm", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("drumsynth kit: error:") and err.count("\n") == 1
    assert not (tmp_path / "v").exists() and not (tmp_path / "a").exists()


# ---- the Session methods the kit stands on -----------------------------------------------------------

def test_variations_decode_what_new_direction_and_vary_decode(ndm):
    ndm.set_sliders("snare")
    ndm.new_center(5)
    batch = list(ndm.variations([1, 2, 3], [0.0, 0.8, 1.7], batch_size=2))
    assert [r.first for r in batch] == [0, 2]
    latents = np.concatenate([r.latents.numpy() for r in batch])
    waves = np.concatenate([r.waves for r in batch])
    for k, (seed, intensity) in enumerate(zip([1, 2, 3], [0.0, 0.8, 1.7])):
        ndm.new_direction(seed)
        one = ndm.vary(intensity)
        assert np.array_equal(one.latents[0].numpy(), latents[k])
        np.testing.assert_allclose(one.waves[0], waves[k], atol=1e-4)
    with pytest.raises(DrumsynthError, match="intensities"):
        ndm.variations([1, 2], [0.1])
    with pytest.raises(DrumsynthError, match="direction seed"):
        ndm.variations([-1], [0.1])


def test_latent_spread_is_deterministic_and_positive(ndm):
    spread = ndm.latent_spread("kick")
    assert spread == ndm.latent_spread("kick") and 1.0 < spread < 100.0
    with pytest.raises(DrumsynthError):
        ndm.latent_spread("kick", n=1)
