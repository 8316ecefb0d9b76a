"""Errors a user can cause. Each carries the HTTP status it maps to and one clear sentence.

Services raise these; the API renders ``{"error": <kind>, "detail": <sentence>}`` and the
CLI prints the sentence on stderr and exits 1. Anything else is a bug and may show a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session


class RegistryError(Exception):
    status_code: int = 400
    kind: str = "error"

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        # Every item the refusal is about (each bad import row, each account a handover
        # would break), for the caller to list under the sentence.
        self.problems = list(problems)
        # Work to keep although the operation was refused (the audit of a refused reveal):
        # the edge runs it in a fresh transaction after rolling the refused one back.
        self.afterwards: Callable[[Session], None] | None = None


class Unauthenticated(RegistryError):
    status_code = 401
    kind = "unauthenticated"


class Forbidden(RegistryError):
    status_code = 403
    kind = "forbidden"


class NotFound(RegistryError):
    status_code = 404
    kind = "not_found"


class Conflict(RegistryError):
    """The operation clashes with the current state (a duplicate, a state already decided)."""

    status_code = 409
    kind = "conflict"


class RuleViolation(Conflict):
    """The operation would break one of the registry's rules."""

    kind = "rule_violation"


class InvalidTransition(Conflict):
    kind = "invalid_transition"


class VaultUnavailable(RegistryError):
    """The keyring cannot be opened: secrets are out of reach, everything else works."""

    status_code = 503
    kind = "vault_unavailable"


class InvalidInput(RegistryError):
    """Well-formed but unacceptable input: a bad e-mail address, an empty reason, a bad CSV."""

    status_code = 422
    kind = "invalid_input"


class UnsupportedMediaType(RegistryError):
    """The request body is not in the format the endpoint reads (HTTP 415)."""

    status_code = 415
    kind = "unsupported_media_type"


CONCURRENT_CHANGE = (
    "The change clashed with another made at the same moment (for example the same handle "
    "registered twice); nothing was saved, try again."
)
DATABASE_UNAVAILABLE = "The database is busy or unavailable; nothing was saved, try again."
DATA_REFUSED = "The database refused a value as malformed or out of range; nothing was saved."
