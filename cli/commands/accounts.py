"""``registry accounts``: list, show, import and review registered accounts."""

from __future__ import annotations

from pathlib import Path
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
    fail,
    progress_bar,
    read_pages,
    stdout,
    work,
)
from registry.defaults import PAGE_LIMIT
from registry.validation import MAX_ID

if TYPE_CHECKING:
    from registry.models import AccountPublic

app = typer.Typer(help="Registered accounts.", no_args_is_help=True)


def _account_rows(rows: list[AccountPublic]) -> None:
    emit_table(
        "Accounts",
        ["id", "platform", "handle", "department", "category", "status", "holders"],
        [
            (a.id, a.platform, a.handle, a.department, a.category, a.status, ", ".join(a.holders))
            for a in rows
        ],
    )


@app.command("list")
def accounts_list(
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, active, suspended, decommissioned.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Platform name.")] = None,
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the accounts you may see."""
    from registry.services import accounts

    with work(as_) as w:
        rows = read_pages(
            lambda n, after: accounts.list_accounts(
                w.session,
                actor=w.actor,
                department=department,
                status=status,
                platform=platform,
                limit=n,
                after=after,
            ),
            limit=limit,
            every=all_,
        )
    if json_:
        emit_json(rows)
    else:
        _account_rows(rows)


@app.command("show")
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


@app.command("import")
def accounts_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: platform,handle,url,category,department,login_email,purpose,holders; "
            "optional columns display_name, program_area, platform_id, language"
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
    with work(as_) as w, progress_bar("Checking rows") as progress:
        result = accounts.import_accounts(
            w.session, settings=w.settings, actor=w.actor, data=data, progress=progress
        )
    if json_:
        emit_json({"imported": result.count, "account_ids": result.account_ids})
    else:
        stdout.print(f"Imported {result.count} accounts.", markup=False)


@app.command("review")
def accounts_review(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    note: Annotated[str, typer.Option(help="What the review found.")] = "",
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Record CED's periodic review of an account and set the next due date."""
    from registry.services import accounts

    with work(as_) as w:
        public = accounts.review(
            w.session, settings=w.settings, actor=w.actor, account_id=account_id, note=note
        )
    if json_:
        emit_json(public)
    else:
        stdout.print(
            f"Reviewed account {account_id}; the next review is due {public.next_review_on}.",
            markup=False,
        )


@app.command("rename")
def accounts_rename(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    handle: Annotated[str, typer.Option(help="The new handle the platform shows.")],
    url: Annotated[str, typer.Option(help="The new profile link.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """The platform renamed the account (CED): one audited change that keeps its holders,
    credentials and history; the old handle stops verifying."""
    from registry.services import renames

    with work(as_) as w:
        public = renames.rename(
            w.session,
            actor=w.actor,
            account_id=account_id,
            handle=handle,
            url=url,
            settings=w.settings,
        )
        old = renames.history(w.session, actor=w.actor, account_id=account_id)[0].old_handle
    if json_:
        emit_json(public)
    else:
        stdout.print(f"Renamed account {account_id} from @{old} to @{public.handle}.", markup=False)


@app.command("update")
def accounts_update(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The account's id.")],
    platform_id: Annotated[
        str | None,
        typer.Option("--platform-id", help="The platform's permanent id of the account."),
    ] = None,
    clear_platform_id: Annotated[
        bool, typer.Option("--clear-platform-id", help="Forget the platform id.")
    ] = False,
    language: Annotated[str | None, typer.Option(help="en, fr, bilingual or other.")] = None,
    twin: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_ID, help="Its twin in the other official language."),
    ] = None,
    no_twin: Annotated[bool, typer.Option("--no-twin", help="Unlink its twin.")] = False,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="The name it shows publicly.")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Change what the public sees of an account (CED): its platform id, language, twin."""
    from registry.services import account_details

    with work(as_) as w:
        public = account_details.update(
            w.session,
            actor=w.actor,
            account_id=account_id,
            platform_id=platform_id,
            clear_platform_id=clear_platform_id,
            language=language,
            twin_id=twin,
            clear_twin=no_twin,
            display_name=display_name,
        )
    if json_:
        emit_json(public)
    else:
        stdout.print(f"Updated account {account_id}.", markup=False)
