"""JSONL metric log: one JSON object per logged step, appended, readable while training runs.

Each line is ``{"step": int, "time": unix seconds, "metrics": {"group/name": float}}``. Non-finite
values are written as ``null`` so every line stays strict JSON.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError


class MetricLog:
    """Append-only JSONL writer.

    Parameters
    ----------
    path : the ``.jsonl`` file; created with its folder if missing, appended to otherwise
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, step: int, metrics: dict[str, float]) -> dict[str, Any]:
        """Append one line and flush it (a crash loses at most the line being written)."""
        record = {"step": int(step), "time": round(time.time(), 3),
                  "metrics": {k: _finite_or_none(v) for k, v in metrics.items()}}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, allow_nan=False) + "\n")
        return record

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (and a half-written last line).

        On resume from a checkpoint at ``step`` the steps after it are trained again; their old
        lines belong to a continuation that no longer exists and would duplicate the new ones.
        """
        if not self.path.exists():
            return
        keep = [json.dumps(r, allow_nan=False) + "\n" for r in read_log(self.path, strict=False)
                if r["step"] <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(keep)
        os.replace(tmp, self.path)


def read_log(path: str | Path, *, strict: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL log; ``strict=False`` skips damaged lines instead of raising."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                    raise ValueError("not a {step, time, metrics} object")
            except ValueError as err:
                if strict:
                    raise DrumsynthError(f"{path}:{number} is not a metric log line: {err}") from err
                continue
            yield record


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
