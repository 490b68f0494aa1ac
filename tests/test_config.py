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


@pytest.mark.parametrize("overrides,named", [
    (["train=5"], "train is a table"),
    # the trap of issue 12: the scalar replaced the table, the next --set rebuilt it from defaults
    (["train=5", "train.steps=3"], "train is a table"),
    (["model='x'"], "model is a table"),
    (["train.lr={'a': 1}"], "train.lr is a single value"),
    (["model.channels={'a': 1}"], "model.channels is a single value"),
])
def test_a_scalar_for_a_table_or_a_table_for_a_scalar_is_an_error(overrides, named):
    with pytest.raises(DrumsynthError, match=named) as info:
        build_config(Cfg, overlays=[{"train": {"steps": 2}}], overrides=overrides)
    assert "--set" in str(info.value)
    with pytest.raises(DrumsynthError, match="train is a table"):
        merge({"train": {"steps": 2}}, {"train": 5})


def test_an_optional_value_may_take_a_table_and_the_schema_decides():
    assert merge({"dropout": None}, {"dropout": {"p": 1}}) == {"dropout": {"p": 1}}
    with pytest.raises(DrumsynthError, match="model.dropout"):
        build_config(Cfg, overrides=["model.dropout={'p': 1}"])
    assert build_config(Cfg, overrides=["model.dropout=0.5"]).model.dropout == 0.5


def test_a_config_folder_or_fifo_is_one_line(tmp_path):
    import os

    with pytest.raises(DrumsynthError, match="folder"):
        load_toml(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "c.toml")
        with pytest.raises(DrumsynthError, match="not a regular file"):
            load_toml(tmp_path / "c.toml")  # refused, not waited on
    (tmp_path / "latin.toml").write_bytes(b"name = '\xe9'\n")
    with pytest.raises(DrumsynthError, match="UTF-8"):
        load_toml(tmp_path / "latin.toml")


@pytest.mark.parametrize("family", ["ndm", "drumgan"])
@pytest.mark.parametrize("override,key", [
    ("train.lr=-1", "train.lr"), ("train.max_steps=0", "train.max_steps"), ("train.lr=1e999", "train.lr"),
    ("train.adam_betas=[0.9, 1.5]", "train.adam_betas"), ("data.sr=0", "data.sr"),
    ("train.seed=-4", "train.seed"), ("model.latent_dim=0", "model.latent_dim"),
])
def test_family_values_outside_their_domain_name_the_key(family, override, key):
    from drumsynth.models import build_family_config

    if family == "drumgan" and override.startswith("train.lr"):
        override = override.replace("train.lr=", "train.lr=[1e-3, 1e-3, 1e-3, 1e-3, 1e-3, ") + "]"
    with pytest.raises(DrumsynthError, match=key.replace(".", r"\.") + " must be"):
        build_family_config(family, "tiny", overrides=[override])


@pytest.mark.parametrize("family,override,key", [
    ("ndm", "train.mcnn_decoded_share=1.5", "train.mcnn_decoded_share"),
    ("ndm", "train.per_class=0", "train.per_class"),
    ("ndm", "train.mcnn_batch_size=0", "train.mcnn_batch_size"),
    ("drumgan", "train.batch_size=[4, 4, 4, 4, 4, 0]", "train.batch_size"),
    ("drumgan", "train.fade_fraction=-0.1", "train.fade_fraction"),
    ("drumgan", "train.g_ema_decay=1.0", "train.g_ema_decay"),
])
def test_shares_and_batch_sizes_are_checked(family, override, key):
    from drumsynth.models import build_family_config

    with pytest.raises(DrumsynthError, match=key.replace(".", r"\.")):
        build_family_config(family, "tiny", overrides=[override])


def test_every_shipped_preset_and_release_satisfies_the_domains():
    from pathlib import Path

    import drumsynth
    from drumsynth.checkpoint import load_checkpoint
    from drumsynth.models import PRESETS, build_family_config, family_module

    for family in ("ndm", "drumgan", "wavegan"):
        for preset in PRESETS:
            build_family_config(family, preset)
        release = Path(drumsynth.__file__).parent / "pretrained" / f"{family}.pt"
        from_dict(family_module(family).Config, load_checkpoint(release)["config"])
