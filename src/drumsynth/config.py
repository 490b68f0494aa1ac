"""Dataclass schema helpers: strict construction from dicts, TOML preset overlays, ``--set a.b=v``.

Every family describes its hyperparameters as one tree of dataclasses. Presets are small TOML files
that overlay the dataclass defaults; the command line overrides single leaves. Unknown keys and
values of the wrong type are errors, never silently ignored.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from drumsynth.errors import DrumsynthError

T = TypeVar("T")


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; int is accepted where float is expected."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except DrumsynthError as err:
                errors.append(str(err))
        raise DrumsynthError(f"{where}: {value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise DrumsynthError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise DrumsynthError(f"{where}: expected a table, got {value!r}")
        return from_dict(tp, value, _where=where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise DrumsynthError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise DrumsynthError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise DrumsynthError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DrumsynthError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DrumsynthError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise DrumsynthError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise DrumsynthError(f"{where}: expected a string, got {value!r}")
        return value
    raise DrumsynthError(f"{where}: unsupported field type {tp!r}")


def from_dict(cls: type[T], data: dict[str, Any], *, _where: str = "") -> T:
    """Build dataclass ``cls`` from a (nested) dict; unknown keys and wrong types raise."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        prefix = f"{_where}." if _where else ""
        raise DrumsynthError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)}")
    kwargs = {}
    for name, value in data.items():
        where = f"{_where}.{name}" if _where else name
        kwargs[name] = _coerce(value, hints[name], where)
    return cls(**kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain nested dict of a dataclass (tuples become lists), safe for checkpoints and JSON."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(obj)


def merge(base: dict[str, Any], overlay: dict[str, Any], *, _where: str = "") -> dict[str, Any]:
    """Recursive dict merge: tables merge, leaves of ``overlay`` win.

    A scalar or list where ``base`` has a table, or a table where ``base`` has a scalar or list, is a
    ``DrumsynthError`` naming the key: replacing a whole table would silently bring back every default
    of that section (``--set train=5`` once turned a tiny run into 110,000 steps). ``None`` in
    ``base`` (an optional value) takes anything; the schema checks it afterwards.
    """
    out = dict(base)
    for key, value in overlay.items():
        where = f"{_where}.{key}" if _where else str(key)
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge(current, value, _where=where)
            continue
        if isinstance(current, dict):
            raise DrumsynthError(
                f"{where} is a table; set its keys one by one ({where}.KEY=VALUE), not {value!r}")
        if isinstance(value, dict) and key in out and current is not None:
            raise DrumsynthError(f"{where} is a single value ({current!r}), not a table; got {value!r}")
        out[key] = value
    return out


# Value domains for check_domains: (test, what the message says).
_DOMAINS = {
    "positive": (lambda v: v > 0, "> 0"),
    "count": (lambda v: v >= 1, ">= 1"),
    "non_negative": (lambda v: v >= 0, ">= 0"),
    "share": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "decay": (lambda v: 0 <= v < 1, "in [0, 1)"),
}


def check_domains(obj: Any, section: str, rules: dict[str, str]) -> None:
    """Raise ``DrumsynthError`` naming ``section.field`` for a value outside its domain.

    ``rules`` maps field names to a domain of ``_DOMAINS`` (``"positive"``, ``"count"``,
    ``"non_negative"``, ``"share"``, ``"decay"``); list fields are checked item by item. Numbers must
    also be finite (TOML and ``--set`` can spell ``inf``). Other types are left to the schema's type
    check. Called from the family dataclasses' ``__post_init__``.
    """
    for name, domain in rules.items():
        test, wanted = _DOMAINS[domain]
        value = getattr(obj, name)
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            if not math.isfinite(item) or not test(item):
                raise DrumsynthError(f"{section}.{name} must be a finite number {wanted}, got {value!r}")


def parse_override(text: str) -> dict[str, Any]:
    """``"train.lr=2e-4"`` -> ``{"train": {"lr": 0.0002}}``; values are Python/TOML-ish literals."""
    if "=" not in text:
        raise DrumsynthError(f"override {text!r} must look like key.path=value")
    path, raw = text.split("=", 1)
    keys = [k.strip() for k in path.split(".")]
    if not all(keys):
        raise DrumsynthError(f"override {text!r} has an empty key")
    raw = raw.strip()
    lowered = raw.lower()
    if lowered in ("true", "false"):
        value: Any = lowered == "true"
    else:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # a bare word is a string
    node: dict[str, Any] = {}
    out = node
    for key in keys[:-1]:
        node[key] = {}
        node = node[key]
    node[keys[-1]] = value
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read one TOML file; a missing or malformed file is a ``DrumsynthError``."""
    from drumsynth.audio.io import open_regular

    path = Path(path)
    if not path.exists():
        raise DrumsynthError(f"config file not found: {path}")
    try:
        with open_regular(path) as fh:  # a folder or a FIFO is refused, not read (or waited on)
            return tomllib.load(fh)
    except DrumsynthError as err:
        raise DrumsynthError(f"config file: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise DrumsynthError(f"config file {path} is not valid TOML: {err}") from err
    except UnicodeDecodeError as err:
        raise DrumsynthError(f"config file {path} is not UTF-8 text (TOML): {err.reason}") from err
    except OSError as err:
        raise DrumsynthError(f"cannot read config file {path}: {err.strerror or err}") from err


def build_config(
    cls: type[T],
    overlays: list[dict[str, Any]] | None = None,
    overrides: list[str] | None = None,
) -> T:
    """Defaults of ``cls``, then each overlay dict in order, then ``--set`` overrides."""
    data = to_dict(cls())
    for overlay in overlays or []:
        data = merge(data, overlay)
    for text in overrides or []:
        try:
            data = merge(data, parse_override(text))
        except DrumsynthError as err:
            raise DrumsynthError(f"--set {text}: {err}") from err
    return from_dict(cls, data)
