"""Reading ahead and writing behind: order, bounded queues, errors raised where they belong."""

import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from io_files import write_image
from vfxkey.errors import VfxkeyError
from vfxkey.io.background import Worker
from vfxkey.io.read import open_source
from vfxkey.io.write import open_frame_writer


def test_worker_runs_calls_in_order_on_one_thread_with_at_most_depth_pending():
    started, threads = [], set()
    release = threading.Event()

    def call(n):
        threads.add(threading.get_ident())
        started.append(n)
        release.wait()
        return n * 10

    worker = Worker("test", depth=2)
    worker.submit(call, 1)
    worker.submit(call, 2)
    assert len(worker) == 2
    done = threading.Event()
    threading.Thread(target=lambda: (worker.submit(call, 3), done.set())).start()
    time.sleep(0.2)
    assert not done.is_set()  # the third submit waits for the oldest call
    release.set()
    assert done.wait(5)
    assert [worker.next_result(), worker.next_result()] == [20, 30]
    worker.close()
    assert started == [1, 2, 3] and len(threads) == 1 and threading.get_ident() not in threads


def test_worker_raises_a_calls_error_when_it_is_collected():
    worker = Worker("test", depth=4)
    worker.submit(lambda: 1)
    worker.submit(lambda: 1 / 0)
    assert worker.next_result() == 1
    with pytest.raises(ZeroDivisionError):
        worker.drain()
    worker.close()


def test_a_corrupt_frame_stops_iteration_at_that_frame_after_the_good_ones(tmp_path):
    # The header of 1003 reads (open_source checks every header first); its pixels do not.
    noise = np.random.default_rng(0).uniform(0, 1, (64, 64, 3))
    for n in range(1001, 1005):
        write_image(tmp_path / f"p.{n}.png", noise)
    truncated = tmp_path / "p.1003.png"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    seen = []
    with pytest.raises(VfxkeyError, match=r"p\.1003\.png"):
        for frame in open_source(tmp_path / "p.####.png"):
            seen.append(frame.number)
    assert seen == [1001, 1002]


def test_frames_are_read_ahead_while_the_caller_works(tmp_path):
    for n in range(1001, 1006):
        write_image(tmp_path / f"p.{n}.png", np.full((4, 6, 3), (n - 1000) / 10))
    source = open_source(tmp_path / "p.####.png")
    decoded, read = [], source.read
    source.read = lambda number: decoded.append(number) or read(number)
    frames = iter(source)
    first = next(frames)  # the caller now "works" on frame 1001
    deadline = time.monotonic() + 10
    while len(decoded) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # time for a (wrong) third read to show
    assert first.number == 1001 and decoded == [1001, 1002]  # one ahead, no more (issue 25: memory)
    rest = list(frames)
    assert [f.number for f in rest] == [1002, 1003, 1004, 1005]
    assert [round(float(f.rgb[0, 0, 0]), 3) for f in [first, *rest]] == [
        round(float(open_source(tmp_path / f"p.{n}.png").read(1).rgb[0, 0, 0]), 3) for n in range(1001, 1006)]


def test_an_error_encoding_a_queued_movie_frame_leaves_no_movie(tmp_path):
    rgba = np.full((4, 6, 4), 0.5, np.float32)
    with pytest.raises(VfxkeyError, match=r"frame 1003\): frame is 7x5"):
        with open_frame_writer(tmp_path / "bad.mov", frame_count=3, fps=Fraction(24)) as writer:
            writer.write(1001, rgba)
            writer.write(1002, rgba)
            writer.write(1003, np.zeros((5, 7, 4), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_an_error_in_the_caller_still_writes_the_exrs_handed_over(tmp_path):
    rgba = np.full((4, 6, 4), 0.5, np.float32)
    with pytest.raises(RuntimeError):
        with open_frame_writer(tmp_path / "o.####.exr", frame_count=3) as writer:
            writer.write(1001, rgba)
            writer.write(1002, rgba)
            raise RuntimeError("keyer failed on frame 1003")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.1001.exr", "o.1002.exr"]
