"""Keyset paging for the lists: an order that is stable and total, a page of rows, a cursor.

A list is read in the :class:`Order` it names (its natural key, then the row id). A page is
fetched with one row more than asked for, so whether there is a next one is known without a
count; the next page starts after the last row's key (``WHERE key > last``), never at an
OFFSET, so a page costs the same however deep it is. The key travels to the caller as an opaque
cursor: URL-safe base64 of a small JSON, ``{"l": "accounts", "k": [123]}``. A cursor carries no
right to anything: the page it starts is read with the caller's own visibility, like the first.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from registry.errors import InvalidInput
from registry.validation import MAX_ID

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")

Key = tuple[Any, ...]

BAD_CURSOR = "The cursor is not one this registry gave out; start again without it."
CURSOR_MAX_LENGTH = 1024  # a key of a 254-character e-mail and an id, encoded, fits
KEY_TEXT_MAX_LENGTH = 254  # the longest text in a key (an e-mail)


class Before(tuple[Any, ...]):
    """A key to read backwards from: the page of rows just before it (the console's Previous
    link). A plain tuple key reads forwards, after it; ``LAST`` (no key) reads the last page."""


LAST = Before(())


class Page(list[T], Generic[T]):
    """A page of a list: the items; ``next``, the key to start the following page after (None
    on the last page); and ``prev``, the key to read the page before from (None on the first
    page, or when the page was read from the start). It is a list, so a caller that wants every
    row (``limit=None``) uses it as one."""

    def __init__(
        self, items: Iterable[T] = (), next: Key | None = None, prev: Key | None = None
    ) -> None:
        super().__init__(items)
        self.next = next
        self.prev = prev

    def map(self, convert: Callable[[list[T]], list[U]]) -> Page[U]:
        """The same page with its items converted (rows to their public schema)."""
        return Page(convert(list(self)), next=self.next, prev=self.prev)


@dataclass(frozen=True)
class Order(Generic[R]):
    """How a list is ordered: ``columns`` (the last one the id, which makes the order total),
    ascending unless ``descending``; ``key`` reads a row's values of those columns."""

    name: str
    columns: Sequence[Any]
    key: Callable[[R], Key]
    descending: bool = False

    def order_by(self, query: SelectOfScalar[R], *, backwards: bool = False) -> SelectOfScalar[R]:
        down = self.descending != backwards
        return query.order_by(*(c.desc() if down else c for c in self.columns))

    def after(self, key: Key, *, backwards: bool = False) -> ColumnElement[bool]:
        """The rows after ``key`` in this order (before it if ``backwards``): (a, b) > (x, y)
        as a > x or (a = x and b > y)."""
        down = self.descending != backwards
        terms = []
        for i, column in enumerate(self.columns):
            ties = [c == v for c, v in zip(self.columns[:i], key, strict=False)]
            terms.append(and_(*ties, column < key[i] if down else column > key[i]))
        return or_(*terms)

    def fetch(
        self, session: Session, query: SelectOfScalar[R], *, limit: int | None, after: Key | None
    ) -> Page[R]:
        """The page of ``query``'s rows after ``after`` (from the start if None): ``limit`` of
        them (every one if None), and the key to go on from when there are more. A
        :class:`Before` key reads the ``limit`` rows just before it instead, still in order."""
        if isinstance(after, Before):
            return self._fetch_before(session, query, limit=limit, before=after)
        if after is not None:
            query = query.where(self.after(after))
        query = self.order_by(query)
        if limit is None:
            return Page(session.exec(query).all())
        rows = list(session.exec(query.limit(limit + 1)))
        # Read from a cursor, the page has one before it: the rows before its first.
        prev = None if after is None else Before(self.key(rows[0]) if rows else after)
        if len(rows) <= limit:
            return Page(rows, prev=prev)
        return Page(rows[:limit], next=self.key(rows[limit - 1]), prev=prev)

    def _fetch_before(
        self, session: Session, query: SelectOfScalar[R], *, limit: int | None, before: Before
    ) -> Page[R]:
        if before:
            query = query.where(self.after(before, backwards=True))
        query = self.order_by(query, backwards=True)
        rows = list(session.exec(query if limit is None else query.limit(limit + 1)))
        more = limit is not None and len(rows) > limit
        rows = rows[:limit] if limit is not None else rows
        rows.reverse()
        # The page read had rows after it (those the cursor came from; none after the last
        # page): its next starts there.
        nxt = self.key(rows[-1]) if rows and before else None
        return Page(rows, next=nxt, prev=Before(self.key(rows[0])) if more else None)

    # ------------------------------------------------------------------ the cursor

    def encode(self, key: Key) -> str:
        body: dict[str, Any] = {"l": self.name, "k": list(key)}
        if isinstance(key, Before):
            body["b"] = 1
        data = json.dumps(body, separators=(",", ":"))
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    def decode(self, cursor: str | None) -> Key | None:
        """The key a cursor of this list holds (None for no cursor); InvalidInput (422) for
        anything else: malformed, from another list, or with values of the wrong type."""
        if cursor is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError):
            raise InvalidInput(BAD_CURSOR) from None
        values = data.get("k") if isinstance(data, dict) and data.get("l") == self.name else None
        if not isinstance(values, list) or len(values) != len(self.columns):
            raise InvalidInput(BAD_CURSOR)
        if not all(_fits(c, v) for c, v in zip(self.columns, values, strict=True)):
            raise InvalidInput(BAD_CURSOR)
        backwards = data.get("b", 0)
        if backwards not in (0, 1) or type(backwards) is not int:
            raise InvalidInput(BAD_CURSOR)
        return Before(values) if backwards else tuple(values)


def _fits(column: Any, value: object) -> bool:
    """Whether ``value`` is one the column could hold and the database can compare: for an
    integer column an id up to ``MAX_ID`` (PostgreSQL's ``integer``), never a bool; for a text
    one, text without NUL or a lone surrogate (PostgreSQL refuses both). SQLModel's
    ``AutoString`` says ``object`` for its Python type; what it decorates says ``str``."""
    kind = getattr(column.type, "impl_instance", column.type).python_type
    if kind is int:
        return type(value) is int and 0 <= value <= MAX_ID
    if kind is str and type(value) is str and len(value) <= KEY_TEXT_MAX_LENGTH:
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    return False
