"""Who hears of what (DESIGN.md, Notifications): each change queues one message per recipient,
to the right people and nobody else, in the change's own transaction, and never a secret."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.errors import Forbidden, NotFound
from registry.models import AccountRequest, OutboxMessage, PersonStatus, RequestState
from registry.services import access, credentials, handover, notify, requests
from tests.conftest import FreshDatabase
from tests.factories import CAST, World
from tests.test_requests import approve, request_in, submit
from vault import Keyring, Secret

CED_PEOPLE = {CAST[k][0] for k in ("admin", "ced1", "ced2", "ced_exec")}
CANARY = "canary-Vx93-never-in-mail"


def outbox(session: Session, event: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if event is not None:
        query = query.where(OutboxMessage.event == event)
    return list(session.exec(query))


def recipients(session: Session, event: str) -> set[str]:
    return {m.recipient for m in outbox(session, event)}


def with_mailbox(world: World, mailbox: str = "ced-team@gov.mb.ca") -> World:
    world.settings = Settings(**{**world.settings.model_dump(), "ced_mailbox": mailbox})
    return world


class TestRequestNotices:
    def test_a_submitted_request_goes_to_its_departments_executives_only(
        self, world: World
    ) -> None:
        request = submit(world)
        [message] = outbox(world.session)
        assert message.event == "request.submitted"
        assert message.recipient == world.email("agr_approver")  # not HLT's, not CED's
        assert message.subject == f"Request {request.id} awaits your approval: Facebook @MBAgNews"
        link = f"{world.settings.public_url}/console/requests/{request.id}"
        assert link in message.body_text and link in message.body_html
        assert "News for farmers" in message.body_text  # the purpose, to decide on
        assert "dept_approver) of AGR" in message.body_text  # why they received it
        assert message.status == "queued" and message.attempts == 0

    def test_an_executive_is_not_asked_to_approve_their_own_request(self, world: World) -> None:
        submit(world, "agr_approver")
        assert outbox(world.session) == []  # the only AGR executive may not decide it

    def test_a_decommission_request_goes_to_the_executives_too(self, world: World) -> None:
        account = world.account("MBAgOld")
        requests.submit_decommission(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_requester"),
            account_id=account.id or 0,
            reason="Program ended",
        )
        [message] = outbox(world.session)
        assert message.recipient == world.email("agr_approver")
        assert "decommission" in message.body_text and "Program ended" in message.body_text

    def test_department_approval_goes_to_ced_people_but_not_the_approver_or_requester(
        self, world: World
    ) -> None:
        request = submit(world, "ced_exec", department="CED", holders=("ced1", "ced2"))
        assert recipients(world.session, "request.submitted") == set()  # cora asked: no one else
        request = submit(world, handle="MBAgTwo")
        approve(world, "agr_approver", request.id or 0)
        assert recipients(world.session, "request.department_approved") == CED_PEOPLE
        [one] = [m for m in outbox(world.session, "request.department_approved") if m.person_id][:1]
        assert one.subject == f"Request {request.id} awaits CED approval: Facebook @MBAgTwo"

    def test_ced_notices_go_to_the_shared_mailbox_when_one_is_set(self, world: World) -> None:
        with_mailbox(world)
        request = submit(world)
        approve(world, "agr_approver", request.id or 0)
        [message] = outbox(world.session, "request.department_approved")
        assert message.recipient == "ced-team@gov.mb.ca" and message.person_id is None
        assert "shared mailbox" in message.body_text

    def test_final_approval_tells_the_requester_and_every_new_holder_once(
        self, world: World
    ) -> None:
        request = submit(world, holders=("agr_staff", "agr_requester"))
        approve(world, "agr_approver", request.id or 0)
        approve(world, "ced1", request.id or 0, holders=[world.email("ced2")])
        messages = outbox(world.session, "request.approved")
        # the requester, who is also a holder, gets one message, not two
        assert sorted(m.recipient for m in messages) == sorted(
            [world.email("agr_requester"), world.email("agr_staff"), world.email("ced2")]
        )
        assert all(
            m.subject == f"Request {request.id} approved: Facebook @MBAgNews" for m in messages
        )
        by = {m.recipient: m for m in messages}
        requester, holder = by[world.email("agr_requester")], by[world.email("agr_staff")]
        assert "approved by ced.one@gov.mb.ca" in requester.body_text
        assert f"/console/requests/{request.id}" in requester.body_text  # to follow it
        account_id = world.session.get(AccountRequest, request.id).account_id  # type: ignore[union-attr]
        assert f"/console/accounts/{account_id}" in holder.body_text  # to what they now hold
        assert "you now hold Facebook @MBAgNews" in holder.body_text

    @pytest.mark.parametrize(
        ("state", "event"),
        [
            (RequestState.rejected, "request.rejected"),
            (RequestState.withdrawn, "request.withdrawn"),
        ],
    )
    def test_a_rejection_or_withdrawal_tells_the_requester_only(
        self, world: World, state: RequestState, event: str
    ) -> None:
        request = request_in(world, state)
        assert recipients(world.session, event) == {world.email("agr_requester")}
        [message] = outbox(world.session, event)
        assert message.subject.startswith(f"Request {request.id} {state.value}:")
        if state == RequestState.rejected:
            assert "No plan" in message.body_text  # the reason

    def test_a_leaver_hears_nothing(self, world: World) -> None:
        approver = world.people["agr_approver"]
        approver.status = PersonStatus.left.value
        world.session.add(approver)
        world.session.flush()
        submit(world)
        assert outbox(world.session) == []


class TestAccessAndHandover:
    def test_granted_and_revoked_tell_that_person(self, world: World) -> None:
        account = world.account("MBAgNews", holders=("ced1", "agr_staff"))
        access.grant(
            world.session,
            settings=world.settings,
            actor=world.actor("ced2"),
            account_id=account.id or 0,
            email=world.email("agr_requester"),
        )
        access.revoke(
            world.session,
            settings=world.settings,
            actor=world.actor("ced2"),
            account_id=account.id or 0,
            email=world.email("agr_requester"),
        )
        granted, revoked = outbox(world.session)
        assert (granted.event, granted.recipient) == (
            "access.granted",
            world.email("agr_requester"),
        )
        assert granted.subject == "You now hold Facebook @MBAgNews"
        assert (revoked.event, revoked.recipient) == (
            "access.revoked",
            world.email("agr_requester"),
        )
        assert f"/console/accounts/{account.id}" in revoked.body_text

    def test_handover_tells_each_successor_what_is_theirs_and_ced_everything(
        self, world: World
    ) -> None:
        mine = world.account("MBAgNews", holders=("ced1", "agr_staff"))
        world.account("HealthMB", holders=("ced2", "hlt_requester"), department="HLT")
        handover.handover(
            world.session,
            settings=world.settings,
            actor=world.actor("admin"),
            departing=world.email("agr_staff"),
            successor=world.email("agr_requester"),
        )
        messages = outbox(world.session, "handover.done")
        to_successor = [m for m in messages if m.recipient == world.email("agr_requester")]
        assert len(to_successor) == 1
        assert f"account {mine.id}" in to_successor[0].body_text
        assert "HealthMB" not in to_successor[0].body_text  # nothing of another department
        assert {m.recipient for m in messages} == CED_PEOPLE | {world.email("agr_requester")}
        assert world.email("agr_staff") not in {m.recipient for m in outbox(world.session)}


class TestNothingQueuedWhenNothingChanged:
    def test_a_refused_operation_queues_nothing(self, world: World) -> None:
        request = submit(world)
        before = len(outbox(world.session))
        with pytest.raises(Forbidden):
            approve(world, "agr_requester", request.id or 0)
        with pytest.raises(NotFound):  # another department's: not even seen
            approve(world, "hlt_approver", request.id or 0)
        assert len(outbox(world.session)) == before

    def test_a_rolled_back_change_queues_nothing(self, fresh_db: FreshDatabase) -> None:
        settings = fresh_db.settings()
        with fresh_db.scope() as session:
            World.build(session, settings)
        with pytest.raises(RuntimeError), fresh_db.scope() as session:
            world = World.load(session, settings)
            submit(world)
            assert len(outbox(session)) == 1  # queued in the transaction...
            raise RuntimeError("the edge fails before committing")
        with fresh_db.scope() as session:
            assert outbox(session) == []  # ...and gone with it
            world = World.load(session, settings)
            submit(world)
        with fresh_db.scope() as session:
            assert len(outbox(session)) == 1  # a committed one stays


class TestWhatMessagesNeverCarry:
    def test_a_canary_secret_stored_and_revealed_is_in_no_message(
        self, world: World, keyring: Keyring
    ) -> None:
        account = world.account("MBAgNews", holders=("ced1", "agr_staff"))
        credentials.put(
            world.session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            kind="password",
            value=Secret(CANARY),
        )
        revealed = credentials.reveal(
            world.session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            kind="password",
            reason="Posting the flood update",
        )
        assert revealed.value.reveal() == CANARY  # it really was stored and shown
        access.grant(
            world.session,
            settings=world.settings,
            actor=world.actor("ced2"),
            account_id=account.id or 0,
            email=world.email("agr_requester"),
        )
        handover.handover(
            world.session,
            settings=world.settings,
            actor=world.actor("admin"),
            departing=world.email("agr_staff"),
            successor=world.email("agr_requester"),
        )
        messages = outbox(world.session)
        assert len(messages) >= 3
        for message in messages:
            for part in (message.subject, message.body_text, message.body_html):
                assert CANARY not in part

    def test_user_text_is_data_in_html_and_subjects_stay_one_line(self, world: World) -> None:
        account = world.account("MBAgNews")
        requests.submit_decommission(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_requester"),
            account_id=account.id or 0,
            reason='<script>alert("x")</script> & <b>bold</b>',
        )
        [message] = outbox(world.session)
        assert "<script>" not in message.body_html
        assert "&lt;script&gt;" in message.body_html and "&amp;" in message.body_html
        assert '<script>alert("x")</script>' in message.body_text  # plain text stays as typed
        assert "\n" not in message.subject and "\r" not in message.subject


def test_every_message_has_its_own_stable_message_id(world: World) -> None:
    request = submit(world)
    approve(world, "agr_approver", request.id or 0)
    ids = [m.message_id for m in outbox(world.session)]
    assert len(ids) == len(set(ids)) == 1 + len(CED_PEOPLE)
    assert all(i.startswith("registry.") and len(i) == len("registry.") + 32 for i in ids)


def test_a_reminder_to_many_is_queued_once_and_counted_right(world: World) -> None:
    """``once_key`` inserts in chunks (SQLite's limit of bound parameters) and counts only the
    rows it added, on both databases."""
    many = [
        notify.Recipient(email=f"person.{n}@gov.mb.ca", why="You receive this in a test.")
        for n in range(1203)
    ]
    mail = notify.Mail(subject="A reminder", paragraphs=["Hello."], action=("Home", "/console"))
    key = "remind.test:2026-12-04"
    queued = notify.queue(
        world.session,
        settings=world.settings,
        event="remind.test",
        mail=mail,
        to=many,
        once_key=key,
    )
    again = notify.queue(
        world.session,
        settings=world.settings,
        event="remind.test",
        mail=mail,
        to=many,
        once_key=key,
    )
    assert (queued, again) == (1203, 0)
    assert len(outbox(world.session, "remind.test")) == 1203
