"""Shot folders on disk for the Nuke tests: a plate sequence and vfxkey element EXRs."""

from fractions import Fraction

import numpy as np
import OpenImageIO as oiio

from vfxkey.io.sequence import FrameRange
from vfxkey.io.write import write_exr
from vfxkey.nuke.comp import Footage, Format, NukeComp, Placement, PlacementKey

FRAMES = FrameRange.parse("1001-1004")
WIDTH, HEIGHT = 64, 36


def write_plate_png(path, value=0.5, width=WIDTH, height=HEIGHT):
    """An 8-bit RGB PNG written by OIIO (not by vfxkey): no vfxkey metadata."""
    write_png(path, np.full((height, width, 3), value, np.float32))


def write_element_exr(path, frame):
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.float32)
    rgba[10:20, 20:30] = (0.2, 0.1, 0.05, 1.0)
    write_exr(path, rgba, colorspace="ACEScg", frame=frame, metadata={"command": "key"})


def make_shot_dir(root):
    """``root`` holding plate/plate.####.png and element/el_%04d.exr (4 frames)."""
    for frame in FRAMES:
        write_plate_png(root / "plate" / f"plate.{frame:04d}.png")
        write_element_exr(root / "element" / f"el_{frame:04d}.exr", frame)
    return root


def make_comp(shot_dir, **changes) -> NukeComp:
    fields = dict(
        shot="sh010",
        frames=FRAMES,
        fps=Fraction(24000, 1001),
        format=Format(WIDTH, HEIGHT),
        ocio_config="ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4",
        working_space="ACEScg",
        plate=Footage(str(shot_dir / "plate" / "plate.####.png"), "sequence", FRAMES, Format(WIDTH, HEIGHT),
                      "sRGB Encoded Rec.709 (sRGB)"),
        element=Footage(str(shot_dir / "element" / "el_%04d.exr"), "sequence", FRAMES, Format(WIDTH, HEIGHT),
                        "ACEScg", premultiplied=True, vfxkey=True),
        placement=Placement(keys=(PlacementKey(1001, (0.0, 0.0), 0.0, (1.0, 1.0)),
                                  PlacementKey(1004, (30.0, -6.0), 15.0, (1.5, 1.5))),
                            center=(32.0, 18.0)),
        comp_write=str(shot_dir / "nuke" / "comp.####.exr"),
        compression="piz",
        mode="key",
        settings=(("screen", "auto"), ("despill", "1")),
        version="0.1.0",
    )
    fields.update(changes)
    return NukeComp(**fields)


KEY_SHOT_TOML = """\
[shot]
name = "sh010"
frames = "1001-1003"
fps = "24000/1001"
working_space = "ACEScg"

[plate]
path = "plate.png"

[element]
mode = "key"
input = "greenscreen/gs.####.png"

[placement]
scale = 0.75
[[placement.keys]]
frame = 1001
position = [20.0, 30.0]
[[placement.keys]]
frame = 1003
position = [44.0, 14.0]
rotation = 30.0

[outputs]
element = "render/sh010_el.####.exr"
comp = "render/sh010_comp.####.exr"
movie = "render/sh010_comp.mov"
nuke = "render/sh010.nk"
"""


def make_key_shot(folder, width=64, height=48):
    """A key-mode shot: green-screen PNGs 1001-1003 with a square subject, a still plate
    PNG, placement keys; returns the shot.toml path."""
    green = np.array([0.1, 0.7, 0.2], np.float32)
    for frame in FRAMES.frames[:3]:
        pixels = np.broadcast_to(green, (height, width, 3)).copy()
        pixels[16:32, 20 + frame - 1001:36 + frame - 1001] = (0.8, 0.5, 0.4)
        write_png(folder / "greenscreen" / f"gs.{frame}.png", pixels)
    write_plate_png(folder / "plate.png", 0.3, width, height)
    spec = folder / "shot.toml"
    spec.write_text(KEY_SHOT_TOML)
    return spec


def write_png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "uint8"))
    assert out.write_image(np.ascontiguousarray(pixels, np.float32))
    out.close()
