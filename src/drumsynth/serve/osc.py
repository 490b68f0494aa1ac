"""``drumsynth serve``: the OSC server a Max for Live device, a Pd patch or any OSC controller plays.

The Neural Drum Machine's device talked to a Python server over UDP: each control change is a message,
the server renders a WAV and answers with its path, and the device loads it into its buffer. This is
that server for every drumsynth model, with DESIGN §5's address table (numbers may be int or float;
``[x]`` is optional):

=============================  ==========================================================================
``/drum/ping``                 ``/drum/pong <family> <class>...`` at once (the classes fill a menu)
``/drum/type s|i``             the class menu: a class name or index; the sliders become that class
``/drum/class f...``           the class sliders: one weight per class (ndm 8, drumgan 3), any finite value
``/drum/generate [i]``         a new latent centre from the prior (seed ``i``, else the next), at intensity 0
``/drum/vary/intensity f``     the centre moved ``f`` along the variation direction
``/drum/vary/new_direction [i]`` a new variation direction (seed ``i``, else the next); renders again
``/drum/xy f f``               the XY pad: ndm's P1, P2 in [-1, 1]; others the plane ``z + x·e1 + y·e2``
``/drum/fine f``               ndm's Fine knob (P3) in [-1, 1]
``/drum/range f``              ndm's pad range, standard deviations in (0, 8]
``/drum/style/<k> f``          the style family's PCA fader ``k`` (0-based), in standard deviations
``/drum/noise f``              the style family's noise amount, every layer (1 as trained, 0 none)
``/drum/analyze s``            the sound at path ``s`` becomes the centre (and sliders, where estimated)
``/drum/morph s s f [i]``      morph from sound ``s`` to sound ``s`` at ``f`` in [0, 1]; ``i``: 0 lerp, 1 slerp
``/drum/crop f f``             keep [start, end) of the hit (fractions); ``0 1`` keeps it whole
``/drum/save [s]``             write the current sound as ``<s>_<class>_<NNN>.wav`` (default prefix "saved")
=============================  ==========================================================================

Replies go to the sender's address on the reply port (7401; 0: the port the message came from):

- ``/drum/sample <path> <id> <ms>`` — a WAV was written: its absolute path, the request's id (the
  server numbers every message it receives from 1) and the milliseconds from arrival to reply;
- ``/drum/dropped <id> <address>`` — a newer message replaced this one before it rendered ("latest
  wins": its control change still counts, the newer render includes it);
- ``/drum/error <msg> <id>`` — the message was refused (unknown address, wrong argument count or type,
  NaN, a value out of range, a missing or unreadable file, a path outside the allowed folders...);
  nothing changed.

Every message except ``/drum/ping`` changes a control, then asks for a render; renders run on one worker
thread (:mod:`drumsynth.serve.latest`) so the receive loop keeps answering while a hit decodes. Every
check that needs no model runs on the receive thread, so malformed messages never reach the worker.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError
from drumsynth.serve import wire
from drumsynth.serve.instrument import Instrument, check_crop
from drumsynth.serve.latest import LatestWins, QueueFull, Superseded
from drumsynth.serve.paths import AllowedFolders

DEFAULT_PORT = 7400
DEFAULT_REPLY_PORT = 7401
MAX_DATAGRAM = 65536
MAX_ERROR = 600           # characters of an error reply: a blob's repr must not fill a datagram
POLL_SECONDS = 0.2        # how often the receive loop looks at its stop flag
RECEIVE_BUFFER = 1 << 21  # bytes: absorbs a controller's burst while the loop catches up
MAX_SEED = 2**63 - 1
RENDER_STREAM = "render"  # the one latest-wins lane: every render replaces the one still waiting
MORPH_METHODS = ("lerp", "slerp")


def open_socket(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> socket.socket:
    """A UDP socket bound to ``host``:``port`` (port 0: any free one), with a large receive buffer.

    Raises ``OSError`` (an address in use, a host this machine does not have).
    """
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) resolves only to loopback addresses."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


# ---- arguments ---------------------------------------------------------------------------------------


def _count(args: list[Any], usage: str, lo: int, hi: int | None = None) -> None:
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        raise DrumsynthError(f"takes {usage}, got {len(args)} argument{'s' * (len(args) != 1)}")


def _number(value: Any, name: str) -> float:
    """An int or float argument as a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DrumsynthError(f"{name} must be a number (int or float), got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise DrumsynthError(f"{name} must be finite, got {number}")
    return number


def _integer(value: Any, name: str, lo: int, hi: int) -> int:
    """An int argument, or a float with an integral value (Max sends 3. for 3), in [lo, hi]."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DrumsynthError(f"{name} must be an integer, got {_kind(value)}")
    if not lo <= value <= hi:
        raise DrumsynthError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise DrumsynthError(f"{name} must be a string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bytes):
        return f"a blob of {len(value)} bytes"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    return f"{value!r}" if isinstance(value, bool | int | float) or value is None else type(value).__name__


# ---- the address table -----------------------------------------------------------------------------


@dataclass
class Action:
    """What a valid message does on the worker: ``apply`` changes a control (never dropped); a
    ``render`` follows it (latest wins). ``apply`` returning a path answers by itself (Save)."""

    apply: Callable[[], Any] | None
    render: bool = True


class Protocol:
    """Checks each message against the address table and turns it into an :class:`Action`.

    Runs on the receive thread and reads only what never changes (the model's classes, whether it has
    the NDM's pad), so it needs no lock; the actions run on the worker.
    """

    def __init__(self, instrument: Instrument, allowed: AllowedFolders) -> None:
        self.instrument, self.allowed = instrument, allowed
        session = instrument.session
        self.family, self.classes = session.family, session.classes
        self.routes: dict[str, Callable[[list[Any]], Action]] = {
            "/drum/type": self.type, "/drum/class": self.sliders, "/drum/generate": self.generate,
            "/drum/vary/intensity": self.intensity, "/drum/vary/new_direction": self.new_direction,
            "/drum/xy": self.xy, "/drum/fine": self.fine, "/drum/range": self.range,
            "/drum/noise": self.noise, "/drum/analyze": self.analyze, "/drum/morph": self.morph,
            "/drum/crop": self.crop, "/drum/save": self.save,
        }

    def route(self, address: str) -> Callable[[list[Any]], Action]:
        if address in self.routes:
            return self.routes[address]
        if re.fullmatch(r"/drum/style/\d{1,3}", address):
            return functools.partial(self.style, address=address)
        raise DrumsynthError(f"unknown address (known: /drum/ping, {', '.join(self.routes)}, /drum/style/<k>)")

    def pong(self) -> tuple[str, ...]:
        return (self.family, *self.classes)

    def type(self, args: list[Any]) -> Action:
        _count(args, "one class name or index (s|i)", 1)
        cls = args[0]
        if isinstance(cls, str):
            if cls not in self.classes:
                raise DrumsynthError(f"class {cls[:60]!r} is not one of {list(self.classes)}")
        else:
            cls = _integer(cls, "class index", 0, len(self.classes) - 1)
        return Action(lambda: self.instrument.set_type(cls))

    def sliders(self, args: list[Any]) -> Action:
        n = len(self.classes)
        _count(args, f"{n} class weights ({' '.join(self.classes)})", n)
        weights = [_number(v, f"weight of {c}") for v, c in zip(args, self.classes)]
        return Action(lambda: self.instrument.set_sliders(weights))

    def generate(self, args: list[Any]) -> Action:
        _count(args, "an optional seed [i]", 0, 1)
        seed = _integer(args[0], "seed", 0, MAX_SEED) if args else None
        return Action(lambda: self.instrument.generate(seed))

    def intensity(self, args: list[Any]) -> Action:
        _count(args, "one intensity (f)", 1)
        value = _number(args[0], "intensity")
        return Action(lambda: self.instrument.set_intensity(value))

    def new_direction(self, args: list[Any]) -> Action:
        _count(args, "an optional seed [i]", 0, 1)
        seed = _integer(args[0], "seed", 0, MAX_SEED) if args else None
        return Action(lambda: self.instrument.new_direction(seed))

    def _pad(self, **values: float) -> Action:
        self.instrument.check_pad(values)  # refused here, at once, rather than on the worker
        return Action(lambda: self.instrument.set_pad(**values))

    def _needs_pad(self, what: str) -> None:
        if not self.instrument.has_pad:
            raise DrumsynthError(f"{self.family} models have no {what} (the Neural Drum Machine's control; "
                                 "/drum/xy moves on the variation plane)")

    def xy(self, args: list[Any]) -> Action:
        _count(args, "x and y (f f)", 2)
        return self._pad(x=_number(args[0], "x"), y=_number(args[1], "y"))

    def fine(self, args: list[Any]) -> Action:
        self._needs_pad("Fine knob")
        _count(args, "one value in [-1, 1] (f)", 1)
        return self._pad(fine=_number(args[0], "fine"))

    def range(self, args: list[Any]) -> Action:
        self._needs_pad("pad range")
        _count(args, "one range in standard deviations (f)", 1)
        return self._pad(range_std=_number(args[0], "range"))

    def _needs_style(self, what: str) -> None:
        if not self.instrument.has_style:
            raise DrumsynthError(f"{self.family} models have no {what} (the style family's; load a style model)")

    def style(self, args: list[Any], address: str = "") -> Action:
        _count(args, "one fader value (f)", 1)
        value = _number(args[0], "fader value")
        self._needs_style("style faders")
        k, value = self.instrument.session.check_style(int(address.rsplit("/", 1)[1]), value)  # refused at once
        return Action(lambda: self.instrument.set_style(k, value))

    def noise(self, args: list[Any]) -> Action:
        _count(args, "one noise amount (f)", 1)
        amount = _number(args[0], "noise amount")
        self._needs_style("noise inputs")
        self.instrument.session.check_noise(amount)
        return Action(lambda: self.instrument.set_noise(amount))

    def analyze(self, args: list[Any]) -> Action:
        _count(args, "the path of a sound (s)", 1)
        path = self.allowed.check(_text(args[0], "path"), "sound")
        return Action(lambda: self.instrument.analyze(path))

    def morph(self, args: list[Any]) -> Action:
        _count(args, "two sound paths, t and an optional method (s s f [i]: 0 lerp, 1 slerp)", 3, 4)
        a = self.allowed.check(_text(args[0], "first path"), "sound")
        b = self.allowed.check(_text(args[1], "second path"), "sound")
        t = _number(args[2], "t")
        if not 0.0 <= t <= 1.0:
            raise DrumsynthError(f"t must be in [0, 1], got {t}")
        method = MORPH_METHODS[_integer(args[3], "method", 0, 1)] if len(args) == 4 else "slerp"
        return Action(lambda: self.instrument.set_morph(a, b, t, method))

    def crop(self, args: list[Any]) -> Action:
        _count(args, "start and end fractions (f f)", 2)
        start, end = check_crop(_number(args[0], "start"), _number(args[1], "end"))
        return Action(lambda: self.instrument.set_crop(start, end))

    def save(self, args: list[Any]) -> Action:
        from drumsynth.export.wav import plain_name

        _count(args, "an optional file name prefix [s]", 0, 1)
        prefix = plain_name(_text(args[0], "prefix") if args else "saved")
        return Action(lambda: self.instrument.render(prefix), render=False)


# ---- the server ------------------------------------------------------------------------------------


class OscServer:
    """The UDP loop: receive, check, queue, reply. See the module docstring for the protocol.

    Parameters
    ----------
    instrument : what renders (its Session is used by the worker thread only)
    allowed : the folders ``/drum/analyze`` and ``/drum/morph`` may read
    sock : a socket from :func:`open_socket` (the server owns it from now on), or ``None`` to open one on
        ``host``:``port`` (port 0: any free port; :attr:`port` tells which)
    reply_port : the port replies go to on the sender's address (0: the port the message came from)
    log : called with one line per request and reply (``drumsynth serve --verbose``), or ``None``
    """

    def __init__(self, instrument: Instrument, allowed: AllowedFolders, *, sock: socket.socket | None = None,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT, reply_port: int = DEFAULT_REPLY_PORT,
                 log: Callable[[str], None] | None = None) -> None:
        self.protocol = Protocol(instrument, allowed)
        self.reply_port, self.log = reply_port, log
        self.sock = open_socket(host, port) if sock is None else sock
        self.sock.settimeout(POLL_SECONDS)
        self.host, self.port = self.sock.getsockname()[:2]
        self.worker = LatestWins(name="drumsynth-osc-render")
        self.requests = 0
        self._stop = threading.Event()
        self._closed = False

    # -- replies (from the receive thread and the worker: sendto on one UDP socket is thread-safe)

    def _send(self, target: tuple[str, int], address: str, *args: str | int | float) -> None:
        if self.log is not None:
            self.log(f"-> {target[0]}:{target[1]} {address} {' '.join(map(str, args))}")
        try:
            self.sock.sendto(wire.build(address, *args), target)
        except OSError as err:  # the client went away; nothing to tell it
            if self.log is not None:
                self.log(f"reply to {target[0]}:{target[1]} failed: {err.strerror or err}")

    def _error(self, target: tuple[str, int], rid: int, text: str) -> None:
        if len(text) > MAX_ERROR:
            text = text[:MAX_ERROR - 3] + "..."
        self._send(target, "/drum/error", text, rid)

    def _reply_target(self, sender: tuple) -> tuple[str, int]:
        return sender[0], self.reply_port or sender[1]

    # -- requests

    def _next_id(self) -> int:
        self.requests += 1
        return (self.requests - 1) % (2**31 - 1) + 1  # an int32 for Max and Pd

    def handle_datagram(self, data: bytes, sender: tuple) -> None:
        """Every message of ``data`` gets exactly one reply (a datagram that does not parse: one error)."""
        received = time.perf_counter()
        target = self._reply_target(sender)
        try:
            messages = wire.parse_packet(data)
        except DrumsynthError as err:
            self._error(target, self._next_id(), str(err))
            return
        for address, args in messages:
            rid = self._next_id()
            if self.log is not None:
                self.log(f"<- {sender[0]}:{sender[1]} #{rid} {address} {' '.join(_kind(a) for a in args)}")
            try:
                self._handle(address, args, target, rid, received)
            except DrumsynthError as err:
                self._error(target, rid, f"{address[:100]}: {err}")
            except Exception as err:  # a bug: say so, keep serving
                traceback.print_exception(err, file=sys.stderr)
                self._error(target, rid, f"{address[:100]}: internal error ({type(err).__name__}); see the server log")

    def _handle(self, address: str, args: list[Any], target: tuple[str, int], rid: int, received: float) -> None:
        if address == "/drum/ping":
            _count(args, "no arguments", 0)
            self._send(target, "/drum/pong", *self.protocol.pong())
            return
        action = self.protocol.route(address)(args)
        failed = threading.Event()  # set when the control change failed: its render must not answer too

        def apply() -> Any:
            try:
                return action.apply()
            except BaseException:
                failed.set()
                raise

        def render() -> Path | None:
            return None if failed.is_set() else self.protocol.instrument.render()

        def answer(future: Any) -> None:
            if not (failed.is_set() and future is not applied):  # a failed change answers once, itself
                self._answer(future, target, rid, address, received, final=future is not applied or not action.render)

        try:
            applied = self.worker.submit(apply)
            applied.add_done_callback(answer)
            if action.render:
                self.worker.submit(render, key=RENDER_STREAM).add_done_callback(answer)
        except QueueFull as err:
            raise DrumsynthError(f"server busy: {err}") from None

    def _answer(self, future: Any, target: tuple[str, int], rid: int, address: str, received: float, *,
                final: bool) -> None:
        """Reply for a finished job: a control change answers only when it failed or is the last step."""
        if future.cancelled():
            return
        err = future.exception()
        if isinstance(err, Superseded):
            self._send(target, "/drum/dropped", rid, address)
        elif isinstance(err, DrumsynthError):
            self._error(target, rid, f"{address[:100]}: {err}")
        elif err is not None:
            self._error(target, rid, f"{address[:100]}: internal error ({type(err).__name__}); see the server log")
        elif final and isinstance(future.result(), Path):
            ms = (time.perf_counter() - received) * 1000
            self._send(target, "/drum/sample", str(future.result()), rid, round(ms, 3))

    # -- the loop

    def serve_forever(self) -> None:
        """Receive until :meth:`shutdown`; then stop the worker (letting a running render finish) and
        close the socket."""
        try:
            while not self._stop.is_set():
                try:
                    data, sender = self.sock.recvfrom(MAX_DATAGRAM)
                except TimeoutError:
                    continue
                except OSError as err:
                    if self._stop.is_set():
                        break
                    if self.log is not None:  # e.g. an ICMP error from an earlier reply
                        self.log(f"receive failed: {err.strerror or err}")
                    continue
                self.handle_datagram(data, sender)
        finally:
            self.close()

    def shutdown(self) -> None:
        """Ask :meth:`serve_forever` to return (within ``POLL_SECONDS``); safe from a signal handler."""
        self._stop.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.worker.close()
        self.sock.close()
