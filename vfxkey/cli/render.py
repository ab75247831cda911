"""``vfxkey render``: render a shot, or a chunk of it (the farm's unit of work)."""

from __future__ import annotations

import json
from dataclasses import replace

import click

from vfxkey.cli.progress import FrameProgress, note, warn
from vfxkey.cli.threads import threads_option
from vfxkey.cli.verdicts import fail_on_option
from vfxkey.cli.words import load_shot
from vfxkey.io.sequence import FrameRange, frame_path
from vfxkey.shot import qc


@click.command()
@click.argument("spec_path", metavar="SHOT.toml")
@click.option("--frames", metavar="RANGE",
              help="Frames to render, e.g. 1001-1010 (a farm chunk); default the whole shot, then finalize.")
@click.option("--within", metavar="A-B",
              help="Render the shot's frames from A to B (those a stepped or listed shot has there), as a "
                   "Deadline task names its chunk by first and last frame. Not with --frames.")
@click.option("--force", is_flag=True, help="Redo frames whose outputs are already up to date.")
@threads_option(expose=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Render in N local processes, each a chunk of the frames with threads / N threads.")
@click.option("--allow-mixed-settings", is_flag=True,
              help="Generated or edited elements: write frames beside frames of the same output made with other "
                   "settings, device, precision or versions (refused by default: they would not match).")
@fail_on_option
@click.option("--json", "as_json", is_flag=True,
              help="At the end, print a JSON summary on stdout: frames written and skipped, each frame's QC "
                   "verdicts and warnings, the files written.")
def render(spec_path: str, frames: str | None, within: str | None, force: bool, threads: int, workers: int,
           allow_mixed_settings: bool, fail_on_qc: tuple[str, ...], as_json: bool) -> None:
    """Render the shot SHOT.toml: for each frame make the element (key or generate), place
    it over the plate, and write the element EXR, the comp EXR and the preview.

    Frames whose outputs exist, read back and carry the same settings hash are skipped,
    so a killed render reruns where it stopped; every file is written under a temporary
    name and renamed when complete. Without --frames the whole shot is rendered and then
    finalized (movie, QC report, Nuke script: see `vfxkey finalize`). On a terminal a
    progress bar is shown, elsewhere one line per frame; a failure exits non-zero naming
    the frame. With --fail-on-qc (or the spec's [qc] fail_on) a chunk whose frames carry
    one of those verdicts exits with code 3 once written (flicker, which needs the frame
    before, is judged by finalize).
    """
    from vfxkey.cli.finalize import finalize_shot
    from vfxkey.shot.run import render as render_frames
    from vfxkey.shot.screen import prepare

    spec = load_shot(spec_path)
    if frames and within:
        raise click.UsageError("give --frames or --within, not both")
    spec = replace(spec, fail_on=tuple(dict.fromkeys(spec.fail_on + fail_on_qc)))
    chunk = FrameRange.parse(frames) if frames else None
    if within:
        chunk = spec.frames.within(FrameRange.parse(within))
        if not chunk:
            raise click.BadParameter(f"the shot has no frame from {within} (its frames: {spec.frames})",
                                     param_hint="--within")
    with FrameProgress("render") as progress:
        if workers == 1:
            rendered = render_frames(spec, chunk, force=force, allow_mixed=allow_mixed_settings, progress=progress,
                                     warn=warn)
            if chunk is not None:
                qc.failed([done.record for done in rendered.frames], spec.fail_on, spec_path)
        else:
            from vfxkey.farm.local import render_local

            prepare(spec, warn=warn)  # once, before the workers, which read it
            render_local(spec_path, chunk or spec.frames, workers=workers, threads=threads, force=force,
                         allow_mixed=allow_mixed_settings, progress=progress)
            if chunk is not None:
                qc.failed([qc.from_exr(frame_path(spec.outputs.element, f), f) for f in chunk], spec.fail_on, spec_path)
    finalized = finalize_shot(spec, warn=warn) if chunk is None else []
    for path in finalized:
        note(f"vfxkey render: wrote {path}")
    if as_json:
        done = sorted(progress.done, key=lambda d: d.frame)
        click.echo(json.dumps({
            "shot": spec.name,
            "frames_written": str(FrameRange.of(d.frame for d in done if not d.skipped)),
            "frames_skipped": str(FrameRange.of(d.frame for d in done if d.skipped)),
            "verdicts": {str(d.frame): d.record["verdicts"] for d in done if d.record.get("verdicts")},
            "warnings": {str(d.frame): d.record["warnings"] for d in done if d.record.get("warnings")},
            "outputs": [path for d in done for path in d.outputs] + [str(path) for path in finalized],
        }, indent=1))
