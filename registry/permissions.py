"""Who may do what: the actor, the role sets, and one ``can_*`` question per thing guarded.

The services ask these before they act and refuse with their own sentence; the pages ask the
same questions to decide what to show, so a button is offered exactly when the service would
allow it. Each answer is a plain function of the :class:`Actor` (plain values) and of the
thing in question; nothing here reads the database. Where holding an account matters, the
caller says whether the actor holds it (``holds=``).

The rules themselves (which stage comes first, who is a leaver) are in ``registry.rules``;
this module adds the roles of DESIGN.md ("Who uses it") and ADRs 0002 and 0003. It sits below
the services: ``registry.services.actors`` loads an Actor, and every service asks here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry import rules
from registry.enums import Role
from registry.errors import Forbidden, InvalidInput
from registry.models.credential import CredentialKind
from registry.rules import Stage

if TYPE_CHECKING:
    from registry.models import Account, AccountRequest, ApiToken, Person


@dataclass(frozen=True)
class Actor:
    """A person acting now, with the facts every permission question needs (plain values, so
    an actor stays usable after its transaction is rolled back). Loaded by
    ``registry.services.actors``."""

    id: int
    email: str
    roles: frozenset[Role]
    department_id: int
    department_code: str
    is_ced_staff: bool

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


# ------------------------------------------------------------------------------ role sets
# The order of each set is the order a refusal names its roles in ("that needs the admin or
# ced role"), which people and tests read.

# Who sees every department's accounts, people, requests and compliance (CED staff, by their
# department, see everything too).
SEE_ALL_ROLES = frozenset({Role.ced, Role.admin, Role.auditor})
# Who decides each approval of a request (rule 4), in the request's department for the first.
STAGE_DECIDERS = {Stage.department: Role.dept_approver, Stage.ced: Role.ced}
# Who adds and removes the holders of accounts.
ACCESS_MANAGERS = (Role.ced, Role.admin)
# Who holds every account's credentials (rule 5): CED, the custodians.
CUSTODIANS = (Role.ced,)
# Who migrates CED's existing list (the one path to an active account without two approvals).
IMPORTERS = (Role.ced,)
# Who records the periodic review of an account (rule 7).
REVIEWERS = (Role.ced,)
# Who runs a handover (rule 6), and who reads the records of handovers.
RUNNERS = (Role.admin, Role.ced)
HANDOVER_READERS = (Role.admin, Role.ced, Role.auditor)
# Roles that let a person decide or administer; a leaver keeps none of them.
PRIVILEGED_ROLES = (Role.dept_approver, Role.ced, Role.admin)
# Who may read and verify the audit log, and who may seal it.
READERS = (Role.admin, Role.ced, Role.auditor)
SEALERS = (Role.admin, Role.ced)
# Who shreds the credentials of long-decommissioned accounts.
PURGERS = (Role.admin, Role.ced)
# Who manages people, departments, every API token and the vault's master key.
ADMINISTRATORS = (Role.admin,)
# Who deliver the outbox, queue reminders and read what was sent (DESIGN.md, Notifications).
MAIL_OPERATORS = (Role.admin, Role.ced)
# Sign and write out the public directory for a static site (reads the answer-signing key).
PUBLISHERS = (Role.admin, Role.ced)
# Record that the platform renamed an account: CED keeps the list.
RENAMERS = (Role.ced,)


def refusal(actor: Actor, roles: Sequence[Role], *, to: str) -> Forbidden:
    """The refusal of something reserved to ``roles``; ``to`` completes "may not ..."."""
    needed = " or ".join(role.value for role in roles)
    return Forbidden(f"{actor.email} may not {to}; that needs the {needed} role.")


# ------------------------------------------------------------------------------ seeing


def can_see_all(actor: Actor) -> bool:
    """CED staff, administrators and auditors see every department; anyone else their own."""
    return actor.is_ced_staff or actor.has(*SEE_ALL_ROLES)


def can_see_department(actor: Actor, department_id: int | None) -> bool:
    """Whether the actor sees what belongs to the department: accounts, people, compliance."""
    return can_see_all(actor) or department_id == actor.department_id


def can_see_person(actor: Actor, person: Person) -> bool:
    """Whether ``actor`` may know that ``person`` is registered (and whether they left).
    ``GET /people/{email}`` and every lookup of people by e-mail on an actor's behalf answer
    by it; anyone else is "not registered"."""
    return can_see_department(actor, person.department_id)


def can_see_account(actor: Actor, account: Account, *, holds: bool) -> bool:
    """An account is seen in its department's view, and by its holders wherever they work."""
    return can_see_department(actor, account.department_id) or holds


