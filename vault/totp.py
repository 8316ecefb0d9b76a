"""RFC 6238 time-based one-time passwords from a base32 seed."""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.hashes import SHA1, SHA256, SHA512
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from vault.errors import InvalidSeed

__all__ = ["STEP_SECONDS", "TotpCode", "decode_seed", "totp_now"]

STEP_SECONDS: Final = 30
MIN_SEED_BYTES: Final = 10  # 80 bits, 16 base32 characters
_ALGORITHMS: Final[dict[str, type[SHA1 | SHA256 | SHA512]]] = {
    "SHA1": SHA1,
    "SHA256": SHA256,
    "SHA512": SHA512,
}
_BASE32 = re.compile(r"[A-Z2-7]+")


@dataclass(frozen=True, slots=True)
class TotpCode:
    """A one-time code and the whole seconds it stays valid (1 to 30)."""

    code: str = field(repr=False)
    seconds_left: int


def decode_seed(seed: str) -> bytes:
    """Decode a base32 seed, ignoring spaces, hyphens, case and missing ``=`` padding.

    Raises :class:`InvalidSeed` (whose message never contains the seed).
    """
    if not isinstance(seed, str):
        raise TypeError("a TOTP seed must be str")
    text = "".join(seed.split()).replace("-", "").upper().rstrip("=")
    if not _BASE32.fullmatch(text):
        raise InvalidSeed("TOTP seed is not base32 (letters A-Z and digits 2-7).")
    if len(text) % 8 in (1, 3, 6):
        raise InvalidSeed("TOTP seed has a length that base32 cannot produce.")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error:
        raise InvalidSeed("TOTP seed is not base32 (letters A-Z and digits 2-7).") from None
    if len(raw) < MIN_SEED_BYTES:
        raise InvalidSeed("TOTP seed is shorter than 80 bits (16 base32 characters).")
    return raw


def totp_now(
    seed: str, *, at: float | None = None, digits: int = 6, algorithm: str = "SHA1"
) -> TotpCode:
    """The TOTP code for ``seed`` at Unix time ``at`` (default: now), 30-second steps."""
    if digits not in (6, 7, 8):
        raise ValueError("digits must be 6, 7 or 8")
    hash_type = _ALGORITHMS.get(algorithm.upper())
    if hash_type is None:
        raise ValueError("algorithm must be SHA1, SHA256 or SHA512")
    now = time.time() if at is None else at
    if not math.isfinite(now) or now < 0:
        raise ValueError("time must be a finite, non-negative Unix time")
    key = decode_seed(seed)
    seconds = int(now)
    otp = TOTP(key, digits, hash_type(), STEP_SECONDS, enforce_key_length=False)
    return TotpCode(
        code=otp.generate(seconds).decode("ascii"),
        seconds_left=STEP_SECONDS - seconds % STEP_SECONDS,
    )
