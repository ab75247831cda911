"""Command-line options made from the shot spec's setting fields.

A setting's default, help, choices and limits are written once, on its field
(:func:`vfxkey.fields.setting`); the spec reader checks a ``shot.toml`` with them and a
command's options (``--steps``) are made from them here, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from vfxkey.fields import setting_fields


def setting_options(owner: type) -> Callable:
    """A decorator adding a ``--name`` option for every setting field of the dataclass ``owner``."""
    def decorate(command: Callable) -> Callable:
        for field in reversed(list(setting_fields(owner).values())):
            command = _option(field)(command)
        return command
    return decorate


def _option(field) -> Callable:
    meta, default = field.metadata, field.default
    name = field.name.replace('_', '-')
    if field.type == "bool":
        return click.option(f"--{name}/--no-{name}", default=default, show_default=True, help=meta["help"])
    if meta["choices"]:
        kind = click.Choice(meta["choices"])
    elif field.type == "int":
        kind = int if meta["minimum"] is None else click.IntRange(min=meta["minimum"])
    elif field.type.startswith("float"):
        kind = float if meta["minimum"] is None else click.FloatRange(min=meta["minimum"])  # unbounded: no "x<=None"
    else:
        kind = str
    return click.option(f"--{name}", type=kind, default=default, metavar=meta["metavar"],
                        show_default=default not in (None, ""), help=meta["help"])
