"""The public directory of active official accounts, with its "check a link" form, in English
and French (``registry.i18n``: the ``lang`` parameter, the toggle's cookie, Accept-Language)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from registry import i18n
from registry.http.console import render
from registry.http.console.deps import attempt
from registry.http.deps import SessionDep
from registry.platforms import PLATFORMS
from registry.services import departments, verify

router = APIRouter()


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/directory", status_code=303)


@router.get("/directory", response_class=HTMLResponse)
def directory_page(
    request: Request,
    session: SessionDep,
    q: str = "",
    platform: str = "",
    department: str = "",
    check: str = "",
) -> HTMLResponse:
    """The public list of active official accounts, and a "check a link" form."""
    chosen = i18n.supported(request.query_params.get("lang"))
    lang = chosen or i18n.negotiate(
        cookie=request.cookies.get(i18n.COOKIE),
        accept_language=request.headers.get("accept-language"),
    )
    _ = i18n.translator(lang)
    answer, error = None, None
    if check.strip():
        answer, error = attempt(
            request,
            session,
            lambda: verify.answer(
                session.connection(), platform=None, handle=None, url=check, lang=lang
            ),
        )
    # A refused check rolled the session back; ask it for a connection again.
    entries, list_error = attempt(
        request,
        session,
        lambda: verify.directory(
            session.connection(), query=q, platform=platform, department=department, lang=lang
        ),
    )
    entries = entries or []
    response = render.page(
        request,
        "public/directory.html",
        title=_("Official government social media accounts"),
        lang=lang,
        toggle=_toggle(request, lang),
        endonyms=i18n.ENDONYMS,
        categories=i18n.CATEGORIES,
        status_code=200 if error is None and list_error is None else 422,
        entries=entries,
        count=len(entries) + sum(entry.twin is not None for entry in entries),
        answer=answer,
        check=check,
        q=q,
        platform=platform,
        department=department.upper(),
        platforms=PLATFORMS,
        departments=departments.all_public(session),
        **render.error_context(error or list_error),
    )
    return _in_language(request, response, lang, chosen=chosen is not None)


def _toggle(request: Request, lang: str) -> dict[str, str]:
    """The link to the same page in the other language: the same query, ``lang`` swapped."""
    other = i18n.OTHER[lang]
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {
        "lang": other,
        "label": i18n.ENDONYMS[other],
        "url": f"{request.url.path}?{urlencode([*query, ('lang', other)])}",
    }


def _in_language(
    request: Request, response: HTMLResponse, lang: str, *, chosen: bool
) -> HTMLResponse:
    """The page's language in its headers; a language chosen by the toggle (or any ``lang``
    link) is remembered in a cookie for the next public page."""
    response.headers["Content-Language"] = lang
    response.headers.append("Vary", "Accept-Language")
    response.headers.append("Vary", "Cookie")
    if chosen and request.cookies.get(i18n.COOKIE) != lang:
        response.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
