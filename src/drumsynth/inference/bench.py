"""Speed measurements of a loaded model (DESIGN.md §7), reported by ``drumsynth bench``.

Latency is wall time of one call at batch 1 (p50/p95 over repeats after warm-up); throughput is at batch
64. The compute-efficiency figure divides the model's FLOPs per hit (counted by torch's FlopCounterMode)
by its latency, and compares that with the machine's float32 matrix-multiply peak measured in the same
run, so "fraction of peak" means the same on any machine.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from drumsynth.errors import DrumsynthError


def time_ms(fn: Callable[[], Any], *, repeats: int, warmup: int = 3) -> list[float]:
    """Wall time of ``fn()`` in milliseconds, ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p95 (nearest-rank) of timing samples."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": statistics.median(ordered), "p95": p95}


def matmul_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    """Best float32 GFLOP/s of an n x n matrix product: the machine's practical compute peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = min(time_ms(lambda: torch.mm(a, b), repeats=repeats, warmup=2))
    return 2 * n ** 3 / (best / 1000.0) / 1e9


def count_flops(fn: Callable[[], Any]) -> int:
    """Floating-point operations of one call, as torch's FlopCounterMode counts them (matmul/conv)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@torch.no_grad()
def bench_session(session, *, repeats: int = 50, batch: int = 64, seed: int = 0) -> dict[str, Any]:
    """Latency, throughput, FLOP efficiency and memory of a Session's model on the CPU threads torch has."""
    model = session.model
    generator = torch.Generator().manual_seed(seed)
    cls = session.classes[0]
    z1 = model.sample_latent(1, generator)
    l1 = session.class_weights(cls, 1)
    zb = model.sample_latent(batch, generator)
    lb = session.class_weights(cls, batch)
    one = model.generate(z1, l1)
    seconds_per_hit = one.shape[-1] / model.sample_rate
    gen = percentiles(time_ms(lambda: model.generate(z1, l1), repeats=repeats))
    batch_ms = statistics.median(time_ms(lambda: model.generate(zb, lb), repeats=max(3, repeats // 10), warmup=1))
    hits_per_s = batch / (batch_ms / 1000.0)
    flops = count_flops(lambda: model.generate(z1, l1))
    peak = matmul_peak_gflops()
    achieved = flops / (gen["p50"] / 1000.0) / 1e9
    out: dict[str, Any] = {
        "family": session.family, "checkpoint": str(session.checkpoint), "threads": torch.get_num_threads(),
        "sample_rate": model.sample_rate, "hit_seconds": seconds_per_hit,
        "generate_ms": gen, "batch": batch, "batch_ms": batch_ms, "hits_per_s": hits_per_s,
        "x_realtime": hits_per_s * seconds_per_hit, "flops_per_hit": flops, "achieved_gflops": achieved,
        "matmul_peak_gflops": peak, "fraction_of_peak": achieved / peak,
    }
    try:
        out["encode_ms"] = percentiles(time_ms(lambda: model.encode(one, l1), repeats=repeats))
    except DrumsynthError:
        out["encode_ms"] = None  # the family has no encoder
    if hasattr(model, "from_controls"):
        # The seed's interaction: an XY-pad move re-renders one hit through the whole chain.
        moves = iter(torch.rand(10_000, 2, generator=generator).tolist())
        out["xy_change_ms"] = percentiles(
            time_ms(lambda: model.from_controls(cls, *next(moves)), repeats=repeats))
    if hasattr(model, "decode_mel") and hasattr(model, "invert"):
        mel = model.decode_mel(zb, lb)
        inv_ms = statistics.median(time_ms(lambda: model.invert(mel), repeats=max(3, repeats // 10), warmup=1))
        out["inverter_x_realtime"] = batch * seconds_per_hit / (inv_ms / 1000.0)
    out["peak_memory_mb"] = peak_memory_mb()
    return out


def bench_training_step(family: str, preset: str, cache, *, steps: int = 10, seed: int = 0) -> float:
    """Median training-step time (ms) of a preset on a cache, through the real Trainer."""
    import tempfile

    from drumsynth.models import build_family_config, family_module
    from drumsynth.train import Trainer, seed_everything
    from drumsynth.train.logging import read_log

    module = family_module(family)
    config = build_family_config(family, preset, overrides=[
        f"train.max_steps={steps}", "train.valid_every=0", "train.preview_every=0",
        f"train.checkpoint_every={steps}"])
    seed_everything(seed)
    recipe = module.build_recipe(config, cache)
    train_data, _ = module.data_factories(config, cache, 0, 1)
    with tempfile.TemporaryDirectory() as out:
        Trainer(recipe, train_data, out, max_steps=steps, log_every=1, checkpoint_every=steps, progress=False,
                seed=seed).fit()
        times = [row["metrics"]["time/step_ms"] for row in read_log(f"{out}/log.jsonl")]
    return statistics.median(times[1:] or times)  # the first step pays for lazy initialisation
