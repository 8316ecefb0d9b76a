"""The platforms' permanent ids of accounts, validated per platform (re-exported by
``registry.platforms``): the page id, user id, channel id, DID or account URI that survives a
rename, where the handle does not."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from registry.errors import InvalidInput

if TYPE_CHECKING:
    from registry.platforms import Platform


class IdRule(NamedTuple):
    """How a platform writes its permanent id of an account, and what one looks like."""

    pattern: re.Pattern[str]
    example: str
    what: str


_HOST_NAME = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_NUMERIC = "17841400000000000"
# The platform's own id of an account survives a rename, where the handle does not. Every
# pattern is ASCII and matched whole, so spaces, control and invisible characters never pass.
ID_RULES: Mapping[str, IdRule] = MappingProxyType(
    {
        "facebook": IdRule(re.compile(r"[1-9][0-9]{4,19}"), "100064512345678", "page id"),
        "instagram": IdRule(re.compile(r"[1-9][0-9]{2,19}"), _NUMERIC, "user id"),
        "threads": IdRule(re.compile(r"[1-9][0-9]{2,19}"), _NUMERIC, "user id"),
        "x": IdRule(re.compile(r"[1-9][0-9]{0,19}"), "1234567890", "user id"),
        "linkedin": IdRule(re.compile(r"[1-9][0-9]{0,19}"), "1234567", "organisation id"),
        "youtube": IdRule(re.compile(r"UC[A-Za-z0-9_-]{22}"), "UC" + "x" * 22, "channel id"),
        "tiktok": IdRule(re.compile(r"[1-9][0-9]{4,24}"), "6812345678901234567", "user id"),
        "bluesky": IdRule(
            re.compile(rf"did:plc:[a-z2-7]{{24}}|did:web:{_HOST_NAME}"),
            "did:plc:" + "a" * 24,
            "DID",
        ),
        "mastodon": IdRule(
            re.compile(rf"https://{_HOST_NAME}/users/[A-Za-z0-9_]{{1,30}}"),
            "https://mastodon.social/users/ManitobaGov",
            "account URI",
        ),
        "flickr": IdRule(re.compile(r"[0-9]{1,15}@N[0-9]{2}"), "12345678@N02", "NSID"),
    }
)
MAX_PLATFORM_ID_LENGTH = 300
# Control, invisible-format and line-separator characters: refused, never stripped (only the
# spaces around an id go), so a value pasted with a hidden character is not taken silently.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def normalize_platform_id(platform: Platform, value: str) -> str:
    """The canonical form of the platform's permanent id of an account, or InvalidInput.

    Surrounding spaces go; a LinkedIn ``urn:li:organization:N`` becomes ``N``; a Bluesky DID
    and a Mastodon URI's host are lower-cased (a YouTube channel id keeps its case).
    """
    rule = ID_RULES.get(platform.name)
    if rule is None:
        raise InvalidInput(f"The registry does not know how {platform.label} numbers accounts.")
    if any(unicodedata.category(char) in _HIDDEN for char in value):
        raise InvalidInput(
            f"A {platform.label} {rule.what} cannot contain control or invisible characters; "
            f"one looks like {rule.example}."
        )
    text = value.strip()
    if platform.name == "linkedin":
        text = text.removeprefix("urn:li:organization:").removeprefix("urn:li:company:")
    elif platform.name == "bluesky":
        text = text.lower()
    elif platform.name == "mastodon" and text[:8].lower() == "https://":
        host, slash, rest = text[8:].partition("/")
        text = f"https://{host.lower()}{slash}{rest}"
    if len(text) > MAX_PLATFORM_ID_LENGTH or not rule.pattern.fullmatch(text):
        shown = repr(text) if len(text) <= 60 and text.isprintable() and text.isascii() else "That"
        raise InvalidInput(
            f"{shown} is not a valid {platform.label} {rule.what}; one looks like {rule.example}."
        )
    return text
