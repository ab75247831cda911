"""Frame-sized buffers come from the reusable heap, not from a fresh mapping each time."""

import ctypes
import platform
import subprocess
import sys

import pytest

MAPPED_BYTES = """
import ctypes, sys
import cv2
import numpy as np
from vfxkey.cli.memory import reuse_frame_memory

class MallInfo2(ctypes.Structure):  # glibc >= 2.33
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "reuse":
    assert reuse_frame_memory()
frame = cv2.resize(np.ones((1080, 1920, 4), np.float32), (3840, 2160))  # 4K float32 RGBA, 133 MB
print(libc.mallinfo2().hblkhd)  # bytes held in mmap-ed blocks
"""


def mapped_bytes(mode: str) -> int:
    command = [sys.executable, "-c", MAPPED_BYTES, mode]
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def has_glibc_2_33() -> bool:
    """Whether this is glibc with ``mallinfo2`` (asked without changing this process's malloc settings)."""
    return platform.libc_ver()[0] == "glibc" and hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")


@pytest.mark.skipif(not has_glibc_2_33(), reason="needs glibc 2.33 or later")
def test_a_4k_frame_comes_from_the_heap_once_the_thresholds_are_raised():
    assert mapped_bytes("default") >= 3840 * 2160 * 16  # mapped on its own, unmapped when freed
    assert mapped_bytes("reuse") < 1024 * 1024


ARENAS = """
import ctypes, sys, tempfile, threading
import numpy as np
from vfxkey.cli.memory import reuse_frame_memory

if sys.argv[1] == "reuse":
    assert reuse_frame_memory()
barrier = threading.Barrier(3)

def work():  # frame-sized temporaries made on several threads at once, as keying makes them
    barrier.wait()
    for _ in range(3):
        np.ones((1080, 1920, 4), np.float32).sum()

threads = [threading.Thread(target=work) for _ in range(3)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as report:
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(report.read().count("<heap nr="))  # one per malloc arena
"""


def arena_count(mode: str) -> int:
    command = [sys.executable, "-c", ARENAS, mode]
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc")
def test_threads_share_one_malloc_arena_so_freed_frames_are_reused_by_any_of_them():
    assert arena_count("default") > 1  # each thread that meets a busy arena gets one of its own
    assert arena_count("reuse") == 1
