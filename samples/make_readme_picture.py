"""Make docs/sample_shot010.png, the README's picture of the sample job's output.

Renders samples/shot010 in a temporary copy with `vfxkey render`, then lays out frame 1005
as three panels: the green-screen frame as shot | the keyed element over a checkerboard |
the comp over the plate, each through the review display and view like the previews.

    python samples/make_readme_picture.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from vfxkey.comp.over import checkerboard, over
from vfxkey.io.colour import display_8bit
from vfxkey.io.read import open_source

ROOT = Path(__file__).resolve().parent.parent
FRAME = 1005
GAP = 8  # white pixels between panels


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot010"
        shutil.copytree(ROOT / "samples" / "shot010", shot, ignore=shutil.ignore_patterns("render"))
        subprocess.run([sys.executable, "-c", "from vfxkey.cli import main; main()", "render",
                        str(shot / "shot.toml"), "-q"], check=True)
        screen = open_source(str(shot / "greenscreen" / "gs.####.png")).read(FRAME)
        element = open_source(str(shot / "render" / "shot010_element.####.exr")).read(FRAME).premultiplied_rgba()
        comp = open_source(str(shot / "render" / "shot010_comp.####.exr")).read(FRAME).premultiplied_rgba()
    height, width = comp.shape[:2]
    panels = [display_8bit(screen.rgb), display_8bit(over(element, checkerboard(height, width))),
              display_8bit(comp[..., :3])]
    gap = np.full((height, GAP, 3), 255, np.uint8)
    strip = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    target = ROOT / "docs" / "sample_shot010.png"
    if not oiio.ImageBuf(np.ascontiguousarray(strip)).write(str(target)):
        raise SystemExit(f"{target}: {oiio.geterror()}")
    print(f"wrote {target} ({strip.shape[1]}x{strip.shape[0]})")


if __name__ == "__main__":
    main()
