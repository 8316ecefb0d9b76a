"""OpenID Connect with the government's identity provider: the Authorization Code flow with
PKCE, as a confidential client (or a public one when no secret is set).

Configured only by the ``REGISTRY_OIDC_*`` settings and ``REGISTRY_PUBLIC_URL`` (the redirect
URI is ``{public_url}/auth/callback``). The provider's discovery document and its signing keys
are fetched when first needed, never at start-up (a provider that is down must not stop the
registry), with a short timeout, and kept for an hour; the keys are fetched again, once, when
an ID token is signed with a key not among them (the provider rotated its keys).

An ID token is accepted only when signed with an asymmetric algorithm the provider announces
(never ``none``, never a shared-secret HMAC) by one of the provider's keys, issued by the
provider for this client, not expired and not issued in the future (one minute of clock skew
either way), and carrying the nonce this sign-in sent. Who it stands for is decided by
``registry.services.websessions``.

Authlib prepares the authorization request and checks the ID token's claims; ``joserfc``
checks its signature; ``httpx`` (synchronous: the console's routes run in worker threads)
talks to the provider.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import JWKRegistry, Key

from registry.config import Settings
from registry.errors import RegistryError
from registry.services.websessions import Identity, SsoRefused

TIMEOUT = httpx.Timeout(5.0)
METADATA_SECONDS = 3600  # how long the discovery document and the keys are kept
CLOCK_SKEW = 60  # seconds of disagreement between the provider's clock and ours
CALLBACK_PATH = "/auth/callback"
SIGNED_OUT_PATH = "/auth/signed-out"
# Algorithms with a public key; a shared-secret (HS*) or unsigned (none) ID token is refused.
ASYMMETRIC = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
MAX_ANSWER_BYTES = 1024 * 1024


class ProviderUnavailable(RegistryError):
    """The identity provider cannot be reached, or answers what the registry cannot use."""

    status_code = 503
    kind = "sso_unavailable"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


DOWN = "The government sign-in service cannot be reached just now; try again in a few minutes."
MISCONFIGURED = (
    "The government sign-in service answered in a way the registry cannot use; ask CED to "
    "check the registry's single sign-on settings."
)
UNTRUSTED = (
    "The sign-in could not be completed because the identity provider's answer failed a "
    "security check; start again, and tell CED if it happens again."
)
CANCELLED = "The identity provider did not sign you in; start again from the sign-in page."


@dataclass(frozen=True)
class Metadata:
    """What the registry uses of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    algorithms: frozenset[str]
    auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class Started:
    """An authorization request: where to send the browser, and what to keep for the
    callback (``state`` comes back in the URL; ``nonce`` in the ID token; the verifier
    goes to the token endpoint)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _url(value: Any, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
        raise ProviderUnavailable(MISCONFIGURED, reason="discovery_invalid")
    return value


class Provider:
    """One identity provider as this registry's client of it (thread-safe)."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: str,
        redirect_uri: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.redirect_uri = redirect_uri
        self._http = httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport)
        self._lock = threading.Lock()
        self._metadata: Metadata | None = None
        self._metadata_at = 0.0
        self._keys: list[Key] = []
        self._keys_at = 0.0

    def close(self) -> None:
        self._http.close()

    # -------------------------------------------------------------------- talking to it

    def _get_json(self, url: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            answer = self._http.get(url, headers=headers)
        except httpx.HTTPError:
            raise ProviderUnavailable(DOWN, reason="provider_unreachable") from None
        return self._json(answer, failed="provider_error")

    @staticmethod
    def _json(answer: httpx.Response, *, failed: str) -> dict[str, Any]:
        if answer.status_code >= 500:
            raise ProviderUnavailable(DOWN, reason="provider_error")
        if answer.status_code != 200 or len(answer.content) > MAX_ANSWER_BYTES:
            raise ProviderUnavailable(MISCONFIGURED, reason=failed)
        try:
            body = answer.json()
        except ValueError:
            raise ProviderUnavailable(MISCONFIGURED, reason=failed) from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(MISCONFIGURED, reason=failed)
        return body

    def metadata(self) -> Metadata:
        """The discovery document, fetched when first needed and then kept for an hour
        (ProviderUnavailable when it cannot be had)."""
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata_at < METADATA_SECONDS:
                return self._metadata
            found = self._discover()
            self._metadata, self._metadata_at = found, time.monotonic()
            return found

    def cached_metadata(self) -> Metadata | None:
        return self._metadata

    def _discover(self) -> Metadata:
        doc = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        issuer = doc.get("issuer")
        if not isinstance(issuer, str) or not _same_issuer(issuer, self.issuer):
            raise ProviderUnavailable(MISCONFIGURED, reason="discovery_issuer_mismatch")
        algorithms = doc.get("id_token_signing_alg_values_supported", ["RS256"])
        methods = doc.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        return Metadata(
            issuer=issuer,
            authorization_endpoint=_url(doc.get("authorization_endpoint")) or "",
            token_endpoint=_url(doc.get("token_endpoint")) or "",
            jwks_uri=_url(doc.get("jwks_uri")) or "",
            userinfo_endpoint=_url(doc.get("userinfo_endpoint"), required=False),
            end_session_endpoint=_url(doc.get("end_session_endpoint"), required=False),
            algorithms=frozenset(a for a in algorithms if isinstance(a, str)) & ASYMMETRIC,
            auth_methods=tuple(m for m in methods if isinstance(m, str)),
        )

    def _signing_keys(self, *, refresh: bool) -> list[Key]:
        meta = self.metadata()
        with self._lock:
            fresh = time.monotonic() - self._keys_at < METADATA_SECONDS
            if self._keys and fresh and not refresh:
                return self._keys
            found = self._get_json(meta.jwks_uri).get("keys")
            if not isinstance(found, list):
                raise ProviderUnavailable(MISCONFIGURED, reason="jwks_invalid")
            keys = []
            for item in found:
                if not isinstance(item, dict) or item.get("use", "sig") != "sig":
                    continue
                try:
                    keys.append(JWKRegistry.import_key(item))
                except (JoseError, ValueError, TypeError):
                    continue  # a key of a kind this registry does not use
            self._keys, self._keys_at = keys, time.monotonic()
            return keys

    # ------------------------------------------------------------------- the flow

    def start(self) -> Started:
        """A new authorization request (discovering the provider if need be)."""
        meta = self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43 to 128
        url = prepare_grant_uri(
            meta.authorization_endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=self.scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return Started(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def finish(self, *, code: str, nonce: str, code_verifier: str) -> Identity:
        """Exchange the code for tokens, check the ID token, and say who it names
        (SsoRefused, with the reason, when an answer fails a check)."""
        meta = self.metadata()
        tokens = self._exchange(meta, code=code, code_verifier=code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SsoRefused(UNTRUSTED, reason="id_token_missing")
        access_token = tokens.get("access_token")
        claims = self.verify_id_token(
            id_token,
            nonce=nonce,
            access_token=access_token if isinstance(access_token, str) else None,
        )
        email, verified = _email_of(claims)
        if (email is None or not verified) and meta.userinfo_endpoint and access_token:
            info = self._userinfo(meta.userinfo_endpoint, str(access_token))
            if info.get("sub") == claims["sub"] and isinstance(info.get("email"), str):
                email, verified = _email_of(info)
        return Identity(
            issuer=str(claims["iss"]),
            subject=str(claims["sub"]),
            email=email,
            email_verified=verified,
            id_token=id_token,
        )

    def _exchange(self, meta: Metadata, *, code: str, code_verifier: str) -> dict[str, Any]:
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        if not self.client_secret:
            body["client_id"] = self.client_id  # a public client: PKCE alone
        elif "client_secret_basic" in meta.auth_methods or "client_secret_post" not in (
            meta.auth_methods
        ):
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            body.update(client_id=self.client_id, client_secret=self.client_secret)
        try:
            answer = self._http.post(meta.token_endpoint, data=body, headers=headers)
        except httpx.HTTPError:
            raise ProviderUnavailable(DOWN, reason="provider_unreachable") from None
        if answer.status_code == 400:
            raise SsoRefused(UNTRUSTED, reason="code_refused")  # expired, used, not ours
        return self._json(answer, failed="token_endpoint_error")

    def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        try:
            return self._get_json(url, headers={"Authorization": f"Bearer {access_token}"})
        except ProviderUnavailable:
            return {}  # the ID token's claims stand alone; refused later if they lack the address

    def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of an ID token this registry may trust, or SsoRefused."""
        meta = self.metadata()
        try:
            header = jws.extract_compact(id_token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise SsoRefused(UNTRUSTED, reason="id_token_malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in meta.algorithms:
            raise SsoRefused(UNTRUSTED, reason="id_token_algorithm")
        token = self._verified(id_token, header, alg, refresh=False) or self._verified(
            id_token,
            header,
            alg,
            refresh=True,  # the provider may have rotated its keys
        )
        if token is None:
            raise SsoRefused(UNTRUSTED, reason="id_token_signature")
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": meta.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            },
            params={"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=CLOCK_SKEW)
        except JoseError as exc:
            claim = exc.claim if isinstance(exc, ClaimError) else exc.error
            reason = "nonce" if claim == "nonce" else f"id_token_{claim}"
            raise SsoRefused(UNTRUSTED, reason=reason[:40]) from None
        return dict(claims)

    def _verified(
        self, id_token: str, header: dict[str, Any], alg: str, *, refresh: bool
    ) -> jwt.Token | None:
        kid = header.get("kid")
        kty = KEY_TYPES.get(alg[:2])
        for key in self._signing_keys(refresh=refresh):
            if (kid is not None and key.kid != kid) or key.key_type != kty:
                continue
            try:
                return jwt.decode(id_token, key, algorithms=[alg])
            except JoseError:
                continue
        return None

    def logout_url(self, *, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to sign out at the provider too (RP-initiated logout),
        or None when it offers no such endpoint or cannot be reached."""
        try:
            meta = self.metadata()
        except ProviderUnavailable:
            return None
        if not meta.end_session_endpoint:
            return None
        query = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            query["id_token_hint"] = id_token
        glue = "&" if urlsplit(meta.end_session_endpoint).query else "?"
        return meta.end_session_endpoint + glue + urlencode(query)


def _email_of(claims: dict[str, Any]) -> tuple[str | None, bool]:
    """The address in ``claims`` and whether the provider vouches for it: ``email_verified``
    true, or Entra ID's ``xms_edov`` (the address's domain is verified by the tenant)."""
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        return None, False
    verified = any(claims.get(name) in (True, "true") for name in ("email_verified", "xms_edov"))
    return email.strip(), verified


_providers: dict[tuple[str, str, str, str, str], Provider] = {}
_providers_lock = threading.Lock()


def provider(settings: Settings) -> Provider:
    """The provider the settings name (one per configuration, so its cache is shared by
    every request of this process)."""
    key = (
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret.get_secret_value(),
        settings.oidc_scopes,
        settings.public_url,
    )
    with _providers_lock:
        found = _providers.get(key)
        if found is None:
            found = _providers[key] = Provider(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret.get_secret_value(),
                scopes=settings.oidc_scopes,
                redirect_uri=settings.public_url + CALLBACK_PATH,
            )
        return found


def forget() -> None:
    """Drop every provider and what it cached (tests start afresh)."""
    with _providers_lock:
        for found in _providers.values():
            found.close()
        _providers.clear()
