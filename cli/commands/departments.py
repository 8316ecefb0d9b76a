"""``registry departments``: add and list departments."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import (
    AllOption,
    AsOption,
    JsonOption,
    LimitOption,
    emit_json,
    emit_table,
    read_pages,
    stdout,
    work,
)
from registry.defaults import PAGE_LIMIT

app = typer.Typer(help="Departments.", no_args_is_help=True)


@app.command("add")
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


@app.command("list")
def departments_list(
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List departments."""
    from registry.models import DepartmentPublic
    from registry.services import departments

    with work(as_) as w:
        found = read_pages(
            lambda n, after: departments.list_departments(w.session, limit=n, after=after),
            limit=limit,
            every=all_,
        )
        rows = [DepartmentPublic.model_validate(d, from_attributes=True) for d in found]
    if json_:
        emit_json(rows)
    else:
        emit_table("Departments", ["code", "name"], [(d.code, d.name) for d in rows])
