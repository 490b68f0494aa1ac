"""OSC 1.0 on the wire: a strict parser for what arrives, and python-osc's builder for replies.

The server parses datagrams itself rather than through python-osc's dispatcher, because that one drops
a malformed datagram without a word (the client must hear why), skips unknown type tags with a log line
(so ``,fX`` would pass as ``,f``), and copies the rest of the datagram for every argument it reads (a
64 KiB datagram of 16,000 ints costs a gigabyte of copying). Here every datagram is read once, in
bounds, and anything off is one ``DrumsynthError`` that says what.

Supported argument types: ``i`` (int32), ``h`` (int64), ``f`` (float32), ``d`` (float64), ``s``
(UTF-8 string), ``b`` (blob), ``T``/``F`` (booleans) and ``N`` (nil). Bundles (nested ones too) are
flattened in order and their time tags ignored: a message runs when it arrives.
"""

from __future__ import annotations

import struct
from typing import Any

from drumsynth.errors import DrumsynthError

MAX_ARGS = 64       # per message: the longest valid one has 8 (the class sliders)
MAX_MESSAGES = 64   # per datagram: one bundle must not make thousands of replies
MAX_DEPTH = 8       # bundles inside bundles
BUNDLE = b"#bundle\x00"
_FIXED = {"i": (">i", 4), "h": (">q", 8), "f": (">f", 4), "d": (">d", 8)}
_CONSTANTS = {"T": True, "F": False, "N": None}


def _malformed(why: str) -> DrumsynthError:
    return DrumsynthError(f"malformed OSC packet: {why}")


def _padded(n: int) -> int:
    return (n + 3) & ~3


def _string(data: bytes, start: int, what: str) -> tuple[str, int]:
    end = data.find(b"\x00", start)
    if end < 0:
        raise _malformed(f"{what} has no NUL terminator")
    nxt = start + _padded(end - start + 1)
    if nxt > len(data):
        raise _malformed(f"{what} is not padded to 4 bytes")
    try:
        return data[start:end].decode("utf-8"), nxt
    except UnicodeDecodeError:
        raise _malformed(f"{what} is not UTF-8") from None


def parse_message(data: bytes) -> tuple[str, list[Any]]:
    """One OSC message -> ``(address, arguments)``; a ``DrumsynthError`` for anything malformed."""
    address, i = _string(data, 0, "the address")
    if not address.startswith("/"):
        raise _malformed(f"address {address[:80]!r} does not start with '/'")
    if i == len(data):
        return address, []  # OSC 1.0 allows a message without a type tag string
    tags, i = _string(data, i, "the type tag string")
    if not tags.startswith(","):
        raise _malformed(f"type tag string {tags[:80]!r} does not start with ','")
    tags = tags[1:]
    if len(tags) > MAX_ARGS:
        raise _malformed(f"{len(tags)} arguments (at most {MAX_ARGS})")
    args: list[Any] = []
    for tag in tags:
        if tag in _FIXED:
            fmt, size = _FIXED[tag]
            if i + size > len(data):
                raise _malformed(f"the '{tag}' argument runs past the end")
            args.append(struct.unpack_from(fmt, data, i)[0])
            i += size
        elif tag in _CONSTANTS:
            args.append(_CONSTANTS[tag])
        elif tag == "s":
            text, i = _string(data, i, "a string argument")
            args.append(text)
        elif tag == "b":
            if i + 4 > len(data):
                raise _malformed("a blob's size runs past the end")
            size = struct.unpack_from(">i", data, i)[0]
            if size < 0 or i + 4 + _padded(size) > len(data):
                raise _malformed(f"a blob of {size} bytes does not fit the packet")
            args.append(bytes(data[i + 4:i + 4 + size]))
            i += 4 + _padded(size)
        else:
            raise _malformed(f"type tag {tag!r} is not supported (use i, h, f, d, s, b, T, F, N)")
    if i != len(data):
        raise _malformed(f"{len(data) - i} bytes after the last argument")
    return address, args


def parse_packet(data: bytes) -> list[tuple[str, list[Any]]]:
    """The messages of one datagram (a message, or a bundle flattened in order)."""
    messages: list[tuple[str, list[Any]]] = []
    _collect(bytes(data), 0, messages)
    return messages


def _collect(data: bytes, depth: int, out: list[tuple[str, list[Any]]]) -> None:
    if not data.startswith(BUNDLE):
        if not data.startswith(b"/"):
            raise _malformed("neither a message (starts with '/') nor a bundle ('#bundle')")
        if len(out) >= MAX_MESSAGES:
            raise _malformed(f"more than {MAX_MESSAGES} messages in one datagram")
        out.append(parse_message(data))
        return
    if depth >= MAX_DEPTH:
        raise _malformed(f"bundles nested more than {MAX_DEPTH} deep")
    i = len(BUNDLE) + 8  # the time tag, ignored
    if len(data) < i:
        raise _malformed("a bundle shorter than its header")
    while i < len(data):
        if i + 4 > len(data):
            raise _malformed("a bundle element's size runs past the end")
        size = struct.unpack_from(">i", data, i)[0]
        if size <= 0 or i + 4 + size > len(data):
            raise _malformed(f"a bundle element of {size} bytes does not fit the bundle")
        _collect(data[i + 4:i + 4 + size], depth + 1, out)
        i += 4 + size


def build(address: str, *args: str | int | float) -> bytes:
    """A reply datagram: str -> ``s``, int -> ``i`` (int32), float -> ``f`` (float32, what Max and Pd
    read)."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address=address)
    for arg in args:
        if isinstance(arg, str):
            # Paths that are not UTF-8 (surrogate escapes) cannot travel as OSC strings.
            builder.add_arg(arg.encode("utf-8", "replace").decode("utf-8"), "s")
        elif isinstance(arg, int) and not isinstance(arg, bool):
            builder.add_arg(int(arg), "i")
        else:
            builder.add_arg(float(arg), "f")
    return builder.build().dgram
