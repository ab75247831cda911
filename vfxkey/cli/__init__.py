"""The ``vfxkey`` command line: a thin layer that parses arguments and runs the stages.

Each sub-command lives in its own module and is imported only when it is run, so
``vfxkey probe`` never pays for importing torch.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys

import click

from vfxkey import __version__
from vfxkey.cli.memory import reuse_frame_memory
from vfxkey.cli.progress import set_quiet
from vfxkey.errors import QcFailed, VfxkeyError

# name -> ("module:function", one-line help); the module is imported only when the
# command runs or shows its own --help, so listing the commands stays instant.
COMMANDS: dict[str, tuple[str, str]] = {
    "probe": ("vfxkey.cli.probe:probe", "Describe a sequence, image, folder or movie."),
    "convert": ("vfxkey.cli.convert:convert", "Convert to premultiplied EXR or ProRes 4444."),
    "key": ("vfxkey.cli.key:key", "Key a green or blue screen into alpha and clean colour."),
    "generate": ("vfxkey.cli.generate:generate", "Generate an element on a key colour (SD, TKG-DM)."),
    "edit": ("vfxkey.cli.edit:edit", "Edit an element or a plate region with a prompt."),
    "render": ("vfxkey.cli.render:render", "Render a shot spec, or a chunk of its frames."),
    "prepare": ("vfxkey.cli.prepare:prepare", "Measure a shot's screen once, before its chunks."),
    "finalize": ("vfxkey.cli.finalize:finalize", "Finish a shot: movie, QC report, Nuke script."),
    "qc": ("vfxkey.cli.qc:qc", "Write a shot's QC report (one HTML file)."),
    "submit": ("vfxkey.cli.submit:submit", "Write a farm job: OpenJD, Deadline, OpenCue."),
    "make-trainset": ("vfxkey.cli.train:make_trainset", "Composite matting-head training pairs over screens."),
    "train-matte-head": ("vfxkey.cli.train:train_matte_head", "Train the matting head on a model's VAE."),
    "nuke": ("vfxkey.cli.nuke:nuke", "Write the Nuke comp script (or paste-in snippet) of a shot."),
}


# Top-level modules that only an extra installs -> that extra. The core install (key,
# render, comp, convert, probe, QC, Nuke, farm) has none of them.
EXTRA_OF_MODULE = {name: "generate" for name in
                   ("torch", "diffusers", "transformers", "safetensors", "peft", "sklearn", "huggingface_hub")}

# Exit codes (docs/cli.md): 0 done; 1 an unexpected failure (a bug: a traceback);
# 2 usage (click's own code for a bad option, a VfxkeyError for a bad setting, a missing
# extra); 3 QC failed (outputs written, a verdict the task fails on: issue 25);
# 4 data (a DataError: input missing or unusable, output not writable).
EXIT_USAGE = 2


class UserError(click.ClickException):
    """A :class:`VfxkeyError` as click shows it: one line on stderr, the error's exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _quiet_option(command: click.Command) -> click.Command:
    """Give ``command`` the ``-q/--quiet`` option every command takes (once)."""
    if not any(param.name == "quiet" for param in command.params):
        command.params.append(click.Option(
            ["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
            callback=lambda ctx, param, value: set_quiet(True) if value else None,
            help="Print only warnings and errors: no progress, no list of files written."))
    return command


QC_FAILED = 3  # exit code of a task whose frames carry a verdict it was told to fail on (outputs are written)


class QcFailure(click.ClickException):
    """A :class:`vfxkey.errors.QcFailed`: one line on stderr, exit code QC_FAILED."""

    exit_code = QC_FAILED


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[name][0].split(":")
        return _quiet_option(getattr(importlib.import_module(module_name), attr))

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return result
        except QcFailed as exc:
            raise QcFailure(str(exc)) from None
        except VfxkeyError as exc:
            from vfxkey.cli.words import setting_words

            raise UserError(exc.worded(setting_words(ctx)), exc.exit_code) from None
        except ModuleNotFoundError as exc:
            extra = EXTRA_OF_MODULE.get((exc.name or "").split(".")[0])
            if extra is None:
                raise
            raise UserError(f"vfxkey {ctx.invoked_subcommand} needs {exc.name}, which the core install leaves "
                            f"out: pip install 'vfxkey[{extra}]' (README: Install)") from None
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            # The reader went away (`vfxkey probe ... | head -1`): not an error. Point stdout
            # at /dev/null so that Python's flush at exit does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vfxkey")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
@click.option("--ocio", metavar="CONFIG",
              help="OCIO config to read, work and write in (a config file or ocio:// URI), like $OCIO and "
                   "before it; a shot's [shot] ocio_config comes first. Default: $OCIO, else vfxkey's pinned "
                   "built-in config.")
@click.option("--path-mapping", metavar="FILE",
              help="A farm session's path mapping rules (OpenJD pathmapping-1.0 JSON), applied to the absolute "
                   "paths of shot specs. OpenJD jobs from `vfxkey submit` pass their session's.")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors (also after the command).")
def main(verbose: bool, ocio: str | None, path_mapping: str | None, quiet: bool) -> None:
    """vfxkey: keyed elements for VFX compositing.

    Reads frame sequences (EXR, DPX, TIFF, PNG) and movies, keys chroma screens,
    generates elements on a key colour, and writes premultiplied scene-linear EXR and
    ProRes 4444 that drop into Nuke. Every output file is written under a temporary
    name and renamed when complete. Errors print one line; exit codes: 0 done,
    1 unexpected failure, 2 usage (option, setting, missing extra), 3 QC failed
    (--fail-on-qc or the spec's [qc] fail_on: every output is written, the line names the
    verdicts and frames), 4 data (input missing or unusable, output not writable).
    """
    set_quiet(quiet)
    # The command is a process of its own, so it may set what diffusers/transformers read
    # from the environment when the generation commands import them (after this runs):
    # never reach the Hugging Face hub, no notices about back-ends vfxkey does not use.
    # A value the user has set is kept. The library itself sets nothing on import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if path_mapping:
        from vfxkey.io.pathmap import ENVIRONMENT

        os.environ[ENVIRONMENT] = path_mapping  # for the spec reader, in this process and its workers
    reuse_frame_memory()
    from vfxkey.io.colour import use_config

    use_config(ocio)
    if ocio:
        os.environ["OCIO"] = ocio  # farm and local workers started from here inherit it
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="vfxkey: %(levelname)s: %(message)s",
    )
