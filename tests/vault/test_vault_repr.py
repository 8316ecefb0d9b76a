"""Nothing that holds a key or a plaintext shows it in ``repr``, ``str`` or error messages."""

from __future__ import annotations

import base64

import pytest

from vault import (
    Context,
    DecryptionFailed,
    Keyring,
    Sealed,
    Secret,
    VaultError,
    decrypt,
    encrypt,
    shred,
)

CANARY = b"CANARY-3f9c1d-do-not-print"
CONTEXT: Context = {"table": "t", "row": 1}


def forms(raw: bytes) -> list[str]:
    """Ways key bytes could leak into text."""
    return [
        raw.hex(),
        repr(raw),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(raw).decode()[:20],
    ]


def test_keyring_repr_shows_ids_only(keyring: Keyring) -> None:
    keyring.add_key()
    keyring.retire("k1")
    text = repr(keyring) + str(keyring)
    assert "k1 (retired)" in text and "k2" in text and "***" in text
    secrets = [keyring.key("k1"), keyring.key("k2"), keyring.audit_key]
    secrets.append(keyring.signing_key.private_bytes_raw())
    for secret in secrets:
        for form in forms(secret):
            assert form not in text


def test_sealed_repr_hides_bytes(keyring: Keyring) -> None:
    sealed = encrypt(keyring, CANARY, context=CONTEXT)
    text = repr(sealed) + str(sealed) + f"{sealed}"
    assert "key_id='k1'" in text
    assert CANARY.decode() not in text
    for part in (sealed.wrapped_key, sealed.body):
        for form in forms(part):
            assert form not in text
    assert repr(shred(sealed)) == "Sealed(v1, shredded)"


def test_stored_form_does_not_contain_plaintext(keyring: Keyring) -> None:
    text = encrypt(keyring, CANARY, context=CONTEXT).dumps()
    assert CANARY.decode() not in text
    for form in forms(CANARY):
        assert form not in text


def test_secret_hides_bytes() -> None:
    secret = Secret(CANARY)
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert repr([secret]) == "[***]"
    assert secret.reveal() is CANARY
    assert secret == Secret(CANARY)
    assert secret != Secret(CANARY[:-1])


def test_secret_hides_text() -> None:
    text = CANARY.decode()
    secret = Secret(text)
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert secret.reveal() is text
    assert secret == Secret(text)
    assert secret != Secret("pässwörd")


def test_secret_values_of_different_types_are_not_equal() -> None:
    assert Secret(b"x") != Secret("x")


def test_errors_do_not_contain_plaintext_or_keys(keyring: Keyring, other_keyring: Keyring) -> None:
    sealed = encrypt(keyring, CANARY, context=CONTEXT)
    with pytest.raises(DecryptionFailed) as caught:
        decrypt(other_keyring, sealed, context=CONTEXT)
    message = str(caught.value)
    assert CANARY.decode() not in message
    for secret in (keyring.key("k1"), other_keyring.key("k1")):
        for form in forms(secret):
            assert form not in message
    assert message.endswith(".")
    assert isinstance(caught.value, VaultError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_malformed_error_does_not_echo_input() -> None:
    with pytest.raises(VaultError) as caught:
        Sealed.loads("v1.k1.CANARYCANARY.CANARYCANARY")
    assert "CANARY" not in str(caught.value)
