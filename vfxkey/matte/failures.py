"""A library failing while frames are keyed, as one line naming the file and frame.

The keyer's own refusals are :class:`~vfxkey.errors.VfxkeyError` already; NumPy running out
of memory (``MemoryError``) and OpenCV failing (``cv2.error``, which is also how OpenCV says
an allocation failed) are not. :func:`keying` turns both into a :class:`~vfxkey.errors.DataError`
naming where it happened, and for memory the frame size and what would help. Whoever keys a
frame it can name uses it: the key stage and the screen measurement (``vfxkey.shot``), a
generated frame's key, an edited keyed frame's (``vfxkey.generate.edit``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cv2

from vfxkey.errors import DataError, VfxkeyError, describe, out_of_memory


@contextmanager
def keying(path: str, frame: int, size: tuple[int, int], *, at_once: int = 1, threads: int | None = None,
           what: str = "keying") -> Iterator[None]:
    """Keying ``frame`` of ``path``, a frame of ``size`` (width, height) pixels, ``at_once``
    frames side by side (on ``threads`` threads): the keyer's errors said to have happened
    there, a library's failure as a :class:`DataError` naming it.

    Out of memory with several frames at once names the ``threads`` setting (fewer threads
    key fewer frames at once); with one, it asks for more memory. ``what`` is the work in
    the message (``"keying"``, ``"measuring the screen on"``).
    """
    try:
        yield
    except VfxkeyError as exc:
        raise exc.located(path, frame) from None
    except (MemoryError, cv2.error) as exc:
        if not out_of_memory(exc):
            raise DataError(f"{what} the frame failed: {describe(exc)}", path=path, frame=frame) from None
        frame_size = f"{what} a {size[0]}x{size[1]} frame"
        if at_once > 1:
            raise DataError(f"{threads}: out of memory {frame_size}, {at_once} frames at once: fewer threads key "
                            "fewer frames at once (or give the task more memory)", path=path, frame=frame,
                            setting="threads") from None
        raise DataError(f"out of memory {frame_size}: give the task more memory", path=path, frame=frame) from None
