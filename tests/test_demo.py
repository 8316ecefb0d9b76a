"""``registry demo`` and the demo sign-in (issue 17).

The demo is made once for the module by the real command, in a new process, into a fresh
directory (no database, no keyring yet), and then served: the public directory lists its
accounts, each of its roles signs in from the sign-in page and lands on a home with something
in it, a second ``demo`` is refused. A registry that is not a demo never offers the demo
sign-in, and its route refuses, whatever the settings.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.enums import Role
from registry.http.app import create_app
from registry.models import (
    Account,
    AccountRequest,
    AuditEvent,
    Credential,
    Handover,
    OutboxMessage,
    Person,
    PersonRole,
    RegistryMeta,
    RequestState,
)
from registry.platforms import PLATFORMS
from registry.services import demo
from tests.conftest import (
    Cli,
    FreshDatabase,
    assert_cli_refused,
    csrf_of,
    empty_database,
    table_rows,
)
from tests.test_cli_startup import HELP_FORBIDDEN
from tests.test_cli_startup import registry as registry_process

LOGIN_COOKIE = "registry_login_csrf"
SESSION_COOKIE = "registry_session"
BUTTON = re.compile(
    r'<button type="submit" name="email" value="([^"]+)">Sign in as ([^<]+)</button>'
)


@dataclass
class Demo:
    """The demo registry the module made, and what the command said it made."""

    url: str
    engine: Engine
    keyring: Path
    made: dict[str, Any]

    def settings(self, **changed: Any) -> Settings:
        return Settings(database_url=self.url, keyring=str(self.keyring), **changed)

    def cli(self) -> Cli:
        return Cli.on(self.url, self.keyring)

    def person(self, role: Role) -> dict[str, Any]:
        """An active demo person with ``role`` (one with that role alone, when there is one)."""
        having = [
            p for p in self.made["people"] if role.value in p["roles"] and p["status"] == "active"
        ]
        assert having, f"the demo has nobody with the {role.value} role"
        return min(having, key=lambda p: len(p["roles"]))


@contextmanager
def client_of(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine), follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``registry demo --json`` run as a real process into a new, empty directory."""
    folder = tmp_path_factory.mktemp("demo")
    keyring = folder / "registry.keyring"
    with empty_database(folder) as (url, engine):
        env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_KEYRING": str(keyring)}
        env.pop("REGISTRY_ACTOR", None)
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", "demo", "--json"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        yield Demo(url=url, engine=engine, keyring=keyring, made=json.loads(done.stdout))


@pytest.fixture
def client(made: Demo) -> Iterator[TestClient]:
    with client_of(made.engine, made.settings()) as opened:
        yield opened


def demo_sign_in(client: TestClient, email: str) -> Any:
    """Press the "Sign in as …" button of ``email`` on the sign-in page, as a browser does."""
    page = client.get("/login")
    assert page.status_code == 200
    assert email in dict((e, n) for e, n in BUTTON.findall(page.text)), "no button for them"
    return client.post("/login/demo", data={"csrf": csrf_of(page.text), "email": email})


