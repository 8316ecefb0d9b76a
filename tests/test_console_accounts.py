"""The console's account page and accounts list over HTTP: holders added and removed (rule 3
refusals shown in one sentence), a credential stored and rotated without ever being shown back,
the current TOTP code for holders, compliance findings linking to the form that fixes them, and
the accounts list a page at a time and as a formula-safe CSV file."""

from __future__ import annotations

import csv
import html
import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry.http.console.paging import CONSOLE_PAGE
from registry.models import AccessGrant, Account, AuditEvent, Credential, Person
from registry.services import compliance
from tests.conftest import Api, table_rows
from tests.factories import CAST

CED1, CED2, AGR_STAFF = CAST["ced1"][0], CAST["ced2"][0], CAST["agr_staff"][0]
HEADER = "platform,handle,url,category,department,login_email,purpose,holders,display_name\n"
SEED = "JBSWY3DPEHPK3PXP"  # a TOTP seed (base32)
# The secret stored through the form: it must show up nowhere but in the vault's ciphertext.
CANARY = "Canary-Secret-7Qx!9zK"


def _row(handle: str, *, department: str = "AGR", display_name: str = "") -> str:
    holders = f"{CED1};{AGR_STAFF}" if department == "AGR" else f"{CED1};{CAST['hlt_requester'][0]}"
    login = f"{department.lower()}.social@gov.mb.ca"
    return (
        f"x,{handle},https://x.com/{handle},official,{department},{login},News,{holders},"
        f"{display_name}\n"
    )


