"""Each row of DESIGN.md's notification table, end to end: the change is committed as the API or
the CLI commits it, the worker delivers the outbox to a real SMTP server on loopback, and the
right people, and nobody else, receive the right message, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from registry.jobs.delivery import deliver
from registry.models import Account, utcnow
from registry.services import access, handover, reminders, requests
from tests.conftest import FreshDatabase
from tests.factories import CAST, World
from tests.mailserver import MailServer, Received
from tests.test_requests import approve, submit

CED_PEOPLE = {CAST[k][0] for k in ("admin", "ced1", "ced2", "ced_exec")}


class Life:
    """A registry whose every step commits, and the mail each step sends."""

    def __init__(self, db: FreshDatabase, server: MailServer) -> None:
        self.db = db
        self.server = server
        self.settings = server.settings_for(db.settings())
        with db.scope() as session:
            World.build(session, self.settings)

    def step(self, change: Callable[[World], object]) -> list[Received]:
        """Commit ``change``, deliver the outbox, and return what arrived (and only that)."""
        self.server.clear()
        with self.db.scope() as session:
            change(World.load(session, self.settings))
        done = deliver(engine=self.db.engine, settings=self.settings, everything=True)
        assert done.retrying == done.failed == 0 and done.unreachable is None
        arrived = self.server.wait_for(done.sent)
        assert len(arrived) == done.sent
        return arrived


def to(messages: list[Received]) -> list[str]:
    """Every envelope recipient, one entry per message (a duplicate would show twice)."""
    return sorted(address for m in messages for address in m.rcpt_tos)


@pytest.fixture
def life(fresh_db: FreshDatabase, mail_server: MailServer) -> Life:
    return Life(fresh_db, mail_server)


def _request_id(life: Life, handle: str = "MBAgNews") -> int:
    with life.db.scope() as session:
        world = World.load(session, life.settings)
        found = requests.list_requests(session, actor=world.actor("admin"))
        return next(r.id for r in found if r.handle == handle)


def test_a_request_from_submission_to_approval(life: Life) -> None:
    [asked] = life.step(lambda w: submit(w))
    assert to([asked]) == [CAST["agr_approver"][0]]
    rid = _request_id(life)
    assert asked["Subject"] == f"Request {rid} awaits your approval: Facebook @MBAgNews"
    assert f"/console/requests/{rid}" in asked.text and f"/console/requests/{rid}" in asked.html
    assert asked["From"] == life.settings.mail_from

    to_ced = life.step(lambda w: approve(w, "agr_approver", rid))
    assert to(to_ced) == sorted(CED_PEOPLE)
    assert {m["Subject"] for m in to_ced} == {
        f"Request {rid} awaits CED approval: Facebook @MBAgNews"
    }

    done = life.step(lambda w: approve(w, "ced1", rid, holders=[w.email("ced2")]))
    assert to(done) == sorted([CAST["agr_requester"][0], CAST["agr_staff"][0], CAST["ced2"][0]])
    assert {m["Subject"] for m in done} == {f"Request {rid} approved: Facebook @MBAgNews"}


@pytest.mark.parametrize("ending", ["reject", "withdraw"])
def test_a_rejected_or_withdrawn_request_tells_the_requester(life: Life, ending: str) -> None:
    life.step(lambda w: submit(w))
    rid = _request_id(life)

    def end(w: World) -> object:
        if ending == "reject":
            return requests.reject(
                w.session,
                settings=w.settings,
                actor=w.actor("agr_approver"),
                request_id=rid,
                reason="Use the department's page",
            )
        return requests.withdraw(
            w.session, settings=w.settings, actor=w.actor("agr_requester"), request_id=rid
        )

    [told] = life.step(end)
    assert to([told]) == [CAST["agr_requester"][0]]
    outcome = {"reject": "rejected", "withdraw": "withdrawn"}[ending]
    assert told["Subject"] == f"Request {rid} {outcome}: Facebook @MBAgNews"


def test_access_granted_and_revoked_tell_that_person(life: Life) -> None:
    life.step(lambda w: w.account("MBAgNews"))

    def change(granting: bool) -> Callable[[World], object]:
        def run(w: World) -> object:
            account = w.session.get(Account, 1)
            assert account is not None
            doing = access.grant if granting else access.revoke
            return doing(
                w.session,
                settings=w.settings,
                actor=w.actor("ced2"),
                account_id=account.id or 0,
                email=w.email("agr_requester"),
            )

        return run

    [granted] = life.step(change(True))
    [revoked] = life.step(change(False))
    assert to([granted]) == to([revoked]) == [CAST["agr_requester"][0]]
    assert granted["Subject"] == "You now hold Facebook @MBAgNews"
    assert revoked["Subject"] == "Your access to Facebook @MBAgNews has ended"


def test_a_handover_tells_each_successor_and_ced(life: Life) -> None:
    life.step(lambda w: w.account("MBAgNews", holders=("ced1", "agr_staff")))
    told = life.step(
        lambda w: handover.handover(
            w.session,
            settings=w.settings,
            actor=w.actor("admin"),
            departing=w.email("agr_staff"),
            successor=w.email("agr_requester"),
        )
    )
    assert to(told) == sorted(CED_PEOPLE | {CAST["agr_requester"][0]})
    assert CAST["agr_staff"][0] not in to(told)  # the leaver hears nothing


def test_reminders_reach_the_executives_and_ced_once_a_day(life: Life) -> None:
    def overdue(w: World) -> None:
        account = w.account("MBAgNews")
        account.next_review_on = utcnow().date() - dt.timedelta(days=3)
        w.session.add(account)

    life.step(overdue)
    remind = lambda w: reminders.remind(w.session, settings=w.settings, actor=w.actor("admin"))  # noqa: E731
    told = life.step(remind)
    assert to(told) == sorted(CED_PEOPLE | {CAST["agr_approver"][0]})
    assert all("@MBAgNews" in m.text for m in told)
    assert life.step(remind) == []  # the same day again: nothing more


def test_no_relay_means_messages_wait(fresh_db: FreshDatabase, mail_server: MailServer) -> None:
    settings = fresh_db.settings()
    assert not settings.smtp_host
    with fresh_db.scope() as session:
        submit(World.build(session, settings))
    mail_server.stop()
    served = mail_server.settings_for(settings)
    down = deliver(engine=fresh_db.engine, settings=served, everything=True)
    assert down.sent == 0 and down.unreachable
    mail_server.start()
    back = deliver(engine=fresh_db.engine, settings=served, everything=True)
    assert back.sent == 1
    assert to(mail_server.wait_for(1)) == [CAST["agr_approver"][0]]
