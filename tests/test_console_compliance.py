"""The compliance report a page at a time: the totals counted in SQL agree with the findings
the report lists, paging returns each finding once both ways, the console page and its CSV
(formula-safe), and a requester's report stays their department's."""

from __future__ import annotations

import csv
import datetime as dt
import html
import importlib.util
import io
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from registry.config import Settings
from registry.db import session_scope
from registry.http.console.pages import compliance as compliance_page
from registry.models import utcnow
from registry.paging import Key
from registry.permissions import Actor
from registry.services import compliance, compliance_pages
from registry.services.actors import actor_by_email
from tests.conftest import Api, csrf_of, empty_database
from tests.factories import CAST

BENCH = Path(__file__).resolve().parents[1] / "bench" / "compliance.py"


def _bench() -> ModuleType:
    """``bench/compliance.py``, whose generator makes a registry with every kind of finding."""
    name = "bench_compliance_for_tests"
    if name in sys.modules:
        return sys.modules[name]
    saved = list(sys.path)
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved + [p for p in sys.path if p not in saved]
    return module


class Registry:
    """A generated registry (every kind of finding, in every department) and who reads it."""

    def __init__(self, engine: Engine, settings: Settings, now: dt.datetime) -> None:
        self.engine, self.settings, self.now = engine, settings, now

    def session(self) -> Any:
        return session_scope(self.engine, writes=False)

    def actor(self, session: Session, who: str) -> Actor:
        if who == "auditor":
            return actor_by_email(session, self.settings, _bench().AUDITOR_EMAIL)
        email = session.execute(
            text(
                "SELECT p.email FROM person p JOIN department d ON d.id = p.department_id "
                "WHERE d.code = :code AND p.status = 'active' ORDER BY p.id LIMIT 1"
            ),
            {"code": who},
        ).scalar_one()
        return actor_by_email(session, self.settings, email)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    bench = _bench()
    with empty_database(tmp_path_factory.mktemp("compliance")) as (url, engine):
        settings = Settings(database_url=url, gov_domains=bench.DOMAIN, ced_department=bench.CED)
        now = utcnow()
        bench.build_registry(engine, settings, 1000, now, analyze=False)
        yield Registry(engine, settings, now)


def _listed(report: compliance.ComplianceReport) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.department, Counter())[finding.code] += 1
    return found


class TestTotals:
    @pytest.mark.parametrize("who", ["auditor", "AGR"])
    @pytest.mark.parametrize("rule", [None, 2, 3, 4, 5, 6, 7])
    def test_the_counted_totals_are_the_listed_findings(
        self, registry: Registry, who: str, rule: int | None
    ) -> None:
        with registry.session() as session:
            actor = registry.actor(session, who)
            kwargs: dict[str, Any] = {"settings": registry.settings, "actor": actor}
            listed = compliance.report(session, rule=rule, now=registry.now, **kwargs)
            counted = compliance_pages.summary(session, rule=rule, now=registry.now, **kwargs)
        assert {t.department: Counter(t.by_code) for t in counted if t.by_code} == _listed(listed)
        accounts = {t.department: t.active_accounts for t in listed.totals}
        assert {t.department: t.active_accounts for t in counted} == accounts
        for totals, expected in zip(counted, listed.totals, strict=True):
            assert (totals.findings, totals.high, totals.medium) == (
                expected.findings,
                expected.high,
                expected.medium,
            )
            assert sum(totals.rule(n) for n in compliance_pages.RULES) == totals.findings
        if who == "AGR":
            assert [t.department for t in counted] == ["AGR"]  # their department alone
        else:
            assert len(counted) == 20  # every department with accounts (CED holds none)
        if rule is None and who == "auditor":
            # every kind of finding occurs, each with the rule and severity the report gives it
            codes = {(f.code, f.rule, f.severity) for f in listed.findings}
            assert {code for code, _, _ in codes} == set(compliance_pages.CODES)
            assert all(compliance_pages.CODES[code] == (r, s) for code, r, s in codes)


