"""shot/threads.ordered_map: frames worked on side by side, results in order, memory bounded."""

import threading
import time

import pytest

from vfxkey.shot.threads import ordered_map


def test_ordered_map_yields_in_order_with_at_most_workers_in_flight():
    lock, state = threading.Lock(), {"running": 0, "most": 0, "threads": set()}

    def work(index: int, delay: float) -> int:
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
            state["threads"].add(threading.get_ident())
        time.sleep(delay)  # later items finish first: the order must still be the input's
        with lock:
            state["running"] -= 1
        return index * 10

    read = []

    def arguments():
        for index in range(8):
            read.append(index)
            yield index, 0.02 * (8 - index)

    results = []
    for result in ordered_map(work, arguments(), workers=3):
        results.append(result)
        assert len(read) - len(results) <= 3  # never more than `workers` read ahead of what was collected
    assert results == [index * 10 for index in range(8)]
    assert state["most"] == 3 and len(state["threads"]) == 3


def test_ordered_map_raises_a_calls_error_in_its_turn_and_stops():
    def work(index: int) -> int:
        if index == 2:
            raise ValueError("frame 2 is bad")
        return index

    results = []
    with pytest.raises(ValueError, match="frame 2 is bad"):
        for result in ordered_map(work, ((i,) for i in range(6)), workers=2):
            results.append(result)
    assert results == [0, 1]


def test_ordered_map_with_one_worker_runs_on_the_callers_thread():
    caller = threading.get_ident()
    assert list(ordered_map(lambda i: (i, threading.get_ident()), ((i,) for i in range(3)), 1)) == [
        (0, caller), (1, caller), (2, caller)]
