"""User text attacks the terminal and the spreadsheet (issue 12, section 3).

Each class is one finding of the second hardening round (docs/security.md): Rich markup and
terminal control characters in what the CLI prints, control characters in stored secrets,
formulas in CSV exports, free-text notices on console pages, invisible characters in free
text, and holder e-mails that told a requester who exists (or left) in other departments.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, select
from typer.testing import Result

from registry.errors import InvalidInput
from registry.models import Credential, Person, PersonStatus
from registry.services import (
    accounts,
    compliance,
    credentials,
    departments,
    people,
    requests,
)
from registry.services.credentials import context
from tests.conftest import Api, Cli, FreshDatabase, assert_refused, table_rows
from tests.factories import CAST, NEW_REQUEST, World
from vault import Keyring, Secret, encrypt

ADMIN = CAST["admin"][0]
AUDITOR = CAST["auditor"][0]
REQUESTER = CAST["agr_requester"][0]
CED1 = CAST["ced1"][0]
WIDE = {"COLUMNS": "400"}  # one table row a line, so that a value is never folded

# Rich markup that closed a tag nobody opened (a MarkupError) or hid a hyperlink.
MARKUP = "Mallory [/] [link=https://evil.example]Pay here[/link] [bold]now"
# Stored before this change, bypassing today's checks: an OSC 8 link, hidden text (SGR 8),
# a clipboard write (OSC 52), and C1 CSI (U+009B) that some terminals take as ESC [.
ESCAPES = (
    "Eve\x1b]8;;https://evil.example\x07Pay\x1b]8;;\x07\x1b[8mhidden\x1b]52;c;aGk=\x07\u009b2J"
)
RAW_CONTROLS = ("\x1b", "\x07", "\u009b")


@pytest.fixture
def world_cli(cli: Cli, fresh_db: FreshDatabase) -> Cli:
    """The command on a fresh registry holding the cast of tests.factories."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    return cli


def _world(session: Session, db: FreshDatabase) -> World:
    """The cast already in ``db`` (built by :func:`world_cli` or the ``api`` fixture)."""
    world = World(session=session, settings=db.settings())
    world.people = {
        key: session.exec(select(Person).where(Person.email == email)).one()
        for key, (email, _, _) in CAST.items()
    }
    return world


def _wide(cli: Cli, *args: str) -> Result:
    """Run the command on a wide terminal and check it succeeded."""
    result = cli(*args, env=WIDE)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


class TestCliPrintsUserTextLiterally:
    def test_markup_in_a_name_is_printed_as_typed(
        self, world_cli: Cli, fresh_db: FreshDatabase
    ) -> None:
        with fresh_db.scope() as session:
            people.add_person(
                session,
                settings=fresh_db.settings(),
                actor=None,
                email="mallory@gov.mb.ca",
                name=MARKUP,
                department="AGR",
            )
        listed = world_cli("people", "list", "--as", ADMIN, env=WIDE)
        assert listed.exit_code == 0, (listed.stderr, listed.exception)
        assert MARKUP in listed.stdout
        shown = world_cli.ok("people", "show", "mallory@gov.mb.ca", "--as", ADMIN)
        assert "[/]" in shown.stdout and "evil.example" in shown.stdout

    def test_markup_in_a_reason_is_printed_by_request_show_and_audit_log(
        self, world_cli: Cli, fresh_db: FreshDatabase
    ) -> None:
        with fresh_db.scope() as session:
            world = _world(session, fresh_db)
            account_id = world.account().id
            request = requests.submit_decommission(
                session,
                settings=world.settings,
                actor=world.actor("agr_requester"),
                account_id=account_id or 0,
                reason=MARKUP,
            )
            request_id = str(request.id)
        shown = world_cli("request", "show", request_id, "--as", REQUESTER, env=WIDE)
        assert shown.exit_code == 0, (shown.stderr, shown.exception)
        assert MARKUP in shown.stdout
        log = world_cli("audit", "log", "--as", AUDITOR, env=WIDE)
        assert log.exit_code == 0, (log.stderr, log.exception)
        assert MARKUP in log.stdout

    def test_control_characters_stored_earlier_never_reach_the_terminal(
        self, world_cli: Cli, fresh_db: FreshDatabase
    ) -> None:
        with fresh_db.scope() as session:
            session.execute(
                update(Person).where(Person.email == REQUESTER).values(name=ESCAPES)  # type: ignore[arg-type]
            )
        listed = _wide(world_cli, "people", "list", "--as", ADMIN)
        for char in RAW_CONTROLS:
            assert char not in listed.stdout
        assert "\\x1b]8;;https://evil.example\\x07Pay" in listed.stdout  # shown, not obeyed
        shown = _wide(world_cli, "people", "show", REQUESTER, "--as", ADMIN)
        assert not any(char in shown.stdout for char in RAW_CONTROLS)
        # JSON stays exact for programs, with every control character escaped.
        printed = world_cli.ok("people", "list", "--as", ADMIN, "--json").stdout
        assert not any(char in printed for char in RAW_CONTROLS)
        names = {p["email"]: p["name"] for p in json.loads(printed)}
        assert names[REQUESTER] == ESCAPES


