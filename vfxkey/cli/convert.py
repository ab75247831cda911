"""``vfxkey convert``: sequences, stills and movies to EXR or ProRes through vfxkey's readers and writers."""

from __future__ import annotations

from fractions import Fraction

import click

from vfxkey.cli.progress import track, warn
from vfxkey.cli.threads import threads_option
from vfxkey.errors import VfxkeyError
from vfxkey.io.colour import WORKING_SPACE, check_working_space
from vfxkey.io.exr_options import EXR_COMPRESSIONS, EXR_DATA_TYPES
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, overwritten
from vfxkey.io.source import MISSING_POLICIES, NAN_POLICIES, movie_timecode
from vfxkey.io.write import open_frame_writer


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True,
              help="name.####.exr (one EXR per frame), name.exr (one frame only), name.mov "
                   "(ProRes 4444) or folder/ (one EXR per input still, same name).")
@click.option("--frames", metavar="RANGE", help="Frames to convert: 1001-1020, 1001-1020x2 or 1001,1005 (default: all).")
@click.option("--input-colorspace", metavar="NAME",
              help="Colour space of the input (an OCIO name such as 'ACEScg' or 'sRGB Encoded Rec.709 (sRGB)'); "
                   "default: what the file records, else sRGB for 8/16-bit, the working space for float, "
                   "Camera Rec.709 for movies.")
@click.option("--working-space", default=WORKING_SPACE, show_default=True,
              help="Scene-linear space of the output EXRs, e.g. ACEScg.")
@click.option("--missing", type=click.Choice(MISSING_POLICIES), default="error", show_default=True,
              help="Missing frames: stop with a list, hold the previous frame, or black.")
@click.option("--nan", type=click.Choice(NAN_POLICIES), default="zero", show_default=True,
              help="NaN/Inf pixels: set to 0 with a warning, or stop.")
@click.option("--compression", type=click.Choice(EXR_COMPRESSIONS), default="zip", show_default=True,
              help="EXR compression (dwaa/dwab are lossy).")
@click.option("--data-type", type=click.Choice(list(EXR_DATA_TYPES)), default="half", show_default=True,
              help="EXR channel type. Half holds up to +-65504: larger values are clamped (with a warning).")
@click.option("--crop-to-alpha", is_flag=True,
              help="Store only the alpha bounding box as the EXR data window (else the input's data window).")
@click.option("--first", type=int, default=1001, show_default=True, help="Shot number of a movie's first frame.")
@click.option("--fps", metavar="RATE", help="Frame rate when the input has none, e.g. 25 or 24000/1001 (default 24).")
@threads_option()
def convert(input_path: str, output: str, frames: str | None, input_colorspace: str | None,
            working_space: str, missing: str, nan: str, compression: str, data_type: str,
            crop_to_alpha: bool, first: int, fps: str | None) -> None:
    """Convert INPUT (a sequence such as plate.####.exr, an image, a folder of images or a
    movie) to premultiplied half-float EXR or a ProRes 4444 movie.

    Colour is linearised into the working space on the way in; EXRs are written in it,
    ProRes movies as straight Camera Rec.709. EXRs keep the input's display window (the
    format) and data window (overscan, bounding box); a movie shows the display window.
    Each file appears only once complete.
    """
    working_space = check_working_space(working_space)
    if overwritten(output, {"input": input_path}):
        raise VfxkeyError(f"-o/--output: {output} would overwrite the input {input_path}")
    source = open_source(
        input_path, FrameRange.parse(frames) if frames else None,
        input_colorspace=input_colorspace, working_space=working_space,
        missing=missing, nan=nan, first=first, warn=warn,
    )
    settings = {"command": "convert", "input_colorspace": source.info.colorspace,
                "missing": missing, "nan": nan}
    rate = source.info.fps or _parse_fps(fps)
    with open_frame_writer(output, frame_count=len(source), working_space=working_space,
                           fps=rate, compression=compression, movie_alpha=source.info.has_alpha,
                           timecode=movie_timecode(source.info, source.info.frames[0], rate or Fraction(24)),
                           crop_to_alpha=crop_to_alpha, data_type=data_type, metadata=settings,
                           warn=warn) as writer:
        frames = track(source, total=len(source), description="convert", label=lambda f: f"frame {f.number}")
        for frame in frames:
            writer.write(frame.number, frame.premultiplied_rgba(), source_name=frame.source,
                         data_window=frame.data_window, display_window=frame.display_window)


def _parse_fps(text: str | None) -> Fraction | None:
    """An exact rate from ``"25"`` or ``"24000/1001"``."""
    if text is None:
        return None
    try:
        fps = Fraction(text)
    except (ValueError, ZeroDivisionError):
        fps = None
    if fps is None or fps <= 0 or "." in text:
        raise VfxkeyError(f"bad --fps {text!r}: give an integer or a ratio such as 24000/1001")
    return fps
