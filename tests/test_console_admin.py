"""The administration pages (people, departments) and the tokens pages, over HTTP."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from registry.http.console.paging import CONSOLE_PAGE
from registry.models import ApiToken, AuditEvent, Department, Person
from registry.services import people
from tests.conftest import Api, csrf_of
from tests.factories import CAST

RITA = CAST["agr_requester"][0]

NEW_PERSON = {
    "email": "new.person@gov.mb.ca",
    "name": "New Person",
    "department": "AGR",
    "roles": ["requester", "dept_approver"],
}


def _field_error(page: str, field: str) -> str:
    """The error shown next to ``field`` (its text, markup removed), or ''."""
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))) if found else ""


def _person(api: Api, email: str) -> dict[str, object]:
    response = api.client.get(f"/people/{email}", headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _checked_roles(page: str) -> set[str]:
    return set(re.findall(r'name="roles" value="(\w+)"[^>]*? checked', page))


class TestAddingPeople:
    def test_an_administrator_adds_a_person_and_lands_on_their_page(self, api: Api) -> None:
        csrf = api.sign_in("fin_admin")
        page = api.client.get("/console/people")
        assert page.status_code == 200
        assert (
            "<legend>Roles</legend>" in page.text
            and '<label for="email">E-mail</label>' in page.text
        )
        sent = api.client.post(
            "/console/people", data={"csrf": csrf, **NEW_PERSON}, follow_redirects=False
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == (
            "/console/people/new.person@gov.mb.ca?notice=person_added"
        )
        shown = api.client.get(sent.headers["location"]).text
        assert "The person is added." in shown and "New Person (new.person@gov.mb.ca)" in shown
        assert _person(api, "new.person@gov.mb.ca")["roles"] == ["dept_approver", "requester"]

    @pytest.mark.parametrize(
        ("change", "field", "phrase"),
        [
            ({"email": "new.person@gov.mb.ca.evil.io"}, "email", "approved government domain"),
            ({"email": "new.person@g\u043ev.mb.ca"}, "email", "non-ASCII"),  # a Cyrillic o
            ({"email": "RITA.requester@gov.mb.ca"}, "email", "is already registered"),
            ({"roles": ["requester", "ced"]}, "roles", "ced role is for CED staff"),
            ({"roles": []}, "roles", "needs at least one role"),
            ({"name": " "}, "name", "Name must not be blank"),
        ],
    )
    def test_a_refused_person_keeps_what_was_typed(
        self, api: Api, change: dict[str, object], field: str, phrase: str
    ) -> None:
        csrf = api.sign_in("admin")
        before = api.count(Person)
        typed = {**NEW_PERSON, **change}
        refused = api.client.post("/console/people", data={"csrf": csrf, **typed})
        assert refused.status_code in (409, 422), refused.text[:300]
        assert phrase in _field_error(refused.text, field), refused.text
        assert refused.text.count('class="field-error"') == 1
        assert f'<a href="#{field}">' in refused.text  # the summary at the top links to it
        assert "<title>Error: People" in refused.text
        assert f'value="{html.escape(str(typed["email"]), quote=False)}"' in refused.text
        assert f'value="{typed["name"]}"' in refused.text
        assert '<option value="AGR" selected>' in refused.text
        assert _checked_roles(refused.text) == set(typed["roles"])  # type: ignore[arg-type]
        assert api.count(Person) == before

    def test_typed_text_is_shown_back_as_data(self, api: Api) -> None:
        csrf = api.sign_in("admin")
        script = "<script>alert(1)</script>"
        refused = api.client.post(
            "/console/people",
            data={"csrf": csrf, **NEW_PERSON, "email": "x@gmail.com", "name": script},
        )
        assert refused.status_code == 422
        assert script not in refused.text
        assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in refused.text


class TestChangingAPerson:
    def test_roles_and_department_are_changed(self, api: Api) -> None:
        csrf = api.sign_in("admin")
        page = api.client.get(f"/console/people/{RITA}")
        assert page.status_code == 200 and _checked_roles(page.text) == {"requester"}
        assert f'action="/console/people/{RITA}"' in page.text
        sent = api.client.post(
            f"/console/people/{RITA}",
            data={"csrf": csrf, "roles": ["requester", "dept_approver"], "department": "HLT"},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == f"/console/people/{RITA}?notice=person_updated"
        shown = api.client.get(sent.headers["location"]).text
        assert "roles and department are saved" in shown
        assert _checked_roles(shown) == {"requester", "dept_approver"}
        person = _person(api, RITA)
        assert (person["department"], person["roles"]) == ("HLT", ["dept_approver", "requester"])

    def test_the_last_administrator_is_not_demoted(self, api: Api) -> None:
        csrf = api.sign_in("admin")
        first = api.client.post(
            f"/console/people/{CAST['fin_admin'][0]}",
            data={"csrf": csrf, "roles": ["auditor"], "department": "FIN"},
            follow_redirects=False,
        )
        assert first.status_code == 303, first.text
        admin = CAST["admin"][0]
        refused = api.client.post(
            f"/console/people/{admin}",
            data={"csrf": csrf, "roles": ["ced"], "department": "CED"},
        )
        assert refused.status_code == 409, refused.text[:300]
        assert "last active administrator" in _field_error(refused.text, "roles")
        assert '<a href="#roles">' in refused.text
        assert _checked_roles(refused.text) == {"ced"}  # as typed, not as stored
        assert _person(api, admin)["roles"] == ["admin", "ced"]

    def test_the_only_ced_holder_of_an_account_stays_in_ced(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=(
                "platform,handle,url,category,department,login_email,purpose,holders\n"
                "facebook,ManitobaAg,https://www.facebook.com/ManitobaAg,official,AGR,"
                f"agr.social@gov.mb.ca,Farm news,{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
            ),
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201, imported.text
        csrf = api.sign_in("admin")
        refused = api.client.post(
            f"/console/people/{CAST['ced1'][0]}",
            data={"csrf": csrf, "roles": ["requester"], "department": "AGR"},
        )
        assert refused.status_code == 409, refused.text[:300]
        assert "only CED holder of 1 active account" in _field_error(refused.text, "department")
        assert "facebook @ManitobaAg" in refused.text  # the account, listed in the summary
        assert _person(api, CAST["ced1"][0])["department"] == "CED"

    def test_an_unknown_person_is_not_found(self, api: Api) -> None:
        api.sign_in("admin")
        missing = api.client.get("/console/people/ghost@gov.mb.ca")
        assert missing.status_code == 404 and "ghost@gov.mb.ca" in missing.text


class TestDepartments:
    def test_an_administrator_adds_a_department(self, api: Api) -> None:
        csrf = api.sign_in("fin_admin")
        sent = api.client.post(
            "/console/departments",
            data={"csrf": csrf, "code": "edu", "name": "Education"},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == "/console/departments?notice=department_added"
        shown = api.client.get(sent.headers["location"]).text
        assert "The department is added." in shown
        assert "<td>EDU</td><td>Education</td>" in shown

    def test_a_duplicate_is_refused_and_keeps_what_was_typed(self, api: Api) -> None:
        csrf = api.sign_in("fin_admin")
        before = api.count(Department)
        refused = api.client.post(
            "/console/departments", data={"csrf": csrf, "code": "agr", "name": "Agri again"}
        )
        assert refused.status_code == 409
        assert "Department AGR already exists." in _field_error(refused.text, "code")
        assert 'value="agr"' in refused.text and 'value="Agri again"' in refused.text
        assert api.count(Department) == before


class TestOnlyAdministrators:
    def test_a_requester_is_refused_every_administration_page_and_form(self, api: Api) -> None:
        csrf = api.sign_in("agr_requester")
        home = api.client.get("/console").text
        assert 'href="/console/tokens"' in home
        assert 'href="/console/people"' not in home and 'href="/console/departments"' not in home
        for path in ("/console/people", f"/console/people/{RITA}", "/console/departments"):
            page = api.client.get(path)
            assert page.status_code == 403, path
            assert "may not manage" in page.text and "that needs the admin role" in page.text
            assert f"Sign out {RITA}" in page.text  # still signed in, with the navigation
        people_before, departments_before = api.count(Person), api.count(Department)
        added = api.client.post("/console/people", data={"csrf": csrf, **NEW_PERSON})
        assert added.status_code == 403 and "may not add people" in added.text
        changed = api.client.post(
            f"/console/people/{RITA}",
            data={"csrf": csrf, "roles": ["admin"], "department": "AGR"},
        )
        assert changed.status_code == 403 and "may not change people" in changed.text
        department = api.client.post(
            "/console/departments", data={"csrf": csrf, "code": "EDU", "name": "Education"}
        )
        assert department.status_code == 403
        assert (api.count(Person), api.count(Department)) == (people_before, departments_before)
        assert _person(api, RITA)["roles"] == ["requester"]

    def test_the_administrator_sees_the_links(self, api: Api) -> None:
        api.sign_in("fin_admin")
        home = api.client.get("/console").text
        assert 'href="/console/people"' in home and 'href="/console/departments"' in home

    def test_forms_without_the_csrf_token_change_nothing(self, api: Api) -> None:
        api.sign_in("admin")
        token_id = _token_ids(api, "admin")[0]
        attempts = [
            ("/console/people", NEW_PERSON),
            (f"/console/people/{RITA}", {"roles": ["admin"], "department": "AGR"}),
            ("/console/departments", {"code": "EDU", "name": "Education"}),
            ("/console/tokens", {"email": RITA, "days": "5"}),
            (f"/console/tokens/{token_id}/revoke", {}),
        ]
        before = (api.count(Person), api.count(Department), api.count(ApiToken))
        for path, data in attempts:
            response = api.client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, path
            assert "reload the page" in response.text
        assert (api.count(Person), api.count(Department), api.count(ApiToken)) == before
        assert _person(api, RITA)["roles"] == ["requester"]
        assert all(t.revoked_at is None for t in _tokens(api))


def _tokens(api: Api) -> list[ApiToken]:
    with Session(api.db.engine) as session:
        return list(session.exec(select(ApiToken)))


def _token_ids(api: Api, who: str) -> list[int]:
    response = api.client.get("/tokens", headers=api.headers(who))
    return [int(t["id"]) for t in response.json() if t["person"] == CAST[who][0]]


def _secret(page: str) -> str:
    found = re.search(r'<p class="secret" id="new-token">(smr_[A-Za-z0-9_-]+)</p>', page)
    assert found, page
    return found.group(1)


class TestTokens:
    def test_a_new_token_is_shown_once_and_works(self, api: Api) -> None:
        csrf = api.sign_in("fin_admin")
        created = api.client.post(
            "/console/tokens", data={"csrf": csrf, "email": RITA, "days": "7"}
        )
        assert created.status_code == 200, created.text
        assert created.headers["cache-control"] == "no-store"
        assert created.headers["pragma"] == "no-cache"
        secret = _secret(created.text)
        assert created.text.count(secret) == 1
        # It works as a bearer token for the API, as Rita.
        answer = api.client.get(f"/people/{RITA}", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200 and answer.json()["email"] == RITA
        # It is nowhere else: not on the lists, not in the audit log.
        for path in ("/console/tokens", "/console/tokens/all"):
            listed = api.client.get(path)
            assert listed.status_code == 200 and secret not in listed.text
        assert secret[:10] in api.client.get("/console/tokens/all").text  # its prefix is
        with Session(api.db.engine) as session:
            events = session.exec(select(AuditEvent)).all()
            assert secret not in json.dumps([e.details for e in events])
            assert any(e.action == "token.created" for e in events)

    @pytest.mark.parametrize(
        ("email", "days", "field", "phrase"),
        [
            (RITA, "0", "days", "A token lasts from 1 to"),
            (RITA, "soon", "days", "Days must be a whole number"),
            ("ghost@gov.mb.ca", "5", "email", "No person with e-mail ghost@gov.mb.ca"),
        ],
    )
    def test_a_refused_token_keeps_what_was_typed(
        self, api: Api, email: str, days: str, field: str, phrase: str
    ) -> None:
        csrf = api.sign_in("fin_admin")
        before = api.count(ApiToken)
        refused = api.client.post(
            "/console/tokens", data={"csrf": csrf, "email": email, "days": days}
        )
        assert refused.status_code in (404, 422), refused.text[:300]
        assert phrase in _field_error(refused.text, field)
        assert f'value="{email}"' in refused.text and f'value="{days}"' in refused.text
        assert 'class="secret"' not in refused.text
        assert api.count(ApiToken) == before

    def test_everyone_lists_and_revokes_their_own(self, api: Api) -> None:
        extra = api.client.post(
            "/tokens", json={"email": RITA, "days": 5}, headers=api.headers("admin")
        ).json()
        csrf = api.sign_in("agr_requester")
        mine = api.client.get("/console/tokens")
        assert mine.status_code == 200
        assert f'action="/console/tokens/{extra["id"]}/revoke"' in mine.text
        assert "this sign-in" in mine.text  # the token this browser signed in with
        assert 'action="/console/tokens"' not in mine.text  # no "Create a token" form
        assert CAST["admin"][0] not in mine.text.split("<main", 1)[1]  # nobody else's
        sent = api.client.post(
            f"/console/tokens/{extra['id']}/revoke", data={"csrf": csrf}, follow_redirects=False
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == "/console/tokens?notice=token_revoked"
        shown = api.client.get(sent.headers["location"]).text
        assert "The token is revoked" in shown
        refused = api.client.get("/people", headers={"Authorization": f"Bearer {extra['token']}"})
        assert refused.status_code == 401

    def test_a_requester_may_not_create_nor_revoke_others_tokens(self, api: Api) -> None:
        csrf = api.sign_in("agr_requester")
        before = api.count(ApiToken)
        created = api.client.post(
            "/console/tokens", data={"csrf": csrf, "email": RITA, "days": "5"}
        )
        assert created.status_code == 403 and "may not create API tokens" in created.text
        assert 'class="secret"' not in created.text and api.count(ApiToken) == before
        admins = _token_ids(api, "admin")[0]
        revoked = api.client.post(f"/console/tokens/{admins}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 404
        assert all(t.revoked_at is None for t in _tokens(api))
        everyone = api.client.get("/console/tokens/all")
        assert everyone.status_code == 403
        assert "list other people's tokens" in html.unescape(everyone.text)

    def test_an_administrator_revokes_anyones_from_everyones_tokens(self, api: Api) -> None:
        csrf = api.sign_in("fin_admin")
        page = api.client.get("/console/tokens/all")
        ritas = _token_ids(api, "agr_requester")[0]
        assert f'action="/console/tokens/{ritas}/revoke"' in page.text and RITA in page.text
        sent = api.client.post(
            f"/console/tokens/{ritas}/revoke",
            data={"csrf": csrf, "back": "all"},
            follow_redirects=False,
        )
        assert sent.headers["location"] == "/console/tokens/all?notice=token_revoked"
        assert api.client.get("/people", headers=api.headers("agr_requester")).status_code == 401


def _follow(api: Api, path: str, rel: str) -> str | None:
    page = api.client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page.text)
    return html.unescape(found.group(1)) if found else None


def _emails(page: str) -> list[str]:
    return re.findall(r'<tr><td><a href="/console/people/[^"]+">([^<]+)</a></td>', page)


class TestPaging:
    def test_paging_through_people_returns_everyone_once(self, api: Api) -> None:
        with api.db.scope() as session:
            for n in range(CONSOLE_PAGE + 7):
                people.add_person(
                    session,
                    settings=api.db.settings(),
                    actor=None,
                    email=f"person.{n:03d}@gov.mb.ca",
                    name=f"Person {n}",
                    department="AGR" if n % 2 else "HLT",
                )
        api.sign_in("admin")
        for query, expected in [
            ("", {p.email for p in _all_people(api)}),
            (
                "?department=agr",
                {p.email for p in _all_people(api) if p.department_id == _agr(api)},
            ),
        ]:
            seen: list[str] = []
            path: str | None = "/console/people" + query
            pages = 0
            while path is not None:
                page = api.client.get(path).text
                seen += _emails(page)
                pages += 1
                if query:
                    assert "department=agr" in (path if pages > 1 else query)
                path = _follow(api, path, "next")
            assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
            assert pages == -(-len(expected) // CONSOLE_PAGE)
        # Back from the last page: the one before it.
        second = _follow(api, "/console/people", "next")
        assert second is not None
        first = _follow(api, second, "prev")
        assert first is not None and urlsplit(first).path == "/console/people"
        assert _emails(api.client.get(first).text) == _emails(
            api.client.get("/console/people").text
        )


def _all_people(api: Api) -> list[Person]:
    with Session(api.db.engine) as session:
        return list(session.exec(select(Person)))


def _agr(api: Api) -> int | None:
    with Session(api.db.engine) as session:
        return session.exec(select(Department.id).where(Department.code == "AGR")).one()


def test_csrf_of_a_signed_in_page_is_the_sessions(api: Api) -> None:
    """Every form of the administration pages carries the session's CSRF token."""
    csrf = api.sign_in("admin")
    for path in ("/console/people", f"/console/people/{RITA}", "/console/departments"):
        page = api.client.get(path).text
        assert csrf_of(page) == csrf
        assert page.count(f'name="csrf" value="{csrf}"') >= 2  # sign-out and the page's form


