"""``drumsynth bench``: latency, throughput, FLOP efficiency and memory of a model (Markdown or JSON)."""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_runtime_options, apply_runtime, emit, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure a model's speed (the numbers in BENCHMARKS.md)")
    parser.add_argument("--model", action="append", help="checkpoint or family id (repeatable; default: every "
                                                         "shipped model)")
    parser.add_argument("--repeats", type=positive_int, default=50, help="timed calls per latency (default 50)")
    parser.add_argument("--data", help="cache folder: also time training steps of the cpu preset on it")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def _row(r: dict) -> str:
    def ms(key):
        v = r.get(key)
        return f"{v['p50']:.1f} / {v['p95']:.1f}" if v else "–"

    inv = f"{r['inverter_x_realtime']:.0f}×" if "inverter_x_realtime" in r else "–"
    step = f"{r['train_step_ms']:.0f}" if "train_step_ms" in r else "–"
    return (f"| {r['family']} | {ms('generate_ms')} | {ms('xy_change_ms')} | {ms('encode_ms')} | "
            f"{r['hits_per_s']:.1f} | {r['x_realtime']:.0f}× | {inv} | {step} | "
            f"{r['flops_per_hit'] / 1e9:.2f} | {100 * r['fraction_of_peak']:.1f}% | {r['peak_memory_mb']:.0f} |")


def run(args: argparse.Namespace) -> int:
    import torch

    from drumsynth.inference.bench import bench_session, bench_training_step
    from drumsynth.inference.session import Session, shipped_models

    apply_runtime(args)
    specs = args.model or list(shipped_models()) or [None]
    rows = []
    for spec in specs:
        session = Session.load(spec, device=args.device)
        row = bench_session(session, repeats=args.repeats, seed=args.seed)
        if args.data:
            from drumsynth.data.cache import load_cache

            row["train_step_ms"] = bench_training_step(session.family, "cpu", load_cache(args.data), seed=args.seed)
        rows.append(row)
    header = ("| family | hit p50 / p95 (ms) | XY change p50 / p95 (ms) | encode p50 / p95 (ms) | hits/s @64 | "
              "× real time | inverter × RT | train step (ms) | GFLOP/hit | of matmul peak | peak RSS (MB) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")
    text = "\n".join([f"torch {torch.__version__}, {torch.get_num_threads()} threads; matmul peak "
                      f"{rows[0]['matmul_peak_gflops']:.0f} GFLOP/s", "", header] + [_row(r) for r in rows])
    emit(args, {"results": rows}, text)
    return 0
