"""What every command shares: who is acting, one transaction, errors and output.

Only Typer and Rich are imported up front: ``registry --help`` and the help of every command
must not pay for SQLAlchemy, pydantic or the services. What a command needs is imported when
it runs (``tests/test_cli_startup.py`` holds the line).
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from registry.defaults import PAGE_MAX
from registry.errors import CONCURRENT_CHANGE, DATA_REFUSED, RegistryError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session

    from registry.config import Settings
    from registry.paging import Key, Page
    from registry.services.actors import Actor
    from vault import Keyring

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="REGISTRY_ACTOR",
        help="E-mail of the person acting (or set REGISTRY_ACTOR).",
        show_envvar=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON alone on stdout.")]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=PAGE_MAX, help="Show at most this many.")
]
AllOption = Annotated[bool, typer.Option("--all", help="Show every one (overrides --limit).")]

T = TypeVar("T")

# Characters a terminal obeys or hides rather than shows: controls (ESC starts escape
# sequences that can set the clipboard, hide text or draw hyperlinks; CR overwrites the line),
# format characters (direction overrides, zero-width characters) and line separators.
_UNSHOWN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _unshown(char: str) -> bool:
    return char not in "\n\t" and unicodedata.category(char) in _UNSHOWN


def _python_escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_escape(char: str) -> str:
    units = char.encode("utf-16-be")  # a character past U+FFFF is a surrogate pair in JSON
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def printable(text: str) -> str:
    """``text`` with every character a terminal would obey or hide written as an escape
    (``\\x1b``, ``\\u200b``), so that what is shown is what is stored; line breaks and tabs
    stay as they are."""
    if text.isprintable():
        return text
    return "".join(_python_escape(char) if _unshown(char) else char for char in text)


def json_escaped(text: str) -> str:
    """A JSON document with the characters :func:`printable` escapes that JSON leaves raw (DEL,
    C1 controls such as U+009B, format characters, U+2028) written as ``\\u`` escapes: the
    same document once decoded, and nothing a terminal obeys. They occur only inside strings."""
    if text.isprintable():
        return text
    return "".join(_json_escape(char) if _unshown(char) else char for char in text)


def literal(value: object) -> Text:
    """``value`` as text that is printed exactly as it is: never read as Rich markup (``[/]``,
    ``[link=...]``) or emoji codes, with control characters shown as escapes (:func:`printable`).
    Every table cell, title and line the command line prints goes through here."""
    return Text("" if value is None else printable(str(value)))


class _Terminal(Console):
    """A console whose every printed string is :func:`literal`: user text in a message (an
    e-mail, a name, a reason) cannot style, link, hide or break what is printed."""

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(literal(o) if isinstance(o, str) else o for o in objects), **options)


stdout = _Terminal(soft_wrap=True)
stderr = _Terminal(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str, problems: Sequence[str] = ()) -> NoReturn:
    """Say why on stderr, one sentence (and any listed problems), and exit 1."""
    stderr.print(message)
    for problem in problems:
        stderr.print(f"  {problem}")
    raise typer.Exit(1)


@dataclass
class Work:
    session: Session
    settings: Settings
    actor: Actor

    def keyring(self) -> Keyring:
        """The vault's keyring, opened only by commands that touch secrets."""
        from registry.keys import open_keyring

        return open_keyring(self.settings)


def get_settings() -> Settings:
    """The settings from the environment (pydantic-settings is loaded only when asked); a bad
    one is refused naming its variable."""
    from pydantic import ValidationError

    from registry import config

    try:
        return config.get_settings()
    except ValidationError as exc:
        first, *rest = config.problems(exc)
        fail(first, rest)


def _where(settings: Settings) -> str:
    """The database URL without its password, to name it in a message."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "REGISTRY_DATABASE_URL"


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """Turn registry errors and an unreachable or empty database into one clear sentence."""
    from sqlalchemy.exc import (
        DataError,
        DBAPIError,
        IntegrityError,
        OperationalError,
        ProgrammingError,
    )

    try:
        yield
    except RegistryError as exc:
        fail(exc.message, exc.problems)
    except IntegrityError:
        fail(CONCURRENT_CHANGE)
    except DataError:
        fail(DATA_REFUSED)
    except (OperationalError, ProgrammingError) as exc:
        where = _where(settings)
        text = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            fail(f"The registry at {where} is not initialised; run `registry init` first.")
        fail(f"Cannot use the database at {where}: {text.splitlines()[0]}")


@contextmanager
def database() -> Iterator[tuple[Settings, Engine]]:
    """The settings and an engine on ``REGISTRY_DATABASE_URL`` for one command.

    A bad setting or a URL no engine can be made from is refused before anything is opened;
    inside the block, registry errors and database failures become one sentence
    (:func:`database_errors`); the engine is disposed at the end.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from registry.db import make_engine

    settings = get_settings()
    use = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"
    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError):
        fail(f"REGISTRY_DATABASE_URL is not a usable database URL: it cannot be parsed ({use}).")
    shown = url.render_as_string(hide_password=True)
    bad = f"REGISTRY_DATABASE_URL {shown} is not a usable database URL"
    try:
        engine = make_engine(settings.database_url)
    except NoSuchModuleError:
        fail(f"{bad}: there is no database dialect {url.drivername!r} ({use}).")
    except ImportError as exc:
        fail(f"{bad}: its driver {exc.name or ''} is not installed ({use}).")
    except (ArgumentError, ValueError) as exc:
        fail(f"{bad}: {str(exc).splitlines()[0].rstrip('.')} ({use}).")
    try:
        with database_errors(settings):
            yield settings, engine
    finally:
        engine.dispose()


@contextmanager
def work(as_: str | None) -> Iterator[Work]:
    """One command, one transaction, acting as ``as_`` (``--as`` or REGISTRY_ACTOR)."""
    from registry.db import session_scope
    from registry.keys import session_info
    from registry.services.actors import actor_by_email

    with database() as (settings, engine), session_scope(engine, session_info(settings)) as session:
        actor = actor_by_email(session, settings, as_)
        yield Work(session=session, settings=settings, actor=actor)


def read_pages(
    fetch: Callable[[int, Key | None], Page[T]], *, limit: int, every: bool = False
) -> list[T]:
    """The first ``limit`` rows of a list, saying on stderr when there are more; with
    ``every``, every row, read a page of ``PAGE_MAX`` at a time. ``fetch(limit, after)`` reads
    one page of the list."""
    if not every:
        page = fetch(limit, None)
        if page.next is not None:
            stderr.print(f"Showing the first {limit}; use --all for every one, or --limit.")
        return list(page)
    rows: list[T] = []
    after: Key | None = None
    while True:
        page = fetch(PAGE_MAX, after)
        rows.extend(page)
        if page.next is None:
            return rows
        after = page.next


def emit_json(value: Any) -> None:
    from pydantic import BaseModel

    data: Any
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json")
    elif isinstance(value, list):
        data = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    else:
        data = value
    sys.stdout.write(json_escaped(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def emit_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=literal(title), title_justify="left")
    for column in columns:
        table.add_column(literal(column), overflow="fold")
    for row in rows:
        table.add_row(*(literal(v) for v in row))
    stdout.print(table)


def emit_fields(title: str, fields: Sequence[tuple[str, Any]]) -> None:
    table = Table(title=literal(title), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in fields:
        table.add_row(literal(name), literal(value))
    stdout.print(table)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
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
