"""Keyring file: creation, loading, validation, permissions, changes, accessors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from vault import (
    Keyring,
    KeyringChanged,
    KeyringExists,
    KeyringInvalid,
    KeyringMissing,
    KeyringPermissions,
    UnknownKey,
    VaultError,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def write_raw(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


class TestCreate:
    def test_creates_a_0600_file_that_loads_back(self, tmp_path: Path) -> None:
        path = tmp_path / "keyring.json"
        created = Keyring.create(path)
        assert mode_of(path) == 0o600
        loaded = Keyring.load(path)
        assert loaded.current_key_id == created.current_key_id == "k1"
        assert loaded.key("k1") == created.key("k1")
        assert len(loaded.key("k1")) == 32
        assert loaded.audit_key == created.audit_key
        assert sorted(os.listdir(tmp_path)) == ["keyring.json"]  # no temporary files left

    def test_file_has_the_documented_shape(self, keyring: Keyring) -> None:
        doc = read_doc(keyring.path)
        assert set(doc) == {"format", "current", "keys", "audit_key", "signing_key", "answer_keys"}
        [answer_key] = doc["answer_keys"]
        assert answer_key["id"] == "s1" and answer_key["retired"] is None
        assert doc["format"] == 1
        assert doc["current"] == "k1"
        [entry] = doc["keys"]
        assert set(entry) == {"id", "created", "key", "retired"}
        assert entry["created"].endswith("Z")
        assert entry["retired"] is False
        assert len(base64.b64decode(doc["signing_key"])) == 32

    def test_is_0600_even_with_a_permissive_umask(self, tmp_path: Path) -> None:
        old = os.umask(0)
        try:
            Keyring.create(tmp_path / "keyring.json")
        finally:
            os.umask(old)
        assert mode_of(tmp_path / "keyring.json") == 0o600

    def test_refuses_to_overwrite(self, keyring: Keyring) -> None:
        before = keyring.path.read_bytes()
        with pytest.raises(KeyringExists, match="already exists"):
            Keyring.create(keyring.path)
        assert keyring.path.read_bytes() == before
        assert sorted(os.listdir(keyring.path.parent)) == [keyring.path.name]

    def test_missing_directory_is_a_vault_error(self, tmp_path: Path) -> None:
        with pytest.raises(VaultError, match="Cannot write keyring file"):
            Keyring.create(tmp_path / "absent" / "keyring.json")

    def test_keys_are_random(self, keyring: Keyring, other_keyring: Keyring) -> None:
        assert keyring.key("k1") != other_keyring.key("k1")
        assert keyring.audit_key != other_keyring.audit_key
        assert keyring.audit_key != keyring.key("k1")


class TestLoadErrors:
    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(KeyringMissing, match="No keyring file"):
            Keyring.load(tmp_path / "nope.json")

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o666])
    def test_group_or_other_access(self, keyring: Keyring, mode: int) -> None:
        keyring.path.chmod(mode)
        with pytest.raises(KeyringPermissions, match="chmod 600"):
            Keyring.load(keyring.path)

    def test_owner_only_modes_are_fine(self, keyring: Keyring) -> None:
        keyring.path.chmod(0o400)
        assert Keyring.load(keyring.path).current_key_id == "k1"

    def test_directory(self, tmp_path: Path) -> None:
        (tmp_path / "dir").mkdir(mode=0o700)
        with pytest.raises(KeyringInvalid, match="not a regular file"):
            Keyring.load(tmp_path / "dir")

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("file/keyring.json", "not a directory"),  # a path through a regular file
            ("loop", "too many levels of symbolic links"),
            ("k" * 300, "file name too long"),
        ],
    )
    def test_paths_that_cannot_be_opened(self, tmp_path: Path, name: str, reason: str) -> None:
        (tmp_path / "file").write_text("x")
        (tmp_path / "loop").symlink_to("loop")
        with pytest.raises(KeyringInvalid) as caught:
            Keyring.load(tmp_path / name)
        assert str(caught.value) == f"Cannot read keyring file {tmp_path / name}: {reason}."

    @pytest.mark.parametrize("text", ["", "not json", "{", "[]", "null", '"x"', "\udcff"], ids=repr)
    def test_not_a_keyring_document(self, tmp_path: Path, text: str) -> None:
        path = tmp_path / "keyring.json"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        path.chmod(0o600)
        with pytest.raises(KeyringInvalid):
            Keyring.load(path)

    @staticmethod
    def _short_key(doc: dict[str, Any]) -> None:
        doc["keys"][0]["key"] = base64.b64encode(bytes(16)).decode()

    @pytest.mark.parametrize(
        ("mutate", "reason"),
        [
            (lambda d: d.update(format=2), "unsupported format"),
            (lambda d: d.update(format=True), "unsupported format"),
            (lambda d: d.pop("audit_key"), "lacks audit_key"),
            (lambda d: d.update(extra=1), "unknown field"),
            (lambda d: d.update(keys=[]), "non-empty list"),
            (lambda d: d.update(keys={}), "non-empty list"),
            (lambda d: d.update(current="k9"), "'current'"),
            (lambda d: d.update(current=1), "'current'"),
            (lambda d: d["keys"][0].update(key="not base64!"), "not 32 bytes"),
            (_short_key, "not 32 bytes"),
            (lambda d: d["keys"][0].update(id="k.1"), "invalid id"),
            (lambda d: d["keys"][0].update(id=""), "invalid id"),
            (lambda d: d["keys"][0].update(retired="no"), "non-boolean"),
            (lambda d: d["keys"][0].update(retired=True), "is retired"),
            (lambda d: d["keys"][0].update(created="yesterday"), "ISO 8601"),
            (lambda d: d["keys"][0].update(created="2025-01-01T00:00:00"), "ISO 8601"),
            (lambda d: d["keys"].append(dict(d["keys"][0])), "appears twice"),
            (lambda d: d["keys"][0].pop("created"), "lacks created"),
            (lambda d: d.update(signing_key="AAAA"), "'signing_key'"),
            (lambda d: d.update(audit_key=None), "'audit_key'"),
        ],
    )
    def test_wrong_shape(
        self, keyring: Keyring, mutate: Callable[[dict[str, Any]], object], reason: str
    ) -> None:
        doc = read_doc(keyring.path)
        secrets = [doc["keys"][0]["key"], doc["audit_key"], doc["signing_key"]]
        mutate(doc)
        write_raw(keyring.path, json.dumps(doc))
        with pytest.raises(KeyringInvalid, match=reason) as caught:
            Keyring.load(keyring.path)
        for secret in secrets:
            assert secret not in str(caught.value)

    def test_duplicate_json_field(self, keyring: Keyring) -> None:
        text = keyring.path.read_text(encoding="utf-8")
        write_raw(keyring.path, text.replace('"format": 1,', '"format": 1, "format": 1,'))
        with pytest.raises(KeyringInvalid, match="appears twice"):
            Keyring.load(keyring.path)


class TestChanges:
    def test_add_key_becomes_current_and_is_saved(self, keyring: Keyring) -> None:
        first = keyring.key("k1")
        info = keyring.add_key()
        assert info.id == keyring.current_key_id == "k2"
        assert mode_of(keyring.path) == 0o600
        reloaded = Keyring.load(keyring.path)
        assert reloaded.current_key_id == "k2"
        assert [k.id for k in reloaded.keys] == ["k1", "k2"]
        assert reloaded.key("k1") == first
        assert reloaded.key("k2") == keyring.key("k2") != first
        assert reloaded.audit_key == keyring.audit_key
        leftovers = set(os.listdir(keyring.path.parent)) - {"keyring.json", "keyring.json.lock"}
        assert not leftovers

    def test_retire(self, keyring: Keyring) -> None:
        keyring.add_key()
        keyring.retire("k1")
        keyring.retire("k1")  # idempotent
        reloaded = Keyring.load(keyring.path)
        assert reloaded.info("k1").retired
        assert not reloaded.info("k2").retired
        assert reloaded.key("k1") == keyring.key("k1")  # bytes kept so a mistake can be undone

    def test_cannot_retire_current_key(self, keyring: Keyring) -> None:
        with pytest.raises(VaultError, match="current key"):
            keyring.retire("k1")

    def test_retire_unknown(self, keyring: Keyring) -> None:
        with pytest.raises(UnknownKey):
            keyring.retire("k7")

    def test_refuses_to_overwrite_a_file_changed_by_someone_else(self, keyring: Keyring) -> None:
        stale = Keyring.load(keyring.path)
        keyring.add_key()
        with pytest.raises(KeyringChanged):
            stale.add_key()
        assert Keyring.load(keyring.path).key("k2") == keyring.key("k2")

    def test_unknown_key(self, keyring: Keyring) -> None:
        with pytest.raises(UnknownKey, match="'k2'"):
            keyring.key("k2")
        with pytest.raises(UnknownKey):
            keyring.info("k2")


class TestOtherKeys:
    def test_audit_key(self, keyring: Keyring) -> None:
        assert len(keyring.audit_key) == 32

    def test_signing_key_pairs_with_verify_key(self, keyring: Keyring) -> None:
        signature = keyring.signing_key.sign(b"message")
        reloaded = Keyring.load(keyring.path)
        reloaded.verify_key.verify(signature, b"message")
        with pytest.raises(InvalidSignature):
            reloaded.verify_key.verify(signature, b"messagf")


class TestAnswerKeys:
    def test_rotation_retires_the_old_key_and_keeps_it_until_dropped(
        self, keyring: Keyring
    ) -> None:
        first = keyring.answer_keys[0]
        signing = keyring.answer_signing_key()
        assert signing is not None and signing[0] == first.id
        new = keyring.rotate_answer_key()
        again = Keyring.load(keyring.path)
        assert [k.id for k in again.answer_keys] == [first.id, new.id]
        assert again.answer_keys[0].retired is not None and again.answer_keys[1].retired is None
        current = again.answer_signing_key()
        assert current is not None and current[0] == new.id
        retired = again.answer_keys[0].retired
        assert retired is not None
        assert again.drop_answer_keys(retired) == []
        assert again.drop_answer_keys(retired + dt.timedelta(seconds=1)) == [first.id]
        assert [k.id for k in Keyring.load(keyring.path).answer_keys] == [new.id]

    def test_a_keyring_written_before_answer_keys_loads_without_any(self, keyring: Keyring) -> None:
        doc = read_doc(keyring.path)
        del doc["answer_keys"]
        keyring.path.write_text(json.dumps(doc))
        old = Keyring.load(keyring.path)
        assert old.answer_keys == () and old.answer_signing_key() is None
        old.rotate_answer_key()
        assert Keyring.load(keyring.path).answer_signing_key() is not None

    def test_a_malformed_answer_key_is_refused_without_its_bytes(self, keyring: Keyring) -> None:
        doc = read_doc(keyring.path)
        doc["answer_keys"][0]["key"] = "c2VjcmV0"
        keyring.path.write_text(json.dumps(doc))
        with pytest.raises(KeyringInvalid, match="answer key 's1'") as raised:
            Keyring.load(keyring.path)
        assert "c2VjcmV0" not in str(raised.value)

    def test_repr_shows_no_key_bytes(self, keyring: Keyring) -> None:
        material = read_doc(keyring.path)["answer_keys"][0]["key"]
        assert material not in repr(keyring) and material not in repr(keyring.answer_keys)
