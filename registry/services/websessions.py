"""Console sessions: signing in (with an API token or by single sign-on), resuming a session
while it is neither idle nor too old, and signing out.

Single sign-on decides here who the provider's answer stands for (``registry.services.oidc``
speaks the protocol): the person whose registered address the provider vouches for, bound to
the provider's subject at the first sign-in and found by that subject afterwards. Every
single sign-on and every refusal of one is audited with its reason.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.errors import Forbidden, InvalidInput, NotFound, RegistryError, Unauthenticated
from registry.models import (
    ApiToken,
    Person,
    PersonIdentity,
    PersonStatus,
    SsoLogin,
    WebSession,
    utcnow,
)
from registry.rules import check_government_email
from registry.services import audit, tokens
from registry.services.actors import Actor, actor_by_id, actor_for, find_person

SIGNED_OUT = "You are signed out; sign in again."
TOKEN_SIGNIN_OFF = "Signing in with an API token is switched off here; use single sign-on."  # noqa: S105
TOUCH_EVERY = dt.timedelta(minutes=1)  # how stale "last seen" may get before it is written
LOGIN_LIFETIME = dt.timedelta(minutes=10)  # from leaving for the provider to coming back


def lifetime(settings: Settings) -> dt.timedelta:
    """How long a console session lasts at most, however busy."""
    return dt.timedelta(hours=settings.session_max_hours)


def idle_limit(settings: Settings) -> dt.timedelta:
    """How long a console session may go unused."""
    return dt.timedelta(minutes=settings.session_idle_minutes)


def new_session(
    session: Session,
    *,
    settings: Settings,
    person_id: int,
    token: ApiToken | None = None,
    id_token: str | None = None,
) -> tuple[str, WebSession]:
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + lifetime(settings)
    web = WebSession(
        session_hash=tokens.digest(cookie),
        csrf=secrets.token_urlsafe(32),
        token_id=token.id if token else None,
        person_id=person_id,
        created_at=now,
        last_seen_at=now,
        expires_at=min(expires, token.expires_at) if token else expires,
        id_token=id_token,
    )
    session.add(web)
    session.flush()
    return cookie, web


def sign_in(session: Session, *, settings: Settings, token: str) -> tuple[str, WebSession, Actor]:
    """Check the token; return the new cookie value (shown to the browser only), the row and
    the actor. Refused when token sign-in is switched off."""
    if not settings.console_token_signin:
        raise Forbidden(TOKEN_SIGNIN_OFF)
    row = tokens.valid_token(session, token.strip())
    actor = tokens.owner(session, settings, row)
    cookie, web = new_session(session, settings=settings, person_id=actor.id, token=row)
    audit.record(
        session,
        actor=actor,
        action="web.signed_in",
        entity_type="person",
        entity_id=actor.id,
        details={"method": "token", "token_prefix": row.prefix},
    )
    return cookie, web, actor


def resume(session: Session, *, settings: Settings, cookie: str | None) -> tuple[WebSession, Actor]:
    """The signed-in browser's session and actor, or Unauthenticated: a session ends when
    signed out, when it has gone unused for the idle time, when it reaches its lifetime, when
    its token is revoked or expires, and when its person leaves."""
    if not cookie or len(cookie) > 100:
        raise Unauthenticated(SIGNED_OUT)
    hashed = tokens.digest(cookie)
    web = session.exec(select(WebSession).where(WebSession.session_hash == hashed)).first()
    now = utcnow()
    if (
        web is None
        or web.ended_at is not None
        or web.expires_at <= now
        or web.created_at + lifetime(settings) <= now
        or web.last_seen_at + idle_limit(settings) <= now
    ):
        raise Unauthenticated(SIGNED_OUT)
    if web.token_id is not None:
        token = session.get(ApiToken, web.token_id)
        if token is None or not tokens.is_live(token, now):
            raise Unauthenticated(SIGNED_OUT)
    try:
        return web, actor_by_id(session, settings, web.person_id)
    except Unauthenticated:
        raise Unauthenticated(SIGNED_OUT) from None


def needs_touch(web: WebSession) -> bool:
    """Whether the session's "last seen" time is stale enough to be written again."""
    return web.last_seen_at + TOUCH_EVERY <= utcnow()


def touch(session: Session, *, web_id: int) -> None:
    """Note that the session was used now (what its idle time counts from)."""
    web = session.get(WebSession, web_id)
    if web is not None and web.ended_at is None:
        web.last_seen_at = utcnow()
        session.add(web)
        session.flush()


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


