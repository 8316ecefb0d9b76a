"""``registry demo``: a demo registry with realistic, made-up content, a top-level command.

Like ``init`` it creates the keyring and migrates the database (so it loads Alembic); then it
fills the registry through the services in one transaction. It is refused on a registry that
already has content, before anything is touched; ``--if-empty`` (what ``make run`` uses) leaves
such a registry as it is and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import JsonOption, database, emit_json, emit_table, fail, stdout
from registry.errors import RegistryError

if TYPE_CHECKING:
    from registry.config import Settings
    from registry.services.demo import DemoPerson


def demo(
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty",
            help="Leave a registry that already has content as it is (exit 0) instead of refusing.",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Fill an empty registry with a demo: departments, people in every role, accounts on
    every platform, requests at every stage, made-up credentials, a past handover."""
    from sqlalchemy import inspect

    from registry import migrate
    from registry.db import session_scope
    from registry.keys import ensure_keyring, session_info
    from registry.models import RegistryMeta
    from registry.services import demo as service

    with database() as (settings, engine):
        # Settings the demo cannot be made under are refused before anything is touched (but
        # with --if-empty, a registry with content is still left as it is).
        unusable = _unusable(settings)
        if unusable is not None and not if_empty:
            raise unusable
        held, is_demo, listed = None, False, []
        if migrate.current(engine) is not None:
            with session_scope(engine, session_info(settings), writes=False) as session:
                held = service.content(session)
                # A registry older than the marker's table is no demo.
                is_demo = (
                    held is not None
                    and inspect(engine).has_table(RegistryMeta.__tablename__)
                    and service.is_demo(session)
                )
                listed = service.demo_people(session) if is_demo else []
        if held is not None:
            refusal = (
                f"This registry already has content ({held}); `registry demo` fills only an "
                "empty registry"
            )
            if not if_empty:
                fail(refusal + ".")
            kind = "a demo" if is_demo else "not a demo"
            if json_:
                emit_json(
                    {"created": False, "content": held, "demo": is_demo, "people": _as_json(listed)}
                )
            else:
                stdout.print(
                    f"The registry already has content ({held}) and is {kind}; "
                    "`registry demo --if-empty` left it as it is."
                )
                if listed:
                    _how_to_sign_in(listed)
            return
        if unusable is not None:
            raise unusable
        keyring, keyring_created = ensure_keyring(settings)
        migrate.upgrade(engine)
        with session_scope(engine, session_info(settings)) as session:
            result = service.build(session, settings=settings, keyring=keyring)
    if json_:
        emit_json(
            {
                "created": True,
                "demo": True,
                "keyring": str(keyring.path),
                "keyring_created": keyring_created,
                "counts": result.counts,
                "people": _as_json(result.people),
            }
        )
        return
    stdout.print(_made(result.counts))
    if keyring_created:
        stdout.print(
            f"Created the keyring {keyring.path}: back it up apart from the database; "
            "losing it loses every stored credential."
        )
    _how_to_sign_in([p for p in result.people if p.status == "active"])


def _unusable(settings: Settings) -> RegistryError | None:
    from registry.services import demo as service

    try:
        service.check(settings=settings)
    except RegistryError as exc:
        return exc
    return None


def _as_json(listed: list[DemoPerson]) -> list[dict[str, Any]]:
    return [person.public() for person in listed]


def _made(counts: dict[str, Any]) -> str:
    accounts, requests = counts["accounts"], counts["requests"]
    findings = sum(counts["findings"].values())
    return (
        f"Made a demo registry: {counts['departments']} departments, {counts['people']} people "
        f"({counts['people_left']} left through a handover), {accounts['total']} accounts on "
        f"{len(counts['platforms'])} platforms ({accounts.get('decommissioned', 0)} "
        f"decommissioned), {requests['total']} requests at every stage, "
        f"{counts['credentials']} stored credentials (made-up values), {findings} compliance "
        f"findings and {counts['queued_messages']} e-mails queued."
    )


def _how_to_sign_in(listed: list[DemoPerson]) -> None:
    stdout.print(
        "Everything in it is made up. The console's sign-in page (/login) offers "
        '"Sign in as …" for each of these people, without a token:'
    )
    emit_table(
        "Demo people",
        ["name", "e-mail", "department", "roles"],
        [(p.name, p.email, p.department, p.role_label) for p in listed],
    )
