"""``vfxkey key``: pull a premultiplied element from green- or blue-screen footage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vfxkey.cli.progress import FrameProgress, warn
from vfxkey.cli.threads import threads_option
from vfxkey.cli.verdicts import fail_on_option
from vfxkey.errors import VfxkeyError
from vfxkey.io.colour import WORKING_SPACE
from vfxkey.io.exr_options import EXR_DATA_TYPES
from vfxkey.io.sequence import FrameRange, has_frame_token
from vfxkey.matte.greenpost import TEMPORAL_FRAMES
from vfxkey.shot.qc import add_flicker, failed, verdict_frames, write_sidecar
from vfxkey.shot.run import render
from vfxkey.cli.words import options_of_command
from vfxkey.shot.spec import build_spec


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True,
              help="name.####.exr (premultiplied RGBA per frame), name.exr (one frame), name.mov "
                   "(ProRes 4444) or folder/ (one EXR per input still, same name).")
@click.option("--screen", default="auto", show_default=True, metavar="auto|green|blue|#RRGGBB",
              help="Screen to key. A name fixes the channel (the colour is still measured); "
                   "#RRGGBB (sRGB) picks the screen pixels of that hue, whose colour is then measured.")
@click.option("--screen-from", metavar="FILE",
              help="Key against the shot's screen stored in FILE (name.screen.json, as written beside an "
                   "earlier run's output) instead of measuring it. Without it the screen is measured on the "
                   "shot's first frame and written beside the output (OUTPUT's name + .screen.json), and a "
                   "later run of the same shot (another chunk) uses that file.")
@click.option("--hint", metavar="MASK",
              help="Optional coarse mask (still, sequence or movie; white = subject; alpha if it has one, "
                   "values as stored, never linearised) used where it helps.")
@click.option("--despill", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Spill removal, 0..1: this share of the screen light measured on the subject near "
                   "its edges is taken out (its own colour and brightness are kept).")
@click.option("--despeckle", type=click.IntRange(min=0), default=0, show_default=True, metavar="PIXELS",
              help="Remove opaque specks and transparent holes smaller than this area in pixels.")
@click.option("--temporal", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help=f"Steadies alpha and colour of a sequence where the picture does not change: each of the "
                   f"{TEMPORAL_FRAMES} input frames before a frame counts this much wherever it differs from it "
                   "by sensor noise alone (motion and cuts are left alone). 0 keys every frame on its own. "
                   "A chunk reads the frames before its first, so chunks still agree.")
@click.option("--frames", metavar="RANGE", help="Frames to key: 1001-1020, 1001-1020x2 or 1001,1005 (default: all).")
@click.option("--preview", metavar="PNG",
              help="Also write the comp over --plate as 8-bit sRGB PNG for a person to look at: "
                   "comp.png for one frame, comp.####.png for several.")
@click.option("--plate", metavar="PLATE",
              help="Background for --preview: a still (used for every frame), a sequence or a movie, "
                   "resized to the frame; default a grey checkerboard.")
@click.option("--working-space", default=WORKING_SPACE, show_default=True,
              help="Scene-linear space of the output EXRs, e.g. ACEScg.")
@click.option("--input-colorspace", metavar="NAME",
              help="Colour space of the input (default: what the file records, else sRGB for 8/16-bit).")
@click.option("--data-type", type=click.Choice(list(EXR_DATA_TYPES)), default="half", show_default=True,
              help="EXR channel type. Half holds up to +-65504: larger values are clamped (with a warning).")
@click.option("--clip-black", type=click.FloatRange(0.0, 0.5, max_open=True), default=0.0, show_default=True,
              help="Alpha at or below this reads 0 (alpha between it and 0.5 is stretched); below the noise "
                   "measured on the screen alpha is 0 whatever this says.")
@click.option("--clip-white", type=click.FloatRange(0.5, 1.0, min_open=True), default=0.95, show_default=True,
              help="Alpha at or above this reads 1 (alpha between 0.5 and it is stretched).")
@click.option("--garbage-matte", metavar="MATTE",
              help="Matte (still, sequence or movie; white = 1, values as stored) of what is never the subject: "
                   "alpha 0 there, and kept out of the clean plate.")
@click.option("--core-matte", metavar="MATTE", help="Matte of what is surely the subject: alpha 1 there.")
@fail_on_option
@threads_option()
def key(input_path: str, output: str, screen: str, screen_from: str | None, hint: str | None,
        despill: float, despeckle: int, temporal: float, frames: str | None, preview: str | None,
        plate: str | None, working_space: str, input_colorspace: str | None, data_type: str,
        clip_black: float, clip_white: float, garbage_matte: str | None, core_matte: str | None,
        fail_on_qc: tuple[str, ...]) -> None:
    """Key INPUT (an image, a sequence such as shot.####.png, a folder of images or a
    movie) shot on a green or blue screen, and write premultiplied scene-linear EXRs
    or a ProRes 4444 movie.

    A sequence or movie is keyed against one screen for the whole shot (measured on its
    first frame, or --screen-from), so any chunk of it keys the same; a frame whose own
    screen differs (a cut, a change of light or exposure) is keyed against its own, with
    a warning at the first frame of each such run. A folder of stills is keyed image by
    image, each against its own screen. Each frame's QC figures (screen colour used and
    measured on the frame, its shift and exposure from the shot's, GSG, fraction of soft
    alpha, verdicts: refit, blank_key, full_key, inverted_key, screen_residue, flicker)
    go into the EXR metadata and into a JSON sidecar beside the output (OUTPUT's name +
    .qc.json). Exit code 3 with --fail-on-qc (see `vfxkey --help`). EXRs keep the input's display and data windows
    (overscan is keyed and kept).
    """
    if plate and not preview:
        raise VfxkeyError("--plate is the background of --preview; give --preview comp.####.png too")
    # The options are the shot spec's settings of the same names (see vfxkey.shot.spec). The
    # shot is the whole input; --frames is the chunk this run keys.
    data = {
        "shot": {"name": "key", "working_space": working_space},
        "element": {"mode": "key", "input": input_path, "input_colorspace": input_colorspace, "hint": hint,
                    "screen": screen, "screen_from": screen_from, "despill": despill, "despeckle": despeckle,
                    "temporal": temporal, "clip_black": clip_black, "clip_white": clip_white,
                    "garbage_matte": garbage_matte, "core_matte": core_matte},
        "outputs": {"element": output, "preview": preview, "data_type": data_type},
    }
    if plate:
        data["plate"] = {"path": plate, "reformat": "element"}  # the preview is the element's size
    spec = build_spec(data, base=Path.cwd(), label=options_of_command(ALIASES), sequence_outputs=False)
    chunk = FrameRange.parse(frames) if frames else None
    with FrameProgress("key") as progress:
        rendered = render(spec, chunk, force=True, progress=progress, warn=warn)
    records = [done.record for done in rendered.frames]
    if has_frame_token(output) and output.lower().endswith(".exr"):  # a sequence: flicker from frame to frame
        add_flicker(records, [done.flicker for done in rendered.frames])
    write_sidecar(output, {
        "input": input_path, "output": output, "settings": rendered.settings,
        "screen": json.loads(rendered.screen.to_json()) if rendered.screen else "each image its own",
        "refit_frames": [r["frame"] for r in records if r.get("screen_refit")],
        "verdicts": verdict_frames(records),
        "warnings": sum(len(r.get("warnings", [])) for r in records)}, records)
    failed(records, fail_on_qc, input_path)


# Spec keys that `vfxkey key` spells otherwise.
ALIASES = {"input": "INPUT", "element": "-o/--output", "path": "--plate"}
