"""Envelope encryption: round trips, tamper detection, context binding, nonces, parsing."""

from __future__ import annotations

import base64
import math
from dataclasses import replace

import pytest

from vault import (
    Context,
    DecryptionFailed,
    Keyring,
    MalformedCiphertext,
    Sealed,
    UnknownKey,
    VaultError,
    decrypt,
    encrypt,
)

CONTEXT: Context = {"table": "credential", "row": 42, "field": "password"}


class TestRoundTrip:
    @pytest.mark.parametrize(
        "plaintext", [b"", b"x", b"hunter2", "pässwörd ✓".encode(), bytes(4096)]
    )
    def test_decrypt_returns_plaintext(self, keyring: Keyring, plaintext: bytes) -> None:
        sealed = encrypt(keyring, plaintext, context=CONTEXT)
        assert decrypt(keyring, sealed, context=CONTEXT) == plaintext
        assert decrypt(keyring, sealed.dumps(), context=CONTEXT) == plaintext

    def test_context_key_order_does_not_matter(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"s", context={"a": 1, "b": "x"})
        assert decrypt(keyring, sealed, context={"b": "x", "a": 1}) == b"s"

    def test_layout(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"abc", context=CONTEXT)
        assert sealed.version == 1
        assert sealed.key_id == keyring.current_key_id
        assert len(sealed.wrapped_key) == 12 + 32 + 16
        assert len(sealed.body) == 12 + 3 + 16
        text = sealed.dumps()
        assert len(text) == 85 + len("k1") + math.ceil(4 * (3 + 28) / 3)  # as in the ADR
        version, key_id, wrapped, body = text.split(".")
        assert (version, key_id) == ("v1", "k1")
        assert base64.urlsafe_b64decode(wrapped + "==") == sealed.wrapped_key
        assert base64.urlsafe_b64decode(body + "==") == sealed.body

    def test_text_plaintext_is_refused(self, keyring: Keyring) -> None:
        with pytest.raises(TypeError):
            encrypt(keyring, "text", context=CONTEXT)  # type: ignore[arg-type]


class TestTampering:
    def test_every_single_byte_flip_of_stored_form_fails(self, keyring: Keyring) -> None:
        keyring.add_key()  # both k1 and k2 exist, so some flipped ids name a real key
        text = encrypt(keyring, b"canary7", context=CONTEXT).dumps().encode("ascii")
        assert len(text) % 4 != 0  # the body's last base64 character has spare bits
        for position in range(len(text)):
            for bit in range(8):
                tampered = bytearray(text)
                tampered[position] ^= 1 << bit
                with pytest.raises(VaultError):
                    decrypt(keyring, Sealed.loads(bytes(tampered)), context=CONTEXT)

    def test_every_single_byte_flip_of_binary_parts_fails(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"canary7", context=CONTEXT)
        for field in ("wrapped_key", "body"):
            original: bytes = getattr(sealed, field)
            for position in range(len(original)):
                tampered = bytearray(original)
                tampered[position] ^= 0x01
                if field == "body":
                    bad = replace(sealed, body=bytes(tampered))
                else:
                    bad = replace(sealed, wrapped_key=bytes(tampered))
                with pytest.raises(DecryptionFailed):
                    decrypt(keyring, bad, context=CONTEXT)

    def test_relabelled_with_another_existing_key_id_fails(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"s", context=CONTEXT)
        keyring.add_key()
        with pytest.raises(DecryptionFailed):
            decrypt(keyring, replace(sealed, key_id="k2"), context=CONTEXT)

    def test_truncated_and_extended_forms_fail(self, keyring: Keyring) -> None:
        text = encrypt(keyring, b"secret", context=CONTEXT).dumps()
        for bad in (text[:-1], text[:-4], text + "A", text + "AAAA", text + ".", " " + text):
            with pytest.raises(VaultError):
                decrypt(keyring, bad, context=CONTEXT)

    def test_bodies_swapped_between_values_fail(self, keyring: Keyring) -> None:
        a = encrypt(keyring, b"first", context=CONTEXT)
        b = encrypt(keyring, b"other", context=CONTEXT)
        with pytest.raises(DecryptionFailed):
            decrypt(keyring, replace(a, body=b.body), context=CONTEXT)

    def test_wrong_keyring_fails(self, keyring: Keyring, other_keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"secret", context=CONTEXT)
        assert other_keyring.current_key_id == sealed.key_id  # same id, different bytes
        with pytest.raises(DecryptionFailed) as caught:
            decrypt(other_keyring, sealed, context=CONTEXT)
        assert "secret" not in str(caught.value)

    def test_unknown_key_id(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"secret", context=CONTEXT)
        with pytest.raises(UnknownKey, match="'k9'"):
            decrypt(keyring, replace(sealed, key_id="k9"), context=CONTEXT)


