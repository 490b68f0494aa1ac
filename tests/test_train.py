"""The generic training framework: exact resume, plain checkpoints, keep-best, previews, logs, DDP."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import soundfile as sf
import torch
from torch import nn

from drumsynth.errors import DrumsynthError
from drumsynth.train import EMA, Trainer, load_checkpoint, read_log, save_checkpoint, seed_everything, unwrap
from drumsynth.train.checkpoint import capture_rng, module_state, new_checkpoint, restore_rng
from drumsynth.train.logging import MetricLog
from train_toy import ToyConfig, ToyRecipe, build_generator, sine_batches

HERE = Path(__file__).parent
N_STEPS, KILL_AT = 7, 3


def make_trainer(out: Path, max_steps: int = 2, recipe_cls: type[ToyRecipe] = ToyRecipe, data=None,
                 **options) -> Trainer:
    seed_everything(0)  # the same initial weights for every run
    recipe = recipe_cls()
    settings = dict(max_steps=max_steps, log_every=2, checkpoint_every=4, ema_decay=0.9, seed=3,
                    threads=1, progress=False)
    settings.update(options)
    return Trainer(recipe, data or sine_batches(recipe.cfg), out, **settings)


def assert_same(a, b, where="state"):
    """Recursive equality; tensors must be bit-identical."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def training_state(trainer: Trainer) -> dict:
    return {"model": {n: m.state_dict() for n, m in trainer.modules.items()},
            "ema": {n: e.state_dict() for n, e in trainer.emas.items()},
            "optim": {n: o.state_dict() for n, o in trainer.optimizers.items()},
            "sched": {n: s.state_dict() for n, s in trainer.schedulers.items()}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Trainer, Path]:
    """An uninterrupted N_STEPS run."""
    out = tmp_path_factory.mktemp("reference")
    trainer = make_trainer(out, N_STEPS)
    assert trainer.fit().step == N_STEPS
    return trainer, out


def assert_resumed_run_matches(reference_run: tuple[Trainer, Path], resumed: Trainer, out: Path) -> None:
    ref, ref_out = reference_run
    assert_same(training_state(resumed), training_state(ref))
    a, b = torch.load(ref_out / "resume.pt"), torch.load(out / "resume.pt")
    for key in ("model", "ema", "optim", "sched", "rng", "recipe", "step", "config"):
        assert_same(a[key], b[key], key)
    # Non-trivial: training really moved the weights away from the common initialisation.
    seed_everything(0)
    assert not torch.equal(ToyRecipe().G.net[0].weight, resumed.recipe.G.net[0].weight)


# ---- (1) exact resume ----------------------------------------------------------------------------


def test_killed_then_resumed_run_is_bit_identical(reference, tmp_path):
    first = make_trainer(tmp_path, KILL_AT)
    assert first.fit().step == KILL_AT
    assert load_checkpoint(tmp_path / "resume.pt")["step"] == KILL_AT

    resumed = make_trainer(tmp_path, N_STEPS)
    result = resumed.fit()
    assert result.step == N_STEPS and not result.interrupted
    assert len(resumed.recipe.seen) == N_STEPS - KILL_AT  # it continued, it did not start over
    assert_resumed_run_matches(reference, resumed, tmp_path)
    # The log continues where the checkpoint was: no step twice, none missing.
    assert [r["step"] for r in read_log(tmp_path / "log.jsonl")] == [2, 3, 4, 6, 7]


def test_sigint_saves_a_resume_checkpoint_and_resume_is_exact(reference, tmp_path):
    class Interrupted(ToyRecipe):
        def train_step(self, batch, step, generator):
            metrics = super().train_step(batch, step, generator)
            if step == 1:
                os.kill(os.getpid(), signal.SIGINT)  # arrives mid-run, like Ctrl-C
            return metrics

    handler_before = signal.getsignal(signal.SIGINT)
    result = make_trainer(tmp_path, N_STEPS, Interrupted).fit()
    assert result.interrupted and result.signal == "SIGINT" and result.exit_code == 130
    assert result.step == 2 == load_checkpoint(tmp_path / "resume.pt", kind="resume")["step"]
    assert signal.getsignal(signal.SIGINT) is handler_before  # the caller's handler is back

    resumed = make_trainer(tmp_path, N_STEPS)
    assert resumed.fit().step == N_STEPS
    assert_resumed_run_matches(reference, resumed, tmp_path)


