"""Checks on free text, URLs, choices and times that every entry point shares."""

from __future__ import annotations

import datetime as dt
import unicodedata
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from registry.errors import InvalidInput

E = TypeVar("E", bound=StrEnum)

# The largest row id accepted: a bigger number in a path or a body is malformed input, refused
# before it reaches the driver. Ids and sequence numbers are INTEGER columns, 32-bit on
# PostgreSQL, which refuses a larger parameter with an error (SQLite would take 64 bits).
MAX_ID = 2**31 - 1

# Bidirectional overrides and isolates can make text display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# Characters that show nothing, or join, split or hide what is around them: format characters
# (Cf: zero-width spaces and joiners, the byte order mark, soft hyphens, tags U+E0000-E007F),
# line and paragraph separators (Zl, Zp), and the Hangul fillers, letters drawn as blanks.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zl", "Zp"})
_HANGUL_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Strip ``value`` and refuse blank (when required), oversize or control-laden text, and
    text with characters that show nothing or change the direction of what follows."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} must not be blank.")
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters ({len(text)}).")
    for char in text:
        if char in _BIDI_CONTROLS:
            raise InvalidInput(f"{field} contains a right-to-left or other direction override.")
        category = unicodedata.category(char)
        if category == "Cc" and char not in "\t\n":
            raise InvalidInput(f"{field} contains a control character.")
        if category == "Cs":  # a lone surrogate: not text any database takes
            raise InvalidInput(f"{field} is not valid UTF-8 text.")
        if category in _INVISIBLE_CATEGORIES or char in _HANGUL_FILLERS:
            raise InvalidInput(
                f"{field} contains an invisible or formatting character (U+{ord(char):04X})."
            )
    return text


def clean_url(value: str, *, field: str = "Profile URL", max_length: int = 500) -> str:
    """A plain http(s) URL with a host, or a clear refusal."""
    url = clean_text(value, field=field, max_length=max_length)
    if any(char.isspace() for char in url) or not url.isascii():
        raise InvalidInput(f"{field} {url!r} must be an ASCII URL without spaces.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{field} {url!r} must be an http(s) address with a host.")
    if parts.username or parts.password:
        raise InvalidInput(f"{field} {url!r} must not carry a user name or password.")
    return url


def parse_choice(choices: type[E], value: str, *, what: str) -> E:
    """``value`` as a member of ``choices`` (any case), or a refusal listing the choices."""
    try:
        return choices(value.strip().lower())
    except ValueError:
        known = ", ".join(member.value for member in choices)
        raise InvalidInput(f"Unknown {what} {value!r}; choose one of {known}.") from None


def parse_time(value: str, *, what: str) -> dt.datetime:
    """``value``, an ISO 8601 date or time, as an aware time in UTC (UTC when it names no offset).

    A time with an offset is converted here, so an extreme one (9999-12-31T23:59:59-23:00)
    is refused in one sentence rather than overflowing in the driver.
    """
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{what} must be an ISO 8601 date or time such as 2026-11-01 or 2026-11-01T09:30Z."
        ) from None
    try:
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(f"{what} falls outside the years 1 to 9999 in UTC.") from None
