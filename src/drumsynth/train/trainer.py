"""The generic Trainer: cadence, seeding, EMA, JSONL logs, previews, keep-best, checkpoints, resume.

Family code lives in a :class:`~drumsynth.train.recipe.Recipe`; this loop is the same for all of them.

Data interface and exact resume
-------------------------------
``data_iter_factory(generator) -> Iterator[batch]`` is called once per ``fit()`` with a CPU
``torch.Generator`` that the Trainer owns, seeds from ``(seed, rank)`` and checkpoints. The iterator
must yield batches forever and obey one rule: **each batch is a function of the generator's state
when it is requested** (all randomness from ``generator``, drawn lazily inside ``next()``; no
prefetching, no epoch permutation cached across batches). A Python generator function does this
naturally::

    def factory(generator):
        while True:
            idx = torch.randint(len(data), (batch_size,), generator=generator)
            yield {"wave": data[idx], "label": labels[idx]}

(:func:`sampled_batches` builds exactly that from ``sample_batch(generator) -> batch``.) Then the
generator state after batch k determines every later batch, and resuming calls the factory again
with the restored generator. An iterator that needs its own state (epoch shuffling) may instead
expose ``state_dict()`` / ``load_state_dict()`` (plain types and tensors): the Trainer saves that
too and restores it right after calling the factory.

Given that, ``fit()`` over an existing ``resume.pt`` continues bit-identically: parameters, EMA,
optimiser and scheduler states, ``Recipe.state_dict()``, torch/numpy/python global RNGs, the
recipe's generator and the data generator are all restored, and previews/validation run on isolated
RNG state so their cadence never changes training. (On CUDA, bit-identity additionally needs
deterministic kernels: ``torch.use_deterministic_algorithms(True)``.)

Distributed: under ``torchrun`` each rank seeds its generators from ``(seed, rank)`` (different data
and noise), DDP copies rank 0's initial weights to all ranks and averages gradients, buffers
(BatchNorm statistics) are copied from rank 0 after every step, only rank 0 writes files, and the
checkpoint stores every rank's RNG states so a resume with the same world size is exact on every
rank. The run folder must be on a filesystem all nodes share (every rank reads ``resume.pt``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import drumsynth
from drumsynth.audio.io import write_wav
from drumsynth.errors import DrumsynthError
from drumsynth.train import distributed as dist_utils
from drumsynth.train.checkpoint import (
    capture_rng,
    check_plain,
    load_checkpoint,
    module_state,
    new_checkpoint,
    remove_orphan_temps,
    restore_rng,
    save_checkpoint,
    to_cpu,
)
from drumsynth.train.ema import EMA
from drumsynth.train.logging import MetricLog
from drumsynth.train.recipe import Batch, Recipe
from drumsynth.train.stages import StageLog

logger = logging.getLogger(__name__)

DataFactory = Callable[[torch.Generator], Iterator[Batch]]

# Independent random streams derived from (seed, rank, stream): changing one never shifts another.
_STREAM_GLOBAL, _STREAM_RECIPE, _STREAM_DATA, _STREAM_PREVIEW = 0, 1, 2, 3


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed for the stream ``keys`` of ``seed`` (numpy SeedSequence: well-mixed, stable)."""
    state = np.random.SeedSequence([int(seed) % 2**63, *[int(k) for k in keys]]).generate_state(
        1, np.uint64)
    return int(state[0] >> np.uint64(1))


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's legacy global RNG and torch (CPU and CUDA).

    Call before building a Recipe so its modules' initial weights are reproducible.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def sampled_batches(sample_batch: Callable[[torch.Generator], Batch]) -> DataFactory:
    """A ``data_iter_factory`` that calls ``sample_batch(generator)`` for every batch (resume-exact)."""

    def factory(generator: torch.Generator) -> Iterator[Batch]:
        while True:
            yield sample_batch(generator)

    return factory


def to_device(batch: Batch, device: torch.device) -> Batch:
    """``batch`` with every tensor inside dicts/lists/tuples moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` did.

    step : steps completed in total (including those before a resume)
    metrics : the last logged metrics (training window means and validation)
    best : best value of ``recipe.best_metric`` so far, or None
    interrupted : True when SIGINT/SIGTERM stopped the run (a resume checkpoint was saved)
    signal : the signal's name when interrupted
    """

    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    best: float | None = None
    interrupted: bool = False
    signal: str | None = None

    @property
    def exit_code(self) -> int:
        """0, or the shell's 128 + signal number convention for a CLI to exit with."""
        if self.signal is None:
            return 0
        return 128 + int(signal.Signals[self.signal])


