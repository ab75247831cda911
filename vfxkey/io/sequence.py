"""Frame-sequence patterns and frame ranges.

A sequence is named by a pattern whose *file name* holds one frame token:

- ``plate.####.exr``: one digit per ``#`` (Nuke's convention), so ``####`` is 4-digit padding;
- ``plate.@@@@.exr``: the same with ``@`` (``plate.@.exr`` is unpadded);
- ``plate.%04d.exr``: printf style, ``%d`` unpadded.

A padded token matches frames written with exactly that many digits, plus longer numbers
without a leading zero (``####`` finds 1001 and 10000, not 01001): exactly the names
:func:`frame_path` produces.

A frame range is a :class:`FrameRange`, parsed from ``1001-1020``, ``1001-1020x2``
(every second frame; Open Job Description writes it ``1001-1020:2``), ``1001`` or comma
lists ``1001,1003,1010-1012``.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from vfxkey.errors import VfxkeyError

# A run of '#' or '@', or a printf '%d' / '%0Nd'; the last one in the file name is the token.
_TOKEN = re.compile(r"#+|@+|%0?(\d*)d")
_RANGE_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*(?:[x:]\s*(\d+)\s*)?)?$")
# Frame numbers are 32-bit (EXR metadata, Nuke and the farms store them so); a range holds at
# most MAX_FRAMES frames (over an hour at 24 fps), checked before any list is built.
FRAME_NUMBERS = (-(2**31), 2**31 - 1)
MAX_FRAMES = 100_000


@dataclass(frozen=True)
class FrameRange:
    """An ordered set of frame numbers, e.g. 1001..1020 or every second frame of it."""

    frames: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> FrameRange:
        """Parse ``"1001-1020"``, ``"1001-1020x2"`` (or OpenJD's ``"1001-1020:2"``), ``"1001"`` or
        ``"1001,1003,1005-1007"``."""
        frames: list[int] = []
        for item in str(text).split(","):
            match = _RANGE_ITEM.match(item)
            if match is None:
                raise VfxkeyError(
                    f"bad frame range {text!r}: expected e.g. 1001-1020, 1001-1020x2, 1001-1020:2 or 1001,1005"
                )
            first = int(match[1])
            last = int(match[2]) if match[2] is not None else first
            step = int(match[3]) if match[3] is not None else 1
            if last < first or step < 1:
                raise VfxkeyError(f"bad frame range {text!r}: {item.strip()} runs backwards or has step 0")
            if first < FRAME_NUMBERS[0] or last > FRAME_NUMBERS[1]:
                raise VfxkeyError(f"bad frame range {text!r}: frame numbers are 32-bit "
                                  f"({FRAME_NUMBERS[0]} to {FRAME_NUMBERS[1]})")
            if len(frames) + len(range(first, last + 1, step)) > MAX_FRAMES:
                raise VfxkeyError(f"bad frame range {text!r}: more than {MAX_FRAMES} frames")
            frames.extend(range(first, last + 1, step))
        return cls.of(frames)

    @classmethod
    def of(cls, frames: Iterable[int]) -> FrameRange:
        """The range holding ``frames`` (sorted, duplicates dropped)."""
        return cls(tuple(sorted(set(int(f) for f in frames))))

    def __iter__(self) -> Iterator[int]:
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def __contains__(self, frame: object) -> bool:
        return frame in self.frames

    def within(self, bounds: FrameRange) -> FrameRange:
        """These frames from ``bounds.first`` to ``bounds.last`` (a farm task's first and last frame)."""
        return FrameRange.of(f for f in self.frames if bounds.first <= f <= bounds.last)

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    def __str__(self) -> str:
        """Compact text that :meth:`parse` reads back, e.g. ``"1001-1005,1010"``."""
        parts = []
        # Consecutive frames share ``frame - index``; each such group is one ``a-b`` run.
        for _, run in itertools.groupby(enumerate(self.frames), lambda pair: pair[1] - pair[0]):
            run = [frame for _, frame in run]
            parts.append(f"{run[0]}" if len(run) == 1 else f"{run[0]}-{run[-1]}")
        return ",".join(parts)


def _token(path: str) -> tuple[str, int, int, int] | None:
    """``(folder, start, end, padding)`` of the frame token in the file name, or None."""
    folder, name = os.path.split(str(path))
    matches = list(_TOKEN.finditer(name))
    if not matches:
        return None
    match = matches[-1]
    padding = len(match[0]) if match[0][0] in "#@" else int(match[1] or 1)
    return folder, match.start(), match.end(), padding


def has_frame_token(path: str) -> bool:
    """Whether the file name holds a frame token (``####``, ``#``, ``@``, ``%04d``, ``%d``)."""
    return _token(path) is not None


def frame_path(pattern: str, frame: int) -> str:
    """The file name of ``frame``: the token replaced by the zero-padded number."""
    token = _token(pattern)
    if token is None:
        raise VfxkeyError(f"{pattern}: output pattern has no frame token (e.g. name.####.exr)")
    folder, start, end, padding = token
    name = os.path.basename(str(pattern))
    return os.path.join(folder, f"{name[:start]}{frame:0{padding}d}{name[end:]}")


def scan_frames(pattern: str) -> list[int]:
    """Frames of ``pattern`` present on disk, sorted (empty when none or no folder)."""
    token = _token(pattern)
    if token is None:
        raise VfxkeyError(f"{pattern}: not a sequence pattern (e.g. name.####.exr)")
    folder, start, end, padding = token
    name = os.path.basename(str(pattern))
    digits = rf"(\d{{{padding}}}|[1-9]\d{{{padding},}})" if padding > 1 else r"(0|[1-9]\d*)"
    regex = re.compile(re.escape(name[:start]) + digits + re.escape(name[end:]) + "$")
    try:
        entries = os.listdir(folder or ".")
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(m[1]) for m in map(regex.match, entries) if m is not None)


def same_files(a: str, b: str) -> bool:
    """Whether two paths, sequence patterns or folders can name the same file.

    Compared as the file system would see them: folders through their symbolic links (and a
    plain file through its own), letters in any case (a case-insensitive share), any frame
    token as any frame number (``####``, ``%04d``, ``@`` and ``#`` all name ``1001``). A
    folder (a trailing ``/`` or an existing one) stands for any file in it.
    """
    (folder_a, name_a, sample_a), (folder_b, name_b, sample_b) = _file_key(a), _file_key(b)
    if folder_a != folder_b:
        return False
    if sample_a is None or sample_b is None:  # a folder: any file in it
        return True
    return bool(name_b.fullmatch(sample_a) or name_a.fullmatch(sample_b))


def overwritten(output: str, inputs: Mapping[str, str | None]) -> str | None:
    """The name of the first of ``inputs`` (name -> path, pattern or folder; None skipped)
    whose files ``output`` would write over (:func:`same_files`), else None."""
    return next((name for name, path in inputs.items() if path and same_files(output, path)), None)


def _file_key(path: str) -> tuple[str, re.Pattern | None, str | None]:
    """``(real folder, name as a regex, a name it matches)``, case-folded; a folder has no name (None, None)."""
    path = str(path)
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        return os.path.realpath(path).casefold(), None, None
    if not has_frame_token(path) and os.path.lexists(path):
        path = os.path.realpath(path)  # a plain file may be a link itself
    folder, name = os.path.split(path)
    token = _token(path)
    if token is None:
        regex, sample = re.escape(name), name
    else:
        _, start, end, _ = token
        regex = re.escape(name[:start]) + r"\d+" + re.escape(name[end:])
        sample = f"{name[:start]}1001{name[end:]}"
    return os.path.realpath(folder or ".").casefold(), re.compile(regex, re.IGNORECASE), sample.casefold()
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[^.]+)$")  # name, frame digits, extension: gs.1001.png


def sequence_of(path: str) -> tuple[str, list[int]] | None:
    """The sequence a numbered file belongs to: ``gs.1001.png`` -> (``gs.####.png``, its
    frames on disk), when at least one other frame of it exists beside it; else None."""
    folder, name = os.path.split(str(path))
    match = _NUMBERED.match(name)
    if match is None:
        return None
    digits = match[2]
    # A number written with leading zeros, or as long as the padding, names its padding.
    padding = len(digits) if digits.startswith("0") or len(digits) > 1 else 1
    pattern = os.path.join(folder, f"{match[1]}{'#' * padding}{match[3]}")
    frames = scan_frames(pattern)
    return (pattern, frames) if len(frames) > 1 and int(digits) in frames else None
