"""Delivering the outbox over SMTP (``registry.jobs.delivery``, ``registry notify run|list``),
against a real SMTP server on loopback (``tests/mailserver.py``), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.jobs import delivery
from registry.jobs.delivery import BACKOFF_BASE, BACKOFF_CAP, LEASE, MAX_ATTEMPTS, deliver
from registry.models import OutboxMessage, utcnow
from registry.services import notify
from registry.services.notify import Mail, Recipient
from tests.conftest import Cli, FreshDatabase, postgres_only, table_rows
from tests.factories import CAST, World
from tests.mailserver import MailServer

ADMIN = CAST["admin"][0]
REQUESTER = CAST["agr_requester"][0]
CED = CAST["ced1"][0]
CANARY = "canary-relay-pw-5b8e0d7f"


@pytest.fixture
def db(fresh_db: FreshDatabase) -> FreshDatabase:
    """A registry with the test cast, committed (delivery runs its own transactions)."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    return fresh_db


def queue(
    db: FreshDatabase, count: int, *, subject: str = "Request {n} awaits your approval"
) -> list[int]:
    """Queue ``count`` messages, each to its own address, as the services do; their ids."""
    with db.scope() as session:
        for n in range(1, count + 1):
            notify.queue(
                session,
                settings=db.settings(),
                event="request_submitted",
                mail=Mail(
                    subject=subject.format(n=n),
                    paragraphs=[f"Request {n} waits for you. <b>not markup</b>"],
                    action=("Open the request", f"/console/requests/{n}"),
                ),
                to=[Recipient(email=f"person{n}@gov.mb.ca", why="You receive this as a test.")],
            )
    return [m.id for m in messages(db) if m.id is not None][-count:]


