"""Small real shots for the shot and farm tests: green-screen PNG frames, a plate, a shot.toml."""

from pathlib import Path

import numpy as np
import OpenImageIO as oiio

SCREEN_SRGB = np.array([62, 166, 80]) / 255.0
SUBJECT_SRGB = np.array([200, 140, 110]) / 255.0


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "uint8")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(np.ascontiguousarray(pixels, dtype=np.float32))
    out.close()
    return path


def green_screen_frame(width: int, height: int, index: int, noise: float = 0.0) -> np.ndarray:
    """(H, W, 3) sRGB-encoded: a soft-edged disc of subject moving right over a green screen."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = height / 4
    distance = np.hypot(x - width / 3 - index * width / 40, y - height / 2)
    alpha = np.clip(radius - distance + 0.5, 0.0, 1.0)[..., None]
    pixels = alpha * SUBJECT_SRGB + (1 - alpha) * SCREEN_SRGB
    if noise:
        pixels = pixels + np.random.default_rng(index).normal(0.0, noise, pixels.shape)
    return np.clip(pixels, 0.0, 1.0).astype(np.float32)


def make_shot(folder: Path, *, frames: int = 6, width: int = 128, height: int = 80, noise: float = 0.0,
              extra: str = "") -> Path:
    """A key-mode shot in ``folder``: frames 1001.., a gradient plate, placement keys; returns shot.toml."""
    for index in range(frames):
        write_png(folder / "plate_in" / f"gs.{1001 + index}.png", green_screen_frame(width, height, index, noise))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    write_png(folder / "plate.png", np.stack([x / width, y / height, np.full_like(x, 0.3)], axis=-1))
    spec = folder / "shot.toml"
    spec.write_text(SHOT_TOML.format(last=1000 + frames, cx=width / 2, cy=height / 2) + extra)
    return spec


SHOT_TOML = """\
[shot]
name = "testshot"
frames = "1001-{last}"
fps = "24000/1001"

[plate]
path = "plate.png"

[element]
mode = "key"
input = "plate_in/gs.####.png"
despill = 1.0

[placement]
scale = 0.9
[[placement.keys]]
frame = 1001
position = [{cx}, {cy}]
[[placement.keys]]
frame = 1003
position = [{cx}, {cy}]
rotation = 0.0
[[placement.keys]]
frame = 1006
position = [{cx}, {cy}]
rotation = 3.0

[outputs]
element = "render/el.####.exr"
comp = "render/comp.####.exr"
preview = "render/preview/comp.####.png"
movie = "render/comp.mov"
qc_report = "render/qc.html"
"""


def read_exr(path):
    """(pixels, attributes) of an EXR, read with OIIO."""
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    pixels = image.read_image("float")
    attributes = {a.name: a.value for a in image.spec().extra_attribs}
    image.close()
    return pixels, attributes


def exr_contents(folder: Path) -> dict[str, tuple[bytes, dict]]:
    """Every EXR below ``folder`` by relative path: its half pixels' bits and its metadata
    but the write time (``DateTime``, which OpenEXR files carry)."""
    contents = {}
    for path in sorted(folder.rglob("*.exr")):
        image = oiio.ImageInput.open(str(path))
        assert image is not None, oiio.geterror()
        bits = image.read_image("half").tobytes()
        attributes = {a.name: a.value for a in image.spec().extra_attribs if a.name != "DateTime"}
        image.close()
        contents[str(path.relative_to(folder))] = (bits, attributes)
    return contents
