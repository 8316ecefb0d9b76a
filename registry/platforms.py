"""The social media platforms the registry knows, kept as data in one place.

Each platform says how its handles look and whether they compare case-insensitively, so
``@GovMB`` and ``govmb`` are the same account where the platform treats them the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

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


# --- Profile URLs -------------------------------------------------------------------------
#
# What each platform's profile addresses look like, as data next to the handle patterns, so
# "is this URL an official account?" is answered by one parser reading one table.

MAX_URL_LENGTH = 2000

# Everything after the handle, when a shape allows more (posts, videos, tabs of a profile).
_ANY_REST = re.compile(r"[^/]+(?:/[^/]+)*")
# RFC 3986 path characters without percent-encoding: what a profile path may contain.
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]*)*")
# A plain ASCII domain name in lower case: no trailing dot, no IP address, no port.
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_DEFAULT_PORTS: Mapping[str, str] = MappingProxyType({"http": "80", "https": "443"})


@dataclass(frozen=True)
class ProfilePath:
    """One shape of profile path: fixed leading segments, then the handle, then maybe more.

    ``prefix`` segments are lower case and compared case-insensitively. ``at_sign`` means the
    handle segment must start with ``@``; otherwise one leading ``@`` is merely dropped, as
    ``normalize_handle`` does. ``id_description`` (when set) restricts the shape to handles
    matching the platform's ``case_sensitive_pattern`` and says what such an id is. ``rest``
    is what the segments after the handle, joined by ``/``, must match (``None``: nothing may
    follow). ``canonical`` shapes are the ones links are built with, first fitting one wins.
    """

    prefix: tuple[str, ...] = ()
    at_sign: bool = False
    id_description: str | None = None
    rest: re.Pattern[str] | None = _ANY_REST
    canonical: bool = True


@dataclass(frozen=True)
class ProfileUrls:
    """What one platform's profile URLs look like.

    ``hosts`` are the exact hosts (lower case, no prefix); empty means any host, the handle
    then being ``user@host`` (Mastodon). ``host_prefixes`` may precede one of ``hosts``.
    ``canonical_host`` is the host links are built with (the handle's server when ``hosts`` is
    empty). ``reserved`` first segments (lower case) are the platform's own pages, never
    handles; ``refusals`` are first segments refused with their own reason, which completes
    the sentence after the quoted URL.
    """

    hosts: tuple[str, ...]
    paths: tuple[ProfilePath, ...]
    canonical_host: str = ""
    host_prefixes: tuple[str, ...] = ("www.", "m.")
    reserved: frozenset[str] = frozenset()
    refusals: tuple[tuple[str, str], ...] = ()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PERSONAL_LINKEDIN = (
    "is a personal LinkedIn profile, and personal profiles are not registered accounts "
    "(only company and showcase pages are)"
)

# Keyed by ``Platform.name``; every platform in ``PLATFORMS`` has exactly one entry.
PROFILE_URLS: Mapping[str, ProfileUrls] = MappingProxyType(
    {
        "facebook": ProfileUrls(
            hosts=("facebook.com", "fb.com"),
            canonical_host="www.facebook.com",
            paths=(ProfilePath(),),
            reserved=_words(
                "pages groups watch events sharer sharer.php login login.php home.php "
                "l.php photo.php video.php permalink.php story.php marketplace gaming "
                "reel reels stories share dialog plugins help settings hashtag search "
                "people policies privacy messages notifications friends photo photos "
                "media live business ads"
            ),
            refusals=(
                (
                    "profile.php",
                    "names a Facebook profile by number; use the address with the page's name",
                ),
            ),
        ),
        "instagram": ProfileUrls(
            hosts=("instagram.com",),
            canonical_host="www.instagram.com",
            paths=(ProfilePath(),),
            reserved=_words(
                "p reel reels stories explore accounts tv direct about legal developer web"
            ),
        ),
        "x": ProfileUrls(
            hosts=("x.com", "twitter.com"),
            canonical_host="x.com",
            host_prefixes=("www.", "m.", "mobile."),
            paths=(ProfilePath(),),
            reserved=_words(
                "home i intent search hashtag share settings explore notifications "
                "messages compose login logout signup tos privacy"
            ),
        ),
        "linkedin": ProfileUrls(
            hosts=("linkedin.com",),
            canonical_host="www.linkedin.com",
            paths=(
                ProfilePath(prefix=("company",)),
                ProfilePath(prefix=("showcase",), canonical=False),
            ),
            refusals=(("in", _PERSONAL_LINKEDIN), ("pub", _PERSONAL_LINKEDIN)),
        ),
        "youtube": ProfileUrls(
            hosts=("youtube.com",),
            canonical_host="www.youtube.com",
            paths=(
                ProfilePath(
                    prefix=("channel",),
                    id_description="a YouTube channel id (24 characters starting with UC)",
                ),
                ProfilePath(at_sign=True),
                ProfilePath(prefix=("c",), canonical=False),
                ProfilePath(prefix=("user",), canonical=False),
            ),
            reserved=_words(
                "watch shorts playlist results feed embed live hashtag redirect account premium"
            ),
        ),
        "tiktok": ProfileUrls(
            hosts=("tiktok.com",),
            canonical_host="www.tiktok.com",
            paths=(ProfilePath(at_sign=True),),
        ),
        "threads": ProfileUrls(
            hosts=("threads.com", "threads.net"),
            canonical_host="www.threads.com",
            paths=(ProfilePath(at_sign=True),),
        ),
        "bluesky": ProfileUrls(
            hosts=("bsky.app",),
            canonical_host="bsky.app",
            paths=(ProfilePath(prefix=("profile",)),),
        ),
        "mastodon": ProfileUrls(
            hosts=(),
            host_prefixes=(),
            paths=(ProfilePath(at_sign=True, rest=re.compile(r"[0-9]+")),),
        ),
        "flickr": ProfileUrls(
            hosts=("flickr.com",),
            canonical_host="www.flickr.com",
            paths=(
                ProfilePath(prefix=("photos",)),
                ProfilePath(prefix=("people",), canonical=False),
            ),
        ),
    }
)

_HOST_OWNERS: dict[str, Platform] = {}
_ANY_HOST: Platform | None = None
for _platform in PLATFORMS:
    _urls = PROFILE_URLS.get(_platform.name)
    if _urls is None:
        raise RuntimeError(f"Platform {_platform.name!r} has no entry in PROFILE_URLS.")
    if not any(p.canonical and p.id_description is None for p in _urls.paths):
        raise RuntimeError(f"Platform {_platform.name!r} has no canonical profile path.")
    if not _urls.hosts:
        if _ANY_HOST is not None:
            raise RuntimeError("Only one platform may accept profile URLs on any host.")
        _ANY_HOST = _platform
    for _host in _urls.hosts:
        if _host in _HOST_OWNERS:
            raise RuntimeError(f"Host {_host!r} belongs to two platforms.")
        _HOST_OWNERS[_host] = _platform
if set(PROFILE_URLS) != {p.name for p in PLATFORMS}:
    raise RuntimeError("PROFILE_URLS names a platform that is not in PLATFORMS.")


def _quoted(url: str) -> str:
    return repr(url if len(url) <= 100 else url[:100] + "...")


def _host_owner(host: str) -> Platform | None:
    """The platform whose profile host ``host`` is, allowing that platform's prefixes."""
    owner = _HOST_OWNERS.get(host)
    if owner is not None:
        return owner
    for candidate, platform in _HOST_OWNERS.items():
        prefix = host.removesuffix(candidate)
        if prefix != host and prefix in PROFILE_URLS[platform.name].host_prefixes:
            return platform
    return None