class TestPaging:
    @pytest.mark.parametrize(
        ("who", "filters"),
        [
            ("auditor", {}),
            ("auditor", {"rule": 3}),
            ("auditor", {"department": "hlt"}),
            ("AGR", {}),
            ("AGR", {"rule": 6}),
            ("auditor", {"rule": 4}),
        ],
    )
    def test_every_finding_once_forwards_and_backwards(
        self, registry: Registry, who: str, filters: dict[str, Any]
    ) -> None:
        with registry.session() as session:
            actor = registry.actor(session, who)
            kwargs: dict[str, Any] = {
                "settings": registry.settings,
                "actor": actor,
                "now": registry.now,
                **filters,
            }
            every = sorted(
                compliance_pages.position(f) for f in compliance.report(session, **kwargs).findings
            )
            assert len(every) > 2  # two pages at least
            pages = [compliance_pages.findings_page(session, limit=2, **kwargs)]
            assert pages[0].prev is None
            while pages[-1].next is not None:
                cursor = compliance_pages.FINDINGS_ORDER.encode(pages[-1].next)
                after = compliance_pages.FINDINGS_ORDER.decode(cursor)  # as a link carries it
                page = compliance_pages.findings_page(session, limit=2, after=after, **kwargs)
                pages.append(page)
            forward = [compliance_pages.position(f) for page in pages for f in page]
            assert forward == every
            assert all(len(page) == 2 for page in pages[:-1])
            back: list[list[Key]] = [[compliance_pages.position(f) for f in pages[-1]]]
            prev = pages[-1].prev
            while prev is not None:
                page = compliance_pages.findings_page(session, limit=2, after=prev, **kwargs)
                back.append([compliance_pages.position(f) for f in page])
                prev = page.prev
        assert [key for page in reversed(back) for key in page] == every
        assert back[-1] == [compliance_pages.position(f) for f in pages[0]]


def _rows() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "platform",
            "handle",
            "url",
            "category",
            "department",
            "login_email",
            "purpose",
            "holders",
            "display_name",
        ]
    )
    for handle, dept, staff, display in [
        ("-MBAgrOne", "AGR", "agr_staff", '=HYPERLINK("http://evil.example","x")'),
        ("MBAgrTwo", "AGR", "agr_staff", "+Agriculture two"),
        ("MBAgrThree", "AGR", "agr_staff", "Agriculture three"),
        ("MBHltOne", "HLT", "hlt_requester", "Health one"),
        ("MBHltTwo", "HLT", "hlt_requester", "Health two"),
    ]:
        writer.writerow(
            [
                "facebook",
                handle,
                f"https://www.facebook.com/{handle}",
                "official",
                dept,
                f"{handle.strip('-').lower()}@gov.mb.ca",
                "Test",
                f"{CAST['ced1'][0]};{CAST[staff][0]}",
                display,
            ]
        )
    return out.getvalue()


ROWS = _rows()


