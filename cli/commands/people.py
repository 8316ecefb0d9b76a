"""``registry people``: register people with their roles, change them, list and show them."""

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
from registry.enums import Role

if TYPE_CHECKING:
    from registry.models import PersonPublic

app = typer.Typer(help="People and their roles.", no_args_is_help=True)


@app.command("add")
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
        public = people.add_person(
            w.session,
            settings=w.settings,
            actor=w.actor,
            email=email,
            name=name,
            department=department,
            roles=role or [Role.requester],
        )
    if json_:
        emit_json(public)
    else:
        stdout.print(
            f"Added {public.email} to {public.department} as {', '.join(public.roles)}.",
            markup=False,
        )


@app.command("set")
def people_set(
    email: Annotated[str, typer.Argument(help="The person's e-mail address.")],
    role: Annotated[
        list[Role] | None,
        typer.Option("--role", help="A role; repeat for several. Replaces all their roles."),
    ] = None,
    department: Annotated[
        str | None, typer.Option("--department", help="Department code to move them to.")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Change a person's roles and/or department (administrators)."""
    from registry.services import people

    with work(as_) as w:
        public = people.update_person(
            w.session,
            settings=w.settings,
            actor=w.actor,
            email=email,
            roles=role,
            department=department,
        )
    if json_:
        emit_json(public)
    else:
        stdout.print(
            f"{public.email} is now in {public.department} as {', '.join(public.roles)}.",
            markup=False,
        )


def _people_table(rows: list[PersonPublic]) -> None:
    emit_table(
        "People",
        ["email", "name", "department", "roles", "status"],
        [(p.email, p.name, p.department, ", ".join(p.roles), p.status) for p in rows],
    )


@app.command("list")
def people_list(
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the people you may see."""
    from registry.services import people

    with work(as_) as w:
        rows = read_pages(
            lambda n, after: people.list_people(
                w.session, actor=w.actor, department=department, limit=n, after=after
            ),
            limit=limit,
            every=all_,
        )
    if json_:
        emit_json(rows)
    else:
        _people_table(rows)


@app.command("show")
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
