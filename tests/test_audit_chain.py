"""The audit chain: whole after every kind of operation; every kind of tampering located."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from registry.errors import Forbidden, InvalidInput
from registry.keys import AUDIT_KEY
from registry.services import access, accounts, audit, credentials, handover, requests, tokens
from registry.services.actors import actor_by_email
from tests.conftest import FreshDatabase, postgres_only
from tests.factories import CAST, World
from vault import Keyring, Secret

EVENTS, HEAD = audit.EVENTS, audit.HEAD


@pytest.fixture
def busy(fresh_db: FreshDatabase) -> Iterator[FreshDatabase]:
    """A registry where every kind of operation has been audited."""
    settings = fresh_db.settings()
    keyring = fresh_db.keyring()
    with fresh_db.scope() as session:
        world = World.build(session, settings)
        tokens.create_token(session, actor=None, email=world.email("ced1"))
        account = world.account("AgrNews", holders=("ced1", "agr_staff", "ced2"))
        accounts.import_accounts(
            session,
            settings=settings,
            actor=world.actor("ced1"),
            data=(
                "platform,handle,url,category,department,login_email,purpose,holders\n"
                f"x,mbag,https://x.com/mbag,official,AGR,a@gov.mb.ca,News,"
                f"{world.email('ced1')};{world.email('agr_staff')}\n"
            ).encode(),
        )
        request = requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("agr_requester"),
            platform="tiktok",
            handle="mbag",
            url="https://tiktok.com/@mbag",
            category="official",
            department="AGR",
            purpose="Clips",
            login_email="agr.social@gov.mb.ca",
            holders=[world.email("agr_staff")],
        )
        requests.approve(
            session,
            settings=settings,
            actor=world.actor("agr_approver"),
            request_id=request.id or 0,
        )
        requests.approve(
            session,
            settings=settings,
            actor=world.actor("ced2"),
            request_id=request.id or 0,
            holders=[world.email("ced1")],
        )
        access.grant(
            session,
            settings=settings,
            actor=world.actor("admin"),
            account_id=account.id or 0,
            email=world.email("agr_requester"),
        )
        access.revoke(
            session,
            settings=settings,
            actor=world.actor("admin"),
            account_id=account.id or 0,
            email=world.email("agr_requester"),
        )
        credentials.put(
            session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            kind="password",
            value=Secret("pw"),
        )
        credentials.reveal(
            session,
            keyring=keyring,
            actor=world.actor("agr_staff"),
            account_id=account.id or 0,
            kind="password",
            reason="Post",
        )
        accounts.review(
            session,
            settings=settings,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            note="fine",
        )
        handover.handover(
            session,
            settings=settings,
            actor=world.actor("admin"),
            departing=world.email("agr_staff"),
            successor=world.email("agr_requester"),
        )
    # A refused reveal is audited too: the auditor reads everything but secrets.
    only_holders = (
        rf"^{re.escape(CAST['auditor'][0])} may not reveal credentials of "
        rf"account {account.id} \(facebook @AgrNews\); only its holders and CED may\.$"
    )
    with pytest.raises(Forbidden, match=only_holders), fresh_db.scope() as session:
        actor = actor_by_email(session, settings, CAST["auditor"][0])
        credentials.reveal(
            session,
            keyring=keyring,
            actor=actor,
            account_id=account.id or 0,
            kind="password",
            reason="x",
        )
    yield fresh_db


def verdict(db: FreshDatabase, checkpoint: tuple[int, str] | None = None) -> audit.Verdict:
    with Session(db.engine) as session:
        return audit.verify(session, key=db.keyring().audit_key, checkpoint=checkpoint)


def events(db: FreshDatabase) -> list[dict[str, Any]]:
    with Session(db.engine) as session:
        return [dict(r) for r in session.execute(select(EVENTS).order_by(EVENTS.c.seq)).mappings()]


def tamper(db: FreshDatabase, statement: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(statement)


class TestWhole:
    def test_the_chain_verifies_after_every_kind_of_operation(self, busy: FreshDatabase) -> None:
        result = verdict(busy)
        assert result.whole, result.message
        actions = {e["action"] for e in events(busy)}
        assert {
            "department.created",
            "person.created",
            "token.created",
            "account.created",
            "account.imported",
            "accounts.import",
            "request.submitted",
            "request.department_approved",
            "request.approved",
            "access.granted",
            "access.revoked",
            "credential.put",
            "credential.revealed",
            "account.reviewed",
            "access.handover",
            "person.handover",
            "credential.reveal_refused",
        } <= actions
        seqs = [e["seq"] for e in events(busy)]
        assert seqs == list(range(1, len(seqs) + 1))


class TestTampering:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("at", "2020-01-01 00:00:00"),
            ("actor_id", None),
            ("actor_email", "someone.else@gov.mb.ca"),
            ("action", "credential.put"),
            ("entity_type", "person"),
            ("entity_id", "999"),
            ("details", {"reason": "nothing to see"}),
        ],
    )
    def test_editing_any_field_is_located(
        self, busy: FreshDatabase, field: str, value: Any
    ) -> None:
        target = len(events(busy)) // 2
        if field == "at":
            with busy.engine.begin() as conn:
                row = conn.execute(select(EVENTS.c.at).where(EVENTS.c.seq == target)).scalar_one()
            import datetime as dt

            value = row - dt.timedelta(seconds=1)
        tamper(busy, update(EVENTS).where(EVENTS.c.seq == target).values({field: value}))
        result = verdict(busy)
        assert not result.whole and result.first_bad_seq == target
        assert "changed" in (result.problem or "")

    def test_editing_a_hash_or_link_is_located(self, busy: FreshDatabase) -> None:
        target = 5
        tamper(busy, update(EVENTS).where(EVENTS.c.seq == target).values(prev_hash="0" * 64))
        result = verdict(busy)
        assert (result.first_bad_seq, result.whole) == (target, False)

    def test_deleting_one_is_located(self, busy: FreshDatabase) -> None:
        tamper(busy, delete(EVENTS).where(EVENTS.c.seq == 7))
        result = verdict(busy)
        assert result.first_bad_seq == 7 and "missing" in (result.problem or "")

    def test_swapping_two_is_located(self, busy: FreshDatabase) -> None:
        rows = {e["seq"]: e for e in events(busy)}
        a, b = rows[10], rows[11]
        fields = [
            "at",
            "actor_id",
            "actor_email",
            "action",
            "entity_type",
            "entity_id",
            "details",
            "prev_hash",
            "hash",
        ]
        with busy.engine.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.seq == 10).values({f: b[f] for f in fields}))
            conn.execute(update(EVENTS).where(EVENTS.c.seq == 11).values({f: a[f] for f in fields}))
        result = verdict(busy)
        assert result.first_bad_seq == 10 and "reordered" in (result.problem or "")

    def test_truncating_the_tail_is_found_with_a_checkpoint(self, busy: FreshDatabase) -> None:
        keyring = busy.keyring()
        with busy.scope() as session:
            actor = actor_by_email(session, busy.settings(), CAST["auditor"][0])
            mark = audit.make_checkpoint(session, keyring=keyring, actor=actor)
        checkpoint = audit.read_checkpoint(json.dumps(mark).encode(), keyring=keyring)
        assert verdict(busy, checkpoint).whole
        last = checkpoint[0]
        # the attacker deletes the tail and tidies the head row so the rest looks whole
        with busy.engine.begin() as conn:
            conn.execute(delete(EVENTS).where(EVENTS.c.seq > last - 3))
            new_head = conn.execute(
                select(EVENTS.c.hash).where(EVENTS.c.seq == last - 3)
            ).scalar_one()
            conn.execute(
                update(HEAD).values(last_seq=last - 3, last_hash=new_head, sealed_through=last - 3)
            )
        assert verdict(busy).whole  # without the checkpoint, a clean cut is invisible
        result = verdict(busy, checkpoint)
        assert not result.whole and "truncated" in (result.problem or "")
        assert result.first_bad_seq == last - 2

    def test_recomputing_hashes_without_the_key_is_detected(self, busy: FreshDatabase) -> None:
        """Change an event and recompute every later hash with a key the attacker guesses."""
        rows = events(busy)
        target = 12
        guess = hashlib.sha256(b"guessed").digest()
        prev = rows[target - 2]["hash"]
        with busy.engine.begin() as conn:
            for row in rows[target - 1 :]:
                if row["seq"] == target:
                    row["details"] = {"forged": True}
                digest = hmac.new(
                    guess, prev.encode() + b"\n" + audit.canonical(row), hashlib.sha256
                ).hexdigest()
                conn.execute(
                    update(EVENTS)
                    .where(EVENTS.c.seq == row["seq"])
                    .values(details=row["details"], prev_hash=prev, hash=digest)
                )
                prev = digest
            conn.execute(update(HEAD).values(last_hash=prev))
        result = verdict(busy)
        assert result.first_bad_seq == target and "changed" in (result.problem or "")

    def test_a_forged_checkpoint_is_refused(self, busy: FreshDatabase, tmp_path: Any) -> None:
        keyring = busy.keyring()
        with busy.scope() as session:
            actor = actor_by_email(session, busy.settings(), CAST["auditor"][0])
            mark = audit.make_checkpoint(session, keyring=keyring, actor=actor)
        with pytest.raises(InvalidInput, match="signature does not match"):
            audit.read_checkpoint(
                json.dumps({**mark, "seq": mark["seq"] - 1}).encode(), keyring=keyring
            )
        stranger = Keyring.create(tmp_path / "other.keyring")
        with pytest.raises(InvalidInput, match="signature does not match"):
            audit.read_checkpoint(json.dumps(mark).encode(), keyring=stranger)
        with pytest.raises(InvalidInput, match="not a checkpoint"):
            audit.read_checkpoint(b"{}", keyring=keyring)


class TestWithoutTheKeyring:
    def test_events_are_sealed_late_and_in_order(self, fresh_db: FreshDatabase) -> None:
        settings = fresh_db.settings()
        with fresh_db.scope() as session:
            World.build(session, settings)
        with Session(fresh_db.engine, info={AUDIT_KEY: lambda: None}) as session:
            for n in range(3):
                audit.record_by(
                    session,
                    actor_id=None,
                    actor_email=None,
                    action="test.unsealed",
                    entity_type="test",
                    entity_id=n,
                )
            session.commit()
        result = verdict(fresh_db)
        assert not result.whole and result.unsealed == 3 and "not sealed" in (result.problem or "")
        with fresh_db.scope() as session:
            audit.record_by(
                session,
                actor_id=None,
                actor_email=None,
                action="test.sealed",
                entity_type="test",
                entity_id=9,
            )
        assert verdict(fresh_db).whole
        unsealed = [e for e in events(fresh_db) if e["action"] == "test.unsealed"]
        assert all(e["sealed_at"] > e["at"] for e in unsealed)


class TestConcurrentAppends:
    @postgres_only
    def test_concurrent_writers_never_fork_the_chain(self, fresh_db: FreshDatabase) -> None:
        with fresh_db.scope() as session:
            World.build(session, fresh_db.settings())
        barrier = threading.Barrier(6)
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                barrier.wait()
                for i in range(15):
                    with fresh_db.scope() as session:
                        audit.record_by(
                            session,
                            actor_id=None,
                            actor_email=None,
                            action="test.concurrent",
                            entity_type="test",
                            entity_id=f"{n}-{i}",
                        )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        result = verdict(fresh_db)
        assert result.whole, result.message
        assert sum(e["action"] == "test.concurrent" for e in events(fresh_db)) == 90


class TestWhoMayVerifyAndSeal:
    def test_a_requester_may_neither_verify_nor_seal(self, world: World, keyring: Keyring) -> None:
        requester = world.actor("agr_requester")
        with pytest.raises(Forbidden, match="may not verify the audit log"):
            audit.verify_log(world.session, keyring=keyring, actor=requester)
        with pytest.raises(Forbidden, match="may not seal the audit log"):
            audit.seal(world.session, keyring=keyring, actor=requester)

    def test_an_auditor_verifies_and_only_ced_or_an_admin_seals(
        self, world: World, keyring: Keyring
    ) -> None:
        auditor = world.actor("auditor")
        assert audit.verify_log(world.session, keyring=keyring, actor=auditor).whole
        with pytest.raises(Forbidden, match="needs the admin or ced role"):
            audit.seal(world.session, keyring=keyring, actor=auditor)
        assert audit.seal(world.session, keyring=keyring, actor=world.actor("ced1")) == 0

    def test_verify_log_checks_the_checkpoint_file(self, world: World, keyring: Keyring) -> None:
        auditor = world.actor("auditor")
        mark = audit.make_checkpoint(world.session, keyring=keyring, actor=auditor)
        data = json.dumps(mark).encode()
        assert audit.verify_log(
            world.session, keyring=keyring, actor=auditor, checkpoint=data
        ).whole
        forged = json.dumps({**mark, "seq": mark["seq"] - 1}).encode()
        with pytest.raises(InvalidInput, match="signature does not match"):
            audit.verify_log(world.session, keyring=keyring, actor=auditor, checkpoint=forged)


class TestDamagedCheckpoints:
    @pytest.mark.parametrize(
        "data",
        [
            b'{"seq": 1e400, "hash": "", "at": "", "signature": ""}',  # int() would overflow
            b"[" * 100_000,  # json.loads would recurse too deep
            b'{"seq": "7", "hash": "ab", "at": "now", "signature": ""}',
            b'{"seq": true, "hash": "ab", "at": "now", "signature": ""}',
            b'{"seq": 7, "hash": ["ab"], "at": "now", "signature": ""}',
            b'{"seq": 7, "hash": "ab", "at": 5, "signature": ""}',
            b'{"seq": 7, "hash": "ab", "at": "now", "signature": 5}',
            b"\xff\xfe",
            b"[]",
        ],
        ids=[
            "huge-float",
            "deep",
            "seq-str",
            "seq-bool",
            "hash-list",
            "at-int",
            "sig-int",
            "not-utf8",
            "list",
        ],
    )
    def test_are_refused_in_one_sentence(self, keyring: Keyring, data: bytes) -> None:
        with pytest.raises(InvalidInput, match=r"^The checkpoint file is not a checkpoint"):
            audit.read_checkpoint(data, keyring=keyring)

    def test_the_command_says_so_without_a_traceback(
        self, fresh_db: FreshDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        with fresh_db.scope() as session:
            World.build(session, fresh_db.settings())
        monkeypatch.setenv("REGISTRY_DATABASE_URL", fresh_db.url)
        monkeypatch.setenv("REGISTRY_KEYRING", str(fresh_db.keyring_path))
        damaged = tmp_path / "head.json"
        damaged.write_text('{"seq": 1e400, "hash": "", "at": "", "signature": ""}')
        result = CliRunner().invoke(
            app, ["audit", "verify", "--checkpoint", str(damaged), "--as", CAST["auditor"][0]]
        )
        assert result.exit_code == 1 and "Traceback" not in result.stderr, result.exception
        assert result.stderr.strip() == audit.NOT_A_CHECKPOINT
        refused = CliRunner().invoke(app, ["audit", "seal", "--as", CAST["auditor"][0]])
        assert refused.exit_code == 1 and "may not seal the audit log" in refused.stderr
