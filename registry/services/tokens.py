"""API tokens: random, shown once, stored only as a hash, with an expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.defaults import TOKEN_DAYS, TOKEN_MAX_DAYS
from registry.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.models import ApiToken, Person, PersonStatus, TokenCreated, TokenPublic, utcnow
from registry.paging import Key, Order, Page
from registry.services import audit
from registry.services.actors import Actor, actor_by_id, find_person

TOKEN_PREFIX = "smr_"  # noqa: S105 (a label, not a secret)
DEFAULT_DAYS = TOKEN_DAYS  # defined in registry.defaults, which the CLI's help imports cheaply
MAX_DAYS = TOKEN_MAX_DAYS


def digest(secret: str) -> str:
    """How an API token or a console session cookie is stored: its SHA-256, never itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def is_live(row: ApiToken, now: dt.datetime) -> bool:
    """Whether the token is neither revoked nor expired at ``now``."""
    return row.revoked_at is None and row.expires_at > now


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: what anyone may see of it, and the secret, shown only now.

    Its ``repr`` hides the secret, so logging or printing the result leaks nothing;
    :meth:`created` is the one answer that carries it (the API's body, the CLI's ``--json``).
    """

    public: TokenPublic
    token: str

    def __repr__(self) -> str:
        return f"IssuedToken(id={self.public.id}, token=***)"

    def created(self) -> TokenCreated:
        return TokenCreated(**self.public.model_dump(), token=self.token)


def create_token(
    session: Session, *, actor: Actor | None, email: str, days: int = DEFAULT_DAYS
) -> IssuedToken:
    """Issue a token for ``email`` (administrators only; None only during set-up)."""
    if actor is not None and not permissions.can_manage_tokens(actor):
        raise permissions.refusal(actor, permissions.ADMINISTRATORS, to="create API tokens")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"A token lasts from 1 to {MAX_DAYS} days, not {days}.")
    person = find_person(session, email)
    if person.status != PersonStatus.active:
        raise Forbidden(f"{person.email} has left government and cannot be given a token.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        person_id=person.id or 0,
        token_hash=digest(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_by_id=actor.id if actor else None,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.created",
        entity_type="token",
        entity_id=row.id,
        details={
            "person": person.email,
            "prefix": row.prefix,
            "expires_at": row.expires_at.isoformat(),
        },
    )
    return IssuedToken(public=_public(row, person=person.email), token=token)


REFUSED = "The API token is missing, unknown, expired or revoked."


def valid_token(session: Session, token: str) -> ApiToken:
    """The stored row of a live token; one message for every kind of failure."""
    refused = Unauthenticated(REFUSED)
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise refused
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None or not is_live(row, utcnow()):
        raise refused
    return row


def authenticate(session: Session, *, settings: Settings, token: str) -> Actor:
    """The actor a bearer token stands for (refused when the person has left).

    Every refusal says the same sentence: a token that fails says nothing of whether its
    owner exists, has left or what their address is.
    """
    return owner(session, settings, valid_token(session, token))


def owner(session: Session, settings: Settings, row: ApiToken) -> Actor:
    """The actor a live token belongs to, refused in the same words as a bad token."""
    try:
        return actor_by_id(session, settings, row.person_id)
    except Unauthenticated:
        raise Unauthenticated(REFUSED) from None


def to_public(session: Session, rows: list[ApiToken]) -> list[TokenPublic]:
    emails = {
        p.id: p.email
        for p in session.exec(select(Person).where(col(Person.id).in_({r.person_id for r in rows})))
    }
    return [_public(r, person=emails[r.person_id]) for r in rows]


def _public(row: ApiToken, *, person: str) -> TokenPublic:
    return TokenPublic(
        id=row.id or 0,
        person=person,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


ORDER: Order[ApiToken] = Order("tokens", [col(ApiToken.id)], key=lambda t: (t.id,))


def list_tokens(
    session: Session,
    *,
    actor: Actor,
    email: str | None = None,
    limit: int | None = None,
    after: Key | None = None,
) -> Page[TokenPublic]:
    """Tokens without their secrets: an administrator's choice of person, else the actor's own.
    By id: ``limit`` of them after ``after`` (all if None)."""
    query = select(ApiToken)
    if email:
        # Authorize before looking the address up, so a refusal says nothing of whether
        # such a person exists.
        if not permissions.can_list_tokens_of(actor, email):
            raise permissions.refusal(
                actor, permissions.ADMINISTRATORS, to="list other people's tokens"
            )
        person = find_person(session, email)
        query = query.where(ApiToken.person_id == person.id)
    elif not permissions.can_manage_tokens(actor):
        query = query.where(ApiToken.person_id == actor.id)
    page = ORDER.fetch(session, query, limit=limit, after=after)
    return page.map(lambda rows: to_public(session, rows))


def revoke_token(session: Session, *, actor: Actor, token_id: int) -> TokenPublic:
    """Revoke a token (the actor's own, or any for administrators); revoking twice is
    harmless. Returns the token as it now stands."""
    row = session.get(ApiToken, token_id)
    if row is None or not permissions.can_revoke_token(actor, row):
        raise NotFound(f"No token with id {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="token.revoked",
            entity_type="token",
            entity_id=row.id,
            details={"prefix": row.prefix},
        )
    return to_public(session, [row])[0]
