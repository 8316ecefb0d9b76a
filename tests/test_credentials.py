"""Credentials on file: who may put and reveal, versions, TOTP, rotation, shredding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session, select

from registry.config import Settings
from registry.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RegistryError,
    VaultUnavailable,
)
from registry.keys import open_keyring
from registry.models import AuditEvent, Credential, utcnow
from registry.services import credentials
from registry.services.actors import actor_by_email
from tests.conftest import FreshDatabase
from tests.factories import CAST, World
from vault import Keyring, Secret, totp_now

SEED = "JBSW Y3DP EHPK 3PXP"  # 80-bit seed, spaced as authenticator apps show it


def put(
    world: World, keyring: Keyring, who: str, account_id: int, value: str, kind: str = "password"
) -> Credential:
    return credentials.put(
        world.session,
        keyring=keyring,
        actor=world.actor(who),
        account_id=account_id,
        kind=kind,
        value=Secret(value),
    )


def reveal(
    world: World, keyring: Keyring, who: str, account_id: int, kind: str = "password", **kw: object
) -> str:
    revealed = credentials.reveal(
        world.session,
        keyring=keyring,
        actor=world.actor(who),
        account_id=account_id,
        kind=kind,
        reason=str(kw.pop("reason", "Posting the flood update")),
        **kw,  # type: ignore[arg-type]
    )
    return revealed.value.reveal()


@pytest.fixture
def account_id(world: World) -> int:
    """An AGR account held by ced1 (CED) and agr_staff."""
    return world.account("MBAgNews", holders=("ced1", "agr_staff")).id or 0


# who -> expected outcome of put and of reveal (password) on an AGR account held by
# ced1 and agr_staff.
AUTHORIZATION = {
    "ced1": ("ok", "ok"),  # CED holder
    "ced2": ("ok", "ok"),  # CED, not a holder: CED holds every account's credentials
    "admin": ("ok", "ok"),  # administrator with the ced role
    "agr_staff": ("ok", "ok"),  # holder from the department
    "agr_requester": (Forbidden, Forbidden),  # same department, not a holder
    "agr_approver": (Forbidden, Forbidden),  # department executive, not a holder
    "hlt_requester": (NotFound, NotFound),  # another department: not even visible
    "hlt_approver": (NotFound, NotFound),
    "auditor": (Forbidden, Forbidden),  # reads everything but secrets
    "fin_admin": (Forbidden, Forbidden),  # an administrator who is not CED
}


class TestAuthorization:
    @pytest.mark.parametrize("who", sorted(AUTHORIZATION))
    def test_put_and_reveal_by_role(
        self, world: World, keyring: Keyring, account_id: int, who: str
    ) -> None:
        put(world, keyring, "ced1", account_id, "s3cret-v1")
        expect_put, expect_reveal = AUTHORIZATION[who]
        if expect_put == "ok":
            put(world, keyring, who, account_id, f"set-by-{who}")
            on_file = f"set-by-{who}"  # an allowed put replaces the value
        else:
            with pytest.raises(expect_put):
                put(world, keyring, who, account_id, "nope")
            on_file = "s3cret-v1"  # a refused one leaves it as it was
        if expect_reveal == "ok":
            assert reveal(world, keyring, who, account_id) == on_file
        else:
            with pytest.raises(expect_reveal):
                reveal(world, keyring, who, account_id)
        assert reveal(world, keyring, "ced1", account_id) == on_file

    def test_a_leaver_cannot_act_at_all(self, world: World, account_id: int) -> None:
        leaver = world.people["agr_staff"]
        leaver.status = "left"
        world.session.add(leaver)
        world.session.flush()
        with pytest.raises(RegistryError, match="has left government"):
            world.actor("agr_staff")

    def test_only_ced_reveals_a_totp_seed_but_holders_get_codes(
        self, world: World, keyring: Keyring, account_id: int
    ) -> None:
        put(world, keyring, "ced1", account_id, SEED, kind="totp_seed")
        with pytest.raises(Forbidden, match="only CED may"):
            reveal(world, keyring, "agr_staff", account_id, kind="totp_seed")
        assert reveal(world, keyring, "ced2", account_id, kind="totp_seed") == SEED
        code = credentials.totp(
            world.session, keyring=keyring, actor=world.actor("agr_staff"), account_id=account_id
        )
        assert code.code == totp_now(SEED).code and 1 <= code.seconds_left <= 30
        with pytest.raises(Forbidden):
            credentials.totp(
                world.session, keyring=keyring, actor=world.actor("auditor"), account_id=account_id
            )


class TestPutAndReveal:
    def test_versions_and_the_last_ten_are_kept(
        self, world: World, keyring: Keyring, account_id: int
    ) -> None:
        for n in range(1, 13):
            row = put(world, keyring, "ced1", account_id, f"password-{n}")
            assert row.version == n
        assert reveal(world, keyring, "ced1", account_id) == "password-12"
        assert reveal(world, keyring, "ced1", account_id, version=3) == "password-3"
        with pytest.raises(InvalidTransition, match="shredded"):
            reveal(world, keyring, "ced1", account_id, version=2)
        [status] = credentials.status(
            world.session, actor=world.actor("auditor"), account_id=account_id
        )
        assert (status.version, status.versions_kept, status.set_by) == (12, 10, CAST["ced1"][0])
        rows = world.session.exec(
            select(Credential).where(Credential.account_id == account_id)
        ).all()
        assert sum(r.shredded_at is not None for r in rows) == 2

    def test_values_are_sealed_in_the_database(
        self, world: World, keyring: Keyring, account_id: int
    ) -> None:
        row = put(world, keyring, "ced1", account_id, "hunter2-canary")
        assert "hunter2" not in row.sealed and row.sealed.startswith("v1.")
        assert "hunter2" not in repr(row)

    def test_blank_reason_is_refused(self, world: World, keyring: Keyring, account_id: int) -> None:
        put(world, keyring, "ced1", account_id, "x")
        with pytest.raises(Forbidden, match="reason is required"):
            reveal(world, keyring, "ced1", account_id, reason="   ")

    @pytest.mark.parametrize(
        ("kind", "value", "message"),
        [
            ("password", "", "empty"),
            ("password", "   ", "empty"),
            ("password", "x" * 8193, "longer than 8192"),
            ("totp_seed", "not base32!", "seed"),
            ("pin", "1234", "Unknown credential kind"),
        ],
    )
    def test_bad_values_are_refused(
        self, world: World, keyring: Keyring, account_id: int, kind: str, value: str, message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            put(world, keyring, "ced1", account_id, value, kind=kind)
        assert world.session.exec(select(Credential)).all() == []

    def test_nothing_on_file(self, world: World, keyring: Keyring, account_id: int) -> None:
        with pytest.raises(NotFound, match="has no recovery_codes on file"):
            reveal(world, keyring, "ced1", account_id, kind="recovery_codes")

    def test_a_ciphertext_moved_to_another_account_does_not_decrypt(
        self, world: World, keyring: Keyring, account_id: int
    ) -> None:
        other = world.account("Other", holders=("ced1", "agr_staff")).id or 0
        put(world, keyring, "ced1", account_id, "for-account-one")
        put(world, keyring, "ced1", other, "for-account-two")
        rows = {r.account_id: r for r in world.session.exec(select(Credential)).all()}
        rows[other].sealed = rows[account_id].sealed
        world.session.add(rows[other])
        world.session.flush()
        with pytest.raises(credentials.VaultIntegrity, match="cannot be decrypted"):
            reveal(world, keyring, "ced1", other)

    def test_reveal_is_audited_before_decryption(
        self, world: World, keyring: Keyring, account_id: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        put(world, keyring, "ced1", account_id, "x")
        order: list[str] = []
        real_record, real_open = credentials.audit.record, credentials._open
        monkeypatch.setattr(
            credentials.audit,
            "record",
            lambda *a, **k: (order.append("audit"), real_record(*a, **k))[1],
        )
        monkeypatch.setattr(
            credentials, "_open", lambda *a: (order.append("decrypt"), real_open(*a))[1]
        )
        reveal(world, keyring, "agr_staff", account_id, reason="Weekly post")
        assert order == ["audit", "decrypt"]
        event = world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "credential.revealed")
        ).one()
        assert event.details == {"kind": "password", "version": 1, "reason": "Weekly post"}

    def test_if_the_audit_cannot_be_written_nothing_is_revealed(
        self, world: World, keyring: Keyring, account_id: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        put(world, keyring, "ced1", account_id, "x")
        decrypted: list[object] = []

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("audit table unavailable")

        monkeypatch.setattr(credentials.audit, "record", broken)
        monkeypatch.setattr(credentials, "_open", lambda *a: decrypted.append(a))
        with pytest.raises(RuntimeError):
            reveal(world, keyring, "ced1", account_id)
        assert decrypted == []


class TestRefusalsAreAudited:
    def test_a_refused_reveal_is_recorded_though_nothing_else_changes(
        self, fresh_db: FreshDatabase
    ) -> None:
        settings = fresh_db.settings()
        with fresh_db.scope() as session:
            world = World.build(session, settings)
            account_id = world.account().id or 0
        keyring = fresh_db.keyring()
        with pytest.raises(Forbidden), fresh_db.scope() as session:
            actor = actor_by_email(session, settings, CAST["auditor"][0])
            credentials.reveal(
                session,
                keyring=keyring,
                actor=actor,
                account_id=account_id,
                kind="password",
                reason="Curious",
            )
        with Session(fresh_db.engine) as session:
            event = session.exec(
                select(AuditEvent).where(AuditEvent.action == "credential.reveal_refused")
            ).one()
        assert event.actor_email == CAST["auditor"][0]
        assert event.details["reason"] == "Curious" and "may not reveal" in event.details["refused"]


class TestKeyring:
    def test_missing_and_too_open_keyrings_are_a_clear_503(self, tmp_path: Path) -> None:
        with pytest.raises(VaultUnavailable, match="No keyring file") as caught:
            open_keyring(Settings(keyring=str(tmp_path / "absent.keyring")))
        assert caught.value.status_code == 503
        path = tmp_path / "open.keyring"
        Keyring.create(path)
        path.chmod(0o644)
        with pytest.raises(VaultUnavailable, match=r"chmod 600|permissions|readable"):
            open_keyring(Settings(keyring=str(path)))

    def test_a_different_keyring_cannot_read(
        self, world: World, keyring: Keyring, account_id: int, tmp_path: Path
    ) -> None:
        put(world, keyring, "ced1", account_id, "x")
        stranger = Keyring.create(tmp_path / "other.keyring")
        with pytest.raises(credentials.VaultIntegrity, match="cannot be decrypted"):
            reveal(world, stranger, "ced1", account_id)


class TestRotation:
    def test_rotation_interrupted_then_resumed(self, fresh_db: FreshDatabase) -> None:
        settings = fresh_db.settings()
        admin = CAST["admin"][0]
        with fresh_db.scope() as session:
            world = World.build(session, settings)
            ids = [world.account(f"acct{n}").id or 0 for n in range(3)]
            keyring = fresh_db.keyring()
            for n, account_id in enumerate(ids):
                put(world, keyring, "ced1", account_id, f"secret-{n}")
                put(world, keyring, "ced1", account_id, SEED, kind="totp_seed")
        old_key = keyring.current_key_id

        def step(fn, **kw):  # type: ignore[no-untyped-def]
            with fresh_db.scope() as session:
                actor = actor_by_email(session, settings, admin)
                return fn(session, keyring=keyring, actor=actor, **kw)

        def read_all() -> list[str]:
            with fresh_db.scope() as session:
                actor = actor_by_email(session, settings, admin)
                return [
                    credentials.reveal(
                        session,
                        keyring=Keyring.load(fresh_db.keyring_path),
                        actor=actor,
                        account_id=a,
                        kind="password",
                        reason="rotation check",
                    ).value.reveal()
                    for a in ids
                ]

        new_key, pending = step(credentials.begin_rotation)
        assert new_key != old_key and pending == 6
        assert step(credentials.rewrap_batch, limit=4) == 4
        # "crash" here: half rewrapped, every secret still readable
        assert read_all() == ["secret-0", "secret-1", "secret-2"]
        keyring = Keyring.load(fresh_db.keyring_path)
        again, pending = step(credentials.begin_rotation)
        assert again == new_key and pending == 2  # resumed, no third key
        assert step(credentials.rewrap_batch) == 2
        assert step(credentials.rewrap_batch) == 0
        assert step(credentials.finish_rotation) == [old_key]
        reloaded = Keyring.load(fresh_db.keyring_path)
        assert reloaded.info(old_key).retired and reloaded.current_key_id == new_key
        assert read_all() == ["secret-0", "secret-1", "secret-2"]

    def test_only_admins_rotate(self, world: World, keyring: Keyring) -> None:
        with pytest.raises(Forbidden, match="rotate"):
            credentials.begin_rotation(world.session, keyring=keyring, actor=world.actor("ced1"))


class TestPurge:
    def test_purge_shreds_after_the_retention_period_only(
        self, world: World, keyring: Keyring
    ) -> None:
        old = world.account("OldOne")
        recent = world.account("Recent")
        for account in (old, recent):
            put(world, keyring, "ced1", account.id or 0, "x")
            put(world, keyring, "ced1", account.id or 0, "y")
            account.status = "decommissioned"
        old.decommissioned_at = utcnow() - dt.timedelta(days=91)
        recent.decommissioned_at = utcnow() - dt.timedelta(days=5)
        world.session.add_all([old, recent])
        world.session.flush()
        report = credentials.purge(
            world.session, settings=world.settings, actor=world.actor("ced1")
        )
        assert [(p.account_id, p.kind, p.versions) for p in report] == [(old.id, "password", 2)]
        with pytest.raises(InvalidTransition, match="shredded"):
            reveal(world, keyring, "ced1", old.id or 0)
        assert reveal(world, keyring, "ced1", recent.id or 0) == "y"
        assert (
            credentials.purge(world.session, settings=world.settings, actor=world.actor("ced1"))
            == []
        )
