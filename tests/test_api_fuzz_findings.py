"""What fuzzing the API (tests/test_fuzz_api.py) found, pinned by plain regression tests."""

from __future__ import annotations

from typing import Any

import pytest

from registry.http.api.errors import UNREADABLE_BODY
from registry.http.console.errors import UNREADABLE_FORM
from registry.validation import MAX_ID
from tests.conftest import Api, assert_refused
from tests.factories import CAST

BEYOND = MAX_ID + 1  # past a 32-bit INTEGER column: PostgreSQL refused it with a 500


def declared(api: Api, method: str, path: str) -> set[int]:
    """The statuses /openapi.json declares for an operation."""
    operation = api.client.get("/openapi.json").json()["paths"][path][method.lower()]
    return {int(status) for status in operation["responses"]}


class TestBodiesThatCannotBeRead:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", "/requests"), ("PUT", "/accounts/1/credentials/password"), ("POST", "/people")],
    )
    def test_bytes_that_are_not_utf8_are_invalid_input(
        self, api: Api, method: str, path: str
    ) -> None:
        """FastAPI answered 400 {"detail": ...}, a status and a shape the schema never names."""
        response = api.client.request(
            method,
            path,
            content=b'{"handle": "\xff\xfe"}',
            headers={**api.headers("ced1"), "Content-Type": "application/json"},
        )
        body = assert_refused(response, 422, error="invalid_input")
        assert body["detail"] == UNREADABLE_BODY

    def test_a_broken_form_on_a_console_page_is_an_error_page(self, api: Api) -> None:
        """A multipart part without a name was FastAPI's 400 in JSON, on an HTML page."""
        response = api.client.post(
            "/login",
            content=b"--x\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--x--\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")
        assert UNREADABLE_FORM in response.text


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("PUT", "/departments", "GET, POST"),  # Starlette said "GET" alone
            ("DELETE", "/handovers", "GET, POST"),
            ("OPTIONS", "/tokens", "GET, POST"),
            ("DELETE", "/accounts/1", "GET, PATCH"),
            ("OPTIONS", "/verify", "GET, HEAD"),
            # GET /accounts/import reaches GET /accounts/{account_id} (and is a 422 there), as
            # PATCH does.
            ("DELETE", "/accounts/import", "GET, POST, PATCH"),
        ],
    )
    def test_allow_lists_every_method_of_the_resource(
        self, api: Api, method: str, path: str, allow: str
    ) -> None:
        response = api.client.request(method, path, headers=api.headers("ced1"))
        body = assert_refused(response, 405, error="method_not_allowed")
        assert response.headers["allow"] == allow
        assert body["detail"].startswith(f"{method} is not allowed here; use ")

    def test_an_unknown_path_is_still_a_plain_404(self, api: Api) -> None:
        response = api.client.get("/no-such-thing", headers=api.headers("ced1"))
        assert response.status_code == 404


class TestIdsBeyondTheIntegerColumns:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/accounts/{}"),
            ("GET", "/requests/{}"),
            ("GET", "/handovers/{}"),
            ("DELETE", "/tokens/{}"),
            ("GET", "/accounts/{}/credentials"),
            ("POST", "/requests/{}/withdraw"),
        ],
    )
    def test_path_ids(self, api: Api, method: str, path: str) -> None:
        largest = api.client.request(method, path.format(MAX_ID), headers=api.headers("admin"))
        assert largest.status_code == 404, largest.text
        beyond = api.client.request(method, path.format(BEYOND), headers=api.headers("admin"))
        assert_refused(beyond, 422, error="invalid_input")

    @pytest.mark.parametrize("name", ["after_seq", "account_id"])
    def test_audit_filters(self, api: Api, name: str) -> None:
        largest = api.client.get(
            "/audit/events", params={name: MAX_ID}, headers=api.headers("auditor")
        )
        assert largest.status_code == 200 and largest.json()["events"] == [], largest.text
        beyond = api.client.get(
            "/audit/events", params={name: BEYOND}, headers=api.headers("auditor")
        )
        assert_refused(beyond, 422, error="invalid_input")

    def test_ids_in_bodies(self, api: Api) -> None:
        decommission = api.client.post(
            "/requests",
            json={"kind": "decommission", "account_id": BEYOND, "reason": "Closed."},
            headers=api.headers("agr_requester"),
        )
        assert_refused(decommission, 422, error="invalid_input")
        reveal = api.client.post(
            "/accounts/1/credentials/password/reveal",
            json={"reason": "Audit.", "version": BEYOND},
            headers=api.headers("ced1"),
        )
        assert_refused(reveal, 422, error="invalid_input")


class TestAuditTimes:
    def events(self, api: Api, **params: str) -> Any:
        return api.client.get("/audit/events", params=params, headers=api.headers("auditor"))

    def test_a_time_without_an_offset_is_utc(self, api: Api) -> None:
        """It reached the database naive and failed with a 500."""
        everything = self.events(api).json()["events"]
        assert everything
        assert self.events(api, since="2000-01-01T00:00:00").json()["events"] == everything
        assert self.events(api, since="2000-01-01").json()["events"] == everything
        assert self.events(api, until="2000-01-01T00:00:00").json()["events"] == []
        assert self.events(api, since="9999-01-01T00:00").json()["events"] == []
        with_offset = self.events(api, since="1999-12-31T23:00:00-05:00").json()["events"]
        assert with_offset == everything

    @pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday", "2026-13-01"])
    def test_anything_but_an_iso_date_or_time_is_refused(self, api: Api, value: str) -> None:
        """Numbers were taken as seconds since 1970; the schema promises a date-time."""
        body = assert_refused(self.events(api, since=value), 422, error="invalid_input")
        assert "since" in body["detail"]


class TestDeclaredStatuses:
    """Answers the schema did not declare, each checked against /openapi.json."""

    def test_tokens_of_an_unknown_person(self, api: Api) -> None:
        response = api.client.get(
            "/tokens", params={"email": "nobody@gov.mb.ca"}, headers=api.headers("admin")
        )
        assert_refused(response, 404, error="not_found")
        assert 404 in declared(api, "GET", "/tokens")

    @pytest.mark.parametrize("path", ["/people", "/requests"])
    def test_lists_filtered_by_an_unknown_department(self, api: Api, path: str) -> None:
        response = api.client.get(path, params={"department": "NOPE"}, headers=api.headers("ced1"))
        assert_refused(response, 404, error="not_found")
        assert 404 in declared(api, "GET", path)

    def test_a_handover_that_is_done_is_201(self, api: Api) -> None:
        body = {"departing": CAST["agr_staff"][0], "successor": CAST["agr_requester"][0]}
        preview = api.client.post(
            "/handovers", json={**body, "dry_run": True}, headers=api.headers("ced1")
        )
        assert preview.status_code == 200, preview.text
        done = api.client.post("/handovers", json=body, headers=api.headers("ced1"))
        assert done.status_code == 201, done.text
        assert {200, 201} <= declared(api, "POST", "/handovers")
