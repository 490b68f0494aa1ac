"""The JSON bodies of the web instrument's requests.

The server keeps no navigation state per browser: each request carries what its render needs (the
model key, the class sliders, the latent centre, the direction seed, the pad position), and the page
keeps that state. These models check only shapes and sizes (strings, list lengths, unknown fields);
values reach the Session, whose own checks name what is wrong (``DrumsynthError`` -> HTTP 400).
Numbers are plain floats on purpose: NaN or 1e308 must reach those checks, not be clamped here. The
one exception is :class:`Style`, checked in full here (finite, within the Session's bounds, HTTP 422):
the page sends it with every render of a style model, and the job sets it on the shared Session.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ClientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ModelKey = Annotated[str, Field(min_length=1, max_length=300)]
RenderId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Sliders = Annotated[list[float], Field(min_length=1, max_length=64)]
Latent = Annotated[list[float], Field(min_length=1, max_length=4096)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
# The Session's own bounds of the style controls (Session.set_style, Session.set_noise).
FADER_LIMIT = 10.0  # standard deviations
NOISE_LIMIT = 10.0  # times the noise the model was trained with
Fader = Annotated[float, Field(ge=-FADER_LIMIT, le=FADER_LIMIT, allow_inf_nan=False)]


class Style(BaseModel):
    """The style family's controls for one render (the Session's ``set_style``, ``set_style_layers`` and
    ``set_noise``): ``faders[k]`` in standard deviations (faders not given are 0), the layers they move,
    and one noise amount for every layer (1 = as trained). A request without it renders a style model
    as trained: faders 0, layers "all", noise 1.
    """

    model_config = ConfigDict(extra="forbid")

    faders: Annotated[list[Fader], Field(max_length=64)] = []
    layers: Annotated[str, Field(pattern=r"^(all|low|mid|high|[0-9]{1,3})$")] = "all"
    noise: Annotated[float, Field(ge=0.0, le=NOISE_LIMIT, allow_inf_nan=False)] = 1.0


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client: ClientId = Field(description="the page's random id: its pad stream is one 'latest wins' lane")


class ModelBody(Body):
    model: ModelKey


class GenerateBody(ModelBody):
    """Generate: a new latent centre from the prior (with ``seed``) for the sliders, and its sound."""

    sliders: Sliders
    seed: Seed
    style: Style | None = None


class NavigateBody(ModelBody):
    """DrumGAN VST's navigation around ``center`` along the directions of ``direction_seed``."""

    sliders: Sliders
    center: Latent
    direction_seed: Seed = 0
    style: Style | None = None


class VaryBody(NavigateBody):
    intensity: float


class PlaneBody(NavigateBody):
    x: float
    y: float


class PadBody(ModelBody):
    """The Neural Drum Machine's pad: class menu, XY in [-1, 1], Fine in [-1, 1], range in std."""

    cls: Annotated[str, Field(min_length=1, max_length=64)]
    x: float
    y: float
    fine: float = 0.0
    range: float = 2.0


class MorphBody(Body):
    """Morph between two earlier renders of one model (their latents and class weights)."""

    a: RenderId
    b: RenderId
    t: float
    mode: Literal["lerp", "slerp"] = "slerp"
    style: Style | None = None


class CropBody(Body):
    id: RenderId
    start: float
    end: float


class VariationsBody(Body):
    """Per-hit variation for the sequencer: ``n`` small moves around an earlier render."""

    id: RenderId
    n: Annotated[int, Field(ge=1, le=8)] = 4
    amount: float = 0.1
    seed: Seed = 0
    style: Style | None = None


class KitLane(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RenderId
    variants: Annotated[list[RenderId], Field(max_length=15)] = []


class KitBody(Body):
    """Export the sequencer's lanes as a kit: each lane's sound and its per-hit variations."""

    lanes: Annotated[list[KitLane], Field(min_length=1, max_length=8)]
    name: Annotated[str, Field(min_length=1, max_length=64)] = "drumsynth-web"
