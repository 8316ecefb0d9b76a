"""The files the registry writes: private (0600), whole, and never through a symbolic link.

Every file written for an operator (the handover's HR CSV, a signed audit checkpoint, a backup)
goes through :class:`PrivateFile` (or :func:`private_file`, :func:`write_private`):

- it is created mode 0600 whatever the umask: it names people and accounts, or holds the
  whole registry;
- a symbolic link at the target is refused, never followed (an attacker's link would have
  the registry overwrite its target), and so is anything that is not a regular file;
- it is written to a temporary file in the target's own folder, fsynced, and only then renamed
  over the target (``os.replace``), so a crash leaves the old file or the new one, never half
  of one. ``exclusive`` links it into place instead, never replacing a file.

:func:`create_private` makes an empty 0600 file: the SQLite database, just before SQLite opens
it (SQLite gives the database's -wal and -shm files the database file's mode).

The refusals are :class:`OSError` with a readable ``strerror`` (``"it is a symbolic link,
which the registry never follows"``), so a caller's ``f"Cannot write {path}: {exc.strerror}"``
reads as one sentence. The vault's keyring is written the same way by ``vault.keyring`` (the
vault imports nothing from the registry).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

MODE = 0o600
SYMLINK = "it is a symbolic link, which the registry never follows"
NOT_A_FILE = "it is not a regular file"
EXISTS = "it already exists"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_target(path: Path, *, exclusive: bool = False) -> None:
    """Refuse a target that is a symbolic link or not a regular file (or, when ``exclusive``,
    one that exists at all); a missing target is fine."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise OSError(errno.ELOOP, SYMLINK, str(path))
    if exclusive:
        raise FileExistsError(errno.EEXIST, EXISTS, str(path))
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, NOT_A_FILE, str(path))


class PrivateFile:
    """A new file for ``target``, being written: a 0600 temporary file in the same folder.

    :meth:`create` checks the target and makes the temporary file (so a target that cannot be
    written is refused before any work); :meth:`write` appends to it (or write to :attr:`path`
    by name, as SQLite does); :meth:`commit` puts it in place; :meth:`discard` (always call it,
    or use :func:`private_file`) removes whatever was not committed.
    """

    def __init__(self, target: Path, path: Path, fd: int, *, exclusive: bool) -> None:
        self.target = target
        self.path = path  # the temporary file
        self._fd = fd
        self._exclusive = exclusive

    @classmethod
    def create(cls, target: Path | str, *, exclusive: bool = False) -> PrivateFile:
        target = Path(target)
        check_target(target, exclusive=exclusive)
        # The target's name, shortened, so that a long one still leaves room for the rest.
        path = target.with_name(f".{target.name[:100]}.{secrets.token_hex(8)}.tmp")
        fd = os.open(path, _CREATE, MODE)
        try:
            os.fchmod(fd, MODE)  # the umask may have taken bits away
        except OSError:
            os.close(fd)
            os.unlink(path)
            raise
        return cls(target, path, fd, exclusive=exclusive)

    def write(self, data: bytes | str) -> None:
        """Append ``data`` (text is written as UTF-8)."""
        view = memoryview(data.encode("utf-8") if isinstance(data, str) else data)
        while view:
            view = view[os.write(self._fd, view) :]

    def commit(self) -> None:
        """Flush the file to disk and put it at the target: renamed over an existing file,
        or (``exclusive``) linked where nothing is, never replacing a file."""
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        if self._exclusive:
            try:
                os.link(self.path, self.target)
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, EXISTS, str(self.target)) from None
            except OSError:  # a file system without hard links: look once more, then rename
                check_target(self.target, exclusive=True)
                os.rename(self.path, self.target)
        else:
            check_target(self.target)
            os.replace(self.path, self.target)  # a link put there meanwhile is replaced
        _fsync_folder(self.target.parent)

    def discard(self) -> None:
        """Close and remove the temporary file (nothing, once committed)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with suppress(FileNotFoundError):
            os.unlink(self.path)


@contextmanager
def private_file(target: Path | str, *, exclusive: bool = False) -> Iterator[PrivateFile]:
    """A :class:`PrivateFile` committed when the block ends, discarded if it raises."""
    out = PrivateFile.create(target, exclusive=exclusive)
    try:
        yield out
        out.commit()
    finally:
        out.discard()


def write_private(target: Path | str, data: bytes | str, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``target``: 0600, whole or not at all, never through a link."""
    with private_file(target, exclusive=exclusive) as out:
        out.write(data)


def create_private(path: Path | str) -> bool:
    """Create an empty file at ``path``, mode 0600 whatever the umask; False (and nothing
    done) when something is already there, a symbolic link included."""
    try:
        fd = os.open(path, _CREATE, MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, MODE)
    finally:
        os.close(fd)
    return True


def _fsync_folder(folder: Path) -> None:
    with suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
