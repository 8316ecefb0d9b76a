"""The HTTP API: bearer tokens, status codes, error bodies and one transaction per request."""

from __future__ import annotations

import pytest
from sqlmodel import select

from registry.models import Account, ApiToken, AuditEvent, Person, utcnow
from registry.services import accounts, tokens
from tests.conftest import Api
from tests.factories import CAST, World

HEADER = "platform,handle,url,category,department,login_email,purpose,holders\n"
GOOD_ROW = (
    "facebook,ManitobaAg,https://facebook.com/ManitobaAg,official,AGR,agr.social@gov.mb.ca,"
    "Farm news,ced.one@gov.mb.ca;sam.staff@agr.gov.mb.ca\n"
)


class TestAuthentication:
    def test_no_token_is_401_with_a_reason(self, api: Api) -> None:
        response = api.client.get("/accounts")
        assert response.status_code == 401
        assert response.json() == {
            "error": "unauthenticated",
            "detail": "Send an API token as 'Authorization: Bearer TOKEN'.",
        }
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("token", ["nonsense", "smr_" + "A" * 43, "Basic abc"])
    def test_bad_tokens_are_401(self, api: Api, token: str) -> None:
        response = api.client.get("/accounts", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    def test_expired_and_revoked_tokens_are_401(self, api: Api) -> None:
        with api.db.scope() as session:
            by_email = {
                person.email: row
                for row, person in session.exec(
                    select(ApiToken, Person).where(ApiToken.person_id == Person.id)
                )
            }
            expired, revoked = by_email[CAST["admin"][0]], by_email[CAST["ced1"][0]]
            expired.expires_at = utcnow()
            revoked.revoked_at = utcnow()
            session.add_all([expired, revoked])
        for key in ("admin", "ced1"):
            response = api.client.get("/departments", headers=api.headers(key))
            assert response.status_code == 401, key
            assert "expired or revoked" in response.json()["detail"]
        assert api.client.get("/departments", headers=api.headers("ced2")).status_code == 200

    def test_a_token_revoked_through_the_api_stops_working(self, api: Api) -> None:
        created = api.client.post(
            "/tokens", json={"email": CAST["ced2"][0], "days": 1}, headers=api.headers("admin")
        )
        assert created.status_code == 201
        body = created.json()
        fresh = {"Authorization": f"Bearer {body['token']}"}
        assert api.client.get("/departments", headers=fresh).status_code == 200
        listed = api.client.get("/tokens", headers=api.headers("admin")).json()
        assert all("token" not in t for t in listed)
        assert api.client.delete(f"/tokens/{body['id']}", headers=fresh).status_code == 200
        assert api.client.get("/departments", headers=fresh).status_code == 401

    def test_a_person_who_left_is_401_even_with_a_valid_token(self, api: Api) -> None:
        with api.db.scope() as session:
            person = session.exec(select(Person).where(Person.email == CAST["ced2"][0])).one()
            person.status = "left"
            session.add(person)
        response = api.client.get("/departments", headers=api.headers("ced2"))
        assert response.status_code == 401
        # The same sentence as any bad token: nothing about who owned it or that they left.
        assert response.json()["detail"] == tokens.REFUSED
        assert CAST["ced2"][0] not in response.text

    def test_only_admins_create_tokens(self, api: Api) -> None:
        response = api.client.post(
            "/tokens", json={"email": CAST["ced1"][0]}, headers=api.headers("ced1")
        )
        assert response.status_code == 403


class TestIssuedToken:
    def test_the_secret_is_only_in_the_answer_that_shows_it_once(self, world: World) -> None:
        issued = tokens.create_token(world.session, actor=None, email=world.email("ced1"))
        assert issued.token not in repr(issued) and issued.token not in str(issued)
        assert "token" not in issued.public.model_dump()
        listed = tokens.list_tokens(world.session, actor=world.actor("ced1"))
        assert listed == [issued.public]  # the public view is what reading it back shows
        created = issued.created()
        assert created.token == issued.token
        assert created.model_dump(exclude={"token"}) == issued.public.model_dump()


class TestRolesAndVisibility:
    def test_requester_may_not_import_403(self, api: Api) -> None:
        response = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW,
            headers={**api.headers("agr_requester"), "Content-Type": "text/csv"},
        )
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
        assert api.count(Account) == 0

    def test_other_departments_accounts_are_404(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201
        [account_id] = imported.json()["account_ids"]
        assert (
            api.client.get(
                f"/accounts/{account_id}", headers=api.headers("agr_requester")
            ).status_code
            == 200
        )
        hidden = api.client.get(f"/accounts/{account_id}", headers=api.headers("hlt_requester"))
        assert hidden.status_code == 404
        assert hidden.json()["detail"] == f"No account with id {account_id}."
        assert api.client.get("/accounts", headers=api.headers("hlt_requester")).json() == []

    def test_people_are_admin_only_to_add(self, api: Api) -> None:
        body = {
            "email": "new@gov.mb.ca",
            "name": "New",
            "department": "AGR",
            "roles": ["requester"],
        }
        assert api.client.post("/people", json=body, headers=api.headers("ced1")).status_code == 403
        created = api.client.post("/people", json=body, headers=api.headers("admin"))
        assert created.status_code == 201
        assert created.json()["roles"] == ["requester"]
        again = api.client.post("/people", json=body, headers=api.headers("admin"))
        assert again.status_code == 409


class TestRefusalsChangeNothing:
    def test_rule_violation_is_409_and_rolls_back(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        [account_id] = imported.json()["account_ids"]
        events = api.count(AuditEvent)
        response = api.client.delete(
            f"/accounts/{account_id}/holders/sam.staff@agr.gov.mb.ca", headers=api.headers("ced1")
        )
        assert response.status_code == 409
        assert response.json()["error"] == "rule_violation"
        assert f"account {account_id} (facebook @ManitobaAg)" in response.json()["detail"]
        assert api.count(AuditEvent) == events

    def test_grant_then_revoke_over_http(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        [account_id] = imported.json()["account_ids"]
        granted = api.client.post(
            f"/accounts/{account_id}/holders",
            json={"email": "ced.two@gov.mb.ca"},
            headers=api.headers("ced1"),
        )
        assert granted.status_code == 201 and granted.json()["granted_by"] == "ced.one@gov.mb.ca"
        revoked = api.client.delete(
            f"/accounts/{account_id}/holders/sam.staff@agr.gov.mb.ca", headers=api.headers("ced1")
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        shown = api.client.get(f"/accounts/{account_id}", headers=api.headers("auditor")).json()
        assert shown["holders"] == ["ced.one@gov.mb.ca", "ced.two@gov.mb.ca"]

    def test_bad_import_lists_every_problem(self, api: Api) -> None:
        bad = GOOD_ROW.replace("official", "personal")
        response = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW.replace("ManitobaAg", "Other") + bad,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == "Nothing was imported: 1 row of 2 is invalid."
        assert body["problems"][0].startswith("line 3: A personal account cannot be registered")
        assert api.count(Account) == 0

    def test_malformed_payload_is_422_with_a_sentence(self, api: Api) -> None:
        response = api.client.post("/people", json={"email": 5}, headers=api.headers("admin"))
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_input"
        assert response.json()["detail"].startswith("Invalid input:")
        not_int = api.client.get("/accounts/abc", headers=api.headers("admin"))
        assert not_int.status_code == 422


class TestOpenApi:
    def test_schema_lists_the_routes(self, api: Api) -> None:
        schema = api.client.get("/openapi.json").json()
        assert {"/accounts", "/accounts/import", "/people", "/tokens"} <= set(schema["paths"])


class TestDatabaseClashes:
    def test_a_unique_index_clash_is_409_not_500(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two imports of one handle racing past the service check meet the unique index."""
        imported = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201
        # Make the second import blind to the first, as a concurrent one would be.
        monkeypatch.setattr(accounts, "live_handles", lambda session: {})
        response = api.client.post(
            "/accounts/import",
            content=HEADER + GOOD_ROW,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert response.status_code == 409
        assert "clashed with another made at the same moment" in response.json()["detail"]
        assert api.count(Account) == 1
