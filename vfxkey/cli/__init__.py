"""The ``vfxkey`` command line: a thin layer that parses arguments and runs the stages.

Each sub-command lives in its own module and is imported only when it is run, so
``vfxkey probe`` never pays for importing torch.
"""

from __future__ import annotations

import importlib
import logging

import click

from vfxkey import __version__
from vfxkey.errors import VfxkeyError

# name -> "module:function"; the module is imported when the command is used.
COMMANDS: dict[str, str] = {
    "probe": "vfxkey.cli.probe:probe",
    "convert": "vfxkey.cli.convert:convert",
    "generate": "vfxkey.cli.generate:generate",
    "key": "vfxkey.cli.key:key",
    "train-matte-head": "vfxkey.cli.train:train_matte_head",
    "make-trainset": "vfxkey.cli.train:make_trainset",
}


class UserError(click.ClickException):
    """A :class:`VfxkeyError` as click shows it: one line on stderr, exit code 2."""

    exit_code = 2


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VfxkeyError as exc:
            raise UserError(str(exc)) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vfxkey")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def main(verbose: bool) -> None:
    """vfxkey: keyed elements for VFX compositing.

    Reads frame sequences (EXR, DPX, TIFF, PNG) and movies, keys chroma screens,
    generates elements on a key colour, and writes premultiplied scene-linear EXR and
    ProRes 4444 that drop into Nuke. Every output file is written under a temporary
    name and renamed when complete. Errors print one line and exit with code 2.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="vfxkey: %(levelname)s: %(message)s",
    )
