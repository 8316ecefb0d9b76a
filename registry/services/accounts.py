"""Accounts: validation against the rules, listing, showing and the bulk import of CED's list."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, or_
from sqlmodel import Session, col, select

from registry import permissions, rules
from registry.config import Settings
from registry.enums import Language
from registry.errors import Conflict, InvalidInput, NotFound, RegistryError, RuleViolation
from registry.models import (
    AccessGrant,
    Account,
    AccountPublic,
    AccountStatus,
    Department,
    Person,
    utcnow,
)
from registry.paging import Key, Order, Page
from registry.platforms import (
    Platform,
    get_platform,
    handle_label,
    normalize_handle,
    normalize_platform_id,
    read_profile_url,
)
from registry.rules import Holder, check_category, check_government_email, holder_shortfalls
from registry.services import audit, departments
from registry.services.actors import Actor
from registry.validation import clean_text, clean_url, parse_choice


@dataclass(frozen=True)
class AccountDraft:
    """Account fields after every check: ready to insert."""

    platform: str
    handle: str
    handle_normalized: str
    display_name: str
    url: str
    category: str
    department_id: int
    department_code: str
    program_area: str
    purpose: str
    login_email: str
    platform_id: str | None = None
    language: str = Language.en.value

    @property
    def label(self) -> str:
        return f"{self.platform} @{self.handle}"


def label(account: Account) -> str:
    """How messages name an account: ``account 12 (facebook @ManitobaGov)``."""
    return f"account {account.id} ({account.platform} @{account.handle})"


def validate_draft(
    *,
    settings: Settings,
    departments_by_code: dict[str, Department],
    platform: str,
    handle: str,
    url: str,
    category: str,
    department: str,
    program_area: str,
    purpose: str,
    login_email: str,
    display_name: str = "",
    platform_id: str | None = None,
    language: str | None = None,
) -> AccountDraft:
    """Check one account's fields against rules 1 and 2 and the field limits.

    Every path that creates an account (a request, its approval, the import) comes through
    here, so the profile URL stored, and linked from the public directory, is always one that
    names this very platform and handle.
    """
    known = get_platform(platform)
    shown, compared = normalize_handle(known, handle)
    code = department.strip().upper()
    dept = departments_by_code.get(code)
    if dept is None or dept.id is None:
        raise InvalidInput(f"No department with code {code!r}.")
    return AccountDraft(
        platform=known.name,
        handle=shown,
        handle_normalized=compared,
        display_name=clean_text(display_name, field="Display name", max_length=200, required=False),
        url=profile_url(url, known, shown, compared),
        category=check_category(category).value,
        department_id=dept.id,
        department_code=dept.code,
        program_area=clean_text(program_area, field="Program area", max_length=200, required=False),
        purpose=clean_text(purpose, field="Purpose", max_length=2000),
        login_email=check_government_email(
            login_email, settings.approved_domains, what="Login e-mail"
        ),
        platform_id=normalize_platform_id(known, platform_id) if platform_id else None,
        language=parse_choice(Language, language or "en", what="language").value,
    )


def profile_url(url: str, platform: Platform, shown: str, compared: str) -> str:
    """``url`` if it is a profile address of ``platform``'s account ``shown``, else a refusal.

    The address is read as public verification reads it (``read_profile_url``), so an account
    registered with it verifies by it; a link to a post is no profile address.
    """
    address = clean_url(url)
    link = read_profile_url(address)
    if link.platform is not platform or link.compared != compared:
        raise InvalidInput(
            f"The profile URL {address!r} points to {handle_label(link.platform, link.handle)}, "
            f"not to the handle given, {handle_label(platform, shown)}."
        )
    if link.content:
        raise InvalidInput(
            f"The profile URL {address!r} is a link to a post or other content, not to the "
            f"profile of {handle_label(platform, shown)}; give the profile's own address."
        )
    return address


def all_departments(session: Session) -> dict[str, Department]:
    return {d.code: d for d in session.exec(select(Department))}


def ced_department_id(session: Session, settings: Settings) -> int | None:
    dept = session.exec(
        select(Department).where(Department.code == settings.ced_department)
    ).first()
    return dept.id if dept else None


def holder_facts(people: Iterable[Person], *, ced_id: int | None) -> list[Holder]:
    return [
        Holder(
            email=p.email,
            active=rules.may_hold(p.status),
            is_ced=ced_id is not None and p.department_id == ced_id,
        )
        for p in people
    ]


def eligible_holder(
    person: Person | None, address: str, *, settings: Settings, what: str = "Holder"
) -> Person:
    """Who may hold an account: a registered person still in government (rule 6) with a
    government address (rule 2). Every path that names holders checks through here."""
    if person is None:
        raise NotFound(f"{what} {address} is not a registered person.")
    if not rules.may_hold(person.status):
        raise RuleViolation(f"{what} {person.email} has left government and cannot hold accounts.")
    check_government_email(person.email, settings.approved_domains, what=what)
    return person


# Addresses per ``IN (...)`` lookup, well under every database's limit on bound parameters.
_LOOKUP_CHUNK = 500


def resolve_holders(
    session: Session,
    *,
    settings: Settings,
    emails: Iterable[str],
    known: Mapping[str, Person] | None = None,
    what: str = "Holder",
    seen_by: Actor | None = None,
) -> list[Person]:
    """The people ``emails`` name, in order and without repeats, each one eligible to hold an
    account (``eligible_holder``); ``what`` names them in refusals ("Holder", "Successor").

    Every address must be on an approved government domain (rule 2). The people are looked up
    together (one query per 500 addresses), or in ``known`` (everyone, by e-mail) when the
    caller has loaded them already; unknown addresses are refused all in one sentence. Looked
    up on behalf of ``seen_by``, a person that actor may not see (``can_see_person``, as
    ``GET /people/{email}``) is refused exactly as an address nobody has, both named as not
    registered in the actor's department (unless the actor sees every department).
    """
    addresses = list(
        dict.fromkeys(
            check_government_email(email, settings.approved_domains, what=what) for email in emails
        )
    )
    if known is None:
        known = {
            p.email: p
            for start in range(0, len(addresses), _LOOKUP_CHUNK)
            for p in session.exec(
                select(Person).where(
                    col(Person.email).in_(addresses[start : start + _LOOKUP_CHUNK])
                )
            )
        }
    unknown = [a for a in addresses if a not in known]
    if seen_by is not None and not permissions.can_see_all(seen_by):
        unseen = [
            a
            for a in addresses
            if a not in known or not permissions.can_see_person(seen_by, known[a])
        ]
        _refuse_unknown(unseen, what=what, scope=f" in {seen_by.department_code}")
    _refuse_unknown(unknown, what=what)
    return [eligible_holder(known.get(a), a, settings=settings, what=what) for a in addresses]


def _refuse_unknown(addresses: Sequence[str], *, what: str, scope: str = "") -> None:
    """Refuse the addresses no one (in ``scope``, the department an actor may see) has."""
    if len(addresses) > 1:
        raise NotFound(f"{what}s {', '.join(addresses)} are not registered people{scope}.")
    if addresses and scope:
        raise NotFound(f"{what} {addresses[0]} is not a registered person{scope}.")


def find_live_handle(session: Session, platform: str, handle_normalized: str) -> Account | None:
    """The account (not decommissioned) that already uses this handle on this platform."""
    return session.exec(
        select(Account).where(
            Account.platform == platform,
            Account.handle_normalized == handle_normalized,
            Account.status != AccountStatus.decommissioned,
        )
    ).first()


def live_handles(session: Session) -> dict[tuple[str, str], int]:
    """``(platform, normalised handle) -> account id`` for every account not decommissioned."""
    rows = session.exec(
        select(Account.platform, Account.handle_normalized, Account.id).where(
            Account.status != AccountStatus.decommissioned
        )
    )
    return {(platform, handle): account_id or 0 for platform, handle, account_id in rows}


def insert_active_accounts(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    entries: Sequence[tuple[AccountDraft, Sequence[Person]]],
    action: str,
) -> list[int]:
    """Insert already-validated active accounts with their holders, in bulk, and audit each.

    Callers have checked rules 1-3 and handle uniqueness; the database's unique index on live
    handles is the last guard against a race.
    """
    now = utcnow()
    next_review = rules.next_review_on(now, interval_days=settings.review_interval_days)
    rows: list[dict[str, Any]] = [
        {
            "platform": d.platform,
            "handle": d.handle,
            "handle_normalized": d.handle_normalized,
            "display_name": d.display_name,
            "url": d.url,
            "category": d.category,
            "department_id": d.department_id,
            "program_area": d.program_area,
            "purpose": d.purpose,
            "login_email": d.login_email,
            "platform_id": d.platform_id,
            "language": d.language,
            "status": AccountStatus.active.value,
            "created_at": now,
            "activated_at": now,
            "next_review_on": next_review,
        }
        for d, _ in entries
    ]
    if not rows:
        return []
    ids: list[int] = list(
        session.scalars(
            insert(Account).returning(col(Account.id), sort_by_parameter_order=True), rows
        )
    )
    grants = [
        {"account_id": account_id, "person_id": p.id, "granted_by_id": actor.id, "granted_at": now}
        for account_id, (_, holders) in zip(ids, entries, strict=True)
        for p in holders
    ]
    session.execute(insert(AccessGrant), grants)
    audit.record_many(
        session,
        actor=actor,
        action=action,
        entity_type="account",
        items=(
            (
                account_id,
                {
                    "platform": d.platform,
                    "handle": d.handle,
                    "department": d.department_code,
                    "holders": sorted(p.email for p in holders),
                },
            )
            for account_id, (d, holders) in zip(ids, entries, strict=True)
        ),
    )
    return ids


# ------------------------------------------------------------------------------ reading


def holders_of(session: Session, account_ids: Sequence[int]) -> dict[int, list[str]]:
    """Active holders' e-mails per account, in one query."""
    found: dict[int, list[str]] = {i: [] for i in account_ids}
    if not account_ids:
        return found
    rows = session.exec(
        select(AccessGrant.account_id, Person.email)
        .join(Person, col(Person.id) == AccessGrant.person_id)
        .where(col(AccessGrant.account_id).in_(account_ids), col(AccessGrant.revoked_at).is_(None))
        .order_by(Person.email)
    )
    for account_id, email in rows:
        found[account_id].append(email)
    return found