# ------------------------------------------------------------------------------ secrets

BAD_SECRETS = [
    pytest.param("pa55\x1b]52;c;aGk=\x07", id="osc52-clipboard"),
    pytest.param("\x1b[8mpa55", id="sgr8-hidden"),
    pytest.param("pa\u009b2J55", id="c1-csi"),
    pytest.param("pa55\rfake", id="lone-cr"),
    pytest.param("pa\t55", id="tab"),
    pytest.param("pa\x7f55", id="del"),
    pytest.param("pa\x0855", id="backspace"),
]


class TestSecretsHoldNoControlCharacters:
    @pytest.mark.parametrize("value", BAD_SECRETS)
    def test_put_refuses_control_characters(
        self, world: World, keyring: Keyring, value: str
    ) -> None:
        account = world.account()
        before = table_rows(world.session)
        with pytest.raises(InvalidInput) as caught:
            credentials.put(
                world.session,
                keyring=keyring,
                actor=world.actor("ced1"),
                account_id=account.id or 0,
                kind="recovery_codes",
                value=Secret(value),
            )
        message = caught.value.message
        assert message == (
            "The secret contains a control character (only line breaks are allowed); "
            "nothing was stored."
        )
        assert value not in message
        assert table_rows(world.session) == before

    def test_recovery_codes_keep_their_lines_and_crlf_becomes_lf(
        self, world: World, keyring: Keyring
    ) -> None:
        account_id = world.account().id or 0
        ced = world.actor("ced1")
        for value, stored in (
            ("1111-2222\n3333-4444", "1111-2222\n3333-4444"),
            ("1111-2222\r\n3333-4444\r\n", "1111-2222\n3333-4444\n"),
        ):
            credentials.put(
                world.session,
                keyring=keyring,
                actor=ced,
                account_id=account_id,
                kind="recovery_codes",
                value=Secret(value),
            )
            shown = credentials.reveal(
                world.session,
                keyring=keyring,
                actor=ced,
                account_id=account_id,
                kind="recovery_codes",
                reason="Lost phone",
            )
            assert shown.public().value == stored

    def test_the_api_and_the_cli_refuse_them_and_store_nothing(
        self, api: Api, fresh_db: FreshDatabase
    ) -> None:
        with fresh_db.scope() as session:
            world = _world(session, fresh_db)
            account_id = world.account().id or 0
        before = table_rows(fresh_db.engine)
        response = api.client.put(
            f"/accounts/{account_id}/credentials/password",
            json={"value": "pa55\x1b]52;c;aGk=\x07"},
            headers=api.headers("ced1"),
        )
        body = assert_refused(response, 422, "control character")
        assert "aGk=" not in json.dumps(body)
        cli = Cli(fresh_db.env())
        stderr = cli.refused(
            "vault",
            "put",
            str(account_id),
            "--kind",
            "password",
            "--as",
            CED1,
            input="\x1b[8mpa55\n",
        )
        assert "control character" in stderr and "pa55" not in stderr
        assert table_rows(fresh_db.engine) == before

    def test_reveal_never_writes_control_characters_stored_earlier(
        self, world_cli: Cli, fresh_db: FreshDatabase
    ) -> None:
        secret = "pa55\x1b]52;c;aGk=\x07\x1b[8m\u009bend\nline two"
        with fresh_db.scope() as session:
            world = _world(session, fresh_db)
            account_id = world.account().id or 0
            sealed = encrypt(
                fresh_db.keyring(),
                secret.encode("utf-8"),
                context=context(account_id, "password", 1),
            )
            session.add(
                Credential(
                    account_id=account_id,
                    kind="password",
                    version=1,
                    sealed=sealed.dumps(),
                    key_id=sealed.key_id,
                    set_by_id=world.people["ced1"].id or 0,
                )
            )
        reveal = ("vault", "reveal", str(account_id), "--kind", "password", "--reason", "Post")
        shown = world_cli.ok(*reveal, "--as", CED1)
        assert not any(char in shown.stdout + shown.stderr for char in RAW_CONTROLS)
        assert shown.stdout == "pa55\\x1b]52;c;aGk=\\x07\\x1b[8m\\x9bend\nline two\n"
        assert "control or invisible characters" in shown.stderr
        printed = world_cli.ok(*reveal, "--as", CED1, "--json").stdout
        assert not any(char in printed for char in RAW_CONTROLS)
        assert json.loads(printed)["value"] == secret  # exact, for programs


