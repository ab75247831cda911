"""SIGKILL a render at several points, run the same command again: the outputs are bitwise those of
an uninterrupted render and no temporary file is left (a killed run's temporaries are removed)."""

import os
import shutil
import signal
import subprocess
import sys
import time

from shots import exr_contents, make_shot

RUN = [sys.executable, "-c", "from vfxkey.cli import main; main()", "render"]


def temporaries(folder):
    return sorted(p.name for p in folder.rglob(".*.tmp*"))


def start(spec):
    return subprocess.Popen(RUN + [str(spec), "--frames", "1001-1004"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def kill_when(process, condition, timeout=300.0):
    """SIGKILL ``process`` as soon as ``condition()`` holds (polled every 0.5 ms); whether it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.0005)
    process.wait()
    return False


def test_sigkill_at_several_points_then_rerun_gives_the_uninterrupted_bits(tmp_path):
    # Frames large and noisy enough that an EXR takes a while to compress and write.
    spec = make_shot(tmp_path / "killed", frames=4, width=960, height=540, noise=0.02)
    reference = tmp_path / "reference"
    shutil.copytree(spec.parent, reference)
    subprocess.run(RUN + [str(reference / "shot.toml"), "--frames", "1001-1004"], check=True, capture_output=True,
                   timeout=600)
    out = spec.parent / "render"

    # 1. right after start, before anything is written
    process = start(spec)
    time.sleep(0.3)
    process.kill()
    process.wait()
    # 2. during an EXR write: a temporary EXR exists and is left behind by the kill
    caught = False
    for _ in range(5):  # the write may finish between seeing it and the kill; try again from where it is
        process = start(spec)
        caught = kill_when(process, lambda: any(n.endswith(".tmp.exr") for n in os.listdir(out))
                           if out.is_dir() else False) and any(n.endswith(".tmp.exr") for n in temporaries(out))
        if caught:
            break
    assert caught, "never killed during an EXR write"
    assert len(list(out.glob("el.*.exr"))) < 4
    # 3. after the first frames are complete
    process = start(spec)
    kill_when(process, lambda: len(list(out.glob("comp.*.exr"))) >= 2)

    subprocess.run(RUN + [str(spec), "--frames", "1001-1004"], check=True, capture_output=True, timeout=600)
    assert temporaries(out) == []
    assert exr_contents(out) == exr_contents(reference / "render")
    assert len(exr_contents(out)) == 8
