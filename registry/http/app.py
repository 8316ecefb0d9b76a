"""The application factory: the JSON API and the console behind one set of middleware."""

from __future__ import annotations

import weakref

from fastapi import FastAPI
from sqlalchemy import Engine

from registry.config import Settings, get_settings
from registry.db import make_engine, make_loop_engine
from registry.http import api
from registry.http.console.app import mount as console
from registry.http.security import SecurityMiddleware
from registry.keys import session_info
from registry.services.feed import FeedCache
from registry.services.signing import KeyringCache


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The registry over HTTP: the API's routes on this application (so its OpenAPI document
    describes them), the console mounted as an application of its own, sharing this one's
    state; the body limit and security headers around both."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Official social media account registry",
        summary="Who asked for each account, who approved it, who holds it.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.loop_engine = make_loop_engine(app.state.engine)
    # The readiness probe's own bounded connection, so a busy pool is not an unready instance.
    app.state.probe_engine = make_loop_engine(app.state.engine)
    for own in (app.state.loop_engine, app.state.probe_engine):
        if own is not app.state.engine:
            weakref.finalize(app, own.dispose)  # its one connection goes too
    app.state.session_info = session_info(settings)
    app.state.answer_keys = KeyringCache(settings)
    app.state.feed = FeedCache()
    api.install(app)
    app.router.routes.append(console(app.state))
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.max_request_bytes)
    return app
