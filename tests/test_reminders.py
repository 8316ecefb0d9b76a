"""Reminders and escalation (``registry remind``): each kind to the people it waits on and to
nobody else, at most once a day, counted in working days, and never a secret."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from registry.config import Settings
from registry.errors import Forbidden
from registry.models import (
    Account,
    AccountRequest,
    AuditEvent,
    Credential,
    OutboxMessage,
    PersonStatus,
    RequestState,
    utcnow,
)
from registry.services import credentials, reminders
from registry.services.reminders import Reminded, working_days_before, working_time
from tests.conftest import Cli, FreshDatabase
from tests.factories import CAST, World
from tests.test_cli_startup import HELP_FORBIDDEN, registry
from tests.test_requests import approve, submit
from vault import Keyring, Secret

CED_PEOPLE = {CAST[k][0] for k in ("admin", "ced1", "ced2", "ced_exec")}
MAILBOX = "ced-team@gov.mb.ca"
CANARY = "canary-Rm71-never-in-a-reminder"
DAY = dt.timedelta(days=1)


def sent(session: Session, event: str) -> dict[str, OutboxMessage]:
    """The messages of ``event`` queued, by recipient (each recipient has one)."""
    rows = list(session.exec(select(OutboxMessage).where(OutboxMessage.event == event)))
    by_recipient = {m.recipient: m for m in rows}
    assert len(by_recipient) == len(rows), "one message per recipient"
    return by_recipient


def reminder_count(session: Session) -> int:
    query = select(func.count()).where(col(OutboxMessage.event).startswith("remind."))
    return session.exec(query).one()


def remind(
    world: World, now: dt.datetime | None = None, *, who: str = "admin", digest: bool = False
) -> Reminded:
    return reminders.remind(
        world.session, settings=world.settings, actor=world.actor(who), now=now, digest=digest
    )


def with_mailbox(world: World) -> World:
    world.settings = Settings(**{**world.settings.model_dump(), "ced_mailbox": MAILBOX})
    return world


def review_on(world: World, account: Account, due: dt.date | None) -> Account:
    account.next_review_on = due
    world.session.add(account)
    world.session.flush()
    return account


def leave(world: World, key: str) -> None:
    person = world.people[key]
    person.status = PersonStatus.left.value
    world.session.add(person)
    world.session.flush()


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def last(weekday: int, before: dt.date) -> dt.date:
    """The latest ``weekday`` (0 = Monday) at least two weeks before ``before``: a past date, so
    that accounts and credentials made now are not yet due then."""
    day = before - 14 * DAY
    return day - ((day.weekday() - weekday) % 7) * DAY


def waiting_since(world: World, request: AccountRequest, since: dt.datetime) -> None:
    """Age ``request``: it has waited for its current stage since ``since``."""
    if request.state == RequestState.submitted:
        request.submitted_at = since
    else:
        request.submitted_at = since - DAY
        request.department_decided_at = since
    world.session.add(request)
    world.session.flush()


class TestReviews:
    def test_due_and_overdue_reviews_go_to_the_departments_executives_and_ced(
        self, world: World
    ) -> None:
        today = utcnow().date()
        soon = review_on(world, world.account("AgSoon"), today + 10 * DAY)
        late = review_on(world, world.account("AgLate"), today - 3 * DAY)
        review_on(world, world.account("AgLater"), today + 100 * DAY)
        health = world.account("HealthNews", department="HLT", holders=("ced2", "hlt_requester"))
        review_on(world, health, None)

        done = remind(world)

        messages = sent(world.session, "remind.review")
        executives = {world.email("agr_approver"), world.email("hlt_approver")}
        assert set(messages) == CED_PEOPLE | executives  # no requester, auditor or FIN admin
        agr = messages[world.email("agr_approver")].body_text
        assert "@AgLate" in agr and "@AgSoon" in agr
        assert agr.index("@AgLate") < agr.index("@AgSoon")  # overdue first
        assert f"overdue since {late.next_review_on:%Y-%m-%d}" in agr
        assert f"due on {soon.next_review_on:%Y-%m-%d}" in agr
        assert "@AgLater" not in agr and "HealthNews" not in agr and "HLT" not in agr
        hlt = messages[world.email("hlt_approver")]
        assert "@HealthNews" in hlt.body_text and "no review date set" in hlt.body_text
        assert "@AgLate" not in hlt.body_text and "@AgSoon" not in hlt.body_text
        assert hlt.subject == f"Review overdue: Facebook @HealthNews (account {health.id})"
        assert f"/console/accounts/{health.id}" in hlt.body_text
        ced = messages[world.email("ced1")]
        assert ced.subject == "3 account reviews due, 2 overdue"
        body = ced.body_text
        assert body.index("@HealthNews") < body.index("@AgLate") < body.index("@AgSoon")
        assert "@AgLater" not in body and f"{world.settings.public_url}/console\n" in body
        assert done.reviews == len(messages)

    def test_a_ced_executive_gets_ceds_list_once_not_a_second_department_one(
        self, world: World
    ) -> None:
        ced_account = world.account("CedNews", department="CED", holders=("ced1", "ced2"))
        review_on(world, ced_account, utcnow().date() - DAY)
        remind(world)
        messages = sent(world.session, "remind.review")
        assert set(messages) == CED_PEOPLE  # cora.exec (ced and CED's executive) once
        assert "(the ced role)" in messages[world.email("ced_exec")].body_text  # CED's list

    def test_leavers_are_skipped(self, world: World) -> None:
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        leave(world, "agr_approver")
        leave(world, "ced2")
        remind(world)
        assert set(sent(world.session, "remind.review")) == CED_PEOPLE - {world.email("ced2")}

    def test_with_a_ced_mailbox_ced_hears_there_and_executives_still_hear(
        self, world: World
    ) -> None:
        with_mailbox(world)
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        review_on(world, world.account("CedNews", department="CED"), utcnow().date() - DAY)
        remind(world)
        messages = sent(world.session, "remind.review")
        assert set(messages) == {MAILBOX, world.email("agr_approver"), world.email("ced_exec")}
        assert "REGISTRY_CED_MAILBOX" in messages[MAILBOX].body_text
        cora = messages[world.email("ced_exec")].body_text  # CED's executive: CED's accounts
        assert "@CedNews" in cora and "@AgLate" not in cora

    def test_a_long_list_is_capped_and_says_how_many_more(self, world: World) -> None:
        for n in range(reminders.SHOWN + 3):
            review_on(world, world.account(f"Ag{n:03d}"), utcnow().date() - DAY)
        remind(world)
        body = sent(world.session, "remind.review")[world.email("agr_approver")].body_text
        assert body.count("overdue since") == reminders.SHOWN
        assert "and 3 more accounts" in body

    def test_nothing_due_queues_nothing_and_records_nothing(self, world: World) -> None:
        world.account("AgFine")
        events = world.session.exec(select(func.count()).select_from(AuditEvent)).one()
        assert remind(world) == Reminded()
        assert reminder_count(world.session) == 0
        assert world.session.exec(select(func.count()).select_from(AuditEvent)).one() == events


class TestRotations:
    def put(self, world: World, keyring: Keyring, account: Account, value: str = "pw") -> None:
        credentials.put(
            world.session,
            keyring=keyring,
            actor=world.actor("ced2"),
            account_id=account.id or 0,
            kind="password",
            value=Secret(value),
        )

    def credential(self, world: World, account: Account) -> Credential:
        query = select(Credential).where(Credential.account_id == account.id)
        return world.session.exec(query).one()

    def setup_due(self, world: World, keyring: Keyring) -> tuple[Account, Account, Account]:
        """An old AGR password, a HLT one marked for rotation, a fresh AGR one."""
        old = world.account("AgOld", holders=("ced1", "agr_staff"))
        marked = world.account("HealthMarked", department="HLT", holders=("ced2", "hlt_requester"))
        fresh = world.account("AgFresh", holders=("ced1", "agr_requester"))
        for account in (old, marked, fresh):
            self.put(world, keyring, account)
        aged = self.credential(world, old)
        aged.set_at = utcnow() - dt.timedelta(days=world.settings.rotation_age_days + 5)
        due = self.credential(world, marked)
        due.rotation_due_at, due.rotation_reason = utcnow(), "known to a holder who left"
        world.session.add_all([aged, due])
        world.session.flush()
        return old, marked, fresh

    def test_holders_hear_of_theirs_and_ced_of_all(self, world: World, keyring: Keyring) -> None:
        old, marked, _ = self.setup_due(world, keyring)
        done = remind(world)
        messages = sent(world.session, "remind.rotation")
        holders = {world.email("agr_staff"), world.email("hlt_requester")}
        assert set(messages) == CED_PEOPLE | holders  # not agr_requester: AgFresh is not due
        staff = messages[world.email("agr_staff")]
        assert staff.subject == "Credential to rotate: the password of Facebook @AgOld"
        assert "@HealthMarked" not in staff.body_text and "HLT" not in staff.body_text
        assert f"/console/accounts/{old.id}#store-credential" in staff.body_text
        health = messages[world.email("hlt_requester")].body_text
        assert "@HealthMarked" in health and "known to a holder who left" in health
        assert f"/console/accounts/{marked.id}#store-credential" in health
        assert "@AgOld" not in health
        ced = messages[world.email("ced1")]  # ced1 holds AgOld too: CED's list, once
        assert ced.subject == "2 credentials to rotate"
        assert ced.body_text.index("@HealthMarked") < ced.body_text.index("@AgOld")  # marked first
        assert "@AgFresh" not in ced.body_text
        assert done.rotations == len(messages)

    def test_a_new_version_ends_the_reminder(self, world: World, keyring: Keyring) -> None:
        old, marked, _ = self.setup_due(world, keyring)
        self.put(world, keyring, old, "new")
        self.put(world, keyring, marked, "new")
        remind(world)
        assert sent(world.session, "remind.rotation") == {}

    def test_a_holder_who_left_is_skipped_and_a_mailbox_replaces_ced_people(
        self, world: World, keyring: Keyring
    ) -> None:
        self.setup_due(world, keyring)
        with_mailbox(world)
        leave(world, "agr_staff")
        remind(world)
        messages = sent(world.session, "remind.rotation")
        # With a mailbox for CED, CED people who hold a due account hear as holders.
        holders = {world.email("hlt_requester"), world.email("ced1"), world.email("ced2")}
        assert set(messages) == {MAILBOX} | holders
        assert "@HealthMarked" not in messages[world.email("ced1")].body_text

    def test_no_secret_appears_in_any_reminder(self, world: World, keyring: Keyring) -> None:
        old, _, _ = self.setup_due(world, keyring)
        canary_account = world.account("AgCanary", holders=("ced1", "agr_staff"))
        self.put(world, keyring, canary_account, CANARY)
        canary = self.credential(world, canary_account)
        canary.set_at = utcnow() - dt.timedelta(days=400)
        world.session.add(canary)
        credentials.reveal(
            world.session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=canary.account_id,
            kind="password",
            reason="Posting",
        )
        review_on(world, old, utcnow().date() - DAY)
        done = remind(world, digest=True)
        assert done.rotations and done.reviews and done.digests
        messages = world.session.exec(select(OutboxMessage)).all()
        assert any("@AgCanary" in m.body_text for m in messages)
        for message in messages:
            assert CANARY not in message.subject + message.body_text + message.body_html


class TestWaitingRequests:
    def test_a_request_waiting_more_than_five_working_days_reminds_its_executives(
        self, world: World
    ) -> None:
        request = submit(world)
        wednesday = at(last(2, utcnow().date()), 12)
        waiting_since(world, request, wednesday - 8 * DAY)  # Tuesday a week before: 6 days
        remind(world, wednesday)
        [message] = sent(world.session, "remind.requests").values()
        assert message.recipient == world.email("agr_approver")
        assert message.subject == (
            f"Request {request.id} has waited 6 working days for your approval: Facebook @MBAgNews"
        )
        assert f"/console/requests/{request.id}" in message.body_text
        assert "for the department's approval" in message.body_text
        assert sent(world.session, "remind.escalation") == {}  # not 10 working days yet

    def test_a_request_submitted_on_friday_is_not_five_working_days_old_next_wednesday(
        self, world: World
    ) -> None:
        request = submit(world)
        friday = last(4, utcnow().date())
        waiting_since(world, request, at(friday, 9))
        assert remind(world, at(friday + 5 * DAY, 17)).requests == 0  # Wednesday
        assert remind(world, at(friday + 7 * DAY, 8)).requests == 0  # Friday, 4.96 days
        assert remind(world, at(friday + 7 * DAY, 10)).requests == 1  # Friday, 5.04 days

    def test_at_the_ced_stage_ced_is_reminded_but_not_the_requester_or_department_approver(
        self, world: World
    ) -> None:
        request = submit(world, "ced1", department="CED", holders=("ced2",), handle="CedOwn")
        approve(world, "ced_exec", request.id or 0)
        other = submit(world, handle="AgWaiting")
        approve(world, "agr_approver", other.id or 0)
        wednesday = at(last(2, utcnow().date()), 12)
        waiting_since(world, request, wednesday - 9 * DAY)
        waiting_since(world, other, wednesday - 9 * DAY)
        remind(world, wednesday)
        messages = sent(world.session, "remind.requests")
        assert set(messages) == CED_PEOPLE  # no executive: nothing is at the department stage
        assert "@CedOwn" not in messages[world.email("ced1")].body_text  # their own request
        assert "@CedOwn" not in messages[world.email("ced_exec")].body_text  # they approved it
        both = messages[world.email("ced2")]
        assert "@CedOwn" in both.body_text and "@AgWaiting" in both.body_text
        assert both.subject == "2 requests have waited more than 5 working days for your approval"
        assert "/console/requests?show=awaiting" in both.body_text

    def test_after_ten_working_days_ced_gets_an_escalation(self, world: World) -> None:
        stuck = submit(world, handle="AgStuck")
        recent = submit(world, handle="AgRecent")
        wednesday = at(last(2, utcnow().date()), 12)
        waiting_since(world, stuck, wednesday - 15 * DAY)  # 11 working days
        waiting_since(world, recent, wednesday - 8 * DAY)  # 6
        remind(world, wednesday)
        escalations = sent(world.session, "remind.escalation")
        assert set(escalations) == CED_PEOPLE
        body = escalations[world.email("ced2")].body_text
        assert "@AgStuck" in body and "@AgRecent" not in body
        assert world.email("agr_approver") in body  # who it awaits
        reminded = sent(world.session, "remind.requests")[world.email("agr_approver")].body_text
        assert "@AgStuck" in reminded and "@AgRecent" in reminded

    def test_a_request_nobody_in_its_department_can_approve_is_escalated_early(
        self, world: World
    ) -> None:
        request = submit(world, "agr_approver", handle="AgOwn")  # the only AGR executive
        wednesday = at(last(2, utcnow().date()), 12)
        waiting_since(world, request, wednesday - 8 * DAY)
        remind(world, wednesday)
        assert sent(world.session, "remind.requests") == {}
        escalation = sent(world.session, "remind.escalation")[world.email("ced1")]
        assert "no executive can approve it" in escalation.body_text
        assert str(request.id) in escalation.subject


class TestOncePerDay:
    def test_twice_in_a_day_queues_once_and_the_next_day_again(self, world: World) -> None:
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        request = submit(world)
        wednesday = at(last(2, utcnow().date()), 9)
        waiting_since(world, request, wednesday - 15 * DAY)
        first = remind(world, wednesday, digest=True)
        assert first.reviews and first.requests and first.escalations and first.digests
        queued = reminder_count(world.session)
        assert first.total == queued
        assert remind(world, wednesday + dt.timedelta(hours=8), digest=True) == Reminded()
        assert reminder_count(world.session) == queued
        thursday = remind(world, wednesday + DAY, digest=True)
        assert thursday == Reminded(
            reviews=first.reviews, requests=first.requests, escalations=first.escalations
        )  # the digest once a week

    def test_each_queued_run_records_one_audit_event(self, world: World) -> None:
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        done = remind(world)
        remind(world)
        [event] = world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "reminders.queued")
        ).all()
        assert event.actor_email == world.email("admin")
        assert event.details == done.as_dict() and event.details["reviews"] == done.reviews


class TestDigest:
    def test_the_digest_gives_ced_the_totals_per_rule_and_department(self, world: World) -> None:
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        world.account("HealthNews", department="HLT", holders=("ced2", "hlt_requester"))
        assert remind(world).digests == 0  # only with digest=True
        remind(world, digest=True)
        messages = sent(world.session, "remind.digest")
        assert set(messages) == CED_PEOPLE
        body = messages[world.email("ced1")].body_text
        assert "Rule 7: review overdue: 1" in body  # the late review
        assert "Rule 5: no credentials: 2" in body  # neither account has its password on file
        assert "AGR: 1 active account" in body and "HLT: 1 active account" in body
        assert f"{world.settings.public_url}/console/compliance" in body
        assert messages[world.email("ced1")].subject.startswith("Weekly compliance digest: ")


class TestRefusal:
    @pytest.mark.parametrize("who", ["agr_requester", "agr_approver", "auditor"])
    def test_only_administrators_and_ced_queue_reminders(self, world: World, who: str) -> None:
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        with pytest.raises(Forbidden, match="may not queue reminders; that needs the admin or"):
            remind(world, who=who, digest=True)
        assert reminder_count(world.session) == 0

    def test_ced_staff_may(self, world: World) -> None:
        review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        assert remind(world, who="ced2").reviews
        assert remind(world, who="fin_admin", now=utcnow() + DAY).reviews  # admin, not CED


class TestWorkingDays:
    def test_the_bound_agrees_with_the_count_everywhere(self) -> None:
        """``since < working_days_before(now, n)`` exactly when more than n working days
        passed, on random instants around weekends and midnights."""
        chance = random.Random(16)
        base = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        for _ in range(2000):
            now = base + dt.timedelta(minutes=chance.randrange(60 * 24 * 60))
            since = now - dt.timedelta(minutes=chance.randrange(60 * 24 * 25))
            days = chance.choice([0, 1, 5, 10])
            more = working_time(since, now) > dt.timedelta(days=days)
            assert (since < working_days_before(now, days)) == more, (since, now, days)

    def test_weekends_do_not_count(self) -> None:
        friday = dt.datetime(2030, 1, 4, 12, tzinfo=dt.UTC)
        assert friday.weekday() == 4
        assert working_time(friday, friday + 3 * DAY) == DAY  # to Monday noon
        assert working_time(friday + DAY, friday + 2 * DAY) == dt.timedelta(0)
        assert working_time(friday, friday + 14 * DAY) == 10 * DAY
        # Ten working days before Monday noon: Monday noon two weeks before.
        assert working_days_before(friday + 3 * DAY, 10) == friday - 11 * DAY


class TestCommand:
    def test_remind_queues_says_what_and_is_safe_to_repeat(self, fresh_db: FreshDatabase) -> None:
        with fresh_db.scope() as session:
            world = World.build(session, fresh_db.settings())
            review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        cli = Cli(fresh_db.env())
        admin = CAST["admin"][0]
        first = cli.ok("remind", "--as", admin)
        assert first.stdout.startswith("Queued 5 reminder(s): 5 review, 0 rotation")
        assert cli.json("remind", "--as", admin, "--digest") == {
            "reviews": 0,
            "rotations": 0,
            "requests": 0,
            "escalations": 0,
            "digests": 4,
            "total": 4,
        }
        with fresh_db.scope() as session:
            assert reminder_count(session) == 9

    def test_a_requester_is_refused_in_one_sentence(self, fresh_db: FreshDatabase) -> None:
        with fresh_db.scope() as session:
            world = World.build(session, fresh_db.settings())
            review_on(world, world.account("AgLate"), utcnow().date() - DAY)
        cli = Cli(fresh_db.env())
        said = cli.refused("remind", "--as", CAST["agr_requester"][0])
        assert "may not queue reminders" in said
        with fresh_db.scope() as session:
            assert reminder_count(session) == 0

    def test_its_help_loads_nothing_heavy(self, tmp_path: Path) -> None:
        run = registry(tmp_path, "remind", "--help")
        assert run.returncode == 0, run.stderr
        assert "--digest" in run.stdout
        assert run.loaded(HELP_FORBIDDEN) == []
