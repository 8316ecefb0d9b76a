"""What a load balancer asks: is the process alive (``/healthz``), can it serve (``/readyz``)?

No token needed, and neither answer says anything but that: no versions, no revisions, no
addresses, no exception text. Both answer ``HEAD`` as they answer ``GET`` (``PlainRoute``).

- ``/healthz`` touches nothing: it answers from the event loop, so it answers even while every
  worker thread waits for the database.
- ``/readyz`` reads the schema's revision (which is also the proof that the database answers)
  on a worker thread, through the application's ``probe_engine``: one connection of its own,
  bounded in connecting and in each statement (``registry.db.make_loop_engine``), so a busy
  pool does not take a healthy instance out of rotation and a database that hangs is a 503
  within seconds. The revision this code expects is read from the migration scripts once.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Literal

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from registry import migrate
from registry.db import reading
from registry.http.api.routes.verify import PlainRoute

router = APIRouter(tags=["health"], route_class=PlainRoute)
log = logging.getLogger(__name__)

UNREACHABLE = "The database is not answering."
BEHIND = "The database schema is behind; run `registry db upgrade`."
AHEAD = "The database schema is newer than this version of the registry; run the newer version."


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"


class NotReady(BaseModel):
    status: Literal["not ready"] = "not ready"
    detail: str


_ALIVE = Alive().model_dump()
_READY = Ready().model_dump()


@cache
def _migrations() -> tuple[str | None, frozenset[str]]:
    """This code's head revision and every revision it knows (the scripts do not change under a
    running process)."""
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return script.get_current_head(), known


def not_ready(engine: Engine) -> str | None:
    """Why the registry on ``engine`` cannot serve yet, as one sentence; None when it can."""
    head, known = _migrations()
    try:
        current = migrate.current(reading(engine))  # a read-only transaction: no write lock
    except SQLAlchemyError as exc:  # unreachable, refused, timed out, pool exhausted
        log.warning("readiness: the database is not answering (%s)", type(exc).__name__)
        return UNREACHABLE
    if current == head:
        return None
    return BEHIND if current is None or current in known else AHEAD


@router.get("/healthz", response_model=Alive, summary="Liveness")
async def healthz(request: Request) -> Response:
    """The process answers. Nothing else is asked, not even the database. No token needed."""
    return JSONResponse(_ALIVE)


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness",
    responses={503: {"model": NotReady, "description": "The registry cannot serve yet."}},
)
def readyz(request: Request) -> Response:
    """The database answers and its schema is at this version's migration head; otherwise 503
    with one sentence saying which. No token needed."""
    # A plain function: Starlette runs it on a worker thread, never on the event loop.
    reason = not_ready(request.app.state.probe_engine)
    if reason is None:
        return JSONResponse(_READY)
    return JSONResponse(NotReady(detail=reason).model_dump(), status_code=503)
