"""The notices of DESIGN.md's table that a change causes, each queued by the service making
the change, in its transaction (see ``registry.services.notify``).

| event | to |
| --- | --- |
| request submitted | the department's executives (not the requester: nobody decides their own) |
| request approved by the department | CED (not the requester, nor who gave that approval) |
| request approved, rejected or withdrawn | the requester (and, when approved, the new holders) |
| access granted or revoked | that person |
| handover done | each successor and CED |

The reminders (rotation, review, waiting requests) are ``registry.services.reminders``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from registry.config import Settings
from registry.models import (
    Account,
    AccountRequest,
    Department,
    HandoverReport,
    Person,
    RequestKind,
)
from registry.services import notify
from registry.services.notify import Mail, Recipient, named


def _request_facts(session: Session, request: AccountRequest) -> list[tuple[str, str]]:
    dept = session.get(Department, request.department_id)
    requester = session.get(Person, request.requester_id)
    facts = [
        ("Request", f"{request.id}"),
        ("What", _what(request)),
        ("Account", named(request.platform, request.handle)),
        ("Department", f"{dept.code} ({dept.name})" if dept else "?"),
        ("Requested by", requester.email if requester else "?"),
    ]
    if request.kind == RequestKind.new_account:
        facts.append(("Category", (request.category or "").replace("_", "-")))
    return facts


def _what(request: AccountRequest) -> str:
    if request.kind == RequestKind.decommission:
        return "decommission the account"
    return "open a new account"


def _request_path(request: AccountRequest) -> str:
    return f"/console/requests/{request.id}"


def request_submitted(session: Session, *, settings: Settings, request: AccountRequest) -> None:
    """A new request awaits its department's executives."""
    dept = session.get(Department, request.department_id)
    assert dept is not None
    account = named(request.platform, request.handle)
    notify.queue(
        session,
        settings=settings,
        event="request.submitted",
        mail=Mail(
            subject=f"Request {request.id} awaits your approval: {account}",
            paragraphs=[
                f"Request {request.id} asks to {_what(request)} for {dept.code}. "
                "It awaits the department's approval: yours or another executive's."
            ],
            facts=_request_facts(session, request)
            + ([("Purpose", request.purpose)] if request.purpose else [])
            + ([("Reason", request.reason)] if request.reason else []),
            action=(f"Approve or reject request {request.id}", _request_path(request)),
        ),
        to=notify.executives(
            session, request.department_id, code=dept.code, leave_out=[request.requester_id]
        ),
    )


def request_department_approved(
    session: Session, *, settings: Settings, request: AccountRequest, by: str
) -> None:
    """The department approved: the request awaits CED."""
    account = named(request.platform, request.handle)
    notify.queue(
        session,
        settings=settings,
        event="request.department_approved",
        mail=Mail(
            subject=f"Request {request.id} awaits CED approval: {account}",
            paragraphs=[
                f"{by} approved request {request.id} for the department. It now awaits the "
                "final approval of CED, from someone other than who gave the department's."
            ],
            facts=_request_facts(session, request)
            + (
                [("Department's comment", request.department_comment)]
                if request.department_comment
                else []
            ),
            action=(f"Approve or reject request {request.id}", _request_path(request)),
        ),
        to=notify.ced(
            session,
            settings,
            leave_out=[request.requester_id, request.department_decided_by_id],
        ),
    )


def request_decided(
    session: Session,
    *,
    settings: Settings,
    request: AccountRequest,
    outcome: str,
    by: str,
    holders: Sequence[Person] = (),
) -> None:
    """The request was approved, rejected or withdrawn: its requester hears of it, and when
    a new account was approved, its holders."""
    account = named(request.platform, request.handle)
    paragraphs = [f"Request {request.id} ({_what(request)}, {account}) was {outcome} by {by}."]
    if outcome == "approved" and request.kind == RequestKind.new_account:
        paragraphs.append(
            f"The account is now registered as official (account {request.account_id}); "
            "the public can check it on the registry's verify page."
        )
    elif outcome == "approved":
        paragraphs.append("The account is decommissioned; nobody holds it any more.")
    facts = _request_facts(session, request)
    if outcome == "rejected" and request.decision_comment:
        facts.append(("Reason", request.decision_comment))
    elif request.decision_comment:
        facts.append(("Comment", request.decision_comment))
    if holders:
        facts.append(("Holders", ", ".join(p.email for p in holders)))
    requester = session.get(Person, request.requester_id)
    mail = Mail(
        subject=f"Request {request.id} {outcome}: {account}",
        paragraphs=paragraphs,
        facts=facts,
        action=(f"See request {request.id}", _request_path(request)),
    )
    why = f"You receive this because you are the requester of request {request.id}."
    notify.queue(
        session,
        settings=settings,
        event=f"request.{outcome}",
        mail=mail,
        to=notify.person(requester, why),
    )
    others: list[Recipient] = []
    for holder in holders:
        if holder.id != request.requester_id:
            why = f"You receive this because you now hold {account}."
            others += notify.person(holder, why)
    if others:  # the new holders: the same news, and a link to the account they now hold
        notify.queue(
            session,
            settings=settings,
            event=f"request.{outcome}",
            mail=Mail(
                subject=mail.subject,
                paragraphs=paragraphs,
                facts=facts,
                action=(
                    f"See account {request.account_id}",
                    f"/console/accounts/{request.account_id}",
                ),
            ),
            to=others,
        )


