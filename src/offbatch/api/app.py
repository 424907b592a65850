"""The FastAPI application: routes, the review page, the error handlers (``api/errors.py``), the
body limit, the background importer.

``create_app(settings, db)`` builds everything from its arguments (nothing at import time). With
``background=True`` (``offbatch serve``) a thread claims and runs queued imports, woken at once
by the webhook; tests switch it off and drive the queue themselves.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from offbatch import __version__
from offbatch.api import errors
from offbatch.api.deps import MAX_BODY_BYTES
from offbatch.api.routes import batch, info, insights, jobs, review
from offbatch.db.session import Database
from offbatch.imports.loop import import_loop
from offbatch.review import DatabaseSink, ProductUpdateSink
from offbatch.settings import Settings


class ContentLengthLimit:
    """Refuse a declared body over ``limit`` bytes with 413 before any route runs."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                    response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings,
    db: Database | None = None,
    *,
    background: bool = True,
    sink: ProductUpdateSink | None = None,
    reconcile_every: float = 60.0,
) -> FastAPI:
    db = db or Database(settings.db_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if background:
            thread = threading.Thread(
                target=import_loop, args=(settings, db), name="offbatch-importer", daemon=True,
                kwargs={"stop": app.state.stop, "wake": app.state.wake, "reconcile_every": reconcile_every},
            )
            thread.start()
        yield
        app.state.stop.set()
        app.state.wake.set()
        if thread is not None:
            thread.join(timeout=30)

    app = FastAPI(title="offbatch", version=__version__, lifespan=lifespan, responses=errors.COMMON_RESPONSES)
    app.state.settings, app.state.db = settings, db
    app.state.sink = sink or DatabaseSink()
    app.state.stop, app.state.wake = threading.Event(), threading.Event()
    app.include_router(batch.router)
    app.include_router(jobs.router)
    app.include_router(info.router)
    app.include_router(insights.router)
    app.include_router(review.router)
    app.mount("/static", StaticFiles(directory=review.STATIC_DIR), name="static")
    app.add_middleware(ContentLengthLimit, limit=MAX_BODY_BYTES)

    errors.install(app)
    return app