class TestContextBinding:
    @pytest.mark.parametrize(
        "other",
        [
            {**CONTEXT, "row": 43},
            {**CONTEXT, "field": "totp_seed"},
            {**CONTEXT, "table": "other"},
            {**CONTEXT, "row": "42"},
            {**CONTEXT, "extra": 1},
            {"table": "credential", "row": 42},
        ],
        ids=["other-row", "other-field", "other-table", "str-vs-int", "extra-key", "missing-key"],
    )
    def test_other_context_fails(self, keyring: Keyring, other: dict[str, str | int]) -> None:
        sealed = encrypt(keyring, b"secret", context=CONTEXT)
        with pytest.raises(DecryptionFailed):
            decrypt(keyring, sealed, context=other)

    def test_wrapped_key_moved_to_another_context_fails(self, keyring: Keyring) -> None:
        here = encrypt(keyring, b"secret", context=CONTEXT)
        there_context = {**CONTEXT, "row": 43}
        there = encrypt(keyring, b"decoy", context=there_context)
        # The body of ``there`` with the wrapped key of ``here``, read in either context.
        moved = replace(there, wrapped_key=here.wrapped_key)
        for context in (CONTEXT, there_context):
            with pytest.raises(DecryptionFailed):
                decrypt(keyring, moved, context=context)

    @pytest.mark.parametrize(
        "bad", [{}, {"a": True}, {"a": 1.5}, {"a": None}, {1: "x"}, {"a": b"x"}]
    )
    def test_invalid_context_is_refused(self, keyring: Keyring, bad: object) -> None:
        with pytest.raises((TypeError, ValueError)):
            encrypt(keyring, b"s", context=bad)  # type: ignore[arg-type]


class TestFreshness:
    def test_ten_thousand_encryptions_use_distinct_nonces(self, keyring: Keyring) -> None:
        values = [encrypt(keyring, b"same value", context=CONTEXT) for _ in range(10_000)]
        assert len({v.body[:12] for v in values}) == 10_000
        assert len({v.wrapped_key[:12] for v in values}) == 10_000
        assert len({v.body[12:] for v in values}) == 10_000
        assert len({v.wrapped_key[12:] for v in values}) == 10_000
        assert len({v.dumps() for v in values}) == 10_000


class TestParsing:
    @pytest.mark.parametrize(
        "text",
        [
            "",
            "v1",
            "v1.",
            "v1.k1",
            "v1.k1..",
            "v2.k1.AAAA.AAAA",
            "V1.k1.AAAA.AAAA",
            "x.k1.AAAA.AAAA",
            "v1.k1.AAAA.AAAA.AAAA",
            "v1.k 1.AAAA.AAAA",
            "v1.k1.AA+A.AAAA",
            "v1.k1.AA=A.AAAA",
            "v1.SHREDDED",
            "v1.shredded.",
            "v1.é.AAAA.AAAA",
        ],
    )
    def test_malformed(self, text: str) -> None:
        with pytest.raises(MalformedCiphertext):
            Sealed.loads(text)

    def test_wrong_part_lengths(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"s", context=CONTEXT)
        with pytest.raises(MalformedCiphertext):
            replace(sealed, wrapped_key=sealed.wrapped_key[:-1])
        with pytest.raises(MalformedCiphertext):
            replace(sealed, body=sealed.body[:27])
        with pytest.raises(MalformedCiphertext):
            replace(sealed, version=2)

    def test_non_canonical_base64_is_refused(self, keyring: Keyring) -> None:
        text = encrypt(keyring, b"canary7", context=CONTEXT).dumps()  # body of 35 bytes
        last = text[-1]
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        # 35 bytes end in a 2-byte group: the last character carries 2 unused bits.
        index = alphabet.index(last)
        for spare in (1, 2, 3):
            twin = text[:-1] + alphabet[index ^ spare]
            with pytest.raises(MalformedCiphertext):
                Sealed.loads(twin)

    def test_bytes_and_str_forms_agree(self, keyring: Keyring) -> None:
        sealed = encrypt(keyring, b"s", context=CONTEXT)
        assert Sealed.loads(sealed.dumps()) == sealed
        assert Sealed.loads(sealed.dumps().encode("ascii")) == sealed
