"""Plain factories: a small cast of departments and people, and accounts made through services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from registry.config import Settings
from registry.models import Account, Person, Role
from registry.platforms import canonical_profile_url, get_platform
from registry.services import accounts, departments, people
from registry.services.actors import Actor, actor_for

# short name -> (email, department, roles)
CAST: dict[str, tuple[str, str, tuple[Role, ...]]] = {
    "admin": ("admin@gov.mb.ca", "CED", (Role.admin, Role.ced)),
    "ced1": ("ced.one@gov.mb.ca", "CED", (Role.ced,)),
    "ced2": ("ced.two@gov.mb.ca", "CED", (Role.ced,)),
    "agr_requester": ("rita.requester@gov.mb.ca", "AGR", (Role.requester,)),
    "agr_approver": ("dana.deputy@gov.mb.ca", "AGR", (Role.dept_approver,)),
    "agr_staff": ("sam.staff@agr.gov.mb.ca", "AGR", (Role.requester,)),
    "hlt_requester": ("hana.health@gov.mb.ca", "HLT", (Role.requester,)),
    "auditor": ("aude.auditor@gov.mb.ca", "FIN", (Role.auditor,)),
    "ced_exec": ("cora.exec@gov.mb.ca", "CED", (Role.ced, Role.dept_approver)),
    "hlt_approver": ("hugo.deputy@gov.mb.ca", "HLT", (Role.dept_approver,)),
    "fin_admin": ("fin.admin@gov.mb.ca", "FIN", (Role.admin,)),
}


# The body of ``POST /requests`` for a new AGR account, as AGR's requester sends it: an AGR
# holder (a requester names people of their own department; CED adds its holder at approval).
NEW_REQUEST: dict[str, Any] = {
    "kind": "new_account",
    "platform": "facebook",
    "handle": "MBFloodUpdates",
    "url": "https://www.facebook.com/MBFloodUpdates",
    "category": "official",
    "department": "AGR",
    "purpose": "Flood updates for producers.",
    "login_email": "flood.updates@gov.mb.ca",
    "holders": [CAST["agr_staff"][0]],
}


@dataclass
class World:
    session: Session
    settings: Settings
    people: dict[str, Person] = field(default_factory=dict)

    @classmethod
    def build(cls, session: Session, settings: Settings) -> World:
        """Add the departments and the cast through the services; the people are then
        loaded as rows (``add_person`` answers with the public view), as :meth:`load` does."""
        for code, name in [
            ("CED", "Communications and Engagement Division"),
            ("AGR", "Agriculture"),
            ("HLT", "Health"),
            ("FIN", "Finance"),
        ]:
            departments.add_department(session, actor=None, code=code, name=name)
        for key, (email, dept, roles) in CAST.items():
            people.add_person(
                session,
                settings=settings,
                actor=None,
                email=email,
                name=key.replace("_", " ").title(),
                department=dept,
                roles=roles,
            )
        return cls.load(session, settings)

    @classmethod
    def load(cls, session: Session, settings: Settings) -> World:
        """The cast of a database that :meth:`build` filled earlier (in another session)."""
        found = {p.email: p for p in session.exec(select(Person))}
        return cls(
            session=session,
            settings=settings,
            people={key: found[email] for key, (email, _, _) in CAST.items()},
        )

    def actor(self, key: str) -> Actor:
        return actor_for(self.session, self.settings, self.people[key])

    def email(self, key: str) -> str:
        return self.people[key].email

    def account(
        self,
        handle: str = "ManitobaAg",
        *,
        holders: Sequence[str] = ("ced1", "agr_staff"),
        department: str = "AGR",
        platform: str = "facebook",
        login_email: str = "agr.social@gov.mb.ca",
    ) -> Account:
        """An active account made the way an import makes one (rules already satisfied)."""
        draft = accounts.validate_draft(
            settings=self.settings,
            departments_by_code=accounts.all_departments(self.session),
            platform=platform,
            handle=handle,
            url=canonical_profile_url(get_platform(platform), handle),
            category="official",
            department=department,
            program_area="",
            purpose="Program news",
            login_email=login_email,
        )
        [account_id] = accounts.insert_active_accounts(
            self.session,
            settings=self.settings,
            actor=self.actor("admin"),
            entries=[(draft, [self.people[h] for h in holders])],
            action="account.created",
        )
        account = self.session.get(Account, account_id)
        assert account is not None
        return account
