"""Keep frame-sized buffers in the process heap instead of mapping them afresh each time.

A 1920x1080 float32 RGBA frame is 33 MB, and keying one makes dozens of temporaries of
that size. glibc serves allocations that large with ``mmap`` and gives them back with
``munmap``, so every frame faults all their pages in anew: 1.18 million page faults and
3.8 s of system time for a 40-frame 1080p ``vfxkey key``. Raising glibc's mmap and trim
thresholds to 256 MiB keeps that memory in the heap for reuse: 0.15 million faults,
0.9 s, 9% less wall time, the same peak memory (it is bounded by the frames in flight).

Frames are read, keyed and written on threads of their own, and glibc gives each thread
an arena of its own; each arena kept its own free frames (up to the trim threshold) and
grew its heaps in 64 MiB pieces it mapped and unmapped again. One arena for the process
shares the free memory between the threads: on a 12-frame 1080p key peak memory went
from 911 to 789 MiB and system time from 1.9 to 0.7 s (issue 25; bench/keying/speed.py).
The allocations that matter are few and large, so the threads hardly wait for its lock.
On other C libraries this does nothing.
"""

from __future__ import annotations

import ctypes
import platform

THRESHOLD = 256 * 1024 * 1024  # bytes; larger than any frame-sized array up to 4K float32 RGBA
ARENAS = 1  # glibc malloc arenas for the whole process
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)


def reuse_frame_memory() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`THRESHOLD` and its arenas to
    :data:`ARENAS`; True when it took effect."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    return (bool(libc.mallopt(_M_ARENA_MAX, ARENAS)) and bool(libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
            and bool(libc.mallopt(_M_TRIM_THRESHOLD, THRESHOLD)))
