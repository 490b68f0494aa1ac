"""The fuzz suite's Python half: random bad arguments to every Session method of both shipped models.

Each call must either return a Render of finite audio (or a finite latent / dict) or raise
``DrumsynthError``; any other exception, a non-finite result, a call running past its alarm, or a file
written outside the save folder fails. The arguments are drawn from pools of bad values of every type
with a fixed seed, so a failure reproduces.
"""

from __future__ import annotations

import math
import random
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from drumsynth.errors import DrumsynthError

SECONDS_PER_CALL = 30
CALLS_PER_MODEL = 120

BAD_SCALARS = [None, "1", "kick", b"x", [], [1.0], {}, 1j, True, -1, 0, 2**63, 2**64, -(2**63) - 1, 10**40,
               math.nan, math.inf, -math.inf, 1e30, -1e30, 1e6, 0.5, 3, np.int64(5), np.float32(0.5),
               np.array([1.0, 2.0]), torch.tensor(1.0), torch.tensor([math.nan])]
BAD_WAVES = [None, "wave", np.zeros(0, np.float32), np.zeros((0, 2), np.float32), np.full(1000, np.nan, np.float32),
             np.full(1000, np.inf, np.float32), np.zeros(1000, np.float32), np.ones((3, 3, 3), np.float32),
             np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 100, [0.0] * 100,
             np.arange(10, dtype=np.int16), np.zeros(2, np.float32), torch.zeros(1000),
             np.random.default_rng(1).standard_normal((2, 4410)).astype(np.float32) * 0.3]
BAD_RATES = [None, 0, -44100, 1, 44100.5, math.nan, math.inf, 10**12, "44100", 22050, 96000, np.int32(48000)]
BAD_PREFIXES = ["../../x", "/abs", "a/b", "", ".", "..", "x\x00y", "y" * 300, None, 5, "ok-prefix"]


def _classes(session) -> list:
    n = len(session.classes)
    return [None, "", "nope", session.classes[0], -1, n, 10**30, 1.5, [1.0] * (n + 1), [math.nan] * n,
            [1e30] * n, [-1.0] * n, [0.0] * n, "KICK", torch.ones(n), np.ones(n)]


def _latents(session) -> list:
    d = session.model.latent_dim
    return [None, torch.full((1, d), 1e6), torch.full((1, d), math.nan), torch.zeros(1, d + 1), torch.zeros(d),
            torch.zeros(2, d), "z", np.zeros((1, d)), torch.zeros(1, d, dtype=torch.int64), torch.full((1, d), 1e30)]


def _call(rng: random.Random, session, tmp: Path):
    """One random method call with random (mostly bad) arguments: (description, thunk)."""
    pick = rng.choice
    method = pick(["generate", "encode", "analyze", "set_sliders", "new_center", "new_direction", "vary", "plane",
                   "controls", "crop", "save", "class_weights"])
    if method == "generate":
        kw = {"n": pick([1, 2] + BAD_SCALARS), "seed": pick([0, 7] + BAD_SCALARS)}
        if rng.random() < 0.3:
            kw["z"] = pick(_latents(session))
        cls = pick(_classes(session))
        return f"generate({cls!r}, **{kw!r})", lambda: session.generate(cls, **kw)
    if method in ("encode", "analyze"):
        wave, sr = pick(BAD_WAVES), pick(BAD_RATES)
        return f"{method}(wave, {sr!r})", lambda: getattr(session, method)(wave, sr)
    if method == "set_sliders":
        cls = pick(_classes(session))
        return f"set_sliders({cls!r})", lambda: session.set_sliders(cls)
    if method in ("new_center", "new_direction"):
        seed = pick([0, 3] + BAD_SCALARS)
        return f"{method}({seed!r})", lambda: getattr(session, method)(seed)
    if method == "vary":
        value = pick(BAD_SCALARS)
        return f"vary({value!r})", lambda: (session.set_sliders(session.classes[0]), session.new_center(1),
                                            session.vary(value))[-1]
    if method == "plane":
        x, y = pick(BAD_SCALARS), pick(BAD_SCALARS)
        return f"plane({x!r}, {y!r})", lambda: (session.set_sliders(session.classes[0]), session.new_center(1),
                                                session.plane(x, y))[-1]
    if method == "controls":
        cls, p1, r = pick(_classes(session)), pick(BAD_SCALARS), pick([2.0] + BAD_SCALARS)
        return f"controls({cls!r}, p1={p1!r}, range_std={r!r})", lambda: session.controls(cls, p1=p1, range_std=r)
    if method == "crop":
        a, b = pick([0.0, 0.5] + BAD_SCALARS), pick([1.0] + BAD_SCALARS)
        return f"crop(render, {a!r}, {b!r})", lambda: session.crop(session.generate(session.classes[0]), a, b)
    if method == "save":
        prefix, out_sr = pick(BAD_PREFIXES), pick([44100, 48000, 22050, 0, None, "44100"])
        return (f"save(render, prefix={prefix!r}, out_sr={out_sr!r})",
                lambda: session.save(session.generate(session.classes[0]), tmp / "saved", prefix=prefix, out_sr=out_sr))
    cls, n = pick(_classes(session)), pick([1] + BAD_SCALARS)
    return f"class_weights({cls!r}, {n!r})", lambda: session.class_weights(cls, n)


def _check_result(result) -> None:
    """A result is usable: finite audio, latents and weights."""
    from drumsynth.inference.session import Render

    if isinstance(result, Render):
        assert np.all(np.isfinite(result.waves)), "non-finite audio returned"
        assert torch.all(torch.isfinite(result.latents)), "non-finite latent returned"
    elif isinstance(result, torch.Tensor):
        assert torch.all(torch.isfinite(result)), "non-finite tensor returned"
    elif isinstance(result, tuple):
        for item in result:
            _check_result(item)


def _alarm(signum, frame):
    raise TimeoutError(f"call ran past {SECONDS_PER_CALL} s")


@pytest.mark.parametrize("family", ["ndm", "drumgan"])
def test_session_fuzz(family: str, tmp_path: Path):
    from drumsynth.inference.session import Session

    session = Session.load(family)
    rng = random.Random(f"fuzz-{family}")
    previous = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {"ok": 0, "refused": 0}
    try:
        for _ in range(CALLS_PER_MODEL):
            description, thunk = _call(rng, session, tmp_path)
            signal.alarm(SECONDS_PER_CALL)
            try:
                _check_result(thunk())
                outcomes["ok"] += 1
            except DrumsynthError as err:
                assert "\n" not in str(err).strip() or len(str(err)) < 2000, description
                outcomes["refused"] += 1
            except Exception as err:  # the fuzz's finding: anything but a clear refusal
                pytest.fail(f"{family}: {description} raised {type(err).__name__}: {err}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all((tmp_path / "saved") in p.parents for p in written), f"files outside the save folder: {written}"
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0, outcomes
