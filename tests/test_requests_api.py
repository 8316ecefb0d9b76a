"""The workflow over HTTP: status codes for every kind of refusal, and the full flow."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import CAST

NEW = {
    "kind": "new_account",
    "platform": "instagram",
    "handle": "mb_agriculture",
    "url": "https://instagram.com/mb_agriculture",
    "category": "employment_related",
    "department": "AGR",
    "purpose": "Field updates",
    "login_email": "agr.social@gov.mb.ca",
    "holders": [CAST["agr_staff"][0], CAST["agr_approver"][0]],
}


def submitted(api: Api) -> int:
    response = api.client.post("/requests", json=NEW, headers=api.headers("agr_requester"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "submitted" and body["requester"] == CAST["agr_requester"][0]
    return int(body["id"])


class TestRequestsOverHttp:
    def test_full_flow_with_ced_adding_a_holder(self, api: Api) -> None:
        rid = submitted(api)
        first = api.client.post(
            f"/requests/{rid}/approve", json={"comment": "ok"}, headers=api.headers("agr_approver")
        )
        assert first.status_code == 200 and first.json()["state"] == "department_approved"
        refused = api.client.post(f"/requests/{rid}/approve", headers=api.headers("ced1"))
        assert refused.status_code == 409
        assert "one from CED" in refused.json()["detail"]
        final = api.client.post(
            f"/requests/{rid}/approve",
            json={"holders": [CAST["ced2"][0]]},
            headers=api.headers("ced1"),
        )
        assert final.status_code == 200, final.text
        body = final.json()
        assert body["state"] == "approved" and body["account_id"]
        assert body["final_decision"]["who"] == CAST["ced1"][0]
        account = api.client.get(
            f"/accounts/{body['account_id']}", headers=api.headers("agr_requester")
        ).json()
        assert account["status"] == "active" and CAST["ced2"][0] in account["holders"]
        again = api.client.post(f"/requests/{rid}/approve", headers=api.headers("ced2"))
        assert again.status_code == 409 and "never changes" in again.json()["detail"]

    def test_statuses_for_each_kind_of_refusal(self, api: Api) -> None:
        rid = submitted(api)
        assert api.client.get(f"/requests/{rid}").status_code == 401
        self_approval = api.client.post(
            f"/requests/{rid}/approve", headers=api.headers("agr_requester")
        )
        assert self_approval.status_code == 403
        assert (
            api.client.get(f"/requests/{rid}", headers=api.headers("hlt_requester")).status_code
            == 404
        )
        assert (
            api.client.post(
                f"/requests/{rid}/approve", headers=api.headers("hlt_approver")
            ).status_code
            == 404
        )
        blank = api.client.post(
            f"/requests/{rid}/reject", json={"reason": "  "}, headers=api.headers("agr_approver")
        )
        assert blank.status_code == 422 and "Reason must not be blank" in blank.json()["detail"]
        duplicate = api.client.post("/requests", json=NEW, headers=api.headers("agr_staff"))
        assert duplicate.status_code == 409
        assert f"already requested in request {rid}" in duplicate.json()["detail"]
        personal = api.client.post(
            "/requests",
            json={**NEW, "handle": "me", "category": "personal"},
            headers=api.headers("agr_requester"),
        )
        assert personal.status_code == 422
        assert api.client.get("/requests/999", headers=api.headers("admin")).status_code == 404

    def test_lists_and_awaiting_me(self, api: Api) -> None:
        rid = submitted(api)
        queue = api.client.get(
            "/requests", params={"awaiting_me": True}, headers=api.headers("agr_approver")
        ).json()
        assert [r["id"] for r in queue] == [rid]
        assert api.client.get("/requests", headers=api.headers("hlt_requester")).json() == []

    def test_decommission_and_withdraw(self, api: Api) -> None:
        rid = submitted(api)
        withdrawn = api.client.post(
            f"/requests/{rid}/withdraw", headers=api.headers("agr_requester")
        )
        assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
        missing = api.client.post(
            "/requests",
            json={"kind": "decommission", "account_id": 12345, "reason": "gone"},
            headers=api.headers("agr_requester"),
        )
        assert missing.status_code == 404
        malformed = api.client.post(
            "/requests", json={"kind": "decommission"}, headers=api.headers("agr_requester")
        )
        assert malformed.status_code == 422
