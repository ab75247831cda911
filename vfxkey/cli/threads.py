"""``--threads N``: the one option every working command takes to stay within the cores it was given."""

from __future__ import annotations

from collections.abc import Callable

import click

from vfxkey.shot.threads import limit_threads, thread_count

HELP = ("Threads for every pool (OIIO, OpenCV, torch, BLAS); default the farm's core count "
        "(CUE_THREADS, OMP_NUM_THREADS), else every CPU this process may use (a Deadline or "
        "OpenJD task's CPU affinity included). On the CPU a generated frame's last bits depend "
        "on torch's thread count: give a shot's tasks the same N.")


def threads_option(*, expose: bool = False) -> Callable:
    """Decorator: the ``--threads`` option. Before the command runs, every pool is bounded
    to the count (``shot.threads.limit_threads``); with ``expose`` the command also gets it
    as ``threads``, an int."""

    def bound(ctx: click.Context, param: click.Parameter, value: int | None) -> int:
        count = thread_count(value)
        limit_threads(count)
        return count

    return click.option("--threads", type=click.IntRange(min=1), metavar="N", help=HELP,
                        callback=bound, expose_value=expose)
