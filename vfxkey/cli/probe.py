"""``vfxkey probe``: what an input holds, as vfxkey will read it."""

from __future__ import annotations

import json

import click

from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, sequence_of


@click.command()
@click.argument("path")
@click.option("--frames", metavar="RANGE", help="Frames to look for, e.g. 1001-1020 (default: first to last on disk).")
@click.option("--first", type=int, default=1001, show_default=True, help="Shot number of a movie's first frame.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the same facts, as values) instead.")
def probe(path: str, frames: str | None, first: int, as_json: bool) -> None:
    """Describe PATH: a sequence (plate.####.exr, plate.%04d.exr, plate.@.exr), a single
    image, a folder of images or a movie.

    Prints the frames found, their range, missing frames, resolution (the display
    window's), the display and data windows (OpenEXR's (xMin yMin) - (xMax yMax) and the
    size), channels, bit depth, the colour space vfxkey will linearise from, and the frame rate.
    A single numbered image (gs.1001.png) whose neighbours exist is named as a frame of
    its sequence (gs.####.png).
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
    sequence = sequence_of(path) if info.kind == "still" else None
    if sequence is not None:
        pattern, on_disk = sequence
        rows.insert(2, ("sequence", f"a frame of {pattern} ({FrameRange.of(on_disk)} on disk): "
                                    f"probe that to see the shot"))
    if as_json:
        click.echo(json.dumps({
            "path": info.path, "kind": info.kind,
            "sequence": None if sequence is None else {"pattern": sequence[0], "frames": str(FrameRange.of(sequence[1]))},
            "frames": str(FrameRange.of(info.frames)), "frames_found": len(found),
            "missing": str(FrameRange.of(info.missing)) if info.missing else "",
            "width": info.width, "height": info.height,
            "display_window": _window(info.display_window), "data_window": _window(info.data_window),
            "data_window_varies": info.data_window_varies,
            "channels": info.channels, "channel_names": info.channel_names,
            "bit_depth": info.bit_depth, "colorspace": info.colorspace,
            "fps": None if info.fps is None else f"{info.fps.numerator}/{info.fps.denominator}",
        }, indent=1))
        return
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")


def _window(window) -> dict:
    """A window as OpenEXR's inclusive corners: ``{"min": [x, y], "max": [x, y]}``."""
    return {"min": [window.x, window.y], "max": [window.x + window.width - 1, window.y + window.height - 1]}


def _fps_text(fps) -> str:
    if fps is None:
        return "unknown"
    return f"{fps.numerator}/{fps.denominator} ({float(fps):.3f})" if fps.denominator != 1 else str(fps.numerator)
