"""``--workers N``: a shot's frames rendered in N local processes, one chunk each.

Each worker is a fresh process (``spawn``) that loads the spec and renders its chunk
with ``threads // N`` threads, exactly as a farm task would; the parent measures the
shot's screen first (:func:`vfxkey.shot.screen.prepare`), so the workers only read it.

A farm cancels or times out a task with SIGTERM (and SIGKILL if that does not end it):

1. **SIGTERM in the parent** stops every worker and ends the render with an error (the
   frames finished are kept; a rerun does the rest).
2. **The parent gone** (SIGKILL): each worker sees it and exits at once, never finishing a
   chunk for nobody.
3. **A worker gone** (killed, out of memory): one error naming its chunk; the other workers
   are stopped.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Iterator

from vfxkey.errors import VfxkeyError
from vfxkey.farm.chunks import split
from vfxkey.io.sequence import FrameRange
from vfxkey.shot.run import FrameDone, Progress, render
from vfxkey.shot.spec import load_spec
from vfxkey.shot.threads import limit_threads

PARENT_CHECK_SECONDS = 0.5  # how often a worker looks for its parent


class _QueueProgress:
    """A worker's progress, sent to the parent as ``("frame", chunk, FrameDone)``."""

    def __init__(self, messages, chunk: str) -> None:
        self.messages, self.chunk = messages, chunk

    def start(self, total: int) -> None:
        pass

    def frame(self, done: FrameDone) -> None:
        self.messages.put(("frame", self.chunk, done))


def _render_chunk(spec_path: str, chunk: str, force: bool, allow_mixed: bool, threads: int, messages,
                  parent: int) -> None:
    """One worker: render the frames ``chunk`` of the spec; its last message says how it ended
    (``"done"``, ``"error"`` with a VfxkeyError's one line, ``"failed"`` with a traceback)."""
    _exit_with_parent(parent)
    limit_threads(threads)
    try:
        render(load_spec(spec_path), FrameRange.parse(chunk), force=force, allow_mixed=allow_mixed,
               progress=_QueueProgress(messages, chunk))
    except VfxkeyError as exc:
        messages.put(("error", chunk, str(exc)))
    except Exception:  # a defect: the parent shows its traceback
        messages.put(("failed", chunk, traceback.format_exc()))
    else:
        messages.put(("done", chunk, None))


def _exit_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is no longer its parent (it died and the process
    was handed to init or a subreaper)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(3)

    threading.Thread(target=watch, name="vfxkey-parent-watch", daemon=True).start()


def render_local(spec_path: str, frames: FrameRange, *, workers: int, threads: int, force: bool = False,
                 allow_mixed: bool = False, progress: Progress | None = None) -> None:
    """Render ``frames`` of the spec at ``spec_path`` in ``workers`` processes (``force`` and
    ``allow_mixed`` as :func:`vfxkey.shot.run.render` takes them).

    The first failure stops the other workers and is raised: a worker's VfxkeyError as it is
    (it names its frame), a worker killed as a VfxkeyError naming its chunk, SIGTERM (in the
    main thread) as a VfxkeyError saying the render was cancelled.
    """
    chunks = [str(part) for part in split(frames, workers)]
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    per_worker = max(1, threads // len(chunks))
    processes = {chunk: context.Process(target=_render_chunk, name=f"vfxkey frames {chunk}", daemon=True,
                                        args=(spec_path, chunk, force, allow_mixed, per_worker, messages,
                                              os.getpid()))
                 for chunk in chunks}
    if progress:
        progress.start(len(frames))
    try:
        with _sigterm_cancels():
            for process in processes.values():
                process.start()
            _follow(processes, messages, progress)
    finally:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
        for process in processes.values():
            if process.pid is not None:
                process.join()
        messages.close()


def _follow(processes: dict[str, multiprocessing.Process], messages, progress: Progress | None) -> None:
    """Pass the workers' frames to ``progress`` until every chunk is done; raise the first failure."""
    done: set[str] = set()
    while len(done) < len(processes):
        try:
            kind, chunk, value = messages.get(timeout=0.2)
        except queue.Empty:  # a worker that ended without its last message was killed
            for chunk, process in processes.items():
                if chunk not in done and process.exitcode is not None:
                    raise VfxkeyError(f"frames {chunk}: the worker rendering them {_ending(process.exitcode)}")
            continue
        if kind == "frame":
            if progress:
                progress.frame(value)
        elif kind == "done":
            done.add(chunk)
        elif kind == "error":
            raise VfxkeyError(value)
        else:
            raise RuntimeError(f"frames {chunk}: the worker failed:\n{value}")


def _ending(exitcode: int) -> str:
    """How a worker process ended, from its exit code (negative: the signal that killed it)."""
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed ({name}{', out of memory?' if name == 'SIGKILL' else ''})"
    return f"exited with code {exitcode} before finishing"


@contextlib.contextmanager
def _sigterm_cancels() -> Iterator[None]:
    """SIGTERM (a farm cancelling the task) raises a VfxkeyError in the main thread while
    the block runs, so the caller stops its workers and exits non-zero."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def cancel(signum, frame) -> None:
        raise VfxkeyError("render cancelled (SIGTERM): the workers are stopped; the frames finished "
                          "are kept and a rerun renders the rest")

    previous = signal.signal(signal.SIGTERM, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
