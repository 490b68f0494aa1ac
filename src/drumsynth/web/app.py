"""The web instrument's HTTP routes (FastAPI): each parses a request, calls the Session, and answers
with the render's id and metadata; the page fetches the audio by id.

State: the server holds one Session per model (:class:`~drumsynth.web.catalog.Catalog`) and no
navigation state per browser. Each request carries the state its render needs (sliders, latent centre,
direction seed, pad position, a style model's faders and noise; :mod:`drumsynth.web.schema`) and the
page keeps it, so any number of tabs share the models without stepping on each other, and a restarted
server loses nothing a page needs.

Renders run on one worker thread in order of arrival (the models are not re-entrant and 2 cores do not
gain from two at once). The pad, the sliders and the intensity knob are *streams*: a stream request
replaces the same client's stream request still waiting (latest wins) and the replaced one is answered
409 ``{"stale": true}``; a request whose browser went away is dropped before it runs. Generate,
Analyze, crop, morph and variations are never dropped.

Files: renders go to the server's output folder through ``Session.save``
(:class:`~drumsynth.web.store.RenderStore`); downloads name a render id, never a path; uploads are
decoded in memory and never written; static files come from the package's ``static`` folder.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations, and those
# name classes imported inside create_app (fastapi stays an optional import).
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError
from drumsynth.web import limits
from drumsynth.web.catalog import Catalog, describe
from drumsynth.web.kit import KitStore
from drumsynth.web.schema import (
    CropBody,
    GenerateBody,
    KitBody,
    MorphBody,
    PadBody,
    PlaneBody,
    Style,
    VariationsBody,
    VaryBody,
)
from drumsynth.web.store import RenderStore

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# The page loads only its own files; wavesurfer.js styles its shadow DOM with <style> elements and
# draws from blob: URLs.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI middleware: the page's content policy and no MIME sniffing on every response (pure ASGI, so
    that an exception raised while the body is received reaches the app's handlers)."""

    HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer")]

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def parse_floats(text: str | None, what: str) -> list[float] | None:
    """``"0.5,1,0"`` -> [0.5, 1.0, 0.0] (a query parameter's list), ``None`` for no text."""
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) > 64:
        raise DrumsynthError(f"{what} takes at most 64 numbers, got {len(parts)}")
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise DrumsynthError(f"{what} must be comma-separated numbers, got {text!r:.80}") from None


def apply_style(session: Any, style: Style | None) -> Any:
    """Set every style control of ``session`` from one request (``None``: the model as trained) and
    return the Session.

    The Session is shared by every page, so each render of a style model sets all of its controls,
    never only those a request names: one page's faders cannot reach another page's sound. Every value
    is checked before any is set. ``style`` for a model without style controls is a ``DrumsynthError``.
    """
    state = session.style_state()
    if state is None:
        if style is not None:
            raise DrumsynthError(f"{session.family} models have no style controls (faders, layers, noise): "
                                 "send 'style' only for a style model")
        return session
    style = style or Style()
    n = len(state["faders"])
    if len(style.faders) > n:
        raise DrumsynthError(f"this model has {n} style faders, got {len(style.faders)} values")
    values = [*style.faders, *[0.0] * (n - len(style.faders))]
    for k, value in enumerate(values):
        session.check_style(k, value)
    session.check_noise(style.noise)
    session.set_style_layers(style.layers)  # checks the group before it sets it
    for k, value in enumerate(values):
        session.set_style(k, value)
    session.set_noise(style.noise)
    return session


def query_style(text: str | None) -> Style | None:
    """A query parameter's :class:`Style` (its JSON, as Analyze takes it), checked like a body's ``style``
    (a bad one is a 422 naming ``query.style``); ``None`` without one."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    if text is None:
        return None
    try:
        return Style.model_validate_json(text)
    except ValidationError as err:
        raise RequestValidationError([{**e, "loc": ("query", "style", *e["loc"])} for e in err.errors()]) from None


def style_meta(render: Any) -> dict[str, Any]:
    """``{"style": the style state it was rendered with}`` for a style model's render, else ``{}``."""
    style = render.provenance.get("style")
    return {} if style is None else {"style": style}


def crop_fractions(stored: Any, start: float, end: float) -> tuple[float, float]:
    """The page's crop (fractions of the finished WAV it shows) as fractions of the model's clip.

    A finished hit is the model's clip cut after its tail (``export.wav.finish_hit``), so the same
    instant lies at a smaller fraction of the longer model clip.
    """
    from drumsynth.inference import checks

    start, end = checks.real("crop start", start), checks.real("crop end", end)
    if not 0.0 <= start < end <= 1.0:
        raise DrumsynthError(f"crop needs 0 <= start < end <= 1 (fractions of the sound), got {start}, {end}")
    render = stored.render
    ratio = stored.meta["seconds"] / (render.waves.shape[-1] / render.sample_rate)
    return min(1.0, start * ratio), min(1.0, end * ratio)