def messages(db: FreshDatabase) -> list[OutboxMessage]:
    with Session(db.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def change(db: FreshDatabase, ids: list[int], **values: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(**values))


def cli_for(db: FreshDatabase, server: MailServer | None, **env: str) -> Cli:
    return Cli({**db.env(), **(server.env() if server else {}), **env})


def subprocess_env(db: FreshDatabase, server: MailServer) -> dict[str, str]:
    return {**os.environ, **db.env(), **server.env(), "REGISTRY_ACTOR": ADMIN}


REGISTRY = [sys.executable, "-m", "cli.main"]


class TestDelivery:
    def test_queued_messages_arrive_as_stored_with_both_parts(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 3, subject="Request {n} awaits your approval: Facebook @MBAgNews — café")
        settings = mail_server.settings_for(db.settings())
        done = deliver(engine=db.engine, settings=settings)
        assert (done.sent, done.retrying, done.failed, done.unreachable) == (3, 0, 0, None)
        received = {r["To"]: r for r in mail_server.wait_for(3)}
        assert len(mail_server.messages) == 3
        for row in messages(db):
            mail = received[row.recipient]
            assert mail.rcpt_tos == [row.recipient] and mail.mail_from == settings.mail_from
            assert mail.message_id == f"<{row.message_id}@gov.mb.ca>"
            assert mail["From"] == settings.mail_from
            assert mail["Subject"] == row.subject and "café" in mail["Subject"]
            assert mail["Auto-Submitted"] == "auto-generated"
            assert parsedate_to_datetime(mail["Date"]) == row.created_at.replace(microsecond=0)
            assert mail.text.rstrip("\n") == row.body_text.rstrip("\n")
            assert mail.html.rstrip("\n") == row.body_html.rstrip("\n")
            assert "&lt;b&gt;not markup&lt;/b&gt;" in mail.html
            assert (row.status, row.attempts, row.claimed_until, row.last_error) == (
                "sent",
                1,
                None,
                None,
            )
            assert row.sent_at is not None

    def test_what_was_sent_is_not_sent_again(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 2)
        settings = mail_server.settings_for(db.settings())
        deliver(engine=db.engine, settings=settings)
        again = deliver(engine=db.engine, settings=settings, everything=True)
        assert again.tried == 0
        assert sorted(mail_server.by_message_id().values()) == [1, 1]

    def test_batches_share_one_connection(self, db: FreshDatabase, mail_server: MailServer) -> None:
        queue(db, 7)
        before = mail_server.connections
        done = deliver(engine=db.engine, settings=mail_server.settings_for(db.settings()), batch=2)
        assert done.sent == 7 and len(mail_server.wait_for(7)) == 7
        assert mail_server.connections - before == 1

    def test_only_what_is_due_unless_everything(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        later, _ = queue(db, 2)
        change(db, [later], next_attempt_at=utcnow() + dt.timedelta(hours=1))
        settings = mail_server.settings_for(db.settings())
        assert deliver(engine=db.engine, settings=settings).sent == 1
        assert [m.status for m in messages(db)] == ["queued", "sent"]
        assert deliver(engine=db.engine, settings=settings, everything=True).sent == 1
        assert [m.status for m in messages(db)] == ["sent", "sent"]

    def test_a_message_another_worker_holds_is_left_until_its_lease_ends(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        [held] = queue(db, 1)
        change(db, [held], claimed_until=utcnow() + LEASE)
        settings = mail_server.settings_for(db.settings())
        assert deliver(engine=db.engine, settings=settings, everything=True).tried == 0
        after_lease = utcnow() + LEASE + dt.timedelta(minutes=1)
        assert deliver(engine=db.engine, settings=settings, now=after_lease).sent == 1

    def test_a_dropped_connection_is_made_again(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        """The first message is taken but its answer is lost when the connection drops: it is
        sent again on a new connection (the same Message-ID), then the rest follow."""
        first, *_ = queue(db, 3)
        settings = mail_server.settings_for(db.settings())
        before = mail_server.connections
        outcome: list[delivery.Delivery] = []
        with mail_server.hold():
            worker = threading.Thread(
                target=lambda: outcome.append(deliver(engine=db.engine, settings=settings))
            )
            worker.start()
            mail_server.wait_for(1)
            mail_server.cut()
        worker.join(20)
        assert outcome and outcome[0].sent == 3
        assert mail_server.connections - before == 2
        counts = mail_server.by_message_id()
        stored = {m.id: f"<{m.message_id}@gov.mb.ca>" for m in messages(db)}
        assert counts[stored[first]] == 2 and sum(counts.values()) == 4
        assert {m.status for m in messages(db)} == {"sent"}

    def test_a_header_break_in_stored_data_is_never_sent(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        bad, _ = queue(db, 2)
        change(db, [bad], recipient="person1@gov.mb.ca\r\nBcc: someone@example.com")
        done = deliver(engine=db.engine, settings=mail_server.settings_for(db.settings()))
        assert (done.sent, done.failed) == (1, 1)
        [mail] = mail_server.wait_for(1)
        assert mail.rcpt_tos == ["person2@gov.mb.ca"] and mail["Bcc"] is None
        failed = messages(db)[0]
        assert failed.status == "failed" and "cannot be built" in (failed.last_error or "")

    def test_no_relay_set_tries_nothing(self, db: FreshDatabase) -> None:
        queue(db, 1)
        done = deliver(engine=db.engine, settings=db.settings())
        assert done.tried == 0 and done.unreachable is not None
        assert [(m.status, m.attempts) for m in messages(db)] == [("queued", 0)]


class TestOutage:
    def test_down_then_4xx_then_5xx_then_back_each_message_arrives_once(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 3)
        settings = mail_server.settings_for(db.settings())

        mail_server.stop()
        t0 = utcnow()
        down = deliver(engine=db.engine, settings=settings, now=t0)
        assert down.retrying == 3 and "connection refused" in (down.unreachable or "")
        for m in messages(db):
            assert (m.status, m.attempts, m.claimed_until) == ("queued", 1, None)
            assert "connection refused" in (m.last_error or "")
            assert t0 < m.next_attempt_at <= t0 + BACKOFF_BASE
        assert deliver(engine=db.engine, settings=settings, now=t0).tried == 0  # backing off

        mail_server.start()
        mail_server.fail_with(451, "4.3.0 try again later")
        t1 = t0 + dt.timedelta(minutes=2)
        busy = deliver(engine=db.engine, settings=settings, now=t1)
        assert (busy.retrying, busy.unreachable) == (3, None)
        for m in messages(db):
            assert (m.status, m.attempts, m.last_error) == (
                "queued",
                2,
                "451 4.3.0 try again later",
            )
            assert t1 < m.next_attempt_at <= t1 + 2 * BACKOFF_BASE

        mail_server.fail_with(550, "5.2.1 mailbox unavailable", at="DATA")
        refused = deliver(engine=db.engine, settings=settings, everything=True)
        assert refused.retrying == 3
        assert {(m.attempts, m.last_error) for m in messages(db)} == {
            (3, "550 5.2.1 mailbox unavailable")
        }
        assert mail_server.messages == []

        mail_server.recover()
        back = deliver(engine=db.engine, settings=settings, everything=True)
        assert back.sent == 3
        deliver(engine=db.engine, settings=settings, everything=True)
        stored = {f"<{m.message_id}@gov.mb.ca>" for m in messages(db)}
        assert mail_server.by_message_id() == dict.fromkeys(stored, 1)
        assert {(m.status, m.attempts, m.last_error) for m in messages(db)} == {("sent", 4, None)}

    def test_an_unreachable_relay_ends_the_run_after_one_batch(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 5)
        mail_server.stop()
        settings = mail_server.settings_for(db.settings())
        done = deliver(engine=db.engine, settings=settings, everything=True, batch=2)
        assert done.retrying == 2
        assert [m.attempts for m in messages(db)] == [1, 1, 0, 0, 0]

    def test_given_up_after_the_last_attempt_with_the_last_error(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 1)
        mail_server.fail_with(550, "5.1.1 no such user")
        settings = mail_server.settings_for(db.settings())
        for attempt in range(1, MAX_ATTEMPTS + 1):
            done = deliver(engine=db.engine, settings=settings, everything=True)
            assert (done.retrying, done.failed) == ((1, 0) if attempt < MAX_ATTEMPTS else (0, 1))
        [m] = messages(db)
        assert (m.status, m.attempts, m.last_error) == (
            "failed",
            MAX_ATTEMPTS,
            "550 5.1.1 no such user",
        )
        mail_server.recover()
        assert deliver(engine=db.engine, settings=settings, everything=True).tried == 0
        assert mail_server.messages == []

    @pytest.mark.parametrize("attempts", [1, 2, 3, 6, 7, 10, 50])
    def test_back_off_doubles_up_to_its_cap_with_jitter(self, attempts: int) -> None:
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempts - 1, 20))
        waits = {delivery.backoff(attempts) for _ in range(50)}
        assert all(dt.timedelta(seconds=1) <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered, not a fixed step


class TestTls:
    @pytest.mark.parametrize("tls", ["starttls", "ssl"])
    def test_tls_with_a_trusted_certificate_and_a_login(
        self, db: FreshDatabase, tls: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server = MailServer(tls=tls, login=("registry", "relay-password")).start()
        try:
            monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_file))
            queue(db, 2)
            done = deliver(engine=db.engine, settings=server.settings_for(db.settings()))
            assert done.sent == 2 and len(server.wait_for(2)) == 2
            assert server.logins == [("registry", True)]
        finally:
            server.stop()

    def test_an_untrusted_certificate_is_refused(
        self, db: FreshDatabase, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server = MailServer(tls="ssl").start()
        try:
            monkeypatch.delenv("SSL_CERT_FILE", raising=False)
            queue(db, 1)
            done = deliver(engine=db.engine, settings=server.settings_for(db.settings()))
            assert "TLS certificate not accepted" in (done.unreachable or "")
            assert server.messages == [] and messages(db)[0].status == "queued"
        finally:
            server.stop()

    def test_starttls_asked_of_a_relay_without_it(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 1)
        settings = mail_server.settings_for(db.settings(), smtp_security="starttls")
        done = deliver(engine=db.engine, settings=settings)
        assert "the relay does not offer STARTTLS" in (done.unreachable or "")
        assert mail_server.messages == []


class TestRelayPassword:
    def test_a_refused_login_never_shows_the_password(
        self, db: FreshDatabase, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        caplog.set_level(logging.DEBUG)
        server = MailServer(tls="starttls", login=("registry", "the-right-one")).start()
        try:
            monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_file))
            queue(db, 2)
            cli = cli_for(db, server, REGISTRY_SMTP_PASSWORD=CANARY)
            result = cli("notify", "run", "--once", "--as", ADMIN)
            settings = server.settings_for(db.settings(), smtp_password=CANARY)
            direct = deliver(engine=db.engine, settings=settings, everything=True)
        finally:
            server.stop()
        assert result.exit_code == 1 and set(server.logins) == {("registry", False)}
        assert "login refused (535)" in result.stderr
        assert direct.unreachable is not None and "login refused" in direct.unreachable
        forms = [CANARY, base64.b64encode(CANARY.encode()).decode()]
        forms.append(base64.b64encode(f"\0registry\0{CANARY}".encode()).decode())  # AUTH PLAIN
        ours = [  # the relay's own debug log (aiosmtpd's "mail.log") stands for the relay
            r.getMessage() + repr(r.args) + str(r.exc_info)
            for r in caplog.records
            if not r.name.startswith("mail.")
        ]
        seen = [
            result.stdout,
            result.stderr,
            repr(result.exception),
            repr(direct),
            json.dumps(table_rows(db.engine), default=str),
            *ours,
        ]
        for form in forms:
            assert not any(form in text for text in seen), form
        assert {m.last_error for m in messages(db)} == {
            f"127.0.0.1:{server.port}: login refused (535)"
        }


class TestCommandLine:
    def test_once_sends_everything_queued_and_says_so(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        ids = queue(db, 3)
        change(db, ids[:1], next_attempt_at=utcnow() + dt.timedelta(hours=1))
        result = cli_for(db, mail_server).ok("notify", "run", "--once", "--as", ADMIN)
        assert result.stdout.strip() == "Sent 3, 0 to retry, 0 given up; 0 still queued."
        assert len(mail_server.wait_for(3)) == 3

    def test_once_with_json(self, db: FreshDatabase, mail_server: MailServer) -> None:
        queue(db, 2)
        counts = cli_for(db, mail_server).json("notify", "run", "--once", "--as", CED)
        assert counts == {"sent": 2, "retrying": 0, "failed": 0, "queued": 0, "unreachable": None}
        said = cli_for(db, mail_server).refused("notify", "run", "--json", "--as", CED)
        assert "--json goes with --once" in said

    def test_once_exits_1_when_the_relay_refuses_some(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 2)
        mail_server.fail_with(451, "4.7.1 greylisted")
        result = cli_for(db, mail_server)("notify", "run", "--once", "--as", ADMIN)
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        assert result.stdout.strip() == "Sent 0, 2 to retry, 0 given up; 2 still queued."
        assert result.stderr.strip() == (
            "2 messages could not be sent; `registry notify list` shows why."
        )

    def test_once_exits_1_when_the_relay_is_down(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 3)
        mail_server.stop()
        result = cli_for(db, mail_server)("notify", "run", "--once", "--as", ADMIN)
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        assert result.stdout.strip() == "Sent 0, 3 to retry, 0 given up; 3 still queued."
        assert "could not be reached" in result.stderr and "connection refused" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    def test_without_a_relay_messages_stay_queued_and_it_says_so(self, db: FreshDatabase) -> None:
        queue(db, 3)
        before = table_rows(db.engine)
        said = cli_for(db, None).refused("notify", "run", "--once", "--as", ADMIN)
        assert said.strip() == "3 messages stay queued because REGISTRY_SMTP_HOST is not set."
        assert table_rows(db.engine) == before

    @pytest.mark.parametrize("args", [["run", "--once"], ["run"], ["list"]])
    def test_a_requester_is_refused(
        self, db: FreshDatabase, mail_server: MailServer, args: list[str]
    ) -> None:
        queue(db, 1)
        said = cli_for(db, mail_server).refused("notify", *args, "--as", REQUESTER)
        assert "may not" in said and "admin or ced" in said
        assert mail_server.messages == [] and messages(db)[0].attempts == 0

    def test_list_filters_by_status(self, db: FreshDatabase, mail_server: MailServer) -> None:
        first, second, third = queue(db, 3, subject="Request {n} \x1b[31mred")
        change(db, [first], next_attempt_at=utcnow() + dt.timedelta(hours=1))
        deliver(engine=db.engine, settings=mail_server.settings_for(db.settings()))
        cli = cli_for(db, mail_server)
        every = cli.json("notify", "list", "--as", ADMIN)
        assert [m["id"] for m in every] == [third, second, first]  # newest first
        assert set(every[0]) >= {"id", "status", "attempts", "recipient", "subject", "last_error"}
        assert "body_text" not in every[0]
        assert [m["id"] for m in cli.json("notify", "list", "--status", "sent", "--as", CED)] == [
            third,
            second,
        ]
        queued = cli.json("notify", "list", "--status", "queued", "--as", ADMIN)
        assert [m["id"] for m in queued] == [first]
        table = cli("notify", "list", "--status", "queued", "--as", ADMIN, env={"COLUMNS": "250"})
        assert table.exit_code == 0, table.stderr
        table = table.stdout
        assert "person1@gov.mb.ca" in table and "\x1b" not in table and "\\x1b" in table
        assert "choose one of" in cli.refused("notify", "list", "--status", "lost", "--as", ADMIN)


class TestWorker:
    def test_run_forever_delivers_as_messages_come_and_stops_when_told(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        stop = threading.Event()
        rounds: list[delivery.Delivery] = []
        worker = threading.Thread(
            target=delivery.run_forever,
            kwargs={
                "engine": db.engine,
                "settings": mail_server.settings_for(db.settings()),
                "stop": stop,
                "poll_seconds": 0.1,
                "report": rounds.append,
            },
        )
        worker.start()
        try:
            queue(db, 2)
            mail_server.wait_for(2)
            queue(db, 1)
            mail_server.wait_for(3)
        finally:
            stop.set()
            worker.join(10)
        assert not worker.is_alive()
        assert sum(r.sent for r in rounds) == 3

    def test_the_command_stops_cleanly_on_sigterm(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 2)
        process = subprocess.Popen(
            [*REGISTRY, "notify", "run"],
            env=subprocess_env(db, mail_server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            mail_server.wait_for(2, timeout=30)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, err
        assert "Delivering e-mail through 127.0.0.1" in err and "Stopped." in err
        assert "Sent 2, 0 to retry, 0 given up." in err and "Traceback" not in err
        assert {m.status for m in messages(db)} == {"sent"}


def _workers_in_threads(db: FreshDatabase, settings: Settings, count: int) -> list[int]:
    start = threading.Barrier(count)
    sent: list[int] = []

    def work() -> None:
        start.wait()
        sent.append(deliver(engine=db.engine, settings=settings, batch=7).sent)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sent


class TestWorkers:
    def test_workers_in_threads_never_send_a_message_twice(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 200)
        mail_server.delay = 0.002
        sent = _workers_in_threads(db, mail_server.settings_for(db.settings()), 2)
        assert sum(sent) == 200 and len(sent) == 2
        counts = mail_server.by_message_id()
        assert len(counts) == 200 and set(counts.values()) == {1}
        assert {m.status for m in messages(db)} == {"sent"}

    @postgres_only
    def test_worker_processes_on_postgresql_never_send_a_message_twice(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        queue(db, 200)
        mail_server.delay = 0.003
        env = subprocess_env(db, mail_server)
        workers = [
            subprocess.Popen(
                [*REGISTRY, "notify", "run", "--once", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outcomes = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0, 0, 0], outcomes
        sent = [json.loads(out)["sent"] for out, _ in outcomes]
        assert sum(sent) == 200 and sum(1 for s in sent if s) >= 2, sent  # they shared it
        counts = mail_server.by_message_id()
        assert len(counts) == 200 and set(counts.values()) == {1}

    def test_a_crash_between_sending_and_marking_sends_at_most_one_duplicate(
        self, db: FreshDatabase, mail_server: MailServer
    ) -> None:
        """The worker dies (SIGKILL) after the relay took a message but before its answer
        came: once the lease ends the message is sent again, with the same Message-ID."""
        first, second = queue(db, 2)
        with mail_server.hold():
            worker = subprocess.Popen(
                [*REGISTRY, "notify", "run", "--once"],
                env=subprocess_env(db, mail_server),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                mail_server.wait_for(1, timeout=30)
            finally:
                worker.kill()
                worker.wait(30)
        assert [(m.status, m.claimed_until is not None) for m in messages(db)] == [
            ("queued", True),
            ("queued", True),
        ]
        settings = mail_server.settings_for(db.settings())
        assert deliver(engine=db.engine, settings=settings).tried == 0  # still leased
        after_lease = utcnow() + LEASE + dt.timedelta(minutes=1)
        assert deliver(engine=db.engine, settings=settings, now=after_lease).sent == 2
        assert deliver(engine=db.engine, settings=settings, everything=True).tried == 0
        stored = {m.id: f"<{m.message_id}@gov.mb.ca>" for m in messages(db)}
        assert mail_server.by_message_id() == {stored[first]: 2, stored[second]: 1}
        assert {(m.status, m.attempts) for m in messages(db)} == {("sent", 1)}


@pytest.fixture(autouse=True)
def _no_relay_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only what a test sets points at a relay."""
    for name in list(os.environ):
        if name.startswith("REGISTRY_SMTP_"):
            monkeypatch.delenv(name)
    yield
