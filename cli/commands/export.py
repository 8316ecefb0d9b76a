"""``registry export --signed FILE``: the public directory as a signed JWS, for a static site."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from cli.common import AsOption, JsonOption, emit_json, fail, stdout, work


def export_command(
    signed: Annotated[
        Path | None,
        typer.Option(
            "--signed",
            help="Write the directory as a compact JWS (application/jose) to this file.",
            dir_okay=False,
        ),
    ] = None,
    plain: Annotated[
        Path | None,
        typer.Option("--plain", help="Write the unsigned JSON document to this file instead."),
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """The public directory (every active account, those withdrawn or renamed this year) as
    a file to publish: signed with the registry's answer key (check it with the keys at
    /.well-known/jwks.json), or plain JSON."""
    if (signed is None) == (plain is None):
        fail("Give one file: --signed FILE for the signed directory, or --plain FILE.")
    target = signed or plain
    assert target is not None
    if not target.parent.is_dir():
        fail(f"Cannot write {target}: the folder {target.parent} does not exist.")
    from registry.models import utcnow
    from registry.services import feed, signing

    now = utcnow()
    with work(as_) as w:
        current = feed.build(w.session.connection(), now=now)
        if signed is not None:
            data = signing.signed_feed(
                w.session, settings=w.settings, actor=w.actor, current=current, now=now
            ).encode("ascii")
        else:
            data = current.body
        _write(target, data)
    digest = hashlib.sha256(data).hexdigest()
    if json_:
        emit_json(
            {
                "file": str(target),
                "signed": signed is not None,
                "accounts": current.count,
                "sha256": digest,
            }
        )
    else:
        kind = "signed directory" if signed is not None else "directory"
        stdout.print(
            f"Wrote the {kind} ({current.count} active accounts) to {target}.", markup=False
        )


def _write(target: Path, data: bytes) -> None:
    """Whole or not at all: a temporary file in the same folder, renamed over the target."""
    try:
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".export-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        fail(f"Cannot write {target}: {(exc.strerror or type(exc).__name__).lower()}.")