class TestTheDemoCommand:
    def test_it_says_what_it_made_and_made_it(self, made: Demo) -> None:
        counts = made.made["counts"]
        assert made.made["created"] is True and made.made["keyring_created"] is True
        assert made.keyring.exists() and (made.keyring.stat().st_mode & 0o077) == 0
        with Session(made.engine) as session:
            assert session.get(RegistryMeta, demo.DEMO) is not None
            accounts = session.exec(select(Account)).all()
            states = set(session.exec(select(AccountRequest.state)))
            roles = set(session.exec(select(PersonRole.role)))
            left = session.exec(select(Person).where(Person.status == "left")).all()
            handovers = session.exec(select(Handover)).all()
            sealed = session.exec(select(Credential.sealed)).all()
            queued = session.exec(select(OutboxMessage).where(OutboxMessage.status == "queued"))
            queued_count = len(queued.all())
        assert 35 <= len(accounts) <= 45 and counts["accounts"]["total"] == len(accounts)
        assert {a.platform for a in accounts} == {p.name for p in PLATFORMS}
        assert {a.category for a in accounts} == {"official", "employment_related"}
        assert {a.status for a in accounts} == {"active", "decommissioned"}
        assert states == {state.value for state in RequestState}
        assert roles == {role.value for role in Role}
        assert [p.email for p in left] == ["leah.friesen@gov.mb.ca"] and len(handovers) == 1
        assert len(sealed) == counts["credentials"] > 30
        assert not any("DEMO-not-a-real" in value for value in sealed), "a plaintext credential"
        assert queued_count == counts["queued_messages"] > 0
        assert counts["every_platform"] is True

    def test_its_findings_are_a_few_of_each_kind(self, made: Demo) -> None:
        auditor = made.person(Role.auditor)["email"]
        shown = made.cli().ok("audit", "report", "--format", "json", "--as", auditor)
        report = json.loads(shown.stdout)
        codes = {finding["code"] for finding in report["findings"]}
        assert {"rotation_due", "review_overdue", "no_credentials"} <= codes
        assert 3 <= len(report["findings"]) <= 20

    def test_its_audit_chain_verifies(self, made: Demo) -> None:
        result = made.cli().ok("audit", "verify", "--as", made.person(Role.auditor)["email"])
        assert "whole" in result.stdout
        with Session(made.engine) as session:
            actions = set(session.exec(select(AuditEvent.action)))
        made_by_services = {
            "person.created",
            "accounts.import",
            "credential.put",
            "credential.revealed",
            "request.submitted",
            "request.department_approved",
            "request.approved",
            "request.rejected",
            "request.withdrawn",
            "account.decommissioned",
            "person.handover",
            "access.granted",
            "account.reviewed",
            "registry.demo_created",
        }
        assert made_by_services <= actions, made_by_services - actions

    def test_a_second_demo_is_refused_in_one_sentence_and_changes_nothing(self, made: Demo) -> None:
        before = table_rows(made.engine)
        stderr = made.cli().refused("demo")
        assert stderr.strip().count("\n") == 0 and stderr.strip().endswith(".")
        assert "already has content" in stderr and "fills only an empty registry" in stderr
        assert table_rows(made.engine) == before

    def test_if_empty_leaves_a_demo_as_it_is_and_names_its_people(self, made: Demo) -> None:
        before = table_rows(made.engine)
        said = made.cli().json("demo", "--if-empty")
        assert said["created"] is False and said["demo"] is True
        emails = {p["email"] for p in said["people"]}
        assert "admin@gov.mb.ca" in emails and "leah.friesen@gov.mb.ca" not in emails
        assert table_rows(made.engine) == before

    def test_its_help_loads_nothing_heavy(self, tmp_path: Path) -> None:
        run = registry_process(tmp_path, "demo", "--help")
        assert run.returncode == 0, run.stderr
        assert "--if-empty" in run.stdout
        assert run.loaded(HELP_FORBIDDEN) == []


class TestOnAnInitialisedRegistry:
    def test_demo_is_refused_and_if_empty_leaves_it(self, tmp_path: Path) -> None:
        with empty_database(tmp_path) as (url, engine):
            cli = Cli.on(url, tmp_path / "registry.keyring")
            cli.ok("init", "--admin", "admin@gov.mb.ca", "--name", "Ada Admin")
            before = table_rows(engine)
            assert "(1 person, 1 department)" in cli.refused("demo")
            left = cli.ok("demo", "--if-empty")
            assert "and is not a demo; `registry demo --if-empty` left it" in left.stdout
            assert table_rows(engine) == before

    def test_settings_it_cannot_be_made_under_are_refused_before_anything(
        self, tmp_path: Path
    ) -> None:
        database = tmp_path / "new.db"
        keyring = tmp_path / "new.keyring"
        cli = Cli.on(f"sqlite:///{database}", keyring)
        result = cli("demo", env={"REGISTRY_GOV_DOMAINS": "gov.ab.ca"})
        assert_cli_refused(result, "not on an approved government domain")
        assert not database.exists() and not keyring.exists()


