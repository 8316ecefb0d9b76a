"""``registry init``: the CED department and the first administrator, once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from registry.config import Settings
from registry.models import Department, Person, PersonPublic, PersonRole, Role
from registry.rules import check_government_email
from registry.services import departments, people
from registry.services.people import NAME_LENGTH
from registry.validation import clean_text

CED_NAME = "Communications and Engagement Division"


@dataclass(frozen=True)
class InitResult:
    created: bool
    admin: PersonPublic
    message: str


def check_admin(*, settings: Settings, admin_email: str, admin_name: str) -> None:
    """Refuse a first administrator (or CED code) that ``initialise`` would refuse, before
    ``registry init`` creates the keyring or migrates: a refused init changes nothing."""
    check_government_email(admin_email, settings.approved_domains, what="E-mail")
    clean_text(admin_name, field="Name", max_length=NAME_LENGTH)
    departments.normalize_code(settings.ced_department)


def initialise(
    session: Session, *, settings: Settings, admin_email: str, admin_name: str
) -> InitResult:
    """Create the CED department and its first administrator; harmless when already done."""
    check_admin(settings=settings, admin_email=admin_email, admin_name=admin_name)
    existing_admin = session.exec(
        select(Person).join(PersonRole).where(PersonRole.role == Role.admin.value)
    ).first()
    if existing_admin is not None:
        return InitResult(
            created=False,
            admin=people.to_public(session, [existing_admin])[0],
            message=(
                f"The registry is already initialised (administrator {existing_admin.email}); "
                "nothing changed."
            ),
        )
    ced = session.exec(select(Department).where(Department.code == settings.ced_department)).first()
    if ced is None:
        departments.add_department(session, actor=None, code=settings.ced_department, name=CED_NAME)
    admin = people.add_person(
        session,
        settings=settings,
        actor=None,
        email=admin_email,
        name=admin_name,
        department=settings.ced_department,
        roles=[Role.admin, Role.ced],
    )
    return InitResult(
        created=True,
        admin=admin,
        message=f"Initialised the registry with administrator {admin.email}.",
    )
