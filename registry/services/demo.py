"""``registry demo``: an empty registry filled with made-up but realistic content, and the
demo sign-in that only such a registry offers.

Everything is made through the services, as people would make it, in one transaction: the
administrator adds departments and people, CED imports its existing list and stores
credentials, requesters ask, executives and CED decide, someone leaves through a handover.
So the audit chain is real and the e-mail those events cause is queued in the outbox. Time
alone cannot be made to pass through the services: a few review dates are then set in the
past or the coming weeks, as a year of use would have left them (:func:`_age`).

The registry is marked as a demo in the database (``registry_meta``), never by a setting:
only a registry so marked offers "Sign in as …" for its people (:func:`sign_in`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.errors import Conflict, NotFound
from registry.models import (
    Account,
    AccountRequest,
    Credential,
    Department,
    Handover,
    OutboxMessage,
    Person,
    PersonRole,
    PersonStatus,
    RegistryMeta,
    RequestPublic,
    Role,
    WebSession,
    utcnow,
)
from registry.models.meta import DEMO
from registry.platforms import PLATFORMS, canonical_profile_url, get_platform
from registry.services import (
    access,
    account_details,
    accounts,
    audit,
    compliance,
    credentials,
    departments,
    handover,
    people,
    requests,
    setup,
    websessions,
)
from registry.services.actors import Actor, actor_by_email
from vault import Keyring, Secret

NOT_A_DEMO = (
    "Signing in without a credential is offered only in a demo registry made by "
    "`registry demo`; sign in with single sign-on or an API token."
)
MAX_LISTED = 50  # people offered on the sign-in page, at most

# ------------------------------------------------------------------------------ the content

ADMIN = ("admin@gov.mb.ca", "Alex Morgan")  # the first administrator, made as `init` makes one

DEPARTMENTS = [
    ("AGR", "Agriculture"),
    ("HLT", "Health, Seniors and Long-Term Care"),
    ("EDU", "Education and Early Childhood Learning"),
    ("JUS", "Justice"),
    ("FAM", "Families"),
    ("FIN", "Finance"),
]

# key -> (e-mail, name, department, roles); "CED" is settings.ced_department.
PEOPLE: dict[str, tuple[str, str, str, tuple[Role, ...]]] = {
    "camille": ("camille.roy@gov.mb.ca", "Camille Roy", "CED", (Role.ced,)),
    "jordan": ("jordan.fontaine@gov.mb.ca", "Jordan Fontaine", "CED", (Role.ced,)),
    "marie": ("marie.desjardins@gov.mb.ca", "Marie Desjardins", "AGR", (Role.dept_approver,)),
    "tom": ("tom.klassen@gov.mb.ca", "Tom Klassen", "AGR", (Role.requester,)),
    "leah": ("leah.friesen@gov.mb.ca", "Leah Friesen", "AGR", (Role.requester,)),
    "daniel": ("daniel.okafor@gov.mb.ca", "Daniel Okafor", "HLT", (Role.dept_approver,)),
    "sofia": ("sofia.petrenko@gov.mb.ca", "Sofia Petrenko", "HLT", (Role.requester,)),
    "grace": ("grace.thompson@gov.mb.ca", "Grace Thompson", "EDU", (Role.dept_approver,)),
    "ethan": ("ethan.bouchard@gov.mb.ca", "Ethan Bouchard", "EDU", (Role.requester,)),
    "robert": ("robert.chartrand@gov.mb.ca", "Robert Chartrand", "JUS", (Role.dept_approver,)),
    "nadia": ("nadia.haddad@gov.mb.ca", "Nadia Haddad", "JUS", (Role.requester,)),
    "karen": ("karen.wiebe@gov.mb.ca", "Karen Wiebe", "FAM", (Role.dept_approver,)),
    "samuel": ("samuel.ouellette@gov.mb.ca", "Samuel Ouellette", "FAM", (Role.requester,)),
    "helen": ("helen.park@gov.mb.ca", "Helen Park", "FIN", (Role.auditor,)),
}

OFFICIAL, EMPLOYMENT = "official", "employment_related"

# CED's existing list, imported: (platform, handle, display name, category, department,
# login e-mail, purpose, holders). One login e-mail is a person's own mailbox (a finding).
EXISTING: list[tuple[str, str, str, str, str, str, str, tuple[str, ...]]] = [
    ("facebook", "ManitobaGov", "Government of Manitoba", OFFICIAL, "CED", "ced.social@gov.mb.ca",
     "The province's main account: news releases, emergencies, services.", ("camille", "jordan")),
    ("x", "MBGov", "Government of Manitoba", OFFICIAL, "CED", "ced.social@gov.mb.ca",
     "News releases and emergency updates.", ("camille", "jordan")),
    ("youtube", "@ManitobaGovernment", "Government of Manitoba", OFFICIAL, "CED",
     "ced.video@gov.mb.ca", "News conferences and public service videos.", ("camille", "jordan")),
    ("instagram", "manitobagov", "Government of Manitoba", OFFICIAL, "CED",
     "ced.social@gov.mb.ca", "Photos of the province and its services.", ("jordan", "camille")),
    ("facebook", "ManitobaAgriculture", "Manitoba Agriculture", OFFICIAL, "AGR",
     "agr.social@gov.mb.ca", "News and programs for Manitoba producers.",
     ("camille", "leah", "tom")),
    ("facebook", "AgricultureManitoba", "Agriculture Manitoba", OFFICIAL, "AGR",
     "agr.social.fr@gov.mb.ca", "Nouvelles et programmes pour les producteurs du Manitoba.",
     ("camille", "leah")),
    ("x", "MBGovAg", "Manitoba Agriculture", OFFICIAL, "AGR", "agr.social@gov.mb.ca",
     "Crop reports, disease alerts and program deadlines.", ("camille", "leah")),
    ("youtube", "@ManitobaAgriculture", "Manitoba Agriculture", OFFICIAL, "AGR",
     "agr.video@gov.mb.ca", "Field demonstrations and producer webinars.", ("jordan", "tom")),
    ("instagram", "mbagriculture", "Manitoba Agriculture", OFFICIAL, "AGR",
     "agr.social@gov.mb.ca", "Farm and agri-food stories.", ("camille", "tom")),
    ("flickr", "manitobaagriculture", "Manitoba Agriculture photos", OFFICIAL, "AGR",
     "agr.photos@gov.mb.ca", "Crop tour and event photos.", ("jordan", "leah")),
    ("x", "MBCropReport", "Manitoba Crop Report", OFFICIAL, "AGR", "agr.cropreport@gov.mb.ca",
     "The weekly crop report.", ("camille", "tom")),
    ("facebook", "ManitobaHealth", "Manitoba Health", OFFICIAL, "HLT", "hlt.social@gov.mb.ca",
     "Public health notices and program news.", ("camille", "sofia")),
    ("x", "MBGovHealth", "Manitoba Health", OFFICIAL, "HLT", "hlt.social@gov.mb.ca",
     "Public health advisories.", ("jordan", "sofia")),
    ("instagram", "mbhealthyliving", "Healthy Living Manitoba", OFFICIAL, "HLT",
     "hlt.healthyliving@gov.mb.ca", "Healthy living campaigns.", ("camille", "sofia")),
    ("youtube", "@ManitobaHealth", "Manitoba Health", OFFICIAL, "HLT", "hlt.video@gov.mb.ca",
     "Public health campaign videos.", ("jordan", "sofia")),
    ("linkedin", "manitoba-health-careers", "Manitoba Health Careers", EMPLOYMENT, "HLT",
     "hlt.careers@gov.mb.ca", "Recruiting nurses and allied health professionals.",
     ("camille", "sofia")),
    ("tiktok", "mbhealth", "Manitoba Health", OFFICIAL, "HLT", "hlt.social@gov.mb.ca",
     "Short public health videos for young Manitobans.", ("jordan", "sofia")),
    ("threads", "manitobahealth", "Manitoba Health", OFFICIAL, "HLT", "hlt.social@gov.mb.ca",
     "Public health notices.", ("camille", "sofia")),
    ("bluesky", "manitobahealth.bsky.social", "Manitoba Health", OFFICIAL, "HLT",
     "hlt.social@gov.mb.ca", "Public health notices.", ("jordan", "sofia")),
    ("facebook", "MBEducation", "Manitoba Education and Early Childhood Learning", OFFICIAL,
     "EDU", "edu.social@gov.mb.ca", "School year news and parent information.",
     ("camille", "ethan")),
    ("x", "MBGovEducation", "Manitoba Education", OFFICIAL, "EDU", "edu.social@gov.mb.ca",
     "School closures and announcements.", ("jordan", "ethan")),
    ("instagram", "mbeducation", "Manitoba Education", OFFICIAL, "EDU", "edu.social@gov.mb.ca",
     "Stories from Manitoba classrooms.", ("camille", "ethan")),
    ("linkedin", "manitoba-teaching-careers", "Teach in Manitoba", EMPLOYMENT, "EDU",
     "ethan.bouchard@gov.mb.ca", "Teacher recruitment.", ("jordan", "ethan")),
    ("youtube", "@MBEducation", "Manitoba Education", OFFICIAL, "EDU", "edu.video@gov.mb.ca",
     "Curriculum and early learning videos.", ("jordan", "ethan")),
    ("mastodon", "mbeducation@mstdn.ca", "Manitoba Education", OFFICIAL, "EDU",
     "edu.social@gov.mb.ca", "School year news.", ("camille", "ethan")),
    ("flickr", "mbeducation", "Manitoba Education photos", OFFICIAL, "EDU",
     "edu.photos@gov.mb.ca", "Event photos.", ("jordan", "ethan")),
    ("facebook", "MBJustice", "Manitoba Justice", OFFICIAL, "JUS", "jus.social@gov.mb.ca",
     "Public safety and victim services information.", ("camille", "nadia")),
    ("x", "MBGovJustice", "Manitoba Justice", OFFICIAL, "JUS", "jus.social@gov.mb.ca",
     "Public safety notices.", ("jordan", "nadia")),
    ("linkedin", "manitoba-justice-careers", "Manitoba Justice Careers", EMPLOYMENT, "JUS",
     "jus.careers@gov.mb.ca", "Recruiting corrections officers and sheriffs.",
     ("camille", "nadia")),
    ("youtube", "@ManitobaJustice", "Manitoba Justice", OFFICIAL, "JUS", "jus.video@gov.mb.ca",
     "Victim services and court information videos.", ("camille", "nadia")),
    ("bluesky", "mbjustice.bsky.social", "Manitoba Justice", OFFICIAL, "JUS",
     "jus.social@gov.mb.ca", "Public safety notices.", ("jordan", "nadia")),
    ("threads", "mbjustice", "Manitoba Justice", OFFICIAL, "JUS", "jus.social@gov.mb.ca",
     "Public safety notices.", ("camille", "nadia")),
    ("facebook", "MBFamilies", "Manitoba Families", OFFICIAL, "FAM", "fam.social@gov.mb.ca",
     "Child care, income support and family programs.", ("camille", "samuel")),
    ("x", "MBGovFamilies", "Manitoba Families", OFFICIAL, "FAM", "fam.social@gov.mb.ca",
     "Program news.", ("jordan", "samuel")),
    ("instagram", "mbfamilies", "Manitoba Families", OFFICIAL, "FAM", "fam.social@gov.mb.ca",
     "Family program stories.", ("camille", "samuel")),
    ("tiktok", "mbfamilies", "Manitoba Families", OFFICIAL, "FAM", "fam.social@gov.mb.ca",
     "Short videos on family supports.", ("jordan", "samuel")),
    ("linkedin", "manitoba-families-careers", "Manitoba Families Careers", EMPLOYMENT, "FAM",
     "fam.careers@gov.mb.ca", "Child and family services careers.", ("camille", "samuel")),
    ("mastodon", "mbfamilies@mstdn.ca", "Manitoba Families", OFFICIAL, "FAM",
     "fam.social@gov.mb.ca", "Program news.", ("jordan", "samuel")),
]  # fmt: skip

# Accounts whose password CED never stored (rule 5 findings), and those with a TOTP seed or
# recovery codes too.
# Accounts are named by (platform, handle): a department uses one handle on several platforms.
NO_PASSWORD = {("bluesky", "mbjustice.bsky.social"), ("mastodon", "mbfamilies@mstdn.ca")}
WITH_TOTP = {
    ("facebook", "ManitobaGov"),
    ("x", "MBGov"),
    ("facebook", "ManitobaHealth"),
    ("facebook", "MBJustice"),
}
WITH_RECOVERY = {("facebook", "ManitobaGov"), ("youtube", "@ManitobaHealth")}

# Requests for new accounts, each taken as far as its outcome: (requester, platform, handle,
# display name, category, login e-mail, purpose, outcome). In the order they are made.
REQUESTS = [
    ("tom", "tiktok", "mbagriculture", "Manitoba Agriculture", OFFICIAL, "agr.social@gov.mb.ca",
     "Short videos on farm safety and new programs.", "approved"),
    ("sofia", "mastodon", "mbhealth@mstdn.ca", "Manitoba Health", OFFICIAL,
     "hlt.social@gov.mb.ca", "Public health notices for the fediverse.", "approved"),
    ("samuel", "threads", "mbfamilies", "Manitoba Families", OFFICIAL, "fam.social@gov.mb.ca",
     "Program news.", "approved"),
    ("ethan", "instagram", "mbearlylearning", "Early Learning Manitoba", OFFICIAL,
     "edu.social@gov.mb.ca", "Early learning and child care news for parents.", "submitted"),
    ("sofia", "youtube", "@ManitobaNursing", "Nursing in Manitoba", EMPLOYMENT,
     "hlt.careers@gov.mb.ca", "Videos for nurses thinking of working in Manitoba.", "submitted"),
    ("nadia", "tiktok", "mbjustice", "Manitoba Justice", OFFICIAL, "jus.social@gov.mb.ca",
     "Short public safety videos.", "submitted"),
    # Leah's: still open when she leaves, so the handover moves it to Tom.
    ("leah", "bluesky", "mbagriculture.bsky.social", "Manitoba Agriculture", OFFICIAL,
     "agr.social@gov.mb.ca", "Crop reports and program deadlines.", "submitted"),
    ("sofia", "linkedin", "manitoba-public-health", "Manitoba Public Health Careers", EMPLOYMENT,
     "hlt.careers@gov.mb.ca", "Recruiting public health nurses.", "department_approved"),
    ("tom", "threads", "mbagriculture", "Manitoba Agriculture", OFFICIAL, "agr.social@gov.mb.ca",
     "Farm and food news.", "department_approved"),
    ("ethan", "x", "MBSchoolDays", "Manitoba School Days", OFFICIAL, "edu.social@gov.mb.ca",
     "School calendar reminders.", "rejected"),
    ("nadia", "facebook", "MBCourtsNews", "Manitoba Courts News", OFFICIAL,
     "jus.social@gov.mb.ca", "Court news.", "rejected_by_ced"),
    ("samuel", "instagram", "mbfosterfamilies", "Foster Families Manitoba", OFFICIAL,
     "fam.social@gov.mb.ca", "Recruiting foster families.", "withdrawn"),
]  # fmt: skip
REJECTIONS = {
    "MBSchoolDays": "Use the department's main account, @MBGovEducation, for this.",
    "MBCourtsNews": "The Manitoba Courts post their own news; a second account would confuse.",
}
# Decommissionings asked for, approved through both stages but the last: (requester,
# platform, handle, reason).
DECOMMISSIONED = [
    ("tom", "x", "MBCropReport", "The crop report now goes out from @MBGovAg."),
    ("ethan", "flickr", "mbeducation", "Photos now go on the department's website."),
    ("nadia", "threads", "mbjustice", "Too little reach to justify moderating it."),
    ("samuel", "x", "MBGovFamilies", "Program news is merged into @MBGov."),  # still waiting
]


# ------------------------------------------------------------------------------ the result


@dataclass(frozen=True)
class DemoPerson:
    """A person of the demo, as the sign-in page and ``registry demo`` show them."""

    email: str
    name: str
    department: str
    department_name: str
    roles: tuple[str, ...]
    status: str = PersonStatus.active.value

    @property
    def role_label(self) -> str:
        """Their roles in words: "department executive", "administrator and CED staff"."""
        words = [ROLE_WORDS.get(role, role) for role in self.roles]
        return " and ".join(words) if len(words) < 3 else ", ".join(words)

    def public(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "department": self.department,
            "roles": list(self.roles),
            "status": self.status,
        }


ROLE_WORDS = {
    Role.admin.value: "administrator",
    Role.ced.value: "CED staff",
    Role.dept_approver.value: "department executive",
    Role.auditor.value: "auditor",
    Role.requester.value: "program staff (requester)",
}
ROLE_ORDER = [Role.admin, Role.ced, Role.dept_approver, Role.auditor, Role.requester]


@dataclass
class DemoResult:
    counts: dict[str, Any]
    people: list[DemoPerson] = field(default_factory=list)


# ------------------------------------------------------------------------------ reading


def is_demo(session: Session) -> bool:
    """Whether ``registry demo`` made this registry (the marker in the database)."""
    return session.get(RegistryMeta, DEMO) is not None


def content(session: Session) -> str | None:
    """What the registry already holds ("3 people, 1 department"), or None when empty.
    Only counts, so it reads a registry at any revision of the schema."""
    found = []
    for model, one, several in (
        (Person, "person", "people"),
        (Department, "department", "departments"),
        (Account, "account", "accounts"),
    ):
        count = session.exec(select(func.count()).select_from(model)).one()
        if count:
            found.append(f"{count} {one if count == 1 else several}")
    return ", ".join(found) or None


def demo_people(session: Session, *, active_only: bool = True) -> list[DemoPerson]:
    """The registry's people with their roles, administrators first, then CED, executives,
    auditors and requesters (at most :data:`MAX_LISTED`)."""
    query = select(Person, Department).join(Department, col(Department.id) == Person.department_id)
    if active_only:
        query = query.where(Person.status == PersonStatus.active.value)
    rows = session.exec(query.order_by(col(Person.name)).limit(MAX_LISTED)).all()
    roles: dict[int, set[str]] = {person.id or 0: set() for person, _ in rows}
    for row in session.exec(select(PersonRole).where(col(PersonRole.person_id).in_(roles))):
        roles[row.person_id].add(row.role)
    ranked = [role.value for role in ROLE_ORDER]

    def rank(person: Person) -> int:
        return min((ranked.index(r) for r in roles[person.id or 0]), default=len(ranked))

    return [
        DemoPerson(
            email=person.email,
            name=person.name,
            department=dept.code,
            department_name=dept.name,
            roles=tuple(sorted(roles[person.id or 0], key=ranked.index)),
            status=person.status,
        )
        for person, dept in sorted(rows, key=lambda row: (rank(row[0]), row[0].name))
    ]


# ------------------------------------------------------------------------------ signing in


def sign_in(session: Session, *, settings: Settings, email: str) -> tuple[str, WebSession, Actor]:
    """A console session for a person of a demo registry, without a credential; refused
    (NotFound) on any registry not marked as a demo, whatever the settings, and for anyone
    who has left. Audited as every sign-in is."""
    if not is_demo(session):
        raise NotFound(NOT_A_DEMO)
    actor = actor_by_email(session, settings, email[:254])
    # The session itself is made as every console session is (token and single sign-on alike).
    cookie, web = websessions.new_session(session, settings=settings, person_id=actor.id)
    audit.record(
        session,
        actor=actor,
        action="web.signed_in",
        entity_type="person",
        entity_id=actor.id,
        details={"method": "demo"},
    )
    return cookie, web, actor


# ------------------------------------------------------------------------------ building


def check(*, settings: Settings) -> None:
    """Refuse settings the demo cannot be made under (its addresses are all on gov.mb.ca),
    before ``registry demo`` creates the keyring or migrates."""
    for email, name in [ADMIN, *((p[0], p[1]) for p in PEOPLE.values())]:
        setup.check_admin(settings=settings, admin_email=email, admin_name=name)


def _demo_platform_id(platform: str, handle: str, number: int) -> str:
    """A made-up id in the platform's own form (see ``registry.platforms.ID_RULES``)."""
    digits = f"{1000064500000000 + number * 7919}"
    return {
        "youtube": "UC" + f"DemoChannel{number:02d}".ljust(22, "x"),
        "bluesky": "did:plc:demo" + chr(97 + number % 26) * 20,
        "mastodon": "https://{1}/users/{0}".format(*handle.partition("@")[::2]),
        "flickr": f"{digits[:8]}@N0{number % 10}",
    }.get(platform, digits)


