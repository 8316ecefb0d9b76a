"""``registry vault``: credentials on file (put, reveal, TOTP, list), key rotation and purge."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    AsOption,
    JsonOption,
    database,
    emit_json,
    emit_table,
    fail,
    printable,
    progress_bar,
    stderr,
    stdout,
    work,
)
from registry.validation import MAX_ID

if TYPE_CHECKING:
    from vault import Secret

app = typer.Typer(
    help="Credentials on file: put, reveal, TOTP, key rotation.", no_args_is_help=True
)


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


@app.command("put")
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


@app.command("reveal")
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


@app.command("totp")
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


@app.command("list")
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


@app.command("rotate-key")
def vault_rotate_key(as_: AsOption = None, json_: JsonOption = False) -> None:
    """Make a new master key current and rewrap every data key under it (resumable)."""
    from registry.jobs import keys

    with database() as (settings, engine), progress_bar("Rewrapping data keys") as progress:
        rotation = keys.rotate_master_key(
            engine=engine, settings=settings, actor_email=as_, progress=progress
        )
    if json_:
        emit_json(dataclasses.asdict(rotation))  # current_key, rewrapped, retired
    else:
        stdout.print(
            f"Master key {rotation.current_key} is current; rewrapped {rotation.rewrapped} "
            f"data keys; retired {', '.join(rotation.retired) or 'no keys'}.",
            markup=False,
        )


@app.command("rotate-signing-key")
def vault_rotate_signing_key(as_: AsOption = None, json_: JsonOption = False) -> None:
    """Sign public answers with a new key from now on; the old public key stays published
    at /.well-known/jwks.json until what it signed has expired."""
    from registry.models import utcnow
    from registry.services import signing

    with work(as_) as w:
        new_kid, dropped = signing.rotate_signing_key(
            w.session, settings=w.settings, actor=w.actor, now=utcnow()
        )
    if json_:
        emit_json({"kid": new_kid, "dropped": dropped})
    else:
        stdout.print(f"Public answers are now signed with key {new_kid}.", markup=False)


@app.command("purge")
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
