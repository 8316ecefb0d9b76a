"""A keyring of versioned 256-bit master keys kept in one JSON file with mode 0600.

File format 1 (UTF-8 JSON, exactly these fields)::

    {
      "format": 1,
      "current": "k2",
      "keys": [
        {"id": "k1", "created": "2025-01-01T00:00:00Z", "key": "<base64>", "retired": false},
        {"id": "k2", "created": "2025-06-01T00:00:00Z", "key": "<base64>", "retired": false}
      ],
      "audit_key": "<base64, 32 bytes>",
      "signing_key": "<base64, 32-byte raw Ed25519 private key>",
      "answer_keys": [
        {"id": "s1", "created": "2025-01-01T00:00:00Z", "key": "<base64>",
         "retired": "2025-06-01T00:00:00Z"},
        {"id": "s2", "created": "2025-06-01T00:00:00Z", "key": "<base64>", "retired": null}
      ]
    }

``answer_keys`` (optional: a keyring written before it had none) are Ed25519 keys for signing
statements published to anyone; the newest one not retired signs, and a retired one stays until
``drop_answer_keys`` removes it, so that what it signed can still be checked meanwhile.

Every write goes to a 0600 temporary file in the same directory, is fsynced, then renamed
over the keyring. Changes (``add_key``, ``retire``) take an exclusive ``flock`` on
``<keyring>.lock`` and refuse to overwrite a file that changed since it was loaded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vault.errors import (
    KeyringChanged,
    KeyringExists,
    KeyringInvalid,
    KeyringMissing,
    KeyringPermissions,
    UnknownKey,
    VaultError,
)

__all__ = ["KEY_ID_PATTERN", "AnswerKeyInfo", "KeyInfo", "Keyring"]

FORMAT = 1
KEY_BYTES = 32
#: Key ids are short and never contain ``.``, so they can sit inside the sealed format.
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
_MAX_FILE_BYTES = 1 << 20
_TOP_FIELDS = frozenset({"format", "current", "keys", "audit_key", "signing_key"})
_OPTIONAL_TOP_FIELDS = frozenset({"answer_keys"})
_KEY_FIELDS = frozenset({"id", "created", "key", "retired"})


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public facts about one master key; never its bytes."""

    id: str
    created: datetime
    retired: bool


@dataclass(frozen=True, slots=True, repr=False)
class _MasterKey:
    info: KeyInfo
    material: bytes

    def __repr__(self) -> str:
        return f"_MasterKey(id={self.info.id!r}, material=***)"


@dataclass(frozen=True, slots=True)
class AnswerKeyInfo:
    """Public facts about one answer-signing key; never its private bytes."""

    id: str
    created: datetime
    retired: datetime | None
    public_key: Ed25519PublicKey


@dataclass(frozen=True, slots=True, repr=False)
class _AnswerKey:
    id: str
    created: datetime
    retired: datetime | None
    material: bytes

    def info(self) -> AnswerKeyInfo:
        private = Ed25519PrivateKey.from_private_bytes(self.material)
        return AnswerKeyInfo(self.id, self.created, self.retired, private.public_key())


@dataclass(frozen=True, slots=True, repr=False)
class _State:
    current: str
    keys: tuple[_MasterKey, ...]
    audit_key: bytes
    signing_key: bytes
    answer_keys: tuple[_AnswerKey, ...] = ()

    def __repr__(self) -> str:
        return f"_State(current={self.current!r}, keys=***)"

    def find(self, key_id: str) -> _MasterKey:
        for key in self.keys:
            if key.info.id == key_id:
                return key
        raise UnknownKey(f"Master key {key_id!r} is not in the keyring.")