def build(session: Session, *, settings: Settings, keyring: Keyring) -> DemoResult:
    """Fill an empty registry with the demo (refused with Conflict when it has content)."""
    check(settings=settings)
    held = content(session)
    if held is not None:
        raise Conflict(
            f"This registry already has content ({held}); `registry demo` fills only an "
            "empty registry."
        )
    _Builder(session, settings=settings, keyring=keyring).run()
    session.add(RegistryMeta(key=DEMO, value=utcnow().isoformat()))
    session.flush()
    counts = summary(session, settings=settings)
    audit.record(
        session,
        actor=None,
        action="registry.demo_created",
        entity_type="registry",
        entity_id=DEMO,
        details={"accounts": counts["accounts"]["total"], "people": counts["people"]},
    )
    return DemoResult(counts=counts, people=demo_people(session, active_only=False))


class _Builder:
    """The demo's story, one step after another, each through the services."""

    def __init__(self, session: Session, *, settings: Settings, keyring: Keyring) -> None:
        self.session = session
        self.settings = settings
        self.keyring = keyring
        self.ids: dict[tuple[str, str], int] = {}  # (platform, handle) -> account id

    def actor(self, key: str) -> Actor:
        email = ADMIN[0] if key == "admin" else PEOPLE[key][0]
        return actor_by_email(self.session, self.settings, email)

    def run(self) -> None:
        self.registry_and_people()
        self.existing_accounts()
        self.public_details()
        self.credentials()
        self.requests()
        self.decommissioned()
        self.departure()
        self.reviews()
        _age(self.session, self.ids)

    def registry_and_people(self) -> None:
        """What `registry init` makes, then the administrator's departments and people."""
        setup.initialise(
            self.session, settings=self.settings, admin_email=ADMIN[0], admin_name=ADMIN[1]
        )
        admin = self.actor("admin")
        for code, name in DEPARTMENTS:
            departments.add_department(self.session, actor=admin, code=code, name=name)
        for email, name, dept, roles in PEOPLE.values():
            department = self.settings.ced_department if dept == "CED" else dept
            people.add_person(
                self.session,
                settings=self.settings,
                actor=admin,
                email=email,
                name=name,
                department=department,
                roles=roles,
            )

    def existing_accounts(self) -> None:
        """CED imports its spreadsheet of the accounts that exist already."""
        out = io.StringIO()
        sheet = csv.writer(out, lineterminator="\n")
        sheet.writerow([*accounts.IMPORT_COLUMNS, "display_name"])
        for platform, handle, name, category, dept, login, purpose, holders in EXISTING:
            department = self.settings.ced_department if dept == "CED" else dept
            url = canonical_profile_url(get_platform(platform), handle)
            emails = ";".join(PEOPLE[h][0] for h in holders)
            sheet.writerow(
                [platform, handle, url, category, department, login, purpose, emails, name]
            )
        result = accounts.import_accounts(
            self.session,
            settings=self.settings,
            actor=self.actor("camille"),
            data=out.getvalue().encode("utf-8"),
        )
        for row, account_id in zip(EXISTING, result.account_ids, strict=True):
            self.ids[row[0], row[1]] = account_id

    def public_details(self) -> None:
        """CED records the platforms' ids of most accounts (made-up ones, in each platform's
        form; a few are left for the compliance totals to count) and pairs the English and
        French Facebook pages of Manitoba Agriculture."""
        for number, (key, account_id) in enumerate(self.ids.items(), start=1):
            if number % 6 == 0:
                continue
            account_details.update(
                self.session,
                actor=self.actor("camille"),
                account_id=account_id,
                platform_id=_demo_platform_id(key[0], key[1], number),
            )
        french, ced = self.ids["facebook", "AgricultureManitoba"], self.actor("camille")
        account_details.update(self.session, actor=ced, account_id=french, language="fr")
        english = self.ids["facebook", "ManitobaAgriculture"]
        account_details.update(self.session, actor=ced, account_id=english, twin_id=french)

    def put(self, who: str, account: tuple[str, str], kind: str, value: str) -> None:
        credentials.put(
            self.session,
            keyring=self.keyring,
            actor=self.actor(who),
            account_id=self.ids[account],
            kind=kind,
            value=Secret(value),
        )

    def credentials(self) -> None:
        """CED stores each account's credentials: made-up values, plainly so."""
        for number, row in enumerate(EXISTING, start=1):
            account = (row[0], row[1])
            if account in NO_PASSWORD:
                continue
            self.put("jordan", account, "password", f"DEMO-not-a-real-password-{number:02d}")
            if account in WITH_TOTP:
                self.put("jordan", account, "totp_seed", "DEMOSEEDDEMOSEEDDEMOSEED")
            if account in WITH_RECOVERY:
                codes = "\n".join(f"demo-recovery-{n:04d}" for n in range(1, 9))
                self.put("jordan", account, "recovery_codes", codes)

    def requests(self) -> None:
        """Requests for new accounts, each taken as far as its outcome. An approved one is
        approved by the department, then by CED (who adds its holder); the requester, now a
        holder, stores the password (but for Mastodon: a finding)."""
        for who, platform, handle, name, category, login, purpose, outcome in REQUESTS:
            request = requests.submit_new_account(
                self.session,
                settings=self.settings,
                actor=self.actor(who),
                platform=platform,
                handle=handle,
                url=canonical_profile_url(get_platform(platform), handle),
                category=category,
                department=PEOPLE[who][2],
                purpose=purpose,
                login_email=login,
                holders=[PEOPLE[who][0]],
                display_name=name,
            )
            assert request.id is not None
            if outcome == "withdrawn":
                requests.withdraw(
                    self.session,
                    settings=self.settings,
                    actor=self.actor(who),
                    request_id=request.id,
                )
            elif outcome == "rejected":
                self.reject(self.executive(who), request.id, REJECTIONS[handle])
            elif outcome != "submitted":
                self.decide(self.executive(who), request.id)
            if outcome == "rejected_by_ced":
                self.reject("camille", request.id, REJECTIONS[handle])
            elif outcome == "approved":
                decided = self.decide("camille", request.id, holders=["jordan"])
                assert decided.account_id is not None
                self.ids[platform, handle] = decided.account_id
                if platform != "mastodon":
                    password = f"DEMO-not-a-real-password-{decided.account_id:02d}"
                    self.put(who, (platform, handle), "password", password)

    def decide(self, who: str, request_id: int, *, holders: Sequence[str] = ()) -> RequestPublic:
        return requests.approve(
            self.session,
            settings=self.settings,
            actor=self.actor(who),
            request_id=request_id,
            comment="Approved; CED holds the credentials." if holders else "Fits our plan.",
            holders=[PEOPLE[h][0] for h in holders],
        )

    def reject(self, who: str, request_id: int, reason: str) -> None:
        requests.reject(
            self.session,
            settings=self.settings,
            actor=self.actor(who),
            request_id=request_id,
            reason=reason,
        )

    def executive(self, who: str) -> str:
        """The executive of ``who``'s department."""
        department = PEOPLE[who][2]
        return next(
            key for key, p in PEOPLE.items() if p[2] == department and Role.dept_approver in p[3]
        )

    def decommissioned(self) -> None:
        """Accounts decommissioned through both stages, and one such request still waiting."""
        for who, platform, handle, reason in DECOMMISSIONED:
            request = requests.submit_decommission(
                self.session,
                settings=self.settings,
                actor=self.actor(who),
                account_id=self.ids[platform, handle],
                reason=reason,
            )
            assert request.id is not None
            if handle != "MBGovFamilies":
                self.decide(self.executive(who), request.id)
                self.decide("jordan", request.id)

    def departure(self) -> None:
        """Leah reveals a password for her work, then leaves government: a handover moves
        what she held to Tom and marks what she knew for rotation; CED rotates one of them."""
        credentials.reveal(
            self.session,
            keyring=self.keyring,
            actor=self.actor("leah"),
            account_id=self.ids["x", "MBGovAg"],
            kind="password",
            reason="Posting the spring seeding report.",
        )
        handover.handover(
            self.session,
            settings=self.settings,
            actor=self.actor("admin"),
            departing=PEOPLE["leah"][0],
            successor=PEOPLE["tom"][0],
        )
        self.put(
            "camille",
            ("facebook", "ManitobaAgriculture"),
            "password",
            "DEMO-not-a-real-password-rotated",
        )
        access.grant(
            self.session,
            settings=self.settings,
            actor=self.actor("camille"),
            account_id=self.ids["x", "MBGovAg"],
            email=PEOPLE["jordan"][0],
        )

    def reviews(self) -> None:
        for account in (
            ("facebook", "ManitobaGov"),
            ("x", "MBGov"),
            ("facebook", "ManitobaHealth"),
            ("facebook", "MBFamilies"),
        ):
            accounts.review(
                self.session,
                settings=self.settings,
                actor=self.actor("camille"),
                account_id=self.ids[account],
                note="Checked the holders, the login e-mail and recent posts.",
            )


