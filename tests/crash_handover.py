"""A handover run as its own process that pauses at one step, for ``tests/test_crash_safety.py``.

    python -m tests.crash_handover DEPARTING SUCCESSOR ACTOR STEP FLAG_FILE

It does what ``registry handover DEPARTING --to SUCCESSOR --as ACTOR`` does (the command in
``cli/commands/handover.py`` through ``cli.common.work``): the settings from the environment,
an engine on ``REGISTRY_DATABASE_URL``, one ``session_scope`` with the audit key's source, the
actor loaded by e-mail, then ``handover.handover``. It passes ``on_step=pause_at(STEP,
FLAG_FILE)``: at that step it writes the step's name to FLAG_FILE and sleeps, with the
transaction open, so that the test can kill it (SIGKILL) exactly there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

PAUSE_SECONDS = 60.0  # long enough for the test to kill it; it goes on afterwards


def pause_at(step: str, flag: Path | str) -> Callable[[str], None]:
    """An ``on_step`` hook, inert but at ``step``: there it announces ``step`` in ``flag``
    (written whole, 0600) and sleeps ``PAUSE_SECONDS`` before letting the handover go on."""
    from registry import files

    def on_step(name: str) -> None:
        if name != step:
            return
        files.write_private(flag, name + "\n")
        time.sleep(PAUSE_SECONDS)

    return on_step


def main(departing: str, successor: str, actor_email: str, step: str, flag: str) -> None:
    from registry.config import get_settings
    from registry.db import make_engine, session_scope
    from registry.keys import session_info
    from registry.services import handover
    from registry.services.actors import actor_by_email

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine, session_info(settings)) as session:
            handover.handover(
                session,
                settings=settings,
                actor=actor_by_email(session, settings, actor_email),
                departing=departing,
                successor=successor,
                mapping={},
                dry_run=False,
                on_step=pause_at(step, flag),
            )
    finally:
        engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:])
