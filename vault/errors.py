"""Errors raised by the vault. Each carries one clear sentence and never any key or secret."""

from __future__ import annotations


class VaultError(Exception):
    """Base class for every error the vault raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyringMissing(VaultError):
    """The keyring file does not exist."""


class KeyringExists(VaultError):
    """A new keyring was requested at a path that already holds a file."""


class KeyringPermissions(VaultError):
    """The keyring file is readable or writable by its group or by others."""


class KeyringInvalid(VaultError):
    """The keyring file is not valid JSON, has the wrong shape, or holds a bad key."""


class KeyringChanged(VaultError):
    """The keyring file changed on disk after it was loaded; reload it and retry."""


class UnknownKey(VaultError):
    """A value names a master key id that is not in the keyring."""


class KeyRetired(VaultError):
    """A value names a master key that has been retired and may no longer be used."""


class MalformedCiphertext(VaultError):
    """A serialised value does not follow the stored format."""


class DecryptionFailed(VaultError):
    """Authentication failed: altered data, another context, or the wrong key."""


class Shredded(VaultError):
    """The value's data key was destroyed; it can never be decrypted again."""


class InvalidSeed(VaultError):
    """A TOTP seed is not valid base32 or is shorter than 80 bits."""
