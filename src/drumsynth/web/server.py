"""Running the web app with uvicorn: in the foreground (``drumsynth web``) or on a background thread
(tests, ``scripts/web_latency.py``), on a socket bound here so that a taken port is one clear error
and port 0 gives a free one."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from drumsynth.errors import DrumsynthError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free one)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise DrumsynthError(f"port must be an integer in 0..65535, got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise DrumsynthError(f"cannot resolve host {host!r}: {err.strerror}") from err
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as err:
        sock.close()
        raise DrumsynthError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def _server(app: Any, sock: socket.socket, log_level: str) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on")
    return uvicorn.Server(config)


def serve_forever(app: Any, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl-C)."""
    _server(app, sock, log_level).run(sockets=[sock])


@dataclass
class Running:
    """A server on a background thread; :meth:`stop` shuts it down and joins the thread."""

    url: str
    server: Any
    thread: threading.Thread
    sock: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
                    timeout: float = 20.0) -> Running:
    """Start ``app`` on a background thread and wait until it accepts connections."""
    sock = bind(host, port)
    server = _server(app, sock, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="drumsynth-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise DrumsynthError(f"the web server did not start within {timeout:.0f} s")
        time.sleep(0.02)
    return Running(url_of(sock), server, thread, sock)
