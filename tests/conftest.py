"""Shared by every test module: each module starts with the process's thread pools as they were.

A command run in-process (``CliRunner``) bounds the whole process's pools, as it should in
a farm task (``vfxkey.shot.threads.limit_threads``: ``--threads`` or the farm's core count,
and ``OMP_NUM_THREADS`` & co. for what is loaded later). Torch's CPU kernels round
differently with another thread count, so a module's bound must not reach the next module.
"""

import os
import sys

import cv2
import OpenImageIO as oiio
import pytest

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENIMAGEIO_THREADS")


@pytest.fixture(scope="module", autouse=True)
def thread_pools_restored():
    variables = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    opencv, openimageio = cv2.getNumThreads(), oiio.get_int_attribute("threads")
    torch_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    yield
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    cv2.setNumThreads(opencv)
    oiio.attribute("threads", openimageio)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(torch_threads or len(os.sched_getaffinity(0)))


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(size)``: a folder on a fresh tmpfs of ``size`` (e.g. ``"300k"``): a disk that
    fills up. Mounting needs root (CI runs as root); elsewhere the test is skipped."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("a full-disk test mounts a small tmpfs, which needs root (CI runs as root)")
    mounts = []

    def mount(size: str):
        folder = tmp_path / f"tmpfs{len(mounts)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)
