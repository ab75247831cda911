"""``--fail-on-qc``: the QC verdicts that fail a task (exit code 3), as the spec's ``[qc] fail_on``."""

from __future__ import annotations

from collections.abc import Callable

import click

from vfxkey.errors import VfxkeyError
from vfxkey.shot.verdicts import VERDICTS
from vfxkey.shot.spec import parse_fail_on

HELP = (f"Fail the task (exit code 3, after writing every output) when a frame carries one of these QC "
        f"verdicts, comma-separated: {', '.join(VERDICTS)}, or all. Added to the spec's [qc] fail_on.")


def fail_on_option(command: Callable) -> Callable:
    """Decorator: the ``--fail-on-qc VERDICTS`` option, given to the command as ``fail_on_qc``
    (a tuple of verdict names, empty when not given)."""

    def parsed(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
        if not value:
            return ()
        try:
            return parse_fail_on(value)
        except VfxkeyError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option("--fail-on-qc", "fail_on_qc", metavar="VERDICTS", help=HELP, callback=parsed)(command)
