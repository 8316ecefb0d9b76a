"""The JSON API, one module per resource, each with its ``APIRouter(prefix=..., tags=...)``.

``router`` gathers them; the load balancer's probes come first, so they are matched before
the authenticated API's routes are tried. The public check, the hottest path, is not in it:
``registry.http.api.install`` puts ``verify.router`` on the application by itself, ahead of
``router``, because matching a request against a router that includes others walks all of
them (FastAPI computes the included routers' version on each match).
"""

from __future__ import annotations

from fastapi import APIRouter

from registry.http.api.routes import (
    access,
    accounts,
    audit,
    credentials,
    departments,
    handovers,
    health,
    people,
    public,
    requests,
    tokens,
)

router = APIRouter()
for module in (
    public,
    health,
    departments,
    people,
    accounts,
    access,
    tokens,
    requests,
    credentials,
    handovers,
    audit,
):
    router.include_router(module.router)
router.include_router(accounts.reviews)
