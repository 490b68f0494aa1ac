"""Model exports (drumsynth export): TorchScript for nn~, ONNX, .pt2.

Every export is reloaded in a fresh ``python -I`` process that imports only torch or onnxruntime
(``drumsynth.export.reload``) and must decode what the Session decodes. The TorchScript file is also
driven the way nn~'s backend drives it (last sample of every ``in_ratio`` block in, every output frame
held ``out_ratio`` samples) and its methods and attributes are checked against nn~'s conventions.

The matrix over every available family runs on untrained ``tiny`` models (seconds); the shipped models
run in the ``slow`` matrix, whose differences go into BENCHMARKS.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import synth_hit
from drumsynth.cli.main import main
from drumsynth.errors import DrumsynthError
from drumsynth.export import reload
from drumsynth.export.graph import FORMATS, check_inputs, eager_decode, output_paths
from drumsynth.export.model import export_model
from drumsynth.export.verify import verify
from drumsynth.inference.session import Session
from drumsynth.models import available_families, build_family_config, family_module
from drumsynth.train import seed_everything
from drumsynth.train.checkpoint import module_state, new_checkpoint, save_checkpoint, to_cpu

# torch 2.13 deprecates torch.jit.load; nn~ and LibTorch still load exactly that.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")

# float32 graphs against the same float32 ops in another order: measured up to ~3e-6 (BENCHMARKS.md)
TOLERANCE = 1e-4
SUFFIX = {fmt: suffix for fmt, suffix in FORMATS.items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """An untrained release file of every available family's tiny preset (what a fresh run would write)."""
    folder = tmp_path_factory.mktemp("tiny-releases")
    return {family: tiny_release(family, folder) for family in available_families()}


def tiny_release(family: str, folder: Path, *overrides: str) -> Path:
    """An untrained release of ``family``'s tiny preset with ``overrides``, saved in ``folder``."""
    module = family_module(family)
    seed_everything(0)
    recipe = module.build_recipe(build_family_config(family, "tiny", overrides=list(overrides)), None)
    modules = recipe.modules()
    model = {name: module_state(modules[name]) for name in recipe.release_modules()}
    if family == "ndm":
        # Untrained, its mel statistics sit at the log floor and every hit is silence (peak ~1e-8):
        # statistics of loud mels give hits worth comparing (peak ~0.02).
        model["wae"]["mel_mean"].fill_(0.0)
    checkpoint = new_checkpoint("release", family=family, config=to_cpu(recipe.config), step=0, model=model,
                                weights=dict.fromkeys(model, "raw"), extra=to_cpu(recipe.release_extra()),
                                seed=0)
    return save_checkpoint(checkpoint, folder / f"{family}.pt")


def export_and_check(model: str | Path, fmt: str, folder: Path, *options: str) -> tuple[Session, dict, dict]:
    """Export through the CLI, reload in a fresh process; returns the Session, the sidecar and the report."""
    session = Session.load(str(model))
    out = folder / f"{session.family}{SUFFIX[fmt]}"
    assert main(["export", "--model", str(model), "--format", fmt, "--out", str(out), *options]) == 0
    sidecar = json.loads(Path(str(out) + ".json").read_text())
    report = verify(session, fmt, out, scratch=folder)
    facts = report["facts"]
    # the host needed no drumsynth (and ONNX no torch either) ...
    assert facts["imported"]["drumsynth"] is False
    assert facts["imported"]["torch"] is (fmt != "onnx")
    # ... and decodes what the Session decodes
    assert report["reference_peak"] > 1e-3   # not silence: the comparison means something
    assert report["max_abs_diff"] < min(TOLERANCE, 1e-3 * report["reference_peak"]), report["max_abs_diff"]
    assert report["hits"] == len(session.classes) + 3
    # the metadata beside the file is the record inside it, and says what the file is
    assert facts["embedded"] == sidecar
    model_ = session.model
    assert sidecar["family"] == session.family and sidecar["classes"] == list(session.classes)
    assert sidecar["sample_rate"] == model_.sample_rate and sidecar["latent_dim"] == model_.latent_dim
    assert sidecar["inputs"]["z"]["shape"] == ["batch", model_.latent_dim]
    assert sidecar["inputs"]["labels"]["shape"] == ["batch", len(session.classes)]
    assert sidecar["outputs"]["wave"]["shape"] == ["batch", model_.length]
    assert sidecar["checkpoint_sha256"] == sha256(Path(session.checkpoint))
    assert sidecar["drumsynth_version"] and sidecar["export_format"] == fmt and sidecar["file"] == out.name
    return session, sidecar, report


