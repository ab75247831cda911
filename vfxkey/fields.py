"""A setting declared once, on its dataclass field: its default, help, choices and limits.

The spec reader checks a ``shot.toml`` key with them (``vfxkey.shot.spec._Table.setting``),
a command's ``--option`` is made from them (``vfxkey.cli.settings.setting_options``) and
the docs state them, so the three cannot disagree. The field's name is the spec key and,
with dashes, the option. It sits below every layer, so a setting is declared where its
value is used (``vfxkey.generate.edit_settings.EditSettings``) or where the spec gathers it
(``vfxkey.shot.spec.GenerateElement``). The help is the library's: it names no option.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def setting(default: Any, help: str, *, choices: tuple[str, ...] = (), minimum: float | None = None,
            metavar: str | None = None) -> Any:
    """A dataclass field that is a setting: ``default``, its ``help``, the ``choices`` it may
    take or the ``minimum`` it may be, and the ``metavar`` an option shows."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "minimum": minimum,
                                                        "metavar": metavar})


def setting_fields(owner: type) -> dict[str, dataclasses.Field]:
    """The fields of the dataclass ``owner`` that are settings (made by :func:`setting`), by name."""
    return {f.name: f for f in dataclasses.fields(owner) if "help" in f.metadata}
