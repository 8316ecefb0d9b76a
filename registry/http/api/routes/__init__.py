"""The JSON API, one module per resource, each with its ``APIRouter(prefix=..., tags=...)``.

``router`` gathers them; the public check comes first, then the load balancer's probes, so a
request for either is matched before the authenticated API's routes are tried.
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
    verify,
)

router = APIRouter()
for module in (
    verify,
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
