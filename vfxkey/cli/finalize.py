"""``vfxkey finalize``: what needs every frame of a rendered shot (movie, QC report, Nuke script)."""

from __future__ import annotations

import click

from vfxkey.cli.progress import warn
from vfxkey.shot.spec import load_spec


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
def finalize(spec_path: str) -> None:
    """Finish a rendered shot once every frame exists: the QC sidecar, the ProRes 4444 movie
    of the comp (and of the element if [outputs] element_movie is set), the QC report and
    the Nuke script. Refuses, naming them, when frames are missing. A farm job runs it as
    its last task; `vfxkey render` without --frames runs it itself.
    """
    from vfxkey.shot.finalize import finalize as finalize_shot

    for path in finalize_shot(load_spec(spec_path), warn=warn):
        click.echo(f"vfxkey finalize: wrote {path}", err=True)
