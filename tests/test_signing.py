"""Signed public answers, checked the way a third party checks them: the key from
/.well-known/jwks.json and plain ``cryptography`` Ed25519, not the code under test."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, select

from registry.models import Account, AccountRename, AuditEvent, utcnow
from registry.services import signing
from tests.conftest import Api, Cli, FreshDatabase
from tests.factories import World

JOSE = {"Accept": "application/jose"}
QUESTION = {"platform": "facebook", "handle": "ManitobaAg"}


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """An independent check of a compact JWS: the header's kid picks the published key, and
    cryptography's Ed25519 checks the signature over ``header.payload``. The payload."""
    header_part, payload_part, signature_part = token.split(".")
    header = json.loads(b64url(header_part))
    assert header["alg"] == "EdDSA"
    [jwk] = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    public = Ed25519PublicKey.from_public_bytes(b64url(jwk["x"]))
    public.verify(b64url(signature_part), f"{header_part}.{payload_part}".encode("ascii"))
    payload: dict[str, Any] = json.loads(b64url(payload_part))
    return payload


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(b64url(payload))
    claims["official"] = not claims.get("official", False)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def add_account(api: Api, handle: str = "ManitobaAg") -> int:
    with api.db.scope() as session:
        world = World.load(session, api.db.settings())
        return world.account(handle).id or 0


class TestSignedVerify:
    def test_a_signed_answer_checks_with_the_published_key(self, api: Api) -> None:
        add_account(api)
        jwks = api.client.get("/.well-known/jwks.json").json()
        plain = api.client.get("/verify", params=QUESTION).json()
        answer = api.client.get("/verify", params=QUESTION, headers=JOSE)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/jose")
        assert "Accept" in answer.headers["vary"]
        claims = check(answer.text, jwks)
        assert claims["official"] is True
        assert {k: v for k, v in claims.items() if k not in ("iat", "exp")} == plain
        assert claims["exp"] - claims["iat"] == int(signing.VERIFY_VALID_FOR.total_seconds())

    def test_a_tampered_answer_or_signature_is_refused(self, api: Api) -> None:
        jwks = api.client.get("/.well-known/jwks.json").json()
        token = api.client.get("/verify", params=QUESTION, headers=JOSE).text
        with pytest.raises(InvalidSignature):
            check(tampered(token), jwks)
        header, payload, signature = token.split(".")
        flipped = bytearray(b64url(signature))
        flipped[0] ^= 1
        forged = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(InvalidSignature):
            check(f"{header}.{payload}.{forged}", jwks)

    @pytest.mark.parametrize(
        ("accept", "signed"),
        [
            (None, False),
            ("*/*", False),
            ("application/json", False),
            ("application/jose", True),
            ("application/json;q=0.5, application/jose", True),
            ("application/jose;q=0", False),
        ],
    )
    def test_plain_json_stays_the_default(self, api: Api, accept: str | None, signed: bool) -> None:
        headers = {"Accept": accept} if accept else {}
        answer = api.client.get("/verify", params=QUESTION, headers=headers)
        assert answer.headers["content-type"].startswith(
            "application/jose" if signed else "application/json"
        )

    def test_refusals_stay_plain_json(self, api: Api) -> None:
        refused = api.client.get(
            "/verify", params={"platform": "nope", "handle": "x"}, headers=JOSE
        )
        assert refused.status_code == 422 and "Unknown platform" in refused.json()["detail"]


class TestRotation:
    def test_old_answers_stay_checkable_until_their_signatures_expire(self, api: Api) -> None:
        before = api.client.get("/verify", params=QUESTION, headers=JOSE).text
        keyring = api.db.keyring()
        old_kid = json.loads(b64url(before.split(".")[0]))["kid"]
        new_kid, dropped = signing.rotate(keyring, now=utcnow())
        assert dropped == [] and new_kid != old_kid
        jwks = api.client.get("/.well-known/jwks.json").json()
        assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
        assert check(before, jwks)["official"] is False
        after = api.client.get("/verify", params=QUESTION, headers=JOSE).text
        assert json.loads(b64url(after.split(".")[0]))["kid"] == new_kid
        check(after, jwks)
        # Once everything the old key signed has expired, it is no longer published...
        later = utcnow() + signing.PUBLISHED_FOR + dt.timedelta(minutes=1)
        assert [key["kid"] for key in signing.jwks(keyring, now=later)["keys"]] == [new_kid]
        # ...and the next rotation drops it from the keyring.
        third, dropped = signing.rotate(keyring, now=later)
        assert len(dropped) == 1 and third not in (old_kid, new_kid)

    def test_a_keyring_without_an_answer_key_says_what_to_run(self, api: Api) -> None:
        path = api.db.keyring_path
        doc = json.loads(path.read_text())
        del doc["answer_keys"]
        path.write_text(json.dumps(doc))
        assert api.client.get("/.well-known/jwks.json").json() == {"keys": []}
        refused = api.client.get("/verify", params=QUESTION, headers=JOSE)
        assert refused.status_code == 503
        assert "registry vault rotate-signing-key" in refused.json()["detail"]
        assert api.client.get("/verify", params=QUESTION).status_code == 200
        feed = api.client.get("/directory.json", headers=JOSE)
        assert feed.status_code == 503
        assert "registry vault rotate-signing-key" in feed.json()["detail"]
        assert api.client.get("/directory.json").status_code == 200

    def test_the_command_is_for_administrators_and_audited(self, cli: Cli) -> None:
        cli.ok("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        cli.ok(
            "people",
            "add",
            "ced@gov.mb.ca",
            "--name",
            "C",
            "--department",
            "CED",
            "--role",
            "ced",
            "--as",
            "admin@gov.mb.ca",
        )
        refusal = cli.refused("vault", "rotate-signing-key", "--as", "ced@gov.mb.ca")
        assert "admin role" in refusal
        result = cli.json("vault", "rotate-signing-key", "--as", "admin@gov.mb.ca")
        assert result["kid"] and result["dropped"] == []
        cli.ok("audit", "verify", "--as", "admin@gov.mb.ca")


