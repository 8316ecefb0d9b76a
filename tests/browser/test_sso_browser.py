"""Single sign-on in a real browser: a registry server whose REGISTRY_OIDC_* settings point at
oidc-provider-mock, a real OpenID provider running in this process.

The provider is reached as ``localhost`` and the registry as ``127.0.0.1``: two sites, as in
production, so the provider's redirect back is a cross-site navigation (the one on which the
console's SameSite=Strict session cookie is not sent). The ID-token checks are covered over
HTTP in tests/test_sso.py.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from registry.models import AuditEvent
from tests.browser.conftest import (
    MISSING,
    TIMEOUT_MS,
    Registry,
    Shoot,
    _free_port,
    _seed,
    _wait_until_up,
)
from tests.conftest import new_database

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_accessibility import describe, violations

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

pytestmark = [
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated"),
]

CED1 = "ced.one@gov.mb.ca"
SIGNED_IN_AS = re.compile(r"^Sign out ")


@dataclass
class SsoRegistry:
    registry: Registry
    issuer: str

    def user(self, sub: str, **claims: object) -> None:
        """Tell the provider who ``sub`` is."""
        with httpx.Client(trust_env=False) as client:
            assert client.put(f"{self.issuer}/users/{sub}", json=claims).status_code == 204

    def events(self, action: str) -> list[AuditEvent]:
        with Session(self.registry.db.engine) as session:
            query = select(AuditEvent).where(AuditEvent.action == action)
            return list(session.exec(query.order_by(col(AuditEvent.seq))))


@contextmanager
def serving_with(folder: Path, **settings: str) -> Iterator[Registry]:
    """tests/browser/conftest.py's seeded registry, served with extra ``REGISTRY_*``
    settings (and its public URL: the SSO redirect URI needs the port it will listen on)."""
    with contextmanager(new_database)(folder) as db:
        issued, ag, health, request_id = _seed(db)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": db.url,
            "REGISTRY_KEYRING": str(db.keyring_path),
            "REGISTRY_PUBLIC_URL": url,
            **{f"REGISTRY_{name.upper()}": value for name, value in settings.items()},
        }
        env.pop("REGISTRY_ACTOR", None)
        log = folder / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "registry.http.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=folder,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_up(proc, url, log)
            yield Registry(
                url=url,
                db=db,
                tokens=issued,
                ag_account=ag,
                health_account=health,
                request_id=request_id,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoRegistry]:
    """A registry where single sign-on is the only way in (token sign-in switched off)."""
    with oidc_provider_mock.run_server_in_thread() as server:
        issuer = f"http://localhost:{server.server_port}"
        with serving_with(
            tmp_path_factory.mktemp("sso"),
            oidc_issuer=issuer,
            oidc_client_id="registry",
            oidc_client_secret="browser-test-secret",
            console_token_signin="false",
        ) as registry:
            yield SsoRegistry(registry=registry, issuer=issuer)


@pytest.fixture
def page(browser: Browser, sso: SsoRegistry) -> Iterator[Page]:
    context = browser.new_context(
        base_url=sso.registry.url, viewport={"width": 1100, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def authorize_at_provider(page: Page, sso: SsoRegistry, sub: str) -> None:
    """On the sign-in page: follow the single sign-on link and sign in as ``sub`` at the
    provider (its form)."""
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page).to_have_url(re.compile("^" + re.escape(sso.issuer) + "/oauth2/authorize"))
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize").click()


class TestSignInInTheBrowser:
    def test_a_registered_person_lands_on_the_page_first_asked_for(
        self, page: Page, sso: SsoRegistry, shoot: Shoot
    ) -> None:
        sso.user("browser-ced1", email=CED1, email_verified=True)
        page.goto("/console/accounts")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsole%2Faccounts$"))
        expect(page.get_by_label("API token")).to_have_count(0)  # switched off here
        assert violations(page) == [], describe(violations(page))
        shoot(page, "login")
        authorize_at_provider(page, sso, "browser-ced1")
        expect(page).to_have_url(sso.registry.url + "/console/accounts")
        expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
        expect(page.get_by_role("button", name=f"Sign out {CED1}")).to_be_visible()
        shoot(page, "signed-in")
        assert [e.details["subject"] for e in sso.events("web.signed_in")][-1] == "browser-ced1"

    def test_an_unknown_person_is_told_in_one_sentence_and_not_signed_in(
        self, page: Page, sso: SsoRegistry, shoot: Shoot
    ) -> None:
        sso.user("browser-stranger", email="stranger@gov.mb.ca", email_verified=True)
        page.goto("/login")
        authorize_at_provider(page, sso, "browser-stranger")
        expect(page.get_by_role("alert")).to_have_text(
            "Nobody with the address stranger@gov.mb.ca is registered here; ask CED to add you."
        )
        assert violations(page) == [], describe(violations(page))
        shoot(page, "refused")
        page.goto("/console")
        expect(page).to_have_url(re.compile(r"/login$"))
        reasons = [e.details["reason"] for e in sso.events("web.sign_in_refused")]
        assert reasons[-1] == "unknown_person"

    def test_sign_out_ends_the_session_here_and_at_the_provider(
        self, page: Page, sso: SsoRegistry, shoot: Shoot
    ) -> None:
        sso.user("browser-ced1", email=CED1, email_verified=True)
        page.goto("/login")
        authorize_at_provider(page, sso, "browser-ced1")
        page.get_by_role("button", name=SIGNED_IN_AS).click()
        expect(page).to_have_url(re.compile("^" + re.escape(sso.issuer) + "/oauth2/end_session"))
        shoot(page, "provider-sign-out")
        page.get_by_role("button", name="End session").click()
        expect(page).to_have_url(sso.registry.url + "/login?notice=signed_out")
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        page.goto("/console")
        expect(page).to_have_url(re.compile(r"/login$"))


@pytest.fixture(scope="module")
def provider_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry whose identity provider does not answer (token sign-in left on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with serving_with(
        tmp_path_factory.mktemp("down"),
        oidc_issuer=issuer,
        oidc_client_id="registry",
    ) as registry:
        yield registry


class TestProviderDownInTheBrowser:
    def test_one_sentence_and_the_token_still_signs_in(
        self, browser: Browser, provider_down: Registry, shoot: Shoot
    ) -> None:
        context = browser.new_context(base_url=provider_down.url)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            page.goto("/login")
            page.get_by_role("link", name="Sign in with single sign-on").click()
            expect(page.get_by_role("alert")).to_have_text(
                "The government sign-in service cannot be reached just now; try again in a "
                "few minutes."
            )
            assert violations(page) == [], describe(violations(page))
            shoot(page, "provider-down")
            page.get_by_role("link", name="Back to the sign-in page").click()
            page.get_by_label("API token").fill(provider_down.tokens["ced1"])
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.get_by_role("button", name=f"Sign out {CED1}")).to_be_visible()
        finally:
            context.close()
