"""Every ``registry.permissions`` question, answered for every kind of person, and checked
against what the service it stands for actually does.

Each table gives, per persona of :data:`PERSONAS`, how the service answers: ``OK`` (the
permission held: the call went through, or was refused for another reason such as a rule),
``NO`` (403, Forbidden) or ``HIDDEN`` (404: the person may not even see the thing). The
``can_*`` answer must be True exactly where the service says ``OK``; where the refusal is about
roles alone, its sentence is the one ``permissions.refusal`` writes for the role set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from sqlmodel import select

from registry import permissions
from registry.errors import Forbidden, NotFound, RegistryError
from registry.models import Account, AccountRequest, ApiToken, Person, Role, utcnow
from registry.services import (
    access,
    accounts,
    audit,
    compliance,
    credentials,
    departments,
    feed,
    handover,
    outbox,
    people,
    renames,
    requests,
    signing,
    tokens,
)
from registry.services.actors import Actor
from tests.factories import CAST, NEW_REQUEST, World
from vault import Keyring, Secret

OK, NO, HIDDEN = 200, 403, 404

# The personas, in the order of every table's columns.
PERSONAS = (
    "admin",  # admin + ced, CED
    "ced1",  # ced, CED
    "ced_exec",  # ced + dept_approver, CED
    "agr_requester",  # requester, AGR
    "agr_approver",  # dept_approver, AGR
    "agr_staff",  # requester, AGR; holds the account below
    "hlt_requester",  # requester, HLT; holds the account below although in another department
    "hlt_approver",  # dept_approver, HLT
    "auditor",  # auditor, FIN
    "fin_admin",  # admin, FIN (not CED)
)
SEED = "JBSWY3DPEHPK3PXP"


def row(*answers: int) -> dict[str, int]:
    """One table row, in the order of PERSONAS."""
    assert len(answers) == len(PERSONAS), answers
    return dict(zip(PERSONAS, answers, strict=True))


def answered(call: Callable[[], object]) -> tuple[int, str]:
    """How the service answered ``call``: 403 or 404 with its sentence, else 200 (the
    permission held, whatever else the call then found)."""
    try:
        call()
    except Forbidden as exc:
        return NO, exc.message
    except NotFound as exc:
        return HIDDEN, exc.message
    except RegistryError as exc:
        return OK, exc.message
    return OK, ""


@dataclass
class Place:
    """A small registry: an AGR account (held by ced1, agr_staff and hlt_requester) with a
    password and a TOTP seed on file; an AGR request at each stage; a CED request whose
    department approval ced_exec gave; two people who take part in no table."""

    world: World
    keyring: Keyring
    account: Account
    submitted: AccountRequest
    department_approved: AccountRequest
    ced_twice: AccountRequest

    def actor(self, who: str) -> Actor:
        return self.world.actor(who)

    def holds(self, who: str) -> bool:
        return credentials.holds(self.world.session, self.actor(who), self.account.id or 0)


def _request(world: World, who: str, handle: str, **fields: Any) -> AccountRequest:
    body = {k: v for k, v in NEW_REQUEST.items() if k != "kind"}
    body.update(
        handle=handle, url=f"https://www.facebook.com/{handle}", login_email="agr@gov.mb.ca"
    )
    body.update(fields)
    submitted = requests.submit_new_account(
        world.session, settings=world.settings, actor=world.actor(who), **body
    )
    row = world.session.get(AccountRequest, submitted.id)  # the permissions read the row
    assert row is not None
    return row


@pytest.fixture
def place(world: World, keyring: Keyring) -> Place:
    account = world.account("ManitobaAg", holders=("ced1", "agr_staff", "hlt_requester"))
    for kind, value in (("password", "canary password"), ("totp_seed", SEED)):
        credentials.put(
            world.session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            kind=kind,
            value=Secret(value),
        )
    submitted = _request(world, "agr_requester", "AgrFirst")
    second = _request(world, "agr_requester", "AgrSecond")
    requests.approve(
        world.session,
        settings=world.settings,
        actor=world.actor("agr_approver"),
        request_id=second.id or 0,
    )
    twice = _request(world, "ced1", "CedOwn", department="CED", holders=[CAST["ced2"][0]])
    requests.approve(
        world.session,
        settings=world.settings,
        actor=world.actor("ced_exec"),
        request_id=twice.id or 0,
    )
    for email, name in (("lee.leaver@gov.mb.ca", "Lee"), ("sue.successor@gov.mb.ca", "Sue")):
        people.add_person(
            world.session,
            settings=world.settings,
            actor=None,
            email=email,
            name=name,
            department="AGR",
        )
    return Place(world, keyring, account, submitted, second, twice)


# ------------------------------------------------------------------------------ by role alone


@dataclass(frozen=True)
class RoleQuestion:
    """A ``can_*(actor)`` question, the role set its refusal names, and a service call."""

    can: Callable[[Actor], bool]
    roles: tuple[Role, ...]
    to: str
    call: Callable[[Place, Actor], object]
    table: dict[str, int]


def _handover(place: Place, actor: Actor) -> object:
    return handover.handover(
        place.world.session,
        settings=place.world.settings,
        actor=actor,
        departing="lee.leaver@gov.mb.ca",
        successor="sue.successor@gov.mb.ca",
        dry_run=True,
    )


def _grant(place: Place, actor: Actor) -> object:
    return access.grant(
        place.world.session,
        settings=place.world.settings,
        actor=actor,
        account_id=place.account.id or 0,
        email=CAST["agr_requester"][0],
    )


def _import(place: Place, actor: Actor) -> object:
    return accounts.import_accounts(
        place.world.session, settings=place.world.settings, actor=actor, data=b""
    )


def _review(place: Place, actor: Actor) -> object:
    return accounts.review(
        place.world.session,
        settings=place.world.settings,
        actor=actor,
        account_id=place.account.id or 0,
    )


def _add_person(place: Place, actor: Actor) -> object:
    return people.add_person(
        place.world.session,
        settings=place.world.settings,
        actor=actor,
        email="new.person@gov.mb.ca",
        name="New",
        department="AGR",
    )


# Columns: admin ced1 ced_exec agr_requester agr_approver agr_staff hlt_requester hlt_approver
# auditor fin_admin (PERSONAS).
ADMIN_AND_CED = row(OK, OK, OK, NO, NO, NO, NO, NO, NO, OK)
READERS = row(OK, OK, OK, NO, NO, NO, NO, NO, OK, OK)
CED_ROLE = row(OK, OK, OK, NO, NO, NO, NO, NO, NO, NO)
ADMINS = row(OK, NO, NO, NO, NO, NO, NO, NO, NO, OK)

ROLE_QUESTIONS = {
    "can_run_handover": RoleQuestion(
        permissions.can_run_handover,
        permissions.RUNNERS,
        "run a handover",
        _handover,
        ADMIN_AND_CED,
    ),
    "can_read_handovers": RoleQuestion(
        permissions.can_read_handovers,
        permissions.HANDOVER_READERS,
        "read handover records",
        lambda place, actor: handover.list_handovers(place.world.session, actor=actor),
        READERS,
    ),
    "can_read_audit": RoleQuestion(
        permissions.can_read_audit,
        permissions.READERS,
        "read the audit log",
        lambda place, actor: audit.list_events(place.world.session, actor=actor),
        READERS,
    ),
    "can_seal_audit": RoleQuestion(
        permissions.can_seal_audit,
        permissions.SEALERS,
        "seal the audit log",
        lambda place, actor: audit.seal(place.world.session, keyring=place.keyring, actor=actor),
        ADMIN_AND_CED,
    ),
    "can_manage_access": RoleQuestion(
        permissions.can_manage_access,
        permissions.ACCESS_MANAGERS,
        "grant access to accounts",
        _grant,
        ADMIN_AND_CED,
    ),
    "can_import": RoleQuestion(
        permissions.can_import, permissions.IMPORTERS, "import accounts", _import, CED_ROLE
    ),
    "can_review": RoleQuestion(
        permissions.can_review, permissions.REVIEWERS, "record account reviews", _review, CED_ROLE
    ),
    "can_hold_credentials": RoleQuestion(
        permissions.can_hold_credentials,
        permissions.CUSTODIANS,
        "",  # the reveal of a TOTP seed: refused in a sentence of its own
        lambda place, actor: credentials.reveal(
            place.world.session,
            keyring=place.keyring,
            actor=actor,
            account_id=place.account.id or 0,
            kind="totp_seed",
            reason="checking",
        ),
        row(OK, OK, OK, NO, NO, NO, NO, HIDDEN, NO, NO),
    ),
    "can_rotate_keys": RoleQuestion(
        permissions.can_rotate_keys,
        permissions.ADMINISTRATORS,
        "rotate the vault's master key",
        lambda place, actor: credentials.rewrap_batch(
            place.world.session, keyring=place.keyring, actor=actor
        ),
        ADMINS,
    ),
    "can_purge_credentials": RoleQuestion(
        permissions.can_purge_credentials,
        permissions.PURGERS,
        "purge credentials",
        lambda place, actor: credentials.purge(
            place.world.session, settings=place.world.settings, actor=actor
        ),
        ADMIN_AND_CED,
    ),
    "can_manage_people": RoleQuestion(
        permissions.can_manage_people, permissions.ADMINISTRATORS, "add people", _add_person, ADMINS
    ),
    "can_manage_departments": RoleQuestion(
        permissions.can_manage_departments,
        permissions.ADMINISTRATORS,
        "add departments",
        lambda place, actor: departments.add_department(
            place.world.session, actor=actor, code="NEW", name="New department"
        ),
        ADMINS,
    ),
    "can_operate_mail": RoleQuestion(
        permissions.can_operate_mail,
        permissions.MAIL_OPERATORS,
        "list the e-mail outbox",
        lambda place, actor: outbox.list_messages(place.world.session, actor=actor),
        ADMIN_AND_CED,
    ),
    "can_rename": RoleQuestion(
        permissions.can_rename,
        permissions.RENAMERS,
        "rename accounts",
        lambda place, actor: renames.rename(
            place.world.session,
            actor=actor,
            account_id=place.account.id or 0,
            handle="ManitobaAgNews",
            url="https://www.facebook.com/ManitobaAgNews",
        ),
        CED_ROLE,
    ),
    "can_publish": RoleQuestion(
        permissions.can_publish,
        permissions.PUBLISHERS,
        "sign the public directory for publishing",
        lambda place, actor: signing.signed_feed(
            place.world.session,
            settings=place.world.settings,
            actor=actor,
            current=feed.build(place.world.session.connection(), now=utcnow()),
            now=utcnow(),
        ),
        ADMIN_AND_CED,
    ),
    "can_manage_tokens": RoleQuestion(
        permissions.can_manage_tokens,
        permissions.ADMINISTRATORS,
        "create API tokens",
        lambda place, actor: tokens.create_token(
            place.world.session, actor=actor, email=CAST["agr_staff"][0]
        ),
        ADMINS,
    ),
}


class TestRoleQuestions:
    @pytest.mark.parametrize("who", PERSONAS)
    @pytest.mark.parametrize("name", ROLE_QUESTIONS)
    def test_as_the_service_allows(self, place: Place, name: str, who: str) -> None:
        question = ROLE_QUESTIONS[name]
        actor = place.actor(who)
        expected = question.table[who]
        code, message = answered(lambda: question.call(place, actor))
        assert (code, question.can(actor)) == (expected, expected == OK)
        if code == NO and question.to:
            assert message == permissions.refusal(actor, question.roles, to=question.to).message

    def test_every_role_question_has_a_table(self) -> None:
        asked = {name for name in dir(permissions) if name.startswith("can_")}
        assert set(ROLE_QUESTIONS) <= asked
        assert asked - set(ROLE_QUESTIONS) == set(OBJECT_QUESTIONS)


# ------------------------------------------------------------------------------ about a thing
# Each question about a thing gets a class; OBJECT_QUESTIONS names them all (checked above).

OBJECT_QUESTIONS = {
    "can_see_all",
    "can_see_department",
    "can_see_person",
    "can_see_account",
    "can_see_request",
    "can_submit_for",
    "can_decide",
    "can_decide_stage",
    "can_withdraw",
    "can_grant_to",
    "can_store_credentials",
    "can_reveal",
    "can_get_totp",
    "can_hand_over_person",
    "can_hand_over_to",
    "can_list_tokens_of",
    "can_revoke_token",
}


class TestCanSeeAll:
    TABLE = row(OK, OK, OK, NO, NO, NO, NO, NO, OK, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_the_people_list_shows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        listed = people.list_people(place.world.session, actor=actor)
        everyone = place.world.session.exec(select(Person)).all()
        sees_everyone = len(listed) == len(everyone)
        assert sees_everyone is permissions.can_see_all(actor) is (self.TABLE[who] == OK)


class TestCanSeeDepartment:
    # AGR's compliance report
    TABLE = row(OK, OK, OK, OK, OK, OK, NO, NO, OK, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_the_compliance_report_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        code, _ = answered(
            lambda: compliance.report(
                place.world.session, settings=place.world.settings, actor=actor, department="AGR"
            )
        )
        assert code == self.TABLE[who]
        assert permissions.can_see_department(actor, place.account.department_id) is (code == OK)


class TestCanSeePerson:
    # agr_staff, as GET /people/{email} shows them
    TABLE = row(OK, OK, OK, OK, OK, OK, HIDDEN, HIDDEN, OK, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_show_person_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        person = place.world.people["agr_staff"]
        code, _ = answered(
            lambda: people.show_person(place.world.session, actor=actor, email=person.email)
        )
        assert code == self.TABLE[who]
        assert permissions.can_see_person(actor, person) is (code == OK)


class TestCanSeeAccount:
    # the AGR account; hlt_requester holds it
    TABLE = row(OK, OK, OK, OK, OK, OK, OK, HIDDEN, OK, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_show_account_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        account_id = place.account.id or 0
        code, _ = answered(
            lambda: accounts.show_account(place.world.session, actor=actor, account_id=account_id)
        )
        assert code == self.TABLE[who]
        allowed = permissions.can_see_account(actor, place.account, holds=place.holds(who))
        assert allowed is (code == OK)


class TestCanSeeRequest:
    # the AGR request agr_requester submitted
    TABLE = row(OK, OK, OK, OK, OK, OK, HIDDEN, HIDDEN, OK, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_show_request_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        request_id = place.submitted.id or 0
        code, _ = answered(
            lambda: requests.show_request(place.world.session, actor=actor, request_id=request_id)
        )
        assert code == self.TABLE[who]
        assert permissions.can_see_request(actor, place.submitted) is (code == OK)

    def test_its_requester_sees_it_from_another_department(self, place: Place) -> None:
        """A handover moves open requests to the successor, who may work elsewhere."""
        request = place.submitted
        request.requester_id = place.world.people["hlt_requester"].id or 0
        place.world.session.add(request)
        place.world.session.flush()
        actor = place.actor("hlt_requester")
        code, _ = answered(
            lambda: requests.show_request(
                place.world.session, actor=actor, request_id=request.id or 0
            )
        )
        assert code == OK and permissions.can_see_request(actor, request)


class TestCanSubmitFor:
    # a new account for AGR
    TABLE = row(OK, OK, OK, OK, OK, OK, NO, NO, NO, NO)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_a_new_request_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        code, message = answered(
            lambda: _request(place.world, who, "AgrThird", holders=[actor.email])
        )
        assert code == self.TABLE[who], message
        assert permissions.can_submit_for(actor, place.account.department_id) is (code == OK)


class TestCanDecide:
    TABLES: ClassVar[dict[str, dict[str, int]]] = {
        "submitted": row(NO, NO, NO, NO, OK, NO, HIDDEN, HIDDEN, NO, NO),
        "department_approved": row(OK, OK, OK, NO, NO, NO, HIDDEN, HIDDEN, NO, NO),
        # ced_exec gave this one's department approval; ced1 asked for it
        "ced_twice": row(OK, NO, NO, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, NO, NO),
    }

    @pytest.mark.parametrize("verb", ["approve", "reject"])
    @pytest.mark.parametrize("who", PERSONAS)
    @pytest.mark.parametrize("which", TABLES)
    def test_as_approve_and_reject_allow(
        self, place: Place, which: str, who: str, verb: str
    ) -> None:
        actor = place.actor(who)
        request: AccountRequest = getattr(place, which)
        session, settings, request_id = place.world.session, place.world.settings, request.id or 0
        allowed = permissions.can_decide(actor, request)
        why = permissions.decision_refusal(actor, request, verb=verb)
        if verb == "approve":
            code, message = answered(
                lambda: requests.approve(
                    session, settings=settings, actor=actor, request_id=request_id
                )
            )
        else:
            code, message = answered(
                lambda: requests.reject(
                    session, settings=settings, actor=actor, request_id=request_id, reason="No."
                )
            )
        assert code == self.TABLES[which][who], message
        assert allowed is (code == OK) or code == HIDDEN
        if code == NO:
            assert message == why

    def test_a_decided_request_is_decided_by_nobody(self, place: Place) -> None:
        place.submitted.state = "rejected"
        assert not any(permissions.can_decide(place.actor(w), place.submitted) for w in PERSONAS)


class TestCanDecideStage:
    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_the_awaiting_list_shows(self, place: Place, who: str) -> None:
        """``requests.awaiting`` (the requests waiting for me) lists exactly the requests
        ``can_decide`` allows, built from ``can_decide_stage``."""
        actor = place.actor(who)
        waiting = {
            r.id for r in requests.list_requests(place.world.session, actor=actor, awaiting_me=True)
        }
        everything = place.world.session.exec(select(AccountRequest)).all()
        assert waiting == {r.id for r in everything if permissions.can_decide(actor, r)}


class TestCanWithdraw:
    TABLE = row(NO, NO, NO, OK, NO, NO, HIDDEN, HIDDEN, NO, NO)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_withdraw_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        request_id = place.submitted.id or 0
        code, _ = answered(
            lambda: requests.withdraw(
                place.world.session,
                settings=place.world.settings,
                actor=actor,
                request_id=request_id,
            )
        )
        assert code == self.TABLE[who]
        assert permissions.can_withdraw(actor, place.submitted) is (code == OK) or code == HIDDEN


class TestCanGrantTo:
    @pytest.mark.parametrize(
        ("who", "grantee", "expected"),
        [("ced1", "ced2", OK), ("ced1", "ced1", NO), ("fin_admin", "fin_admin", NO)],
    )
    def test_as_grant_allows(self, place: Place, who: str, grantee: str, expected: int) -> None:
        actor = place.actor(who)
        person = place.world.people[grantee]
        code, _ = answered(
            lambda: access.grant(
                place.world.session,
                settings=place.world.settings,
                actor=actor,
                account_id=place.account.id or 0,
                email=person.email,
            )
        )
        assert code == expected
        assert permissions.can_grant_to(actor, person.id) is (code == OK)


def check(expected: int, can: bool, call: Callable[[], object]) -> None:
    """The service answers ``call`` as expected, and ``can`` says yes exactly where it
    allowed (someone who may not see the thing at all is told it is not there)."""
    code, message = answered(call)
    assert code == expected, message
    assert can is (code == OK) or code == HIDDEN


class TestCanStoreCredentials:
    TABLE = row(OK, OK, OK, NO, NO, OK, OK, HIDDEN, NO, NO)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_put_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        check(
            self.TABLE[who],
            permissions.can_store_credentials(actor, holds=place.holds(who)),
            lambda: credentials.put(
                place.world.session,
                keyring=place.keyring,
                actor=actor,
                account_id=place.account.id or 0,
                kind="password",
                value=Secret("new password"),
            ),
        )


class TestCanReveal:
    TABLES: ClassVar[dict[str, dict[str, int]]] = {
        "password": row(OK, OK, OK, NO, NO, OK, OK, HIDDEN, NO, NO),
        "totp_seed": row(OK, OK, OK, NO, NO, NO, NO, HIDDEN, NO, NO),
    }

    @pytest.mark.parametrize("who", PERSONAS)
    @pytest.mark.parametrize("kind", TABLES)
    def test_as_reveal_allows(self, place: Place, kind: str, who: str) -> None:
        actor = place.actor(who)
        check(
            self.TABLES[kind][who],
            permissions.can_reveal(actor, kind, holds=place.holds(who)),
            lambda: credentials.reveal(
                place.world.session,
                keyring=place.keyring,
                actor=actor,
                account_id=place.account.id or 0,
                kind=kind,
                reason="checking",
            ),
        )


class TestCanGetTotp:
    TABLE = row(OK, OK, OK, NO, NO, OK, OK, HIDDEN, NO, NO)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_totp_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        check(
            self.TABLE[who],
            permissions.can_get_totp(actor, holds=place.holds(who)),
            lambda: credentials.totp(
                place.world.session,
                keyring=place.keyring,
                actor=actor,
                account_id=place.account.id or 0,
            ),
        )


class TestCanHandOverPerson:
    @pytest.mark.parametrize(
        ("who", "leaver", "expected"),
        [("admin", "lee.leaver@gov.mb.ca", OK), ("ced1", CAST["ced1"][0], NO)],
    )
    def test_as_handover_allows(self, place: Place, who: str, leaver: str, expected: int) -> None:
        actor = place.actor(who)
        code, _ = answered(
            lambda: handover.handover(
                place.world.session,
                settings=place.world.settings,
                actor=actor,
                departing=leaver,
                successor="sue.successor@gov.mb.ca",
                dry_run=True,
            )
        )
        assert code == expected
        leaver_id = place.world.session.exec(select(Person.id).where(Person.email == leaver)).one()
        assert permissions.can_hand_over_person(actor, leaver_id) is (code == OK)


class TestCanHandOverTo:
    @pytest.mark.parametrize(
        ("who", "successor", "expected"),
        [("admin", "sue.successor@gov.mb.ca", OK), ("ced1", CAST["ced1"][0], NO)],
    )
    def test_as_handover_allows(
        self, place: Place, who: str, successor: str, expected: int
    ) -> None:
        actor = place.actor(who)
        code, _ = answered(
            lambda: handover.handover(
                place.world.session,
                settings=place.world.settings,
                actor=actor,
                departing="lee.leaver@gov.mb.ca",
                successor=successor,
                dry_run=True,
            )
        )
        assert code == expected
        ids = place.world.session.exec(select(Person.id).where(Person.email == successor)).all()
        assert permissions.can_hand_over_to(actor, ids) is (code == OK)


class TestCanListTokensOf:
    # agr_staff's tokens
    TABLE = row(OK, NO, NO, NO, NO, OK, NO, NO, NO, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_list_tokens_allows(self, place: Place, who: str) -> None:
        actor = place.actor(who)
        email = " SAM.staff@agr.gov.mb.ca "  # their own, however written
        code, message = answered(
            lambda: tokens.list_tokens(place.world.session, actor=actor, email=email)
        )
        assert code == self.TABLE[who]
        assert permissions.can_list_tokens_of(actor, email) is (code == OK)
        if code == NO:
            expected = permissions.refusal(
                actor, permissions.ADMINISTRATORS, to="list other people's tokens"
            )
            assert message == expected.message


class TestCanRevokeToken:
    # a token of agr_staff's: someone else's is "not found" (nothing said of whose it is)
    TABLE = row(OK, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK, HIDDEN, HIDDEN, HIDDEN, OK)

    @pytest.mark.parametrize("who", PERSONAS)
    def test_as_revoke_token_allows(self, place: Place, who: str) -> None:
        session = place.world.session
        issued = tokens.create_token(session, actor=None, email=CAST["agr_staff"][0])
        actor = place.actor(who)
        code, _ = answered(
            lambda: tokens.revoke_token(session, actor=actor, token_id=issued.public.id)
        )
        assert code == self.TABLE[who]
        row_ = session.get(ApiToken, issued.public.id)
        assert row_ is not None
        assert permissions.can_revoke_token(actor, row_) is (code == OK)
