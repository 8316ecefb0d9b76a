"""Credentials over HTTP and the CLI, and a canary secret that must never leak."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from registry.config import Settings
from registry.http.app import create_app
from registry.models import AuditEvent
from tests.conftest import ON_POSTGRES, Api, Cli, FreshDatabase, assert_cli_refused
from tests.factories import CAST, World

HEADER = "platform,handle,url,category,department,login_email,purpose,holders\n"
ROW = (
    "facebook,ManitobaAg,https://facebook.com/ManitobaAg,official,AGR,agr.social@gov.mb.ca,"
    f"Farm news,{CAST['ced1'][0]};{CAST['agr_staff'][0]}\n"
)


def imported_account(api: Api) -> int:
    response = api.client.post(
        "/accounts/import",
        content=HEADER + ROW,
        headers={**api.headers("ced1"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["account_ids"][0])


class TestOverHttp:
    def test_put_reveal_totp_and_statuses(self, api: Api) -> None:
        account_id = imported_account(api)
        base = f"/accounts/{account_id}"
        stored = api.client.put(
            f"{base}/credentials/password", json={"value": "pa55"}, headers=api.headers("ced1")
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["version"] == 1 and "value" not in stored.json()
        revealed = api.client.post(
            f"{base}/credentials/password/reveal",
            json={"reason": "Scheduling posts"},
            headers=api.headers("agr_staff"),
        )
        assert revealed.status_code == 200 and revealed.json()["value"] == "pa55"
        assert revealed.headers["cache-control"] == "no-store"
        refused = api.client.post(
            f"{base}/credentials/password/reveal",
            json={"reason": "Curious"},
            headers=api.headers("auditor"),
        )
        assert refused.status_code == 403
        hidden = api.client.post(
            f"{base}/credentials/password/reveal",
            json={"reason": "x"},
            headers=api.headers("hlt_requester"),
        )
        assert hidden.status_code == 404
        api.client.put(
            f"{base}/credentials/totp_seed",
            json={"value": "jbsw y3dp ehpk 3pxp"},
            headers=api.headers("ced1"),
        )
        code = api.client.get(f"{base}/totp", headers=api.headers("agr_staff"))
        assert code.status_code == 200 and len(code.json()["code"]) == 6
        assert code.headers["cache-control"] == "no-store"
        listed = api.client.get(f"{base}/credentials", headers=api.headers("auditor")).json()
        assert sorted(c["kind"] for c in listed) == ["password", "totp_seed"]
        bad_kind = api.client.put(
            f"{base}/credentials/pin", json={"value": "1"}, headers=api.headers("ced1")
        )
        assert bad_kind.status_code == 422
        with Session(api.db.engine) as session:
            actions = [e.action for e in session.exec(select(AuditEvent)).all()]
        assert "credential.revealed" in actions and "credential.reveal_refused" in actions

    def test_without_a_keyring_only_secrets_fail_503(self, fresh_db: FreshDatabase) -> None:
        settings = Settings(database_url=fresh_db.url, keyring=str(fresh_db.keyring_path) + ".gone")
        with fresh_db.scope() as session:
            World.build(session, settings)
            from registry.services import tokens

            token = tokens.create_token(session, actor=None, email=CAST["ced1"][0]).token
        client = TestClient(create_app(settings, engine=fresh_db.engine))
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/accounts", headers=headers).status_code == 200
        response = client.put(
            "/accounts/1/credentials/password", json={"value": "x"}, headers=headers
        )
        assert response.status_code == 503
        assert response.json()["error"] == "vault_unavailable"
        assert "No keyring file" in response.json()["detail"]


class TestFromTheCli:
    def test_put_reveal_and_refuse_a_secret_argument(
        self, fresh_db: FreshDatabase, cli: Cli
    ) -> None:
        with fresh_db.scope() as session:
            account_id = str(World.build(session, fresh_db.settings()).account().id)
        ced = ["--as", CAST["ced1"][0]]
        put = cli.ok("vault", "put", account_id, "--kind", "password", *ced, input="s3cret\n")
        assert "s3cret" not in put.stdout + put.stderr
        argument = cli("vault", "put", account_id, "hunter2", "--kind", "password", *ced)
        assert_cli_refused(argument, "never taken as command-line arguments")
        assert "hunter2" not in argument.stderr + argument.stdout
        reveal = ("vault", "reveal", account_id, "--kind", "password", "--reason")
        assert cli.ok(*reveal, "Post", *ced).stdout == "s3cret\n"
        assert cli.json(*reveal, "Post", *ced)["value"] == "s3cret"
        assert "reason is required" in cli.refused(*reveal, " ", *ced)
        assert cli.json("vault", "list", account_id, *ced)[0]["version"] == 1
        assert cli.json("vault", "rotate-key", "--as", CAST["admin"][0])["rewrapped"] == 1
        assert cli.ok(*reveal, "After", *ced).stdout == "s3cret\n"

    def test_missing_keyring_is_one_sentence(
        self, fresh_db: FreshDatabase, cli: Cli, tmp_path: Path
    ) -> None:
        with fresh_db.scope() as session:
            account_id = str(World.build(session, fresh_db.settings()).account().id)
        message = cli.refused(
            "vault",
            "totp",
            account_id,
            "--as",
            CAST["ced1"][0],
            env={"REGISTRY_KEYRING": str(tmp_path / "nowhere.keyring")},
        )
        assert message.startswith("The credential vault is unavailable: No keyring file")


class TestCanary:
    """A canary secret never appears anywhere but the one reveal response."""

    def test_canary_never_leaks(
        self, api: Api, caplog: pytest.LogCaptureFixture, tmp_path: Path
    ) -> None:
        canary = f"CANARY-{uuid.uuid4().hex}"
        caplog.set_level(logging.DEBUG)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
        account_id = imported_account(api)
        base = f"/accounts/{account_id}"
        bodies: list[str] = []
        for kind in ("password", "recovery_codes"):
            response = api.client.put(
                f"{base}/credentials/{kind}", json={"value": canary}, headers=api.headers("ced1")
            )
            assert response.status_code == 200
            bodies.append(response.text)
        oversize = api.client.put(
            f"{base}/credentials/password",
            json={"value": canary + "x" * 9000},
            headers=api.headers("ced1"),
        )
        assert oversize.status_code == 422
        bodies.append(oversize.text)
        refused = api.client.post(
            f"{base}/credentials/password/reveal",
            json={"reason": "Curious"},
            headers=api.headers("auditor"),
        )
        bodies.append(refused.text)
        revealed = api.client.post(
            f"{base}/credentials/password/reveal",
            json={"reason": "Check"},
            headers=api.headers("ced1"),
        )
        assert revealed.json()["value"] == canary  # the one place it may appear
        for path in ("/accounts", base, f"{base}/credentials", "/requests", "/people"):
            bodies.append(api.client.get(path, headers=api.headers("admin")).text)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
        assert all(canary not in body for body in bodies)
        assert canary not in caplog.text
        with Session(api.db.engine) as session:
            events = session.exec(select(AuditEvent)).all()
        assert events and all(canary not in json.dumps(e.details) for e in events)
        stored = _database_bytes(api.db, tmp_path)
        assert b"v1.k" in stored  # the sealed values are there, so we read the right data
        assert canary.encode() not in stored


def _database_bytes(db: FreshDatabase, tmp_path: Path) -> bytes:
    """Everything the database holds on disk: the SQLite file (and WAL), or a pg_dump."""
    url = make_url(db.url)
    if not ON_POSTGRES:
        path = Path(url.database or "")
        db.engine.dispose()
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    schema = url.query["options"].split("=", 1)[1]  # type: ignore[union-attr]
    done = subprocess.run(
        [
            pg_dump,
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-n",
            schema,
            url.database or "test",
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert b"CREATE TABLE" in done.stdout
    return done.stdout