class TestTheServedDemo:
    def test_the_public_directory_lists_the_demo_accounts(
        self, made: Demo, client: TestClient
    ) -> None:
        with Session(made.engine) as session:
            accounts = session.exec(select(Account)).all()
        page = client.get("/directory")
        assert page.status_code == 200
        assert f"{sum(a.status == 'active' for a in accounts)} active official account" in page.text
        for account in accounts:
            listed = f'href="{html.escape(account.url)}"' in page.text
            assert listed == (account.status == "active"), (account.platform, account.handle)
        answer = client.get("/verify", params={"platform": "facebook", "handle": "ManitobaGov"})
        assert answer.status_code == 200 and answer.json()["official"] is True

    @pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
    def test_each_demo_role_signs_in_from_the_sign_in_page(
        self, made: Demo, client: TestClient, role: Role
    ) -> None:
        person = made.person(role)
        signed = demo_sign_in(client, person["email"])
        assert (signed.status_code, signed.headers["location"]) == (303, "/console")
        assert SESSION_COOKIE in client.cookies
        home = client.get("/console")
        assert home.status_code == 200
        assert f"Sign out {person['email']}" in home.text
        assert "<h1>Home</h1>" in home.text
        # A living registry: each role's home has something in it.
        expected = {
            Role.requester: ["Accounts I hold", 'href="/console/requests/'],
            Role.dept_approver: ["Awaiting my decision", "Approve request"],
            Role.ced: ["Credentials to rotate", "(overdue)", "Approve request"],
            Role.admin: ['href="/console/people"'],
            Role.auditor: ['href="/console/audit"'],
        }[role]
        for text in expected:
            assert text in home.text, text
        with Session(made.engine) as session:
            event = session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "web.signed_in")
                .order_by(col(AuditEvent.seq).desc())
            ).first()
        assert event is not None and event.actor_email == person["email"]
        assert event.details == {"method": "demo"}

    def test_the_buttons_name_each_active_person_and_their_role(
        self, made: Demo, client: TestClient
    ) -> None:
        page = client.get("/login")
        offered = dict(BUTTON.findall(page.text))
        active = {p["email"]: p for p in made.made["people"] if p["status"] == "active"}
        assert set(offered) == set(active)
        assert offered["marie.desjardins@gov.mb.ca"] == "Marie Desjardins, department executive"
        assert offered["helen.park@gov.mb.ca"] == "Helen Park, auditor"

    def test_someone_who_left_is_not_offered_and_is_refused(
        self, made: Demo, client: TestClient
    ) -> None:
        page = client.get("/login")
        assert "leah.friesen@gov.mb.ca" not in page.text
        refused = client.post(
            "/login/demo", data={"csrf": csrf_of(page.text), "email": "leah.friesen@gov.mb.ca"}
        )
        assert refused.status_code == 401
        assert "has left government" in refused.text
        assert SESSION_COOKIE not in client.cookies

    def test_a_form_from_elsewhere_is_refused(self, made: Demo, client: TestClient) -> None:
        client.get("/login")
        refused = client.post(
            "/login/demo", data={"csrf": "not-the-form's", "email": "admin@gov.mb.ca"}
        )
        assert refused.status_code == 403 and "has expired" in refused.text
        assert SESSION_COOKIE not in client.cookies

    def test_the_marker_alone_decides_whatever_the_settings(self, made: Demo) -> None:
        """Token sign-in switched off: the demo still offers its people (the marker decides)."""
        settings = made.settings(console_token_signin=False)
        with client_of(made.engine, settings) as client:
            signed = demo_sign_in(client, made.person(Role.ced)["email"])
            assert signed.status_code == 303
            assert 'name="token"' not in client.get("/login").text


# ------------------------------------------------------------------------------ not a demo

EVERY_SETTING_FLIPPED: dict[str, dict[str, Any]] = {
    "defaults": {},
    "token sign-in off": {"console_token_signin": False},
    "single sign-on": {
        "oidc_issuer": "https://sso.gov.mb.ca/realms/registry",
        "oidc_client_id": "registry",
    },
    "everything": {
        "console_token_signin": False,
        "oidc_issuer": "https://sso.gov.mb.ca/realms/registry",
        "oidc_client_id": "registry",
        "proxy_headers": False,
        "session_idle_minutes": 5,
        "public_url": "https://demo.gov.mb.ca",
    },
}


@pytest.fixture
def initialised(fresh_db: FreshDatabase) -> FreshDatabase:
    Cli(fresh_db.env()).ok("init", "--admin", "admin@gov.mb.ca", "--name", "Ada Admin")
    return fresh_db


class TestNotADemo:
    @pytest.mark.parametrize(
        "changed", EVERY_SETTING_FLIPPED.values(), ids=list(EVERY_SETTING_FLIPPED)
    )
    def test_no_demo_sign_in_is_offered_and_its_route_refuses(
        self,
        initialised: FreshDatabase,
        monkeypatch: pytest.MonkeyPatch,
        changed: dict[str, Any],
    ) -> None:
        monkeypatch.setenv("REGISTRY_DEMO", "true")  # no such setting: nothing reads it
        settings = Settings(
            database_url=initialised.url, keyring=str(initialised.keyring_path), **changed
        )
        with client_of(initialised.engine, settings) as client:
            page = client.get("/login")
            assert page.status_code == 200
            assert "/login/demo" not in page.text and "Sign in as" not in page.text
            client.cookies.set(LOGIN_COOKIE, "chosen-by-the-caller")
            before = table_rows(initialised.engine)
            refused = client.post(
                "/login/demo",
                data={"csrf": "chosen-by-the-caller", "email": "admin@gov.mb.ca"},
            )
            assert refused.status_code == 404
            assert "offered only in a demo registry" in refused.text
            assert SESSION_COOKIE not in client.cookies
            assert table_rows(initialised.engine) == before

    def test_a_demo_without_its_marker_offers_nothing(self, fresh_db: FreshDatabase) -> None:
        """The people and accounts of a demo do not make a demo: the marker does."""
        settings = fresh_db.settings()
        with fresh_db.scope() as session:
            demo.build(session, settings=settings, keyring=fresh_db.keyring())
        with fresh_db.scope() as session:
            marker = session.get(RegistryMeta, demo.DEMO)
            assert marker is not None
            session.delete(marker)
        with client_of(fresh_db.engine, settings) as client:
            page = client.get("/login")
            assert BUTTON.findall(page.text) == []
            client.cookies.set(LOGIN_COOKIE, "x")
            refused = client.post("/login/demo", data={"csrf": "x", "email": "admin@gov.mb.ca"})
            assert refused.status_code == 404