class TestSingleSignOnIdentities:
    """The person page shows the subjects bound at the identity provider, flags an address the
    provider changed, and lets an administrator unbind one (the next sign-in binds again)."""

    def _bind(self, api: Api, email: str, *, provider_email: str) -> int:
        from registry.models import PersonIdentity

        with api.db.scope() as session:
            person = session.exec(select(Person).where(Person.email == email)).one()
            assert person.id is not None
            bound = PersonIdentity(
                person_id=person.id,
                issuer="https://login.example.gov.mb.ca",
                subject="sub-<b>1</b>",
                email=provider_email,
            )
            session.add(bound)
            session.flush()
            assert bound.id is not None
            return bound.id

    def test_an_administrator_sees_a_changed_address_and_unbinds(self, api: Api) -> None:
        staff = CAST["agr_staff"][0]
        bound = self._bind(api, staff, provider_email="sam.renamed@gov.mb.ca")
        csrf = api.sign_in("fin_admin")
        page = api.client.get(f"/console/people/{staff}")
        assert page.status_code == 200
        assert "sub-&lt;b&gt;1&lt;/b&gt;" in page.text  # the subject is data
        assert "sam.renamed@gov.mb.ca <strong>(differs from the registered address" in page.text
        sent = api.client.post(
            f"/console/people/{staff}/identities/{bound}/unbind",
            data={"csrf": csrf},
            follow_redirects=False,
        )
        assert sent.status_code == 303
        assert sent.headers["location"].endswith("?notice=identity_unbound")
        page = api.client.get(sent.headers["location"])
        assert "has not signed in with single sign-on yet" in page.text
        with Session(api.db.engine) as session:
            [event] = session.exec(
                select(AuditEvent).where(AuditEvent.action == "person.identity_unbound")
            ).all()
            assert event.details["subject"] == "sub-<b>1</b>"

    def test_unbinding_another_persons_identity_is_not_found(self, api: Api) -> None:
        bound = self._bind(api, CAST["agr_staff"][0], provider_email=CAST["agr_staff"][0])
        csrf = api.sign_in("fin_admin")
        sent = api.client.post(
            f"/console/people/{RITA}/identities/{bound}/unbind", data={"csrf": csrf}
        )
        assert sent.status_code == 404
        assert "No single sign-on identity" in html.unescape(sent.text)
        assert api.count(AuditEvent) > 0 and _person(api, RITA)["email"] == RITA

    def test_a_requester_may_not_unbind(self, api: Api) -> None:
        from registry.models import PersonIdentity

        staff = CAST["agr_staff"][0]
        bound = self._bind(api, staff, provider_email=staff)
        csrf = api.sign_in("agr_requester")
        sent = api.client.post(
            f"/console/people/{staff}/identities/{bound}/unbind", data={"csrf": csrf}
        )
        assert sent.status_code == 403
        assert api.count(PersonIdentity) == 1
