"""What every list route shares: the ``limit`` and ``cursor`` query parameters and the
``Link: <…>; rel="next"`` header that points at the following page (the body stays an array)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from registry.defaults import PAGE_MAX
from registry.paging import CURSOR_MAX_LENGTH, Order, Page

LimitQuery = Annotated[
    int, Query(ge=1, le=PAGE_MAX, description=f"At most this many items (1 to {PAGE_MAX}).")
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_LENGTH,
        description="Where to go on from: the `cursor` in the previous page's `Link` header.",
    ),
]


def link_next(request: Request, response: Response, **params: Any) -> None:
    """Point at the next page: this request's URL, its filters kept, with ``params`` set."""
    url = request.url.include_query_params(**params)
    response.headers["Link"] = f'<{url}>; rel="next"'


def link_page(request: Request, response: Response, order: Order[Any], page: Page[Any]) -> None:
    """The ``Link`` header to the page after ``page``, if there is one."""
    if page.next is not None:
        link_next(request, response, cursor=order.encode(page.next))
