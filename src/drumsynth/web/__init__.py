"""The web instrument (``drumsynth web``): FastAPI routes over the Session and one static page.

Modules: :mod:`.app` (routes), :mod:`.catalog` (the models on offer), :mod:`.store` (renders saved and
served by id), :mod:`.schema` (request bodies), :mod:`.limits` (size and type limits), :mod:`.server`
(uvicorn on a bound socket). FastAPI is imported only by :func:`drumsynth.web.app.create_app`.
"""
