"""One render worker for the interactive front ends (OSC, web): jobs in order, streams "latest wins".

A pad or a knob sends a new position every few milliseconds while a hit takes tens of milliseconds to
decode, and the models are neither re-entrant nor faster on two threads of a small CPU. So every job
runs on one worker thread, in the order it was submitted, and a job submitted with a ``key`` (a
*stream*: one pad, one client's knob) replaces the job of the same key that is still waiting: the
replaced job's future fails with :class:`Superseded` and the newest one runs in its place, at the end
of the queue. Jobs without a key (a state change, Generate, Save) are never replaced. A job that is
already running is never interrupted.

Usage::

    worker = LatestWins()
    future = worker.submit(lambda: session.plane(x, y), key="pad")   # concurrent.futures.Future
    render = future.result()          # raises Superseded when a newer "pad" job replaced it
    worker.close()

A future cancelled by its caller before it runs (a web client that went away) is skipped.
"""

from __future__ import annotations

import collections
import sys
import threading
import traceback
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from drumsynth.errors import DrumsynthError

MAX_WAITING = 256  # jobs queued at most: beyond, submit refuses (a flood must not grow memory)


class Superseded(Exception):
    """The job was replaced by a newer job of its stream before it ran (or could not be queued)."""


class QueueFull(Superseded):
    """``submit`` found ``max_waiting`` jobs already waiting; nothing was queued."""


class _Job:
    __slots__ = ("fn", "key", "future")

    def __init__(self, fn: Callable[[], Any], key: Hashable | None) -> None:
        self.fn, self.key, self.future = fn, key, Future()


def _settle(future: Future, *, result: Any = None, error: BaseException | None = None) -> None:
    """Set a future's outcome unless its caller cancelled it meanwhile."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class LatestWins:
    """A single worker thread; see the module docstring.

    Parameters
    ----------
    name : the thread's name (shows in tracebacks and ``py-spy``)
    max_waiting : jobs that may wait at once; :meth:`submit` raises :class:`QueueFull` beyond
    """

    def __init__(self, *, name: str = "drumsynth-render", max_waiting: int = MAX_WAITING) -> None:
        if not isinstance(max_waiting, int) or isinstance(max_waiting, bool) or max_waiting < 1:
            raise ValueError(f"max_waiting must be a positive integer, got {max_waiting!r}")
        self.max_waiting = max_waiting
        self._waiting: collections.OrderedDict[int, _Job] = collections.OrderedDict()
        self._by_key: dict[Hashable, int] = {}
        self._counter = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], Any], *, key: Hashable | None = None) -> Future:
        """Queue ``fn()`` to run on the worker; returns its future.

        With a ``key``, a job of the same key still waiting is replaced: its future fails with
        :class:`Superseded`. Raises :class:`QueueFull` when ``max_waiting`` jobs are waiting and
        ``RuntimeError`` after :meth:`close`.
        """
        job = _Job(fn, key)
        replaced = None
        with self._cond:
            if self._closed:
                raise RuntimeError("the render worker is closed")
            if key is not None and key in self._by_key:
                replaced = self._waiting.pop(self._by_key.pop(key))
            elif len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} requests are waiting already; try again shortly")
            self._counter += 1
            self._waiting[self._counter] = job
            if key is not None:
                self._by_key[key] = self._counter
            self._cond.notify()
        if replaced is not None:  # outside the lock: its callbacks may submit again
            _settle(replaced.future, error=Superseded(f"replaced by a newer {key!r} request"))
        return job.future

    @property
    def waiting(self) -> int:
        """Jobs queued and not yet started."""
        with self._cond:
            return len(self._waiting)

    def _next(self) -> _Job | None:
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if not self._waiting:
                return None
            _, job = self._waiting.popitem(last=False)
            if job.key is not None:
                self._by_key.pop(job.key, None)
            return job

    def _run(self) -> None:
        while (job := self._next()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue  # its caller gave up on it
            try:
                result = job.fn()
            except Exception as err:  # the caller's to report; the worker must outlive any job
                if not isinstance(err, DrumsynthError | Superseded):  # a bug: keep its traceback
                    traceback.print_exception(err, file=sys.stderr)
                _settle(job.future, error=err)
            else:
                _settle(job.future, result=result)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Stop taking jobs, fail those still waiting with :class:`Superseded`, let the running one
        finish, and join the thread (at most ``timeout`` seconds). Returns whether the thread ended."""
        with self._cond:
            self._closed = True
            dropped = list(self._waiting.values())
            self._waiting.clear()
            self._by_key.clear()
            self._cond.notify_all()
        for job in dropped:
            _settle(job.future, error=Superseded("the server is shutting down"))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()
