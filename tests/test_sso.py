"""Single sign-on with OpenID Connect, over HTTP, against real providers on loopback.

Two providers: ``oidc-provider-mock`` (a real OpenID provider in a thread, which signs with
its own key), and :class:`OwnProvider` below, a small one of the test's own, whose ID tokens
the test shapes: another key, another audience, expired, ``alg: none``, a rotated key, the
address only in userinfo. The registry's TestClient and the provider are walked between by
hand, as a browser follows the redirects. The real-browser walk is in
tests/browser/test_sso_browser.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwk, jwt
from pydantic import SecretStr, ValidationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.config import Settings, problems
from registry.http.app import create_app
from registry.http.console.pages.signin import safe_next
from registry.models import AuditEvent, Person, PersonIdentity, WebSession, utcnow
from registry.services import handover, oidc, tokens
from tests.conftest import FreshDatabase, csrf_of
from tests.factories import CAST, World

CLIENT_ID = "registry"
CLIENT_SECRET = "s3cret:with/odd&chars"
CED1 = CAST["ced1"][0]
AGR_STAFF = CAST["agr_staff"][0]
_LOCAL = httpx.Client(trust_env=False, timeout=5)
# oidc-provider-mock's own use of Authlib's older interfaces
pytestmark = [
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated"),
]


# ------------------------------------------------------------------------------ providers


@pytest.fixture(scope="module")
def mock_provider() -> Iterator[str]:
    """oidc-provider-mock on loopback; its issuer URL."""
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def mock_user(issuer: str, sub: str, **claims: Any) -> None:
    """Tell the mock provider who ``sub`` is."""
    assert _LOCAL.put(f"{issuer}/users/{sub}", json=claims).status_code == 204


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rsa_key(kid: str) -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


@dataclass
class OwnProvider:
    """A small OpenID provider of the test's own on loopback, whose ID tokens the test
    shapes (``shape(header, claims)`` may change both, or return the token itself)."""

    keys: list[jwk.RSAKey] = field(default_factory=lambda: [rsa_key("k1")])
    signer: jwk.Key | None = None  # default: keys[0]
    algorithms: list[str] = field(default_factory=lambda: ["RS256"])
    end_session: bool = True
    claims: dict[str, Any] = field(default_factory=dict)
    userinfo: dict[str, Any] | None = None
    shape: Callable[[dict[str, Any], dict[str, Any]], str | None] | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    jwks_fetches: int = 0
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    issuer: str = ""
    fail_discovery: int = 0  # answer discovery with this status (0: normally)

    def discovery(self) -> dict[str, Any]:
        doc = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": self.algorithms,
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }
        if self.end_session:
            doc["end_session_endpoint"] = f"{self.issuer}/logout"
        return doc

    def issue_code(self, query: dict[str, str], sub: str) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "sub": sub}
        return code

    def id_token(self, grant: dict[str, str]) -> str:
        now = int(time.time())
        signer = self.signer or self.keys[0]
        header: dict[str, Any] = {"alg": "RS256", "kid": signer.kid}
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant["sub"],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.claims,
        }
        if self.shape is not None:
            made = self.shape(header, claims)
            if made is not None:
                return made
        return jwt.encode(header, claims, signer, algorithms=[header["alg"]])

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append({**form, "authorization": authorization})
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return 400, {"error": "invalid_grant"}
        challenge = _b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if challenge != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        return 200, {
            "access_token": "at-" + grant["sub"],
            "token_type": "Bearer",
            "id_token": self.id_token(grant),
        }

    @contextmanager
    def serving(self) -> Iterator[OwnProvider]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/.well-known/openid-configuration":
                    if provider.fail_discovery:
                        self._answer(provider.fail_discovery, {"error": "down"})
                    else:
                        self._answer(200, provider.discovery())
                elif path == "/jwks":
                    provider.jwks_fetches += 1
                    keys = [k.as_dict(private=False) for k in provider.keys]
                    self._answer(200, {"keys": keys})
                elif path == "/userinfo" and provider.userinfo is not None:
                    self._answer(200, provider.userinfo)
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != "/token":
                    self._answer(404, {"error": "not_found"})
                    return
                self._answer(*provider.token(form, self.headers.get("Authorization", "")))

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


@pytest.fixture
def own_provider() -> Iterator[OwnProvider]:
    with OwnProvider(claims={"email": CED1, "email_verified": True}).serving() as provider:
        yield provider


# ------------------------------------------------------------------------------ the registry


@dataclass
class Registry:
    client: TestClient
    db: FreshDatabase
    settings: Settings
    tokens: dict[str, str]

    def events(self, action: str) -> list[AuditEvent]:
        with Session(self.db.engine) as session:
            return list(
                session.exec(
                    select(AuditEvent)
                    .where(AuditEvent.action == action)
                    .order_by(col(AuditEvent.seq))
                )
            )

    def refusals(self) -> list[str]:
        return [e.details["reason"] for e in self.events("web.sign_in_refused")]

    def sessions(self) -> list[WebSession]:
        with Session(self.db.engine) as session:
            return list(session.exec(select(WebSession).order_by(col(WebSession.id))))

    def execute(self, statement: Any) -> None:
        with Session(self.db.engine) as session:
            session.execute(statement)
            session.commit()

    def signed_in_as(self) -> str | None:
        page = self.client.get("/console", follow_redirects=False)
        if page.status_code != 200:
            return None
        return page.text.split("Sign out ", 1)[1].split("<", 1)[0].strip()


RegistryFactory = Callable[..., Registry]


@pytest.fixture
def registry_with(fresh_db: FreshDatabase) -> Iterator[RegistryFactory]:
    """``registry_with(issuer, **settings)``: the cast in a fresh database, with API tokens,
    served (TestClient) with single sign-on at ``issuer`` (None: none)."""
    oidc.forget()
    clients: list[TestClient] = []
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
        issued = {
            key: tokens.create_token(session, actor=None, email=email).token
            for key, (email, _, _) in CAST.items()
        }

    def make(issuer: str | None, **overrides: Any) -> Registry:
        values: dict[str, Any] = {"public_url": "http://testserver", **overrides}
        if issuer:
            values.update(
                oidc_issuer=issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=SecretStr(CLIENT_SECRET),
            )
        settings = fresh_db.settings().model_copy(update=values)
        client = TestClient(create_app(settings, engine=fresh_db.engine))
        client.__enter__()
        clients.append(client)
        return Registry(client=client, db=fresh_db, settings=settings, tokens=issued)

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)
        oidc.forget()


def start(registry: Registry, next_path: str | None = None) -> httpx.URL:
    """GET /auth/login as a browser: where the registry sends it (the provider)."""
    params = {"next": next_path} if next_path else {}
    answer = registry.client.get("/auth/login", params=params, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return httpx.URL(answer.headers["location"])


def come_back(registry: Registry, location: str) -> httpx.Response:
    """Follow the provider's redirect back to the registry's callback."""
    url = httpx.URL(location)
    assert (url.scheme, url.host, url.path) == ("http", "testserver", "/auth/callback")
    return registry.client.get(url.raw_path.decode("ascii"), follow_redirects=False)


def mock_sign_in(registry: Registry, sub: str, next_path: str | None = None) -> httpx.Response:
    """Start, authorize ``sub`` at the mock provider (as its form does), come back."""
    authorize = start(registry, next_path)
    answer = _LOCAL.post(str(authorize), data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return come_back(registry, answer.headers["location"])


def own_sign_in(
    registry: Registry, provider: OwnProvider, sub: str = "sub-ced1", next_path: str | None = None
) -> httpx.Response:
    query = {k: v[0] for k, v in parse_qs(start(registry, next_path).query.decode()).items()}
    code = provider.issue_code(query, sub)
    return come_back(
        registry,
        f"http://testserver/auth/callback?{urlencode({'code': code, 'state': query['state']})}",
    )


def onward(page: httpx.Response) -> str:
    """Where a "moving on" page goes (its meta refresh, which its link repeats)."""
    assert page.status_code == 200, page.text
    target = page.text.split('http-equiv="refresh" content="0; url=', 1)[1].split('"', 1)[0]
    assert f'href="{target}"' in page.text
    return target.replace("&amp;", "&")


def assert_refused_page(page: httpx.Response, status: int, phrase: str) -> None:
    """A refusal: this status, one sentence with ``phrase`` on a page, no console session."""
    assert page.status_code == status, page.text[:400]
    assert phrase in page.text and "Traceback" not in page.text
    assert 'role="alert"' in page.text and 'href="/login"' in page.text
    assert "registry_session=" not in page.headers.get("set-cookie", "")


# ------------------------------------------------------------------------------ tests


class TestSignInWithTheMockProvider:
    def test_a_registered_person_lands_on_the_page_first_asked_for(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        asked = registry.client.get("/console/accounts?status=active", follow_redirects=False)
        assert asked.headers["location"] == "/login?next=%2Fconsole%2Faccounts%3Fstatus%3Dactive"
        login = registry.client.get(asked.headers["location"])
        assert "Sign in with single sign-on" in login.text
        assert 'href="/auth/login?next=%2Fconsole%2Faccounts%3Fstatus%3Dactive"' in login.text
        mock_user(mock_provider, "ced-one-sub", email=CED1, email_verified=True)
        page = mock_sign_in(registry, "ced-one-sub", "/console/accounts?status=active")
        assert onward(page) == "/console/accounts?status=active"
        cookie = page.headers["set-cookie"]
        assert "registry_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert registry.client.get("/console/accounts?status=active").status_code == 200
        assert registry.signed_in_as() == CED1
        [signed] = registry.events("web.signed_in")
        assert signed.actor_email == CED1
        assert signed.details == {
            "method": "sso",
            "issuer": mock_provider,
            "subject": "ced-one-sub",
        }
        [bound] = registry.events("person.identity_bound")
        assert bound.details["subject"] == "ced-one-sub"
        [web] = registry.sessions()
        assert web.token_id is None and web.id_token

    def test_the_authorization_request_uses_pkce_state_and_nonce(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        url = start(registry_with(mock_provider))
        query = parse_qs(url.query.decode())
        assert url.path == "/oauth2/authorize"
        assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
        assert query["redirect_uri"] == ["http://testserver/auth/callback"]
        assert query["scope"] == ["openid email profile"]
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) >= 43

    def test_afterwards_the_subject_decides_not_the_address(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "subj-a", email=CED1, email_verified=True)
        onward(mock_sign_in(registry, "subj-a"))
        registry.client.cookies.clear()
        # The provider gives subj-a a new address: still the same registered person, and the
        # new address is recorded for an administrator to decide on.
        mock_user(mock_provider, "subj-a", email="ced.renamed@gov.mb.ca", email_verified=True)
        onward(mock_sign_in(registry, "subj-a"))
        assert registry.signed_in_as() == CED1
        assert registry.events("web.signed_in")[-1].details["provider_email"] == (
            "ced.renamed@gov.mb.ca"
        )
        registry.client.cookies.clear()
        # Someone else now holds ced1's old address at the provider: refused.
        mock_user(mock_provider, "subj-b", email=CED1, email_verified=True)
        page = mock_sign_in(registry, "subj-b")
        assert_refused_page(page, 403, "belongs to another account at the identity provider")
        assert registry.refusals() == ["subject_bound_elsewhere"]
        with Session(registry.db.engine) as session:
            [identity] = session.exec(select(PersonIdentity)).all()
        assert (identity.subject, identity.email) == ("subj-a", "ced.renamed@gov.mb.ca")


REFUSALS = [
    # (claims at the provider, status, phrase, audited reason)
    (
        {"email": "new.person@gov.mb.ca", "email_verified": True},
        403,
        "Nobody with the address new.person@gov.mb.ca is registered here; ask CED to add you.",
        "unknown_person",
    ),
    ({"email": CED1, "email_verified": False}, 403, "has not verified", "email_unverified"),
    ({"email": CED1}, 403, "has not verified", "email_unverified"),
    (
        {"email": "ced.one@example.com", "email_verified": True},
        403,
        "is not a government e-mail address",
        "not_government_email",
    ),
    (
        {"email": "ced.one@gov.mb.ca.evil.com", "email_verified": True},
        403,
        "is not a government e-mail address",
        "not_government_email",
    ),
    ({"name": "No Address"}, 403, "did not say what your e-mail address is", "no_email"),
]


class TestWhoIsRefused:
    @pytest.mark.parametrize(("claims", "status", "phrase", "reason"), REFUSALS)
    def test_each_refusal_is_a_page_an_audit_event_and_no_session(
        self,
        registry_with: RegistryFactory,
        mock_provider: str,
        claims: dict[str, Any],
        status: int,
        phrase: str,
        reason: str,
    ) -> None:
        registry = registry_with(mock_provider)
        sub = "refused-" + secrets.token_hex(4)
        mock_user(mock_provider, sub, **claims)
        page = mock_sign_in(registry, sub)
        assert_refused_page(page, status, phrase)
        [event] = registry.events("web.sign_in_refused")
        assert event.details["reason"] == reason and event.details["subject"] == sub
        assert registry.sessions() == [] and registry.events("web.signed_in") == []
        assert registry.events("person.identity_bound") == []

    def test_someone_who_has_left_is_refused_even_when_bound(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "staff-sub", email=AGR_STAFF, email_verified=True)
        onward(mock_sign_in(registry, "staff-sub"))
        registry.client.cookies.clear()
        registry.execute(update(Person).where(col(Person.email) == AGR_STAFF).values(status="left"))
        page = mock_sign_in(registry, "staff-sub")
        assert_refused_page(page, 403, f"{AGR_STAFF} has left government")
        [event] = registry.events("web.sign_in_refused")
        assert event.details["reason"] == "left" and event.actor_email == AGR_STAFF
        assert len(registry.sessions()) == 1  # only the one from before

    def test_a_handover_ends_the_leavers_session_at_once(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "staff-sub", email=AGR_STAFF, email_verified=True)
        onward(mock_sign_in(registry, "staff-sub"))
        assert registry.signed_in_as() == AGR_STAFF
        with registry.db.scope() as session:
            world = World.load(session, registry.settings)
            handover.handover(
                session,
                settings=registry.settings,
                actor=world.actor("admin"),
                departing=AGR_STAFF,
                successor=CAST["agr_requester"][0],
            )
        assert registry.signed_in_as() is None
        assert_refused_page(mock_sign_in(registry, "staff-sub"), 403, "has left government")

    def test_a_leaver_never_bound_is_refused_too(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        registry.execute(update(Person).where(col(Person.email) == AGR_STAFF).values(status="left"))
        mock_user(mock_provider, "leaver", email=AGR_STAFF, email_verified=True)
        assert_refused_page(mock_sign_in(registry, "leaver"), 403, "has left government")
        assert registry.refusals() == ["left"] and registry.sessions() == []

    def test_the_person_declining_at_the_provider_is_a_page(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        answer = _LOCAL.post(str(start(registry)), data={"action": "deny"})
        page = come_back(registry, answer.headers["location"])  # the mock sends no state
        assert_refused_page(page, 401, "did not sign you in")
        assert registry.refusals() == [] and registry.sessions() == []

    def test_a_refusal_at_the_provider_for_this_sign_in_is_audited(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        state = parse_qs(start(registry).query.decode())["state"][0]
        page = come_back(
            registry,
            f"http://testserver/auth/callback?error=access_denied&state={state}",
        )
        assert_refused_page(page, 401, "did not sign you in")
        assert registry.refusals() == ["provider_refused:access_denied"]


class TestStateAndNonce:
    def test_a_forged_state_is_refused_and_audited(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        answer = _LOCAL.post(str(start(registry)), data={"sub": "ced-sub"})
        code = parse_qs(httpx.URL(answer.headers["location"]).query.decode())["code"][0]
        page = come_back(registry, f"http://testserver/auth/callback?code={code}&state=forged")
        assert_refused_page(page, 401, "did not come back as it left")
        assert registry.refusals() == ["state_mismatch"] and registry.sessions() == []

    def test_a_replayed_callback_is_refused(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        answer = _LOCAL.post(str(start(registry)), data={"sub": "ced-sub"})
        onward(come_back(registry, answer.headers["location"]))
        again = come_back(registry, answer.headers["location"])
        assert_refused_page(again, 401, "did not come back as it left")
        assert registry.refusals() == ["state_replayed"] and len(registry.sessions()) == 1

    def test_a_callback_in_another_browser_is_refused_without_an_audit_event(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        answer = _LOCAL.post(str(start(registry)), data={"sub": "ced-sub"})
        registry.client.cookies.clear()  # the victim's browser, not the one that started
        page = come_back(registry, answer.headers["location"])
        assert_refused_page(page, 401, "was not started in this browser")
        assert registry.refusals() == [] and registry.sessions() == []

    def test_two_sign_ins_started_in_one_browser_both_finish(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        first = {k: v[0] for k, v in parse_qs(start(registry).query.decode()).items()}
        onward(own_sign_in(registry, own_provider))
        code = own_provider.issue_code(first, "sub-ced1")
        onward(
            come_back(
                registry, f"http://testserver/auth/callback?code={code}&state={first['state']}"
            )
        )

    def test_a_wrong_nonce_is_refused(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)

        def other_nonce(_header: dict[str, Any], claims: dict[str, Any]) -> None:
            claims["nonce"] = "not-the-one-sent"

        own_provider.shape = other_nonce
        assert_refused_page(own_sign_in(registry, own_provider), 401, "failed a security check")
        assert registry.refusals() == ["nonce"]


def _none_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return (
        ".".join(
            _b64(json.dumps(part).encode()) for part in ({"alg": "none", "typ": "JWT"}, claims)
        )
        + "."
    )


def _hs256_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    key = jwk.OctKey.import_key(CLIENT_SECRET.encode() * 2)
    return jwt.encode({"alg": "HS256"}, claims, key, algorithms=["HS256"])


def _set(**changes: Any) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """Change the claims as the token is made; a callable value is read then, not when the
    tests are collected (a suite runs for minutes: "ten minutes from now" must be from now)."""

    def shape(_header: dict[str, Any], claims: dict[str, Any]) -> None:
        claims.update({k: v() if callable(v) else v for k, v in changes.items()})
        for name in [k for k, v in changes.items() if v is None]:
            del claims[name]

    return shape


BAD_TOKENS = [
    ("signed by another key, same kid", "signature", "id_token_signature"),
    ("another audience", _set(aud="someone-else"), "id_token_aud"),
    ("another issuer", _set(iss="https://impostor.example"), "id_token_iss"),
    ("expired", _set(exp=lambda: int(time.time()) - 120), "id_token_exp"),
    ("issued in the future", _set(iat=lambda: int(time.time()) + 600), "id_token_iat"),
    ("no exp", _set(exp=None), "id_token_exp"),
    ("alg none", _none_token, "id_token_algorithm"),
    ("HS256 with the client secret", _hs256_token, "id_token_algorithm"),
    ("not a JWT", lambda _h, _c: "garbage", "id_token_malformed"),
]


class TestIdTokens:
    @pytest.mark.parametrize(
        ("case", "shape", "reason"), BAD_TOKENS, ids=[case for case, _, _ in BAD_TOKENS]
    )
    def test_an_untrustworthy_id_token_is_refused(
        self,
        registry_with: RegistryFactory,
        own_provider: OwnProvider,
        case: str,
        shape: Any,
        reason: str,
    ) -> None:
        registry = registry_with(own_provider.issuer)
        if shape == "signature":
            own_provider.signer = rsa_key("k1")  # not the key the provider publishes
        else:
            own_provider.shape = shape
        page = own_sign_in(registry, own_provider)
        assert_refused_page(page, 401, "failed a security check")
        assert registry.refusals() == [reason], case
        assert registry.sessions() == []

    def test_a_good_token_signs_in_with_pkce_and_the_client_secret(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        onward(own_sign_in(registry, own_provider))
        assert registry.signed_in_as() == CED1
        [request] = own_provider.token_requests
        assert request["grant_type"] == "authorization_code" and "client_secret" not in request
        user, _, secret = (
            base64.b64decode(request["authorization"].split()[1]).decode().partition(":")
        )
        assert (unquote(user), unquote(secret)) == (CLIENT_ID, CLIENT_SECRET)

    def test_a_little_clock_skew_is_accepted(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        own_provider.shape = _set(exp=int(time.time()) - 20, iat=int(time.time()) + 20)
        onward(own_sign_in(registry, own_provider))

    def test_an_algorithm_the_provider_does_not_announce_is_refused(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        own_provider.keys = [rsa_key("k1"), rsa_key("k2")]
        own_provider.signer = own_provider.keys[0]
        own_provider.shape = lambda header, claims: jwt.encode(
            {"alg": "PS256", "kid": "k1"}, claims, own_provider.keys[0], algorithms=["PS256"]
        )
        assert_refused_page(own_sign_in(registry, own_provider), 401, "security check")
        assert registry.refusals() == ["id_token_algorithm"]
        own_provider.algorithms = ["RS256", "PS256"]
        oidc.forget()  # the provider's new discovery document is read afresh
        onward(own_sign_in(registry, own_provider))

    def test_key_rotation_refetches_the_keys_once(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        onward(own_sign_in(registry, own_provider))
        assert own_provider.jwks_fetches == 1
        registry.client.cookies.clear()
        onward(own_sign_in(registry, own_provider))
        assert own_provider.jwks_fetches == 1  # kept
        registry.client.cookies.clear()
        own_provider.keys = [rsa_key("k2")]  # the provider rotates its signing key
        onward(own_sign_in(registry, own_provider))
        assert own_provider.jwks_fetches == 2  # fetched again, once
        registry.client.cookies.clear()
        own_provider.signer = rsa_key("k3")  # a kid the provider does not publish
        assert_refused_page(own_sign_in(registry, own_provider), 401, "security check")
        assert own_provider.jwks_fetches == 3  # once more, then refused
        assert registry.refusals() == ["id_token_signature"]

    def test_the_address_may_come_from_userinfo(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        own_provider.claims = {}  # the ID token names no address
        own_provider.userinfo = {"sub": "sub-ced1", "email": CED1, "email_verified": True}
        onward(own_sign_in(registry, own_provider))
        assert registry.signed_in_as() == CED1
        registry.client.cookies.clear()
        own_provider.userinfo = {"sub": "someone-else", "email": CED1, "email_verified": True}
        assert_refused_page(own_sign_in(registry, own_provider), 403, "did not say")
        assert registry.refusals() == ["no_email"]

    def test_entra_ids_domain_verified_claim_counts_as_verified(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        own_provider.claims = {"email": CED1, "xms_edov": True}
        onward(own_sign_in(registry, own_provider))


class TestProviderDown:
    def test_startup_and_token_sign_in_work_and_sso_says_so_in_one_sentence(
        self, registry_with: RegistryFactory
    ) -> None:
        with socket.socket() as sock:  # a port where nothing listens
            sock.bind(("127.0.0.1", 0))
            issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
        registry = registry_with(issuer)
        page = registry.client.get("/auth/login", follow_redirects=False)
        assert_refused_page(page, 503, "cannot be reached just now; try again in a few minutes.")
        assert registry.client.get("/directory").status_code == 200
        form = registry.client.get("/login")
        assert "Sign in with single sign-on" in form.text and 'name="token"' in form.text
        signed = registry.client.post(
            "/login",
            data={"token": registry.tokens["ced1"], "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert signed.status_code == 303 and registry.signed_in_as() == CED1

    def test_a_provider_that_errs_or_names_another_issuer_is_a_page_not_a_500(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        own_provider.fail_discovery = 500
        assert_refused_page(registry.client.get("/auth/login"), 503, "cannot be reached")
        own_provider.fail_discovery = 0
        own_provider.issuer, real = "https://elsewhere.example", own_provider.issuer
        page = registry.client.get("/auth/login")
        assert_refused_page(
            page, 503, "ask CED to check the registry&#39;s single sign-on settings"
        )
        own_provider.issuer = real
        onward(own_sign_in(registry, own_provider))  # not cached while failing

    def test_the_provider_going_down_mid_sign_in_is_a_page_and_audited(
        self, registry_with: RegistryFactory
    ) -> None:
        provider = OwnProvider(claims={"email": CED1, "email_verified": True})
        with provider.serving():
            registry = registry_with(provider.issuer)
            query = {k: v[0] for k, v in parse_qs(start(registry).query.decode()).items()}
            code = provider.issue_code(query, "sub-ced1")
        page = come_back(
            registry, f"http://testserver/auth/callback?code={code}&state={query['state']}"
        )
        assert_refused_page(page, 503, "cannot be reached just now")
        assert registry.refusals() == ["provider_unreachable"]


class TestTokenSignInSwitchedOff:
    def test_the_form_is_hidden_and_a_token_is_refused(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider, console_token_signin=False)
        form = registry.client.get("/login")
        assert "Sign in with single sign-on" in form.text
        assert 'name="token"' not in form.text and "API token" not in form.text
        refused = registry.client.post(
            "/login", data={"token": registry.tokens["ced1"], "csrf": "x"}, follow_redirects=False
        )
        assert refused.status_code == 403 and "switched off" in refused.text
        assert "registry_session=" not in refused.headers.get("set-cookie", "")
        assert registry.sessions() == [] and registry.signed_in_as() is None
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        onward(mock_sign_in(registry, "ced-sub"))
        assert registry.signed_in_as() == CED1

    def test_without_an_issuer_there_is_no_sso_link_and_auth_login_says_so(
        self, registry_with: RegistryFactory
    ) -> None:
        registry = registry_with(None)
        assert "single sign-on" not in registry.client.get("/login").text
        assert_refused_page(registry.client.get("/auth/login"), 404, "not set up")
        assert_refused_page(registry.client.get("/auth/callback?code=x&state=y"), 404, "not set up")


class TestSignOut:
    def test_single_sign_on_signs_out_locally_and_at_the_provider(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        onward(mock_sign_in(registry, "ced-sub"))
        page = registry.client.get("/console")
        out = registry.client.post("/logout", data={"csrf": csrf_of(page.text)})
        there = httpx.URL(onward(out))
        assert str(there).startswith(f"{mock_provider}/oauth2/end_session?")
        query = parse_qs(there.query.decode())
        assert query["post_logout_redirect_uri"] == ["http://testserver/auth/signed-out"]
        assert query["client_id"] == [CLIENT_ID]
        [web] = registry.sessions()
        assert query["id_token_hint"] == [web.id_token] and web.ended_at is not None
        assert registry.signed_in_as() is None
        back = registry.client.get("/auth/signed-out", follow_redirects=False)
        assert back.headers["location"] == "/login?notice=signed_out"
        assert len(registry.events("web.signed_out")) == 1

    def test_a_token_session_or_a_provider_without_logout_signs_out_locally(
        self, registry_with: RegistryFactory, own_provider: OwnProvider
    ) -> None:
        registry = registry_with(own_provider.issuer)
        form = registry.client.get("/login")
        registry.client.post(
            "/login", data={"token": registry.tokens["ced1"], "csrf": csrf_of(form.text)}
        )
        out = registry.client.post(
            "/logout",
            data={"csrf": csrf_of(registry.client.get("/console").text)},
            follow_redirects=False,
        )
        assert (out.status_code, out.headers["location"]) == (303, "/login?notice=signed_out")
        own_provider.end_session = False
        oidc.forget()
        onward(own_sign_in(registry, own_provider))
        out = registry.client.post(
            "/logout",
            data={"csrf": csrf_of(registry.client.get("/console").text)},
            follow_redirects=False,
        )
        assert (out.status_code, out.headers["location"]) == (303, "/login?notice=signed_out")
        assert registry.signed_in_as() is None


class TestSessionLifetime:
    def test_defaults_are_thirty_minutes_idle_and_twelve_hours(self) -> None:
        settings = Settings()
        assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)

    def test_an_idle_session_ends_and_use_keeps_it_alive(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        onward(mock_sign_in(registry, "ced-sub"))
        now = utcnow()
        registry.execute(update(WebSession).values(last_seen_at=now - dt.timedelta(minutes=29)))
        assert registry.signed_in_as() == CED1  # a GET notes the use
        [web] = registry.sessions()
        assert web.last_seen_at > now - dt.timedelta(seconds=30)
        registry.execute(update(WebSession).values(last_seen_at=now - dt.timedelta(minutes=31)))
        assert registry.signed_in_as() is None

    def test_a_session_ends_at_its_lifetime_however_busy(
        self, registry_with: RegistryFactory
    ) -> None:
        registry = registry_with(None, session_max_hours=2)
        form = registry.client.get("/login")
        signed = registry.client.post(
            "/login",
            data={"token": registry.tokens["ced1"], "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert "Max-Age=7200" in signed.headers["set-cookie"]
        [web] = registry.sessions()
        assert web.expires_at - web.created_at == dt.timedelta(hours=2)
        registry.execute(
            update(WebSession).values(created_at=utcnow() - dt.timedelta(hours=2, seconds=1))
        )
        assert registry.signed_in_as() is None


class TestNextPath:
    @pytest.mark.parametrize(
        "wanted",
        [
            "//evil.example/console",
            "https://evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "/console\t//evil",
            "javascript:alert(1)",
            "/login",
            "/auth/callback?code=x",
            "",
            "console",
        ],
    )
    def test_only_a_path_of_this_site_is_followed(self, wanted: str) -> None:
        assert safe_next(wanted) == "/console"

    def test_a_path_with_its_query_is_kept(self) -> None:
        assert safe_next("/console/accounts?status=active") == "/console/accounts?status=active"

    def test_an_open_redirect_is_refused_through_the_whole_flow(
        self, registry_with: RegistryFactory, mock_provider: str
    ) -> None:
        registry = registry_with(mock_provider)
        mock_user(mock_provider, "ced-sub", email=CED1, email_verified=True)
        assert onward(mock_sign_in(registry, "ced-sub", "//evil.example")) == "/console"
        registry.client.cookies.clear()
        form = registry.client.get("/login", params={"next": "https://evil.example"})
        signed = registry.client.post(
            "/login",
            data={
                "token": registry.tokens["ced1"],
                "csrf": csrf_of(form.text),
                "next": "https://evil.example",
            },
            follow_redirects=False,
        )
        assert signed.headers["location"] == "/console"

    def test_token_sign_in_goes_on_to_the_page_asked_for(
        self, registry_with: RegistryFactory
    ) -> None:
        registry = registry_with(None)
        form = registry.client.get("/login", params={"next": "/console/accounts"})
        assert 'name="next" value="/console/accounts"' in form.text
        signed = registry.client.post(
            "/login",
            data={
                "token": registry.tokens["ced1"],
                "csrf": csrf_of(form.text),
                "next": "/console/accounts",
            },
            follow_redirects=False,
        )
        assert signed.headers["location"] == "/console/accounts"


class TestSettings:
    def test_an_issuer_needs_a_client_id_and_https_off_loopback(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Settings(oidc_issuer="https://login.example/realms/gov")
        assert "needs the registry's client id" in " ".join(problems(caught.value))
        with pytest.raises(ValidationError) as caught:
            Settings(oidc_issuer="http://login.example", oidc_client_id="x")
        assert "over https" in " ".join(problems(caught.value))
        assert Settings(oidc_issuer="http://127.0.0.1:9", oidc_client_id="x").sso_enabled
        assert not Settings().sso_enabled

    def test_scopes_need_openid_and_the_public_url_is_an_origin(self) -> None:
        with pytest.raises(ValidationError):
            Settings(oidc_scopes="email profile")
        with pytest.raises(ValidationError):
            Settings(public_url="registry.gov.mb.ca")
        assert Settings(public_url="https://registry.gov.mb.ca/").public_url == (
            "https://registry.gov.mb.ca"
        )

    def test_the_client_secret_is_never_shown(self) -> None:
        settings = Settings(
            oidc_issuer="https://idp.example", oidc_client_id="x", oidc_client_secret="hush"
        )
        assert "hush" not in repr(settings) and "hush" not in str(settings.model_dump())
