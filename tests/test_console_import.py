"""CSV import by upload in the console: CED's file imported whole or not at all, each refused
line shown with its column, and nobody else let in."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlmodel import Session, select

from registry.http.console.pages.imports import ENVELOPE_BYTES, column_of
from registry.models import Account
from tests.conftest import Api
from tests.factories import CAST

HEADER = "platform,handle,url,category,department,login_email,purpose,holders\n"
HOLDERS = f"{CAST['ced1'][0]};{CAST['agr_staff'][0]}"


def _row(handle: str, *, purpose: str = "Farm news", **change: str) -> str:
    cells = {
        "platform": "facebook",
        "handle": handle,
        "url": f"https://www.facebook.com/{handle}",
        "category": "official",
        "department": "AGR",
        "login_email": "agr.social@gov.mb.ca",
        "purpose": purpose,
        "holders": HOLDERS,
        **change,
    }
    return ",".join(_cell(v) for v in cells.values()) + "\n"


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n=') else value


def _upload(
    api: Api, data: bytes, csrf: str | None, *, name: str = "accounts.csv"
) -> httpx.Response:
    form = {} if csrf is None else {"csrf": csrf}
    return api.client.post(
        "/console/import", data=form, files={"spreadsheet": (name, data, "text/csv")}
    )


def _problems(page: str) -> list[tuple[str, str, str]]:
    """The table of refused lines: (line, column, problem), markup removed."""
    body = re.search(r"Problems by line of the file.*?<tbody>(.*?)</tbody>", page, re.S)
    assert body, page
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", body.group(1))
    return [(html.unescape(a), html.unescape(b), html.unescape(c)) for a, b, c in rows]


class TestImporting:
    def test_a_good_file_imports_and_lists_the_accounts(self, api: Api) -> None:
        csrf = api.sign_in("ced1")
        form = api.client.get("/console/import")
        assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
        assert '<label for="spreadsheet">Spreadsheet (CSV)</label>' in form.text
        assert 'accept=".csv,text/csv"' in form.text
        done = _upload(api, (HEADER + _row("ManitobaAg") + _row("MBFarms")).encode(), csrf)
        assert done.status_code == 200, done.text
        text = done.text
        assert "<h1>Accounts imported</h1>" in text and "2 accounts imported" in text
        with Session(api.db.engine) as session:
            ids = {a.handle: a.id for a in session.exec(select(Account))}
        assert set(ids) == {"ManitobaAg", "MBFarms"}
        for handle, account_id in ids.items():
            assert f'<a href="/console/accounts/{account_id}">facebook @{handle}</a>' in text

    def test_two_bad_lines_show_both_and_import_nothing(self, api: Api) -> None:
        csrf = api.sign_in("ced1")
        data = (
            HEADER
            + _row("ManitobaAg")
            + _row("MBFarms", login_email="farm.news@gmail.com")
            + _row("MBCrops", holders=CAST["agr_staff"][0])
        )
        refused = _upload(api, data.encode(), csrf)
        assert refused.status_code == 422
        text = refused.text
        assert "Nothing was imported: 2 rows of 3 are invalid." in text and 'role="alert"' in text
        problems = _problems(text)
        assert [(line, column) for line, column, _ in problems] == [
            ("3", "login_email"),
            ("4", "holders"),
        ]
        assert "not on an approved government domain" in problems[0][2]
        assert "one holder from CED" in problems[1][2]
        assert api.count(Account) == 0

    def test_formulas_are_data_and_control_characters_are_refused(self, api: Api) -> None:
        csrf = api.sign_in("ced1")
        formula = '=HYPERLINK("http://evil.example","click")'
        done = _upload(api, (HEADER + _row("ManitobaAg", purpose=formula)).encode(), csrf)
        assert done.status_code == 200, done.text
        with Session(api.db.engine) as session:
            [account] = session.exec(select(Account)).all()
        assert account.purpose == formula  # kept as typed: text, never evaluated
        refused = _upload(
            api,
            (HEADER + _row("MBFarms", purpose="Farm\x07news", department="<b>X</b>")).encode(),
            csrf,
        )
        assert refused.status_code == 422
        text = refused.text
        assert "<b>X</b>" not in text and "&lt;B&gt;X&lt;/B&gt;" in text
        assert _problems(text) == [("2", "department", "No department with code '<B>X</B>'.")]
        control = _upload(api, (HEADER + _row("MBFarms", purpose="Farm\x07news")).encode(), csrf)
        assert _problems(control.text) == [
            ("2", "purpose", "Purpose contains a control character.")
        ]
        assert api.count(Account) == 1

    @pytest.mark.parametrize(
        ("data", "phrase"),
        [
            (b"\xff\xfe" + HEADER.encode("utf-16-le"), "is not valid UTF-8"),
            (b"PK\x03\x04\x00\x00 an xlsx workbook", "not a CSV text file"),
            (b"name,email\nAna,ana@gov.mb.ca\n", "The header must name these columns"),
            (b"", "Choose the CSV file to import"),
        ],
    )
    def test_a_file_that_is_not_a_csv_import_is_one_sentence(
        self, api: Api, data: bytes, phrase: str
    ) -> None:
        csrf = api.sign_in("ced1")
        refused = _upload(api, data, csrf, name="accounts.xlsx")
        assert refused.status_code == 422, refused.text
        text = refused.text
        alert = re.search(r'<div class="error" role="alert"><p>(.*?)</p>', text, re.S)
        assert alert and phrase in html.unescape(alert.group(1)), text
        assert "Problems by line" not in text and "Traceback" not in text
        assert api.count(Account) == 0

    def test_a_file_too_large_is_refused(self, api: Api) -> None:
        csrf = api.sign_in("ced1")
        limit = api.db.settings().max_request_bytes
        body = HEADER + _row("ManitobaAg")
        near = (body + " " * (limit - ENVELOPE_BYTES + 1 - len(body))).encode()
        refused = _upload(api, near, csrf)
        assert refused.status_code == 413
        assert "The file is larger than the" in refused.text
        beyond = _upload(api, near + b" " * ENVELOPE_BYTES, csrf)  # past the body limit
        assert beyond.status_code == 413
        assert api.count(Account) == 0


class TestWhoMayImport:
    def test_a_requester_is_refused_the_page_and_the_upload(self, api: Api) -> None:
        csrf = api.sign_in("agr_requester")
        home = api.client.get("/console").text
        assert 'href="/console/import"' not in home
        page = api.client.get("/console/import")
        assert page.status_code == 403 and "may not import accounts" in page.text
        refused = _upload(api, (HEADER + _row("ManitobaAg")).encode(), csrf)
        assert refused.status_code == 403
        assert api.count(Account) == 0

    def test_ced_gets_the_link(self, api: Api) -> None:
        api.sign_in("ced1")
        assert '<a href="/console/import">Import</a>' in api.client.get("/console").text

    def test_without_the_csrf_token_nothing_is_imported(self, api: Api) -> None:
        api.sign_in("ced1")
        refused = _upload(api, (HEADER + _row("ManitobaAg")).encode(), None)
        assert refused.status_code == 403
        assert "reload the page" in refused.text
        other = _upload(api, (HEADER + _row("ManitobaAg")).encode(), "not-the-token")
        assert other.status_code == 403
        assert api.count(Account) == 0


class TestColumnOf:
    @pytest.mark.parametrize(
        ("message", "row", "column"),
        [
            ("Unknown platform 'myspace'; known platforms are x", None, "platform"),
            (
                "E-mail address 'bob' must contain exactly one '@'",
                {"holders": "a@gov.mb.ca;bob"},
                "holders",
            ),
            (
                "E-mail address 'bob' must contain exactly one '@'",
                {"login_email": "bob"},
                "login_email",
            ),
            ("'no spaces' is not a valid Facebook handle", {"handle": "no spaces"}, "handle"),
            ("Facebook @A is already registered as account 3", None, "handle"),
            ("has 3 fields where the header has 8", None, None),
        ],
    )
    def test_the_column_a_refusal_names(
        self, message: str, row: dict[str, str] | None, column: str | None
    ) -> None:
        assert column_of(message, row) == column
