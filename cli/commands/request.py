"""``registry request``: ask for new accounts and decommissions, and decide on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    AllOption,
    AsOption,
    JsonOption,
    LimitOption,
    emit_fields,
    emit_json,
    emit_table,
    read_pages,
    stdout,
    work,
)
from registry.defaults import PAGE_LIMIT
from registry.validation import MAX_ID

if TYPE_CHECKING:
    from registry.models import RequestPublic

app = typer.Typer(help="Requests for new accounts and decommissions.", no_args_is_help=True)


HolderOption = Annotated[
    list[str] | None, typer.Option("--holder", help="A holder's e-mail; repeat for several.")
]


def _emit_request(request: RequestPublic, json_: bool, *, said: str) -> None:
    if json_:
        emit_json(request)
    else:
        stdout.print(said, markup=False)


@app.command("new")
def request_new(
    platform: Annotated[str, typer.Option(help="facebook, instagram, x, linkedin, ...")],
    handle: Annotated[str, typer.Option(help="The account's handle.")],
    url: Annotated[str, typer.Option(help="The profile URL.")],
    category: Annotated[str, typer.Option(help="official or employment_related.")],
    department: Annotated[str, typer.Option(help="Department code.")],
    login_email: Annotated[str, typer.Option("--login-email", help="Government login e-mail.")],
    purpose: Annotated[str, typer.Option(help="What the account is for.")],
    holder: HolderOption = None,
    program_area: Annotated[str, typer.Option("--program-area", help="Program area.")] = "",
    display_name: Annotated[
        str, typer.Option("--display-name", help="The name the account shows publicly.")
    ] = "",
    platform_id: Annotated[
        str | None,
        typer.Option(
            "--platform-id",
            help="The platform's permanent id of the account (page id, user id, channel id, DID).",
        ),
    ] = None,
    language: Annotated[
        str, typer.Option(help="The language it publishes in: en, fr, bilingual or other.")
    ] = "en",
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Ask for a new official or employment-related account."""
    from registry.services import requests

    with work(as_) as w:
        public = requests.submit_new_account(
            w.session,
            settings=w.settings,
            actor=w.actor,
            platform=platform,
            handle=handle,
            url=url,
            category=category,
            department=department,
            program_area=program_area,
            purpose=purpose,
            login_email=login_email,
            holders=holder or [],
            display_name=display_name,
            platform_id=platform_id,
            language=language,
        )
    _emit_request(
        public,
        json_,
        said=f"Request {public.id} submitted; it awaits {public.department}'s executive.",
    )


@app.command("decommission")
def request_decommission(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    reason: Annotated[str, typer.Option(help="Why it should close.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Ask for an account to be decommissioned."""
    from registry.services import requests

    with work(as_) as w:
        public = requests.submit_decommission(
            w.session, settings=w.settings, actor=w.actor, account_id=account_id, reason=reason
        )
    _emit_request(
        public, json_, said=f"Request {public.id} to decommission account {account_id} submitted."
    )


@app.command("list")
def request_list(
    state: Annotated[str | None, typer.Option(help="submitted, department_approved, ...")] = None,
    awaiting_me: Annotated[
        bool, typer.Option("--awaiting-me", help="Only what you can decide now.")
    ] = False,
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the requests you may see."""
    from registry.services import requests

    with work(as_) as w:
        rows = read_pages(
            lambda n, after: requests.list_requests(
                w.session,
                actor=w.actor,
                state=state,
                awaiting_me=awaiting_me,
                department=department,
                limit=n,
                after=after,
            ),
            limit=limit,
            every=all_,
        )
    if json_:
        emit_json(rows)
    else:
        emit_table(
            "Requests",
            ["id", "kind", "state", "department", "platform", "handle", "requester", "account"],
            [
                (
                    r.id,
                    r.kind,
                    r.state,
                    r.department,
                    r.platform,
                    r.handle,
                    r.requester,
                    r.account_id,
                )
                for r in rows
            ],
        )


@app.command("show")
def request_show(
    request_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The request's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show one request and its decisions."""
    from registry.services import requests

    with work(as_) as w:
        request = requests.show_request(w.session, actor=w.actor, request_id=request_id)
    if json_:
        emit_json(request)
        return
    fields = request.model_dump(exclude={"department_decision", "final_decision"})
    fields["holders"] = ", ".join(request.holders)
    for name, decision in (
        ("department decision", request.department_decision),
        ("final decision", request.final_decision),
    ):
        fields[name] = (
            f"{decision.who} at {decision.at:%Y-%m-%d %H:%M} UTC"
            + (f": {decision.comment}" if decision.comment else "")
            if decision
            else None
        )
    emit_fields(f"Request {request.id}", list(fields.items()))


@app.command("approve")
def request_approve(
    request_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The request's id.")],
    comment: Annotated[str | None, typer.Option(help="A note kept with the decision.")] = None,
    holder: HolderOption = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Approve the request's current stage (CED may add holders at the final approval)."""
    from registry.services import requests

    with work(as_) as w:
        public = requests.approve(
            w.session,
            settings=w.settings,
            actor=w.actor,
            request_id=request_id,
            comment=comment,
            holders=holder or [],
        )
    _emit_request(public, json_, said=requests.approval_outcome(public))


@app.command("reject")
def request_reject(
    request_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The request's id.")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Reject an open request at its current stage."""
    from registry.services import requests

    with work(as_) as w:
        public = requests.reject(
            w.session, settings=w.settings, actor=w.actor, request_id=request_id, reason=reason
        )
    _emit_request(public, json_, said=f"Request {public.id} rejected.")


@app.command("withdraw")
def request_withdraw(
    request_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The request's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Withdraw your own open request."""
    from registry.services import requests

    with work(as_) as w:
        public = requests.withdraw(
            w.session, settings=w.settings, actor=w.actor, request_id=request_id
        )
    _emit_request(public, json_, said=f"Request {public.id} withdrawn.")
