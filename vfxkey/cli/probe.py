"""``vfxkey probe``: what an input holds, as vfxkey will read it."""

from __future__ import annotations

import click

from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange


@click.command()
@click.argument("path")
@click.option("--frames", metavar="RANGE", help="Frames to look for, e.g. 1001-1020 (default: first to last on disk).")
@click.option("--first", type=int, default=1001, show_default=True, help="Shot number of a movie's first frame.")
def probe(path: str, frames: str | None, first: int) -> None:
    """Describe PATH: a sequence (plate.####.exr, plate.%04d.exr, plate.@.exr), a single
    image, a folder of images or a movie.

    Prints the frames found, their range, missing frames, resolution (the display
    window's), the display and data windows (OpenEXR's (xMin yMin) - (xMax yMax) and the
    size), channels, bit depth, the colour space vfxkey will linearise from, and the frame rate.
    """
    source = open_source(
        path, FrameRange.parse(frames) if frames else None, missing="black", first=first
    )
    info = source.info
    found = [f for f in info.frames if f not in set(info.missing)]
    rows = [
        ("path", info.path),
        ("kind", info.kind),
        ("frames found", str(len(found))),
        ("range", f"{info.frames[0]}-{info.frames[-1]}"),
        ("missing", str(FrameRange.of(info.missing)) if info.missing else "none"),
        ("resolution", f"{info.width}x{info.height}"),
        ("display window", str(info.display_window)),
        ("data window", f"{info.data_window}{' (all frames together; they differ)' if info.data_window_varies else ''}"),
        ("channels", f"{info.channels} ({info.channel_names})"),
        ("bit depth", info.bit_depth),
        ("colour space", info.colorspace),
        ("fps", _fps_text(info.fps)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")


def _fps_text(fps) -> str:
    if fps is None:
        return "unknown"
    return f"{fps.numerator}/{fps.denominator} ({float(fps):.3f})" if fps.denominator != 1 else str(fps.numerator)