def can_see_request(actor: Actor, request: AccountRequest) -> bool:
    """A request is seen by its requester and in its department's view."""
    return request.requester_id == actor.id or can_see_department(actor, request.department_id)


# ------------------------------------------------------------------------------ requests (rule 4)


def can_submit_for(actor: Actor, department_id: int | None) -> bool:
    """Anyone asks for their own department; CED (its staff, or the ced role) for any."""
    return department_id == actor.department_id or actor.is_ced_staff or actor.has(Role.ced)


def can_decide_stage(actor: Actor, stage: Stage) -> bool:
    """Whether the actor holds the role that decides ``stage`` (anywhere; see can_decide)."""
    return actor.has(STAGE_DECIDERS[stage])


def decision_refusal(actor: Actor, request: AccountRequest, *, verb: str) -> str | None:
    """Why the actor may not ``verb`` (approve, reject) the request now, or None when they may.

    The department's approval is its executive's (a dept_approver of the request's
    department); the final one is CED's, by someone other than the department's approver;
    nobody decides their own request (rule 4, ADR 0002).
    """
    stage = rules.stage_to_decide(request.state)
    if stage is None:
        return f"Request {request.id} is already {request.state}; a decided request never changes."
    if rules.decides_own_request(decider_id=actor.id, requester_id=request.requester_id):
        return f"{actor.email} may not {verb} their own request {request.id}."
    if stage is Stage.department:
        if not can_decide_stage(actor, stage) or actor.department_id != request.department_id:
            return (
                f"{actor.email} may not {verb} request {request.id} at the department stage; "
                "that needs a dept_approver of the request's department."
            )
        return None
    if not can_decide_stage(actor, stage):
        return (
            f"{actor.email} may not {verb} request {request.id} at the CED stage; "
            "that needs the ced role."
        )
    if rules.approves_twice(
        stage, decider_id=actor.id, department_decider_id=request.department_decided_by_id
    ):
        return (
            f"{actor.email} gave the department approval of request {request.id}; "
            "the final decision must come from a different person."
        )
    return None


def can_decide(actor: Actor, request: AccountRequest) -> bool:
    """Whether the actor may approve or reject the request's current stage."""
    return decision_refusal(actor, request, verb="decide") is None


def can_withdraw(actor: Actor, request: AccountRequest) -> bool:
    """Only the requester takes back their own request (while it is open: the service says
    why a decided one cannot change)."""
    return request.requester_id == actor.id


# ------------------------------------------------------------------------------ accounts


def can_import(actor: Actor) -> bool:
    """Importing CED's existing list makes accounts active without two approvals: CED only
    (docs/adr/0002-workflow.md)."""
    return actor.has(*IMPORTERS)


def can_review(actor: Actor) -> bool:
    """CED records the periodic review of accounts (rule 7)."""
    return actor.has(*REVIEWERS)


def can_publish(actor: Actor) -> bool:
    """CED and administrators sign the public directory for publishing (``registry export``)."""
    return actor.has(*PUBLISHERS)


def can_rename(actor: Actor) -> bool:
    """CED records that a platform renamed an account (it keeps the list)."""
    return actor.has(*RENAMERS)


def can_manage_access(actor: Actor) -> bool:
    """CED and administrators add and remove the holders of accounts (rule 3)."""
    return actor.has(*ACCESS_MANAGERS)


