"""Files written whole or not at all: a temporary name beside the target, then a rename.

Every writer of vfxkey (EXR, ProRes, PNG, QC JSON and HTML, Nuke scripts, farm job files,
stored screens, matting heads) writes through :func:`atomic_output`, so a run that is
killed or fails never leaves a partial file under the final name. This module needs only
the standard library: writers of text files do not load OpenImageIO or PyAV.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

from vfxkey.errors import DataError

# Temporary names: ".<stem>.<host>-<pid>.<random>.tmp<.ext>" (see atomic_output).
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
_TEMPORARY = re.compile(r"\.(?P<stem>.*)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^.]+\.tmp(\.[^.]*)?")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    The temporary name is hidden (leading dot), names the host and process that write it
    (so :func:`remove_stale_temporaries` can tell a killed writer's leftovers from a live
    one's) and keeps the extension so format-guessing writers (OIIO, PyAV) pick the right
    format. Before the rename the temporary must hold something and is flushed to the disk
    (``fsync``), so a full disk or a crash never leaves a short file under the final name.
    If the block raises, the temporary file is removed and ``path`` is left untouched; an
    ``OSError`` (a full disk, a quota) becomes a :class:`VfxkeyError` naming ``path``.
    Missing parent folders are created.

    Raises:
        VfxkeyError: the destination folder cannot be created or written to, or the file
            could not be written whole.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = _create_temporary(folder, f".{path.stem}.{_HOST}-{os.getpid()}.", f".tmp{path.suffix}")
    except OSError as exc:
        raise DataError(f"{path}: cannot write to folder {folder}: {exc.strerror or exc}") from None
    try:
        yield tmp
        _put_in_place(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(error, OSError):  # a full disk, a quota, a folder in the way
            raise DataError(f"{path}: cannot write: {error.strerror or error}") from None
        raise


def _put_in_place(tmp: str, path: Path) -> None:
    """Move the finished temporary ``tmp`` onto ``path``: only when it holds something, after
    its bytes are on the disk (``fsync``: a rename can reach the disk before the data), and
    the folder's entry is flushed after."""
    if os.path.getsize(tmp) == 0:
        raise DataError(f"{path}: nothing was written (is the disk full?)")
    descriptor = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a folder in the way
        raise DataError(f"{path}: cannot put the finished file in place: {exc.strerror or exc}") from None
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as exc:  # some file systems cannot flush a folder; the file itself is flushed
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(descriptor)


def _create_temporary(folder: Path, prefix: str, suffix: str) -> str:
    """Create a new empty file with a random name in ``folder`` and return its path.

    It is created with mode 0666 so that the process's umask gives it the usual
    permissions, as any new file gets (the umask is never read or changed: that would
    race with other threads of a host application)."""
    for _ in range(100):
        tmp = str(folder / f"{prefix}{secrets.token_hex(4)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name in {folder}")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Remove the temporaries :func:`atomic_output` left in ``folder`` from killed processes.

    Only files of this host whose writing process no longer runs are removed: a live
    writer's temporary (another task rendering into the same folder) is never touched,
    nor another host's. Returns the removed paths.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for name in names:
        match = _TEMPORARY.fullmatch(name)
        if match is None or match["host"] != _HOST or _process_runs(int(match["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, name))
            removed.append(os.path.join(folder, name))
    return removed


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` exists (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
