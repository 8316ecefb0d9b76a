"""The social media platforms the registry knows, kept as data in one place.

Each platform says how its handles look and whether they compare case-insensitively, so
``@GovMB`` and ``govmb`` are the same account where the platform treats them the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.errors import InvalidInput


@dataclass(frozen=True)
class Platform:
    name: str
    label: str
    handle_pattern: re.Pattern[str]
    case_insensitive: bool = True
    # Handles matching this stay case-sensitive even on a case-insensitive platform
    # (YouTube channel ids such as UCxxxxxxxxxxxxxxxxxxxxxx).
    case_sensitive_pattern: re.Pattern[str] | None = None
    aliases: tuple[str, ...] = ()


_SIMPLE = re.compile(r"[A-Za-z0-9._-]{1,100}")

PLATFORMS: tuple[Platform, ...] = (
    Platform("facebook", "Facebook", re.compile(r"[A-Za-z0-9.-]{1,100}"), aliases=("fb",)),
    Platform("instagram", "Instagram", re.compile(r"[A-Za-z0-9._]{1,30}"), aliases=("ig",)),
    Platform("x", "X (Twitter)", re.compile(r"[A-Za-z0-9_]{1,15}"), aliases=("twitter",)),
    Platform("linkedin", "LinkedIn", re.compile(r"[A-Za-z0-9-]{1,100}")),
    Platform(
        "youtube",
        "YouTube",
        re.compile(r"[A-Za-z0-9._-]{1,100}"),
        case_sensitive_pattern=re.compile(r"UC[A-Za-z0-9_-]{22}"),
    ),
    Platform("tiktok", "TikTok", re.compile(r"[A-Za-z0-9._]{1,24}")),
    Platform("threads", "Threads", re.compile(r"[A-Za-z0-9._]{1,30}")),
    Platform(
        "bluesky",
        "Bluesky",
        re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"),
        aliases=("bsky",),
    ),
    Platform(
        "mastodon",
        "Mastodon",
        re.compile(r"[A-Za-z0-9_]{1,30}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}"),
    ),
    Platform("flickr", "Flickr", _SIMPLE),
)

_BY_NAME: dict[str, Platform] = {}
for _platform in PLATFORMS:
    _BY_NAME[_platform.name] = _platform
    for _alias in _platform.aliases:
        _BY_NAME[_alias] = _platform


def get_platform(name: str) -> Platform:
    """The platform called ``name`` (or one of its aliases), case-insensitively."""
    platform = _BY_NAME.get(name.strip().lower())
    if platform is None:
        known = ", ".join(p.name for p in PLATFORMS)
        raise InvalidInput(f"Unknown platform {name!r}; known platforms are {known}.")
    return platform


def normalize_handle(platform: Platform, handle: str) -> tuple[str, str]:
    """Return ``(handle as shown, handle as compared)`` or refuse a malformed handle.

    The shown form drops one leading ``@`` and surrounding spaces; the compared form is
    also lower-cased where the platform ignores case.
    """
    shown = handle.strip()
    if shown.startswith("@"):
        shown = shown[1:]
    if not platform.handle_pattern.fullmatch(shown):
        raise InvalidInput(
            f"{shown!r} is not a valid {platform.label} handle "
            "(letters, digits and the platform's usual punctuation only)."
        )
    keep_case = not platform.case_insensitive or (
        platform.case_sensitive_pattern is not None
        and platform.case_sensitive_pattern.fullmatch(shown) is not None
    )
    return shown, shown if keep_case else shown.lower()
