"""Changing a person's roles and department: administrators only, never leaving the registry
without an administrator or an active account without a holder from CED (rule 3)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RuleViolation,
)
from registry.models import AccountStatus, AuditEvent, PersonPublic, PersonStatus, Role
from registry.services import access, people
from tests.conftest import Api, Cli, FreshDatabase, assert_refused, table_rows
from tests.factories import CAST, World


def _update(world: World, who: str, *, by: str = "admin", **change: Any) -> PersonPublic:
    return people.update_person(
        world.session,
        settings=world.settings,
        actor=world.actor(by),
        email=world.email(who),
        **change,
    )


def _updated_events(world: World) -> list[dict[str, Any]]:
    return [
        dict(e.details)
        for e in world.session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "person.updated")
            .order_by(col(AuditEvent.seq))
        )
    ]


class TestChangingRolesAndDepartment:
    def test_the_roles_are_replaced_and_audited(self, world: World) -> None:
        changed = _update(world, "agr_requester", roles=["dept_approver", "auditor"])
        assert changed.roles == ["auditor", "dept_approver"] and changed.department == "AGR"
        assert changed == people.show_person(
            world.session, actor=world.actor("admin"), email=world.email("agr_requester")
        )
        assert world.actor("agr_requester").roles == {Role.dept_approver, Role.auditor}
        [details] = _updated_events(world)
        assert details == {
            "email": world.email("agr_requester"),
            "roles": {"before": ["requester"], "after": ["auditor", "dept_approver"]},
            "department": {"before": "AGR", "after": "AGR"},
        }

    def test_the_department_alone_changes_and_the_roles_stay(self, world: World) -> None:
        changed = _update(world, "agr_approver", department="hlt")
        assert (changed.department, changed.roles) == ("HLT", ["dept_approver"])
        assert world.actor("agr_approver").department_code == "HLT"
        [details] = _updated_events(world)
        assert details["department"] == {"before": "AGR", "after": "HLT"}
        assert details["roles"] == {"before": ["dept_approver"], "after": ["dept_approver"]}

    def test_both_at_once_into_ced_with_the_ced_role(self, world: World) -> None:
        changed = _update(world, "agr_staff", roles=["requester", "ced"], department="CED")
        assert (changed.department, changed.roles) == ("CED", ["ced", "requester"])
        assert world.actor("agr_staff").is_ced_staff

    def test_an_administrator_may_step_down_while_another_remains(self, world: World) -> None:
        changed = _update(world, "admin", by="admin", roles=["ced"])
        assert changed.roles == ["ced"]


class TestRefusals:
    def test_only_administrators_change_people(self, world: World) -> None:
        for who in ("ced1", "agr_approver", "auditor"):
            with pytest.raises(Forbidden, match="may not change people; that needs the admin"):
                _update(world, "agr_requester", by=who, roles=["dept_approver"])
        assert world.actor("agr_requester").roles == {Role.requester}

    def test_an_unknown_person(self, world: World) -> None:
        with pytest.raises(NotFound, match=r"No person with e-mail ghost@gov\.mb\.ca"):
            people.update_person(
                world.session,
                settings=world.settings,
                actor=world.actor("admin"),
                email="ghost@gov.mb.ca",
                roles=["requester"],
            )

    def test_a_person_who_has_left(self, world: World) -> None:
        leaver = world.people["agr_staff"]
        leaver.status = PersonStatus.left.value
        world.session.add(leaver)
        world.session.flush()
        with pytest.raises(InvalidTransition, match="has left government"):
            _update(world, "agr_staff", roles=["dept_approver"])

    def test_the_ced_role_outside_ced(self, world: World) -> None:
        with pytest.raises(InvalidInput, match=r"ced role is for CED staff; .* is in AGR"):
            _update(world, "agr_requester", roles=["requester", "ced"])
        with pytest.raises(InvalidInput, match=r"ced role is for CED staff; .* is in HLT"):
            _update(world, "ced2", department="HLT")  # keeping the ced role
        assert world.actor("ced2").department_code == "CED"

    def test_the_last_administrator_keeps_the_admin_role(self, world: World) -> None:
        _update(world, "fin_admin", roles=["auditor"])
        with pytest.raises(InvalidTransition, match="last active administrator") as refused:
            _update(world, "admin", by="admin", roles=["ced"])
        assert refused.value.message.endswith(".")
        assert Role.admin in world.actor("admin").roles
        # Changing the last administrator's department or other roles is fine.
        assert _update(world, "admin", roles=["admin"]).roles == ["admin"]

    def test_the_only_ced_holder_of_an_active_account_stays_in_ced(self, world: World) -> None:
        account = world.account(holders=("ced1", "agr_staff"))
        world.account("MBFarmSafety", holders=("ced1", "agr_staff"), login_email="a@gov.mb.ca")
        with pytest.raises(RuleViolation) as refused:
            _update(world, "ced1", roles=["requester"], department="AGR")
        message = refused.value.message
        assert message == (
            "ced.one@gov.mb.ca cannot leave CED: they are the only CED holder of 2 active "
            "accounts; add another CED holder to them or hand them over first."
        )
        assert refused.value.problems == [
            f"account {account.id} (facebook @ManitobaAg)",
            f"account {(account.id or 0) + 1} (facebook @MBFarmSafety)",
        ]
        assert world.actor("ced1").department_code == "CED"

    def test_another_ced_holder_or_an_inactive_account_lets_them_go(self, world: World) -> None:
        account = world.account(holders=("ced1", "agr_staff"))
        access.grant(
            world.session,
            settings=world.settings,
            actor=world.actor("admin"),
            account_id=account.id or 0,
            email=world.email("ced2"),
        )
        other = world.account("MBOld", holders=("ced1", "agr_staff"), login_email="o@gov.mb.ca")
        other.status = AccountStatus.decommissioned.value
        world.session.add(other)
        world.session.flush()
        moved = _update(world, "ced1", roles=["requester"], department="AGR")
        assert moved.department == "AGR"

    def test_the_ced_role_alone_may_go_from_a_ced_holder(self, world: World) -> None:
        """Rule 3 counts holders from CED by their department (as the compliance report does),
        so a CED holder without the ced role still counts."""
        world.account(holders=("ced1", "agr_staff"))
        assert _update(world, "ced1", roles=["requester"]).department == "CED"

    def test_no_role_at_all(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="needs at least one role"):
            _update(world, "agr_requester", roles=[])

    def test_a_change_that_changes_nothing(self, world: World) -> None:
        with pytest.raises(Conflict, match="already has these roles and department"):
            _update(world, "agr_requester", roles=["requester"], department="agr")
        with pytest.raises(Conflict, match="Nothing to change: name the roles or the department"):
            _update(world, "agr_requester")
        assert _updated_events(world) == []

    def test_an_unknown_role_or_department(self, world: World) -> None:
        with pytest.raises(InvalidInput, match="Unknown role 'boss'"):
            _update(world, "agr_requester", roles=["boss"])
        with pytest.raises(NotFound, match="No department with code 'NOPE'"):
            _update(world, "agr_requester", department="NOPE")


class TestOverHttp:
    def test_patch_changes_roles_and_department(self, api: Api) -> None:
        response = api.client.patch(
            "/people/Rita.Requester@gov.mb.ca",
            json={"roles": ["requester", "dept_approver"], "department": "HLT"},
            headers=api.headers("admin"),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["department"], body["roles"]) == ("HLT", ["dept_approver", "requester"])
        only_department = api.client.patch(
            f"/people/{CAST['agr_staff'][0]}",
            json={"department": "FIN"},
            headers=api.headers("fin_admin"),
        )
        assert only_department.json()["roles"] == ["requester"], only_department.text

    def test_refusals_are_one_sentence_and_change_nothing(self, api: Api) -> None:
        before = table_rows(api.db.engine)
        assert_refused(
            api.client.patch(
                f"/people/{CAST['agr_requester'][0]}",
                json={"roles": ["admin"]},
                headers=api.headers("ced1"),
            ),
            403,
            "may not change people",
        )
        assert_refused(
            api.client.patch(
                f"/people/{CAST['agr_requester'][0]}",
                json={"roles": ["ced"]},
                headers=api.headers("admin"),
            ),
            422,
            "ced role is for CED staff",
        )
        assert_refused(
            api.client.patch(
                "/people/ghost@gov.mb.ca", json={"roles": ["ced"]}, headers=api.headers("admin")
            ),
            404,
        )
        assert_refused(
            api.client.patch(
                f"/people/{CAST['agr_requester'][0]}",
                json={"roles": ["requester"]},
                headers=api.headers("admin"),
            ),
            409,
            "nothing to change",
        )
        malformed = api.client.patch(
            f"/people/{CAST['agr_requester'][0]}",
            json={"roles": ["boss"]},
            headers=api.headers("admin"),
        )
        assert malformed.status_code == 422
        assert table_rows(api.db.engine) == before


@pytest.fixture
def cli(cli: Cli, fresh_db: FreshDatabase) -> Cli:
    """The command on a fresh registry holding the cast of tests.factories."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    return cli


