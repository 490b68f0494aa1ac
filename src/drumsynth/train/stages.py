"""Stage lines: what training does before its progress bar appears, and how long each part took.

Setting up a run (reading the cache, decoding and analysing every clip, building the networks, the first
step) takes a minute on the ``cpu`` presets; without a word the user cannot tell a slow start from a
hang. A :class:`StageLog` writes one line per stage to stderr (stdout stays free for ``--json``)::

    loading the cache data/corpus ... 0.1 s (1056 sounds; train 839, valid 113, test 104)
    decoding and analysing the train and valid clips ... 14.2 s
    building the model ... 2.9 s
    first step ... 1.1 s
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO


class StageLog:
    """Writes ``"<stage> ..."`` when a stage starts and `` <seconds> s (<detail>)`` when it ends.

    Parameters
    ----------
    enabled : False writes nothing (``--quiet``, ranks other than 0) but still records durations
    stream : where the lines go (default: ``sys.stderr`` at the time of writing)

    Attributes
    ----------
    durations : {stage: seconds} of the stages that ended, in order
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream
        self.durations: dict[str, float] = {}
        self._open: tuple[str, float] | None = None

    def _write(self, text: str) -> None:
        if self.enabled:
            stream = self.stream if self.stream is not None else sys.stderr
            stream.write(text)
            stream.flush()

    def start(self, what: str) -> None:
        """Begin a stage (ends an open one first, without detail)."""
        if self._open is not None:
            self.end()
        self._open = (what, time.perf_counter())
        self._write(f"{what} ...")

    def end(self, detail: str = "") -> float:
        """End the open stage and return its duration in seconds (0 when none is open)."""
        if self._open is None:
            return 0.0
        what, t0 = self._open
        self._open = None
        seconds = time.perf_counter() - t0
        self.durations[what] = seconds
        self._write(f" {seconds:.1f} s{f' ({detail})' if detail else ''}\n")
        return seconds

    def note(self, text: str) -> None:
        """A line of its own between stages."""
        if self._open is not None:
            self.end()
        self._write(f"{text}\n")

    @contextlib.contextmanager
    def stage(self, what: str) -> Iterator[list[str]]:
        """``with stages.stage("building the model") as detail:`` times the block; append to ``detail``
        to add a note to the stage's line. An exception ends the line too (its message follows it)."""
        detail: list[str] = []
        self.start(what)
        try:
            yield detail
        finally:
            self.end("; ".join(detail))
