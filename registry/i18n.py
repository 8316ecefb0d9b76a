"""Both official languages on the public side: which one a request gets, and its sentences.

The public directory, the check of a link and ``/verify``'s ``message`` speak English and
French. The sentences are gettext messages (``_("...")`` with named placeholders), extracted by
Babel into ``registry/locale/messages.pot`` and translated in
``registry/locale/fr/LC_MESSAGES/messages.po`` (``make i18n-extract``, ``make i18n-update``,
``make i18n-compile``). The compiled ``.mo`` is built, not committed: when it is missing or
older than the ``.po`` (a fresh clone, an edited catalogue), the ``.po`` is read with Babel and
compiled in memory. Either way a language's catalogue is loaded once per process; a sentence
is then a dictionary lookup.

The language of a request: a ``lang`` query parameter (``en`` or ``fr``) wins, then the
``lang`` cookie the toggle of the public pages sets, then ``Accept-Language`` with its
q-values; anything else is English.
"""

from __future__ import annotations

import gettext as _gettext
import io
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("en", "fr")
DEFAULT = "en"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).parent / "locale"
COOKIE = "lang"

# Each language named in its own words: what the toggle and a pair of twin accounts show.
ENDONYMS = {"en": "English", "fr": "Français"}
# The language of the other side of the toggle.
OTHER = {"en": "fr", "fr": "en"}

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; translated where it is shown."""
    return message


# The words the public side shows for stored values (translated when shown: ``_(STATUS[s])``).
STATUS = {
    "pending": N_("pending"),
    "active": N_("active"),
    "suspended": N_("suspended"),
    "decommissioned": N_("decommissioned"),
}
LANGUAGE_NAMES = {
    "en": N_("English"),
    "fr": N_("French"),
    "bilingual": N_("Bilingual"),
    "other": N_("Other"),
}
CATEGORIES = {
    "official": N_("official"),
    "employment_related": N_("employment related"),
}

_LOCK = threading.Lock()
_CATALOGUES: dict[str, _gettext.NullTranslations] = {}


def supported(value: str | None) -> str | None:
    """``value`` as a supported language (``fr``, ``FR``, ``fr-CA`` → ``fr``), else None."""
    if not value:
        return None
    primary = value.strip()[:16].split("-", 1)[0].split("_", 1)[0].lower()
    return primary if primary in LANGUAGES else None


@lru_cache(maxsize=512)
def from_accept_language(header: str) -> str:
    """The supported language ``Accept-Language`` prefers most (q-values honoured, ties to
    the first named, ``q=0`` refused), else English. Cached: browsers send few distinct
    headers, so a repeated one costs a lookup."""
    best, best_q = DEFAULT, 0.0
    for part in header[:1000].split(",")[:50]:
        tag, _sep, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            name, eq, value = param.partition("=")
            if eq and name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                if not 0.0 <= q <= 1.0:  # also refuses nan
                    q = -1.0
        language = supported(tag)
        if language is not None and q > best_q:
            best, best_q = language, q
    return best


def negotiate(
    param: str | None = None, cookie: str | None = None, accept_language: str | None = None
) -> str:
    """The language of a request: the ``lang`` parameter, the cookie, then the header."""
    chosen = supported(param) or supported(cookie)
    if chosen is not None:
        return chosen
    if accept_language:
        return from_accept_language(accept_language)
    return DEFAULT


def catalogue(lang: str) -> _gettext.NullTranslations:
    """The translations of ``lang`` (English: the messages as they are), loaded once."""
    found = _CATALOGUES.get(lang)
    if found is not None:
        return found
    with _LOCK:
        found = _CATALOGUES.get(lang)
        if found is None:
            found = _CATALOGUES[lang] = _load(lang)
    return found


def translator(lang: str) -> Gettext:
    """``_`` for ``lang``: a message in, its translation out (unknown languages: English)."""
    return catalogue(lang if lang in LANGUAGES else DEFAULT).gettext


def _load(lang: str) -> _gettext.NullTranslations:
    if lang == DEFAULT:
        return _gettext.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as file:
            return _gettext.GNUTranslations(file)
    if not po.exists():
        raise FileNotFoundError(f"No message catalogue for {lang!r} in {folder}.")
    return compile_po(po, lang)


def compile_po(po: Path, lang: str) -> _gettext.GNUTranslations:
    """A ``.po`` compiled in memory (fuzzy entries left out, as ``pybabel compile`` does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as file:
        messages = read_po(file, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, messages, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)
