"""What a frame's outputs depend on from disk: the identity of each input file it reads.

A render records, per frame, a hash of the identities of the files that frame was made
from (the element's input frame and the frames before it that the temporal filter reads,
the hint or mask, the plate frame), so footage re-delivered under the same names makes
exactly the frames that read it render again.

A file's identity is a hash of its content (BLAKE2b): a copied or moved shot folder
(new times, new inodes) renders nothing again, and a replaced file is seen even with the
same size and time (``rsync -a`` keeps times). Each file is read once per process for it
(memoised by path, size, time and inode, so a file replaced meanwhile is read again).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache

from vfxkey.errors import VfxkeyError


def file_identity(path: str) -> str:
    """16 hex digits of BLAKE2b over the bytes of the file at ``path``."""
    try:
        stat = os.stat(path)
        return _content_hash(os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    except OSError as exc:
        raise VfxkeyError(f"{path}: cannot read: {exc.strerror or exc}") from None


def inputs_hash(paths: Iterable[str | None]) -> str:
    """16 hex digits over the identities of ``paths`` in order (None: no file, e.g. a missing
    frame filled with black)."""
    digest = hashlib.blake2b(digest_size=8)
    for path in paths:
        digest.update(b"none" if path is None else file_identity(path).encode())
        digest.update(b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=4096)
def _content_hash(path: str, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
