"""Make ``samples/generated/``: an element generated on green by the toy model, keyed and comped over the plate.

Runs ``vfxkey generate`` with the toy test/demo model (``samples/models/toy-ldm``) and its
matting head, exactly as a user would::

    vfxkey generate --model samples/models/toy-ldm --matte-head samples/models/toy-ldm-head.safetensors \\
        --prompt "a yellow ball with hair" --key green --seed 1 --frames 1001-1004 --size 64x64 \\
        --steps 20 --guidance 5 \\
        --temporal follow --fg-region "1001:0.35,0.5,0.25,0.25;1004:0.65,0.5,0.25,0.25" \\
        -o samples/generated/element.####.exr --save-screen samples/generated/screen.####.png

then puts each premultiplied EXR over the plate (the centre square of ``samples/shot010/plate.png``,
area-resized to 64x64) with :func:`vfxkey.comp.over.over` and writes ``comp.####.png``.
TKG-DM's green direction is measured with this model's own VAE (``--key-direction vae``,
the default; SD1.5's published sign pattern does not fit this VAE: ``bench/generate_quality.py``
measures both), and the sampler is DDIM, the default (deterministic). The frames are the same
on every run. Re-run with ``python samples/make_generated_sample.py``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vfxkey.cli import main
from vfxkey.comp.over import over
from vfxkey.io.read import open_source
from vfxkey.io.write import write_preview_png

HERE = Path(__file__).resolve().parent
OUT = HERE / "generated"
FRAMES = range(1001, 1005)
SIZE = 64


def generate() -> None:
    main(args=[
        "generate", "--model", str(HERE / "models" / "toy-ldm"),
        "--matte-head", str(HERE / "models" / "toy-ldm-head.safetensors"),
        "--prompt", "a yellow ball with hair", "--key", "green", "--seed", "1", "--frames", f"{FRAMES[0]}-{FRAMES[-1]}",
        "--size", f"{SIZE}x{SIZE}", "--steps", "20", "--guidance", "5",
        "--temporal", "follow",
        "--fg-region", "1001:0.35,0.5,0.25,0.25;1004:0.65,0.5,0.25,0.25", "--overwrite",
        "-o", str(OUT / "element.####.exr"), "--save-screen", str(OUT / "screen.####.png"),
    ], prog_name="vfxkey", standalone_mode=False)


def plate() -> np.ndarray:
    """The plate's centre square at SIZE x SIZE, scene-linear."""
    rgb = open_source(str(HERE / "shot010" / "plate.png")).read(1).rgb
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return cv2.resize(rgb[top:top + side, left:left + side], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def make() -> None:
    generate()
    background = plate()
    for frame in FRAMES:
        element = open_source(str(OUT / f"element.{frame}.exr")).read(1)
        write_preview_png(OUT / f"comp.{frame}.png", over(element.premultiplied_rgba(), background))


if __name__ == "__main__":
    make()
