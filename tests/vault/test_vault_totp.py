"""RFC 6238 TOTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest

from vault import InvalidSeed, TotpCode, decode_seed, totp_now

# RFC 6238 Appendix B: the seeds are ASCII digits, 20/32/64 bytes long.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
APPENDIX_B = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
VECTORS = [
    (at, algorithm, code)
    for at, *codes in APPENDIX_B
    for algorithm, code in zip(("SHA1", "SHA256", "SHA512"), codes, strict=True)
]


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii")


def reference_totp(key: bytes, at: int, digits: int = 6) -> str:
    """Straight from RFC 4226 section 5.3, SHA-1, 30-second steps."""
    mac = hmac.new(key, struct.pack(">Q", at // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


@pytest.mark.parametrize(("at", "algorithm", "code"), VECTORS)
def test_rfc6238_appendix_b(at: int, algorithm: str, code: str) -> None:
    result = totp_now(b32(SEEDS[algorithm]), at=at, digits=8, algorithm=algorithm)
    assert result.code == code


def test_rfc4226_appendix_d_via_totp() -> None:
    expected = ["755224", "287082", "359152", "969429", "338314"]
    assert [totp_now(b32(SEEDS["SHA1"]), at=30 * n).code for n in range(5)] == expected
    assert reference_totp(SEEDS["SHA1"], 30 * 4) == "338314"


def test_80_bit_seed_with_spaces_and_lower_case() -> None:
    raw = b"Hello!\xde\xad\xbe\xef"  # 80 bits
    assert b32(raw) == "JBSWY3DPEHPK3PXP"
    assert decode_seed("jbsw y3dp ehpk 3pxp") == raw
    for at in (0, 59, 1_700_000_000, 2_000_000_000):
        expected = reference_totp(raw, at)
        assert totp_now("jbsw y3dp ehpk 3pxp", at=at).code == expected
        assert totp_now("JBSWY3DPEHPK3PXP", at=at).code == expected


def test_missing_padding_and_hyphens_are_tolerated() -> None:
    raw = bytes(range(11))  # 18 base32 characters plus 6 of padding
    padded = b32(raw)
    assert padded.endswith("======")
    bare = padded.rstrip("=").lower()
    grouped = "-".join(bare[i : i + 4] for i in range(0, len(bare), 4))
    assert decode_seed(bare) == decode_seed(grouped) == decode_seed(padded) == raw


@pytest.mark.parametrize(
    ("at", "left"), [(0, 30), (1, 29), (29, 1), (29.99, 1), (30, 30), (59, 1), (60.5, 30)]
)
def test_seconds_left(at: float, left: int) -> None:
    assert totp_now(b32(SEEDS["SHA1"]), at=at).seconds_left == left


def test_now_by_default() -> None:
    result = totp_now(b32(SEEDS["SHA1"]))
    assert len(result.code) == 6 and result.code.isdigit()
    assert 1 <= result.seconds_left <= 30


def test_lower_case_algorithm_and_seven_digits() -> None:
    result = totp_now(b32(SEEDS["SHA256"]), at=59, digits=7, algorithm="sha256")
    assert result.code == "6119246"


@pytest.mark.parametrize(
    ("seed", "reason"),
    [
        ("", "not base32"),
        ("   ", "not base32"),
        ("JBSWY3DPEHPK3PX1", "not base32"),  # 1 is not in the alphabet
        ("JBSWY3DP=EHPK3PXP", "not base32"),
        ("JBSWY3DPEHPK3PXPQ", "length"),  # 17 characters
        ("JBSWY3DPEHPK3PX", "shorter than 80 bits"),  # 72 bits
        ("GEZDGNBV", "shorter than 80 bits"),
    ],
)
def test_invalid_seed(seed: str, reason: str) -> None:
    with pytest.raises(InvalidSeed, match=reason) as caught:
        totp_now(seed, at=59)
    if seed.strip():
        assert seed not in str(caught.value)
        assert seed.lower() not in str(caught.value).lower()


@pytest.mark.parametrize(
    "kwargs",
    [{"digits": 5}, {"digits": 9}, {"algorithm": "MD5"}, {"at": -1.0}, {"at": float("nan")}],
)
def test_invalid_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        totp_now(b32(SEEDS["SHA1"]), **kwargs)  # type: ignore[arg-type]


def test_repr_hides_the_code() -> None:
    result = totp_now(b32(SEEDS["SHA1"]), at=59, digits=8)
    assert result == TotpCode(code="94287082", seconds_left=1)
    assert "94287082" not in repr(result)
