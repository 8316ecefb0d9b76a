"""The compliance report: each finding produced by a fixture that breaks exactly that rule."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable

import pytest
from sqlmodel import select

from registry.errors import Forbidden, NotFound
from registry.models import AccessGrant, Account, AccountRequest, Credential, utcnow
from registry.services import compliance, credentials, requests
from tests.conftest import Cli, FreshDatabase
from tests.factories import CAST, World
from vault import Keyring, Secret


def compliant(world: World, keyring: Keyring, handle: str = "AgrNews") -> Account:
    """An account that keeps every rule: two holders (one CED), a fresh password, a review
    date ahead, a shared government login mailbox."""
    account = world.account(handle, holders=("ced1", "agr_staff"))
    credentials.put(
        world.session,
        keyring=keyring,
        actor=world.actor("ced1"),
        account_id=account.id or 0,
        kind="password",
        value=Secret("pw"),
    )
    return account


def codes(world: World, **kw: object) -> list[tuple[int | None, str]]:
    found = compliance.report(
        world.session, settings=world.settings, actor=world.actor("auditor"), **kw
    )  # type: ignore[arg-type]
    return [(f.account_id or f.request_id, f.code) for f in found.findings]


def grant_of(world: World, account: Account, who: str) -> AccessGrant:
    return world.session.exec(
        select(AccessGrant).where(
            AccessGrant.account_id == account.id, AccessGrant.person_id == world.people[who].id
        )
    ).one()


def latest_password(world: World, account: Account) -> Credential:
    return world.session.exec(select(Credential).where(Credential.account_id == account.id)).one()


def change(world: World, *rows: object) -> None:
    world.session.add_all(rows)
    world.session.flush()


BREAKS: dict[str, Callable[[World, Account], None]] = {}


def breaks(
    code: str,
) -> Callable[[Callable[[World, Account], None]], Callable[[World, Account], None]]:
    def register(fn: Callable[[World, Account], None]) -> Callable[[World, Account], None]:
        BREAKS[code] = fn
        return fn

    return register


@breaks("login_email_domain")
def _(world: World, account: Account) -> None:
    account.login_email = "agr.social@gov.mb.ca.evil.com"  # written behind the registry's back
    change(world, account)


@breaks("too_few_holders")
def _(world: World, account: Account) -> None:
    grant = grant_of(world, account, "agr_staff")
    grant.revoked_at = utcnow()
    change(world, grant)


@breaks("no_ced_holder")
def _(world: World, account: Account) -> None:
    grant = grant_of(world, account, "ced1")
    grant.person_id = world.people["agr_requester"].id or 0
    change(world, grant)


@breaks("holder_left")
def _(world: World, account: Account) -> None:
    world.session.add(
        AccessGrant(account_id=account.id or 0, person_id=world.people["hlt_requester"].id or 0)
    )
    person = world.people["hlt_requester"]
    person.status = "left"
    change(world, person)


@breaks("no_credentials")
def _(world: World, account: Account) -> None:
    world.session.delete(latest_password(world, account))
    world.session.flush()


@breaks("rotation_due")
def _(world: World, account: Account) -> None:
    row = latest_password(world, account)
    row.rotation_due_at, row.rotation_reason = utcnow(), "known to a holder who left"
    change(world, row)


@breaks("credential_old")
def _(world: World, account: Account) -> None:
    row = latest_password(world, account)
    row.set_at = utcnow() - dt.timedelta(days=400)
    change(world, row)


@breaks("review_overdue")
def _(world: World, account: Account) -> None:
    account.next_review_on = (utcnow() - dt.timedelta(days=1)).date()
    change(world, account)


@breaks("personal_login_email")
def _(world: World, account: Account) -> None:
    account.login_email = world.email("agr_staff")
    change(world, account)


# What fixes each finding (None: nothing the registry's forms change; the sentence says what).
FIXES: dict[str, compliance.Fix | None] = {
    "login_email_domain": None,
    "too_few_holders": compliance.Fix.add_holder,
    "no_ced_holder": compliance.Fix.add_holder,
    "holder_left": compliance.Fix.remove_holder,
    "no_credentials": compliance.Fix.store_credential,
    "rotation_due": compliance.Fix.rotate_credential,
    "credential_old": compliance.Fix.rotate_credential,
    "review_overdue": compliance.Fix.record_review,
    "personal_login_email": None,
}


def submit_request(world: World) -> AccountRequest:
    """A new-account request by AGR's requester, waiting for its first approval (the row,
    which the tests age)."""
    submitted = requests.submit_new_account(
        world.session,
        settings=world.settings,
        actor=world.actor("agr_requester"),
        platform="x",
        handle="mbag",
        url="https://x.com/mbag",
        category="official",
        department="AGR",
        purpose="News",
        login_email="agr.social@gov.mb.ca",
        holders=[],
    )
    row = world.session.get(AccountRequest, submitted.id)
    assert row is not None
    return row


class TestEachFinding:
    def test_a_compliant_account_has_no_findings(self, world: World, keyring: Keyring) -> None:
        compliant(world, keyring)
        assert codes(world) == []

    @pytest.mark.parametrize("code", sorted(BREAKS))
    def test_breaking_one_rule_gives_exactly_that_finding(
        self, world: World, keyring: Keyring, code: str
    ) -> None:
        account = compliant(world, keyring)
        compliant(world, keyring, "Untouched")
        BREAKS[code](world, account)
        assert codes(world) == [(account.id, code)]

    def test_each_finding_has_a_rule_severity_and_an_actionable_sentence(
        self, world: World, keyring: Keyring
    ) -> None:
        account = compliant(world, keyring)
        BREAKS["no_ced_holder"](world, account)
        [finding] = compliance.report(
            world.session, settings=world.settings, actor=world.actor("ced1")
        ).findings
        assert (finding.rule, finding.severity, finding.department) == (3, "high", "AGR")
        assert finding.message == "No holder from CED; add a CED staff member as a holder."
        assert finding.fix == compliance.Fix.add_holder

    @pytest.mark.parametrize("code", sorted(BREAKS))
    def test_each_finding_says_what_fixes_it_in_plain_words(
        self, world: World, keyring: Keyring, code: str
    ) -> None:
        account = compliant(world, keyring)
        BREAKS[code](world, account)
        [finding] = compliance.report(
            world.session, settings=world.settings, actor=world.actor("ced1")
        ).findings
        assert finding.fix == FIXES[code]
        # A sentence for anyone, in a browser too: no command to run, no code to type.
        assert "registry " not in finding.message and "`" not in finding.message
        assert finding.message.endswith(".")

    def test_a_request_waiting_too_long_names_who_must_act(
        self, world: World, keyring: Keyring
    ) -> None:
        request = submit_request(world)
        assert codes(world) == []
        request.submitted_at = utcnow() - dt.timedelta(days=20)
        change(world, request)
        found = compliance.report(
            world.session, settings=world.settings, actor=world.actor("admin")
        )
        [finding] = found.findings
        assert (finding.request_id, finding.code, finding.rule) == (
            request.id,
            "request_waiting",
            4,
        )
        assert (
            "waited 20 days for the department executive (dana.deputy@gov.mb.ca)" in finding.message
        )
        assert finding.fix == compliance.Fix.decide_request

    def test_totals_per_department_and_scoping(self, world: World, keyring: Keyring) -> None:
        account = compliant(world, keyring)
        BREAKS["review_overdue"](world, account)
        hlt = world.account("Health", department="HLT", holders=("ced1", "hlt_requester"))
        found = compliance.report(
            world.session, settings=world.settings, actor=world.actor("auditor")
        )
        totals = {
            t.department: (t.active_accounts, t.findings, t.high, t.medium) for t in found.totals
        }
        assert totals["AGR"] == (1, 1, 0, 1)
        assert totals["HLT"] == (1, 1, 1, 0)  # no password on file
        mine = compliance.report(
            world.session, settings=world.settings, actor=world.actor("agr_approver")
        )
        assert {f.department for f in mine.findings} == {"AGR"}
        with pytest.raises(Forbidden):
            compliance.report(
                world.session,
                settings=world.settings,
                actor=world.actor("agr_approver"),
                department="HLT",
            )
        assert hlt.id in [f.account_id for f in found.findings]

    def test_a_report_narrowed_to_some_accounts_covers_those_the_actor_may_see(
        self, world: World, keyring: Keyring
    ) -> None:
        agr = world.account("AgrNews", holders=("ced1", "agr_staff"))  # no password: a finding
        hlt = world.account("Health", department="HLT", holders=("ced1", "hlt_requester"))
        other = world.account("AgrOther", holders=("ced1", "agr_staff"))
        submit_request(world).submitted_at = utcnow() - dt.timedelta(days=20)
        world.session.flush()

        def narrowed(who: str, ids: list[int]) -> list[int | None]:
            found = compliance.report(
                world.session, settings=world.settings, actor=world.actor(who), account_ids=ids
            )
            return [f.account_id for f in found.findings]

        # Only the accounts asked for, and no waiting request (it concerns no account).
        assert narrowed("auditor", [agr.id or 0, hlt.id or 0]) == [agr.id, hlt.id]
        # An AGR requester is not shown HLT's account, even when asking for it by id...
        assert narrowed("agr_requester", [agr.id or 0, hlt.id or 0]) == [agr.id]
        # ...but HLT's requester, who holds it, is; and nothing of AGR's.
        assert narrowed("hlt_requester", [agr.id or 0, hlt.id or 0, other.id or 0]) == [hlt.id]
        assert narrowed("auditor", []) == []


class TestReportFromTheCli:
    def test_formats_parse_and_fail_on_violation_exit_codes(
        self, fresh_db: FreshDatabase, cli: Cli
    ) -> None:
        with fresh_db.scope() as session:
            world = World.build(session, fresh_db.settings())
            account = world.account("AgrNews")
        auditor = ["--as", CAST["auditor"][0]]
        as_json = cli("audit", "report", "--format", "json", *auditor)
        body = json.loads(as_json.stdout)
        assert [(f["account_id"], f["code"]) for f in body["findings"]] == [
            (account.id, "no_credentials")
        ]
        # The table adds the command that fixes each finding to its plain sentence.
        table = cli("audit", "report", *auditor, env={"COLUMNS": "400"}).stdout
        assert f"registry vault put {account.id} --kind password" in table
        assert "store the account's password" in table
        assert body["findings"][0]["fix"] == "store_credential"
        as_csv = cli("audit", "report", "--format", "csv", *auditor)
        rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
        assert rows[0]["code"] == "no_credentials" and rows[0]["rule"] == "5"
        failing = cli("audit", "report", "--fail-on-violation", *auditor)
        assert failing.exit_code == 1
        put = cli(
            "vault",
            "put",
            str(account.id),
            "--kind",
            "password",
            "--as",
            CAST["ced1"][0],
            input="pw\n",
        )
        assert put.exit_code == 0, put.stderr
        passing = cli("audit", "report", "--fail-on-violation", *auditor)
        assert passing.exit_code == 0, passing.stdout
        bad = cli("audit", "report", "--format", "xml", *auditor)
        assert bad.exit_code == 1 and "table, json or csv" in bad.stderr

    def test_review_and_audit_commands(
        self, fresh_db: FreshDatabase, cli: Cli, tmp_path: object
    ) -> None:
        with fresh_db.scope() as session:
            world = World.build(session, fresh_db.settings())
            account = world.account("AgrNews")
        ced = ["--as", CAST["ced1"][0]]
        reviewed = cli("accounts", "review", str(account.id), "--note", "All good", "--json", *ced)
        assert reviewed.exit_code == 0, reviewed.stderr
        assert json.loads(reviewed.stdout)["last_reviewed_at"]
        refused = cli("accounts", "review", str(account.id), "--as", CAST["agr_requester"][0])
        assert refused.exit_code == 1 and "needs the ced role" in refused.stderr
        log = cli("audit", "log", "--account", str(account.id), "--json", *ced)
        lines = [json.loads(line) for line in log.stdout.splitlines()]
        assert [e["action"] for e in lines] == ["account.created", "account.reviewed"]
        assert lines[1]["details"]["note"] == "All good"
        verified = cli("audit", "verify", *ced)
        assert verified.exit_code == 0 and "whole" in verified.stdout
        checkpoint = f"{tmp_path}/head.json"
        assert cli("audit", "checkpoint", "--out", checkpoint, *ced).exit_code == 0
        against = cli("audit", "verify", "--checkpoint", checkpoint, *ced)
        assert against.exit_code == 0
        with fresh_db.engine.begin() as conn:
            from sqlalchemy import delete

            from registry.services.audit import EVENTS

            conn.execute(delete(EVENTS).where(EVENTS.c.seq == 3))
        broken = cli("audit", "verify", *ced)
        assert broken.exit_code == 1
        assert "NOT whole at sequence 3: event 3 is missing" in broken.stderr


class TestOverHttp:
    def test_events_paginate_and_compliance_answers(self, api: object) -> None:
        from tests.conftest import Api

        assert isinstance(api, Api)
        first = api.client.get(
            "/audit/events", params={"limit": 5}, headers=api.headers("auditor")
        ).json()
        assert len(first["events"]) == 5 and first["next_after_seq"] == 5
        second = api.client.get(
            "/audit/events", params={"limit": 5, "after_seq": 5}, headers=api.headers("auditor")
        ).json()
        assert [e["seq"] for e in second["events"]] == [6, 7, 8, 9, 10]
        assert (
            api.client.get("/audit/events", headers=api.headers("agr_requester")).status_code == 403
        )
        report = api.client.get("/compliance", headers=api.headers("auditor"))
        assert report.status_code == 200 and report.json()["findings"] == []
        assert (
            api.client.get(
                "/compliance", params={"department": "HLT"}, headers=api.headers("agr_requester")
            ).status_code
            == 403
        )


def findings_of(world: World, who: str, account_id: int | None = None) -> list[str]:
    found = compliance.report(
        world.session, settings=world.settings, actor=world.actor(who), account_id=account_id
    )
    return [f.code for f in found.findings]


class TestOneAccount:
    def test_the_scoped_report_equals_the_full_report_filtered(
        self, world: World, keyring: Keyring
    ) -> None:
        broken = compliant(world, keyring)
        for code in ("no_ced_holder", "review_overdue", "personal_login_email"):
            BREAKS[code](world, broken)
        untouched = compliant(world, keyring, "Untouched")
        bare = world.account("Health", department="HLT", holders=("ced1", "hlt_requester"))
        auditor = world.actor("auditor")
        full = compliance.report(world.session, settings=world.settings, actor=auditor)
        for account, department in ((broken, "AGR"), (untouched, "AGR"), (bare, "HLT")):
            scoped = compliance.report(
                world.session, settings=world.settings, actor=auditor, account_id=account.id
            )
            assert scoped.findings == [f for f in full.findings if f.account_id == account.id]
            assert [(t.department, t.active_accounts) for t in scoped.totals] == [(department, 1)]
        assert len(findings_of(world, "auditor", broken.id)) == 3

    def test_waiting_requests_are_left_out(self, world: World, keyring: Keyring) -> None:
        account = compliant(world, keyring)
        request = submit_request(world)
        request.submitted_at = utcnow() - dt.timedelta(days=20)
        change(world, request)
        assert findings_of(world, "admin") == ["request_waiting"]
        assert findings_of(world, "admin", account.id) == []

    def test_a_holder_sees_an_account_of_another_department_and_nobody_else_does(
        self, world: World
    ) -> None:
        account = world.account("Shared", holders=("ced1", "agr_staff", "hlt_requester"))
        assert findings_of(world, "hlt_requester") == []  # their own report is HLT's
        assert findings_of(world, "hlt_requester", account.id) == ["no_credentials"]
        with pytest.raises(NotFound):
            findings_of(world, "hlt_approver", account.id)