# ------------------------------------------------------------------------ single sign-on


class SsoRefused(Unauthenticated):
    """A single sign-on that cannot go on; ``reason`` is what the audit log records."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


NOT_STARTED = (
    "This sign-in has expired or was not started in this browser; start again from the "
    "sign-in page."
)
TAMPERED = "This sign-in did not come back as it left; nothing was signed in, so start again."


@dataclass(frozen=True)
class PendingLogin:
    """What a sign-in started in this browser left for its callback."""

    id: int
    nonce: str
    code_verifier: str
    next_path: str


@dataclass(frozen=True)
class Identity:
    """What a verified ID token (and, where it said nothing, the userinfo endpoint) says of
    the person signing in."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    id_token: str = field(repr=False)


def start_sso_login(
    session: Session,
    *,
    browser: str | None,
    state: str,
    nonce: str,
    code_verifier: str,
    next_path: str,
) -> str:
    """Keep what the callback will need; the browser's cookie value (``browser`` when it
    already has a usable one, so that sign-ins started in two tabs both finish)."""
    now = utcnow()
    session.execute(delete(SsoLogin).where(col(SsoLogin.created_at) < now - LOGIN_LIFETIME))
    if not browser or len(browser) != 43 or not browser.isascii():
        browser = secrets.token_urlsafe(32)  # 43 characters
    session.add(
        SsoLogin(
            browser_hash=tokens.digest(browser),
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
            next_path=next_path,
            created_at=now,
        )
    )
    session.flush()
    return browser


def take_sso_login(
    session: Session, *, browser: str | None, state: str, issuer: str
) -> PendingLogin:
    """The sign-in this browser started with ``state``, now used up; refused (SsoRefused)
    when there is none, when ``state`` is not one this browser was given, or when it was
    already used. Only a browser that has a sign-in under way is audited (so that anonymous
    requests cannot fill the audit log)."""
    if not browser or len(browser) > 100 or not state or len(state) > 100:
        raise SsoRefused(NOT_STARTED, reason="no_sign_in_started")
    now = utcnow()
    started = session.exec(
        select(SsoLogin).where(
            SsoLogin.browser_hash == tokens.digest(browser),
            col(SsoLogin.created_at) > now - LOGIN_LIFETIME,
        )
    ).all()
    if not started:
        raise SsoRefused(NOT_STARTED, reason="no_sign_in_started")
    found = next((row for row in started if hmac.compare_digest(row.state, state)), None)
    if found is None or found.used_at is not None:
        reason = "state_mismatch" if found is None else "state_replayed"
        refusal = SsoRefused(TAMPERED, reason=reason)
        refusal.afterwards = _refusal_event(reason=reason, issuer=issuer)
        raise refusal
    found.used_at = now
    session.add(found)
    session.flush()
    return PendingLogin(
        id=found.id or 0,
        nonce=found.nonce,
        code_verifier=found.code_verifier,
        next_path=found.next_path,
    )


def record_sso_refusal(
    session: Session, *, reason: str, issuer: str, details: dict[str, Any] | None = None
) -> None:
    """Audit a single sign-on refused before anyone was identified (the provider's answer
    failed a check, or the provider could not be reached)."""
    _refusal_event(reason=reason, issuer=issuer, details=details)(session)


def _refusal_event(
    *,
    reason: str,
    issuer: str,
    identity: Identity | None = None,
    person: Person | None = None,
    details: dict[str, Any] | None = None,
) -> Any:
    facts: dict[str, Any] = {"method": "sso", "reason": reason, "issuer": issuer}
    if identity is not None:
        facts.update(subject=identity.subject, email=identity.email)
    facts.update(details or {})
    # Plain values, read now: the row expires when the refused transaction is rolled back.
    person_id, person_email = (person.id, person.email) if person else (None, None)

    def record(session: Session) -> None:
        audit.record_by(
            session,
            actor_id=person_id,
            actor_email=person_email,
            action="web.sign_in_refused",
            entity_type="person",
            entity_id=person_id or "",
            details=facts,
        )

    return record


def _refused(
    message: str, *, reason: str, identity: Identity, person: Person | None = None
) -> RegistryError:
    refusal = Forbidden(message)
    refusal.afterwards = _refusal_event(
        reason=reason, issuer=identity.issuer, identity=identity, person=person
    )
    return refusal


