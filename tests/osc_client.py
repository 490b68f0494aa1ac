"""Test helpers: a real python-osc client and an OSC server running in a thread, on loopback.

The server is :class:`drumsynth.serve.osc.OscServer` on a free port (port 0); the client sends with
python-osc's ``SimpleUDPClient`` and collects replies on its own socket (the server's reply port) in a
background thread, so a burst of replies is never lost to a full socket buffer.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from drumsynth.export.wav import HitFolder
from drumsynth.inference.session import Session
from drumsynth.serve.instrument import Instrument
from drumsynth.serve.osc import OscServer
from drumsynth.serve.paths import AllowedFolders
from drumsynth.serve.wire import parse_message

REPLY_TIMEOUT = 20.0  # seconds: a render on a busy 2-core machine takes well under one


class OscClient:
    """Sends to ``port`` with python-osc; replies arrive on :attr:`reply_port`."""

    def __init__(self, port: int) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self.sender = SimpleUDPClient("127.0.0.1", port, timeout=5.0)
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.reply_port = self.sock.getsockname()[1]
        self.replies: queue.Queue[tuple[str, list[Any]]] = queue.Queue()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.replies.put(parse_message(data))
            self.received += 1

    def send(self, address: str, *args: Any) -> None:
        self.sender.send_message(address, list(args))

    def send_raw(self, data: bytes) -> None:
        self.sender._sock.sendto(data, self.target)

    def reply(self, timeout: float = REPLY_TIMEOUT) -> tuple[str, list[Any]]:
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no reply within {timeout} s") from None

    def request(self, address: str, *args: Any) -> tuple[str, list[Any]]:
        self.send(address, *args)
        return self.reply()

    def sample(self, address: str, *args: Any) -> Path:
        """Send a rendering request; its reply must be ``/drum/sample``; returns the path."""
        kind, values = self.request(address, *args)
        assert kind == "/drum/sample", (address, args, kind, values)
        return Path(values[0])

    def no_more_replies(self, wait: float = 0.3) -> bool:
        with contextlib.suppress(AssertionError):
            extra = self.reply(timeout=wait)
            raise AssertionError(f"unexpected extra reply {extra}")
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        self.sender.close()


@contextlib.contextmanager
def running_server(session: Session, root: Path, *, reply_port: int | None = None,
                   allow: tuple[Path, ...] = ()) -> Iterator[tuple[OscServer, OscClient]]:
    """An OscServer for ``session`` writing to ``root/out`` (and reading ``root/out`` and ``allow``),
    in a thread, with a client; shut down and joined on exit (the test fails if it does not stop)."""
    out = root / "out"
    out.mkdir(parents=True, exist_ok=True)
    server = OscServer(Instrument(session, HitFolder(out)), AllowedFolders([out, *allow]), port=0, reply_port=1)
    try:
        client = OscClient(server.port)
    except BaseException:
        server.close()
        raise
    server.reply_port = client.reply_port if reply_port is None else reply_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, client
    finally:
        server.shutdown()
        thread.join(15)
        client.close()
        server.close()
        assert not thread.is_alive(), "the server did not stop"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.is_dir()}
