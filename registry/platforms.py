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
from typing import NamedTuple

from registry.errors import InvalidInput
from registry.platform_ids import ID_RULES as ID_RULES
from registry.platform_ids import normalize_platform_id as normalize_platform_id


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
    # Characters the platform ignores when it compares names (Facebook: dots).
    ignored: str = ""
    # Namespaces other than the platform's own handles, written ``namespace/name`` (lower
    # case): a name in one never matches the same name in another (YouTube's /c/ and /user/).
    namespaces: tuple[str, ...] = ()


_SIMPLE = re.compile(r"[A-Za-z0-9._-]{1,100}")

PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "facebook",
        "Facebook",
        # At least one letter or digit: Facebook ignores the dots.
        re.compile(r"(?=[.-]*[A-Za-z0-9])[A-Za-z0-9.-]{1,100}"),
        aliases=("fb",),
        ignored=".",
    ),
    Platform("instagram", "Instagram", re.compile(r"[A-Za-z0-9._]{1,30}"), aliases=("ig",)),
    Platform("x", "X (Twitter)", re.compile(r"[A-Za-z0-9_]{1,15}"), aliases=("twitter",)),
    Platform("linkedin", "LinkedIn", re.compile(r"[A-Za-z0-9-]{1,100}")),
    Platform(
        "youtube",
        "YouTube",
        re.compile(r"[A-Za-z0-9._-]{1,100}"),
        case_sensitive_pattern=re.compile(r"UC[A-Za-z0-9_-]{22}"),
        namespaces=("c", "user"),
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

    The shown form drops one leading ``@`` and surrounding spaces, and writes a namespace in
    lower case (``c/Name``); the compared form is also lower-cased where the platform ignores
    case (never a YouTube channel id) and drops the characters the platform ignores. Every
    path that stores a handle or looks one up (registration, import, verification, a profile
    URL) compares this form, so the same account is always the same string.
    """
    shown = handle.strip()
    if shown.startswith("@"):
        shown = shown[1:]
    namespace, name = "", shown
    if platform.namespaces:
        head, slash, tail = shown.partition("/")
        if slash and head.lower() in platform.namespaces:
            namespace, name = head.lower() + "/", tail
    if not platform.handle_pattern.fullmatch(name):
        raise InvalidInput(
            f"{shown!r} is not a valid {platform.label} handle "
            "(letters, digits and the platform's usual punctuation only)."
        )
    shown = namespace + name
    keep_case = not platform.case_insensitive or (not namespace and _is_id(platform, name))
    compared = shown if keep_case else shown.lower()
    for char in platform.ignored:
        compared = compared.replace(char, "")
    return shown, compared


def handle_label(platform: Platform, shown: str) -> str:
    """How messages name a handle: ``Facebook @ManitobaGov``, ``YouTube c/ManitobaGov``."""
    return f"{platform.label} {shown}" if "/" in shown else f"{platform.label} @{shown}"


def _is_id(platform: Platform, handle: str) -> bool:
    pattern = platform.case_sensitive_pattern
    return pattern is not None and pattern.fullmatch(handle) is not None


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
_NUMBER = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class ProfilePath:
    """One shape of profile path: fixed leading segments, then the handle, then maybe more.

    ``prefix`` segments are lower case and compared case-insensitively. ``at_sign`` means the
    handle segment must start with ``@``; otherwise one leading ``@`` is merely dropped, as
    ``normalize_handle`` does. ``id_description`` (when set) restricts the shape to handles
    matching the platform's ``case_sensitive_pattern`` and says what such an id is. ``rest``
    is what the segments after the handle, joined by ``/``, must match (``None``: nothing may
    follow). ``canonical`` shapes are the ones links are built with, first fitting one wins.
    ``namespace`` puts the handle in one of ``Platform.namespaces`` (``c/Name``).
    ``slug_id`` reads the handle out of the segment (its ``id`` group: a page's number after
    its name, described by ``id_description``); ``query_id`` means there is no handle segment
    and the handle is the number in this query parameter. Neither is ever canonical.
    """

    prefix: tuple[str, ...] = ()
    at_sign: bool = False
    id_description: str | None = None
    rest: re.Pattern[str] | None = _ANY_REST
    canonical: bool = True
    namespace: str = ""
    slug_id: re.Pattern[str] | None = None
    query_id: str = ""


@dataclass(frozen=True)
class ProfileUrls:
    """What one platform's profile URLs look like.

    ``hosts`` are the exact hosts (lower case, no prefix); empty means any host, the handle
    then being ``user@host`` (Mastodon). ``host_prefixes`` may precede one of ``hosts``, and
    so may a two-letter country label where ``country_subdomains`` (``ca.linkedin.com``).
    ``canonical_host`` is the host links are built with (the handle's server when ``hosts`` is
    empty). ``reserved`` first segments (lower case) are the platform's own pages, never
    handles; ``refusals`` are leading segments (lower case, joined by ``/``) refused with their
    own reason, which completes the sentence after the quoted URL. ``tabs`` are the sections
    of a profile: a link to one is still the profile, while anything else after the handle is
    a post or other content, of which only the account is verified.
    """

    hosts: tuple[str, ...]
    paths: tuple[ProfilePath, ...]
    canonical_host: str = ""
    host_prefixes: tuple[str, ...] = ("www.", "m.")
    country_subdomains: bool = False
    reserved: frozenset[str] = frozenset()
    refusals: tuple[tuple[str, str], ...] = ()
    tabs: frozenset[str] = frozenset()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _no_account(example: str) -> str:
    return (
        "links to a post or video but not its account; check the account's own address, "
        f"like {example}"
    )


_LINKEDIN_POST = (
    "is a link to a LinkedIn post, which does not say for sure which page posted it; check "
    "the page's own address, like https://www.linkedin.com/company/name"
)
_PERSONAL_LINKEDIN = (
    "is a personal LinkedIn profile, and personal profiles are not registered accounts "
    "(only company and showcase pages are)"
)

# Keyed by ``Platform.name``; every platform in ``PLATFORMS`` has exactly one entry.
PROFILE_URLS: Mapping[str, ProfileUrls] = MappingProxyType(
    {
        "facebook": ProfileUrls(
            hosts=("facebook.com", "fb.com", "fb.me"),
            canonical_host="www.facebook.com",
            host_prefixes=("www.", "m.", "web.", "business."),
            paths=(
                ProfilePath(prefix=("profile.php",), query_id="id", rest=None, canonical=False),
                ProfilePath(prefix=("pg",), canonical=False),
                ProfilePath(
                    prefix=("p",),
                    slug_id=re.compile(r".+-(?P<id>[0-9]{1,20})"),
                    id_description="a page name followed by the page's number",
                    canonical=False,
                ),
                ProfilePath(),
            ),
            reserved=_words(
                "pages groups watch events sharer sharer.php login login.php home.php "
                "l.php photo.php video.php permalink.php story.php marketplace gaming "
                "reel reels stories share dialog plugins help settings hashtag search "
                "people policies privacy messages notifications friends photo photos "
                "media live business ads"
            ),
            refusals=tuple(
                (word, _no_account("https://www.facebook.com/name"))
                for word in sorted(
                    _words("permalink.php story.php photo.php video.php watch photo reel share")
                )
            ),
            tabs=_words(
                "about photos photos_by photos_albums videos posts events reviews community "
                "mentions followers following friends reels live_videos services shop map"
            ),
        ),
        "instagram": ProfileUrls(
            hosts=("instagram.com",),
            canonical_host="www.instagram.com",
            paths=(ProfilePath(),),
            reserved=_words(
                "p reel reels stories explore accounts tv direct about legal developer web"
            ),
            refusals=tuple(
                (word, _no_account("https://www.instagram.com/name"))
                for word in ("p", "reel", "tv")
            ),
            tabs=_words("tagged reels followers following"),
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
            refusals=tuple(
                (words, _no_account("https://x.com/name"))
                for words in ("i/status", "i/web/status", "statuses")
            ),
            tabs=_words(
                "with_replies media likes followers following verified_followers highlights "
                "articles affiliates"
            ),
        ),
        "linkedin": ProfileUrls(
            hosts=("linkedin.com",),
            canonical_host="www.linkedin.com",
            country_subdomains=True,
            paths=(
                ProfilePath(prefix=("company",)),
                ProfilePath(prefix=("showcase",), canonical=False),
            ),
            refusals=(
                ("in", _PERSONAL_LINKEDIN),
                ("pub", _PERSONAL_LINKEDIN),
                ("posts", _LINKEDIN_POST),
                ("feed/update", _LINKEDIN_POST),
                ("pulse", _LINKEDIN_POST),
            ),
            tabs=_words("about posts jobs people life videos events insights products"),
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
                ProfilePath(prefix=("c",), namespace="c"),
                ProfilePath(prefix=("user",), namespace="user"),
                # youtube.com/Name, the short form of a custom URL (/c/Name).
                ProfilePath(namespace="c", canonical=False),
            ),
            reserved=_words(
                "watch shorts playlist results feed embed live hashtag redirect account premium "
                "post v e clip t s yt about ads api attribution_link creators gaming "
                "howyoutubeworks index jobs kids logout movies music new oembed signin source "
                "store subscription_manager supported_browsers trending tv upload youtubei"
            ),
            refusals=tuple(
                (word, _no_account("https://www.youtube.com/@name"))
                for word in ("watch", "shorts", "live", "embed", "v", "post", "clip")
            ),
            tabs=_words(
                "videos shorts streams playlists featured about channels podcasts releases"
            ),
        ),
        "tiktok": ProfileUrls(
            hosts=("tiktok.com",),
            canonical_host="www.tiktok.com",
            paths=(ProfilePath(at_sign=True),),
            refusals=(("t", _no_account("https://www.tiktok.com/@name")),),
        ),
        "threads": ProfileUrls(
            hosts=("threads.com", "threads.net"),
            canonical_host="www.threads.com",
            paths=(ProfilePath(at_sign=True),),
            refusals=(("t", _no_account("https://www.threads.com/@name")),),
            tabs=_words("replies reposts media"),
        ),
        "bluesky": ProfileUrls(
            hosts=("bsky.app",),
            canonical_host="bsky.app",
            paths=(ProfilePath(prefix=("profile",)),),
            tabs=_words("follows followers"),
        ),
        "mastodon": ProfileUrls(
            hosts=(),
            host_prefixes=(),
            paths=(
                ProfilePath(at_sign=True, rest=re.compile(r"[0-9]+")),
                ProfilePath(
                    prefix=("users",), rest=re.compile(r"statuses/[0-9]+"), canonical=False
                ),
            ),
        ),
        "flickr": ProfileUrls(
            hosts=("flickr.com",),
            canonical_host="www.flickr.com",
            paths=(
                ProfilePath(prefix=("photos",)),
                ProfilePath(prefix=("people",), canonical=False),
            ),
            tabs=_words("albums favorites galleries sets tags map"),
        ),
    }
)

# Every host a profile may be on, with its allowed prefixes: one dictionary look-up per URL.
_HOSTS: dict[str, Platform] = {}
# The hosts as listed, without prefixes: any subdomain of one is that platform's.
_BASE_HOSTS: dict[str, Platform] = {}
# Hosts that also take a two-letter country label in front (``ca.linkedin.com``).
_COUNTRY_HOSTS: dict[str, Platform] = {}
# The platform whose profiles are on any host (Mastodon), if one is.
_ANY_HOST: Platform | None = None
# Per platform: leading segments of each refusal, the first segments of its prefixed shapes
# (never a handle of an unprefixed shape) and an example address for messages.
_REFUSALS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {}
_PREFIX_WORDS: dict[str, frozenset[str]] = {}
_EXAMPLES: dict[str, str] = {}
for _platform in PLATFORMS:
    _urls = PROFILE_URLS.get(_platform.name)
    if _urls is None:
        raise RuntimeError(f"Platform {_platform.name!r} has no entry in PROFILE_URLS.")
    if not any(p.canonical and not p.namespace and p.id_description is None for p in _urls.paths):
        raise RuntimeError(f"Platform {_platform.name!r} has no canonical profile path.")
    for _path in _urls.paths:
        if _path.canonical and (_path.slug_id is not None or _path.query_id):
            raise RuntimeError(f"A {_platform.name!r} shape read from a number is canonical.")
        if _path.namespace and _path.namespace not in _platform.namespaces:
            raise RuntimeError(f"Platform {_platform.name!r} has no namespace {_path.namespace!r}.")
    if not _urls.hosts:
        if _ANY_HOST is not None:
            raise RuntimeError("Only one platform may accept profile URLs on any host.")
        _ANY_HOST = _platform
    for _host in _urls.hosts:
        _BASE_HOSTS[_host] = _platform
        for _prefix in ("", *_urls.host_prefixes):
            if _prefix + _host in _HOSTS:
                raise RuntimeError(f"Host {_prefix + _host!r} belongs to two platforms.")
            _HOSTS[_prefix + _host] = _platform
        if _urls.country_subdomains:
            _COUNTRY_HOSTS[_host] = _platform
    _REFUSALS[_platform.name] = tuple(
        (tuple(words.split("/")), reason) for words, reason in _urls.refusals
    )
    _PREFIX_WORDS[_platform.name] = frozenset(p.prefix[0] for p in _urls.paths if p.prefix)
if set(PROFILE_URLS) != {p.name for p in PLATFORMS}:
    raise RuntimeError("PROFILE_URLS names a platform that is not in PLATFORMS.")


class ProfileLink(NamedTuple):
    """What a profile URL names: the account, and whether the link is to more than the profile.

    ``handle`` and ``compared`` are ``normalize_handle``'s two forms. ``content`` is true when
    the link is to a post, a video or anything else past the profile and its tabs: the account
    is named by the address, but what the link shows is not (X, for one, shows a post by its
    number whatever name is in front of it).
    """

    platform: Platform
    handle: str
    compared: str
    content: bool


def _quoted(url: str) -> str:
    return repr(url if len(url) <= 100 else url[:100] + "...")


def _host_owner(host: str) -> Platform | None:
    """The platform whose profile host ``host`` is, allowing that platform's prefixes."""
    owner = _HOSTS.get(host)
    if owner is None and _COUNTRY_HOSTS:
        label, _, parent = host.partition(".")
        if len(label) == 2 and label.isalpha():
            owner = _COUNTRY_HOSTS.get(parent)
    return owner


def _build_url(platform: Platform, shown: str) -> str:
    """The link for a handle already in its shown form, from the platform's canonical shape."""
    urls = PROFILE_URLS[platform.name]
    namespace, _, user = shown.rpartition("/")
    if not urls.hosts:
        user, _, server = user.partition("@")
        host = server.lower() or "mastodon.example"
    else:
        host = urls.canonical_host
    for path in urls.paths:
        if (
            path.canonical
            and path.namespace == namespace
            and (path.id_description is None or _is_id(platform, user))
        ):
            segment = ("@" if path.at_sign else "") + user
            return f"https://{host}/" + "/".join((*path.prefix, segment))
    raise RuntimeError(f"Platform {platform.name!r} has no canonical profile path.")


for _platform in PLATFORMS:
    _EXAMPLES[_platform.name] = _build_url(_platform, "name")


def _split_url(url: str) -> tuple[str, list[str], str]:
    """The lower-case host, the path segments and the query string of a web address, or
    refuse it."""
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
    path, query = rest[:path_end], rest[path_end:].partition("#")[0][1:]
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
    return host, segments, query


def _query_number(query: str, key: str, quoted: str) -> str:
    """The one number the query parameter ``key`` gives, or a refusal."""
    values = [
        value for name, _, value in (p.partition("=") for p in query.split("&")) if name == key
    ]
    if len(values) != 1 or not _NUMBER.fullmatch(values[0]):
        raise InvalidInput(f"{quoted} does not give exactly one number as its {key} parameter.")
    return values[0]


def read_profile_url(url: str) -> ProfileLink:
    """The account a profile URL names, and whether it links to a post or other content;
    raises registry.errors.InvalidInput with one clear sentence for anything else.

    Only ``http``/``https`` on the default port, a plain ASCII host that is exactly one of a
    platform's hosts (after an allowed ``www.``/``m.``-style prefix), and a path of one of its
    ``PROFILE_URLS`` shapes; the query string and fragment are ignored (but for a page's
    number in ``profile.php?id=``). Any other host is Mastodon's when the path is ``/@user``
    or ``/users/user`` (maybe followed by a status). A link to a post that does not name its
    account, or names it in a way the platform does not check, is refused.
    """
    quoted = _quoted(url)
    host, segments, query = _split_url(url)
    platform = _host_owner(host)
    if platform is None:
        for known, owner in _BASE_HOSTS.items():
            if host.endswith("." + known):
                raise InvalidInput(f"{quoted} is on a {owner.label} host that has no profiles.")
        platform = _ANY_HOST
        if platform is None:
            raise InvalidInput(f"{quoted} is not on a platform the registry knows.")
    urls = PROFILE_URLS[platform.name]
    if not segments:
        raise InvalidInput(
            f"{quoted} names no account; a {platform.label} profile looks like "
            f"{_EXAMPLES[platform.name]}."
        )
    lowered = [segment.lower() for segment in segments[:3]]
    for words, reason in _REFUSALS[platform.name]:
        if tuple(lowered[: len(words)]) == words:
            raise InvalidInput(f"{quoted} {reason}.")
    reserved = InvalidInput(
        f"{quoted} is not a profile: /{segments[0]} is one of {platform.label}'s own pages."
    )
    first = lowered[0]
    if first in urls.reserved:
        raise reserved
    for path in urls.paths:
        count = len(path.prefix)
        if path.query_id:
            if len(segments) != count or tuple(lowered[:count]) != path.prefix:
                continue
            handle, more = _query_number(query, path.query_id, quoted), []
        else:
            if len(segments) <= count or tuple(lowered[:count]) != path.prefix:
                continue
            handle = segments[count]
            if path.at_sign and not handle.startswith("@"):
                continue
            handle = handle.removeprefix("@")
            if (
                not path.at_sign
                and not path.prefix
                and (
                    handle.lower() in urls.reserved
                    or handle.lower() in _PREFIX_WORDS[platform.name]
                )
            ):
                raise reserved
            more = segments[count + 1 :]
            if more and (path.rest is None or not path.rest.fullmatch("/".join(more))):
                continue
            if handle.startswith("@"):
                raise InvalidInput(f"{quoted} has more than one @ before the handle.")
            if path.slug_id is not None:
                slug = path.slug_id.fullmatch(handle)
                if slug is None:
                    raise InvalidInput(f"{handle!r} in {quoted} is not {path.id_description}.")
                handle = slug.group("id")
            elif path.id_description is not None and not _is_id(platform, handle):
                raise InvalidInput(f"{handle!r} in {quoted} is not {path.id_description}.")
            elif path.id_description is None and not path.namespace and _is_id(platform, handle):
                raise InvalidInput(
                    f"{quoted} names a {platform.label} handle shaped like a channel id, "
                    "which the registry does not read as that channel; use its /channel/ address."
                )
        if not urls.hosts:
            user, at, server = handle.partition("@")
            if at:
                server = server.lower()
                if server != host:
                    if not _HOST.fullmatch(server):
                        raise InvalidInput(f"{quoted} does not name an account on a server.")
                    raise InvalidInput(
                        f"{quoted} shows an account of another server through {host}; check "
                        f"it at its own address, https://{server}/@{user}."
                    )
            handle = f"{user}@{host}"
        if path.namespace:
            handle = f"{path.namespace}/{handle}"
        shown, compared = normalize_handle(platform, handle)
        content = bool(more) and not (len(more) == 1 and more[0].lower() in urls.tabs)
        return ProfileLink(platform, shown, compared, content)
    if not urls.hosts:
        raise InvalidInput(f"{quoted} is not a profile on a platform the registry knows.")
    raise InvalidInput(
        f"{quoted} is not a {platform.label} profile address; one looks like "
        f"{_EXAMPLES[platform.name]}."
    )


def parse_profile_url(url: str) -> tuple[Platform, str]:
    """The platform and the handle (as ``normalize_handle`` would show it) a profile URL names,
    as ``read_profile_url`` reads it; compare accounts with ``read_profile_url(url).compared``
    (or ``normalize_handle``), which gives the same string."""
    link = read_profile_url(url)
    return link.platform, link.handle


def canonical_profile_url(platform: Platform, handle: str) -> str:
    """The https link to ``handle``'s profile on ``platform``; ``read_profile_url`` reads it
    back as the same platform and compared handle (a Mastodon server is written in lower case).

    Refuses a malformed handle, and one the platform's addresses cannot name (a Facebook
    "handle" ``pages``, a Mastodon "server" that is another platform's host).
    """
    shown, compared = normalize_handle(platform, handle)
    url = _build_url(platform, shown)
    try:
        link: ProfileLink | None = read_profile_url(url)
    except InvalidInput:
        link = None
    if link is None or link.platform is not platform or link.compared != compared:
        raise InvalidInput(
            f"{shown!r} has no {platform.label} profile address: "
            f"{url!r} would not name that account."
        )
    return url
