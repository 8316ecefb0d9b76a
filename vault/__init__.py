"""A small envelope-encryption vault: versioned master keys, per-secret data keys, TOTP.

Imports only the standard library and ``cryptography``. See ``docs/adr/0003-vault.md``.
"""

from vault.envelope import (
    FORMAT_VERSION,
    SHREDDED,
    Context,
    Sealed,
    decrypt,
    encrypt,
    rewrap,
    shred,
)
from vault.errors import (
    DecryptionFailed,
    InvalidSeed,
    KeyRetired,
    KeyringChanged,
    KeyringExists,
    KeyringInvalid,
    KeyringMissing,
    KeyringPermissions,
    MalformedCiphertext,
    Shredded,
    UnknownKey,
    VaultError,
)
from vault.keyring import AnswerKeyInfo, KeyInfo, Keyring
from vault.rotation import keys_in_use, needs_rewrap, rewrap_stale, unused_keys
from vault.secret import Secret
from vault.totp import TotpCode, decode_seed, totp_now

__all__ = [
    "FORMAT_VERSION",
    "SHREDDED",
    "AnswerKeyInfo",
    "Context",
    "DecryptionFailed",
    "InvalidSeed",
    "KeyInfo",
    "KeyRetired",
    "Keyring",
    "KeyringChanged",
    "KeyringExists",
    "KeyringInvalid",
    "KeyringMissing",
    "KeyringPermissions",
    "MalformedCiphertext",
    "Sealed",
    "Secret",
    "Shredded",
    "TotpCode",
    "UnknownKey",
    "VaultError",
    "decode_seed",
    "decrypt",
    "encrypt",
    "keys_in_use",
    "needs_rewrap",
    "rewrap",
    "rewrap_stale",
    "shred",
    "totp_now",
    "unused_keys",
]
