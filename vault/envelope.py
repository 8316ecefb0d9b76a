"""Envelope encryption: a fresh 256-bit data key per secret, wrapped by a master key.

Stored form, one line of ASCII (base64url without padding, canonical)::

    v1.<key id>.<wrapped>.<body>     a sealed value
    v1.shredded                      a value whose data key was destroyed

    wrapped = nonce (12) || AES-256-GCM(master key, data key) (32) || tag (16)   60 bytes
    body    = nonce (12) || AES-256-GCM(data key, secret)     (n)  || tag (16)   n + 28 bytes

Both nonces are fresh ``os.urandom(12)``. Associated data binds each part to the caller's
context (sorted-keys compact JSON, UTF-8) and to the format version; the wrapped key is
also bound to its master key id::

    body AD    = b"vault.v1.body." + context
    wrapped AD = b"vault.v1.wrap." + key id + b"." + context
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import DecryptionFailed, KeyRetired, MalformedCiphertext, Shredded
from vault.keyring import KEY_ID_PATTERN, Keyring

__all__ = [
    "FORMAT_VERSION",
    "SHREDDED",
    "Context",
    "Sealed",
    "decrypt",
    "encrypt",
    "rewrap",
    "shred",
]

FORMAT_VERSION: Final = 1
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
DATA_KEY_BYTES: Final = 32
WRAPPED_BYTES: Final = NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES

#: What a value is bound to, e.g. ``{"table": "credential", "row": 42, "field": "password"}``.
Context = Mapping[str, str | int]

_PREFIX: Final = f"v{FORMAT_VERSION}"
_SHREDDED_MARK: Final = "shredded"
_BODY_AD: Final = f"vault.{_PREFIX}.body.".encode("ascii")
_WRAP_AD: Final = f"vault.{_PREFIX}.wrap.".encode("ascii")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_FAILED: Final = (
    "Decryption failed: the value was altered, belongs to another context, "
    "or was sealed under a different key."
)


@dataclass(frozen=True, slots=True, repr=False)
class Sealed:
    """An encrypted value. Store ``dumps()``; read it back with ``Sealed.loads()``."""

    version: int
    key_id: str
    wrapped_key: bytes
    body: bytes

    def __post_init__(self) -> None:
        if self.version != FORMAT_VERSION:
            raise MalformedCiphertext(
                f"Sealed value has unsupported format version {self.version}."
            )
        if not isinstance(self.wrapped_key, bytes) or not isinstance(self.body, bytes):
            raise MalformedCiphertext("Sealed value parts must be bytes.")
        if self.key_id == "" and self.wrapped_key == b"" and self.body == b"":
            return  # the shredded tombstone
        if not isinstance(self.key_id, str) or not KEY_ID_PATTERN.fullmatch(self.key_id):
            raise MalformedCiphertext("Sealed value has an invalid master key id.")
        if len(self.wrapped_key) != WRAPPED_BYTES:
            raise MalformedCiphertext("Sealed value has a wrapped data key of the wrong length.")
        if len(self.body) < NONCE_BYTES + TAG_BYTES:
            raise MalformedCiphertext("Sealed value has a body too short to be genuine.")

    @property
    def is_shredded(self) -> bool:
        return self.key_id == ""

    def dumps(self) -> str:
        """The one stored form: ``v1.<key id>.<wrapped>.<body>`` or ``v1.shredded``."""
        if self.is_shredded:
            return f"{_PREFIX}.{_SHREDDED_MARK}"
        return f"{_PREFIX}.{self.key_id}.{_b64encode(self.wrapped_key)}.{_b64encode(self.body)}"

    @classmethod
    def loads(cls, data: str | bytes) -> Sealed:
        """Parse the stored form strictly; raises :class:`MalformedCiphertext`."""
        if isinstance(data, bytes):
            try:
                text = data.decode("ascii")
            except UnicodeDecodeError:
                raise MalformedCiphertext("Sealed value is not ASCII.") from None
        elif isinstance(data, str):
            text = data
        else:
            raise TypeError("a sealed value must be str or bytes")
        if not text.isascii():
            raise MalformedCiphertext("Sealed value is not ASCII.")
        parts = text.split(".")
        if parts[0] != _PREFIX:
            if re.fullmatch(r"v[0-9]+", parts[0]):
                raise MalformedCiphertext("Sealed value has an unsupported format version.")
            raise MalformedCiphertext("Value is not in the vault's sealed format.")
        if parts == [_PREFIX, _SHREDDED_MARK]:
            return _TOMBSTONE
        if len(parts) != 4:
            raise MalformedCiphertext("Sealed value does not have four dot-separated parts.")
        _, key_id, wrapped, body = parts
        return cls(FORMAT_VERSION, key_id, _b64decode(wrapped), _b64decode(body))

    def __repr__(self) -> str:
        if self.is_shredded:
            return f"Sealed(v{self.version}, shredded)"
        return (
            f"Sealed(v{self.version}, key_id={self.key_id!r}, "
            f"wrapped_key=<{len(self.wrapped_key)} bytes ***>, body=<{len(self.body)} bytes ***>)"
        )


_TOMBSTONE: Final = Sealed(FORMAT_VERSION, "", b"", b"")
#: The stored form of every shredded value, for callers that shred in bulk.
SHREDDED: Final = _TOMBSTONE.dumps()


def encrypt(keyring: Keyring, plaintext: bytes, *, context: Context) -> Sealed:
    """Seal ``plaintext`` under a fresh data key wrapped by the keyring's current key."""
    if not isinstance(plaintext, bytes):
        raise TypeError("plaintext must be bytes; encode text first")
    ctx = _context_bytes(context)
    data_key = os.urandom(DATA_KEY_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    body = nonce + AESGCM(data_key).encrypt(nonce, plaintext, _body_ad(ctx))
    key_id = keyring.current_key_id
    return Sealed(FORMAT_VERSION, key_id, _wrap(keyring, key_id, data_key, ctx), body)


def decrypt(keyring: Keyring, sealed: Sealed | str, *, context: Context) -> bytes:
    """Open a sealed value; ``context`` must equal the one it was sealed with.

    Raises :class:`MalformedCiphertext`, :class:`Shredded`, :class:`UnknownKey`,
    :class:`KeyRetired` or :class:`DecryptionFailed`; never returns unauthenticated bytes.
    """
    value = _coerce(sealed)
    ctx = _context_bytes(context)
    data_key = _unwrap(keyring, value, ctx)
    try:
        return AESGCM(data_key).decrypt(
            value.body[:NONCE_BYTES], value.body[NONCE_BYTES:], _body_ad(ctx)
        )
    except InvalidTag:
        raise DecryptionFailed(_FAILED) from None


def rewrap(keyring: Keyring, sealed: Sealed | str, *, context: Context) -> Sealed:
    """Re-wrap the data key under the current master key; the body is kept byte for byte."""
    value = _coerce(sealed)
    ctx = _context_bytes(context)
    data_key = _unwrap(keyring, value, ctx)
    key_id = keyring.current_key_id
    return Sealed(FORMAT_VERSION, key_id, _wrap(keyring, key_id, data_key, ctx), value.body)


def shred(sealed: Sealed | str) -> Sealed:
    """The tombstone (``v1.shredded``) to store in place of ``sealed``: no key, no body.

    The value is gone once every stored copy of its wrapped key (backups included) is gone.
    """
    _coerce(sealed)
    return _TOMBSTONE


# -- internals ----------------------------------------------------------------------------


def _coerce(sealed: Sealed | str) -> Sealed:
    if isinstance(sealed, Sealed):
        return sealed
    return Sealed.loads(sealed)


def _context_bytes(context: Context) -> bytes:
    if not isinstance(context, Mapping):
        raise TypeError("context must be a mapping of str to str or int")
    if not context:
        raise ValueError("context must name at least one field")
    for name, value in context.items():
        if not isinstance(name, str):
            raise TypeError("context keys must be str")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"context value for {name!r} must be str or int")
    text = json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("context contains a string that is not valid Unicode") from None


def _body_ad(ctx: bytes) -> bytes:
    return _BODY_AD + ctx


def _wrap_ad(key_id: str, ctx: bytes) -> bytes:
    return _WRAP_AD + key_id.encode("ascii") + b"." + ctx


def _wrap(keyring: Keyring, key_id: str, data_key: bytes, ctx: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(keyring.key(key_id)).encrypt(nonce, data_key, _wrap_ad(key_id, ctx))


def _unwrap(keyring: Keyring, sealed: Sealed, ctx: bytes) -> bytes:
    if sealed.is_shredded:
        raise Shredded("This value was shredded; its data key is gone and it cannot be decrypted.")
    master = keyring.key(sealed.key_id)
    if keyring.info(sealed.key_id).retired:
        raise KeyRetired(f"This value is sealed under retired master key {sealed.key_id!r}.")
    wrapped = sealed.wrapped_key
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_ad(sealed.key_id, ctx)
        )
    except InvalidTag:
        raise DecryptionFailed(_FAILED) from None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedCiphertext("Sealed value has a part that is not base64url.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise MalformedCiphertext("Sealed value has a part that is not base64url.") from None
    if _b64encode(raw) != text:
        raise MalformedCiphertext("Sealed value has a part that is not canonical base64url.")
    return raw
