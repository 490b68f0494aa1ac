"""A warm process that runs each fuzz case in a forked child and reports how it ended.

Importing torch and drumsynth takes seconds; a few hundred CLI cases would spend most of their time
there. This server imports them once and forks one child per case, so a case costs what the verb itself
costs. It never runs a torch operation itself: a fork after torch has started its thread pools can
deadlock the child, while a fork of a process that only imported torch is safe.

Protocol: one JSON object per line on stdin, ``{"argv": [...], "cwd": str, "timeout": float,
"env": {str: str}}``; one JSON object per line on stdout, ``{"rc": int | None, "signal": int | None,
"timed_out": bool, "seconds": float, "peak_mb": float, "stdout": str, "stderr": str}``.
The child's peak memory is ``ru_maxrss`` from ``wait4``: the resident set it reached, pages shared with
this server included.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time

import numpy  # noqa: F401  (warm imports: what every verb loads)
import soundfile  # noqa: F401
import torch  # noqa: F401

import drumsynth.audio.io  # noqa: F401
import drumsynth.cli.main  # noqa: F401
import drumsynth.inference.session  # noqa: F401

OUTPUT_LIMIT = 20_000


def run_child(argv: list[str], cwd: str, env: dict[str, str]) -> None:
    """In the forked child: run the console script's ``main`` and leave with its exit code."""
    code = 99
    try:
        os.chdir(cwd)
        os.environ.update(env)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        sys.argv = ["drumsynth", *argv]
        from drumsynth.cli.main import main

        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except BaseException:  # the harness reports it: a traceback is exactly what the fuzz looks for
        import traceback

        traceback.print_exc()
        code = 98
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) and 0 <= code < 256 else 97)


def run_case(request: dict) -> dict:
    """Fork, wait with a deadline (SIGKILL past it), and collect the child's output and rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            run_child(request["argv"], request["cwd"], request.get("env", {}))
        timed_out = False
        deadline = start + float(request["timeout"])
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return {
            "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": timed_out,
            "seconds": round(seconds, 3),
            "peak_mb": usage.ru_maxrss / 1024,  # Linux reports kilobytes
            "stdout": out.read(OUTPUT_LIMIT).decode("utf-8", "replace"),
            "stderr": err.read(OUTPUT_LIMIT).decode("utf-8", "replace"),
        }


def serve() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    print(json.dumps({"ready": True}), file=replies)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run_case(json.loads(line))), file=replies)


if __name__ == "__main__":
    serve()
