"""Rotating the vault's master key: a new key made current, every data key rewrapped under
it batch by batch, then the old keys no value uses retired.

Each step is a transaction of its own (``registry.db.session_scope`` commits it), so an
interrupted rotation loses at most one batch and leaves every value readable: rewrapped and
not-yet-rewrapped data keys both decrypt. Running it again resumes it, since
``credentials.begin_rotation`` adds no second key while values still wait under an older one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from registry.config import Settings
from registry.db import session_scope
from registry.keys import open_keyring, session_info
from registry.services import credentials
from registry.services.actors import Actor, actor_by_email

Progress = Callable[[int, int], None]
"""Told ``(data keys rewrapped so far, how many there are to rewrap)`` after each batch."""


@dataclass(frozen=True)
class Rotation:
    """What a finished rotation did."""

    current_key: str
    rewrapped: int
    retired: list[str]


def rotate_master_key(
    *,
    engine: Engine,
    settings: Settings,
    actor_email: str | None,
    progress: Progress | None = None,
    batch: int | None = None,
) -> Rotation:
    """Rotate the master key of the keyring at ``settings.keyring`` as ``actor_email``.

    The actor is looked up again in every transaction (one who leaves or loses the role
    part-way is refused from then on); the keyring is opened once the actor is known, as
    every command that touches secrets does. ``batch`` is how many data keys a transaction
    rewraps (None: ``credentials.rewrap_batch``'s own default).
    """
    scope = session_info(settings)

    def acting(session: Session) -> Actor:
        return actor_by_email(session, settings, actor_email)

    with session_scope(engine, scope) as session:
        actor = acting(session)
        keyring = open_keyring(settings)
        key_id, pending = credentials.begin_rotation(session, keyring=keyring, actor=actor)
    done = 0
    while True:
        with session_scope(engine, scope) as session:
            actor = acting(session)
            count = (
                credentials.rewrap_batch(session, keyring=keyring, actor=actor)
                if batch is None
                else credentials.rewrap_batch(session, keyring=keyring, actor=actor, limit=batch)
            )
        if count == 0:
            break
        done += count
        if progress is not None:
            progress(done, max(pending, done))
    with session_scope(engine, scope) as session:
        retired = credentials.finish_rotation(session, keyring=keyring, actor=acting(session))
    return Rotation(current_key=key_id, rewrapped=done, retired=retired)
