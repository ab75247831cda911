"""``--workers N``: a shot's frames rendered in N local processes, one chunk each.

Each worker is a fresh process (``spawn``) that loads the spec and renders its chunk
with ``threads // N`` threads, exactly as a farm task would; the parent measures the
shot's screen first (:func:`vfxkey.shot.screen.prepare`), so the workers only read it.
"""

from __future__ import annotations

import multiprocessing
import queue
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

from vfxkey.farm.chunks import split
from vfxkey.io.sequence import FrameRange
from vfxkey.shot.run import FrameDone, Progress, render
from vfxkey.shot.spec import load_spec
from vfxkey.shot.threads import limit_threads


class _QueueProgress:
    """A worker's progress, sent to the parent through the queue the worker was started with."""

    messages = None  # set in each worker by _start_worker

    def start(self, total: int) -> None:
        pass

    def frame(self, done: FrameDone) -> None:
        self.messages.put(done)


def _start_worker(messages, threads: int) -> None:
    _QueueProgress.messages = messages
    limit_threads(threads)


def _render_chunk(spec_path: str, frames: str, force: bool, allow_mixed: bool) -> int:
    """One worker: render ``frames`` of the spec; returns the frames done."""
    return len(render(load_spec(spec_path), FrameRange.parse(frames), force=force, allow_mixed=allow_mixed,
                      progress=_QueueProgress()).frames)


def render_local(spec_path: str, frames: FrameRange, *, workers: int, threads: int, force: bool = False,
                 allow_mixed: bool = False, progress: Progress | None = None) -> None:
    """Render ``frames`` of the spec at ``spec_path`` in ``workers`` processes (``force`` and
    ``allow_mixed`` as :func:`vfxkey.shot.run.render` takes them).

    The first failure stops the rest and is raised (a VfxkeyError names its frame).
    """
    parts = split(frames, workers)
    context = multiprocessing.get_context("spawn")
    if progress:
        progress.start(len(frames))
    messages = context.Queue()
    with ProcessPoolExecutor(len(parts), mp_context=context, initializer=_start_worker,
                             initargs=(messages, max(1, threads // len(parts)))) as pool:
        futures = [pool.submit(_render_chunk, spec_path, str(part), force, allow_mixed) for part in parts]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            _forward(messages, progress)
            for future in finished:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
        _forward(messages, progress)


def _forward(messages, progress: Progress | None) -> None:
    while True:
        try:
            done = messages.get_nowait()
        except queue.Empty:
            return
        if progress:
            progress.frame(done)