def check_nn_tilde(session: Session, facts: dict, report: dict, host_sr: int | None = None) -> None:
    """The TorchScript file against nn~'s conventions, as the fresh process saw it."""
    d, n_classes = session.model.latent_dim, len(session.classes)
    has_encoder = "encode" in session.export_graphs()
    methods = facts["methods"]
    assert list(methods) == (["decode", "encode", "forward"] if has_encoder else ["decode"])
    ratio = methods["decode"]["params"][1]
    expected = {"decode": [1 + d + n_classes, ratio, 1, 1], "encode": [1, 1, 1 + d + n_classes, ratio],
                "forward": [1, 1, 1, 1]}
    for name, entry in methods.items():
        in_ch, in_ratio, out_ch, out_ratio = entry["params"]
        assert entry["params"] == expected[name]
        assert len(entry["input_labels"]) == in_ch and len(entry["output_labels"]) == out_ch
        assert all(label.startswith("(signal)") for label in entry["input_labels"] + entry["output_labels"])
        # nn_tilde's registration test: 8192 samples of zeros, single and mc (4-row) batches
        assert entry["registration"] == [{"batch": b, "shape": [b, out_ch, 8192 // out_ratio], "dtype": "torch.float32"}
                                         for b in (1, 4)]
    assert facts["attributes"] == {"onset_db": {"types": [2], "value": -40.0, "set_same": 0},
                                   "choke": {"types": [0], "value": False, "set_same": 0}}
    model_sr = session.model.sample_rate
    assert facts["sr"] == facts["sampling_rate"] == (host_sr or model_sr) and facts["model_sr"] == model_sr
    assert facts["length"] == round(session.model.length * (host_sr or model_sr) / model_sr)
    assert facts["latent_size"] == d
    # a trigger through nn~'s calling convention plays exactly the Session's hit, then silence
    assert report["stream_max_abs_diff"] < TOLERANCE
    assert facts["stream_silent_before"] == 0.0 and facts["stream_silent_after"] == 0.0


# ---- every family, untrained tiny models ---------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("family", available_families())
def test_tiny_export_reloads_in_a_fresh_process_and_matches(family, fmt, tiny_models, tmp_path):
    session, sidecar, report = export_and_check(tiny_models[family], fmt, tmp_path)
    if fmt == "torchscript":
        check_nn_tilde(session, report["facts"], report)
        assert sidecar["nn_tilde"]["methods"]["decode"]["params"][1] == 256
    if fmt == "onnx":
        inputs, outputs = report["facts"]["inputs"], report["facts"]["outputs"]
        assert list(inputs) == ["z", "labels"] and list(outputs) == ["wave"]
        assert inputs["z"]["shape"][1] == session.model.latent_dim and isinstance(inputs["z"]["shape"][0], str)
        assert outputs["wave"]["shape"][1] == session.model.length


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("family", ["wavegan", "style"])
def test_a_filtered_upsampling_exports_in_every_format(family, fmt, tmp_path):
    """The Kaiser up-sampler's taps are a constant of the graph (ONNX has no Kaiser window)."""
    release = tiny_release(family, tmp_path, "model.upsampling=kaiser")
    session, _, _ = export_and_check(release, fmt, tmp_path)      # the fresh process plays the Session's hits
    assert session.model.config.model.upsampling == "kaiser"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_wavegan_with_the_decay_envelope_exports_in_every_format(fmt, tmp_path):
    release = tiny_release("wavegan", tmp_path, "model.envelope_length=4096")
    session, _, _ = export_and_check(release, fmt, tmp_path)
    assert session.model.generator.envelope is not None


# ---- nn~ behaviour: triggers, choke, encode -> decode ----------------------------------------------


@pytest.fixture(scope="module")
def ndm_ts(tiny_models, tmp_path_factory) -> tuple[Session, Path]:
    session = Session.load(str(tiny_models["ndm"]))
    out = tmp_path_factory.mktemp("ts") / "ndm.ts"
    export_model(session, "torchscript", out, ratio=64)
    return session, out


def play(module, method: str, signals: torch.Tensor, buffer: int = 1024) -> torch.Tensor:
    """Audio-rate inlets Tensor[B, in, N] through nn~ buffers -> outlets Tensor[B, out, N]."""
    with torch.no_grad():
        return torch.cat([reload.nn_tilde_call(module, method, signals[..., i:i + buffer])
                          for i in range(0, signals.shape[-1], buffer)], dim=-1)


def decode_signals(z: torch.Tensor, labels: torch.Tensor, rises: list[int], n: int) -> torch.Tensor:
    """One row of decode inlets: a trigger rising at each sample of ``rises``, constant z and labels."""
    signals = torch.zeros(1, 1 + len(z) + len(labels), n)
    for k, at in enumerate(rises):
        end = rises[k + 1] - 1 if k + 1 < len(rises) else n  # falls before the next rise
        signals[0, 0, at:end] = 1.0
    signals[0, 1:1 + len(z)] = z[:, None]
    signals[0, 1 + len(z):] = labels[:, None]
    return signals


def test_overlapping_hits_add_and_choke_cuts(ndm_ts):
    session, path = ndm_ts
    z, labels = check_inputs(session)
    hit = eager_decode(session, z[:1], labels[:1])[0]
    length, ratio = len(hit), 64
    first, second = 2 * ratio, 2 * ratio + 40 * ratio    # the second starts while the first still rings
    n = 4 * 1024 * (1 + (second + length) // 4096)
    signals = decode_signals(z[0], labels[0], [first, second], n)
    module = torch.jit.load(str(path))
    both = play(module, "decode", signals)[0, 0]
    expected = torch.zeros(n)
    expected[first:first + length] += hit
    expected[second:second + length] += hit
    assert torch.max(torch.abs(both - expected)) < TOLERANCE
    module = torch.jit.load(str(path))
    assert module.set_choke(True) == 0 and module.get_choke() is True
    choked = play(module, "decode", signals)[0, 0]
    expected = torch.zeros(n)
    expected[first:second] = hit[:second - first]
    expected[second:second + length] = hit
    assert torch.max(torch.abs(choked - expected)) < TOLERANCE
    assert module.set_onset_db(5.0) == -1 and module.get_onset_db() == -40.0  # refused, unchanged


def check_encode(session: Session, path: Path, ratio: int) -> None:
    """encode captures every hit from its onset and holds its code; forward replays it through decode."""
    length = session.model.length
    kick = torch.from_numpy(synth_hit("kick", sr=session.model.sample_rate, seconds=0.5))
    kick = kick[torch.nonzero(kick.abs() > 10 ** (-40 / 20))[0, 0]:]    # it starts on its onset
    clip = torch.zeros(length)
    clip[:min(length, len(kick))] = kick[:length]
    onsets = [5 * ratio + 7, 5 * ratio + 7 + length + 9 * ratio]     # mid-frame, after a quiet stretch
    n = 1024 * (3 + (onsets[1] + length) // 1024)
    audio = torch.zeros(1, 1, n)
    for at in onsets:
        audio[0, 0, at:at + length] = clip
    code = play(torch.jit.load(str(path)), "encode", audio)[0, :, ::ratio]   # one value per frame
    pulses = torch.nonzero(code[0]).flatten().tolist()
    # one one-frame pulse per hit, in the frame where its last sample arrived
    assert pulses == [(at + length - 1) // ratio for at in onsets]
    with torch.no_grad():
        if callable(getattr(session.model, "analyze", None)):
            z, weights = session.model.analyze(clip[None])
        else:  # ndm encodes with the uniform class mix, and says so
            z, weights = session.model.encode(clip[None]), torch.full((1, len(session.classes)), 1 / len(session.classes))
    d = session.model.latent_dim
    for frame in pulses:
        assert torch.max(torch.abs(code[1:1 + d, frame] - z[0])) < TOLERANCE
        assert torch.max(torch.abs(code[1 + d:, frame] - weights[0])) < TOLERANCE
    assert torch.equal(code[1:, pulses[0]], code[1:, pulses[1] - 1])   # held between captures
    # forward = decode(encode(x)): the replayed hits, each starting on its pulse frame
    replay = play(torch.jit.load(str(path)), "forward", audio)[0, 0]
    again = play(torch.jit.load(str(path)), "decode", play(torch.jit.load(str(path)), "encode", audio))[0, 0]
    assert torch.equal(replay, again)
    hit = eager_decode(session, code[1:1 + d, pulses[0]][None], code[1 + d:, pulses[0]][None])[0]
    start = pulses[0] * ratio
    assert hit.abs().max() > 1e-3 and torch.max(torch.abs(replay[start:start + length] - hit)) < TOLERANCE
    assert torch.all(replay[:start] == 0)


def test_encode_captures_each_hit_and_decode_replays_it(ndm_ts):
    check_encode(*ndm_ts, ratio=64)


def test_torchscript_for_another_host_rate_resamples_the_hits(tiny_models, tmp_path):
    """ndm runs at 22.05 kHz; exported for a 44.1 kHz host its hits are the Session's, band-limited
    resampled (checked against scipy.signal.resample), and the LibTorch methods stay at the model rate."""
    session, sidecar, report = export_and_check(tiny_models["ndm"], "torchscript", tmp_path, "--sr", "44100")
    check_nn_tilde(session, report["facts"], report, host_sr=44100)
    assert sidecar["nn_tilde"]["sr"] == 44100 and sidecar["sample_rate"] == session.model.sample_rate
    assert report["stream_max_abs_diff"] < min(TOLERANCE, 1e-3 * report["reference_peak"])
    assert main(["export", "--model", str(tiny_models["ndm"]), "--format", "torchscript", "--out",
                 str(tmp_path / "bad.ts"), "--sr", "1000"]) == 2
    assert not (tmp_path / "bad.ts").exists()


def test_untrained_drumgan_exports_without_encode(tiny_models):
    session = Session.load(str(tiny_models["drumgan"]))
    assert list(session.export_graphs()) == ["decode"]    # the encoder of a GAN-only run is not offered


# ---- files, names and refusals ----------------------------------------------------------------------


def test_suffix_must_match_the_format():
    assert output_paths("m.ts", "torchscript") == (Path("m.ts"), Path("m.ts.json"))
    for fmt, name in (("onnx", "m.ts"), ("pt2", "m.onnx"), ("torchscript", "m")):
        with pytest.raises(DrumsynthError, match=r"must be named \*\."):
            output_paths(name, fmt)
    with pytest.raises(DrumsynthError, match="not one of"):
        output_paths("m.tflite", "tflite")


def test_existing_files_are_kept_unless_overwrite(tiny_models, tmp_path, capsys):
    out = tmp_path / "kept.pt2"
    out.write_bytes(b"not drumsynth's")
    args = ["export", "--model", str(tiny_models["drumgan"]), "--format", "pt2", "--out", str(out)]
    assert main(args) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"not drumsynth's" and not Path(str(out) + ".json").exists()
    # the sidecar's name counts too
    fresh = tmp_path / "fresh.pt2"
    Path(str(fresh) + ".json").write_text("{}")
    assert main([*args[:-1], str(fresh)]) == 2 and not fresh.exists()
    assert main([*args, "--overwrite", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["file"] == str(out) and out.read_bytes()[:2] == b"PK"   # a zip archive now
    (tmp_path / "folder.onnx").mkdir()
    assert main([*args[:-3], "onnx", "--out", str(tmp_path / "folder.onnx")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_ratio_is_checked(tiny_models, tmp_path, capsys):
    base = ["export", "--model", str(tiny_models["ndm"]), "--out"]
    with pytest.raises(SystemExit):
        main([*base, str(tmp_path / "m.ts"), "--format", "torchscript", "--ratio", "100"])
    assert "power of two" in capsys.readouterr().err
    assert main([*base, str(tmp_path / "m.onnx"), "--format", "onnx", "--ratio", "64"]) == 2
    assert "torchscript exports only" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_a_family_without_graphs_is_refused_and_griffin_lim_is_not_exported(tiny_models):
    bare = Session(SimpleNamespace(family="wavegan", classes=("kick",)), checkpoint=Path("x.pt"),
                   checkpoint_sha256="0")
    with pytest.raises(DrumsynthError, match="cannot be exported"):
        bare.export_graphs()
    session = Session.load(str(tiny_models["ndm"]))
    session.set_option("inverter", "griffin_lim")
    with pytest.raises(DrumsynthError, match="only the MCNN inverter"):
        session.export_graphs()


def test_decode_graphs_take_any_batch(tiny_models):
    """The graphs every format is made from agree with the Session row by row, for a batch of 1 too, with
    the inverse STFT by FFT (TorchScript, .pt2) and by real matrix products (ONNX)."""
    for (family, path), portable in itertools.product(tiny_models.items(), (False, True)):
        session = Session.load(str(path))
        z, labels = check_inputs(session)
        decode = session.export_graphs(portable=portable)["decode"]
        with torch.no_grad():
            whole = decode(z, labels)
            single = decode(z[:1], labels[:1])
        reference = eager_decode(session, z, labels)
        assert torch.max(torch.abs(whole - reference)) < TOLERANCE, (family, portable)
        assert torch.max(torch.abs(single[0] - reference[0])) < TOLERANCE, (family, portable)
        assert np.all(np.abs(whole.numpy()) <= 1.0)


# ---- the shipped models (BENCHMARKS.md) -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("family", ["ndm", "drumgan"])
def test_shipped_model_exports_match(family, fmt, tmp_path):
    session, _, report = export_and_check(family, fmt, tmp_path)
    if fmt == "torchscript":
        check_nn_tilde(session, report["facts"], report)


@pytest.mark.slow
def test_shipped_drumgan_encode_sets_the_sliders_from_the_hit(tmp_path):
    session = Session.load("drumgan")
    out = tmp_path / "drumgan.ts"
    export_model(session, "torchscript", out)
    check_encode(session, out, ratio=256)
