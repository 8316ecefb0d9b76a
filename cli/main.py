"""``registry``: the command line over the same services as the HTTP API.

Each command imports the services and models it uses when it runs, so that ``registry --help``
(and a command's help) loads little beyond Typer; only ``serve`` loads the web stack and only
``init`` and ``db`` load Alembic. ``tests/test_cli_startup.py`` checks it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import backup as backup_cmd
from cli.common import (
    AsOption,
    JsonOption,
    database,
    database_errors,
    emit_fields,
    emit_json,
    emit_table,
    fail,
    get_settings,
    json_escaped,
    printable,
    stderr,
    stdout,
    work,
)
from registry.enums import Role
from registry.errors import InvalidInput
from registry.validation import MAX_ID, parse_time

if TYPE_CHECKING:
    from registry.files import PrivateFile
    from registry.models import (
        AccessGrant,
        AccessGrantPublic,
        AccountPublic,
        HandoverReport,
        PersonPublic,
        RequestPublic,
    )
    from vault import Secret

# registry.services.tokens.DEFAULT_DAYS, repeated so that the help need not load the services
# (tests/test_cli_startup.py checks that the two agree).
TOKEN_DAYS = 90

app = typer.Typer(
    name="registry",
    help="The registry of official government social media accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
departments_app = typer.Typer(help="Departments.", no_args_is_help=True)
people_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
accounts_app = typer.Typer(help="Registered accounts.", no_args_is_help=True)
access_app = typer.Typer(help="Who holds an account.", no_args_is_help=True)
request_app = typer.Typer(help="Requests for new accounts and decommissions.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log and the compliance report.", no_args_is_help=True)
vault_app = typer.Typer(
    help="Credentials on file: put, reveal, TOTP, key rotation.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(departments_app, name="departments")
app.add_typer(people_app, name="people")
app.add_typer(tokens_app, name="tokens")
app.add_typer(accounts_app, name="accounts")
app.add_typer(access_app, name="access")
app.add_typer(request_app, name="request")
app.add_typer(vault_app, name="vault")
app.add_typer(audit_app, name="audit")


# ------------------------------------------------------------------------------ set-up


@app.command()
def init(
    admin: Annotated[str, typer.Option("--admin", help="E-mail of the first administrator.")],
    name: Annotated[str, typer.Option("--name", help="Their name.")],
    json_: JsonOption = False,
) -> None:
    """Create the database (migrations), the CED department and its first administrator."""
    from registry import migrate
    from registry.db import session_scope
    from registry.keys import ensure_keyring, session_info
    from registry.services import people, setup

    with database() as (settings, engine):
        # Refuse a bad --admin or --name before the keyring or the database is touched.
        setup.check_admin(settings=settings, admin_email=admin, admin_name=name)
        keyring, keyring_created = ensure_keyring(settings)
        migrate.upgrade(engine)
        with session_scope(engine, session_info(settings)) as session:
            result = setup.initialise(
                session, settings=settings, admin_email=admin, admin_name=name
            )
            public = people.to_public(session, [result.admin])[0]
    keyring_note = (
        f"Created the keyring {keyring.path}: back it up apart from the database; "
        "losing it loses every stored credential."
        if keyring_created
        else f"Using the existing keyring {keyring.path}."
    )
    if json_:
        emit_json(
            {
                "created": result.created,
                "message": result.message,
                "keyring": str(keyring.path),
                "keyring_created": keyring_created,
                "admin": public.model_dump(mode="json"),
            }
        )
    else:
        stdout.print(result.message, markup=False)
        stdout.print(keyring_note, markup=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    proxy_headers: Annotated[
        bool | None,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Believe X-Forwarded-Proto/-For from --forwarded-allow-ips, so HTTPS at a TLS "
            "proxy gets HSTS and Secure cookies [default: REGISTRY_PROXY_HEADERS, or yes].",
            show_default=False,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses or networks of the trusted proxies "
            "[default: REGISTRY_FORWARDED_ALLOW_IPS, or 127.0.0.1].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from registry.config import trusted_proxies

    with database() as (settings, _):
        pass  # a bad setting or database URL is refused here, not as a traceback per worker
    if forwarded_allow_ips is None:
        forwarded_allow_ips = settings.forwarded_allow_ips
    else:
        try:
            forwarded_allow_ips = trusted_proxies(forwarded_allow_ips)
        except ValueError as exc:
            fail(f"--forwarded-allow-ips is not usable: {exc}.")
    uvicorn.run(
        "registry.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=settings.proxy_headers if proxy_headers is None else proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )


app.command("backup")(backup_cmd.backup)
app.command("restore")(backup_cmd.restore)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _migrate("upgrade", revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Undo migrations down to REVISION (default: one step)."""
    _migrate("downgrade", revision)


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the newest one available."""
    from registry import migrate

    with database() as (_, engine):
        revision = migrate.current(engine)
    head = migrate.head()
    state = "up to date" if revision == head else f"newest is {head}"
    stdout.print(f"{revision or 'none (empty database)'} ({state})", markup=False)


def _migrate(action: str, revision: str) -> None:
    from alembic.util import CommandError

    from registry import migrate

    with database() as (_, engine):
        try:
            getattr(migrate, action)(engine, revision)
        except CommandError as exc:
            fail(f"{str(exc).rstrip('.')}; nothing changed.")
        now = migrate.current(engine)
    stdout.print(f"Database is at revision {now or 'none'}.", markup=False)


# ------------------------------------------------------------------------------ departments


@departments_app.command("add")
def departments_add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. AGR.")],
    name: Annotated[str, typer.Argument(help="Full name.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Add a department (administrators)."""
    from registry.models import DepartmentPublic
    from registry.services import departments

    with work(as_) as w:
        dept = departments.add_department(w.session, actor=w.actor, code=code, name=name)
        public = DepartmentPublic.model_validate(dept, from_attributes=True)
    if json_:
        emit_json(public)
    else:
        stdout.print(f"Added department {public.code} ({public.name}).", markup=False)


