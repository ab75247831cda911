"""Bounding every thread pool a render uses to the cores it was given.

A farm gives a task some cores: ``--threads N``, or the farm's own variable (OpenCue's
``CUE_THREADS``; ``OMP_NUM_THREADS`` as most tools read it). Without a bound OIIO,
OpenCV, torch and BLAS each start one thread per CPU of the machine, and a node running
several tasks thrashes.
"""

from __future__ import annotations

import os
import sys

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
    import OpenImageIO as oiio
    from threadpoolctl import threadpool_limits

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENIMAGEIO_THREADS"):
        os.environ[name] = str(count)  # read by libraries imported later (torch) and child processes
    oiio.attribute("threads", count)
    cv2.setNumThreads(count)
    threadpool_limits(limits=count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
