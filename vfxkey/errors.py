"""The one exception type users see, and what it carries.

Raise :class:`VfxkeyError` (or one of its kinds) for anything caused by the user's input
(a missing file, a bad frame, an unknown colour space, an unwritable folder, a setting out
of range). The CLI prints it on one line, without a traceback, and exits with the class's
``exit_code``: 2 for a request that cannot run (a setting, an option), 4 for data that is
missing or unusable (:class:`DataError`; docs/cli.md has the table).

An error carries where it happened (``path``, ``frame``) and the ``setting`` at fault by
its name (``despill``), apart from the message. The library never words a setting for a
user interface: the edge that knows how the user gave it does, through :meth:`worded`
(the CLI as ``--despill``, the spec reader as ``shot.toml: [element] despill``, the Nuke
bridge as its panel's field). A message about a setting starts with the value given
(``"fp64: use one of fp32, fp16, bf16"``), so each edge reads naturally.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SettingWords = Callable[[str], str]  # a setting's name -> how a message names it, with the separator


class VfxkeyError(Exception):
    """A user-facing error: one line naming the file (and frame) and the setting at fault.

    ``exit_code`` 2: the request itself cannot run (a usage error: an option, a setting).
    """

    exit_code = 2

    def __init__(self, message: str, *, path: object = None, frame: int | None = None,
                 setting: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.frame, self.setting = message, path, frame, setting

    def __str__(self) -> str:
        return self.worded()

    def worded(self, setting_words: SettingWords | None = None) -> str:
        """The one-line message: where it happened, the setting as ``setting_words`` names it
        (default: its bare name and a space, ``despill 2.0: must be within 0..1``), the message."""
        setting = (setting_words or _bare)(self.setting) if self.setting else ""
        location = f"{where(self.path, self.frame)}: " if self.path is not None else ""
        return f"{location}{setting}{self.message}"

    def located(self, path: object, frame: int | None = None) -> VfxkeyError:
        """The same error, said to have happened in ``path`` (at ``frame``)."""
        return type(self)(self.message, path=path, frame=frame, setting=self.setting)


class SettingError(VfxkeyError):
    """A setting's value is refused (out of range, unknown name, two settings that exclude each other)."""


class DataError(VfxkeyError):
    """The request is sound but the data it names is missing, unreadable or unusable, or an
    output cannot be written: exit code 4 (3 is a QC failure's)."""

    exit_code = 4


class InputError(VfxkeyError):
    """An input cannot be used as it is: a file missing, unreadable or not what it should be."""


class ModelError(VfxkeyError):
    """A model, adapter or matting head cannot be loaded or does not fit the others."""


def _bare(setting: str) -> str:
    return f"{setting} "


class QcFailed(VfxkeyError):
    """Frames carry QC verdicts the task was told to fail on (``fail_on``); every output is
    written. The CLI exits with its own code (3), not a bad-input one."""


def where(path: object, frame: int | None = None) -> str:
    """Format a location for an error message: ``'plate.1001.exr'`` or ``'plate.mov' frame 1001``."""
    return f"{path}" if frame is None else f"{path} (frame {frame})"


def first_line(message: str) -> str:
    """The first line of a library's error message (OIIO's run over many lines), for a one-line error."""
    return (message.strip().splitlines() or ["unknown error"])[0].strip()


_OPENCV_NO_MEMORY = -4  # cv2.Error.StsNoMem (this module imports no library)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says memory ran out: a MemoryError, or OpenCV's ``cv2.error`` with its
    code for a failed allocation (OpenCV does not raise MemoryError)."""
    return isinstance(exc, MemoryError) or (hasattr(exc, "err") and getattr(exc, "code", None) == _OPENCV_NO_MEMORY)


def describe(exc: BaseException) -> str:
    """A library exception in one line: ``out of memory``, an OS error's reason, OpenCV's
    reason and function (``OpenCV's kmeans: There can't be more clusters than elements``,
    not its source file), else its first line."""
    if out_of_memory(exc):
        return "out of memory"
    opencv = getattr(exc, "err", None)  # cv2.error: the reason apart from where in OpenCV's source
    if isinstance(opencv, str) and opencv.strip():
        function = re.search(r"(\w+)\(|(\w+)$", getattr(exc, "func", "") or "")
        name = f"OpenCV's {function.group(1) or function.group(2)}" if function else "OpenCV"
        return f"{name}: {first_line(opencv).lstrip('> ').removesuffix(', where')}"
    return getattr(exc, "strerror", None) or first_line(str(exc) or type(exc).__name__)
