#!/usr/bin/env python3
"""Pad move -> new audio ready in the page, measured in a real browser (Debian's chromium via Playwright).

Starts the web instrument on a free loopback port, opens the page, and moves the XY pad ``--moves``
times (after ``--warmup`` moves that are not counted): each move is a mouse press-drag-release to a new
random point, and its latency runs from the pointer event to the moment the page holds the new hit
decoded and ready to play (the page's own clock: what ``window.drumsynth.latencies`` records, the
LATENCY readout). Moves are one at a time, so each number is one change's latency. Then a continuous
drag (60 pointer moves per second for ``--drag-seconds``) shows what streaming does: how many renders
arrive, and how long after the pointer stops the last one is ready.

Usage: .venv/bin/python scripts/web_latency.py [--model ndm] [--moves 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "min": round(min(values), 1), "max": round(max(values), 1), "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model key (default: the shipped default, ndm)")
    parser.add_argument("--mode", choices=("pca", "plane"), default="pca",
                        help="the pad's mode: the NDM's class PCA (default) or DrumGAN VST's plane")
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--drag-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: what `drumsynth web` uses, half the cores)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    from drumsynth.cli.web import render_threads

    args.threads = args.threads or render_threads()
    torch.set_num_threads(args.threads)

    from playwright.sync_api import sync_playwright

    from drumsynth.web.app import create_app
    from drumsynth.web.catalog import Catalog
    from drumsynth.web.server import serve_in_thread
    from drumsynth.web.store import RenderStore

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="drumsynth-web-latency-") as out:
        server = serve_in_thread(create_app(Catalog(None, default=args.model), RenderStore(out)))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium)
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                page.set_default_timeout(60_000)
                page.goto(server.url)
                page.wait_for_function("() => window.drumsynth && window.drumsynth.ready")
                if args.mode == "plane":
                    page.click('#pad-mode button[data-mode="plane"]')
                    page.wait_for_function("() => window.drumsynth.idle()")
                box = page.locator("#pad").bounding_box()

                def point() -> tuple[float, float]:
                    return (box["x"] + box["width"] * rng.uniform(0.05, 0.95),
                            box["y"] + box["height"] * rng.uniform(0.05, 0.95))

                def move() -> dict:
                    before = page.evaluate("() => window.drumsynth.latencies.length")
                    page.mouse.move(*point())
                    page.mouse.down()
                    page.mouse.up()
                    page.wait_for_function(f"() => window.drumsynth.latencies.length > {before} && window.drumsynth.idle()")
                    return page.evaluate("() => window.drumsynth.latencies.at(-1)")

                for _ in range(args.warmup):
                    move()
                moves = [move() for _ in range(args.moves)]

                # a continuous drag: pointer events at 60 Hz, renders streamed (latest wins)
                before = page.evaluate("() => window.drumsynth.latencies.length")
                page.mouse.move(*point())
                page.mouse.down()
                frames = int(args.drag_seconds * 60)
                start = time.perf_counter()
                for i in range(frames):
                    page.mouse.move(*point())
                    time.sleep(max(0.0, start + (i + 1) / 60 - time.perf_counter()))
                released = page.evaluate("() => performance.now()")
                page.mouse.up()
                page.wait_for_function("() => window.drumsynth.idle()")
                drag = page.evaluate(f"() => window.drumsynth.latencies.slice({before})")
                ready = page.evaluate("() => performance.now()")
                browser.close()
        finally:
            server.stop()

    result = {
        "model": args.model or "default", "mode": args.mode, "threads": args.threads, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "move_ms": summary([m["ms"] for m in moves]),
        "server_render_ms": summary([m["render_ms"] for m in moves]),
        "drag": {"seconds": args.drag_seconds, "pointer_events": frames, "renders": len(drag),
                 "renders_per_second": round(len(drag) / args.drag_seconds, 1),
                 "ms_to_settle_after_release": round(ready - released, 1),
                 "move_ms": summary([m["ms"] for m in drag]) if drag else None},
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        m, s, d = result["move_ms"], result["server_render_ms"], result["drag"]
        print(f"pad move -> audio ready in the page ({m['n']} moves, {result['model']}, {args.mode}): "
              f"p50 {m['p50']} ms, p95 {m['p95']} ms (server render p50 {s['p50']} ms, p95 {s['p95']} ms)")
        print(f"continuous drag {d['seconds']} s at 60 Hz: {d['renders']} renders ({d['renders_per_second']}/s), "
              f"last one ready {d['ms_to_settle_after_release']} ms after the pointer stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
