"""Progress of long work (frames, steps) and notes, on stderr.

On a terminal a progress bar; elsewhere (a farm log, a pipe) one plain line per item, so
logs hold no bar glyphs. ``--quiet`` (:func:`set_quiet`) leaves only warnings and errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

_console = Console(stderr=True)
_quiet = False


def set_quiet(quiet: bool) -> None:
    """Show no progress and no notes from now on (warnings and errors still show)."""
    global _quiet
    _quiet = quiet


def note(message: str) -> None:
    """Print a one-line note (e.g. a file written) on stderr, unless quiet."""
    if not _quiet:
        print(message, file=sys.stderr, flush=True)


def _bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=_console)

# Progress lines a farm's monitor reads on stdout, chosen by the job (VFXKEY_PROGRESS in
# its environment): OpenJD's ``openjd_progress: <0-100>`` and Deadline's ``Progress: N%``.
FARM_PROGRESS = {"openjd": "openjd_progress: {percent:.1f}", "deadline": "Progress: {percent:.0f}%"}


def track(items: Iterable[T], total: int | None, description: str,
          label: Callable[[T], str] | None = None) -> Iterator[T]:
    """Yield ``items`` while showing progress of ``total`` steps on stderr: a bar on a
    terminal, else one line per item (``vfxkey DESCRIPTION: 3/10 LABEL``)."""
    if _quiet:
        yield from items
    elif _console.is_terminal:
        with _bar() as progress:
            task = progress.add_task(description, total=total)
            for item in items:
                yield item
                progress.advance(task)
    else:
        for done, item in enumerate(items, 1):
            yield item
            count = f"{done}/{total}" if total else f"{done}"
            note(f"vfxkey {description}: {count}{' ' + label(item) if label else ''}")


class FrameProgress:
    """Progress of a frame loop on stderr: a rich bar on a terminal; on a farm (no
    terminal) one plain line per frame: frame, seconds, the files written. With
    ``VFXKEY_PROGRESS`` set (a farm job sets it), also the farm's progress line on stdout.

    Implements :class:`vfxkey.shot.run.Progress`; use as a context manager.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.done: list = []  # every frame reported, in the order reported (FrameDone)
        self._bar: Progress | None = None
        self._farm_line = FARM_PROGRESS.get(os.environ.get("VFXKEY_PROGRESS", ""))
        self._total = self._done = 0

    def start(self, total: int) -> None:
        self._total = total
        if _console.is_terminal and not _quiet:
            self._bar = _bar()
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=total)

    def frame(self, done) -> None:
        self.done.append(done)
        self._done += 1
        if self._farm_line and self._total:
            print(self._farm_line.format(percent=100 * self._done / self._total), flush=True)
        if self._bar is not None:
            self._bar.advance(self._task)
            return
        what = "up to date, skipped" if done.skipped else " ".join(done.outputs) or "done"
        note(f"vfxkey {self.description}: frame {done.frame} {done.seconds:.2f} s {what}")

    def __enter__(self) -> "FrameProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def warn(message: str) -> None:
    """Print a one-line warning on stderr."""
    _console.print(f"[yellow]vfxkey: warning:[/yellow] {message}", highlight=False, soft_wrap=True)