def access_changed(
    session: Session,
    *,
    settings: Settings,
    account: Account,
    person: Person,
    granted: bool,
    by: str,
) -> None:
    """Someone was given, or lost, access to an account: they hear of it."""
    name = named(account.platform, account.handle)
    if granted:
        subject = f"You now hold {name}"
        said = (
            f"{by} gave you access to {name} (account {account.id}). As a holder you may "
            "reveal its credentials, with a reason that is recorded."
        )
    else:
        subject = f"Your access to {name} has ended"
        said = f"{by} ended your access to {name} (account {account.id})."
    notify.queue(
        session,
        settings=settings,
        event="access.granted" if granted else "access.revoked",
        mail=Mail(
            subject=subject,
            paragraphs=[said],
            action=(f"See account {account.id}", f"/console/accounts/{account.id}"),
        ),
        to=notify.person(
            person, "You receive this because your access to an official account changed."
        ),
    )


def handover_done(
    session: Session,
    *,
    settings: Settings,
    report: HandoverReport,
    successors: Sequence[Person],
) -> None:
    """A handover ran: each successor hears what it gave them, CED hears the whole of it."""
    due = {c.account_id for c in report.credentials_due}
    for successor in successors:
        theirs = [a for a in report.accounts if a.successor == successor.email]
        moved = [m for m in report.requests_moved if m.to == successor.email]
        items = [
            f"{named(a.platform, a.handle)} (account {a.account_id}, {a.department})"
            + (": its credentials are due for rotation" if a.account_id in due else "")
            for a in theirs
        ] + [f"Request {m.request_id} ({m.state}) is now yours to follow" for m in moved]
        if not items:
            continue
        notify.queue(
            session,
            settings=settings,
            event="handover.done",
            mail=Mail(
                subject=f"Handover from {report.leaver}: {len(theirs)} account(s) now yours",
                paragraphs=[
                    f"{report.leaver} has left government. {report.run_by} handed their "
                    "accounts and open requests over; these are now yours:"
                ],
                items=items,
                action=("See what you hold", "/console/accounts"),
            ),
            to=notify.person(
                successor, "You receive this because you are a successor in this handover."
            ),
        )
    notify.queue(
        session,
        settings=settings,
        event="handover.done",
        mail=Mail(
            subject=f"Handover done: {report.leaver} to {report.successor}",
            paragraphs=[
                f"{report.run_by} ran the handover of {report.leaver}, who has left "
                f"government: {len(report.accounts)} account(s) handed over, "
                f"{len(report.credentials_due)} credential(s) now due for rotation, "
                f"{len(report.requests_moved)} open request(s) moved, "
                f"{report.tokens_revoked} API token(s) revoked."
            ],
            items=[
                f"{named(a.platform, a.handle)} (account {a.account_id}, {a.department}) "
                f"to {a.successor}"
                + (": credentials due for rotation" if a.account_id in due else "")
                for a in report.accounts
            ],
            action=("See the handovers", "/console/handover"),
        ),
        to=notify.ced(session, settings),
    )


def account_renamed(
    session: Session,
    *,
    settings: Settings,
    account: Account,
    old_handle: str,
    holders: Sequence[Person],
    by: str,
) -> None:
    """The platform renamed an account: its holders hear that the old handle no longer
    verifies (it may be registered by anyone now)."""
    old, new = named(account.platform, old_handle), named(account.platform, account.handle)
    notify.queue(
        session,
        settings=settings,
        event="account.renamed",
        mail=Mail(
            subject=f"{old} is now {new}",
            paragraphs=[
                f"{by} recorded that the platform renamed {old} (account {account.id}) to "
                f"{new}. Public verification now answers that {old} is no longer official; "
                "update any links to the old handle."
            ],
            action=(f"See account {account.id}", f"/console/accounts/{account.id}"),
        ),
        to=[
            r
            for p in holders
            for r in notify.person(p, "You receive this as a holder of the account.")
        ],
    )
