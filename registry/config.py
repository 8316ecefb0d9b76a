"""Settings read from the environment (prefix ``REGISTRY_``); every one is optional."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "REGISTRY_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str = "sqlite:///registry.db"
    keyring: str = "registry.keyring"
    gov_domains: str = Field(
        default="gov.mb.ca",
        description="Comma-separated approved government e-mail domains.",
    )
    ced_department: str = "CED"
    review_interval_days: int = Field(default=365, ge=1)
    rotation_age_days: int = Field(
        default=365, ge=1, description="Credentials older than this are due for rotation."
    )
    request_wait_days: int = Field(
        default=14, ge=1, description="Requests waiting longer than this are reported."
    )
    credential_retention_days: int = Field(
        default=90, ge=0, description="Days a decommissioned account's credentials are kept."
    )
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest HTTP request body accepted (a 10,000-row CSV is about 1 MB).",
    )
    proxy_headers: bool = Field(
        default=True,
        description="`registry serve` believes X-Forwarded-Proto and X-Forwarded-For, but only "
        "from forwarded_allow_ips.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses or networks of the TLS proxies trusted to say "
        "how a client connected (or * for any: only when nothing else can reach the port).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where people reach the service: links in e-mails and the single sign-on "
        "redirect URI ({public_url}/auth/callback).",
    )
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer URL (discovery at "
        "/.well-known/openid-configuration); empty: no single sign-on.",
    )
    oidc_client_id: str = Field(
        default="",
        validate_default=True,
        description="The registry's client id at the identity provider.",
    )
    oidc_client_secret: SecretStr = Field(
        default=SecretStr(""),
        description="The registry's client secret (empty: a public client, PKCE alone).",
    )
    oidc_scopes: str = Field(
        default="openid email profile", description="Scopes asked for at sign-in."
    )
    console_token_signin: bool = Field(
        default=True,
        description="Whether the console also accepts an API token at sign-in.",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A console session unused this long ends."
    )
    session_max_hours: int = Field(
        default=12, ge=1, le=7 * 24, description="A console session ends this long after sign-in."
    )

    smtp_host: str = Field(
        default="", description="The mail relay (empty: e-mail stays queued in the outbox)."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The mail relay's port.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (upgrade a plain connection), ssl (TLS from the first byte) or "
        "none (only for a relay on the same machine).",
    )
    smtp_username: str = Field(default="", description="Log in to the relay as (empty: no login).")
    smtp_password: SecretStr = Field(
        default=SecretStr(""), description="The relay password (never logged)."
    )
    smtp_timeout_seconds: float = Field(
        default=30, gt=0, le=600, description="How long to wait for the relay before retrying."
    )
    mail_from: str = Field(default="registry@gov.mb.ca", description="The sender address.")
    ced_mailbox: str = Field(
        default="",
        description="CED's shared mailbox; notices for CED go there, or to every active ced "
        "person when empty.",
    )

    @field_validator("mail_from", "ced_mailbox")
    @classmethod
    def _mailbox(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value and info.field_name == "ced_mailbox":
            return ""
        local, at, domain = value.rpartition("@")
        if (
            not at
            or not local
            or "." not in domain
            or any(c.isspace() or ord(c) < 32 or c in '<>,;"\\' for c in value)
        ):
            raise ValueError("it must be one e-mail address, such as registry@gov.mb.ca")
        return value

    @field_validator("smtp_host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if any(c.isspace() or c in "/@:" for c in value):
            raise ValueError("it must be a host name or address alone, such as smtp.gov.mb.ca")
        return value

    @field_validator("database_url", "keyring", "gov_domains", "ced_department")
    @classmethod
    def _utf8(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8, as Python decodes them
            raise ValueError("it is not valid UTF-8 text") from None
        return value

    @field_validator("gov_domains")
    @classmethod
    def _some_domain(cls, value: str) -> str:
        if not _domains(value):
            raise ValueError("it must name at least one approved domain, such as gov.mb.ca")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str) -> str:
        return trusted_proxies(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return web_origin(value, what="address")

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        web_origin(value, what="issuer", paths=True)
        if not value.startswith("https://") and not _is_loopback(value):
            raise ValueError("an issuer is reached over https (plain http only on loopback)")
        return value

    @field_validator("oidc_client_id")
    @classmethod
    def _client_id(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if info.data.get("oidc_issuer") and not value:
            raise ValueError("single sign-on needs the registry's client id at the issuer")
        return value

    @field_validator("oidc_scopes")
    @classmethod
    def _scopes(cls, value: str) -> str:
        scopes = value.split()
        if "openid" not in scopes:
            raise ValueError("the scopes must include openid")
        return " ".join(dict.fromkeys(scopes))

    @property
    def sso_enabled(self) -> bool:
        """Whether single sign-on is configured (an issuer is set)."""
        return bool(self.oidc_issuer)

    @cached_property
    def approved_domains(self) -> tuple[str, ...]:
        """The approved domains, lower case, without blanks or duplicates."""
        return _domains(self.gov_domains)


def _domains(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in text.split(","):
        domain = part.strip().lower().rstrip(".")
        if domain:
            seen[domain] = None
    return tuple(seen)


def web_origin(text: str, *, what: str, paths: bool = False) -> str:
    """``text`` as an http(s) URL without a trailing slash, query or fragment (and, unless
    ``paths``, without a path), or ValueError with a reason."""
    value = text.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the {what} must be an http:// or https:// URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"the {what} must have no query, fragment or user name")
    if parts.path and not paths:
        raise ValueError(f"the {what} must have no path (as in https://registry.gov.mb.ca)")
    return value


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_proxies(text: str) -> str:
    """``text`` as uvicorn's ``forwarded_allow_ips``: ``*``, or IP addresses and networks
    separated by commas (blanks dropped). Anything else, which uvicorn would silently never
    match, is refused (ValueError, a reason to finish a sentence)."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise ValueError("it must name at least one address, such as 127.0.0.1")
    if items == ["*"]:
        return "*"
    for item in items:
        try:
            if "/" in item:
                ipaddress.ip_network(item)
            else:
                ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(
                f"{item[:60]!r} is not an IP address or network (such as 10.0.0.0/8), and "
                "* may only stand alone"
            ) from None
    return ",".join(items)


def get_settings() -> Settings:
    return Settings()


def problems(error: ValidationError) -> list[str]:
    """One sentence per refused setting, naming its environment variable (never a dump)."""
    found = []
    for item in error.errors(include_url=False):
        field = "_".join(str(part) for part in item["loc"])
        reason = str(item["msg"]).removeprefix("Value error, ")
        secret = field in ("database_url", "smtp_password", "oidc_client_secret")
        shown = "" if secret else "=" + repr(item["input"])  # a password
        if len(shown) > 60:
            shown = shown[:57] + "..."
        found.append(
            f"{ENV_PREFIX}{field.upper()}{shown} is not usable: {reason[:1].lower()}{reason[1:]}."
        )
    return found
