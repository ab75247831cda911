"""A cancelled farm task ends: `vfxkey render --workers 2` stopped by SIGTERM (how farms cancel and
time out tasks) stops its workers and exits non-zero; workers whose parent was SIGKILLed exit; a
killed worker is one error line naming its chunk."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shots import make_shot

RUN = [sys.executable, "-c", "from vfxkey.cli import main; main()", "render"]


def descendants(pid: int) -> set[int]:
    """Live processes below ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def started(tmp_path):
    """`vfxkey render --workers 2` of an 8-frame shot (a chunk: no finalize), once both workers
    render; (process, workers' pids, render folder). Stopped at the end whatever happened."""
    spec = make_shot(tmp_path, frames=8, width=960, height=540, noise=0.02)
    process = subprocess.Popen(RUN + [str(spec), "--workers", "2", "--frames", "1001-1008"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "render"
    assert wait_until(lambda: len(list(out.glob("el.*.exr"))) >= 1 or process.poll() is not None, 300)
    workers = descendants(process.pid)
    assert process.poll() is None and len(workers) >= 2, "the render ended before it could be stopped"
    yield process, workers, out
    for pid in descendants(process.pid) | workers:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_sigterm_stops_the_workers_and_exits_non_zero(started):
    process, workers, out = started
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2, stderr
    assert "render cancelled (SIGTERM)" in stderr and "Traceback" not in stderr
    assert wait_until(lambda: not any(alive(pid) for pid in workers), 10), "workers left running"
    assert len(list(out.glob("el.*.exr"))) < 8


def test_workers_exit_when_the_parent_is_killed(started):
    process, workers, _ = started
    process.kill()
    process.wait()
    assert wait_until(lambda: not any(alive(pid) for pid in workers), 10), "workers orphaned"


def test_a_killed_worker_is_one_error_line_naming_its_chunk(started):
    process, workers, _ = started
    # The second chunk's worker: the one started second (pids grow; the resource tracker is not one).
    chunk_workers = sorted(pid for pid in workers if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text())
    os.kill(chunk_workers[-1], signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: frames 1005-1008: the worker rendering them was killed (SIGKILL, out of memory?)"], stderr
    assert "Traceback" not in stderr