def to_public(session: Session, accounts: Sequence[Account]) -> list[AccountPublic]:
    holders = holders_of(session, [a.id for a in accounts if a.id is not None])
    codes = {d.id: d.code for d in session.exec(select(Department))}
    return [
        AccountPublic(
            id=a.id or 0,
            platform=a.platform,
            handle=a.handle,
            display_name=a.display_name,
            url=a.url,
            platform_id=a.platform_id,
            language=a.language,
            twin_id=a.twin_id,
            category=a.category,
            department=codes[a.department_id],
            program_area=a.program_area,
            purpose=a.purpose,
            login_email=a.login_email,
            status=a.status,
            holders=holders.get(a.id or 0, []),
            created_at=a.created_at,
            activated_at=a.activated_at,
            decommissioned_at=a.decommissioned_at,
            next_review_on=a.next_review_on,
            last_reviewed_at=a.last_reviewed_at,
        )
        for a in accounts
    ]


def _visible(actor: Actor) -> Any:
    """A WHERE clause limiting accounts to those the actor may see (None: all): the SQL of
    ``permissions.can_see_account``."""
    if permissions.can_see_all(actor):
        return None
    held = select(AccessGrant.account_id).where(
        AccessGrant.person_id == actor.id, col(AccessGrant.revoked_at).is_(None)
    )
    return or_(col(Account.department_id) == actor.department_id, col(Account.id).in_(held))


