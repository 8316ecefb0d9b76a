"""The bad-input corpus: whatever arrives, a clear 4xx (or exit 1) and nothing changed.

Every case runs against a registry with people, accounts and a credential on file, reads the
whole database (the rows of every table), sends the bad input through the HTTP API or the
command line, and checks the refusal is one clear sentence without a traceback and every row
is as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from registry.errors import DATA_REFUSED
from registry.models import Account, AuditEvent, Person
from tests.conftest import (
    AUDIT_TABLES,
    Api,
    Cli,
    assert_cli_refused,
    assert_refused,
    table_rows,
)
from tests.factories import CAST, NEW_REQUEST

CED1 = CAST["ced1"][0]
STAFF = CAST["agr_staff"][0]
REQUESTER = CAST["agr_requester"][0]
COLUMNS = "platform,handle,url,category,department,login_email,purpose,holders"
SQL_HANDLE = "x'); DROP TABLE account;--"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "moc.evil" displays as "live.com"

NEW_PERSON = {"email": "new.person@gov.mb.ca", "name": "New Person", "department": "AGR"}


def csv_row(n: int) -> str:
    return (
        f"facebook,MBBulk{n},https://facebook.com/MBBulk{n},official,AGR,bulk{n}@gov.mb.ca,"
        f"Bulk row {n},{CED1};{STAFF}"
    )


def ten_thousand_lines_one_bad() -> bytes:
    """A header and 9,999 rows; the row on line 5,001 has a lookalike-domain login e-mail."""
    lines = [COLUMNS] + [csv_row(n) for n in range(2, 10_001)]
    lines[5_000] = lines[5_000].replace("bulk5001@gov.mb.ca", "bulk5001@gov-mb.ca")
    assert len(lines) == 10_000 and "gov-mb.ca" in lines[5_000]
    return ("\n".join(lines) + "\n").encode()


def audit_actions(api: Api) -> list[str]:
    with api.db.engine.connect() as connection:
        return list(
            connection.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()
        )


@dataclass
class Corpus:
    """The registry under test, reachable over HTTP and through the command line."""

    api: Api
    cli: Cli


@pytest.fixture
def corpus(api: Api) -> Corpus:
    imported = api.client.post(
        "/accounts/import",
        headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        content=f"{COLUMNS}\n{csv_row(1)}\n".encode(),
    )
    assert imported.status_code == 201, imported.text
    account_id = imported.json()["account_ids"][0]
    put = api.client.put(
        f"/accounts/{account_id}/credentials/password",
        headers=api.headers("ced1"),
        json={"value": "Corpus-canary-7731!"},
    )
    assert put.status_code in (200, 201), put.text
    return Corpus(api=api, cli=Cli(api.db.env()))


@pytest.fixture
def unchanged(corpus: Corpus) -> Iterator[Callable[[], None]]:
    """Call it after the bad input: it asserts the database is as it was before."""
    before = table_rows(corpus.api.db.engine)

    def check() -> None:
        assert table_rows(corpus.api.db.engine) == before, "a refused input changed the database"

    yield check


# ------------------------------------------------------------------------------ oversize


class TestOversize:
    def test_a_one_megabyte_purpose_over_http(self, corpus: Corpus, unchanged: Any) -> None:
        body = {**NEW_REQUEST, "purpose": "p" * 1_000_000}
        response = corpus.api.client.post(
            "/requests", headers=corpus.api.headers("agr_requester"), json=body
        )
        assert_refused(response, 422, "purpose")
        unchanged()

    def test_a_one_megabyte_purpose_on_the_command_line(
        self, corpus: Corpus, unchanged: Any
    ) -> None:
        result = corpus.cli(
            "request", "new", "--platform", "facebook", "--handle", "MBFloodUpdates",
            "--url", "https://www.facebook.com/MBFloodUpdates", "--category", "official",
            "--department", "AGR", "--login-email", "flood.updates@gov.mb.ca",
            "--purpose", "p" * 1_000_000, "--holder", STAFF, "--holder", CED1,
            "--as", REQUESTER,
        )  # fmt: skip
        assert_cli_refused(result, "Purpose is longer than 2000 characters")
        unchanged()

    @pytest.mark.parametrize(
        ("field", "size"), [("handle", 10_000), ("login_email", 5_000), ("url", 100_000)]
    )
    def test_oversize_request_fields(
        self, corpus: Corpus, unchanged: Any, field: str, size: int
    ) -> None:
        body = {**NEW_REQUEST, field: "a" * size}
        response = corpus.api.client.post(
            "/requests", headers=corpus.api.headers("agr_requester"), json=body
        )
        assert_refused(response, 422, field)
        unchanged()

    def test_ten_thousand_line_csv_with_one_bad_row_over_http(
        self, corpus: Corpus, unchanged: Any
    ) -> None:
        response = corpus.api.client.post(
            "/accounts/import",
            headers={**corpus.api.headers("ced1"), "Content-Type": "text/csv"},
            content=ten_thousand_lines_one_bad(),
        )
        body = assert_refused(response, 422, "Nothing was imported")
        assert len(body["problems"]) == 1
        assert body["problems"][0].startswith("line 5001:"), body["problems"]
        assert "gov-mb.ca" in body["problems"][0]
        unchanged()

    def test_ten_thousand_line_csv_with_one_bad_row_on_the_command_line(
        self, corpus: Corpus, unchanged: Any, tmp_path: Path
    ) -> None:
        path = tmp_path / "accounts.csv"
        path.write_bytes(ten_thousand_lines_one_bad())
        result = corpus.cli("accounts", "import", str(path), "--as", CED1)
        assert_cli_refused(result, "Nothing was imported", "line 5001:")
        assert result.stderr.count("line ") == 1
        unchanged()


# ------------------------------------------------------------------------------ characters


class TestDeceptiveCharacters:
    @pytest.mark.parametrize(
        ("name", "phrase"),
        [
            (f"Ann {RLO}nilknarF", "direction override"),
            ("Ann\x07Franklin", "control character"),
            ("Ann\x1b[31mFranklin", "control character"),
            ("Ann\u2066Franklin", "direction override"),
        ],
    )
    def test_names_with_control_or_direction_characters(
        self, corpus: Corpus, unchanged: Any, name: str, phrase: str
    ) -> None:
        response = corpus.api.client.post(
            "/people", headers=corpus.api.headers("admin"), json={**NEW_PERSON, "name": name}
        )
        assert_refused(response, 422, phrase)
        result = corpus.cli(
            "people", "add", NEW_PERSON["email"], "--name", name, "--department", "AGR",
            "--as", CAST["admin"][0],
        )  # fmt: skip
        assert_cli_refused(result, phrase)
        unchanged()

    @pytest.mark.parametrize(
        "handle",
        [f"MB{RLO}etadpU", "MB\x00Flood", "MB\nFlood", "MB\u200bFlood", "\u041c\u0412Flood"],
    )
    def test_handles_with_hidden_or_lookalike_characters(
        self, corpus: Corpus, unchanged: Any, handle: str
    ) -> None:
        response = corpus.api.client.post(
            "/requests",
            headers=corpus.api.headers("agr_requester"),
            json={**NEW_REQUEST, "handle": handle},
        )
        assert response.status_code == 422, response.text
        assert "Traceback" not in response.text
        unchanged()

    def test_a_lookalike_login_domain_in_a_request(self, corpus: Corpus, unchanged: Any) -> None:
        response = corpus.api.client.post(
            "/requests",
            headers=corpus.api.headers("agr_requester"),
            json={**NEW_REQUEST, "login_email": f"flood@gov.mb.ca{RLO}"},
        )
        assert response.status_code == 422, response.text
        unchanged()


# ------------------------------------------------------------------------------ SQL


class TestSqlMetaCharacters:
    def test_a_handle_made_of_sql_is_refused_as_a_handle(
        self, corpus: Corpus, unchanged: Any
    ) -> None:
        response = corpus.api.client.post(
            "/requests",
            headers=corpus.api.headers("agr_requester"),
            json={**NEW_REQUEST, "handle": SQL_HANDLE},
        )
        assert_refused(response, 422, "not a valid Facebook handle")
        unchanged()

    @pytest.mark.parametrize(
        "value", ["' OR '1'='1", "AGR' --", "%", "_", "AGR; DROP TABLE person", "\\"]
    )
    def test_sql_in_filters_matches_nothing_and_leaks_nothing(
        self, corpus: Corpus, unchanged: Any, value: str
    ) -> None:
        listed = corpus.api.client.get(
            "/accounts", params={"department": value}, headers=corpus.api.headers("hlt_requester")
        )
        assert_refused(listed, 404, "No department with code")
        assert "MBBulk1" not in listed.text
        verified = corpus.api.client.get(
            "/verify", params={"platform": "facebook", "handle": value}
        )
        assert verified.status_code in (200, 422), verified.text
        if verified.status_code == 200:
            assert verified.json()["official"] is False
        unchanged()

    def test_a_name_with_quotes_and_semicolons_is_stored_verbatim(self, corpus: Corpus) -> None:
        """Not everything with a quote is an attack: it is data, bound as a parameter."""
        name = "Siobhán O'Brien; DROP TABLE person;--"
        response = corpus.api.client.post(
            "/people", headers=corpus.api.headers("admin"), json={**NEW_PERSON, "name": name}
        )
        assert response.status_code == 201, response.text
        with corpus.api.db.scope() as session:
            stored = session.execute(
                select(Person.name).where(Person.email == NEW_PERSON["email"])
            ).scalar_one()
            accounts = session.execute(select(Account.handle)).scalars().all()
        assert stored == name
        assert accounts == ["MBBulk1"]


# ------------------------------------------------------------------------------ encodings


class TestBrokenCsv:
    @pytest.mark.parametrize(
        ("content", "phrase"),
        [
            (f"{COLUMNS}\n{csv_row(2)}\n".encode().replace(b"Bulk row", b"Bulk \xff\xfe row"),
             "line 2"),
            (f"{COLUMNS}\n{csv_row(2)}\n".encode("utf-16"), "UTF-8"),
            (f"{COLUMNS}\n{csv_row(2)}\x00\n".encode(), "NUL"),
            (f'{COLUMNS}\n"unterminated,{csv_row(2)}\n'.encode(), "line"),
            (b"", "empty"),
            (b"platform,handle\nfacebook,MBOnlyTwo\n", "column"),
        ],
        ids=["invalid-utf8", "utf16", "nul-byte", "unterminated-quote", "empty", "columns"],
    )  # fmt: skip
    def test_over_http_and_on_the_command_line(
        self, corpus: Corpus, unchanged: Any, tmp_path: Path, content: bytes, phrase: str
    ) -> None:
        response = corpus.api.client.post(
            "/accounts/import",
            headers={**corpus.api.headers("ced1"), "Content-Type": "text/csv"},
            content=content,
        )
        assert response.status_code == 422, response.text
        body = response.json()
        text = body["detail"] + " ".join(body.get("problems", []))
        assert phrase.lower() in text.lower(), body
        path = tmp_path / "accounts.csv"
        path.write_bytes(content)
        result = corpus.cli("accounts", "import", str(path), "--as", CED1)
        assert result.exit_code == 1, (result.stdout, result.stderr)
        assert phrase.lower() in result.stderr.lower()
        assert "Traceback" not in result.stderr
        unchanged()


# ------------------------------------------------------------------------------ content types


class TestWrongContentTypes:
    def test_csv_import_sent_as_json(self, corpus: Corpus, unchanged: Any) -> None:
        response = corpus.api.client.post(
            "/accounts/import",
            headers=corpus.api.headers("ced1"),
            json={"rows": [csv_row(2)]},
        )
        assert_refused(response, 415, "text/csv", "application/json")
        unchanged()

    def test_csv_import_sent_as_a_form(self, corpus: Corpus, unchanged: Any) -> None:
        response = corpus.api.client.post(
            "/accounts/import",
            headers=corpus.api.headers("ced1"),
            files={"file": ("accounts.csv", f"{COLUMNS}\n{csv_row(2)}\n")},
        )
        assert_refused(response, 415, "multipart/form-data")
        unchanged()

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
    )
    def test_a_json_endpoint_sent_something_else(
        self, corpus: Corpus, unchanged: Any, content_type: str
    ) -> None:
        response = corpus.api.client.post(
            "/requests",
            headers={**corpus.api.headers("agr_requester"), "Content-Type": content_type},
            content=json.dumps(NEW_REQUEST).encode(),
        )
        assert_refused(response, 422)
        unchanged()

    @pytest.mark.parametrize(
        "payload", [b"{", b"[]", b"null", b'{"kind": "new_account"}', b"\xff\xfe{}"]
    )
    def test_malformed_json(self, corpus: Corpus, unchanged: Any, payload: bytes) -> None:
        response = corpus.api.client.post(
            "/requests",
            headers={**corpus.api.headers("agr_requester"), "Content-Type": "application/json"},
            content=payload,
        )
        assert_refused(response, 422)
        unchanged()

    def test_a_console_form_sent_as_json(self, corpus: Corpus, unchanged: Any) -> None:
        response = corpus.api.client.post("/login", json={"token": corpus.api.tokens["ced1"]})
        assert response.status_code == 422
        assert "Traceback" not in response.text
        assert "registry_session" not in response.headers.get("set-cookie", "")
        unchanged()


# ------------------------------------------------------------------------------ ids, reasons, keys


class TestUnknownIdsEmptyReasonsAndKeys:
    @pytest.mark.parametrize(
        "path", ["/accounts/999999", "/requests/999999", "/handovers/999999", "/people/x@gov.mb.ca"]
    )
    def test_unknown_ids(self, corpus: Corpus, unchanged: Any, path: str) -> None:
        assert_refused(corpus.api.client.get(path, headers=corpus.api.headers("ced1")), 404)
        unchanged()

    @pytest.mark.parametrize("path", ["/accounts/abc", "/requests/-1x", "/accounts/1e9999"])
    def test_ids_that_are_not_numbers(self, corpus: Corpus, unchanged: Any, path: str) -> None:
        assert_refused(corpus.api.client.get(path, headers=corpus.api.headers("ced1")), 422)
        unchanged()

    @pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
    def test_reveal_with_an_empty_reason(self, corpus: Corpus, reason: str) -> None:
        """Refused (403, as every refused reveal) and audited as a refused attempt; nothing
        else in the registry changes and nothing is revealed."""
        before = table_rows(corpus.api.db.engine, skip=AUDIT_TABLES)
        events = audit_actions(corpus.api)
        response = corpus.api.client.post(
            "/accounts/1/credentials/password/reveal",
            headers=corpus.api.headers("ced1"),
            json={"reason": reason},
        )
        assert_refused(response, 403, "A reason is required")
        result = corpus.cli(
            "vault", "reveal", "1", "--kind", "password", "--reason", reason, "--as", CED1
        )
        assert_cli_refused(result, "A reason is required")
        assert "Corpus-canary-7731!" not in response.text + result.stdout + result.stderr
        assert table_rows(corpus.api.db.engine, skip=AUDIT_TABLES) == before
        assert audit_actions(corpus.api)[len(events) :] == ["credential.reveal_refused"] * 2

    @pytest.mark.parametrize("problem", ["missing", "wrong", "too-open", "garbage"])
    def test_a_missing_or_wrong_keyring(
        self, corpus: Corpus, unchanged: Any, tmp_path: Path, problem: str
    ) -> None:
        import vault

        path = tmp_path / "other.keyring"
        if problem == "wrong":
            vault.Keyring.create(path)
        elif problem == "too-open":
            path.write_bytes(corpus.api.db.keyring_path.read_bytes())
            path.chmod(0o644)
        elif problem == "garbage":
            path.write_text("{not json")
            path.chmod(0o600)
        result = corpus.cli(
            "vault", "reveal", "1", "--kind", "password", "--reason", "Audit", "--as", CED1,
            env={"REGISTRY_KEYRING": str(path)},
        )  # fmt: skip
        assert_cli_refused(result)
        assert "Corpus-canary-7731!" not in result.stdout + result.stderr
        unchanged()


class TestNumbersBeyondAnyColumn:
    def test_on_the_command_line_a_usage_error_not_a_traceback(
        self, corpus: Corpus, unchanged: Any
    ) -> None:
        for args in (
            ("accounts", "show", str(2**70)),
            ("request", "show", str(2**64)),
            ("vault", "reveal", "1", "--kind", "password", "--reason", "x", "--version", "9" * 30),
        ):
            result = corpus.cli(*args, "--as", CED1)
            assert result.exit_code == 2, (args, result.stdout, result.stderr)
            assert "less than or equal to" in result.stderr
            assert "Traceback" not in result.stderr
            assert not isinstance(result.exception, OverflowError)
        unchanged()

    @pytest.mark.parametrize(
        "path", [f"/accounts/{2**70}", f"/requests/{2**64}", f"/handovers/{2**63}"]
    )
    def test_over_http(self, corpus: Corpus, unchanged: Any, path: str) -> None:
        assert_refused(corpus.api.client.get(path, headers=corpus.api.headers("ced1")), 422)
        unchanged()

    def test_in_a_request_body(self, corpus: Corpus, unchanged: Any) -> None:
        response = corpus.api.client.post(
            "/requests",
            headers=corpus.api.headers("agr_requester"),
            json={"kind": "decommission", "account_id": 2**70, "reason": "Closing it"},
        )
        assert_refused(response, 422, "account_id")
        unchanged()


class TestValuesTheDatabaseRefuses:
    """The net beneath validation: a value the database itself refuses (out of range,
    malformed) is a 422 / exit 1 in one sentence, never a 500 or a traceback."""

    @pytest.fixture
    def refusing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from sqlalchemy.exc import DataError

        from registry.services import departments

        def refuse(*_args: Any, **_kwargs: Any) -> None:
            raise DataError("SELECT ...", {}, ValueError("integer out of range"))

        monkeypatch.setattr(departments, "list_departments", refuse)

    def test_over_http(self, corpus: Corpus, refusing: None) -> None:
        response = corpus.api.client.get("/departments", headers=corpus.api.headers("ced1"))
        assert_refused(response, 422, DATA_REFUSED)
        assert "out of range" not in response.text.replace(DATA_REFUSED, "")

    def test_on_the_command_line(self, corpus: Corpus, refusing: None) -> None:
        result = corpus.cli("departments", "list", "--as", CED1)
        assert_cli_refused(result, DATA_REFUSED)
