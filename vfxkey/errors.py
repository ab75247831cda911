"""The one exception type users see.

Raise :class:`VfxkeyError` for anything caused by the user's input (a bad setting, an
unknown colour space) and :class:`DataError` for data that is missing or unusable (a
missing frame, a corrupt file, an unwritable folder). The CLI prints the message on one
line, without a traceback, and exits with the class's ``exit_code`` (docs/cli.md has the
table). Messages name the file, and the frame where there is one.
"""


class VfxkeyError(Exception):
    """A user-facing error whose message is a complete, one-line explanation.

    ``exit_code`` 2: the request itself cannot run (a usage error: an option, a setting).
    """

    exit_code = 2


class DataError(VfxkeyError):
    """The request is sound but the data it names is missing, unreadable or unusable, or an
    output cannot be written: exit code 4 (3 is a QC failure's, issue 25)."""

    exit_code = 4


class QcFailed(VfxkeyError):
    """Frames carry QC verdicts the task was told to fail on (``fail_on``); every output is
    written. The CLI exits with its own code (3), not a bad-input one."""


def where(path: object, frame: int | None = None) -> str:
    """Format a location for an error message: ``'plate.1001.exr'`` or ``'plate.mov' frame 1001``."""
    return f"{path}" if frame is None else f"{path} (frame {frame})"


def first_line(message: str) -> str:
    """The first line of a library's error message (OIIO's run over many lines), for a one-line error."""
    return (message.strip().splitlines() or ["unknown error"])[0].strip()


def describe(exc: BaseException) -> str:
    """A library exception in one line: ``out of memory``, an OS error's reason, else its first line."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    return getattr(exc, "strerror", None) or first_line(str(exc) or type(exc).__name__)
