"""Background threads that run calls and give their results in order, so decoding and encoding overlap the work.

OpenImageIO, OpenColorIO, PyAV and NumPy release the GIL while they work, so reading the
next frame and writing the last one run beside the keying of the current one. A
:class:`Worker` holds at most ``depth`` calls not yet collected: submitting more waits for
the oldest, so memory stays flat however long the shot. With one thread (the default)
calls run one at a time in the order given (a movie decoder or encoder sees its frames in
order); with more they run side by side and their results still come in order. An
exception raised in a thread is raised again to the caller when its result is collected.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Worker:
    """Background threads (one by default) with a bounded queue of ordered calls."""

    def __init__(self, name: str, depth: int = 2, threads: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"vfxkey-{name}")
        self._pending: deque[Future] = deque()
        self.depth = depth

    def submit(self, call: Callable[..., T], *args, **kwargs) -> Future[T]:
        """Queue ``call(*args, **kwargs)``; first wait for the oldest call when ``depth`` are pending.

        Raises the exception of a finished earlier call (the caller collects it here).
        """
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        future = self._pool.submit(call, *args, **kwargs)
        self._pending.append(future)
        return future

    def next_result(self) -> T:
        """The result of the oldest pending call (waits for it; raises its exception)."""
        return self._pending.popleft().result()

    def __len__(self) -> int:
        return len(self._pending)

    def drain(self) -> None:
        """Wait for every pending call; then raise the first exception among them (in the
        order submitted: the later ones are often the same cause, a full disk)."""
        first = None
        while self._pending:
            error = self._pending.popleft().exception()
            first = first or error
        if first is not None:
            raise first

    def close(self) -> None:
        """Drop calls not yet started, wait for the running one, and end the thread."""
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
