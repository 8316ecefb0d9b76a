"""Handover from the command line and over HTTP; afterwards the leaver can do nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import Api, Cli, FreshDatabase
from tests.factories import CAST, World

ADMIN, STAFF, RITA = CAST["admin"][0], CAST["agr_staff"][0], CAST["agr_requester"][0]


@pytest.fixture
def two_accounts(fresh_db: FreshDatabase) -> list[int]:
    with fresh_db.scope() as session:
        world = World.build(session, fresh_db.settings())
        ids = [
            world.account("AgrNews", holders=("ced1", "agr_staff")).id or 0,
            world.account("HealthNews", department="HLT", holders=("ced2", "agr_staff")).id or 0,
        ]
    return ids


class TestHandoverCli:
    def test_preview_then_run_with_a_map_csv_and_json(
        self, two_accounts: list[int], cli: Cli, tmp_path: Path
    ) -> None:
        mapping = tmp_path / "map.csv"
        mapping.write_text(
            f"account_id,successor_email\n{two_accounts[1]},{CAST['hlt_requester'][0]}\n"
        )
        preview = cli(
            "handover", STAFF, "--to", RITA, "--map", str(mapping), "--dry-run", "--as", ADMIN
        )
        assert preview.exit_code == 0, preview.stderr
        assert "PREVIEW (nothing changed)" in preview.stdout and "AgrNews" in preview.stdout
        hr = tmp_path / "hr.csv"
        done = cli(
            "handover",
            STAFF,
            "--to",
            RITA,
            "--map",
            str(mapping),
            "--csv",
            str(hr),
            "--json",
            "--as",
            ADMIN,
        )
        assert done.exit_code == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["dry_run"] is False and report["id"]
        assert [a["successor"] for a in report["accounts"]] == [RITA, CAST["hlt_requester"][0]]
        rows = list(csv.DictReader(io.StringIO(hr.read_text())))
        assert [r["account_id"] for r in rows] == [str(i) for i in two_accounts]
        assert rows[0]["leaver"] == STAFF and rows[0]["preview"] == "no"
        # the leaver can no longer act
        gone = cli("accounts", "list", "--as", STAFF)
        assert gone.exit_code == 1 and "has left government" in gone.stderr

    def test_refusal_lists_every_account_on_stderr(self, two_accounts: list[int], cli: Cli) -> None:
        result = cli("handover", CAST["ced1"][0], "--to", RITA, "--as", ADMIN)
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert "refused, nothing changed: 1 account would be left" in lines[0]
        assert lines[1].strip().startswith(f"account {two_accounts[0]} (facebook @AgrNews)")

    def test_bad_map_file(self, two_accounts: list[int], cli: Cli, tmp_path: Path) -> None:
        bad = tmp_path / "bad.csv"
        bad.write_text("account_id,successor_email\nabc,x@gov.mb.ca\n")
        result = cli("handover", STAFF, "--to", RITA, "--map", str(bad), "--as", ADMIN)
        assert result.exit_code == 1
        assert "1 bad line(s)" in result.stderr and "line 2" in result.stderr

    def test_map_lines_with_odd_digits_or_no_e_mail_are_named(
        self, two_accounts: list[int], cli: Cli, tmp_path: Path
    ) -> None:
        bad = tmp_path / "bad.csv"
        bad.write_text(
            "account_id,successor_email\n"
            "\u00b2,x@gov.mb.ca\n"  # "²" is a digit to str.isdigit(), not to int()
            f"{two_accounts[0]},\n"
            f"{two_accounts[1]},  \n"
            f"{'9' * 5000},x@gov.mb.ca\n",
            encoding="utf-8",
        )
        stderr = cli.refused("handover", STAFF, "--to", RITA, "--map", str(bad), "--as", ADMIN)
        assert "4 bad line(s)" in stderr
        for line in (2, 5):
            assert f"line {line}: expected an account id and an e-mail" in stderr
        for line, account_id in ((3, two_accounts[0]), (4, two_accounts[1])):
            assert f"line {line}: account {account_id} has no successor e-mail" in stderr


class TestHandoverHttp:
    def test_dry_run_then_real_then_the_leaver_is_401(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            content=(
                "platform,handle,url,category,department,login_email,purpose,holders\n"
                f"x,mbag,https://x.com/mbag,official,AGR,agr.social@gov.mb.ca,News,{CAST['ced1'][0]};{STAFF}\n"
            ),
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert imported.status_code == 201
        body = {"departing": STAFF, "successor": RITA}
        preview = api.client.post(
            "/handovers", json={**body, "dry_run": True}, headers=api.headers("ced1")
        )
        assert preview.status_code == 200 and preview.json()["dry_run"] is True
        assert api.client.get("/accounts", headers=api.headers("agr_staff")).status_code == 200
        done = api.client.post("/handovers", json=body, headers=api.headers("ced1"))
        assert done.status_code == 201, done.text
        assert api.client.get("/accounts", headers=api.headers("agr_staff")).status_code == 401
        listed = api.client.get("/handovers", headers=api.headers("auditor")).json()
        assert [h["id"] for h in listed] == [done.json()["id"]]
        refused = api.client.post("/handovers", json=body, headers=api.headers("agr_requester"))
        assert refused.status_code == 403