class EpochShuffled:
    """Epoch-wise permutation of a fixed set: state beyond the generator, exposed for checkpoints."""

    def __init__(self, generator: torch.Generator) -> None:
        cfg = ToyConfig()
        self.generator, self.batch_size = generator, cfg.batch_size
        t = torch.arange(cfg.length) / cfg.sample_rate
        self.data = torch.sin(6.283 * torch.linspace(100, 2000, 20)[:, None] * t).unsqueeze(1)
        self.perm, self.pos = torch.zeros(0, dtype=torch.long), 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self.pos + self.batch_size > len(self.perm):  # a new epoch (drops the ragged tail)
            self.perm, self.pos = torch.randperm(len(self.data), generator=self.generator), 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return {"wave": self.data[idx]}

    def state_dict(self) -> dict:
        return {"perm": self.perm, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.perm, self.pos = state["perm"], state["pos"]


def test_stateful_data_iterator_resumes_exactly_mid_epoch(tmp_path):
    full = make_trainer(tmp_path / "full", N_STEPS, data=EpochShuffled)
    full.fit()
    make_trainer(tmp_path / "part", KILL_AT, data=EpochShuffled).fit()  # stops mid-epoch
    assert load_checkpoint(tmp_path / "part" / "resume.pt")["rng"]["data_iter"]["pos"] == 8
    resumed = make_trainer(tmp_path / "part", N_STEPS, data=EpochShuffled)
    resumed.fit()
    assert_same(training_state(resumed), training_state(full))
    assert_same(resumed.recipe.seen, full.recipe.seen[KILL_AT:])


def test_previews_and_validation_do_not_change_training(reference, tmp_path):
    class Validated(ToyRecipe):
        def validate(self, modules, batches):
            torch.rand(3)  # global RNG use inside validation must not leak into training
            return {"valid/x": 1.0}

    trainer = make_trainer(tmp_path, N_STEPS, Validated, preview_every=1, valid_every=2, preview_n=1)
    trainer.fit()
    assert_same(training_state(trainer), training_state(reference[0]))


def test_different_seed_gives_a_different_run(reference, tmp_path):
    trainer = make_trainer(tmp_path, N_STEPS, seed=4)
    trainer.fit()
    assert not torch.equal(trainer.recipe.G.net[0].weight, reference[0].recipe.G.net[0].weight)


def test_resume_refuses_another_config_or_family(reference, tmp_path):
    trainer = make_trainer(tmp_path, 2)
    trainer.fit()

    class Wider(ToyRecipe):
        def __init__(self):
            super().__init__(ToyConfig(lr=5e-4))

    with pytest.raises(DrumsynthError, match="lr: 0.001 -> 0.0005"):
        make_trainer(tmp_path, 4, Wider).fit()

    class Other(ToyRecipe):
        family = "other"

    with pytest.raises(DrumsynthError, match="family 'toy'"):
        make_trainer(tmp_path, 4, Other).fit()
    # resume=False starts over instead
    assert make_trainer(tmp_path, 1, Wider, resume=False).fit().step == 1


def test_already_finished_run_returns_at_once(reference):
    _, out = reference
    trainer = make_trainer(out, N_STEPS)
    result = trainer.fit()
    assert result.step == N_STEPS and trainer.recipe.seen == []


# ---- (2) checkpoint files ------------------------------------------------------------------------

PLAIN = (str, int, float, bool, type(None), torch.Tensor)


def assert_plain(obj, where="checkpoint"):
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert isinstance(key, str | int), where
            assert_plain(value, f"{where}[{key!r}]")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            assert_plain(value, f"{where}[{i}]")
    else:
        assert isinstance(obj, PLAIN), f"{where} is {type(obj)}"


def test_checkpoints_are_plain_and_the_release_file_rebuilds_the_model(reference):
    trainer, out = reference
    resume = torch.load(out / "resume.pt")  # torch's default: weights_only=True
    release = torch.load(out / "release.pt", weights_only=True)
    for data in (resume, release):
        assert_plain(data)
        assert data["format"] == "drumsynth-checkpoint" and data["format_version"] == 1
        assert data["family"] == "toy" and data["step"] == N_STEPS and data["version"]
        assert data["config"] == ToyRecipe().config
    assert {"model", "ema", "optim", "rng", "metrics", "created", "sched", "recipe", "trainer"} <= set(resume)
    rng = resume["rng"]
    assert {"torch", "numpy", "python", "generators"} <= set(rng)
    assert set(rng["generators"]) == {"recipe", "data"}
    assert rng["world_size"] == 1 and rng["other_ranks"] == []
    assert set(release["model"]) == {"generator"} and release["weights"] == {"generator": "ema"}
    assert torch.equal(release["extra"]["feature_mean"], torch.zeros(3))
    assert (out / "release.pt").stat().st_size < (out / "resume.pt").stat().st_size / 2

    model = build_generator(release["config"]).eval()  # from the stored config alone
    model.load_state_dict(release["model"]["generator"], strict=True)
    z = torch.randn(5, ToyConfig().z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(z), trainer.emas["generator"].module(z))
        assert not torch.equal(model(z), trainer.recipe.G.eval()(z))  # EMA, not the raw weights
    trainer.recipe.G.train()


class Compiled(nn.Module):
    """Laid out like ``torch.compile``'s OptimizedModule (importing dynamo costs seconds)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self._orig_mod = module


def test_saved_state_has_no_wrapper_prefixes():
    model = nn.Sequential(nn.Linear(2, 2))
    wrapped = nn.DataParallel(Compiled(model))
    assert list(wrapped.state_dict()) == ["module._orig_mod.0.weight", "module._orig_mod.0.bias"]
    assert unwrap(wrapped) is model
    assert list(module_state(wrapped)) == ["0.weight", "0.bias"]


def test_save_refuses_non_plain_values(tmp_path):
    @dataclass
    class Thing:
        x: int = 1

    with pytest.raises(DrumsynthError, match=r"\['config'\]\['thing'\].*Thing"):
        save_checkpoint(new_checkpoint("release", family="toy", config={"thing": Thing()}, step=0),
                        tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_load_checkpoint_errors(tmp_path, reference):
    with pytest.raises(DrumsynthError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    good = (reference[1] / "release.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(DrumsynthError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(DrumsynthError, match="not a drumsynth checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save(nn.Linear(1, 1), tmp_path / "pickled.pt")  # a pickled class: weights-only refuses it
    with pytest.raises(DrumsynthError, match="plain types"):
        load_checkpoint(tmp_path / "pickled.pt")
    future = new_checkpoint("release", family="toy", config={}, step=0)
    future["format_version"] = 99
    save_checkpoint(future, tmp_path / "future.pt")
    with pytest.raises(DrumsynthError, match="format_version 99"):
        load_checkpoint(tmp_path / "future.pt")
    with pytest.raises(DrumsynthError, match="'release' file, expected 'resume'"):
        load_checkpoint(reference[1] / "release.pt", kind="resume")


def test_rng_states_round_trip_through_plain_types(tmp_path):
    import random

    import numpy as np

    generator = torch.Generator().manual_seed(7)
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's state
    save_checkpoint(new_checkpoint("resume", family="toy", config={}, step=0,
                                   rng=capture_rng({"g": generator})), tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.standard_normal(3), random.random(),
                torch.rand(2, generator=generator))
    torch.manual_seed(2), np.random.seed(2), random.seed(2), generator.manual_seed(2)
    restore_rng(load_checkpoint(tmp_path / "rng.pt")["rng"], {"g": generator})
    got = (torch.rand(3), np.random.standard_normal(3), random.random(), torch.rand(2, generator=generator))
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2] and torch.equal(got[3], expected[3])


# ---- (3) keep-best, previews, logs ---------------------------------------------------------------


@pytest.mark.parametrize("mode,values", [("min", [3.0, 1.0, 2.0, 1.5]), ("max", [1.0, 3.0, 2.0, 2.5])])
def test_keep_best_previews_and_log(tmp_path, mode, values):
    seen_batches = []

    class Scored(ToyRecipe):
        best_metric = "valid/score"
        best_mode = mode

        def validate(self, modules, batches):
            assert not modules["generator"].training and not torch.is_grad_enabled()
            seen_batches.append(len(list(batches)))
            return {"valid/score": values[len(seen_batches) - 1]}

    valid = [{"wave": torch.zeros(2, 1, ToyConfig().length)}] * 3
    trainer = make_trainer(tmp_path, 8, Scored, valid_every=2, valid_data=lambda: valid,
                           preview_every=4, preview_n=2, progress=True)
    result = trainer.fit()
    assert seen_batches == [3, 3, 3, 3]
    best = load_checkpoint(tmp_path / "best.pt", kind="release")
    assert best["step"] == 4 and best["metrics"]["valid/score"] == values[1] == result.best
    assert "discriminator" not in best["model"]
    assert load_checkpoint(tmp_path / "resume.pt")["trainer"]["best"]["step"] == 4

    previews = sorted(p.name for p in (tmp_path / "previews").iterdir())
    assert previews == ["step_000004_0.wav", "step_000004_1.wav", "step_000008_0.wav", "step_000008_1.wav"]
    wave, sr = sf.read(tmp_path / "previews" / "step_000008_1.wav")
    assert sr == 8000 and wave.shape == (ToyConfig().length,) and np_abs_max(wave) > 0

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(set(r) == {"step", "time", "metrics"} for r in records)
    train = [r for r in records if "loss/d_wgan" in r["metrics"]]
    assert [r["step"] for r in train] == [2, 4, 6, 8]
    assert {"loss/d_wgan", "loss/gp", "loss/g_adv", "time/step_ms"} <= set(train[0]["metrics"])
    assert [r["metrics"]["valid/score"] for r in records if "valid/score" in r["metrics"]] == values


@pytest.mark.parametrize("sometimes", [False, True])
def test_keep_best_skips_validations_without_the_metric_only_when_the_recipe_says_so(tmp_path, sometimes):
    class Phased(ToyRecipe):
        best_metric = "valid/late"
        best_metric_sometimes = sometimes

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.calls = 0

        def validate(self, modules, batches):
            self.calls += 1
            return {"valid/early": 1.0} if self.calls <= 2 else {"valid/late": 5.0 - self.calls}

    trainer = make_trainer(tmp_path, 8, Phased, valid_every=2)
    if not sometimes:
        with pytest.raises(DrumsynthError, match="not among"):
            trainer.fit()
        return
    trainer.fit()
    best = load_checkpoint(tmp_path / "best.pt", kind="release")
    assert best["step"] == 8 and best["metrics"]["valid/late"] == 1.0


def np_abs_max(wave) -> float:
    return float(abs(wave).max())


def test_metric_log_truncates_stale_lines_on_resume(tmp_path):
    log = MetricLog(tmp_path / "log.jsonl")
    for step in (1, 2, 3):
        log.log(step, {"loss/x": step, "loss/nan": float("nan")})
    with (tmp_path / "log.jsonl").open("a") as fh:
        fh.write('{"step": 4, "ti')  # a line cut by a crash
    log.truncate_after(2)
    records = list(read_log(tmp_path / "log.jsonl"))
    assert [r["step"] for r in records] == [1, 2] and records[0]["metrics"]["loss/nan"] is None


def test_nonfinite_loss_stops_with_a_clear_error(tmp_path):
    class Diverging(ToyRecipe):
        def train_step(self, batch, step, generator):
            metrics = super().train_step(batch, step, generator)
            return {**metrics, "loss/g_adv": float("nan")} if step == 2 else metrics

    with pytest.raises(DrumsynthError, match="loss/g_adv is nan at step 3"):
        make_trainer(tmp_path, 6, Diverging, checkpoint_every=2).fit()
    assert load_checkpoint(tmp_path / "resume.pt")["step"] == 2


@pytest.mark.parametrize("option,value", [("max_steps", -1), ("log_every", 1.5), ("preview_n", 0),
                                          ("threads", 0), ("checkpoint_every", True)])
def test_bad_trainer_options_are_errors(tmp_path, option, value):
    with pytest.raises(DrumsynthError, match=option):
        make_trainer(tmp_path, **{"max_steps": 2, option: value})


def test_recipe_config_must_be_a_plain_dict(tmp_path):
    class Unplain(ToyRecipe):
        def __init__(self):
            super().__init__()
            self.config = self.cfg  # the dataclass itself, not to_dict(cfg)

    with pytest.raises(DrumsynthError, match="plain dict"):
        make_trainer(tmp_path, 2, Unplain)


# ---- (4) atomic writes ---------------------------------------------------------------------------


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    make_trainer(tmp_path, 2).fit()
    before = {name: (tmp_path / name).read_bytes() for name in ("resume.pt", "release.pt")}

    def broken_save(obj, fh, *args, **kwargs):
        fh.write(b"half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        make_trainer(tmp_path, 4).fit()
    monkeypatch.undo()
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert load_checkpoint(tmp_path / "resume.pt")["step"] == 2


# ---- EMA -----------------------------------------------------------------------------------------


def test_ema_averages_parameters_and_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.75)
    start = ema.state_dict()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model(torch.randn(4, 2))  # moves BatchNorm's running stats and its integer counter
    ema.update(model)
    now = model.state_dict()
    for name, value in ema.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.75 * start[name] + 0.25 * now[name]), name
        else:
            assert torch.equal(value, now[name]), name  # num_batches_tracked is copied
    target = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema.copy_to(target)
    assert_same(target.state_dict(), ema.state_dict())
    with pytest.raises(DrumsynthError, match="do not fit"):
        ema.load_state_dict({"0.weight": torch.zeros(2, 2)})
    with pytest.raises(DrumsynthError, match="decay"):
        EMA(model, decay=1.5)


# ---- (5) DDP under torchrun ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["wrap", "average"])
def test_two_process_ddp_run(tmp_path, mode):
    """Both DDP modes of the Trainer: DDP-wrapped modules, and plain modules whose gradients the recipe
    averages itself (``Recipe.ddp_gradients = "average"``, the GAN families with growing stages)."""
    root, report = tmp_path / "runs", tmp_path / "report"
    report.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", str(HERE / "train_ddp_script.py"), str(root), str(report), mode]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    ranks = [torch.load(report / f"rank{r}.pt") for r in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["wrapped"] == (["discriminator", "generator"] if mode == "wrap" else [])
    assert_same(ranks[0]["full"], ranks[1]["full"])  # the ranks started from rank 0's weights and stayed in step
    assert not torch.equal(ranks[0]["first_batch"], ranks[1]["first_batch"])  # each rank its own data
    for rank in ranks:  # resume under DDP is exact too (per-rank RNG states restored)
        assert_same(rank["resumed"], rank["full"])
        assert_same(rank["resumed_ema"], rank["full_ema"])
        assert torch.equal(rank["resumed_batches"], rank["full_batches"])

    for run in ("full", "part"):  # only rank 0 wrote: one line per step, one preview per preview step
        out = root / run
        assert sorted(p.name for p in out.iterdir()) == ["log.jsonl", "previews", "release.pt", "resume.pt"]
        assert [r["step"] for r in read_log(out / "log.jsonl")] == [1, 2, 3, 4]
        previews = sorted(p.name for p in (out / "previews").iterdir())
        assert previews == ["step_000002_0.wav", "step_000004_0.wav"]
    resume = load_checkpoint(root / "full" / "resume.pt")
    assert resume["rng"]["world_size"] == 2 and len(resume["rng"]["other_ranks"]) == 1
    assert all(not k.startswith(("module.", "_orig_mod.")) for k in resume["model"]["discriminator"])
    assert_same(resume["model"]["generator"], ranks[0]["full"]["generator"])


# ---- stage lines, release fields, orphan temporaries -------------------------------------------------


def test_release_fields_reach_every_release_file_and_cannot_replace_its_keys(tmp_path):
    from drumsynth.train.stages import StageLog

    data = {"cache": "/somewhere", "counts": {"train": {"kick": 3}, "valid": {}, "test": {}}}

    class Validating(ToyRecipe):
        best_metric = "valid/x"

        def validate(self, modules, batches):
            return {"valid/x": 1.0}

    stream = io.StringIO()
    make_trainer(tmp_path / "run", max_steps=2, recipe_cls=Validating, valid_every=2,
                 release_fields={"data": data}, stages=StageLog(stream=stream)).fit()
    for name in ("release.pt", "best.pt"):
        assert load_checkpoint(tmp_path / "run" / name)["data"] == data
    assert "data" not in load_checkpoint(tmp_path / "run" / "resume.pt")
    assert stream.getvalue().startswith("first step ... ") and stream.getvalue().endswith(" s\n")
    for bad in ({"model": {}}, {"data": object()}):
        with pytest.raises(DrumsynthError, match="release_fields"):
            make_trainer(tmp_path / "bad", release_fields=bad)


def test_the_trainer_removes_temporaries_a_killed_save_left_and_nothing_else(tmp_path, caplog):
    out = tmp_path / "run"
    out.mkdir()
    orphan = out / ".resume.pt.a1b2c3d4.tmp"   # how save_checkpoint names its temporary file
    orphan.write_bytes(b"half a checkpoint")
    kept = [out / "notes.tmp", out / ".hidden.tmp", out / "release.pt.bak"]
    for path in kept:
        path.write_bytes(b"the user's")
    with caplog.at_level("WARNING", logger="drumsynth.train.trainer"):
        make_trainer(out, max_steps=2).fit()
    assert not orphan.exists()
    assert all(path.read_bytes() == b"the user's" for path in kept)
    assert ".resume.pt.a1b2c3d4.tmp" in caplog.text and "removed 1 temporary" in caplog.text
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") and p not in kept]
