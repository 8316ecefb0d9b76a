"""The registry's rules as plain functions, each with the policy sentence it comes from.

Source: Manitoba Public Service Commission, *Social Media Policy* (effective June 17, 2022).
Rules 1-3 are here; the services call them on every path that creates an account or changes
who holds one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from registry.errors import InvalidInput
from registry.models.base import Category

# ---------------------------------------------------------------------------------------------
# Rule 1 - category.
# "Official Social Media Use: refers to use of social media for the purpose of communicating
#  on behalf of a Manitoba government program area." / "Employment-related Social Media Use:
#  refers to the authorized use of social media as part of job responsibilities ..."
# "An employee's personal LinkedIn account is not an employment-related account."
# ---------------------------------------------------------------------------------------------


def check_category(category: str) -> Category:
    """Return the category, or refuse anything that is not official or employment-related."""
    value = category.strip().lower().replace("-", "_").replace(" ", "_")
    if value == "personal":
        raise InvalidInput(
            "A personal account cannot be registered: personal social media accounts are the "
            "employee's own property (a personal LinkedIn is not an employment-related "
            "account); only official and employment_related accounts belong here."
        )
    try:
        return Category(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown category {category!r}; use official or employment_related."
        ) from None


# ---------------------------------------------------------------------------------------------
# Rule 2 - government e-mail.
# "Employment-related social media accounts should be associated with a government email
#  address" and "Personal social media accounts should not be associated with a government
#  email address".
# ---------------------------------------------------------------------------------------------

_LOCAL_CHARS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def parse_email(raw: str) -> tuple[str, str]:
    """Strictly split an address into ``(local, domain)``, lower case, or refuse it.

    Accepts only plain ASCII addresses: one ``@``, no quoted local part, no comments, no
    internationalised or punycode domain (``xn--``), no trailing dot.
    """
    address = raw.strip()
    shown = address if len(address) <= 80 else address[:77] + "..."
    if not address:
        raise InvalidInput("An e-mail address is required.")
    if len(address) > 254:
        raise InvalidInput(f"E-mail address {shown!r} is longer than 254 characters.")
    if not address.isascii():
        raise InvalidInput(
            f"E-mail address {shown!r} contains non-ASCII characters; government addresses "
            "are plain ASCII (this also refuses lookalike letters from other alphabets)."
        )
    if address.count("@") != 1:
        raise InvalidInput(f"E-mail address {shown!r} must contain exactly one '@'.")
    local, domain = address.lower().split("@")
    if not local or not _LOCAL_CHARS.fullmatch(local) or len(local) > 64:
        raise InvalidInput(
            f"E-mail address {shown!r} has an invalid part before the '@' "
            "(quoted, spaced or dotted forms are not accepted)."
        )
    if domain.endswith("."):
        raise InvalidInput(f"E-mail address {shown!r} has a trailing dot in its domain.")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidInput(f"E-mail address {shown!r} has an invalid domain.")
    if any(label[2:4] == "--" for label in labels):
        raise InvalidInput(
            f"E-mail address {shown!r} uses an internationalised (punycode) or reserved "
            "domain label; approved government domains are plain ASCII."
        )
    return local, domain


def domain_is_approved(domain: str, approved: Iterable[str]) -> bool:
    """True when ``domain`` is one of ``approved`` or a subdomain of one (label-wise)."""
    return any(domain == a or domain.endswith("." + a) for a in approved)


def check_government_email(raw: str, approved: Sequence[str], *, what: str = "E-mail") -> str:
    """Return the address in lower case if it is on an approved government domain."""
    local, domain = parse_email(raw)
    if not domain_is_approved(domain, approved):
        allowed = ", ".join(approved)
        raise InvalidInput(
            f"{what} {local}@{domain} is not on an approved government domain ({allowed}); "
            "government accounts and their holders use government addresses."
        )
    return f"{local}@{domain}"


# ---------------------------------------------------------------------------------------------
# Rule 3 - two people, one from CED.
# "steps should be taken to ensure more than one employee, including Communications and
#  Engagement Division, has access to the account."
# ---------------------------------------------------------------------------------------------

MIN_HOLDERS = 2


@dataclass(frozen=True)
class Holder:
    email: str
    active: bool
    is_ced: bool


def holder_shortfalls(holders: Iterable[Holder]) -> list[str]:
    """What an active account's holders lack under rule 3; empty when they satisfy it."""
    active = {h.email: h for h in holders if h.active}
    problems: list[str] = []
    if len(active) < MIN_HOLDERS:
        problems.append(
            f"it needs at least {MIN_HOLDERS} active holders and would have {len(active)}"
        )
    if not any(h.is_ced for h in active.values()):
        problems.append("it needs at least one holder from CED and would have none")
    return problems