def ensure_visible(session: Session, *, actor: Actor, account: Account) -> None:
    """NotFound unless the actor may see this already loaded account."""
    if permissions.can_see_department(actor, account.department_id):
        return  # seen whoever holds it: no need to ask
    held = session.exec(
        select(AccessGrant.id).where(
            AccessGrant.account_id == account.id,
            AccessGrant.person_id == actor.id,
            col(AccessGrant.revoked_at).is_(None),
        )
    ).first()
    if not permissions.can_see_account(actor, account, holds=held is not None):
        raise NotFound(f"No account with id {account.id}.")


_ACCOUNT_BY_ID = select(Account).where(Account.id == bindparam("account_id"))


def get_visible_account(session: Session, *, actor: Actor, account_id: int) -> Account:
    """The account, or NotFound when it does not exist or the actor may not see it."""
    query = _ACCOUNT_BY_ID  # built once: most callers (CED, admins, auditors) see every account
    clause = _visible(actor)
    if clause is not None:
        query = query.where(clause)
    account = session.exec(query, params={"account_id": account_id}).first()
    if account is None:
        raise NotFound(f"No account with id {account_id}.")
    return account


ORDER: Order[Account] = Order("accounts", [col(Account.id)], key=lambda a: (a.id,))


def list_accounts(
    session: Session,
    *,
    actor: Actor,
    department: str | None = None,
    status: str | None = None,
    platform: str | None = None,
    limit: int | None = None,
    after: Key | None = None,
) -> Page[AccountPublic]:
    """The accounts the actor may see, by id: ``limit`` of them after ``after`` (all if None)."""
    query = select(Account)
    clause = _visible(actor)
    if clause is not None:
        query = query.where(clause)
    if department:  # an unknown code is NotFound, as for people and requests
        query = query.where(
            Account.department_id == departments.get_by_code(session, department).id
        )
    if status:
        chosen = parse_choice(AccountStatus, status, what="status")
        query = query.where(Account.status == chosen.value)
    if platform:
        query = query.where(Account.platform == get_platform(platform).name)
    page = ORDER.fetch(session, query, limit=limit, after=after)
    return page.map(lambda rows: to_public(session, rows))


