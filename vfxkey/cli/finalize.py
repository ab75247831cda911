"""``vfxkey finalize``: what needs every frame of a rendered shot (movie, QC report, Nuke script)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import click

from vfxkey.cli.progress import note, warn
from vfxkey.cli.verdicts import fail_on_option
from vfxkey.cli.words import load_shot
from vfxkey.shot import qc
from vfxkey.shot.spec import ShotSpec


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@fail_on_option
def finalize(spec_path: str, fail_on_qc: tuple[str, ...]) -> None:
    """Finish a rendered shot once every frame exists: the QC sidecar, the ProRes 4444 movie
    of the comp (and of the element if [outputs] element_movie is set), the QC report and
    the Nuke script. Refuses, naming them, when frames are missing. A farm job runs it as
    its last task; `vfxkey render` without --frames runs it itself. With --fail-on-qc (or
    the spec's [qc] fail_on) it exits with code 3, everything written, when frames carry
    one of those verdicts (the sidecar lists them per frame).
    """
    spec = load_shot(spec_path)
    for path in finalize_shot(replace(spec, fail_on=tuple(dict.fromkeys(spec.fail_on + fail_on_qc))), warn=warn):
        note(f"vfxkey finalize: wrote {path}")


def finalize_shot(spec: ShotSpec, *, warn: Callable[[str], None] | None = None) -> list[str]:
    """The shot's sidecar, movies and QC report (:func:`vfxkey.shot.finalize.finalize`), then
    its Nuke script when ``[outputs] nuke`` asks for one; the files written. Last, with
    everything written, :class:`~vfxkey.errors.QcFailed` when frames carry a verdict of the
    spec's ``fail_on``."""
    from vfxkey.shot.finalize import finalize as finalize_outputs

    written = finalize_outputs(spec)
    if spec.outputs.nuke:
        from vfxkey.nuke.shot import write_shot_script

        written.append(write_shot_script(spec, warn=warn))
    qc.check_sidecar(spec.outputs.element, spec.fail_on, spec.path or spec.name)
    return written
