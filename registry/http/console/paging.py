"""Console lists a page at a time: the ``cursor`` query parameter, and Previous/Next links that
keep the list's filters.

The cursor is the API's (``registry.paging``): an opaque keyset position, forwards for Next and
backwards (:class:`registry.paging.Before`) for Previous, so a page costs the same however deep
it is and a list that changes between two clicks neither repeats nor skips a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request

from registry.paging import CURSOR_MAX_LENGTH, Key, Order, Page

CONSOLE_PAGE = 50  # rows on a console page: a screenful or two, and a small page to send

CursorParam = Annotated[str, Query(max_length=CURSOR_MAX_LENGTH)]


@dataclass(frozen=True)
class Pager:
    """Where the Previous and Next links of a page go (None: there is no such page)."""

    prev_url: str | None = None
    next_url: str | None = None


def cursor_of(order: Order[Any], cursor: str) -> Key | None:
    """The position a page's ``cursor`` parameter holds (None for the first page);
    ``InvalidInput`` for one this registry did not give out."""
    return order.decode(cursor or None)


def link(request: Request, cursor: str | None) -> str:
    """This page's path with its filters kept, at ``cursor`` (the first page if None); a notice
    shown after a redirect is not carried on."""
    params = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "notice")
    ]
    if cursor is not None:
        params.append(("cursor", cursor))
    query = urlencode(params)
    return request.url.path + ("?" + query if query else "")


def pager(request: Request, order: Order[Any], page: Page[Any]) -> Pager:
    """The Previous and Next links of ``page``, read in ``order``."""
    return Pager(
        prev_url=None if page.prev is None else link(request, order.encode(page.prev)),
        next_url=None if page.next is None else link(request, order.encode(page.next)),
    )