class Trainer:
    """Runs a Recipe for ``max_steps`` steps, writing everything under ``out_dir`` (rank 0 only).

    Files: ``resume.pt`` (everything, for ``fit()`` to continue), ``release.pt`` (inference modules,
    EMA weights), ``best.pt`` (release file at the best validation), ``log.jsonl`` and
    ``previews/step_000100_0.wav``.

    Parameters
    ----------
    recipe : the family's Recipe (modules built, not yet wrapped)
    data_iter_factory : ``factory(generator) -> Iterator[batch]`` (see the module docstring)
    out_dir : run folder; an existing ``resume.pt`` there is continued unless ``resume=False``
    max_steps : total training steps, counted from the start of the run (not from the resume)
    log_every, checkpoint_every, preview_every, valid_every : cadence in steps (0 = never). The last
        step always logs and checkpoints; previews and validation also run on it when enabled. A
        signal's step logs and checkpoints only.
    preview_n : sounds per preview
    valid_data : ``() -> Iterable[batch]``, a fresh finite pass over validation data per call
    ema_decay : decay of the EMA copies of ``recipe.ema_modules()``
    seed : root of every random stream (global RNGs, recipe noise, data sampling, previews)
    device : ``"cpu"`` (default) or ``"cuda"`` (``cuda:<LOCAL_RANK>`` under torchrun)
    threads : ``torch.set_num_threads`` for this process, or None to keep torch's default
    progress : show a tqdm bar with metrics (rank 0 only)
    resume : continue from ``out_dir/resume.pt`` when it exists
    stop_on_nonfinite : raise when a ``loss/*`` metric is NaN or infinite (the last checkpoint stays)
    stages : a :class:`~drumsynth.train.stages.StageLog` that gets the "first step" line before the
        progress bar appears (and notes on resuming); None: silent
    release_fields : extra top-level entries of every release file (``release.pt``, ``best.pt``),
        plain types only: the CLI stores the cache's class counts (``"data"``) and, when fine-tuning,
        where the weights came from (``"init"``)

    After ``fit()`` the live objects are attributes: ``modules``, ``optimizers``, ``schedulers``
    (the recipe's), ``emas`` ({name: EMA}), ``rank`` and ``world_size``.
    """

    RESUME = "resume.pt"
    RELEASE = "release.pt"
    BEST = "best.pt"
    LOG = "log.jsonl"
    PREVIEWS = "previews"

    def __init__(self, recipe: Recipe, data_iter_factory: DataFactory, out_dir: str | Path, *,
                 max_steps: int, log_every: int = 50, checkpoint_every: int = 1000,
                 preview_every: int = 0, preview_n: int = 4, valid_every: int = 0,
                 valid_data: Callable[[], Iterable[Batch]] | None = None, ema_decay: float = 0.999,
                 seed: int = 0, device: str | torch.device = "cpu", threads: int | None = None,
                 progress: bool = True, resume: bool = True, stop_on_nonfinite: bool = True,
                 stages: StageLog | None = None, release_fields: dict[str, Any] | None = None) -> None:
        for name, value in (("max_steps", max_steps), ("log_every", log_every),
                            ("checkpoint_every", checkpoint_every), ("preview_every", preview_every),
                            ("valid_every", valid_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DrumsynthError(f"{name} must be an integer >= 0, got {value!r}")
        if isinstance(preview_n, bool) or not isinstance(preview_n, int) or preview_n < 1:
            raise DrumsynthError(f"preview_n must be an integer >= 1, got {preview_n!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise DrumsynthError(f"threads must be an integer >= 1, got {threads!r}")
        if not isinstance(recipe.family, str) or not recipe.family:
            raise DrumsynthError(f"recipe {type(recipe).__name__} has no family name")
        if not isinstance(recipe.config, dict):
            raise DrumsynthError(f"recipe.config must be a plain dict (drumsynth.config.to_dict(cfg)), "
                                 f"got {type(recipe.config).__name__}")
        check_plain(recipe.config, "recipe.config")
        if recipe.best_mode not in ("min", "max"):
            raise DrumsynthError(f"best_mode must be 'min' or 'max', got {recipe.best_mode!r}")
        if not callable(data_iter_factory):
            raise DrumsynthError(f"data_iter_factory must be callable, got {data_iter_factory!r}")
        release_fields = dict(release_fields or {})
        check_plain(release_fields, "release_fields")
        clash = sorted(set(release_fields) & _RELEASE_KEYS)
        if clash:
            raise DrumsynthError(f"release_fields may not replace the release file's own keys {clash}")
        self.recipe = recipe
        self.data_iter_factory = data_iter_factory
        self.out_dir = Path(out_dir)
        self.max_steps = max_steps
        self.log_every = log_every
        self.checkpoint_every = checkpoint_every
        self.preview_every = preview_every
        self.preview_n = preview_n
        self.valid_every = valid_every
        self.valid_data = valid_data
        self.ema_decay = ema_decay
        self.seed = int(seed)
        self.device = torch.device(device)
        self.threads = threads
        self.progress = progress
        self.resume = resume
        self.stop_on_nonfinite = stop_on_nonfinite
        self.stages = stages if stages is not None else StageLog(enabled=False)
        self.release_fields = release_fields
        self._stop_signal: int | None = None

    # ---- the loop ------------------------------------------------------------------------------

    def fit(self) -> FitResult:
        """Train from step 0, or from ``resume.pt``, to ``max_steps``; see the class docstring."""
        threads_before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            return self._fit()
        finally:
            torch.set_num_threads(threads_before)  # a library call leaves the process as it was

    def _fit(self) -> FitResult:
        info = dist_utils.init_distributed(self.device)
        self.rank, self.world_size, self.device = info.rank, info.world_size, info.device
        self._setup_modules()
        self.recipe_generator = torch.Generator(device=self.device)
        self.data_generator = torch.Generator()
        self.best: dict[str, Any] | None = None
        self.last_metrics: dict[str, float] = {}

        resume_path = self.out_dir / self.RESUME
        if self.rank == 0:
            self._remove_orphan_temps()
        # Rank 0 decides, so that all ranks start from the same step (or all fail loudly when the run
        # folder is not on a filesystem every node shares).
        resuming = dist_utils.broadcast_object(self.resume and resume_path.exists())
        checkpoint = load_checkpoint(resume_path, kind="resume") if resuming else None
        if checkpoint is None:
            start = 0
            seed_everything(derive_seed(self.seed, self.rank, _STREAM_GLOBAL))
            self.recipe_generator.manual_seed(derive_seed(self.seed, self.rank, _STREAM_RECIPE))
            self.data_generator.manual_seed(derive_seed(self.seed, self.rank, _STREAM_DATA))
            data_state = None
        else:
            start, data_state = self._load_resume(checkpoint, resume_path)
        # Wrap after loading (every rank read the same weights) and before EMA (DDP's constructor
        # broadcasts rank 0's weights, which the EMA must start from).
        if self.recipe.ddp_gradients == "average":
            for module in self.modules.values():
                dist_utils.broadcast_module(module)
            self.recipe.bind(dict(self.modules))
        else:
            self.recipe.bind({name: dist_utils.wrap_ddp(m, self.device) for name, m in self.modules.items()})
        self.emas = {name: EMA(self.modules[name], self.ema_decay) for name in self.recipe.ema_modules()}
        if checkpoint is not None:
            self._load_ema(checkpoint, resume_path)
        self.log = MetricLog(self.out_dir / self.LOG) if self.rank == 0 else None
        if self.log is not None:
            self.log.truncate_after(start)

        if start >= self.max_steps:
            return FitResult(step=start, metrics=dict(checkpoint["metrics"]) if checkpoint else {},
                             best=self._best_value())
        data_iter = iter(self.data_iter_factory(self.data_generator))
        if data_state is not None:
            if not hasattr(data_iter, "load_state_dict"):
                raise DrumsynthError("resume.pt holds a data iterator state but the iterator has no "
                                     "load_state_dict()")
            data_iter.load_state_dict(data_state)
        self._data_iter = data_iter

        if start:
            self.stages.note(f"continuing {resume_path} from step {start} of {self.max_steps}")
        previous_handlers = self._install_signal_handlers()
        # The bar appears after the first step, so the stage lines before it end with that step's time.
        bar = _LazyBar(lambda: tqdm(total=self.max_steps, initial=start, desc=self.recipe.family, unit="step",
                                    dynamic_ncols=True, disable=not (self.progress and self.rank == 0)))
        try:
            step = self._loop(start, data_iter, bar)
        finally:
            self.stages.end()  # still open when the first step raised: end its line before the error
            bar.close()
            self._restore_signal_handlers(previous_handlers)
        # No rank returns before rank 0 has finished writing: a next fit() may read resume.pt at once.
        dist_utils.barrier()
        interrupted = self._stop_signal is not None
        return FitResult(step=step, metrics=dict(self.last_metrics), best=self._best_value(),
                         interrupted=interrupted,
                         signal=signal.Signals(self._stop_signal).name if interrupted else None)

    def _loop(self, step: int, data_iter: Iterator[Batch], bar: _LazyBar) -> int:
        window: dict[str, list[float]] = {}
        for module in self.modules.values():
            module.train()
        self.stages.start("first step")
        while step < self.max_steps:
            t0 = time.perf_counter()
            try:
                batch = next(data_iter)
            except StopIteration as err:
                raise DrumsynthError(f"the data iterator ended at step {step}; data_iter_factory must "
                                     "yield batches forever") from err
            batch = to_device(batch, self.device)
            t1 = time.perf_counter()
            metrics = self._check_metrics(self.recipe.train_step(batch, step, self.recipe_generator),
                                          step + 1)
            step += 1
            for scheduler in self.schedulers.values():
                scheduler.step()
            for module in self.modules.values():
                dist_utils.broadcast_buffers(module)  # rank 0's running statistics everywhere
            for name, ema in self.emas.items():
                ema.update(self.modules[name])
            metrics["time/data_ms"] = (t1 - t0) * 1e3
            metrics["time/step_ms"] = (time.perf_counter() - t0) * 1e3
            self.stages.end()  # only the first step's line is open
            for key, value in metrics.items():
                window.setdefault(key, []).append(value)

            # Every rank must agree to stop at the same step: saving gathers all ranks' RNG states.
            stop = dist_utils.any_rank(self._stop_signal is not None)
            final = step == self.max_steps
            if self._due(step, self.log_every) or final or stop:
                self._log(step, window, bar)
                window = {}
            # A stop request skips validation and previews: SIGTERM comes with a short grace period.
            if self.rank == 0 and not stop and (self._due(step, self.valid_every)
                                                or (final and self.valid_every)):
                self._validate(step)
            if self.rank == 0 and not stop and (self._due(step, self.preview_every)
                                                or (final and self.preview_every)):
                self._preview(step)
            if self._due(step, self.checkpoint_every) or final or stop:
                self._save(step)
            bar.update(1)
            if stop:
                logger.warning("stopped by a signal at step %d; resume.pt is saved", step)
                break
        return step

    @staticmethod
    def _due(step: int, every: int) -> bool:
        return every > 0 and step % every == 0

    # ---- setup and resume ----------------------------------------------------------------------

    def _remove_orphan_temps(self) -> None:
        """Delete the temporary checkpoint files a killed run (``kill -9`` mid-save) left behind."""
        removed = remove_orphan_temps(self.out_dir)
        if removed:
            names = ", ".join(p.name for p in removed)
            logger.warning("removed %d temporary file(s) an interrupted save left in %s: %s", len(removed),
                           self.out_dir, names)

    def _setup_modules(self) -> None:
        modules = self.recipe.modules()
        if not modules:
            raise DrumsynthError(f"recipe {type(self.recipe).__name__}.modules() is empty")
        for module in modules.values():
            module.to(self.device)
        for name in [*self.recipe.ema_modules(), *self.recipe.release_modules()]:
            if name not in modules:
                raise DrumsynthError(f"recipe names module {name!r}, not one of {sorted(modules)}")
        self.modules: dict[str, nn.Module] = modules
        self.optimizers = self.recipe.optimizers()
        self.schedulers = self.recipe.schedulers()

    def _load_resume(self, ckpt: dict[str, Any], path: Path) -> tuple[int, Any]:
        """Restore everything except EMA (built after DDP wrapping); returns (step, data state)."""
        if ckpt.get("family") != self.recipe.family:
            raise DrumsynthError(f"{path} was trained by family {ckpt.get('family')!r}, "
                                 f"not {self.recipe.family!r}")
        inference_only = tuple(f"{section}." for section in self.recipe.inference_sections)
        changes = [c for c in config_diff(ckpt.get("config"), to_cpu(self.recipe.config))
                   if c.split(":", 1)[0] not in RESUMABLE_KEYS and not c.startswith(inference_only)]
        if changes:
            raise DrumsynthError(
                f"{path} was trained with another config ({'; '.join(changes[:5])}); resume with the "
                "same config, or start a new run folder")
        for group, targets in (("model", self.modules), ("optim", self.optimizers),
                               ("sched", self.schedulers)):
            stored = ckpt.get(group, {})
            if set(stored) != set(targets):
                raise DrumsynthError(f"{path}: {group} entries {sorted(stored)} do not match the "
                                     f"recipe's {sorted(targets)}")
            for name, target in targets.items():
                try:
                    if group == "model":
                        target.load_state_dict(stored[name], strict=True)
                    else:
                        target.load_state_dict(stored[name])
                except (RuntimeError, ValueError, KeyError) as err:
                    raise DrumsynthError(f"{path}: cannot restore {group} {name!r}: {err}") from err
        self.recipe.load_state_dict(ckpt.get("recipe", {}))

        trainer = ckpt.get("trainer", {})
        if trainer.get("seed") != self.seed:
            logger.warning("%s was started with seed %r; continuing its RNG states (seed %r unused)",
                           path, trainer.get("seed"), self.seed)
        self.best = trainer.get("best")
        self.last_metrics = dict(ckpt.get("metrics", {}))
        step = int(ckpt["step"])

        rng = ckpt["rng"]
        ranks = [rng, *rng.get("other_ranks", [])]
        if self.rank < len(ranks) and rng.get("world_size", 1) == self.world_size:
            state = ranks[self.rank]
            restore_rng(state, {"recipe": self.recipe_generator, "data": self.data_generator},
                        self.device)
            return step, state.get("data_iter")
        # Another world size: continue deterministically from (seed, rank, step), but not exactly.
        logger.warning("%s was written by %s process(es), this run has %d: RNG streams are re-seeded",
                       path, rng.get("world_size", 1), self.world_size)
        seed_everything(derive_seed(self.seed, self.rank, _STREAM_GLOBAL, step))
        self.recipe_generator.manual_seed(derive_seed(self.seed, self.rank, _STREAM_RECIPE, step))
        self.data_generator.manual_seed(derive_seed(self.seed, self.rank, _STREAM_DATA, step))
        return step, None

    def _load_ema(self, ckpt: dict[str, Any], path: Path) -> None:
        stored = ckpt.get("ema", {})
        if set(stored) != set(self.emas):
            raise DrumsynthError(f"{path}: EMA entries {sorted(stored)} do not match the recipe's "
                                 f"ema_modules() {sorted(self.emas)}")
        for name, ema in self.emas.items():
            ema.load_state_dict(stored[name])

    # ---- logging, validation, previews ---------------------------------------------------------

    def _check_metrics(self, metrics: Any, step: int) -> dict[str, float]:
        if not isinstance(metrics, dict):
            raise DrumsynthError(f"train_step must return a dict of metrics, got {type(metrics).__name__}")
        out = {}
        for key, value in metrics.items():
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError) as err:
                raise DrumsynthError(f"metric {key!r} = {value!r} is not a number") from err
            if self.stop_on_nonfinite and str(key).startswith("loss/") and not math.isfinite(out[key]):
                raise DrumsynthError(
                    f"{key} is {out[key]} at step {step}: training diverged; the last checkpoint in "
                    f"{self.out_dir} is intact (lower the learning rate or check the data)")
        return out

    def _log(self, step: int, window: dict[str, list[float]], bar: _LazyBar) -> None:
        means = {k: sum(v) / len(v) for k, v in window.items()}
        per_rank = dist_utils.all_gather_object(means)  # collective: every rank takes part
        if self.rank != 0:
            return
        keys = sorted({k for m in per_rank for k in m})
        metrics = {k: float(np.mean([m[k] for m in per_rank if k in m])) for k in keys}
        self.last_metrics.update(metrics)
        assert self.log is not None
        self.log.log(step, metrics)
        shown = {k.split("/", 1)[-1]: f"{v:.3g}" for k, v in metrics.items()
                 if k.startswith("loss/") or k == "time/step_ms"}
        bar.set_postfix(shown, refresh=False)

    def _inference_modules(self) -> dict[str, nn.Module]:
        return {name: self.emas[name].module if name in self.emas else module
                for name, module in self.modules.items()}

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[dict[str, nn.Module]]:
        """Eval mode, no gradients, and RNG state that is put back afterwards.

        Previews and validation draw random numbers too; isolating them keeps the training
        trajectory independent of how often they run (and of whether a run was resumed).
        """
        modules = self._inference_modules()
        modes = {name: m.training for name, m in modules.items()}
        py_state, np_state = random.getstate(), np.random.get_state()
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices), torch.no_grad():
                for module in modules.values():
                    module.eval()
                yield modules
        finally:
            for name, module in modules.items():
                module.train(modes[name])
            random.setstate(py_state)
            np.random.set_state(np_state)

    def _validate(self, step: int) -> None:
        batches = None
        if self.valid_data is not None:
            batches = (to_device(b, self.device) for b in self.valid_data())
        with self._evaluating() as modules:
            metrics = self._check_metrics(self.recipe.validate(modules, batches), step)
        if not metrics:
            return
        assert self.log is not None
        self.log.log(step, metrics)
        self.last_metrics.update(metrics)
        name = self.recipe.best_metric
        if name is None:
            return
        if name not in metrics:
            if self.recipe.best_metric_sometimes:
                return
            raise DrumsynthError(f"best_metric {name!r} is not among validate()'s keys {sorted(metrics)}")
        value = metrics[name]
        old = self._best_value()
        better = old is None or (value < old if self.recipe.best_mode == "min" else value > old)
        if math.isfinite(value) and better:
            self.best = {"metric": name, "mode": self.recipe.best_mode, "value": value, "step": step}
            save_checkpoint(self._release(step), self.out_dir / self.BEST)
            logger.info("new best %s = %.4g at step %d", name, value, step)

    def _preview(self, step: int) -> None:
        generator = torch.Generator(device=self.device).manual_seed(
            derive_seed(self.seed, _STREAM_PREVIEW))  # same latents at every preview: hear progress
        with self._evaluating() as modules:
            wave = self.recipe.preview(modules, self.preview_n, generator)
        if wave is None:
            return
        if not isinstance(wave, torch.Tensor) or wave.ndim != 3 or wave.shape[1] != 1:
            raise DrumsynthError(f"preview() must return Tensor[n, 1, T], got "
                                 f"{getattr(wave, 'shape', type(wave).__name__)}")
        sr = self.recipe.sample_rate
        if isinstance(sr, bool) or not isinstance(sr, int) or sr <= 0:
            raise DrumsynthError(f"recipe {type(self.recipe).__name__}.sample_rate must be a positive "
                                 f"int for previews, got {sr!r}")
        folder = self.out_dir / self.PREVIEWS
        tags = {"software": f"drumsynth {drumsynth.__version__}",
                "comment": f"{self.recipe.family} preview, step {step}, seed {self.seed}"}
        for i, clip in enumerate(wave.detach().float().cpu().numpy()):
            try:
                write_wav(folder / f"step_{step:06d}_{i}.wav", clip[0], sr, tags=tags)
            except DrumsynthError as err:  # e.g. NaN audio: worth a warning, not a lost run
                logger.warning("preview %d at step %d not written: %s", i, step, err)

    # ---- checkpoints ---------------------------------------------------------------------------

    def _rng_state(self) -> dict[str, Any]:
        state = capture_rng({"recipe": self.recipe_generator, "data": self.data_generator},
                            self.device)
        if hasattr(self._data_iter, "state_dict"):
            state["data_iter"] = to_cpu(self._data_iter.state_dict())
        return state

    def _save(self, step: int) -> None:
        states = dist_utils.all_gather_object(self._rng_state())  # collective: every rank takes part
        if self.rank != 0:
            return
        rng = {**states[0], "world_size": self.world_size, "other_ranks": states[1:]}
        resume = new_checkpoint(
            "resume", family=self.recipe.family, config=to_cpu(self.recipe.config), step=step,
            metrics=self.last_metrics,
            model={name: module_state(m) for name, m in self.modules.items()},
            ema={name: ema.state_dict() for name, ema in self.emas.items()},
            optim={name: to_cpu(o.state_dict()) for name, o in self.optimizers.items()},
            sched={name: to_cpu(s.state_dict()) for name, s in self.schedulers.items()},
            recipe=to_cpu(self.recipe.state_dict()),
            rng=to_cpu(rng),
            trainer={"seed": self.seed, "ema_decay": self.ema_decay, "world_size": self.world_size,
                     "best": self.best},
        )
        save_checkpoint(resume, self.out_dir / self.RESUME)
        save_checkpoint(self._release(step), self.out_dir / self.RELEASE)

    def _release(self, step: int) -> dict[str, Any]:
        model, weights = {}, {}
        for name in self.recipe.release_modules():
            if name in self.emas:
                model[name], weights[name] = to_cpu(self.emas[name].state_dict()), "ema"
            else:
                model[name], weights[name] = module_state(self.modules[name]), "raw"
        return new_checkpoint("release", family=self.recipe.family, config=to_cpu(self.recipe.config),
                              step=step, metrics=self.last_metrics, model=model, weights=weights,
                              extra=to_cpu(self.recipe.release_extra()), seed=self.seed,
                              **to_cpu(self.release_fields))

    def _best_value(self) -> float | None:
        return None if self.best is None else float(self.best["value"])

    # ---- signals -------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict[int, Any]:
        """SIGINT/SIGTERM finish the current step, save ``resume.pt`` and return from ``fit()``.

        A second signal interrupts at once (KeyboardInterrupt) for a user who really wants out.
        """
        self._stop_signal = None
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may install handlers

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None:
                raise KeyboardInterrupt
            self._stop_signal = signum
            logger.warning("%s received: saving resume.pt after this step (again to abort)",
                           signal.Signals(signum).name)

        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _LazyBar:
    """A tqdm bar built on first use: it appears once the first step is done, below the stage lines."""

    def __init__(self, make: Callable[[], tqdm]) -> None:
        self._make = make
        self._bar: tqdm | None = None

    def _get(self) -> tqdm:
        if self._bar is None:
            self._bar = self._make()
        return self._bar

    def update(self, n: int = 1) -> None:
        self._get().update(n)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        self._get().set_postfix(*args, **kwargs)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# Keys every release file has; release_fields may add others but never replace these.
_RELEASE_KEYS = frozenset({"format", "format_version", "kind", "family", "config", "step", "metrics", "model",
                           "weights", "extra", "seed", "version", "created"})

# Settings that may change when a run is resumed: how long to train and how often to log, save and
# listen. Anything else (architecture, losses, data) would silently make a different model.
RESUMABLE_KEYS = frozenset(f"train.{k}" for k in ("max_steps", "log_every", "checkpoint_every", "preview_every",
                                                   "preview_n", "valid_every", "threads"))


def config_diff(old: Any, new: Any, where: str = "") -> list[str]:
    """Human-readable differences between two plain nested configs (``"train.lr: 1e-3 -> 2e-4"``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{where}.{key}" if where else str(key)
            if key not in old:
                out.append(f"{sub}: (absent) -> {new[key]!r}")
            elif key not in new:
                out.append(f"{sub}: {old[key]!r} -> (absent)")
            else:
                out.extend(config_diff(old[key], new[key], sub))
        return out
    if isinstance(old, list | tuple) and isinstance(new, list | tuple) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in config_diff(a, b, f"{where}[{i}]")]
    if isinstance(old, torch.Tensor) or isinstance(new, torch.Tensor):
        same = isinstance(old, torch.Tensor) and isinstance(new, torch.Tensor) and torch.equal(old, new)
        return [] if same else [f"{where or 'config'}: tensor changed"]
    return [] if old == new and type(old) is type(new) else [f"{where or 'config'}: {old!r} -> {new!r}"]
