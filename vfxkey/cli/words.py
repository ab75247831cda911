"""How the command line names a setting in its messages.

The library names a setting by its name (``despill``, ``inversion_iters``); the
command line words it as the user gave it: ``--despill`` for a command's own options, and
``shot.toml: [element] despill`` for the commands that read a shot spec (``render``,
``prepare``, ``finalize``, ``submit``, ``nuke``, ``qc``), whose user typed no flag for it
(their own options, such as render's ``--allow-mixed-settings``, stay options).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import click

from vfxkey.errors import SettingWords
from vfxkey.shot.spec import Label, ShotSpec, file_label, load_spec, setting_table

# Settings a command's option calls otherwise than ``--<name with dashes>``.
OPTION_NAMES = {"element": "-o/--output", "allow_mixed_settings": "--allow-mixed-settings"}
_WORDS = "vfxkey.setting_words"  # where a command keeps its wording (click's context meta)


def option_label(aliases: Mapping[str, str] | None = None) -> Label:
    """A spec reader's label naming a command's options: ``--despill``; ``aliases`` maps spec
    keys the command calls otherwise (``{"element": "-o"}``)."""
    names = {**OPTION_NAMES, **(aliases or {})}
    return lambda table, key: names.get(key) or f"--{(key or table).replace('_', '-')}"


def option_words(aliases: Mapping[str, str] | None = None) -> SettingWords:
    """A setting as a command's option: ``--despill 2.0: must be within 0..1``."""
    label = option_label(aliases)
    return lambda setting: f"{label('', setting)} "


def spec_words(path: str, options: Collection[str] = ()) -> SettingWords:
    """A setting as a spec key: ``shot.toml: [element] despill: 2.0: must be within 0..1``; the
    command's own ``options`` (``allow_mixed_settings``) as options."""
    label, option = file_label(path), option_words()
    return lambda setting: option(setting) if setting in options else f"{label(setting_table(setting), setting)}: "


def load_shot(spec_path: str) -> ShotSpec:
    """:func:`~vfxkey.shot.spec.load_spec`; later errors of the command then name settings as the spec's keys."""
    spec = load_spec(spec_path)
    context = click.get_current_context(silent=True)
    if context is not None:
        own = {parameter.name for parameter in context.command.params if parameter.name}
        context.meta[_WORDS] = spec_words(str(Path(spec_path)), own)
    return spec


def options_of_command(aliases: Mapping[str, str]) -> Label:
    """The label of the running command's options (for :func:`~vfxkey.shot.spec.build_spec`); its
    later errors name settings by them too."""
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_WORDS] = option_words(aliases)
    return option_label(aliases)


def setting_words(context: click.Context, default: SettingWords | None = None) -> SettingWords:
    """How the running command words settings: as spec keys once it read a spec, else as its options."""
    return context.meta.get(_WORDS) or default or option_words()