def sign_in_sso(
    session: Session, *, settings: Settings, identity: Identity
) -> tuple[str, WebSession, Actor]:
    """Sign in the registered, active person the provider vouches for; the cookie value,
    the session and the actor. Refused (each with its sentence and an audit event that
    outlives the refusal): no address, an unverified one, one off the government's domains,
    nobody registered with it, someone who has left, and a registration already bound to
    another subject at this provider."""
    shown = (identity.email or "")[:80]
    if not identity.email:
        raise _refused(
            "The identity provider did not say what your e-mail address is; ask CED to "
            "check the registry's single sign-on settings.",
            reason="no_email",
            identity=identity,
        )
    if not identity.email_verified:
        raise _refused(
            f"The identity provider has not verified your address {shown}, so it cannot "
            "show who you are here; ask your identity provider's administrators to verify it.",
            reason="email_unverified",
            identity=identity,
        )
    try:
        email = check_government_email(identity.email, settings.approved_domains)
    except InvalidInput:
        raise _refused(
            f"{shown} is not a government e-mail address; sign in with your government account.",
            reason="not_government_email",
            identity=identity,
        ) from None
    bound = session.exec(
        select(PersonIdentity).where(
            PersonIdentity.issuer == identity.issuer, PersonIdentity.subject == identity.subject
        )
    ).first()
    if bound is not None:
        person = session.get(Person, bound.person_id)
    else:
        person = session.exec(select(Person).where(Person.email == email)).first()
    if person is None or person.id is None:
        raise _refused(
            f"Nobody with the address {email} is registered here; ask CED to add you.",
            reason="unknown_person",
            identity=identity,
        )
    if person.status != PersonStatus.active:
        raise _refused(
            f"{person.email} has left government and can no longer sign in.",
            reason="left",
            identity=identity,
            person=person,
        )
    if bound is None:
        other = session.exec(
            select(PersonIdentity).where(
                PersonIdentity.person_id == person.id, PersonIdentity.issuer == identity.issuer
            )
        ).first()
        if other is not None:
            raise _refused(
                f"The registration of {email} belongs to another account at the identity "
                "provider; ask CED to check who you are.",
                reason="subject_bound_elsewhere",
                identity=identity,
                person=person,
            )
    actor = actor_for(session, settings, person)
    now = utcnow()
    if bound is None:
        bound = PersonIdentity(
            person_id=person.id,
            issuer=identity.issuer,
            subject=identity.subject,
            email=email,
            created_at=now,
            last_seen_at=now,
        )
        session.add(bound)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="person.identity_bound",
            entity_type="person",
            entity_id=person.id,
            details={"issuer": identity.issuer, "subject": identity.subject, "email": email},
        )
    else:
        bound.email = email
        bound.last_seen_at = now
        session.add(bound)
    cookie, web = new_session(
        session, settings=settings, person_id=person.id, id_token=identity.id_token
    )
    details: dict[str, Any] = {
        "method": "sso",
        "issuer": identity.issuer,
        "subject": identity.subject,
    }
    if email != person.email:
        details["provider_email"] = email  # the provider's address changed: an admin decides
    audit.record(
        session,
        actor=actor,
        action="web.signed_in",
        entity_type="person",
        entity_id=person.id,
        details=details,
    )
    return cookie, web, actor


def identities_of(session: Session, *, person_id: int) -> list[PersonIdentity]:
    """The subjects bound to a person (for an administrator's people page)."""
    return list(
        session.exec(
            select(PersonIdentity)
            .where(PersonIdentity.person_id == person_id)
            .order_by(col(PersonIdentity.id))
        )
    )


def unbind_identity(session: Session, *, actor: Actor, email: str, identity_id: int) -> None:
    """Forget a person's subject at a provider (administrators only): their next single
    sign-on binds again by their registered e-mail. What an administrator does when the
    provider's address for a person has changed, or a subject was bound in error."""
    if not permissions.can_manage_people(actor):
        raise permissions.refusal(actor, permissions.ADMINISTRATORS, to="unbind a sign-in")
    person_id = find_person(session, email).id
    bound = session.get(PersonIdentity, identity_id)
    if bound is None or bound.person_id != person_id:
        raise NotFound(f"No single sign-on identity {identity_id} is bound to this person.")
    session.delete(bound)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="person.identity_unbound",
        entity_type="person",
        entity_id=person_id,
        details={"issuer": bound.issuer, "subject": bound.subject, "email": bound.email},
    )
