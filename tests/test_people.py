"""Departments and people: who may add them, and what the registry accepts."""

from __future__ import annotations

import pytest
from sqlmodel import select

from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.models import AuditEvent, PersonPublic, PersonStatus, Role
from registry.services import departments, people
from registry.services.actors import actor_by_email
from tests.factories import World


class TestDepartments:
    def test_admin_adds_one_and_it_is_listed(self, world: World) -> None:
        departments.add_department(
            world.session, actor=world.actor("admin"), code="edu", name="Education"
        )
        assert "EDU" in [d.code for d in departments.list_departments(world.session)]

    def test_non_admin_refused(self, world: World) -> None:
        with pytest.raises(Forbidden, match="may not add departments"):
            departments.add_department(
                world.session, actor=world.actor("ced1"), code="EDU", name="Education"
            )

    def test_duplicate_and_malformed_codes(self, world: World) -> None:
        admin = world.actor("admin")
        with pytest.raises(Conflict, match="AGR already exists"):
            departments.add_department(world.session, actor=admin, code="agr", name="Again")
        with pytest.raises(InvalidInput, match="letters, digits"):
            departments.add_department(world.session, actor=admin, code="A B", name="Spaced")
        with pytest.raises(InvalidInput, match="must not be blank"):
            departments.add_department(world.session, actor=admin, code="EDU", name="  ")


class TestAddPerson:
    def add(self, world: World, **kw: object) -> PersonPublic:
        args: dict[str, object] = {
            "email": "new.person@gov.mb.ca",
            "name": "New Person",
            "department": "AGR",
            "roles": [Role.requester],
        }
        args.update(kw)
        return people.add_person(
            world.session,
            settings=world.settings,
            actor=world.actor("admin"),
            **args,  # type: ignore[arg-type]
        )

    def test_admin_adds_a_person_with_roles_and_an_audit_event(self, world: World) -> None:
        public = self.add(world, roles=["dept_approver", "requester"])
        assert public.roles == ["dept_approver", "requester"]
        assert public.department == "AGR"
        # the answer is what reading the person back shows
        assert public == people.show_person(
            world.session, actor=world.actor("admin"), email="new.person@gov.mb.ca"
        )
        event = world.session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "person.created")
            .order_by(AuditEvent.seq.desc())  # type: ignore[union-attr]
        ).first()
        assert event is not None and event.details["email"] == "new.person@gov.mb.ca"

    def test_only_admins_add_people(self, world: World) -> None:
        with pytest.raises(Forbidden):
            people.add_person(
                world.session,
                settings=world.settings,
                actor=world.actor("ced1"),
                email="x@gov.mb.ca",
                name="X",
                department="AGR",
            )

    def test_non_government_address_refused(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="approved government domain"):
            self.add(world, email="someone@gmail.com")

    def test_ced_role_is_for_ced_staff(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="ced role is for CED staff"):
            self.add(world, roles=["ced"])

    def test_unknown_role_and_department(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="Unknown role 'boss'"):
            self.add(world, roles=["boss"])
        with pytest.raises(NotFound, match="No department with code 'NOPE'"):
            self.add(world, department="NOPE")

    def test_same_address_in_other_case_is_a_duplicate(self, world: World) -> None:
        with pytest.raises(Conflict, match="already registered"):
            self.add(world, email="CED.One@gov.mb.ca")

    def test_oversize_name_refused(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="longer than 200"):
            self.add(world, name="x" * 201)


class TestSeeingPeople:
    def test_requester_sees_only_their_department(self, world: World) -> None:
        seen = people.list_people(world.session, actor=world.actor("agr_requester"))
        assert {p.department for p in seen} == {"AGR"}
        with pytest.raises(NotFound):
            people.show_person(
                world.session, actor=world.actor("agr_requester"), email=world.email("ced1")
            )

    def test_auditor_sees_everyone(self, world: World) -> None:
        seen = people.list_people(world.session, actor=world.actor("auditor"))
        assert {p.department for p in seen} == {"CED", "AGR", "HLT", "FIN"}


class TestActor:
    def test_missing_unknown_and_left_actors_are_refused(self, world: World) -> None:
        with pytest.raises(Unauthenticated, match="--as EMAIL"):
            actor_by_email(world.session, world.settings, None)
        with pytest.raises(Unauthenticated, match="No person"):
            actor_by_email(world.session, world.settings, "ghost@gov.mb.ca")
        with pytest.raises(Unauthenticated, match="No person"):
            actor_by_email(world.session, world.settings, "not an address")
        leaver = world.people["agr_staff"]
        leaver.status = PersonStatus.left.value
        world.session.add(leaver)
        world.session.flush()
        with pytest.raises(Unauthenticated, match="has left government"):
            actor_by_email(world.session, world.settings, leaver.email)

    def test_actor_email_is_case_insensitive(self, world: World) -> None:
        actor = actor_by_email(world.session, world.settings, "ADMIN@gov.mb.ca")
        assert actor.email == "admin@gov.mb.ca" and actor.is_ced_staff
