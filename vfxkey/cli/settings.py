"""Command-line options made from the shot spec's setting fields.

A setting's default, help, choices and limits are written once, on its field in
:mod:`vfxkey.shot.spec` (``setting(...)``); the spec reader checks a ``shot.toml`` with them
and a command's options (``--steps``) are made from them here, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from vfxkey.shot.spec import setting_fields


def setting_options(element: type) -> Callable:
    """A decorator adding a ``--name`` option for every setting field of ``element``."""
    def decorate(command: Callable) -> Callable:
        for field in reversed(list(setting_fields(element).values())):
            command = _option(field)(command)
        return command
    return decorate


def _option(field) -> Callable:
    meta, default = field.metadata, field.default
    if meta["choices"]:
        kind = click.Choice(meta["choices"])
    elif field.type == "int":
        kind = click.IntRange(min=meta["minimum"])
    elif field.type.startswith("float"):
        kind = click.FloatRange(min=meta["minimum"])
    else:
        kind = str
    return click.option(f"--{field.name.replace('_', '-')}", type=kind, default=default, metavar=meta["metavar"],
                        show_default=default not in (None, ""), help=meta["help"])
