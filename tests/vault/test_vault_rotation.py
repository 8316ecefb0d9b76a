"""Rotation: rewrap under the current key, resumable, retire only when unused; shredding."""

from __future__ import annotations

from collections import Counter

import pytest

from vault import (
    DecryptionFailed,
    KeyRetired,
    Keyring,
    Sealed,
    Shredded,
    decrypt,
    encrypt,
    keys_in_use,
    needs_rewrap,
    rewrap,
    rewrap_stale,
    shred,
    unused_keys,
)


def context(row: int) -> dict[str, str | int]:
    return {"table": "credential", "row": row, "field": "password"}


def plaintext(row: int) -> bytes:
    return f"secret number {row}".encode()


class TestRewrap:
    def test_rewrap_keeps_body_and_moves_to_current_key(self, keyring: Keyring) -> None:
        old = encrypt(keyring, b"secret", context=context(1))
        keyring.add_key()
        assert needs_rewrap(keyring, old)
        new = rewrap(keyring, old, context=context(1))
        assert new.key_id == "k2"
        assert new.body == old.body
        assert new.dumps().split(".")[3] == old.dumps().split(".")[3]
        assert new.wrapped_key != old.wrapped_key
        assert not needs_rewrap(keyring, new)
        assert decrypt(keyring, new, context=context(1)) == b"secret"
        assert decrypt(Keyring.load(keyring.path), new, context=context(1)) == b"secret"

    def test_rewrap_needs_the_right_context(self, keyring: Keyring) -> None:
        old = encrypt(keyring, b"secret", context=context(1))
        keyring.add_key()
        with pytest.raises(DecryptionFailed):
            rewrap(keyring, old, context=context(2))

    def test_interrupted_rotation_still_decrypts_everything(self, keyring: Keyring) -> None:
        rows = {row: encrypt(keyring, plaintext(row), context=context(row)) for row in range(20)}
        keyring.add_key()
        # A first run stops halfway through.
        for row in range(10):
            rows[row] = rewrap(keyring, rows[row], context=context(row))
        keyring = Keyring.load(keyring.path)  # as after a restart
        for row, sealed in rows.items():
            assert decrypt(keyring, sealed.dumps(), context=context(row)) == plaintext(row)
        assert keys_in_use(rows.values()) == Counter({"k1": 10, "k2": 10})
        assert unused_keys(keyring, rows.values()) == []
        # The rerun only touches what is left.
        before = dict(rows)
        items = ((row, sealed, context(row)) for row, sealed in rows.items())
        done = dict(rewrap_stale(keyring, items))
        assert sorted(done) == list(range(10, 20))
        rows.update(done)
        assert all(rows[row] is before[row] for row in range(10))
        assert keys_in_use(rows.values()) == Counter({"k2": 20})
        assert unused_keys(keyring, rows.values()) == ["k1"]
        keyring.retire("k1")
        for row, sealed in rows.items():
            assert decrypt(keyring, sealed, context=context(row)) == plaintext(row)
        # A stale copy under the retired key is refused, not silently used.
        with pytest.raises(KeyRetired):
            decrypt(keyring, before[15], context=context(15))
        assert unused_keys(keyring, rows.values()) == []

    def test_keys_in_use_accepts_stored_strings(self, keyring: Keyring) -> None:
        values = [encrypt(keyring, b"x", context=context(i)).dumps() for i in range(3)]
        assert keys_in_use(values) == Counter({"k1": 3})


class TestShred:
    def test_shredded_value_raises_shredded(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"secret", context=context(1))
        tombstone = shred(sealed)
        assert tombstone.is_shredded
        assert tombstone.dumps() == "v1.shredded"
        for value in (tombstone, tombstone.dumps(), Sealed.loads("v1.shredded")):
            with pytest.raises(Shredded):
                decrypt(keyring, value, context=context(1))
        with pytest.raises(Shredded):
            rewrap(keyring, tombstone, context=context(1))

    def test_shredded_values_hold_nothing(self, keyring: Keyring) -> None:
        tombstone = shred(encrypt(keyring, b"secret", context=context(1)).dumps())
        assert tombstone.wrapped_key == b""
        assert tombstone.body == b""

    def test_shredded_values_use_no_key(self, keyring: Keyring) -> None:
        values = [shred(encrypt(keyring, b"x", context=context(1)))]
        keyring.add_key()
        assert not needs_rewrap(keyring, values[0])
        assert keys_in_use(values) == Counter()
        assert unused_keys(keyring, values) == ["k1"]
        assert list(rewrap_stale(keyring, [(1, values[0], context(1))])) == []
