"""Dataclass schema helpers: strict construction from dicts, TOML preset overlays, ``--set a.b=v``.

Every family describes its hyperparameters as one tree of dataclasses. Presets are small TOML files
that overlay the dataclass defaults; the command line overrides single leaves. Unknown keys and
values of the wrong type are errors, never silently ignored.
"""

from __future__ import annotations

import ast
import dataclasses
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


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: tables merge, leaves of ``overlay`` win."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


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
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as err:
        raise DrumsynthError(f"config file not found: {path}") from err
    except tomllib.TOMLDecodeError as err:
        raise DrumsynthError(f"config file {path} is not valid TOML: {err}") from err


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
        data = merge(data, parse_override(text))
    return from_dict(cls, data)
