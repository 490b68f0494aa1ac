"""drumsynth.config: strict dataclass trees from dicts, TOML overlays and ``--set a.b=v`` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from drumsynth.config import build_config, from_dict, load_toml, merge, parse_override, to_dict
from drumsynth.errors import DrumsynthError


@dataclass
class Optim:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    steps: int = 10


@dataclass
class Model:
    channels: list[int] = field(default_factory=lambda: [8, 16])
    norm: Literal["batch", "none"] = "batch"
    dropout: float | None = None


@dataclass
class Cfg:
    name: str = "toy"
    amp: bool = False
    train: Optim = field(default_factory=Optim)
    model: Model = field(default_factory=Model)


def test_nested_from_dict_keeps_defaults_and_builds_children():
    cfg = from_dict(Cfg, {"name": "kick", "train": {"lr": 1e-3}, "model": {"channels": [4, 4, 4]}})
    assert isinstance(cfg.train, Optim) and isinstance(cfg.model, Model)
    assert cfg.name == "kick" and cfg.train.lr == 1e-3 and cfg.train.steps == 10
    assert cfg.model.channels == [4, 4, 4] and cfg.model.norm == "batch"


@pytest.mark.parametrize("data,named", [({"nmae": "x"}, "nmae"), ({"train": {"lrr": 1.0}}, "train.lrr"),
                                        ({"model": {"chanels": [1]}}, "model.chanels")])
def test_unknown_keys_are_errors_naming_the_full_path(data, named):
    with pytest.raises(DrumsynthError, match=f"unknown config key.*{named}"):
        from_dict(Cfg, data)


@pytest.mark.parametrize("data,where", [
    ({"train": {"lr": "fast"}}, "train.lr"),      # str for float
    ({"train": {"lr": True}}, "train.lr"),        # bool is not a number here
    ({"train": {"steps": 1.5}}, "train.steps"),   # float for int
    ({"train": {"steps": True}}, "train.steps"),  # bool for int
    ({"train": {"steps": "3"}}, "train.steps"),   # str for int
    ({"amp": 1}, "amp"),                          # int for bool
    ({"name": 3}, "name"),                        # int for str
    ({"train": 5}, "train"),                      # scalar for a table
    ({"model": {"channels": 8}}, "model.channels"),
    ({"model": {"channels": [8, 1.5]}}, r"model.channels\[1\]"),
])
def test_wrong_types_are_errors_naming_key_and_value(data, where):
    with pytest.raises(DrumsynthError, match=where):
        from_dict(Cfg, data)


def test_int_is_accepted_where_float_is_expected():
    cfg = from_dict(Cfg, {"train": {"lr": 1}})
    assert cfg.train.lr == 1.0 and type(cfg.train.lr) is float


def test_literal_fields():
    assert from_dict(Cfg, {"model": {"norm": "none"}}).model.norm == "none"
    with pytest.raises(DrumsynthError, match=r"model.norm: 'layer' is not one of \['batch', 'none'\]"):
        from_dict(Cfg, {"model": {"norm": "layer"}})


def test_tuple_and_list_fields():
    cfg = from_dict(Cfg, {"train": {"betas": [0, 0.99]}, "model": {"channels": (1, 2)}})
    assert cfg.train.betas == (0.0, 0.99) and isinstance(cfg.train.betas, tuple)
    assert cfg.model.channels == [1, 2] and isinstance(cfg.model.channels, list)
    with pytest.raises(DrumsynthError, match="train.betas: expected 2 items, got 3"):
        from_dict(Cfg, {"train": {"betas": [0.1, 0.2, 0.3]}})
    with pytest.raises(DrumsynthError, match=r"train.betas\[1\]"):
        from_dict(Cfg, {"train": {"betas": [0.1, "x"]}})


def test_optional_fields():
    assert from_dict(Cfg, {"model": {"dropout": None}}).model.dropout is None
    assert from_dict(Cfg, {"model": {"dropout": 0}}).model.dropout == 0.0
    with pytest.raises(DrumsynthError, match="model.dropout"):
        from_dict(Cfg, {"model": {"dropout": "half"}})


def test_to_dict_is_plain_and_round_trips():
    cfg = Cfg(train=Optim(lr=1e-3), model=Model(channels=[2]))
    data = to_dict(cfg)
    assert data["train"] == {"lr": 1e-3, "betas": [0.5, 0.9], "steps": 10}  # tuples become lists
    assert from_dict(Cfg, data) == cfg


def test_overlays_merge_in_order():
    assert merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}, "d": 3}
    cfg = build_config(Cfg, overlays=[{"train": {"lr": 1e-3, "steps": 5}}, {"train": {"steps": 7}},
                                      {"model": {"norm": "none"}}])
    assert cfg.train.lr == 1e-3 and cfg.train.steps == 7 and cfg.model.norm == "none"
    assert cfg.train.betas == (0.5, 0.9) and cfg.name == "toy"  # untouched defaults survive
    with pytest.raises(DrumsynthError, match="train.lrr"):
        build_config(Cfg, overlays=[{"train": {"lrr": 1.0}}])


@pytest.mark.parametrize("text,expected", [
    ("train.lr=1e-3", {"train": {"lr": 1e-3}}),
    ("train.steps = 20", {"train": {"steps": 20}}),
    ("amp=true", {"amp": True}),
    ("amp=False", {"amp": False}),
    ("model.norm=none", {"model": {"norm": "none"}}),  # a bare word is a string
    ("model.channels=[1, 2]", {"model": {"channels": [1, 2]}}),
    ("name='a=b'", {"name": "a=b"}),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["train.lr", "train..lr=1", "=3"])
def test_malformed_overrides_are_errors(text):
    with pytest.raises(DrumsynthError, match="override"):
        parse_override(text)


def test_overrides_win_over_overlays_and_are_type_checked():
    cfg = build_config(Cfg, overlays=[{"train": {"lr": 1e-2}}],
                       overrides=["train.lr=1e-3", "model.channels=[4, 8]", "train.betas=(0.1, 0.2)"])
    assert cfg.train.lr == 1e-3 and cfg.model.channels == [4, 8] and cfg.train.betas == (0.1, 0.2)
    with pytest.raises(DrumsynthError, match="train.steps"):
        build_config(Cfg, overrides=["train.steps=2.5"])
    with pytest.raises(DrumsynthError, match="unknown config key.*train.nope"):
        build_config(Cfg, overrides=["train.nope=1"])


def test_toml_presets(tmp_path):
    preset = tmp_path / "tiny.toml"
    preset.write_text('name = "tiny"\n[train]\nlr = 1\nbetas = [0.0, 0.9]\n[model]\nchannels = [2]\n')
    cfg = build_config(Cfg, overlays=[load_toml(preset)])
    assert cfg.name == "tiny" and cfg.train.lr == 1.0 and cfg.model.channels == [2]
    with pytest.raises(DrumsynthError, match="not found"):
        load_toml(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[train\nlr = 1\n")
    with pytest.raises(DrumsynthError, match="not valid TOML"):
        load_toml(tmp_path / "bad.toml")
