"""The FastAPI application factory."""

from __future__ import annotations

import weakref

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.routing import Route

from registry.api import errors
from registry.api.routes import public_router, router, verify_account
from registry.api.security import SecurityMiddleware
from registry.config import Settings, get_settings
from registry.db import make_engine, make_loop_engine
from registry.keys import session_info
from registry.web.routes import router as web_router


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Official social media account registry",
        summary="Who asked for each account, who approved it, who holds it.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.loop_engine = make_loop_engine(app.state.engine)
    if app.state.loop_engine is not app.state.engine:
        weakref.finalize(app, app.state.loop_engine.dispose)  # its one connection goes too
    app.state.session_info = session_info(settings)
    errors.install(app)
    # The public check is the hot path: a plain Starlette route placed first answers it
    # without FastAPI's dependency machinery; the documented route below describes it in
    # the OpenAPI schema and is never reached.
    app.router.routes.insert(0, Route("/verify", verify_account, methods=["GET"]))
    app.include_router(public_router)
    app.include_router(router)
    app.include_router(web_router)
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.max_request_bytes)
    return app