def can_grant_to(actor: Actor, person_id: int | None) -> bool:
    """Nobody grants themselves access: holding an account lets one reveal its credentials,
    so two people decide who holds it."""
    return person_id != actor.id


# ----------------------------------------------------------------------------- credentials (rule 5)


def can_hold_credentials(actor: Actor) -> bool:
    """CED holds the login credentials of every account (the custodians: the ced role)."""
    return actor.has(*CUSTODIANS)


def can_store_credentials(actor: Actor, *, holds: bool) -> bool:
    """Custodians store any account's credentials; a holder those of the account they hold."""
    return can_hold_credentials(actor) or holds


def can_reveal(actor: Actor, kind: str, *, holds: bool) -> bool:
    """Custodians and the account's holders reveal its credentials, except the TOTP seed,
    which only custodians see (holders get codes: :func:`can_get_totp`)."""
    if kind == CredentialKind.totp_seed:
        return can_hold_credentials(actor)
    return can_hold_credentials(actor) or holds


def can_get_totp(actor: Actor, *, holds: bool) -> bool:
    """Custodians and the account's holders get its current TOTP code."""
    return can_hold_credentials(actor) or holds


def can_rotate_keys(actor: Actor) -> bool:
    """Administrators rotate the vault's master key."""
    return actor.has(*ADMINISTRATORS)


def can_purge_credentials(actor: Actor) -> bool:
    """Administrators and CED shred the credentials of long-decommissioned accounts."""
    return actor.has(*PURGERS)


# ------------------------------------------------------------------------------ handover (rule 6)


def can_run_handover(actor: Actor) -> bool:
    """Administrators and CED run handovers."""
    return actor.has(*RUNNERS)


def can_hand_over_person(actor: Actor, leaver_id: int | None) -> bool:
    """Nobody runs their own handover."""
    return leaver_id != actor.id


def can_hand_over_to(actor: Actor, successor_ids: Iterable[int | None]) -> bool:
    """Nobody hands accounts to themselves: a successor is someone other than who runs it."""
    return actor.id not in set(successor_ids)


def can_read_handovers(actor: Actor) -> bool:
    """Administrators, CED and auditors read the records of handovers."""
    return actor.has(*HANDOVER_READERS)


# ------------------------------------------------------------------------------ audit


def can_read_audit(actor: Actor) -> bool:
    """Administrators, CED and auditors read and verify the audit log and write checkpoints."""
    return actor.has(*READERS)


def can_seal_audit(actor: Actor) -> bool:
    """Administrators and CED seal events written while the keyring was unavailable."""
    return actor.has(*SEALERS)


# ------------------------------------------------------------------------------ notifications


def can_operate_mail(actor: Actor) -> bool:
    """Administrators and CED run the mail worker and the reminders, and list the outbox."""
    return actor.has(*MAIL_OPERATORS)


# ------------------------------------------------------------------------------ administration


def can_manage_people(actor: Actor) -> bool:
    """Administrators register people."""
    return actor.has(*ADMINISTRATORS)


def can_manage_departments(actor: Actor) -> bool:
    """Administrators create departments."""
    return actor.has(*ADMINISTRATORS)


def can_manage_tokens(actor: Actor) -> bool:
    """Administrators issue API tokens, and list and revoke anyone's."""
    return actor.has(*ADMINISTRATORS)


def can_list_tokens_of(actor: Actor, email: str) -> bool:
    """Everyone lists their own tokens; administrators anyone's."""
    return can_manage_tokens(actor) or _same_address(email, actor.email)


def can_revoke_token(actor: Actor, token: ApiToken) -> bool:
    """Everyone revokes their own tokens; administrators anyone's."""
    return token.person_id == actor.id or can_manage_tokens(actor)


def _same_address(email: str, own: str) -> bool:
    try:
        local, domain = rules.parse_email(email)
    except InvalidInput:
        return False
    return f"{local}@{domain}" == own