def show_account(session: Session, *, actor: Actor, account_id: int) -> AccountPublic:
    return to_public(session, [get_visible_account(session, actor=actor, account_id=account_id)])[0]


# ------------------------------------------------------------------------------ import

IMPORT_COLUMNS = (
    "platform",
    "handle",
    "url",
    "category",
    "department",
    "login_email",
    "purpose",
    "holders",
)
OPTIONAL_IMPORT_COLUMNS = ("display_name", "program_area", "platform_id", "language")
MAX_IMPORT_ROWS = 50_000


class ImportRejected(InvalidInput):
    """The file was refused as a whole; ``problems`` names every bad row."""


@dataclass(frozen=True)
class ImportResult:
    account_ids: list[int]

    @property
    def count(self) -> int:
        return len(self.account_ids)


def import_accounts(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    data: bytes,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import CED's existing list: every row checked against every rule, all rows or none.

    Columns: platform,handle,url,category,department,login_email,purpose,holders (holders
    separated by ``;``). Imported accounts are active. ``progress(done, total)`` is called
    while rows are checked. Raises :class:`ImportRejected` naming every bad row.
    """
    # CED's migration of the accounts that exist already: the one path to an active account
    # without two approvals, so only CED may take it (docs/adr/0002-workflow.md says why).
    if not permissions.can_import(actor):
        raise permissions.refusal(actor, permissions.IMPORTERS, to="import accounts")
    from registry.services import account_details  # it reads accounts; this reads it

    rows = _read_csv(data)
    total = len(rows)
    departments_by_code = all_departments(session)
    ced_id = ced_department_id(session, settings)
    people = {p.email: p for p in session.exec(select(Person))}
    live = live_handles(session)
    seen: dict[tuple[str, str], int] = {}
    seen_ids: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    entries: list[tuple[AccountDraft, list[Person]]] = []
    for index, (line, row) in enumerate(rows, start=1):
        try:
            draft = validate_draft(
                settings=settings,
                departments_by_code=departments_by_code,
                platform=row["platform"],
                handle=row["handle"],
                url=row["url"],
                category=row["category"],
                department=row["department"],
                program_area=row.get("program_area", ""),
                purpose=row["purpose"],
                login_email=row["login_email"],
                display_name=row.get("display_name", ""),
                platform_id=row.get("platform_id", "").strip() or None,
                language=row.get("language", "").strip() or None,
            )
            account_details.require_free_platform_id(
                session, draft.platform, draft.platform_id, seen=seen_ids, line=line
            )
            key = (draft.platform, draft.handle_normalized)
            if key in live:
                raise Conflict(f"{draft.label} is already registered as account {live[key]}")
            if key in seen:
                raise Conflict(f"{draft.label} is repeated from line {seen[key]}")
            seen[key] = line
            holders = resolve_holders(
                session,
                settings=settings,
                emails=[part for part in row["holders"].split(";") if part.strip()],
                known=people,
            )
            shortfalls = holder_shortfalls(holder_facts(holders, ced_id=ced_id))
            if shortfalls:
                raise RuleViolation("; ".join(shortfalls))
            entries.append((draft, holders))
        except RegistryError as exc:
            problems.append(f"line {line}: {exc.message.rstrip('.')}")
        if progress is not None and (index % 500 == 0 or index == total):
            progress(index, total)
    if problems:
        count = len(problems)
        raise ImportRejected(
            f"Nothing was imported: {count} row{'s' if count != 1 else ''} of {total} "
            f"{'are' if count != 1 else 'is'} invalid.",
            problems,
        )
    ids = insert_active_accounts(
        session, settings=settings, actor=actor, entries=entries, action="account.imported"
    )
    audit.record(
        session,
        actor=actor,
        action="accounts.import",
        entity_type="import",
        entity_id=f"{ids[0]}-{ids[-1]}",
        details={"rows": len(ids), "first_account_id": ids[0], "last_account_id": ids[-1]},
    )
    return ImportResult(account_ids=ids)


def _read_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Decode and parse the file, refusing anything that is not a well-formed import CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"The file is not valid UTF-8 (line {line}).") from None
    if "\x00" in text:
        raise InvalidInput("The file contains NUL bytes; it is not a CSV text file.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("The file is empty; it needs a header row and at least one account.")
        names = [h.strip().lower() for h in header]
        missing = [c for c in IMPORT_COLUMNS if c not in names]
        extra = [h for h in names if h not in IMPORT_COLUMNS + OPTIONAL_IMPORT_COLUMNS]
        if missing or extra or len(set(names)) != len(names):
            raise InvalidInput(
                "The header must name these columns: "
                f"{','.join(IMPORT_COLUMNS)} (optionally {', '.join(OPTIONAL_IMPORT_COLUMNS)})"
                + (f" (missing: {', '.join(missing)})" if missing else "")
                + (f" (unknown: {', '.join(extra)})" if extra else "")
                + "."
            )
        rows: list[tuple[int, dict[str, str]]] = []
        problems: list[str] = []
        for record in reader:
            line = reader.line_num
            if not any(field.strip() for field in record):
                continue
            if len(record) != len(names):
                problems.append(
                    f"line {line}: has {len(record)} fields where the header has {len(names)}"
                )
                continue
            rows.append((line, dict(zip(names, record, strict=True))))
            if len(rows) > MAX_IMPORT_ROWS:
                raise InvalidInput(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
    except csv.Error as exc:
        raise InvalidInput(
            f"The file is not well-formed CSV (line {reader.line_num}): {exc}."
        ) from None
    if problems:
        raise ImportRejected(f"Nothing was imported: {len(problems)} malformed row(s).", problems)
    if not rows:
        raise InvalidInput("The file has a header but no accounts.")
    return rows


# ------------------------------------------------------------------------------ review


def review(
    session: Session, *, settings: Settings, actor: Actor, account_id: int, note: str = ""
) -> AccountPublic:
    """Record CED's periodic review (rule 7), set the next due date and return the account
    as the reviewer sees it."""
    if not permissions.can_review(actor):
        raise permissions.refusal(actor, permissions.REVIEWERS, to="record account reviews")
    text = clean_text(note, field="Note", max_length=2000, required=False)
    account = get_visible_account(session, actor=actor, account_id=account_id)
    if account.status == AccountStatus.decommissioned:
        raise InvalidInput(f"{label(account).capitalize()} is decommissioned; nothing to review.")
    now = utcnow()
    account.last_reviewed_at = now
    account.last_reviewed_by_id = actor.id
    account.next_review_on = rules.next_review_on(now, interval_days=settings.review_interval_days)
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="account.reviewed",
        entity_type="account",
        entity_id=account_id,
        details={"note": text, "next_review_on": account.next_review_on.isoformat()},
    )
    return to_public(session, [account])[0]
