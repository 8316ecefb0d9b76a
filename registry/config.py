"""Settings read from the environment (prefix ``REGISTRY_``); every one is optional."""

from __future__ import annotations

import ipaddress
from functools import cached_property

from pydantic import Field, ValidationError, field_validator
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
        shown = "" if field == "database_url" else "=" + repr(item["input"])  # a password
        if len(shown) > 60:
            shown = shown[:57] + "..."
        found.append(
            f"{ENV_PREFIX}{field.upper()}{shown} is not usable: {reason[:1].lower()}{reason[1:]}."
        )
    return found