@departments_app.command("list")
def departments_list(as_: AsOption = None, json_: JsonOption = False) -> None:
    """List departments."""
    from registry.models import DepartmentPublic
    from registry.services import departments

    with work(as_) as w:
        rows = [
            DepartmentPublic.model_validate(d, from_attributes=True)
            for d in departments.list_departments(w.session)
        ]
    if json_:
        emit_json(rows)
    else:
        emit_table("Departments", ["code", "name"], [(d.code, d.name) for d in rows])


# ------------------------------------------------------------------------------ people


@people_app.command("add")
def people_add(
    email: Annotated[str, typer.Argument(help="Government e-mail address.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    department: Annotated[str, typer.Option("--department", help="Department code.")],
    role: Annotated[
        list[Role] | None, typer.Option("--role", help="A role; repeat for several.")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Register a person (administrators)."""
    from registry.services import people

    with work(as_) as w:
        person = people.add_person(
            w.session,
            settings=w.settings,
            actor=w.actor,
            email=email,
            name=name,
            department=department,
            roles=role or [Role.requester],
        )
        public = people.to_public(w.session, [person])[0]
    if json_:
        emit_json(public)
    else:
        stdout.print(
            f"Added {public.email} to {public.department} as {', '.join(public.roles)}.",
            markup=False,
        )


def _people_table(rows: list[PersonPublic]) -> None:
    emit_table(
        "People",
        ["email", "name", "department", "roles", "status"],
        [(p.email, p.name, p.department, ", ".join(p.roles), p.status) for p in rows],
    )


@people_app.command("list")
def people_list(
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the people you may see."""
    from registry.services import people

    with work(as_) as w:
        rows = people.list_people(w.session, actor=w.actor, department=department)
    if json_:
        emit_json(rows)
    else:
        _people_table(rows)


@people_app.command("show")
def people_show(
    email: Annotated[str, typer.Argument()], as_: AsOption = None, json_: JsonOption = False
) -> None:
    """Show one person."""
    from registry.services import people

    with work(as_) as w:
        person = people.show_person(w.session, actor=w.actor, email=email)
    if json_:
        emit_json(person)
    else:
        emit_fields(person.email, list(person.model_dump().items()))


# ------------------------------------------------------------------------------ tokens


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="Whose token.")],
    days: Annotated[int, typer.Option(help="Days until it expires.")] = TOKEN_DAYS,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Create an API token (administrators). It is printed once and never again."""
    from registry.models import TokenCreated
    from registry.services import tokens

    with work(as_) as w:
        issued = tokens.create_token(w.session, actor=w.actor, email=email, days=days)
        public = tokens.to_public(w.session, [issued.row])[0]
    created = TokenCreated(**public.model_dump(), token=issued.token)
    if json_:
        emit_json(created)
    else:
        stderr.print(
            f"Token {created.id} for {created.person}, expires {created.expires_at:%Y-%m-%d}. "
            "It is shown only now:",
            markup=False,
        )
        sys.stdout.write(issued.token + "\n")


@tokens_app.command("list")
def tokens_list(
    email: Annotated[str | None, typer.Option(help="Whose tokens (administrators).")] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List tokens (never their secrets)."""
    from registry.services import tokens

    with work(as_) as w:
        rows = tokens.list_tokens(w.session, actor=w.actor, email=email)
    if json_:
        emit_json(rows)
    else:
        emit_table(
            "API tokens",
            ["id", "person", "prefix", "created", "expires", "revoked"],
            [
                (
                    t.id,
                    t.person,
                    t.prefix + "...",
                    f"{t.created_at:%Y-%m-%d}",
                    f"{t.expires_at:%Y-%m-%d}",
                    t.revoked_at and f"{t.revoked_at:%Y-%m-%d}",
                )
                for t in rows
            ],
        )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The token's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Revoke a token (your own, or any as an administrator)."""
    from registry.services import tokens

    with work(as_) as w:
        row = tokens.revoke_token(w.session, actor=w.actor, token_id=token_id)
        public = tokens.to_public(w.session, [row])[0]
    if json_:
        emit_json(public)
    else:
        stdout.print(f"Token {public.id} of {public.person} is revoked.", markup=False)


# ------------------------------------------------------------------------------ accounts


def _account_rows(rows: list[AccountPublic]) -> None:
    emit_table(
        "Accounts",
        ["id", "platform", "handle", "department", "category", "status", "holders"],
        [
            (a.id, a.platform, a.handle, a.department, a.category, a.status, ", ".join(a.holders))
            for a in rows
        ],
    )


@accounts_app.command("list")
def accounts_list(
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, active, suspended, decommissioned.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Platform name.")] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the accounts you may see."""
    from registry.services import accounts

    with work(as_) as w:
        rows = accounts.list_accounts(
            w.session, actor=w.actor, department=department, status=status, platform=platform
        )
    if json_:
        emit_json(rows)
    else:
        _account_rows(rows)


@accounts_app.command("show")
def accounts_show(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show one account and its holders."""
    from registry.services import accounts

    with work(as_) as w:
        account = accounts.show_account(w.session, actor=w.actor, account_id=account_id)
    if json_:
        emit_json(account)
    else:
        fields = account.model_dump()
        fields["holders"] = ", ".join(account.holders)
        emit_fields(f"Account {account.id}", list(fields.items()))


@accounts_app.command("import")
def accounts_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: platform,handle,url,category,department,login_email,purpose,holders"
        ),
    ],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Import CED's existing list: every row checked, all rows or none, bad rows named."""
    from registry.services import accounts

    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"Cannot read {file}: {exc.strerror or exc}.")
    with work(as_) as w, _progress("Checking rows") as progress:
        result = accounts.import_accounts(
            w.session, settings=w.settings, actor=w.actor, data=data, progress=progress
        )
    if json_:
        emit_json({"imported": result.count, "account_ids": result.account_ids})
    else:
        stdout.print(f"Imported {result.count} accounts.", markup=False)


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on a terminal (stderr); nothing when output is not a terminal."""
    if not stderr.is_terminal:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


# ------------------------------------------------------------------------------ access


def _change_access(
    operation: Callable[..., AccessGrant], account_id: int, email: str, as_: str | None
) -> AccessGrantPublic:
    from registry.services import access

    with work(as_) as w:
        row = operation(
            w.session, settings=w.settings, actor=w.actor, account_id=account_id, email=email
        )
        return access.grant_to_public(w.session, row)


@access_app.command("grant")
def access_grant(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID)],
    email: Annotated[str, typer.Argument()],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Give a person access to an account (CED or administrators)."""
    from registry.services import access

    public = _change_access(access.grant, account_id, email, as_)
    if json_:
        emit_json(public)
    else:
        stdout.print(f"{public.holder} now holds account {account_id}.", markup=False)


@access_app.command("revoke")
def access_revoke(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID)],
    email: Annotated[str, typer.Argument()],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Take a person's access away (CED or administrators); refused if rule 3 would break."""
    from registry.services import access

    public = _change_access(access.revoke, account_id, email, as_)
    if json_:
        emit_json(public)
    else:
        stdout.print(f"{public.holder} no longer holds account {account_id}.", markup=False)


# ------------------------------------------------------------------------------ requests

HolderOption = Annotated[
    list[str] | None, typer.Option("--holder", help="A holder's e-mail; repeat for several.")
]


def _emit_request(request: RequestPublic, json_: bool, *, said: str) -> None:
    if json_:
        emit_json(request)
    else:
        stdout.print(said, markup=False)


@request_app.command("new")
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
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Ask for a new official or employment-related account."""
    from registry.services import requests

    with work(as_) as w:
        request = requests.submit_new_account(
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
        )
        public = requests.to_public(w.session, [request])[0]
    _emit_request(
        public,
        json_,
        said=f"Request {public.id} submitted; it awaits {public.department}'s executive.",
    )


@request_app.command("decommission")
def request_decommission(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    reason: Annotated[str, typer.Option(help="Why it should close.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Ask for an account to be decommissioned."""
    from registry.services import requests

    with work(as_) as w:
        request = requests.submit_decommission(
            w.session, actor=w.actor, account_id=account_id, reason=reason
        )
        public = requests.to_public(w.session, [request])[0]
    _emit_request(
        public, json_, said=f"Request {public.id} to decommission account {account_id} submitted."
    )


@request_app.command("list")
def request_list(
    state: Annotated[str | None, typer.Option(help="submitted, department_approved, ...")] = None,
    awaiting_me: Annotated[
        bool, typer.Option("--awaiting-me", help="Only what you can decide now.")
    ] = False,
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the requests you may see."""
    from registry.services import requests

    with work(as_) as w:
        rows = requests.list_requests(
            w.session, actor=w.actor, state=state, awaiting_me=awaiting_me, department=department
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


@request_app.command("show")
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


@request_app.command("approve")
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
        request = requests.approve(
            w.session,
            settings=w.settings,
            actor=w.actor,
            request_id=request_id,
            comment=comment,
            holders=holder or [],
        )
        public = requests.to_public(w.session, [request])[0]
    _emit_request(public, json_, said=requests.approval_outcome(public))


@request_app.command("reject")
def request_reject(
    request_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The request's id.")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Reject an open request at its current stage."""
    from registry.services import requests

    with work(as_) as w:
        request = requests.reject(w.session, actor=w.actor, request_id=request_id, reason=reason)
        public = requests.to_public(w.session, [request])[0]
    _emit_request(public, json_, said=f"Request {public.id} rejected.")


@request_app.command("withdraw")
def request_withdraw(
    request_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The request's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Withdraw your own open request."""
    from registry.services import requests

    with work(as_) as w:
        request = requests.withdraw(w.session, actor=w.actor, request_id=request_id)
        public = requests.to_public(w.session, [request])[0]
    _emit_request(public, json_, said=f"Request {public.id} withdrawn.")


# ------------------------------------------------------------------------------ vault

KindOption = Annotated[str, typer.Option("--kind", help="password, totp_seed or recovery_codes.")]
ARGUMENT_REFUSED = (
    "Secrets are never taken as command-line arguments (they would stay in shell history and "
    "process lists); pipe the value on stdin or type it at the hidden prompt. Nothing was stored."
)


def _read_secret() -> Secret[str]:
    """The secret from a hidden prompt on a terminal, or all of stdin otherwise (UTF-8, at
    most ``MAX_SECRET_LENGTH`` characters and a line ending: a longer stream is refused, not
    read to its end)."""
    from registry.services.credentials import MAX_SECRET_LENGTH
    from vault import Secret

    if sys.stdin is None:
        fail(
            "There is no standard input to read the secret from; pipe the value on stdin or "
            "type it at the hidden prompt. Nothing was stored."
        )
    if sys.stdin.isatty():
        value = typer.prompt("Secret", hide_input=True, confirmation_prompt=True)
        return Secret(value)
    limit = 4 * MAX_SECRET_LENGTH + 2  # UTF-8 takes at most 4 bytes a character; then CR LF
    stream = getattr(sys.stdin, "buffer", None)  # None when stdin was replaced by a text stream
    data = (
        stream.read(limit + 1)
        if stream is not None
        else sys.stdin.read(limit + 1).encode("utf-8", "surrogateescape")
    )
    if len(data) > limit:
        fail(f"The secret is longer than {MAX_SECRET_LENGTH} characters; nothing was stored.")
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        fail("The secret is not valid UTF-8 text; nothing was stored.")
    if value.endswith("\n"):
        value = value[:-1]
        if value.endswith("\r"):
            value = value[:-1]
    return Secret(value)


@vault_app.command("put")
def vault_put(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    kind: KindOption,
    extra: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Store a new version of a credential, read from stdin or a hidden prompt."""
    from registry.services import credentials

    if extra:
        fail(ARGUMENT_REFUSED)
    value = _read_secret()
    with work(as_) as w:
        row = credentials.put(
            w.session,
            keyring=w.keyring(),
            actor=w.actor,
            account_id=account_id,
            kind=kind,
            value=value,
        )
        version, kind_stored = row.version, row.kind
    if json_:
        emit_json({"account_id": account_id, "kind": kind_stored, "version": version})
    else:
        stdout.print(
            f"Stored version {version} of the {kind_stored} of account {account_id}.", markup=False
        )


@vault_app.command("reveal")
def vault_reveal(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    kind: KindOption,
    reason: Annotated[str, typer.Option(help="Why you need it (kept in the audit log).")],
    version: Annotated[
        int | None, typer.Option(min=1, max=MAX_ID, help="An older version.")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a credential once; the reveal is audited with your reason."""
    from registry.services import credentials

    with work(as_) as w:
        revealed = credentials.reveal(
            w.session,
            keyring=w.keyring(),
            actor=w.actor,
            account_id=account_id,
            kind=kind,
            reason=reason,
            version=version,
        )
        public = revealed.public()
    if json_:
        emit_json(public)
    else:
        # Never a control character to the terminal, even in a secret stored before `vault
        # put` refused them: shown as escapes, with a word on stderr; --json stays exact.
        shown = printable(public.value)
        if shown != public.value:
            stderr.print(
                "The value holds control or invisible characters, written below as escapes "
                "such as \\x1b; --json gives it exactly.",
                markup=False,
            )
        stderr.print(
            f"{public.kind} of account {account_id}, version {public.version} "
            f"(set by {public.set_by}); this reveal is audited:",
            markup=False,
        )
        sys.stdout.write(shown + "\n")


@vault_app.command("totp")
def vault_totp(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """The account's current TOTP code and how long it stays valid (never the seed)."""
    from registry.services import credentials

    with work(as_) as w:
        code = credentials.totp(
            w.session, keyring=w.keyring(), actor=w.actor, account_id=account_id
        )
    if json_:
        emit_json({"account_id": account_id, "code": code.code, "seconds_left": code.seconds_left})
    else:
        stdout.print(f"{code.code} (valid for {code.seconds_left} more seconds)", markup=False)


@vault_app.command("list")
def vault_list(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Which credentials an account has on file (versions, who set them; never values)."""
    from registry.services import credentials

    with work(as_) as w:
        rows = credentials.status(w.session, actor=w.actor, account_id=account_id)
    if json_:
        emit_json(rows)
    else:
        emit_table(
            f"Credentials of account {account_id}",
            ["kind", "version", "versions kept", "set by", "set at"],
            [
                (r.kind, r.version, r.versions_kept, r.set_by, f"{r.set_at:%Y-%m-%d %H:%M}")
                for r in rows
            ],
        )


@vault_app.command("rotate-key")
def vault_rotate_key(as_: AsOption = None, json_: JsonOption = False) -> None:
    """Make a new master key current and rewrap every data key under it (resumable)."""
    from registry.services import credentials

    with work(as_) as w:
        keyring = w.keyring()
        key_id, pending = credentials.begin_rotation(w.session, keyring=keyring, actor=w.actor)
    done = 0
    with _progress("Rewrapping data keys") as progress:
        while True:
            with work(as_) as w:
                count = credentials.rewrap_batch(w.session, keyring=keyring, actor=w.actor)
            if count == 0:
                break
            done += count
            if progress is not None:
                progress(done, max(pending, done))
    with work(as_) as w:
        retired = credentials.finish_rotation(w.session, keyring=keyring, actor=w.actor)
    if json_:
        emit_json({"current_key": key_id, "rewrapped": done, "retired": retired})
    else:
        stdout.print(
            f"Master key {key_id} is current; rewrapped {done} data keys; "
            f"retired {', '.join(retired) or 'no keys'}.",
            markup=False,
        )


@vault_app.command("purge")
def vault_purge(as_: AsOption = None, json_: JsonOption = False) -> None:
    """Shred the credentials of accounts decommissioned longer than the retention period."""
    from registry.services import credentials

    with work(as_) as w:
        report = credentials.purge(w.session, settings=w.settings, actor=w.actor)
    if json_:
        emit_json(
            [{"account_id": p.account_id, "kind": p.kind, "versions": p.versions} for p in report]
        )
    elif not report:
        stdout.print("Nothing to purge.", markup=False)
    else:
        emit_table(
            "Shredded credentials",
            ["account", "kind", "versions"],
            [(p.account_id, p.kind, p.versions) for p in report],
        )


# ------------------------------------------------------------------------------ handover


@app.command("handover")
def handover_command(
    departing: Annotated[str, typer.Argument(help="E-mail of the person leaving government.")],
    to: Annotated[str, typer.Option("--to", help="E-mail of the successor.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the report; change nothing.")
    ] = False,
    map_file: Annotated[
        Path | None,
        typer.Option("--map", help="CSV account_id,successor_email: per-account successors."),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the report as CSV (for HR).")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Hand every account a leaver holds to a successor, in one step (admin or CED)."""
    from registry.services import handover

    mapping: dict[int, str] = {}
    if map_file is not None:
        try:
            data = map_file.read_bytes()
        except OSError as exc:
            fail(f"Cannot read {map_file}: {exc.strerror or exc}.")
        with database_errors(get_settings()):
            mapping = handover.parse_map(data)
    with _output_file(csv_file) as hr:
        with work(as_) as w:
            report = handover.handover(
                w.session,
                settings=w.settings,
                actor=w.actor,
                departing=departing,
                successor=to,
                mapping=mapping,
                dry_run=dry_run,
            )
        # The report first: it lists the credentials to rotate, which must not be lost when
        # the CSV cannot be written.
        if json_:
            emit_json(report)
        else:
            _print_handover(report)
        if hr is not None:
            try:
                hr.write(handover.report_csv(report))
                hr.commit()
            except OSError as exc:
                done = "Nothing changed (a preview)" if dry_run else "The handover is done"
                fail(f"{done}, but {csv_file} could not be written: {exc.strerror or exc}.")


@contextmanager
def _output_file(path: Path | None) -> Iterator[PrivateFile | None]:
    """A private file for ``path`` (see ``registry.files``), made before the work starts so
    that a path that cannot be written is refused with nothing changed; what is not committed
    is removed again, and an existing file is replaced only by a finished one."""
    from registry.files import PrivateFile

    if path is None:
        yield None
        return
    try:
        output = PrivateFile.create(path)
    except OSError as exc:
        fail(f"Cannot write {path}: {exc.strerror or exc}; nothing changed.")
    try:
        yield output
    finally:
        output.discard()


def _print_handover(report: HandoverReport) -> None:
    title = (
        f"PREVIEW (nothing changed): handover of {report.leaver} to {report.successor}"
        if report.dry_run
        else f"Handover {report.id}: {report.leaver} to {report.successor}, "
        f"run by {report.run_by} at {report.at:%Y-%m-%d %H:%M} UTC"
    )
    emit_table(
        title,
        ["account", "platform", "handle", "department", "status", "successor", "holders after"],
        [
            (
                a.account_id,
                a.platform,
                a.handle,
                a.department,
                a.status,
                a.successor + ("" if a.successor_added else " (already a holder)"),
                ", ".join(a.holders_after),
            )
            for a in report.accounts
        ],
    )
    if report.credentials_due:
        emit_table(
            "Credentials to rotate (known to a holder who left)",
            ["account", "kind", "version", "why"],
            [(c.account_id, c.kind, c.version, c.why) for c in report.credentials_due],
        )
    lines = []
    if report.login_email_flags:
        ids = ", ".join(str(i) for i in report.login_email_flags)
        lines.append(
            f"Accounts whose login e-mail is {report.leaver}'s own address (move them to a "
            f"shared government mailbox): {ids}."
        )
    if report.requests_moved:
        moved = ", ".join(str(m.request_id) for m in report.requests_moved)
        lines.append(f"Open requests moved to {report.successor}: {moved}.")
    lines.append(
        f"API tokens revoked: {report.tokens_revoked}. Roles removed: "
        f"{', '.join(report.roles_removed) or 'none'}."
    )
    for line in lines:
        stdout.print(line, markup=False)


# ------------------------------------------------------------------------------ audit


def _when(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, what=what)
    except InvalidInput as exc:
        fail(exc.message)


@audit_app.command("log")
def audit_log(
    account: Annotated[int | None, typer.Option(help="Only events about this account.")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only events by this e-mail.")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. credential.revealed.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date/time (UTC).")] = None,
    as_: AsOption = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON Lines, one event a line.")] = False,
) -> None:
    """Read the audit log (CED, administrators, auditors)."""
    from registry.services import audit

    start, end = _when(since, "--since"), _when(until, "--until")
    with work(as_) as w:
        events = audit.list_events(
            w.session,
            actor=w.actor,
            account_id=account,
            by=actor,
            action=action,
            since=start,
            until=end,
            limit=None,
        )
    if json_:
        for event in events:
            sys.stdout.write(json_escaped(event.model_dump_json()) + "\n")
        return
    emit_table(
        "Audit log",
        ["seq", "at (UTC)", "actor", "action", "entity", "details"],
        [
            (
                e.seq,
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor or "system",
                e.action,
                f"{e.entity_type} {e.entity_id}",
                json.dumps(e.details, ensure_ascii=False),
            )
            for e in events
        ],
    )


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None, typer.Option(help="A signed checkpoint to check the log against.")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Recompute the chain; exit 0 only when the log is whole."""
    from registry.services import audit

    data = None
    if checkpoint is not None:
        try:
            data = checkpoint.read_bytes()
        except OSError as exc:
            fail(f"Cannot read {checkpoint}: {exc.strerror or exc}.")
    with work(as_) as w:
        verdict = audit.verify_log(w.session, keyring=w.keyring(), actor=w.actor, checkpoint=data)
    if json_:
        emit_json({**dataclasses.asdict(verdict), "message": verdict.message})
    else:
        (stdout if verdict.whole else stderr).print(verdict.message, markup=False)
    if not verdict.whole:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed checkpoint.")],
    as_: AsOption = None,
) -> None:
    """Write the chain's head, signed, to keep somewhere the database's writers cannot reach."""
    from registry.files import write_private
    from registry.services import audit

    with work(as_) as w:
        mark = audit.make_checkpoint(w.session, keyring=w.keyring(), actor=w.actor)
    try:
        write_private(out, json.dumps(mark, indent=2) + "\n")
    except OSError as exc:
        fail(f"Cannot write {out}: {exc.strerror or exc}.")
    stdout.print(f"Checkpoint at sequence {mark['seq']} written to {out}.", markup=False)


@audit_app.command("seal")
def audit_seal(as_: AsOption = None) -> None:
    """Chain events written while the keyring was unavailable."""
    from registry.services import audit

    with work(as_) as w:
        count = audit.seal(w.session, keyring=w.keyring(), actor=w.actor)
    stdout.print(f"Sealed {count} event(s).", markup=False)


@audit_app.command("report")
def audit_report(
    format_: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    fail_on_violation: Annotated[
        bool, typer.Option("--fail-on-violation", help="Exit 1 when there is any finding.")
    ] = False,
    as_: AsOption = None,
) -> None:
    """The compliance report: every finding, waiting requests, totals per department."""
    from registry.services import compliance

    if format_ not in ("table", "json", "csv"):
        fail(f"--format must be table, json or csv, not {format_!r}.")
    with work(as_) as w:
        found = compliance.report(
            w.session, settings=w.settings, actor=w.actor, department=department
        )
    if format_ == "json":
        emit_json(found)
    elif format_ == "csv":
        sys.stdout.write(printable(compliance.to_csv(found)))
    else:
        emit_table(
            f"Compliance findings ({len(found.findings)})",
            ["department", "account", "request", "rule", "severity", "finding"],
            [
                (f.department, f.account_id, f.request_id, f.rule, f.severity, f.message)
                for f in found.findings
            ],
        )
        emit_table(
            "Totals per department",
            ["department", "active accounts", "findings", "high", "medium"],
            [(t.department, t.active_accounts, t.findings, t.high, t.medium) for t in found.totals],
        )
    if fail_on_violation and found.findings:
        raise typer.Exit(1)


@accounts_app.command("review")
def accounts_review(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    note: Annotated[str, typer.Option(help="What the review found.")] = "",
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Record CED's periodic review of an account and set the next due date."""
    from registry.services import accounts

    with work(as_) as w:
        accounts.review(
            w.session, settings=w.settings, actor=w.actor, account_id=account_id, note=note
        )
        public = accounts.show_account(w.session, actor=w.actor, account_id=account_id)
    if json_:
        emit_json(public)
    else:
        stdout.print(
            f"Reviewed account {account_id}; the next review is due {public.next_review_on}.",
            markup=False,
        )


# ------------------------------------------------------------------------------ public


@app.command("verify")
def verify_command(
    platform: Annotated[str | None, typer.Option(help="facebook, instagram, x, ...")] = None,
    handle: Annotated[str | None, typer.Option(help="The handle, with or without @.")] = None,
    url: Annotated[
        str | None, typer.Option(help="A profile link instead of platform+handle.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Is this an official government account? Exit 0 when it is, 1 when it is not."""
    from registry.db import read_only
    from registry.services import verify

    # One statement: an autocommit read, which on SQLite takes no write lock (as the API).
    with database() as (_, engine), read_only(engine) as connection:
        answer = verify.answer(connection, platform=platform, handle=handle, url=url)
    if json_:
        emit_json(answer)
    else:
        stdout.print(answer.message, markup=False)
    if not answer.official:
        raise typer.Exit(1)


def main() -> None:
    """The ``registry`` console script."""
    for position, argument in enumerate(sys.argv[1:], start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            # Bytes that are not UTF-8 reach Python as lone surrogates, which no database,
            # JSON document or terminal takes: refuse them before any command runs.
            shown = os.fsencode(argument)[:60].decode("utf-8", "backslashreplace")
            stderr.print(
                f"Argument {position} ({shown}) is not valid UTF-8 text; nothing was done.",
                markup=False,
            )
            raise SystemExit(1) from None
    app()


if __name__ == "__main__":
    main()
