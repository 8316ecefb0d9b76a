"""The registry's seven rules as plain functions, each with the policy sentence it comes from.

Source: Manitoba Public Service Commission, *Social Media Policy* (effective June 17, 2022);
the rules are numbered as in DESIGN.md. Nothing here reads the database or knows who is
acting: the services call these on every write, the compliance report builds its SQL from the
constants, and ``registry.permissions`` decides who may do what with the same rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from registry.errors import InvalidInput
from registry.models.base import AccountStatus, Category, PersonStatus
from registry.models.credential import CredentialKind
from registry.models.request import RequestState

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

# The approved domains when REGISTRY_GOV_DOMAINS is not set (``registry.config`` repeats it, so
# that reading the settings loads no rule; ``tests/test_rules.py`` keeps the two equal).
DEFAULT_DOMAINS = ("gov.mb.ca",)

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


def approved_endings(approved: Iterable[str]) -> tuple[str, ...]:
    """How a lower-case address on an approved domain ends: ``@gov.mb.ca`` (the domain
    itself) or ``.gov.mb.ca`` (a subdomain), for each approved domain. For a well-formed
    address this is :func:`domain_is_approved` again, written for SQL's ``LIKE``: the
    compliance report builds its query from it."""
    return tuple(ending for a in approved for ending in (f"@{a}", f".{a}"))


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

MIN_HOLDERS = 2  # distinct active holders of an active account
MIN_CED_HOLDERS = 1  # of them, from CED


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
    if sum(h.is_ced for h in active.values()) < MIN_CED_HOLDERS:
        problems.append("it needs at least one holder from CED and would have none")
    return problems


# ---------------------------------------------------------------------------------------------
# Rule 4 - two approvals.
# Employees "Seek and obtain approval from department executive and the Communications and
#  Engagement Division before opening any social media account for official or
#  employment-related purposes."
# The Deputy Minister (or designate) and CED each "Review and authorize requests to use social
#  media"; a request is decided once, by two different people, neither of them its requester.
# ---------------------------------------------------------------------------------------------


class Stage(StrEnum):
    """The two approvals, in order: the department executive's, then CED's."""

    department = "department"
    ced = "CED"


def stage_to_decide(state: str) -> Stage | None:
    """The approval a request in ``state`` waits for; None once it is decided (approved,
    rejected or withdrawn), for a decided request never changes."""
    if state == RequestState.submitted:
        return Stage.department
    if state == RequestState.department_approved:
        return Stage.ced
    return None


def decides_own_request(*, decider_id: int, requester_id: int) -> bool:
    """Nobody approves (or rejects) their own request."""
    return decider_id == requester_id


def approves_twice(stage: Stage, *, decider_id: int, department_decider_id: int | None) -> bool:
    """Whether CED's decision would come from the person who gave the department's approval:
    the two approvers are different people."""
    return stage is Stage.ced and department_decider_id == decider_id


# ---------------------------------------------------------------------------------------------
# Rule 5 - credentials on file.
# CED will "Maintain a list of approved government and employment-related social media
#  accounts, including login credentials for all government-owned accounts."
# ---------------------------------------------------------------------------------------------

# What "credentials on file" means: a current (not shredded) login password.
REQUIRED_CREDENTIAL = CredentialKind.password


def lacks_credentials(status: str, current_kinds: Collection[str]) -> bool:
    """Whether an account breaks rule 5: active, without a current login password on file."""
    return status == AccountStatus.active and REQUIRED_CREDENTIAL not in current_kinds


def credential_is_old(set_at: dt.datetime, *, now: dt.datetime, max_age_days: int) -> bool:
    """Whether a credential was set more than ``max_age_days`` ago and is due for a change
    (REGISTRY_ROTATION_AGE_DAYS)."""
    return set_at < now - dt.timedelta(days=max_age_days)


# ---------------------------------------------------------------------------------------------
# Rule 6 - government property.
# Official and employment-related accounts "remain the property of the Manitoba government even
#  if the designated government employees managing the account leave government."
# ---------------------------------------------------------------------------------------------

# Why a credential is marked for rotation by a handover, and how far back a reveal makes a
# leaver "know" a credential: they held the account, or revealed the value in the last year.
ROTATION_REASON = "known to a holder who left"
REVEAL_LOOKBACK = dt.timedelta(days=365)


def may_hold(status: str) -> bool:
    """Whether a person in ``status`` may hold accounts: a leaver holds nothing."""
    return status == PersonStatus.active


class _Identified(Protocol):
    @property
    def id(self) -> int | None: ...


_P = TypeVar("_P", bound=_Identified)


def holders_after_handover(current: Sequence[_P], *, leaver: _P, successor: _P) -> list[_P]:
    """Who holds an account once ``leaver`` hands it over: everyone but the leaver, and the
    successor (added unless they hold it already). The account stays; only access moves."""
    after = [p for p in current if p.id != leaver.id]
    if all(p.id != successor.id for p in after):
        after.append(successor)
    return after


# ---------------------------------------------------------------------------------------------
# Rule 7 - review.
# CED will "Maintain a list of approved government and employment-related social media
#  accounts": a list is kept only if each entry is looked at again, so each account is reviewed
#  on a schedule (REGISTRY_REVIEW_INTERVAL_DAYS, default yearly) and overdue reviews are
#  reported.
# ---------------------------------------------------------------------------------------------

REVIEW_INTERVAL_DAYS = 365  # the default; ``registry.config`` repeats it, the tests compare


def next_review_on(reviewed_at: dt.datetime, *, interval_days: int) -> dt.date:
    """When an account reviewed (or activated) at ``reviewed_at`` is next due for review."""
    return (reviewed_at + dt.timedelta(days=interval_days)).date()


def review_overdue(due_on: dt.date | None, *, today: dt.date) -> bool:
    """Whether a review is overdue: its date has passed, or no date was ever set."""
    return due_on is None or due_on < today
