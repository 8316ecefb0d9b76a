"""Web console sign-in: an API token exchanged for a browser session with a CSRF token."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from sqlmodel import Session, select

from registry.config import Settings
from registry.errors import Forbidden, Unauthenticated
from registry.models import ApiToken, WebSession, utcnow
from registry.services import audit, tokens
from registry.services.actors import Actor, actor_by_id

SESSION_LIFETIME = dt.timedelta(hours=8)
SIGNED_OUT = "You are signed out; sign in with your API token."


def sign_in(session: Session, *, settings: Settings, token: str) -> tuple[str, WebSession, Actor]:
    """Check the token; return the new cookie value (shown to the browser only), the row and
    the actor."""
    row = tokens.valid_token(session, token.strip())
    actor = tokens.owner(session, settings, row)
    cookie = secrets.token_urlsafe(32)
    web = WebSession(
        session_hash=tokens.digest(cookie),
        csrf=secrets.token_urlsafe(32),
        token_id=row.id or 0,
        person_id=actor.id,
        expires_at=min(utcnow() + SESSION_LIFETIME, row.expires_at),
    )
    session.add(web)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="web.signed_in",
        entity_type="person",
        entity_id=actor.id,
        details={"token_prefix": row.prefix},
    )
    return cookie, web, actor


def resume(session: Session, *, settings: Settings, cookie: str | None) -> tuple[WebSession, Actor]:
    """The signed-in browser's session and actor, or Unauthenticated."""
    if not cookie or len(cookie) > 100:
        raise Unauthenticated(SIGNED_OUT)
    hashed = tokens.digest(cookie)
    web = session.exec(select(WebSession).where(WebSession.session_hash == hashed)).first()
    now = utcnow()
    if web is None or web.ended_at is not None or web.expires_at <= now:
        raise Unauthenticated(SIGNED_OUT)
    token = session.get(ApiToken, web.token_id)
    if token is None or not tokens.is_live(token, now):
        raise Unauthenticated(SIGNED_OUT)
    try:
        return web, actor_by_id(session, settings, web.person_id)
    except Unauthenticated:
        raise Unauthenticated(SIGNED_OUT) from None


def check_csrf(web: WebSession, value: str | None) -> None:
    if not value or not hmac.compare_digest(web.csrf, value):
        raise Forbidden("This form has expired or did not come from the console; reload the page.")


def sign_out(session: Session, *, web: WebSession, actor: Actor) -> None:
    web.ended_at = utcnow()
    session.add(web)
    session.flush()
    audit.record(
        session, actor=actor, action="web.signed_out", entity_type="person", entity_id=actor.id
    )
