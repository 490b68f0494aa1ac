"""OSC round trip of ``drumsynth serve``: message sent -> ``/drum/sample`` received, p50/p95.

Starts ``drumsynth serve`` on a free loopback port (a fresh process, its first decode done before it
listens), then sends requests one at a time with python-osc and waits for each reply: ``--n`` Generate
presses (``/drum/generate SEED``, a new seed each time) and ``--n`` XY-pad moves (``/drum/xy X Y`` on
ndm, the plane elsewhere). Each round trip includes the decode, the WAV and JSON write, and both UDP
hops. The server's own figure (arrival to reply, the ``<ms>`` of ``/drum/sample``) is printed beside it.

Usage::

    .venv/bin/python scripts/osc_roundtrip.py [--model ndm] [--n 100] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()),
            "n": len(values)}


def measure(sock: socket.socket, port: int, requests: list[tuple[str, list]]) -> tuple[list[float], list[float]]:
    """Round trips (ms, client side) and the server's own ms, one request at a time."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    from drumsynth.serve.wire import parse_message

    trips, server = [], []
    for address, args in requests:
        builder = OscMessageBuilder(address=address)
        for arg in args:
            builder.add_arg(arg)
        data = builder.build().dgram
        sent = time.perf_counter()
        sock.sendto(data, ("127.0.0.1", port))
        kind, values = parse_message(sock.recv(65536))
        trips.append((time.perf_counter() - sent) * 1000)
        if kind != "/drum/sample":
            raise SystemExit(f"{address} {args}: {kind} {values}")
        server.append(values[2])
    return trips, server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="checkpoint or family id (default: the shipped default)")
    parser.add_argument("--n", type=int, default=100, help="requests per kind (default 100)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="osc-roundtrip-") as tmp:
        cmd = [sys.executable, "-m", "drumsynth.cli.main", "serve", "--out", tmp, "--port", "0", "--reply-port", "0"]
        cmd += ["--model", args.model] if args.model else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
        try:
            line = proc.stdout.readline()
            if "listening on udp" not in line:
                raise SystemExit(f"serve did not start: {line!r}")
            ready_s = time.perf_counter() - started
            port = int(line.split("listening on udp ")[1].split(",")[0].rsplit(":", 1)[1])
            model = line.split("drumsynth serve: ")[1].split(" listening")[0]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(30)
            pad = [("/drum/xy", [math.sin(i * 0.7) * 0.9, math.cos(i * 0.3) * 0.9]) for i in range(args.n)]
            gen = [("/drum/generate", [1000 + i]) for i in range(args.n)]
            measure(sock, port, gen[:5])  # warm the socket path and the allocator
            results = {}
            for name, requests in (("generate", gen), ("xy", pad)):
                trips, server = measure(sock, port, requests)
                results[name] = {"round_trip_ms": percentiles(trips), "server_ms": percentiles(server)}
            sock.close()
        finally:
            proc.terminate()
            proc.wait(30)
    report = {"model": model, "startup_s": round(ready_s, 2), "threads": args.threads, **results}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{model}: server ready in {ready_s:.1f} s")
        for name, r in results.items():
            rt, sv = r["round_trip_ms"], r["server_ms"]
            print(f"  {name:9s} round trip p50 {rt['p50']:.1f} ms  p95 {rt['p95']:.1f} ms  (mean {rt['mean']:.1f}, "
                  f"n {rt['n']}); server p50 {sv['p50']:.1f} ms  p95 {sv['p95']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