class Keyring:
    """Versioned master keys plus an audit HMAC key and an Ed25519 signing key.

    Build one with :meth:`create` or :meth:`load`, not with the constructor.
    """

    __slots__ = ("_digest", "_path", "_signing", "_state")

    def __init__(self, *, path: Path, state: _State, digest: bytes) -> None:
        self._path = path
        self._state = state
        self._digest = digest
        self._signing = Ed25519PrivateKey.from_private_bytes(state.signing_key)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Keyring:
        """Write a new keyring with one master key at ``path``; refuse if the file exists."""
        target = Path(path)
        state = _State(
            current="k1",
            keys=(_MasterKey(KeyInfo("k1", _now(), retired=False), _random_key()),),
            audit_key=_random_key(),
            signing_key=Ed25519PrivateKey.generate().private_bytes_raw(),
            answer_keys=(_AnswerKey("s1", _now(), None, _new_signing_key()),),
        )
        data = _dump(state)
        try:
            _write_atomic(target, data, exclusive=True)
        except OSError as exc:
            raise _write_error(target, exc) from exc
        return cls(path=target, state=state, digest=hashlib.sha256(data).digest())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read and validate the keyring at ``path``."""
        target = Path(path)
        data = _read_checked(target)
        return cls(path=target, state=_parse(data, target), digest=hashlib.sha256(data).digest())

    # -- accessors ----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def current_key_id(self) -> str:
        """Id of the master key that wraps new data keys."""
        return self._state.current

    @property
    def keys(self) -> tuple[KeyInfo, ...]:
        """Every master key, oldest first."""
        return tuple(key.info for key in self._state.keys)

    def info(self, key_id: str) -> KeyInfo:
        """Public facts about ``key_id``; raises :class:`UnknownKey`."""
        return self._state.find(key_id).info

    def key(self, key_id: str) -> bytes:
        """The 32 bytes of master key ``key_id`` (retired or not); raises :class:`UnknownKey`."""
        return self._state.find(key_id).material

    @property
    def audit_key(self) -> bytes:
        """A separate 32-byte key for HMACs (for example an audit-log chain)."""
        return self._state.audit_key

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return self._signing

    @property
    def verify_key(self) -> Ed25519PublicKey:
        return self._signing.public_key()

    @property
    def answer_keys(self) -> tuple[AnswerKeyInfo, ...]:
        """Every answer-signing key still in the keyring, oldest first."""
        return tuple(key.info() for key in self._state.answer_keys)

    def answer_signing_key(self) -> tuple[str, Ed25519PrivateKey] | None:
        """The id and private key that sign answers now, or None in a keyring without one."""
        live = [key for key in self._state.answer_keys if key.retired is None]
        if not live:
            return None
        return live[-1].id, Ed25519PrivateKey.from_private_bytes(live[-1].material)

    # -- changes ------------------------------------------------------------------------

    def rotate_answer_key(self) -> AnswerKeyInfo:
        """Add a new answer-signing key that signs from now on, retire the others (their
        public keys stay until :meth:`drop_answer_keys`), and save the keyring."""
        state = self._state
        now = _now()
        kept = tuple(
            key if key.retired is not None else replace(key, retired=now)
            for key in state.answer_keys
        )
        ids = {key.id for key in kept}
        n = len(ids) + 1
        while f"s{n}" in ids:
            n += 1
        new = _AnswerKey(f"s{n}", now, None, _new_signing_key())
        self._commit(replace(state, answer_keys=(*kept, new)))
        return new.info()

    def drop_answer_keys(self, retired_before: datetime) -> list[str]:
        """Remove the answer keys retired before ``retired_before`` (nothing they signed is
        still valid); save the keyring when any goes. The ids removed."""
        state = self._state
        gone = [
            key.id
            for key in state.answer_keys
            if key.retired is not None and key.retired < retired_before
        ]
        if gone:
            kept = tuple(key for key in state.answer_keys if key.id not in gone)
            self._commit(replace(state, answer_keys=kept))
        return gone

    def add_key(self) -> KeyInfo:
        """Add a new master key, make it current and save the keyring."""
        state = self._state
        info = KeyInfo(_next_id(k.info.id for k in state.keys), _now(), retired=False)
        self._commit(
            replace(state, current=info.id, keys=(*state.keys, _MasterKey(info, _random_key())))
        )
        return info

    def retire(self, key_id: str) -> None:
        """Mark ``key_id`` retired so nothing may use it any more, and save the keyring.

        Retire a key only once no stored value uses it (see ``vault.rotation``). The key
        bytes stay in the file, so setting ``"retired": false`` by hand undoes a mistake.
        """
        state = self._state
        target = state.find(key_id)
        if key_id == state.current:
            raise VaultError(
                f"Master key {key_id!r} is the current key; add a new key before retiring it."
            )
        if target.info.retired:
            return
        keys = tuple(
            replace(k, info=replace(k.info, retired=True)) if k.info.id == key_id else k
            for k in state.keys
        )
        self._commit(replace(state, keys=keys))

    def _commit(self, state: _State) -> None:
        data = _dump(state)
        try:
            with _locked(self._path):
                on_disk = _read_checked(self._path)
                if not secrets.compare_digest(hashlib.sha256(on_disk).digest(), self._digest):
                    raise KeyringChanged(
                        f"Keyring file {self._path} changed on disk since it was loaded; "
                        "load it again and retry."
                    )
                _write_atomic(self._path, data, exclusive=False)
        except OSError as exc:
            raise _write_error(self._path, exc) from exc
        self._state = state
        self._digest = hashlib.sha256(data).digest()

    def __repr__(self) -> str:
        ids = ", ".join(
            f"{k.id} (retired)" if k.retired else k.id for k in (m.info for m in self._state.keys)
        )
        return (
            f"Keyring(path={str(self._path)!r}, current={self._state.current!r}, "
            f"keys=[{ids}], key bytes=***)"
        )


# -- helpers ------------------------------------------------------------------------------


def _random_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes_raw()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _next_id(existing: Iterable[str]) -> str:
    ids = set(existing)
    numbers = [int(i[1:]) for i in ids if re.fullmatch(r"k[0-9]{1,9}", i)]
    n = max(numbers, default=0) + 1
    while f"k{n}" in ids:
        n += 1
    return f"k{n}"


def _write_error(path: Path, exc: OSError) -> VaultError:
    reason = exc.strerror or type(exc).__name__
    return VaultError(f"Cannot write keyring file {path}: {reason.lower()}.")


def _read_checked(path: Path) -> bytes:
    try:
        return _read(path)
    except OSError as exc:  # a path through a file, a symlink loop, a name too long, EIO...
        reason = exc.strerror or type(exc).__name__
        raise KeyringInvalid(f"Cannot read keyring file {path}: {reason.lower()}.") from None


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyringMissing(f"No keyring file at {path}.") from None
    except PermissionError:
        raise KeyringPermissions(f"Cannot read keyring file {path}: permission denied.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyringInvalid(f"Keyring path {path} is not a regular file.")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyringPermissions(
                f"Keyring file {path} is accessible by group or others (mode {mode:04o}); "
                "run chmod 600 on it."
            )
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_FILE_BYTES and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > _MAX_FILE_BYTES:
        raise KeyringInvalid(f"Keyring file {path} is invalid: it is larger than 1 MiB.")
    return data


class _Bad(Exception):
    """Internal: why a keyring document is invalid (a reason without secrets)."""


def _parse(data: bytes, path: Path) -> _State:
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
        return _validate(doc)
    except UnicodeDecodeError:
        raise KeyringInvalid(f"Keyring file {path} is invalid: it is not UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise KeyringInvalid(
            f"Keyring file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from None
    except _Bad as exc:
        raise KeyringInvalid(f"Keyring file {path} is invalid: {exc}.") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _Bad(f"field {name!r} appears twice")
        result[name] = value
    return result


def _validate(doc: Any) -> _State:
    _check_fields(doc, _TOP_FIELDS, "the top level", optional=_OPTIONAL_TOP_FIELDS)
    version = doc["format"]
    if type(version) is not int or version != FORMAT:
        raise _Bad(f"unsupported format {version!r} (expected {FORMAT})")
    entries = doc["keys"]
    if not isinstance(entries, list) or not entries:
        raise _Bad("'keys' must be a non-empty list")
    keys: list[_MasterKey] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        where = f"keys[{position}]"
        _check_fields(entry, _KEY_FIELDS, where)
        key_id = entry["id"]
        if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
            raise _Bad(f"{where} has an invalid id (1-32 of A-Z a-z 0-9 _ -)")
        if key_id in seen:
            raise _Bad(f"key id {key_id!r} appears twice")
        seen.add(key_id)
        retired = entry["retired"]
        if not isinstance(retired, bool):
            raise _Bad(f"key {key_id!r} has a non-boolean 'retired'")
        material = _b64_key(entry["key"], f"key {key_id!r}")
        keys.append(
            _MasterKey(KeyInfo(key_id, _timestamp(entry["created"], key_id), retired), material)
        )
    current = doc["current"]
    if not isinstance(current, str) or current not in seen:
        raise _Bad("'current' does not name a key in 'keys'")
    if any(k.info.retired for k in keys if k.info.id == current):
        raise _Bad(f"current key {current!r} is retired")
    audit_key = _b64_key(doc["audit_key"], "'audit_key'")
    signing_key = _b64_key(doc["signing_key"], "'signing_key'")
    answer_keys = _answer_keys(doc.get("answer_keys", []))
    return _State(current, tuple(keys), audit_key, signing_key, answer_keys)


def _answer_keys(entries: Any) -> tuple[_AnswerKey, ...]:
    if not isinstance(entries, list):
        raise _Bad("'answer_keys' must be a list")
    keys: list[_AnswerKey] = []
    for position, entry in enumerate(entries):
        _check_fields(entry, _KEY_FIELDS, f"answer_keys[{position}]")
        key_id = entry["id"]
        if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
            raise _Bad(f"answer_keys[{position}] has an invalid id (1-32 of A-Z a-z 0-9 _ -)")
        if any(k.id == key_id for k in keys):
            raise _Bad(f"answer key id {key_id!r} appears twice")
        retired = entry["retired"]
        keys.append(
            _AnswerKey(
                key_id,
                _timestamp(entry["created"], key_id),
                None if retired is None else _timestamp(retired, key_id),
                _b64_key(entry["key"], f"answer key {key_id!r}"),
            )
        )
    return tuple(keys)


def _check_fields(
    obj: Any, expected: frozenset[str], where: str, *, optional: frozenset[str] = frozenset()
) -> None:
    if not isinstance(obj, dict):
        raise _Bad(f"{where} must be a JSON object")
    missing = sorted(expected - obj.keys())
    extra = sorted(obj.keys() - expected - optional)
    if missing:
        raise _Bad(f"{where} lacks {', '.join(missing)}")
    if extra:
        raise _Bad(f"{where} has unknown field(s) {', '.join(extra)}")


def _b64_key(value: Any, what: str) -> bytes:
    if isinstance(value, str) and value.isascii():
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            pass
        else:
            if len(raw) == KEY_BYTES:
                return raw
    raise _Bad(f"{what} is not {KEY_BYTES} bytes of base64")


def _timestamp(value: Any, key_id: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    raise _Bad(f"key {key_id!r} has a 'created' that is not an ISO 8601 time with a zone")


def _dump(state: _State) -> bytes:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    doc: dict[str, Any] = {
        "format": FORMAT,
        "current": state.current,
        "keys": [
            {
                "id": k.info.id,
                "created": k.info.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "key": b64(k.material),
                "retired": k.info.retired,
            }
            for k in state.keys
        ],
        "audit_key": b64(state.audit_key),
        "signing_key": b64(state.signing_key),
    }
    if state.answer_keys:
        doc["answer_keys"] = [
            {
                "id": k.id,
                "created": _stamp(k.created),
                "key": b64(k.material),
                "retired": None if k.retired is None else _stamp(k.retired),
            }
            for k in state.answer_keys
        ]
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # O_NOFOLLOW: a link put at the lock's name would have us create or open its target.
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path.with_name(path.name + ".lock"), flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` via a fsynced 0600 temporary file in the same directory."""
    directory = path.parent
    temp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            _publish_new(temp, path)
        else:
            os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    _fsync_directory(directory)


def _publish_new(temp: Path, path: Path) -> None:
    exists = KeyringExists(f"A file already exists at {path}; refusing to overwrite it.")
    try:
        os.link(temp, path)  # atomic and fails if ``path`` exists
    except FileExistsError:
        raise exists from None
    except OSError:  # a filesystem without hard links
        if os.path.lexists(path):
            raise exists from None
        os.replace(temp, path)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