@pytest.fixture
def imported(api: Api) -> list[int]:
    """Five accounts (three AGR, two HLT), none with its password on file: five findings."""
    response = api.client.post(
        "/accounts/import",
        content=ROWS,
        headers={**api.headers("ced1"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return [int(i) for i in response.json()["account_ids"]]


def sign_in(api: Api, who: str) -> None:
    """Sign the client in to the console as ``who`` (as a browser does, without the home)."""
    form = api.client.get("/login")
    signed = api.client.post(
        "/login",
        data={"token": api.tokens[who], "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def totals_row(page: str, department: str) -> list[int] | None:
    found = re.search(rf'<tr><th scope="row">{department}</th>((?:<td>\d+</td>\s*)+)</tr>', page)
    return [int(n) for n in re.findall(r"<td>(\d+)</td>", found[1])] if found else None


def findings_on(page: str) -> list[tuple[str, str]]:
    """(account link, rule) of each finding listed on a page."""
    row = r'<a href="(/console/(?:accounts|requests)/\d+)">[^<]*</a></td>\s*<td>(\d)</td>'
    return re.findall(row, page)


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


class TestPage:
    def test_totals_per_department_then_the_findings_a_page_at_a_time(
        self, api: Api, imported: list[int], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(compliance_page, "CONSOLE_PAGE", 2)
        sign_in(api, "auditor")
        first = api.client.get("/console/compliance")
        assert first.status_code == 200
        # department, active accounts, findings, high, medium, rules 2 to 7
        assert totals_row(first.text, "AGR") == [
            3,
            3,
            3,
            0,
            0,
            0,
            0,
            3,
            0,
            0,
            3,
        ]  # the last: no platform id
        assert totals_row(first.text, "HLT") == [2, 2, 2, 0, 0, 0, 0, 2, 0, 0, 2]
        assert totals_row(first.text, "All") == [5, 5, 5, 0, 0, 0, 0, 5, 0, 0, 5]
        pages = [first.text]
        while (nxt := link(pages[-1], "next")) is not None:
            pages.append(api.client.get(nxt).text)
        listed = [row for page in pages for row in findings_on(page)]
        assert listed == [(f"/console/accounts/{i}", "5") for i in imported]
        assert len(pages) == 3
        back = api.client.get(link(pages[-1], "prev") or "").text
        assert findings_on(back) == findings_on(pages[1])

    def test_the_filters_narrow_and_are_kept_across_pages(
        self, api: Api, imported: list[int], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(compliance_page, "CONSOLE_PAGE", 1)
        sign_in(api, "auditor")
        page = api.client.get("/console/compliance", params={"department": "AGR", "rule": "5"})
        assert page.status_code == 200
        assert totals_row(page.text, "HLT") is None
        assert totals_row(page.text, "AGR") == [3, 3, 3, 0, 3, 3]  # rule 5 only; no platform id
        nxt = link(page.text, "next") or ""
        assert "department=AGR" in nxt and "rule=5" in nxt
        assert 'href="/console/compliance.csv?department=AGR&amp;rule=5"' in page.text
        other_rule = api.client.get("/console/compliance", params={"rule": "2"})
        assert findings_on(other_rule.text) == []
        assert "No findings for these filters." in other_rule.text

    @pytest.mark.parametrize(
        ("params", "sentence"),
        [
            ({"rule": "9"}, "Rule must be one of 2, 3, 4, 5, 6, 7"),
            ({"rule": "x"}, "Rule must be one of"),
            ({"cursor": "nonsense"}, "The cursor is not one this registry gave out"),
        ],
    )
    def test_a_bad_filter_is_a_sentence(
        self, api: Api, imported: list[int], params: dict[str, str], sentence: str
    ) -> None:
        sign_in(api, "auditor")
        page = api.client.get("/console/compliance", params=params)
        assert page.status_code == 422 and sentence in html.unescape(page.text)
        assert "Traceback" not in page.text and findings_on(page.text) == []

    def test_a_requester_sees_only_their_department(self, api: Api, imported: list[int]) -> None:
        sign_in(api, "agr_requester")
        page = api.client.get("/console/compliance")
        assert page.status_code == 200
        assert totals_row(page.text, "AGR") == [3, 3, 3, 0, 0, 0, 0, 3, 0, 0, 3]
        assert "HLT" not in page.text and "MBHlt" not in page.text
        assert [a for a, _ in findings_on(page.text)] == [
            f"/console/accounts/{i}" for i in imported[:3]
        ]
        refused = api.client.get("/console/compliance", params={"department": "HLT"})
        assert refused.status_code == 403
        assert "may only see the compliance of their own department (AGR)" in refused.text
        assert "MBHlt" not in refused.text
        exported = api.client.get("/console/compliance.csv")
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert {row["department"] for row in rows} == {"AGR"} and len(rows) == 3
        assert api.client.get("/console/compliance.csv?department=HLT").status_code == 403


class TestCsv:
    def test_every_finding_of_the_filters_formula_safe(
        self, api: Api, imported: list[int], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(compliance_page, "CONSOLE_PAGE", 1)  # the CSV is not the page
        with api.db.engine.begin() as connection:  # as a row written before the checks were
            connection.execute(
                text("UPDATE account SET handle = :h WHERE id = :id"),
                {"h": '=HYPERLINK("http://evil.example","x")', "id": imported[1]},
            )
            connection.execute(
                text("UPDATE account SET handle = :h WHERE id = :id"),
                {"h": "+SUM(1,2)", "id": imported[2]},
            )
        sign_in(api, "auditor")
        exported = api.client.get("/console/compliance.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"] == 'attachment; filename="compliance.csv"'
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) == 5
        handles = {int(row["account_id"]): row["handle"] for row in rows}
        assert handles[imported[0]] == "'-MBAgrOne"
        assert handles[imported[1]] == '\'=HYPERLINK("http://evil.example","x")'
        assert handles[imported[2]] == "'+SUM(1,2)"
        for row in rows:
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())
        only = api.client.get("/console/compliance.csv", params={"department": "HLT"})
        assert {row["department"] for row in csv.DictReader(io.StringIO(only.text))} == {"HLT"}
        monkeypatch.undo()
        page = api.client.get("/console/compliance")
        assert "=HYPERLINK(&#34;http://evil.example&#34;" in page.text  # escaped on the page
        assert 'HYPERLINK("http' not in page.text