def _import(api: Api, rows: str) -> list[int]:
    response = api.client.post(
        "/accounts/import",
        content=HEADER + rows,
        headers={**api.headers("ced1"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return [int(i) for i in response.json()["account_ids"]]


@pytest.fixture
def account_id(api: Api) -> int:
    """x @ManitobaAg (AGR): holders ced1 and agr_staff, no credential on file."""
    [created] = _import(api, _row("ManitobaAg", display_name="Manitoba Agriculture"))
    return created


def _as(api: Api, who: str) -> str:
    """Sign the test client in as ``who`` (only); their CSRF token."""
    api.client.cookies.clear()
    return api.sign_in(who)


def _holders(api: Api, account_id: int) -> list[str]:
    account = api.client.get(f"/accounts/{account_id}", headers=api.headers("admin"))
    return sorted(account.json()["holders"])


def _actions(api: Api) -> list[str]:
    with Session(api.db.engine) as session:
        return list(session.exec(select(AuditEvent.action).order_by(col(AuditEvent.seq))))


def _alert(page: str) -> str:
    """The text of the page's alert (the refusal's one sentence), markup removed."""
    found = re.search(r'<div class="error" role="alert"><p>(.*?)</p>', page, re.S)
    assert found, "the page shows no refusal"
    return html.unescape(found.group(1))


def _form(page: str, form_id: str) -> str:
    """The markup of the form with id ``form_id`` ('' when the page has none)."""
    found = re.search(rf'<form id="{form_id}".*?</form>', page, re.S)
    return found.group(0) if found else ""


# ------------------------------------------------------------------------------ holders


class TestHolders:
    def test_ced_adds_a_holder_and_is_sent_back_with_a_notice(
        self, api: Api, account_id: int
    ) -> None:
        csrf = _as(api, "ced1")
        page = api.client.get(f"/console/accounts/{account_id}").text
        form = _form(page, "add-holder")
        assert f'action="/console/accounts/{account_id}/holders"' in form
        assert '<label for="holder-email">E-mail</label>' in form
        sent = api.client.post(
            f"/console/accounts/{account_id}/holders",
            data={"csrf": csrf, "email": CED2},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == f"/console/accounts/{account_id}?notice=holder_added"
        shown = api.client.get(sent.headers["location"]).text
        assert "The holder is added" in shown
        assert f'<button type="submit">Remove {CED2}</button>' in shown
        assert _holders(api, account_id) == sorted([CED1, CED2, AGR_STAFF])
        assert _actions(api)[-1] == "access.granted"

    def test_an_administrator_removes_a_holder(self, api: Api, account_id: int) -> None:
        csrf = _as(api, "fin_admin")  # administrators manage access too
        added = api.client.post(
            f"/console/accounts/{account_id}/holders", data={"csrf": csrf, "email": CED2}
        )
        assert added.status_code == 200 and "The holder is added" in added.text
        removed = api.client.post(
            f"/console/accounts/{account_id}/holders/remove",
            data={"csrf": csrf, "email": AGR_STAFF},
            follow_redirects=False,
        )
        assert removed.status_code == 303, removed.text
        assert removed.headers["location"].endswith("?notice=holder_removed")
        assert _holders(api, account_id) == sorted([CED1, CED2])

    def test_a_removal_that_breaks_rule_3_is_refused_in_one_sentence(
        self, api: Api, account_id: int
    ) -> None:
        csrf = _as(api, "ced1")
        before = table_rows(api.db.engine)
        refused = api.client.post(
            f"/console/accounts/{account_id}/holders/remove",
            data={"csrf": csrf, "email": CED1},  # the only CED holder, and one of two
        )
        assert refused.status_code == 409, refused.text
        sentence = _alert(refused.text)
        assert sentence.startswith(f"Cannot revoke {CED1}: account {account_id}")
        assert "must keep two people with access, one from CED" in sentence
        assert sentence.endswith(".") and sentence.count(". ") == 0
        assert "x @ManitobaAg" in refused.text  # the account page, with the refusal
        assert "<title>Error: " in refused.text
        assert table_rows(api.db.engine) == before  # nothing changed, nothing audited

    def test_a_refused_addition_keeps_what_was_typed_next_to_the_field(
        self, api: Api, account_id: int
    ) -> None:
        csrf = _as(api, "ced1")
        before = table_rows(api.db.engine)
        typed = "nobody.here@gov.mb.ca"
        refused = api.client.post(
            f"/console/accounts/{account_id}/holders", data={"csrf": csrf, "email": typed}
        )
        assert refused.status_code == 404, refused.text
        assert "is not a registered person" in _alert(refused.text)
        form = _form(refused.text, "add-holder")
        assert f'value="{typed}"' in form and 'aria-invalid="true"' in form
        assert '<p class="field-error" id="holder-email-error">' in form
        assert table_rows(api.db.engine) == before

    def test_typed_text_is_shown_back_as_data(self, api: Api, account_id: int) -> None:
        csrf = _as(api, "ced1")
        typed = '"><script>alert(1)</script>@gov.mb.ca'
        refused = api.client.post(
            f"/console/accounts/{account_id}/holders", data={"csrf": csrf, "email": typed}
        )
        assert refused.status_code == 422, refused.text
        assert "<script>alert(1)</script>" not in refused.text
        assert "&lt;script&gt;" in refused.text

    def test_granting_oneself_is_refused(self, api: Api, account_id: int) -> None:
        csrf = _as(api, "ced2")
        refused = api.client.post(
            f"/console/accounts/{account_id}/holders", data={"csrf": csrf, "email": CED2}
        )
        assert refused.status_code == 403 and "may not grant access to themselves" in _alert(
            refused.text
        )
        assert CED2 not in _holders(api, account_id)

    @pytest.mark.parametrize("who", ["agr_requester", "agr_staff", "auditor"])
    def test_who_may_not_manage_access_sees_no_form_and_is_refused(
        self, api: Api, account_id: int, who: str
    ) -> None:
        csrf = _as(api, who)
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert "/holders" not in page and "Remove " not in page
        added = api.client.post(
            f"/console/accounts/{account_id}/holders", data={"csrf": csrf, "email": CED2}
        )
        assert added.status_code == 403 and "may not grant access" in _alert(added.text)
        removed = api.client.post(
            f"/console/accounts/{account_id}/holders/remove",
            data={"csrf": csrf, "email": AGR_STAFF},
        )
        assert removed.status_code == 403 and "may not revoke access" in _alert(removed.text)
        assert _holders(api, account_id) == sorted([CED1, AGR_STAFF])

    @pytest.mark.parametrize("path", ["holders", "holders/remove"])
    def test_the_forms_need_the_csrf_token(self, api: Api, account_id: int, path: str) -> None:
        _as(api, "ced1")
        before = table_rows(api.db.engine)
        response = api.client.post(f"/console/accounts/{account_id}/{path}", data={"email": CED2})
        assert response.status_code == 403 and "reload the page" in response.text
        assert table_rows(api.db.engine) == before


# ------------------------------------------------------------------------------ credentials


def _everything_stored(api: Api) -> str:
    """Every row of every table, as text: where a leaked value would be found."""
    return repr(table_rows(api.db.engine))


def _stored_versions(api: Api, account_id: int) -> list[tuple[str, int]]:
    with Session(api.db.engine) as session:
        rows = session.exec(
            select(Credential)
            .where(Credential.account_id == account_id)
            .order_by(col(Credential.id))
        )
        return [(row.kind, row.version) for row in rows]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of every logger, at every level, while the test runs."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


class TestStoreCredential:
    def test_ced_stores_the_password_and_it_is_never_shown_back(
        self, api: Api, account_id: int, logs: pytest.LogCaptureFixture
    ) -> None:
        csrf = _as(api, "ced1")
        page = api.client.get(f"/console/accounts/{account_id}").text
        form = _form(page, "store-credential")
        assert "<legend>Store a credential</legend>" in form  # nothing on file yet
        assert '<input type="password" id="secret" name="secret" autocomplete="off"' in form
        assert '<label for="secret">Secret</label>' in form
        assert '<label for="store-kind">Kind</label>' in form
        assert '<option value="password" selected>' in form  # the one missing (rule 5)
        sent = api.client.post(
            f"/console/accounts/{account_id}/credentials",
            data={"csrf": csrf, "kind": "password", "secret": CANARY},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        location = sent.headers["location"]
        assert location == f"/console/accounts/{account_id}?notice=credential_stored"
        shown = api.client.get(location)
        assert "The credential is stored" in shown.text
        assert _stored_versions(api, account_id) == [("password", 1)]
        # Storing it again is rotation, and the form says so.
        rotate = _form(shown.text, "store-credential")
        assert "<legend>Store or rotate a credential</legend>" in rotate
        assert "password (on file as version 1: rotate it)" in rotate
        for answer in (sent, shown):
            assert CANARY not in answer.text + str(answer.headers)
        assert CANARY not in _everything_stored(api)  # ciphertext only, audit included
        assert CANARY not in logs.text
        # The vault holds it: a holder reveals exactly what was stored.
        revealed = api.client.post(
            f"/accounts/{account_id}/credentials/password/reveal",
            json={"reason": "Check"},
            headers=api.headers("agr_staff"),
        )
        assert revealed.json()["value"] == CANARY

    def test_storing_a_kind_on_file_rotates_it(self, api: Api, account_id: int) -> None:
        csrf = _as(api, "agr_staff")  # a holder stores too
        for value in ("First-Value-1", "Second-Value-2"):
            sent = api.client.post(
                f"/console/accounts/{account_id}/credentials",
                data={"csrf": csrf, "kind": "password", "secret": value},
                follow_redirects=False,
            )
            assert sent.status_code == 303, sent.text
        assert _stored_versions(api, account_id) == [("password", 1), ("password", 2)]
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert "<tr><td>password</td><td>2</td><td>2</td>" in page
        revealed = api.client.post(
            f"/accounts/{account_id}/credentials/password/reveal",
            json={"reason": "Check"},
            headers=api.headers("ced1"),
        )
        assert revealed.json()["value"] == "Second-Value-2"

    @pytest.mark.parametrize(
        ("who", "kind", "secret", "status", "sentence"),
        [
            ("agr_requester", "password", CANARY, 403, "may not store credentials"),
            ("ced1", "password", "", 422, "The secret is empty; nothing was stored."),
            ("ced1", "password", "   ", 422, "The secret is empty; nothing was stored."),
            ("ced1", "totp_seed", CANARY, 422, "seed"),  # not base32: not a TOTP seed
            ("ced1", "password", CANARY + "\x1b[8m", 422, "control character"),
            ("ced1", "passport", CANARY, 422, "credential kind"),
            ("ced1", "password", CANARY + "x" * 8200, 422, "longer than 8192 characters"),
        ],
        ids=["requester", "empty", "blank", "not-a-seed", "control", "unknown-kind", "too-long"],
    )
    def test_a_refused_secret_is_stored_nowhere_and_never_echoed(
        self,
        api: Api,
        account_id: int,
        logs: pytest.LogCaptureFixture,
        who: str,
        kind: str,
        secret: str,
        status: int,
        sentence: str,
    ) -> None:
        csrf = _as(api, who)
        before = table_rows(api.db.engine)
        refused = api.client.post(
            f"/console/accounts/{account_id}/credentials",
            data={"csrf": csrf, "kind": kind, "secret": secret},
        )
        assert refused.status_code == status, refused.text
        assert sentence in _alert(refused.text)
        assert "x @ManitobaAg" in refused.text  # the account page, with the refusal
        assert table_rows(api.db.engine) == before
        if secret.strip():
            assert secret not in refused.text and CANARY not in refused.text
            assert CANARY not in logs.text and CANARY not in _everything_stored(api)
        if who == "ced1":  # the form is shown again, empty, the refusal next to the field
            form = _form(refused.text, "store-credential")
            assert 'aria-invalid="true"' in form and 'id="secret-error"' in form
            field = re.search(r'<input type="password" id="secret" name="secret"[^>]*>', form)
            assert field is not None and "value=" not in field.group(0)

    def test_a_requester_and_an_auditor_see_no_store_form(self, api: Api, account_id: int) -> None:
        for who in ("agr_requester", "auditor"):
            _as(api, who)
            page = api.client.get(f"/console/accounts/{account_id}").text
            assert f'action="/console/accounts/{account_id}/credentials"' not in page
            assert 'type="password"' not in page
            # The finding's link still lands somewhere: who may fix it, in one sentence.
            assert '<p id="store-credential">' in page

    def test_the_form_needs_the_csrf_token(self, api: Api, account_id: int) -> None:
        _as(api, "ced1")
        response = api.client.post(
            f"/console/accounts/{account_id}/credentials",
            data={"kind": "password", "secret": CANARY},
        )
        assert response.status_code == 403 and "reload the page" in response.text
        assert CANARY not in response.text
        assert _stored_versions(api, account_id) == []

    def test_the_secret_never_travels_in_a_url(self, api: Api, account_id: int) -> None:
        _as(api, "ced1")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert '<form id="store-credential" method="post"' in page
        # A GET carrying it (a form mistakenly sent as GET) is no way to store it.
        wrong = api.client.get(
            f"/console/accounts/{account_id}/credentials", params={"secret": CANARY}
        )
        assert wrong.status_code == 405 and CANARY not in wrong.text
        assert _stored_versions(api, account_id) == []


# ------------------------------------------------------------------------------ TOTP


def _put_seed(api: Api, account_id: int) -> None:
    response = api.client.put(
        f"/accounts/{account_id}/credentials/totp_seed",
        json={"value": SEED},
        headers=api.headers("ced1"),
    )
    assert response.status_code == 200, response.text


class TestTotp:
    def test_a_holder_gets_the_current_code_once_with_its_seconds(
        self, api: Api, account_id: int
    ) -> None:
        _put_seed(api, account_id)
        csrf = _as(api, "agr_staff")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert f'action="/console/accounts/{account_id}/totp"' in page
        assert "Show the current code" in page
        shown = api.client.post(f"/console/accounts/{account_id}/totp", data={"csrf": csrf})
        assert shown.status_code == 200, shown.text
        assert shown.headers["pragma"] == "no-cache"
        assert shown.headers["cache-control"] == "no-store"
        code = re.search(r'<p class="secret" id="totp-code">(\d{6})</p>', shown.text)
        assert code is not None
        seconds = re.search(r"valid for (\d+) more second", shown.text)
        assert seconds is not None and 1 <= int(seconds.group(1)) <= 30
        assert SEED not in shown.text and SEED.lower() not in shown.text
        assert _actions(api)[-1] == "credential.totp"
        again = api.client.get(f"/console/accounts/{account_id}").text
        assert 'id="totp-code"' not in again

    def test_a_non_holder_is_offered_nothing_and_refused(self, api: Api, account_id: int) -> None:
        _put_seed(api, account_id)
        csrf = _as(api, "agr_requester")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert "/totp" not in page and "Show the current code" not in page
        refused = api.client.post(f"/console/accounts/{account_id}/totp", data={"csrf": csrf})
        assert refused.status_code == 403
        assert "may not get TOTP codes" in _alert(refused.text)
        assert 'id="totp-code"' not in refused.text
        assert _actions(api)[-1] == "credential.totp_refused"  # a refusal is kept (ADR 0003)

    def test_no_code_is_offered_without_a_seed_on_file(self, api: Api, account_id: int) -> None:
        csrf = _as(api, "ced1")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert "Show the current code" not in page
        refused = api.client.post(f"/console/accounts/{account_id}/totp", data={"csrf": csrf})
        assert refused.status_code == 404 and "has no totp_seed on file" in _alert(refused.text)

    def test_the_code_needs_the_csrf_token(self, api: Api, account_id: int) -> None:
        _put_seed(api, account_id)
        _as(api, "ced1")
        before = _actions(api)
        response = api.client.post(f"/console/accounts/{account_id}/totp")
        assert response.status_code == 403 and "reload the page" in response.text
        assert _actions(api) == before


class TestRevealIsOfferedOnlyToWhoMay:
    def test_a_requester_sees_no_reveal_form_a_holder_no_seed_in_it(
        self, api: Api, account_id: int
    ) -> None:
        _put_seed(api, account_id)
        api.client.put(
            f"/accounts/{account_id}/credentials/password",
            json={"value": "Pw-1"},
            headers=api.headers("ced1"),
        )
        _as(api, "agr_requester")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert "/reveal" not in page
        _as(api, "agr_staff")
        page = api.client.get(f"/console/accounts/{account_id}").text
        reveal = re.search(r'<select id="kind" name="kind">(.*?)</select>', page, re.S)
        assert reveal is not None and 'value="password"' in reveal.group(1)
        assert "totp_seed" not in reveal.group(1)  # holders get codes, only CED the seed


# ------------------------------------------------------------------------------ findings


def _revoke_behind_the_registrys_back(api: Api, account_id: int, email: str) -> None:
    """Break rule 3 as only a bug or a hand-edited database could: a finding to fix."""
    with Session(api.db.engine) as session:
        grant = session.exec(
            select(AccessGrant)
            .join(Person, col(Person.id) == AccessGrant.person_id)
            .where(AccessGrant.account_id == account_id, Person.email == email)
        ).one()
        session.delete(grant)
        session.commit()


class TestFindingsLinkToTheFormThatFixesThem:
    def test_the_api_says_what_fixes_each_finding_in_plain_words(
        self, api: Api, account_id: int
    ) -> None:
        _revoke_behind_the_registrys_back(api, account_id, AGR_STAFF)
        report = api.client.get("/compliance", headers=api.headers("ced1")).json()
        found = {f["code"]: f for f in report["findings"]}
        assert found["no_credentials"]["fix"] == "store_credential"
        assert found["too_few_holders"]["fix"] == "add_holder"
        for finding in report["findings"]:
            assert "registry " not in finding["message"] and "`" not in finding["message"]

    def test_on_the_account_page_each_finding_links_to_its_form(
        self, api: Api, account_id: int
    ) -> None:
        _revoke_behind_the_registrys_back(api, account_id, AGR_STAFF)
        _as(api, "ced1")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert '<a class="fix" href="#add-holder">Add a holder</a>' in page
        assert '<a class="fix" href="#store-credential">Store the credential</a>' in page
        assert _form(page, "add-holder") and _form(page, "store-credential")
        assert "registry " not in page.split("<h2")[0]  # no command for a browser user

    def test_the_review_finding_links_to_the_review_form(self, api: Api, account_id: int) -> None:
        with Session(api.db.engine) as session:
            account = session.get(Account, account_id)
            assert account is not None
            account.next_review_on = None
            session.add(account)
            session.commit()
        _as(api, "ced1")
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert '<a class="fix" href="#record-review">Record the review</a>' in page
        assert _form(page, "record-review")
        _as(api, "agr_requester")  # who may not record it lands on who may
        page = api.client.get(f"/console/accounts/{account_id}").text
        assert '<p id="record-review">' in page

    def test_the_accounts_list_and_the_compliance_page_link_to_the_account_forms(
        self, api: Api, account_id: int
    ) -> None:
        _as(api, "ced1")
        listed = api.client.get("/console/accounts").text
        assert f'href="/console/accounts/{account_id}#store-credential"' in listed
        report = api.client.get("/console/compliance").text
        assert f'href="/console/accounts/{account_id}#store-credential"' in report


# ------------------------------------------------------------------------------ the list


def _handles(page: str) -> list[str]:
    return re.findall(r'<a href="/console/accounts/\d+">x @(\w+)</a>', page)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def many(api: Api) -> dict[str, list[str]]:
    """More AGR accounts than two pages hold, and a few of HLT's."""
    agr = [f"AgrNews{i:03d}" for i in range(2 * CONSOLE_PAGE + 7)]
    hlt = [f"HltNews{i:03d}" for i in range(5)]
    _import(api, "".join(_row(h) for h in agr) + "".join(_row(h, department="HLT") for h in hlt))
    return {"AGR": agr, "HLT": hlt}


class TestAccountsList:
    def test_paging_shows_every_account_once_and_keeps_the_filters(
        self, api: Api, many: dict[str, list[str]]
    ) -> None:
        _as(api, "ced1")
        url: str | None = "/console/accounts?department=AGR&status=active"
        seen: list[str] = []
        pages: list[str] = []
        while url is not None:
            assert "department=AGR" in url and "status=active" in url
            page = api.client.get(url)
            assert page.status_code == 200, page.text
            pages.append(url)
            handles = _handles(page.text)
            assert 0 < len(handles) <= CONSOLE_PAGE
            seen += handles
            url = _link(page.text, "next")
            assert len(pages) < 10, "the pages never end"
        assert seen == many["AGR"] and len(pages) == 3
        # Previous goes back the same way, with the filters.
        back = api.client.get(pages[-1]).text
        previous = _link(back, "prev")
        assert previous is not None and "department=AGR" in previous
        assert (
            _handles(api.client.get(previous).text) == many["AGR"][CONSOLE_PAGE : 2 * CONSOLE_PAGE]
        )

    def test_the_badges_are_computed_for_the_page_alone(
        self, api: Api, many: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        asked: list[dict[str, Any]] = []
        report = compliance.report

        def spy(*args: Any, **kwargs: Any) -> compliance.ComplianceReport:
            asked.append(kwargs)
            return report(*args, **kwargs)

        monkeypatch.setattr(compliance, "report", spy)
        _as(api, "ced1")
        page = api.client.get("/console/accounts").text
        [call] = asked
        assert len(call["account_ids"]) == CONSOLE_PAGE and call.get("department") is None
        assert page.count("rule 5: no credentials") == CONSOLE_PAGE

    def test_a_requester_pages_through_their_department_only(
        self, api: Api, many: dict[str, list[str]]
    ) -> None:
        _as(api, "hlt_requester")
        page = api.client.get("/console/accounts").text
        assert _handles(page) == many["HLT"] and _link(page, "next") is None

    def test_a_cursor_it_did_not_give_out_is_refused_in_a_sentence(self, api: Api) -> None:
        _as(api, "ced1")
        refused = api.client.get("/console/accounts", params={"cursor": "not-a-cursor"})
        assert refused.status_code == 422
        assert "The cursor is not one this registry gave out" in _alert(refused.text)


class TestAccountsCsv:
    def test_the_list_downloads_as_csv_with_its_filters(
        self, api: Api, many: dict[str, list[str]]
    ) -> None:
        _as(api, "ced1")
        page = api.client.get("/console/accounts", params={"department": "HLT"}).text
        assert '<a href="/console/accounts.csv?department=HLT">Download as CSV</a>' in page
        response = api.client.get("/console/accounts.csv", params={"department": "HLT"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == 'attachment; filename="accounts.csv"'
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["handle"] for r in rows] == many["HLT"]
        assert rows[0]["holders"] == f"{CED1};{CAST['hlt_requester'][0]}"
        assert rows[0]["department"] == "HLT" and rows[0]["status"] == "active"
        # All pages, not one: every AGR account.
        every = api.client.get("/console/accounts.csv", params={"department": "AGR"})
        assert len(list(csv.DictReader(io.StringIO(every.text)))) == len(many["AGR"])

    def test_only_what_the_person_may_see(self, api: Api, many: dict[str, list[str]]) -> None:
        _as(api, "hlt_requester")
        response = api.client.get("/console/accounts.csv")
        assert [r["handle"] for r in csv.DictReader(io.StringIO(response.text))] == many["HLT"]
        assert "AgrNews" not in response.text

    def test_cells_a_spreadsheet_would_run_are_neutralised(self, api: Api) -> None:
        [created] = _import(api, _row("MbFormula", display_name='=HYPERLINK("http://x")'))
        _as(api, "ced1")
        response = api.client.get("/console/accounts.csv")
        [row] = list(csv.DictReader(io.StringIO(response.text)))
        assert row["id"] == str(created)
        assert row["display_name"] == '\'=HYPERLINK("http://x")'

    def test_an_unknown_department_is_a_page_not_a_file(self, api: Api) -> None:
        _as(api, "ced1")
        refused = api.client.get("/console/accounts.csv", params={"department": "NOPE"})
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("text/html")
        assert "content-disposition" not in refused.headers

    def test_the_download_needs_sign_in(self, api: Api) -> None:
        response = api.client.get("/console/accounts.csv", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