class TestCommandLine:
    def test_people_set_changes_roles_and_department(self, cli: Cli) -> None:
        admin = CAST["admin"][0]
        changed = cli.json(
            "people",
            "set",
            CAST["agr_requester"][0],
            "--role",
            "requester",
            "--role",
            "dept_approver",
            "--department",
            "HLT",
            "--as",
            admin,
        )
        assert (changed["department"], changed["roles"]) == ("HLT", ["dept_approver", "requester"])
        plain = cli.ok("people", "set", CAST["agr_staff"][0], "--department", "FIN", "--as", admin)
        assert plain.stdout.strip() == "sam.staff@agr.gov.mb.ca is now in FIN as requester."

    def test_refusals_are_one_sentence(self, cli: Cli) -> None:
        fin_admin = CAST["fin_admin"][0]
        cli.ok("people", "set", CAST["admin"][0], "--role", "ced", "--as", fin_admin)
        refused = cli.refused("people", "set", fin_admin, "--role", "auditor", "--as", fin_admin)
        assert "last active administrator" in refused
        assert "may not change people" in cli.refused(
            "people", "set", fin_admin, "--role", "auditor", "--as", CAST["ced1"][0]
        )
        assert "Nothing to change: name the roles or the department" in cli.refused(
            "people", "set", fin_admin, "--as", fin_admin
        )
