"""Request size limits, enforced while the body arrives (before any route or parser reads it).

A JSON control message is a few kilobytes; an upload is one drum sound. :class:`BodyLimit` answers 413
as soon as a request announces (``Content-Length``) or sends more than its route allows, so an
oversized or endless body costs neither memory nor disk (FastAPI's own form parsing would spool it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from drumsynth.audio.io import AUDIO_SUFFIXES
from drumsynth.errors import DrumsynthError

JSON_LIMIT = 256 * 1024           # bytes of a control request (a latent of 4096 floats is ~90 KB)
UPLOAD_LIMIT = 16 * 1024 * 1024   # bytes of an uploaded sound (a 60 s 24-bit stereo WAV is 16 MB)
UPLOAD_SECONDS = 30.0             # Analyze reads a drum hit, not a song
UPLOAD_TYPES = ("", "application/octet-stream")  # and any audio/*


class TooLarge(Exception):
    """The body passed its limit while it was being received."""


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: at most ``upload`` bytes for paths in ``upload_paths``, ``default`` for the rest."""

    def __init__(self, app: Callable, *, default: int = JSON_LIMIT, upload: int = UPLOAD_LIMIT,
                 upload_paths: tuple[str, ...] = ("/api/analyze",)) -> None:
        self.app, self.default, self.upload, self.upload_paths = app, default, upload, upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload if scope.get("path") in self.upload_paths else self.default
        announced = dict(scope.get("headers") or []).get(b"content-length")
        if announced is not None and (not announced.isdigit() or int(announced) > limit):
            await _refuse(send, limit)
            return
        seen = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return message

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"request body too large (limit {limit} bytes)"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def check_upload(name: object, content_type: object) -> str:
    """The upload's file name if its suffix and content type say audio; else a ``DrumsynthError``."""
    if not isinstance(name, str) or not name or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise DrumsynthError(f"upload needs a file name (1-255 printable characters), got {name!r:.80}")
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in AUDIO_SUFFIXES:
        raise DrumsynthError(f"{name!r:.80} is not an audio file the server reads "
                             f"({', '.join(AUDIO_SUFFIXES)})")
    kind = str(content_type or "").split(";")[0].strip().lower()
    if kind not in UPLOAD_TYPES and not kind.startswith("audio/"):
        raise DrumsynthError(f"upload content type {kind!r:.80} is not audio")
    return name