# ------------------------------------------------------------------------------ CSV


class TestCsvCellsAreNotFormulas:
    @pytest.mark.parametrize(
        ("value", "written"),
        [
            (
                '=HYPERLINK("https://evil.example","Pay")',
                '\'=HYPERLINK("https://evil.example","Pay")',
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("-A1", "'-A1"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("-5", "-5"),
            ("-1.5", "-1.5"),
            ("+7", "+7"),
            ("-2e3", "-2e3"),
            (-5, -5),
            (1.5, 1.5),
            (None, ""),
            ("plain", "plain"),
            ("a=b", "a=b"),
        ],
    )
    def test_the_shared_cell(self, value: object, written: object) -> None:
        from registry.csvsafe import csv_cell

        assert csv_cell(value) == written

    def test_audit_report_csv_neutralises_a_handle(
        self, world_cli: Cli, fresh_db: FreshDatabase
    ) -> None:
        with fresh_db.scope() as session:
            world = _world(session, fresh_db)
            formula = world.account("-A1").id
            number = world.account("-5", login_email="agr.other@gov.mb.ca").id
        out = world_cli.ok("audit", "report", "--format", "csv", "--as", CED1).stdout
        rows = {row["account_id"]: row for row in csv.DictReader(io.StringIO(out))}
        assert rows[str(formula)]["handle"] == "'-A1"
        assert rows[str(number)]["handle"] == "-5"

    def test_handover_csv_neutralises_a_handle(
        self, world_cli: Cli, fresh_db: FreshDatabase, tmp_path: Path
    ) -> None:
        with fresh_db.scope() as session:
            world = _world(session, fresh_db)
            world.account("-A1")
        hr = tmp_path / "hr.csv"
        world_cli.ok(
            "handover",
            CAST["agr_staff"][0],
            "--to",
            CAST["agr_requester"][0],
            "--dry-run",
            "--csv",
            str(hr),
            "--as",
            ADMIN,
        )
        [row] = list(csv.DictReader(io.StringIO(hr.read_text())))
        assert row["handle"] == "'-A1"
        assert row["account_id"] == "1"

    def test_the_compliance_csv_uses_it_for_every_column(self) -> None:
        report = compliance.ComplianceReport(
            generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            department=None,
            findings=[
                compliance.Finding(
                    department="@AGR",
                    account_id=3,
                    platform="=x",
                    handle="+y",
                    rule=5,
                    severity="-high",
                    code="\tcode",
                    message="=cmd",
                )
            ],
        )
        [row] = list(csv.reader(io.StringIO(compliance.to_csv(report))))[1:]
        assert row == ["'@AGR", "3", "", "'=x", "'+y", "5", "'-high", "'\tcode", "'=cmd"]


# ------------------------------------------------------------------------------ notices

PHISH = "Your session expired. Call 204-555-0100 with your token to restore access."


class TestNoticesAreFixed:
    def test_login_shows_only_known_notices(self, api: Api) -> None:
        page = api.client.get("/login", params={"notice": PHISH})
        assert page.status_code == 200
        assert "204-555-0100" not in page.text and 'class="notice"' not in page.text
        known = api.client.get("/login", params={"notice": "signed_out"})
        assert '<p class="notice" role="status">You are signed out.</p>' in known.text

    def test_console_shows_only_known_notices(self, api: Api) -> None:
        api.sign_in("agr_approver")
        page = api.client.get("/console", params={"notice": PHISH})
        assert page.status_code == 200
        assert "204-555-0100" not in page.text and 'class="notice"' not in page.text

    def test_redirects_name_a_notice_key(self, api: Api) -> None:
        created = api.client.post(
            "/requests",
            json={**NEW_REQUEST, "holders": [CAST["agr_staff"][0]]},
            headers=api.headers("agr_requester"),
        )
        assert created.status_code == 201, created.text
        csrf = api.sign_in("agr_approver")
        approved = api.client.post(
            f"/console/requests/{created.json()['id']}/approve",
            data={"csrf": csrf},
            follow_redirects=False,
        )
        assert approved.headers["location"] == "/console?notice=department_approved"
        shown = api.client.get(approved.headers["location"])
        assert "The request is approved by the department; it now awaits CED." in shown.text
        out = api.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.headers["location"] == "/login?notice=signed_out"


# ------------------------------------------------------------------------------ invisible

INVISIBLE = [
    "\u200b",  # zero width space
    "\u200d",  # zero width joiner
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "\u061c",  # Arabic letter mark
    "\u00ad",  # soft hyphen
    "\u180e",  # Mongolian vowel separator
    "\u2028",  # line separator (Zl)
    "\u2029",  # paragraph separator (Zp)
    "\u115f",  # Hangul choseong filler
    "\u1160",  # Hangul jungseong filler
    "\u3164",  # Hangul filler
    "\uffa0",  # halfwidth Hangul filler
    "\U000e0041",  # tag latin capital letter A
    "\U000e007f",  # cancel tag
]


def _refusal(call: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.message


class TestInvisibleCharactersRefused:
    @pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
    def test_every_free_text_field_refuses_them(self, world: World, char: str) -> None:
        session, settings = world.session, world.settings
        text = f"Ann{char}Lee"
        code = f"U+{ord(char):04X}"
        account_id = world.account().id or 0
        request = requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("agr_requester"),
            platform="x",
            handle="MBAgNews",
            url="https://x.com/MBAgNews",
            category="official",
            department="AGR",
            purpose="News",
            login_email="agr.news@gov.mb.ca",
            holders=[world.email("agr_staff")],
        )
        before = table_rows(session)

        def submit(**fields: str) -> object:
            body = {"purpose": "News", "program_area": "", "display_name": "", **fields}
            return requests.submit_new_account(
                session,
                settings=settings,
                actor=world.actor("agr_requester"),
                platform="x",
                handle="MBAgOther",
                url="https://x.com/MBAgOther",
                category="official",
                department="AGR",
                login_email="agr.other@gov.mb.ca",
                holders=[world.email("agr_staff")],
                **body,
            )

        cases = {
            "Name": lambda: people.add_person(
                session,
                settings=settings,
                actor=None,
                email="ann.lee@gov.mb.ca",
                name=text,
                department="AGR",
            ),
            "Department name": lambda: departments.add_department(
                session, actor=None, code="ZZZ", name=text
            ),
            "Purpose": lambda: submit(purpose=text),
            "Display name": lambda: submit(display_name=text),
            "Program area": lambda: submit(program_area=text),
            "Reason": lambda: requests.submit_decommission(
                session,
                settings=world.settings,
                actor=world.actor("agr_requester"),
                account_id=account_id,
                reason=text,
            ),
            "Comment": lambda: requests.approve(
                session,
                settings=settings,
                actor=world.actor("agr_approver"),
                request_id=request.id or 0,
                comment=text,
            ),
            "Note": lambda: accounts.review(
                session,
                settings=settings,
                actor=world.actor("ced1"),
                account_id=account_id,
                note=text,
            ),
        }
        for field, call in cases.items():
            message = _refusal(call)
            assert message == f"{field} contains an invisible or formatting character ({code}).", (
                field,
                message,
            )
        assert table_rows(session) == before

    def test_the_api_refuses_a_display_name_with_one(self, api: Api) -> None:
        before = table_rows(api.db.engine)
        response = api.client.post(
            "/requests",
            json={**NEW_REQUEST, "holders": [], "display_name": "Manitoba\u200bAg"},
            headers=api.headers("agr_requester"),
        )
        assert_refused(response, 422, "Display name contains an invisible or formatting character")
        assert table_rows(api.db.engine) == before

    def test_direction_marks_keep_their_own_sentence(self, world: World) -> None:
        message = _refusal(
            lambda: departments.add_department(
                world.session, actor=None, code="ZZZ", name="Health\u200fMB"
            )
        )
        assert message == "Department name contains a right-to-left or other direction override."

    def test_ordinary_text_is_still_taken(self, world: World) -> None:
        dept = departments.add_department(
            world.session, actor=None, code="ZZZ", name="Santé\u00a0et Mieux-être 🌾 (한국어)"
        )
        assert dept.name == "Santé\u00a0et Mieux-être 🌾 (한국어)"


# ------------------------------------------------------------------------------ holders

NOBODY = "nobody.here@gov.mb.ca"
OTHER = CAST["hlt_requester"][0]  # exists, in HLT


def _leave(engine_or_session: object, email: str) -> None:
    statement = (
        update(Person)
        .where(Person.email == email)  # type: ignore[arg-type]
        .values(status=PersonStatus.left.value, left_at=dt.datetime.now(dt.UTC))
    )
    if isinstance(engine_or_session, Session):
        engine_or_session.execute(statement)
    else:
        with Session(engine_or_session) as session:  # type: ignore[call-overload]
            session.execute(statement)
            session.commit()


class TestHolderLookupsRevealNoOne:
    def _submit(self, api: Api, who: str, holders: list[str]) -> tuple[int, dict[str, object]]:
        response = api.client.post(
            "/requests", json={**NEW_REQUEST, "holders": holders}, headers=api.headers(who)
        )
        return response.status_code, response.json()

    def test_a_holder_in_another_department_reads_as_unknown(self, api: Api) -> None:
        _leave(api.db.engine, CAST["hlt_approver"][0])  # left, in HLT
        before = table_rows(api.db.engine)
        unknown = self._submit(api, "agr_requester", [NOBODY])
        assert unknown[0] == 404
        for hidden in (OTHER, CAST["hlt_approver"][0], CED1):
            # As GET /people/{email} answers this caller: no such person.
            looked_up = api.client.get(f"/people/{hidden}", headers=api.headers("agr_requester"))
            assert looked_up.status_code == 404
            status, body = self._submit(api, "agr_requester", [hidden])
            assert (status, json.dumps(body).replace(hidden, NOBODY)) == (
                unknown[0],
                json.dumps(unknown[1]),
            )
        several = self._submit(api, "agr_requester", [OTHER, "another.one@gov.mb.ca"])
        both_unknown = self._submit(api, "agr_requester", [NOBODY, "another.one@gov.mb.ca"])
        assert several[0] == both_unknown[0] == 404
        assert json.dumps(several[1]).replace(OTHER, NOBODY) == json.dumps(both_unknown[1])
        assert table_rows(api.db.engine) == before

    def test_whoever_may_see_a_person_is_told_what_people_shows(self, api: Api) -> None:
        leaver = CAST["agr_approver"][0]  # AGR: visible to an AGR requester
        _leave(api.db.engine, leaver)
        shown = api.client.get(f"/people/{leaver}", headers=api.headers("agr_requester"))
        assert shown.status_code == 200 and shown.json()["status"] == "left"
        status, body = self._submit(api, "agr_requester", [leaver])
        assert status == 409 and "has left government" in str(body["detail"])
        # CED sees everyone: it is told that a Health person has left.
        _leave(api.db.engine, CAST["hlt_approver"][0])
        status, body = self._submit(api, "ced1", [CAST["hlt_approver"][0]])
        assert status == 409 and "has left government" in str(body["detail"])

    def test_own_department_holders_are_taken(self, api: Api) -> None:
        status, body = self._submit(api, "agr_requester", [CAST["agr_staff"][0]])
        assert status == 201, body
        assert body["holders"] == [CAST["agr_staff"][0]]
