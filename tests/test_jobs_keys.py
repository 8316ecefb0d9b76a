"""The key-rotation job: a new master key, every data key rewrapped batch by batch (each batch
committed on its own), the old key retired; interrupted, it resumes where it stopped."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from registry.errors import Forbidden, Unauthenticated
from registry.jobs import keys
from registry.models import AuditEvent
from registry.services import credentials
from registry.services.actors import actor_by_email
from tests.conftest import FreshDatabase
from tests.factories import CAST, World
from vault import Secret

ADMIN = CAST["admin"][0]
SEED = "JBSW Y3DP EHPK 3PXP"


class Interrupted(Exception):
    """Stands for a crash between two batches."""


@pytest.fixture
def stored(fresh_db: FreshDatabase) -> dict[int, str]:
    """Three accounts, each with a password and a TOTP seed on file: six data keys under the
    keyring's first master key. Returns each account's password."""
    passwords = {}
    with fresh_db.scope() as session:
        world = World.build(session, fresh_db.settings())
        keyring = fresh_db.keyring()
        for n in range(3):
            account_id = world.account(f"acct{n}").id or 0
            for kind, value in (("password", f"secret-{n}"), ("totp_seed", SEED)):
                credentials.put(
                    session,
                    keyring=keyring,
                    actor=world.actor("ced1"),
                    account_id=account_id,
                    kind=kind,
                    value=Secret(value),
                )
            passwords[account_id] = f"secret-{n}"
    return passwords


def rotate(fresh_db: FreshDatabase, **kw: object) -> keys.Rotation:
    options: dict[str, object] = {"actor_email": ADMIN, **kw}
    return keys.rotate_master_key(
        engine=fresh_db.engine,
        settings=fresh_db.settings(),
        **options,  # type: ignore[arg-type]
    )


def passwords(fresh_db: FreshDatabase, account_ids: list[int]) -> dict[int, str]:
    """Every password, revealed with the keyring as it is on disk now."""
    with fresh_db.scope() as session:
        actor = actor_by_email(session, fresh_db.settings(), CAST["ced1"][0])
        return {
            account_id: credentials.reveal(
                session,
                keyring=fresh_db.keyring(),
                actor=actor,
                account_id=account_id,
                kind="password",
                reason="rotation check",
            ).value.reveal()
            for account_id in account_ids
        }


def stale(fresh_db: FreshDatabase) -> int:
    with fresh_db.scope() as session:
        return credentials.stale_count(session, fresh_db.keyring())


def vault_events(fresh_db: FreshDatabase) -> list[str]:
    with fresh_db.scope() as session:
        query = select(AuditEvent.action).where(col(AuditEvent.entity_type) == "vault")
        return list(session.exec(query.order_by(col(AuditEvent.seq))))


class TestRotation:
    def test_every_data_key_is_rewrapped_in_batches_and_the_old_key_retired(
        self, fresh_db: FreshDatabase, stored: dict[int, str]
    ) -> None:
        old_key = fresh_db.keyring().current_key_id
        seen: list[tuple[int, int]] = []

        rotation = rotate(
            fresh_db, batch=4, progress=lambda done, total: seen.append((done, total))
        )

        keyring = fresh_db.keyring()
        assert rotation == keys.Rotation(
            current_key=keyring.current_key_id, rewrapped=6, retired=[old_key]
        )
        assert rotation.current_key != old_key and keyring.info(old_key).retired
        assert seen == [(4, 6), (6, 6)]  # told after each batch
        assert stale(fresh_db) == 0
        assert passwords(fresh_db, list(stored)) == stored
        assert vault_events(fresh_db) == ["vault.key_added", "vault.rotation_finished"]

    def test_nothing_to_rewrap_still_makes_a_new_key_current(self, fresh_db: FreshDatabase) -> None:
        with fresh_db.scope() as session:
            World.build(session, fresh_db.settings())
        old_key = fresh_db.keyring().current_key_id

        rotation = rotate(fresh_db)

        assert rotation.current_key == fresh_db.keyring().current_key_id != old_key
        assert rotation.rewrapped == 0 and rotation.retired == [old_key]


class TestInterruption:
    def test_the_batches_done_stay_done_and_a_second_run_resumes_them(
        self, fresh_db: FreshDatabase, stored: dict[int, str]
    ) -> None:
        old_key = fresh_db.keyring().current_key_id

        def crash(done: int, total: int) -> None:
            raise Interrupted

        with pytest.raises(Interrupted):
            rotate(fresh_db, batch=4, progress=crash)

        new_key = fresh_db.keyring().current_key_id
        assert new_key != old_key
        assert stale(fresh_db) == 2  # the first batch of four was committed
        assert passwords(fresh_db, list(stored)) == stored  # every value still readable
        assert not fresh_db.keyring().info(old_key).retired

        rotation = rotate(fresh_db, batch=4)

        assert rotation == keys.Rotation(current_key=new_key, rewrapped=2, retired=[old_key])
        assert len(fresh_db.keyring().keys) == 2  # resumed: no third key
        assert passwords(fresh_db, list(stored)) == stored


class TestRefusals:
    def test_only_an_administrator_rotates_and_a_refusal_changes_nothing(
        self, fresh_db: FreshDatabase, stored: dict[int, str]
    ) -> None:
        before = fresh_db.keyring()

        with pytest.raises(Forbidden, match="rotate"):
            rotate(fresh_db, actor_email=CAST["ced1"][0])
        with pytest.raises(Unauthenticated, match="--as"):
            rotate(fresh_db, actor_email=None)

        after = fresh_db.keyring()
        assert [k.id for k in after.keys] == [k.id for k in before.keys]
        assert after.current_key_id == before.current_key_id
        assert stale(fresh_db) == 0 and vault_events(fresh_db) == []
