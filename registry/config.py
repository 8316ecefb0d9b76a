"""Settings read from the environment (prefix ``REGISTRY_``); every one is optional."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "sqlite:///registry.db"
    keyring: str = "registry.keyring"
    gov_domains: str = Field(
        default="gov.mb.ca",
        description="Comma-separated approved government e-mail domains.",
    )
    ced_department: str = "CED"
    actor: str | None = None
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

    @cached_property
    def approved_domains(self) -> tuple[str, ...]:
        """The approved domains, lower case, without blanks or duplicates."""
        seen: dict[str, None] = {}
        for part in self.gov_domains.split(","):
            domain = part.strip().lower().rstrip(".")
            if domain:
                seen[domain] = None
        return tuple(seen)


def get_settings() -> Settings:
    return Settings()
