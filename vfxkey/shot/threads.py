"""Bounding every thread pool a render uses to the cores it was given.

A farm gives a task some cores: ``--threads N``, or the farm's own variable (OpenCue's
``CUE_THREADS``; ``OMP_NUM_THREADS`` as most tools read it). Without a bound OIIO,
OpenCV, torch and BLAS each start one thread per CPU of the machine, and a node running
several tasks thrashes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from vfxkey.io.background import Worker

T = TypeVar("T")

# Farm variables giving a task's core count, in the order they are trusted.
CORE_VARIABLES = ("CUE_THREADS", "OMP_NUM_THREADS")


def thread_count(requested: int | None = None) -> int:
    """``requested``, else the farm's core count, else the CPUs this process may run on."""
    if requested:
        return requested
    for name in CORE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def limit_threads(count: int) -> None:
    """Bound OIIO's, OpenCV's, torch's and BLAS/OpenMP's pools to ``count`` threads, in
    this process and in the processes and libraries it starts later."""
    import cv2
    from threadpoolctl import threadpool_limits

    from vfxkey.io.images import limit_image_threads

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENIMAGEIO_THREADS"):
        os.environ[name] = str(count)  # read by libraries imported later (torch) and child processes
    limit_image_threads(count)
    cv2.setNumThreads(count)
    threadpool_limits(limits=count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


FRAME_THREADS = 2  # OpenCV threads working inside one frame; more cores key more frames side by side


@contextmanager
def frame_workers() -> Iterator[int]:
    """How many frames to work on at once, each with its share of OpenCV's threads while the context lasts.

    The cores are the bound :func:`limit_threads` set (OpenCV's pool, which it sets; by
    default the CPUs this process may run on): one frame for each FRAME_THREADS of them,
    each frame with the rest of the pool. Each frame in flight holds its own full-size
    temporaries (about 120 MiB at 1080p), so on two cores one frame with two OpenCV
    threads beats two frames with one each: measured on a 12-frame 1080p key against
    oiiotool (bench/keying/speed.py, 5 paired rounds, a machine loaded by other jobs),
    1.84x its wall time, 2.37x its CPU and 3.5x its peak memory against 2.15x, 2.35x and
    4.7x. (Before issue 25 moved much of the key's NumPy work to OpenCV and cut its
    temporaries, two frames side by side had measured 1.97x against 2.16x wall.) The
    frames are the same bits either way.
    """
    import cv2

    count = max(1, cv2.getNumThreads())
    workers = max(1, count // FRAME_THREADS)
    cv2.setNumThreads(count // workers)
    try:
        yield workers
    finally:
        cv2.setNumThreads(count)


def ordered_map(call: Callable[..., T], arguments: Iterable[tuple], workers: int) -> Iterator[T]:
    """``call(*args)`` for each of ``arguments``, ``workers`` at a time in threads, yielded in order.

    At most ``workers`` calls are in flight (an :class:`~vfxkey.io.background.Worker` with
    that many threads), so memory stays flat however many there are. ``arguments`` is
    consumed in order on the caller's thread (it may keep state). A call's exception is
    raised when its turn comes. NumPy, OpenCV and OIIO release the GIL while they work, so
    the frames' numeric work runs side by side.
    """
    if workers <= 1:
        yield from (call(*args) for args in arguments)
        return
    worker = Worker("frame", depth=workers + 1, threads=workers)
    try:
        for args in arguments:
            worker.submit(call, *args)
            if len(worker) >= workers:
                yield worker.next_result()
        while len(worker):
            yield worker.next_result()
    finally:
        worker.close()
