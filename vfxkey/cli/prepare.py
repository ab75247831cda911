"""``vfxkey prepare``: measure the shot's per-shot state once, before its chunks run."""

from __future__ import annotations

import click

from vfxkey.cli.progress import note, warn
from vfxkey.cli.threads import threads_option
from vfxkey.cli.words import load_shot


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@threads_option()
def prepare(spec_path: str) -> None:
    """Measure the shot's screen on its reference frames ([element] screen_frames, default
    the shot's first frame) and store it beside the element output, so every chunk keys
    with the same screen. `vfxkey render` does this itself when it is missing; a farm job
    runs it as its first step. Generated elements need nothing: it does nothing then.
    """
    from vfxkey.shot.screen import prepare as prepare_shot, screen_path

    spec = load_shot(spec_path)
    if prepare_shot(spec, warn=warn) is not None:
        note(f"vfxkey prepare: wrote {screen_path(spec)}")