def _age(session: Session, ids: dict[tuple[str, str], int]) -> None:
    """Review dates as a year of use leaves them: a few overdue, a few due in the coming
    weeks. The one change not made through a service: time cannot pass in one transaction."""
    today = utcnow().date()
    for key, days in (
        (("x", "MBGovJustice"), -41),
        (("instagram", "mbhealthyliving"), -12),
        (("linkedin", "manitoba-families-careers"), -3),
        (("facebook", "MBEducation"), 9),
        (("youtube", "@ManitobaAgriculture"), 20),
        (("linkedin", "manitoba-health-careers"), 27),
    ):
        account = session.get(Account, ids[key])
        assert account is not None
        account.next_review_on = today + dt.timedelta(days=days)
        session.add(account)
    session.flush()


# ------------------------------------------------------------------------------ counting


def summary(session: Session, *, settings: Settings) -> dict[str, Any]:
    """What the registry holds, in counts (``registry demo --json`` prints them)."""

    def count(model: Any, *where: Any) -> int:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

    def tally(column: Any) -> dict[str, int]:
        rows = session.exec(select(column, func.count()).group_by(column)).all()
        return {str(value): int(n) for value, n in sorted(rows)}

    statuses = tally(col(Account.status))
    states = tally(col(AccountRequest.state))
    platforms = sorted(session.exec(select(Account.platform).distinct()).all())
    admin = actor_by_email(session, settings, ADMIN[0])
    findings = compliance.report(session, settings=settings, actor=admin).findings
    return {
        "departments": count(Department),
        "people": count(Person),
        "people_left": count(Person, Person.status != PersonStatus.active.value),
        "accounts": {"total": sum(statuses.values()), **statuses},
        "platforms": platforms,
        "every_platform": platforms == sorted(p.name for p in PLATFORMS),
        "requests": {"total": sum(states.values()), **states},
        "credentials": count(Credential),
        "handovers": count(Handover),
        "findings": dict(sorted(Counter(f.code for f in findings).items())),
        "queued_messages": count(OutboxMessage, OutboxMessage.status == "queued"),
    }