def _is_id(platform: Platform, handle: str) -> bool:
    pattern = platform.case_sensitive_pattern
    return pattern is not None and pattern.fullmatch(handle) is not None


def _build_url(platform: Platform, shown: str) -> str:
    """The link for a handle already in its shown form, from the platform's canonical shape."""
    urls = PROFILE_URLS[platform.name]
    if urls.hosts:
        host, user = urls.canonical_host, shown
    else:
        user, _, server = shown.partition("@")
        host = server.lower() or "mastodon.example"
    for path in urls.paths:
        if path.canonical and (path.id_description is None or _is_id(platform, user)):
            segment = ("@" if path.at_sign else "") + user
            return f"https://{host}/" + "/".join((*path.prefix, segment))
    raise RuntimeError(f"Platform {platform.name!r} has no canonical profile path.")


def _split_url(url: str) -> tuple[str, list[str]]:
    """The lower-case host and the path segments of a web address, or refuse it."""
    quoted = _quoted(url)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(
            f"The address is longer than {MAX_URL_LENGTH} characters, too long to be a profile."
        )
    for char in url:
        if char == "\\" or unicodedata.category(char)[0] in "CZ":
            raise InvalidInput(
                f"{quoted} contains a space, control character or backslash, "
                "which a profile address never has."
            )
    scheme_match = _SCHEME.match(url)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    after_scheme = url[scheme_match.end() :] if scheme_match else ""
    if scheme not in _DEFAULT_PORTS or not after_scheme.startswith("//"):
        raise InvalidInput(f"{quoted} is not a web address starting with https:// or http://.")
    rest = after_scheme[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, rest = rest[:end], rest[end:]
    path_end = min((i for i in (rest.find(c) for c in "?#") if i >= 0), default=len(rest))
    path = rest[:path_end]
    if not (authority + path).isascii():
        raise InvalidInput(f"{quoted} has non-ASCII characters before its query string.")
    if "@" in authority:
        raise InvalidInput(f"{quoted} has a user name before the host, which is not accepted.")
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if colon and port != _DEFAULT_PORTS[scheme]:
        raise InvalidInput(f"{quoted} uses a port other than the usual one for {scheme}.")
    host = host.lower()
    if host.endswith("."):
        raise InvalidInput(f"{quoted} has a host name ending in a dot, which is not accepted.")
    if not _HOST.fullmatch(host):
        raise InvalidInput(f"{quoted} does not have a plain domain name as its host.")
    if any(label.startswith("xn--") for label in host.split(".")):
        raise InvalidInput(f"{quoted} has an internationalised (punycode) host name.")
    if "%" in path or not _PATH.fullmatch(path):
        raise InvalidInput(f"{quoted} has encoded or unexpected characters in its path.")
    segments = path.rstrip("/").split("/")[1:]
    if any(segment in ("", ".", "..") for segment in segments):
        raise InvalidInput(f"{quoted} has an empty or dot segment in its path.")
    return host, segments


def parse_profile_url(url: str) -> tuple[Platform, str]:
    """The platform and the handle (as `normalize_handle` would show it) a profile URL names;
    raises registry.errors.InvalidInput with one clear sentence for anything else.

    Only ``http``/``https`` on the default port, a plain ASCII host that is exactly one of a
    platform's hosts (after an allowed ``www.``/``m.``-style prefix), and a path of one of its
    ``PROFILE_URLS`` shapes; the query string and fragment are ignored. Any other host is
    Mastodon's when the path is ``/@user`` (maybe followed by a status number).
    """
    quoted = _quoted(url)
    host, segments = _split_url(url)
    platform = _host_owner(host)
    if platform is None:
        for known, owner in _HOST_OWNERS.items():
            if host.endswith("." + known):
                raise InvalidInput(f"{quoted} is on a {owner.label} host that has no profiles.")
        platform = _ANY_HOST
        if platform is None:
            raise InvalidInput(f"{quoted} is not on a platform the registry knows.")
    urls = PROFILE_URLS[platform.name]
    example = _build_url(platform, "name")
    if not segments:
        raise InvalidInput(
            f"{quoted} names no account; a {platform.label} profile looks like {example}."
        )
    first = segments[0].lower()
    for word, reason in urls.refusals:
        if first == word:
            raise InvalidInput(f"{quoted} {reason}.")
    reserved = InvalidInput(
        f"{quoted} is not a profile: /{segments[0]} is one of {platform.label}'s own pages."
    )
    if first in urls.reserved:
        raise reserved
    for path in urls.paths:
        count = len(path.prefix)
        if len(segments) <= count or tuple(s.lower() for s in segments[:count]) != path.prefix:
            continue
        handle = segments[count]
        if path.at_sign and not handle.startswith("@"):
            continue
        handle = handle.removeprefix("@")
        if not path.at_sign and not path.prefix and handle.lower() in urls.reserved:
            raise reserved
        more = "/".join(segments[count + 1 :])
        if more and (path.rest is None or not path.rest.fullmatch(more)):
            continue
        if handle.startswith("@"):
            raise InvalidInput(f"{quoted} has more than one @ before the handle.")
        if path.id_description is not None and not _is_id(platform, handle):
            raise InvalidInput(f"{handle!r} in {quoted} is not {path.id_description}.")
        if not urls.hosts:
            handle = f"{handle}@{host}"
        shown, _ = normalize_handle(platform, handle)
        return platform, shown
    if not urls.hosts:
        raise InvalidInput(f"{quoted} is not a profile on a platform the registry knows.")
    raise InvalidInput(
        f"{quoted} is not a {platform.label} profile address; one looks like {example}."
    )


def canonical_profile_url(platform: Platform, handle: str) -> str:
    """The https link to ``handle``'s profile on ``platform``; ``parse_profile_url`` reads it
    back as the same platform and handle (a Mastodon server is written in lower case).

    Refuses a malformed handle, and one the platform's addresses cannot name (a Facebook
    "handle" ``pages``, a Mastodon "server" that is another platform's host).
    """
    shown, compared = normalize_handle(platform, handle)
    url = _build_url(platform, shown)
    try:
        parsed_platform, parsed = parse_profile_url(url)
    except InvalidInput:
        parsed_platform, parsed = None, ""
    if parsed_platform is not platform or normalize_handle(platform, parsed)[1] != compared:
        raise InvalidInput(
            f"{shown!r} has no {platform.label} profile address: "
            f"{url!r} would not name that account."
        )
    return url
