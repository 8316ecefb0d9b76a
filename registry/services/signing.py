"""Signed public answers: anyone can check, later and offline, that an answer came from the
registry.

An answer (a ``/verify`` reply, the directory feed) is signed as a compact JWS (RFC 7515) with
the keyring's current Ed25519 answer key (``alg: EdDSA``, RFC 8037); its payload is the answer
plus ``iat`` and ``exp``. The public keys are published at ``/.well-known/jwks.json`` (RFC 7517),
each named by its RFC 7638 thumbprint (``kid``). After ``registry vault rotate-signing-key`` the
old key stays published until everything it signed has expired (``PUBLISHED_FOR``), then
``rotate`` drops it from the keyring.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import warnings
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import OKPKey
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.errors import VaultUnavailable
from registry.keys import open_keyring
from registry.services import audit
from registry.services.actors import Actor
from registry.services.feed import Feed
from vault import Keyring

# RFC 9864 names the algorithm "Ed25519"; "EdDSA" is what verifiers deployed today know, and
# what this registry promises, so joserfc's notice of the newer name is not repeated per answer.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")

MEDIA_TYPE = "application/jose"
VERIFY_VALID_FOR = dt.timedelta(hours=24)  # a /verify answer
FEED_VALID_FOR = dt.timedelta(days=7)  # the directory feed (a static copy is republished weekly)
# How long a retired key stays published: as long as anything it signed can still be valid.
PUBLISHED_FOR = max(VERIFY_VALID_FOR, FEED_VALID_FOR)

NO_KEY = (
    "Public answers cannot be signed: the keyring has no answer-signing key; an administrator "
    "runs `registry vault rotate-signing-key`."
)


def kid(public: Any) -> str:
    """The RFC 7638 thumbprint of a public key: its id in the JWKS and in the JWS header."""
    return str(OKPKey.import_key(public).thumbprint())


def wants_jose(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for a signed answer (``application/jose`` with a
    quality above zero)."""
    if not accept or "jose" not in accept:
        return False
    for part in accept.split(","):
        media, *params = part.split(";")
        if media.strip().lower() != MEDIA_TYPE:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


def jwks(keyring: Keyring, *, now: dt.datetime) -> dict[str, Any]:
    """The JWK set of the keys whose signatures may still be valid at ``now``."""
    keys = []
    for info in keyring.answer_keys:
        if info.retired is not None and info.retired + PUBLISHED_FOR < now:
            continue
        jwk = OKPKey.import_key(info.public_key).as_dict(private=False)
        keys.append(
            {
                **jwk,
                "kid": kid(info.public_key),
                "alg": "EdDSA",
                "use": "sig",
                "key_ops": ["verify"],
            }
        )
    return {"keys": keys}


def _current(keyring: Keyring) -> tuple[str, Any]:
    """The key that signs now, with its id; a 503's sentence when the keyring has none."""
    current = keyring.answer_signing_key()
    if current is None:
        raise VaultUnavailable(NO_KEY)
    _, private = current
    return kid(private.public_key()), private


def current_kid(keyring: Keyring) -> str:
    """The id of the key that signs now (what :func:`sign` would put in its header)."""
    return _current(keyring)[0]


def sign(
    keyring: Keyring, payload: dict[str, Any], *, now: dt.datetime, valid_for: dt.timedelta
) -> str:
    """``payload`` plus ``iat`` and ``exp``, as a compact JWS signed with the current key."""
    key_id, private = _current(keyring)
    moment = int(now.timestamp())
    claims = {**payload, "iat": moment, "exp": moment + int(valid_for.total_seconds())}
    body = json.dumps(claims, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    header = {"alg": "EdDSA", "kid": key_id, "typ": "JOSE"}
    return jws.serialize_compact(
        header, body.encode("utf-8"), OKPKey.import_key(private), algorithms=["EdDSA"]
    )


def rotate(keyring: Keyring, *, now: dt.datetime) -> tuple[str, list[str]]:
    """A new answer key signs from now on; keys retired long enough ago are dropped. The new
    key's ``kid`` and the ids of the keys dropped."""
    keyring.drop_answer_keys(now - PUBLISHED_FOR)
    info = keyring.rotate_answer_key()
    dropped = keyring.drop_answer_keys(now - PUBLISHED_FOR)
    return kid(info.public_key), dropped


def rotate_signing_key(
    session: Session, *, settings: Settings, actor: Actor, now: dt.datetime
) -> tuple[str, list[str]]:
    """``registry vault rotate-signing-key``: administrators only, audited. The audit event is
    written first, so a keyring that cannot be written leaves no event behind."""
    if not permissions.can_rotate_keys(actor):
        raise permissions.refusal(
            actor, permissions.ADMINISTRATORS, to="rotate the key that signs public answers"
        )
    keyring = open_keyring(settings)
    previous = keyring.answer_signing_key()
    audit.record(
        session,
        actor=actor,
        action="signing_key.rotated",
        entity_type="keyring",
        entity_id="answer_keys",
        details={"previous": kid(previous[1].public_key()) if previous else None},
    )
    session.flush()
    return rotate(keyring, now=now)


def signed_feed(
    session: Session, *, settings: Settings, actor: Actor, current: Feed, now: dt.datetime
) -> str:
    """The directory feed signed for publishing (``registry export --signed``): CED and
    administrators, audited."""
    if not permissions.can_publish(actor):
        raise permissions.refusal(
            actor, permissions.PUBLISHERS, to="sign the public directory for publishing"
        )
    token = sign(open_keyring(settings), current.document, now=now, valid_for=FEED_VALID_FOR)
    audit.record(
        session,
        actor=actor,
        action="directory.exported",
        entity_type="directory",
        entity_id="feed",
        details={"accounts": current.count, "etag": current.etag.strip('"')},
    )
    return token


class KeyringCache:
    """The keyring at ``settings.keyring``, read again only when the file changes (so a signed
    answer costs a ``stat``, and a rotation on disk is picked up without a restart)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keyring: Keyring | None = None

    def get(self) -> Keyring:
        try:
            stat = Path(self._settings.keyring).stat()
        except OSError:
            return open_keyring(self._settings)  # raises VaultUnavailable saying why
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._keyring is None or stamp != self._stamp:
                self._keyring, self._stamp = open_keyring(self._settings), stamp
            return self._keyring