class TestFeed:
    def test_etag_and_last_modified_give_304_until_something_changes(self, api: Api) -> None:
        add_account(api)
        first = api.client.get("/directory.json")
        assert first.status_code == 200 and first.headers["etag"]
        body = first.json()
        [entry] = body["accounts"]
        assert entry["handle"] == "ManitobaAg" and entry["department"] == "Agriculture"
        assert set(entry) >= {
            "platform",
            "platform_id",
            "url",
            "display_name",
            "category",
            "language",
            "twin",
            "since",
        }
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = api.client.get("/directory.json", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        since = api.client.get("/directory.json", headers={"If-Modified-Since": modified})
        assert since.status_code == 304
        add_account(api, "ManitobaHealth")
        changed = api.client.get("/directory.json", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert len(changed.json()["accounts"]) == 2

    @pytest.mark.parametrize(
        "since",
        [
            "yesterday",
            "Mon, 01 Jan 2000 00:00:00",
            "Mon, 01 Jan 99999 00:00:00 GMT",
            "Mon, 01 Jan 2000 00:00:00 +99999999999",
            "",
        ],
    )
    def test_a_malformed_if_modified_since_gets_the_document(self, api: Api, since: str) -> None:
        add_account(api)
        answer = api.client.get("/directory.json", headers={"If-Modified-Since": since})
        assert answer.status_code == 200 and answer.json()["accounts"]

    def test_decommissioned_and_renamed_accounts_are_listed_with_when(self, api: Api) -> None:
        account_id = add_account(api, "NewName")
        gone_id = add_account(api, "GonePage")
        with api.db.scope() as session:
            gone = session.get(Account, gone_id)
            assert gone is not None
            gone.status, gone.decommissioned_at = "decommissioned", utcnow()
            session.add(gone)
            ced = World.load(session, api.db.settings()).people["ced1"]
            session.add(
                AccountRename(
                    account_id=account_id,
                    platform="facebook",
                    old_handle="OldName",
                    old_handle_normalized="oldname",
                    old_url="https://www.facebook.com/OldName",
                    new_handle="NewName",
                    new_url="https://www.facebook.com/NewName",
                    renamed_at=utcnow(),
                    renamed_by_id=ced.id or 0,
                )
            )
        body = api.client.get("/directory.json").json()
        assert [a["handle"] for a in body["accounts"]] == ["NewName"]
        assert [w["handle"] for w in body["withdrawn"]] == ["GonePage"]
        assert body["withdrawn"][0]["decommissioned_at"].endswith("Z")
        assert [(r["old_handle"], r["new_handle"]) for r in body["renamed"]] == [
            ("OldName", "NewName")
        ]

    def test_the_signed_feed_checks_and_has_its_own_etag(self, api: Api) -> None:
        add_account(api)
        jwks = api.client.get("/.well-known/jwks.json").json()
        plain = api.client.get("/directory.json")
        signed = api.client.get("/directory.json", headers=JOSE)
        assert signed.headers["content-type"].startswith("application/jose")
        assert signed.headers["etag"] != plain.headers["etag"]
        claims = check(signed.text, jwks)
        assert claims["accounts"] == plain.json()["accounts"]
        assert claims["exp"] - claims["iat"] == int(signing.FEED_VALID_FOR.total_seconds())
        again = api.client.get(
            "/directory.json", headers={**JOSE, "If-None-Match": signed.headers["etag"]}
        )
        assert again.status_code == 304


class TestExport:
    def test_the_exported_file_checks_with_the_published_keys(
        self, cli: Cli, fresh_db: FreshDatabase, tmp_path: Any
    ) -> None:
        cli.ok("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        target = tmp_path / "directory.jws"
        result = cli.json("export", "--signed", str(target), "--as", "admin@gov.mb.ca")
        assert result["accounts"] == 0 and result["signed"] is True
        jwks = signing.jwks(fresh_db.keyring(), now=utcnow())
        claims = check(target.read_text(), jwks)
        assert claims["accounts"] == [] and target.stat().st_mode & 0o777 == 0o644
        with Session(fresh_db.engine) as session:
            actions = list(session.exec(select(AuditEvent.action)))
        assert "directory.exported" in actions
        cli.ok("audit", "verify", "--as", "admin@gov.mb.ca")

    def test_refusals_are_one_sentence(self, cli: Cli, tmp_path: Any) -> None:
        cli.ok("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        missing = cli.refused(
            "export", "--signed", str(tmp_path / "no" / "f"), "--as", "admin@gov.mb.ca"
        )
        assert "does not exist" in missing
        both = cli.refused("export", "--as", "admin@gov.mb.ca")
        assert "Give one file" in both
        assert not (tmp_path / "no").exists()