def create_app(catalog: Catalog, store: RenderStore, *, worker: Any = None, upload_limit: int = limits.UPLOAD_LIMIT,
               allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS, kit_folder: Path | None = None) -> Any:
    """The FastAPI application.

    Parameters
    ----------
    catalog : the models on offer
    store : where renders are saved
    worker : the render worker (default: a new :class:`drumsynth.serve.latest.LatestWins`, closed
        with the app)
    upload_limit : bytes of an Analyze upload
    allowed_hosts : ``Host`` header values served (loopback by default: a page elsewhere that points
        a DNS name at 127.0.0.1 gets no answer)
    kit_folder : where kit exports go (default: ``kits`` inside the renders' folder)
    """
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from drumsynth.serve.latest import LatestWins, QueueFull, Superseded

    own_worker = worker is None
    worker = LatestWins(name="drumsynth-web-render") if own_worker else worker
    kits = KitStore(Path(kit_folder) if kit_folder is not None else store.folder.folder / "kits")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        if own_worker:
            worker.close()

    app = FastAPI(title="drumsynth web instrument", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.catalog, app.state.store, app.state.worker = catalog, store, worker

    def error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"error": message, **extra}, status_code=status)

    @app.exception_handler(DrumsynthError)
    async def bad_input(_request: Request, err: DrumsynthError) -> JSONResponse:
        return error(400, str(err))

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error(422, f"malformed request: {where or 'body'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, err: HTTPException) -> JSONResponse:
        return error(err.status_code, str(err.detail))

    @app.exception_handler(limits.TooLarge)
    async def too_large(_request: Request, _err: limits.TooLarge) -> JSONResponse:
        return error(413, "request body too large")

    async def run(request: Request, job: Callable[[], Any], stream_of: str | None = None) -> Any:
        """Run ``job`` on the render worker; a stream job is one client's latest-wins lane. A job whose
        browser goes away while it waits is cancelled (the worker skips it)."""
        started = time.perf_counter()
        try:
            future = worker.submit(job, key=None if stream_of is None else f"{stream_of}/stream")
        except QueueFull as err:
            return error(503, str(err))
        result = asyncio.ensure_future(asyncio.wrap_future(future))
        gone = asyncio.ensure_future(disconnected(request))
        try:
            await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not result.done():
            future.cancel()
            result.cancel()
            return error(499, "the client went away")
        try:
            answer = result.result()
        except Superseded:
            return error(409, "superseded by a newer request from this page", stale=True)
        if isinstance(answer, dict):
            answer["server_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return answer

    async def disconnected(request: Request) -> None:
        """Return when the client disconnects (the body was read already: what arrives next is that)."""
        while (await request.receive())["type"] != "http.disconnect":
            pass

    def saved(session: Any, model: str, render: Any, started: float, **extra: Any) -> dict[str, Any]:
        render_ms = round((time.perf_counter() - started) * 1000, 2)
        return store.add(session, model, render, {"render_ms": render_ms, **style_meta(render), **extra})[0].meta

    # ---- pages and models ------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/models")
    async def models() -> dict[str, Any]:
        catalog.refresh()
        return {"default": catalog.default, "models": catalog.listing()}

    @app.get("/api/model")
    async def model(request: Request, key: str = Query(max_length=300)) -> Any:
        catalog.entry(key)  # an unknown key fails here, not on the worker
        return await run(request, lambda: describe(key, catalog.session(key)))

    # ---- renders -------------------------------------------------------------------------------

    @app.post("/api/generate")
    async def generate(request: Request, body: GenerateBody) -> Any:
        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = apply_style(catalog.session(body.model), body.style)
            session.set_sliders(body.sliders)
            center = session.new_center(body.seed)
            return saved(session, body.model, session.vary(0.0), started, center=center.tolist())
        return await run(request, job)

    @app.post("/api/vary")
    async def vary(request: Request, body: VaryBody) -> Any:
        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = navigating(body)
            return saved(session, body.model, session.vary(body.intensity), started)
        return await run(request, job, body.client)

    @app.post("/api/plane")
    async def plane(request: Request, body: PlaneBody) -> Any:
        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = navigating(body)
            return saved(session, body.model, session.plane(body.x, body.y), started)
        return await run(request, job, body.client)

    def navigating(body: VaryBody | PlaneBody) -> Any:
        """The model's Session with this request's sliders, centre, directions and style controls."""
        session = apply_style(catalog.session(body.model), body.style)
        session.set_sliders(body.sliders)
        session.set_center(body.center)
        session.new_direction(body.direction_seed)
        return session

    @app.post("/api/pad")
    async def pad(request: Request, body: PadBody) -> Any:
        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = apply_style(catalog.session(body.model), None)
            render = session.controls(body.cls, p1=body.x, p2=body.y, p3=body.fine, range_std=body.range)
            return saved(session, body.model, render, started)
        return await run(request, job, body.client)

    @app.post("/api/analyze")
    async def analyze(request: Request, client: str = Query(pattern=r"^[A-Za-z0-9_-]{1,64}$"),
                      model: str = Query(max_length=300), name: str = Query(max_length=255),
                      sliders: str = Query(max_length=2000),
                      style: str | None = Query(None, max_length=4000)) -> Any:
        from drumsynth.audio.io import load_audio_bytes

        catalog.entry(model)
        limits.check_upload(name, request.headers.get("content-type"))
        weights = parse_floats(sliders, "sliders")
        controls = query_style(style)
        payload = await request.body()
        if len(payload) > upload_limit:
            raise limits.TooLarge

        def job() -> dict[str, Any]:  # decoding too runs here, off the event loop
            started = time.perf_counter()
            wave, sr = load_audio_bytes(payload, max_seconds=limits.UPLOAD_SECONDS, name=repr(name))
            session = apply_style(catalog.session(model), controls)
            # the page's sliders condition an encoder that estimates no class weights (ndm); drumgan's
            # Analyze replaces them with its estimate
            session.set_sliders(weights)
            result = session.analyze(wave, sr)
            render = session.vary(0.0)
            return saved(session, model, render, started, center=result["latent"],
                         sliders=session.sliders.tolist(), source=name)
        return await run(request, job)

    @app.post("/api/morph")
    async def morph(request: Request, body: MorphBody) -> Any:
        a, b = known(body.a), known(body.b)
        if a.model != b.model:
            raise DrumsynthError(f"morph needs two sounds of one model, got {a.model} and {b.model}")

        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = apply_style(catalog.session(a.model), body.style)
            render = session.morph_latents((a.render.latents[0], a.render.labels[0]),
                                           (b.render.latents[0], b.render.labels[0]), body.t, method=body.mode)
            return saved(session, a.model, render, started, morph={"a": a.id, "b": b.id, "t": body.t,
                                                                   "mode": body.mode})
        return await run(request, job, body.client)

    @app.post("/api/crop")
    async def crop(request: Request, body: CropBody) -> Any:
        stored = known(body.id)
        start, end = crop_fractions(stored, body.start, body.end)

        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = catalog.session(stored.model)
            return saved(session, stored.model, session.crop(stored.render, start, end), started,
                         cropped_from=stored.id)
        return await run(request, job)

    @app.post("/api/variations")
    async def variations(request: Request, body: VariationsBody) -> Any:
        from drumsynth.export.variation import check_amount, derive_seed

        stored = known(body.id)
        amount = check_amount(body.amount)

        def job() -> dict[str, Any]:
            started = time.perf_counter()
            session = apply_style(catalog.session(stored.model), body.style)
            weights = stored.render.labels[0].tolist()
            session.set_sliders(weights)
            session.set_center(stored.render.latents[0])
            spread = session.latent_spread(weights)
            seeds = [derive_seed(body.seed, stored.id, k) for k in range(body.n)]
            renders = list(session.variations(seeds, [amount * spread] * body.n))
            hits = [s.meta for r in renders
                    for s in store.add(session, stored.model, r, {"variation_of": stored.id, **style_meta(r)})]
            return {"of": stored.id, "variations": hits,
                    "render_ms": round((time.perf_counter() - started) * 1000, 2)}
        return await run(request, job)

    @app.post("/api/kit")
    async def kit(request: Request, body: KitBody) -> Any:
        lanes = [[known(lane.id), *map(known, lane.variants)] for lane in body.lanes]
        return await run(request, lambda: kits.export(lanes, body.name))

    def known(rid: str) -> Any:
        try:
            return store.get(rid)
        except KeyError:
            raise HTTPException(404, f"no render {rid!r} on this server (expired or never made)") from None

    # ---- files ---------------------------------------------------------------------------------

    @app.get("/api/audio/{rid}")
    async def audio(rid: str) -> FileResponse:
        stored = known(rid)
        if not stored.path.is_file():
            raise HTTPException(404, f"the file of render {rid} is gone from the output folder")
        return FileResponse(stored.path, media_type="audio/wav", filename=stored.path.name,
                            content_disposition_type="inline",
                            headers={"Cache-Control": "private, max-age=31536000, immutable"})

    @app.get("/api/kit/{kid}")
    async def kit_zip(kid: str) -> FileResponse:
        try:
            path = kits.path(kid)
        except KeyError:
            raise HTTPException(404, f"no kit {kid!r} on this server") from None
        if not path.is_file():
            raise HTTPException(404, f"the zip of kit {kid} is gone from the kit folder")
        return FileResponse(path, media_type="application/zip", filename=path.name)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(limits.BodyLimit, upload=upload_limit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app
