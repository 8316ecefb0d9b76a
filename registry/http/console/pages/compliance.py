"""The compliance report: totals per department, then its findings a page at a time (filtered
by department and rule), or every finding as a CSV file.

The page asks the service for the totals (counted in SQL) and for one page of findings
(department by department from the cursor), never for the whole report: at 100,000 accounts
the report lists some 20,000 findings. The CSV file is the whole report, filters applied.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from registry.errors import InvalidInput, RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, signed_in
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, Pager, cursor_of, pager
from registry.http.deps import SessionDep, SettingsDep
from registry.models import utcnow
from registry.paging import Key, Page
from registry.services import compliance, compliance_pages

router = APIRouter(prefix="/console/compliance")

# What each rule asks (registry.rules), for the rule filter's choices and the totals' columns.
RULE_NAMES = {
    2: "government e-mail",
    3: "two holders, one from CED",
    4: "two approvals in time",
    5: "credentials on file",
    6: "government property",
    7: "yearly review",
}
assert set(RULE_NAMES) == set(compliance_pages.RULES)

DepartmentParam = Annotated[str, Query(max_length=32)]
RuleParam = Annotated[str, Query(max_length=8)]


def _rule(text: str) -> int | None:
    """The rule filter's number (None for every rule); InvalidInput for anything else."""
    value = text.strip()
    if not value:
        return None
    if value.isdigit() and int(value) in RULE_NAMES:
        return int(value)
    rules = ", ".join(str(n) for n in RULE_NAMES)
    raise InvalidInput(f"Rule must be one of {rules}, not {value!r}.")


def _query(department: str, rule: str) -> str:
    kept = {k: v for k, v in (("department", department), ("rule", rule)) if v}
    return "?" + urlencode(kept) if kept else ""


@router.get("", response_class=HTMLResponse)
def compliance_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: DepartmentParam = "",
    rule: RuleParam = "",
    cursor: CursorParam = "",
) -> HTMLResponse:
    """Totals per department (the departments the signed-in person sees), then a page of
    findings; a refused filter or cursor shows its sentence above an empty report."""
    web, actor = signed_in(request, session, settings)
    now = utcnow()
    totals: list[compliance_pages.RuleTotals] = []
    findings: Page[compliance.Finding] = Page()
    error: RegistryError | None = None
    rule_number: int | None = None
    after: Key | None = None
    try:
        rule_number = _rule(rule)
        after = cursor_of(compliance_pages.FINDINGS_ORDER, cursor)
    except InvalidInput as exc:
        error = exc
    if error is None:
        shown, error = attempt(
            request,
            session,
            lambda: (
                compliance_pages.summary(
                    session,
                    settings=settings,
                    actor=actor,
                    department=department or None,
                    rule=rule_number,
                    now=now,
                ),
                compliance_pages.findings_page(
                    session,
                    settings=settings,
                    actor=actor,
                    department=department or None,
                    rule=rule_number,
                    limit=CONSOLE_PAGE,
                    after=after,
                    now=now,
                ),
            ),
        )
        if shown is not None:
            totals, findings = shown
    codes, _ = attempt(
        request, session, lambda: compliance_pages.departments_in_view(session, actor, None)
    )
    return render.page(
        request,
        "compliance/compliance.html",
        title="Compliance report",
        status_code=200 if error is None else error.status_code,
        actor=actor,
        csrf=web.csrf,
        generated_at=now,
        totals=totals,
        findings=findings,
        pager=Pager() if error else pager(request, compliance_pages.FINDINGS_ORDER, findings),
        department=department,
        rule=rule,
        departments=codes or [],
        rules=RULE_NAMES,
        shown_rules=[rule_number] if error is None and rule_number else list(RULE_NAMES),
        csv_url="/console/compliance.csv" + _query(department, rule),
        **render.error_context(error),
    )


@router.get(".csv", response_class=Response)
def compliance_csv(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: DepartmentParam = "",
    rule: RuleParam = "",
) -> Response:
    """Every finding of the report (the page's filters applied), as a CSV file a spreadsheet
    opens safely (``compliance.to_csv``, through ``registry.csvsafe``)."""
    web, actor = signed_in(request, session, settings)

    def whole() -> str:
        return compliance.to_csv(
            compliance.report(
                session,
                settings=settings,
                actor=actor,
                department=department or None,
                rule=_rule(rule),
            )
        )

    text, error = attempt(request, session, whole)
    if error is not None:
        return render.error_page(
            request, error, title="Compliance report", actor=actor, csrf=web.csrf
        )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="compliance.csv"',
            "Cache-Control": "no-store",
        },
    )
