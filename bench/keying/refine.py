"""Which refinement for GreenPost's uncertain band: vfxkey's guided filter or pymatting's?

Issue 3 asks for matting-level refinement "with pymatting or your own, whichever measures
better". This keys both test sets with vfxkey's Keyer three ways, changing only step 4
(refinement of the band between surely screen and surely opaque):
- ``guided filter``: the Keyer as shipped (``greenpost._refine``, a colour guided filter
  fitted at 1/3 resolution);
- ``pymatting closed-form``: Levin et al.'s closed-form matting (``estimate_alpha_cf``) on
  a trimap made from the unmixed alpha: unknown where it is soft, grown by 3 pixels,
  else its rounded value; the image as the Keyer sees it (scene-linear, clipped to 0..1);
- ``none``: no refinement.
Everything else, the screen, plate, unmixing, clip white and despill, is the same code.
Prints one table per set (whole-image errors, as bench/keying/run.py) with seconds per image.

Usage (from the repo root): python -m bench.keying.refine [--set dev heldout heldout_photos] [--limit N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import cv2
import numpy as np
from pymatting import estimate_alpha_cf
from rich.console import Console
from rich.table import Table

from bench.keying.build_set import BUILDERS, available_sets, build, load_case
from bench.keying.run import ERRORS, vfxkey_keyer
from vfxkey.matte import greenpost

GUIDED = greenpost._refine


def closed_form(rgb: np.ndarray, alpha: np.ndarray, radius: int) -> np.ndarray:
    """Step 4 by pymatting's closed-form matting on a trimap from the unmixed alpha."""
    soft = ((alpha > 0.0) & (alpha < 1.0)).astype(np.uint8)
    reach = 3  # a band grown 3 px; grown by the guided filter's reach (21 px) it scores far worse
    unknown = cv2.dilate(soft, np.ones((reach, reach), np.uint8)).astype(bool)
    trimap = np.where(unknown, 0.5, np.round(alpha)).astype(np.float64)
    if not unknown.any() or not (trimap == 1.0).any() or not (trimap == 0.0).any():
        return alpha  # closed-form needs some known subject and screen
    with contextlib.redirect_stdout(io.StringIO()):  # its solver prints preconditioner warnings
        refined = estimate_alpha_cf(np.clip(rgb, 0.0, 1.0).astype(np.float64), trimap)
    return np.clip(refined, 0.0, 1.0).astype(np.float32)


VARIANTS = {
    "guided filter (shipped)": GUIDED,
    "pymatting closed-form": closed_form,
    "none": lambda rgb, alpha, radius: alpha,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", nargs="+", choices=list(BUILDERS), default=available_sets())
    parser.add_argument("--limit", type=int, default=None, help="first N cases of each set only")
    args = parser.parse_args()
    console = Console(width=140)
    for set_name in args.set:
        cases = [load_case(path) for path in build(set_name)[: args.limit]]
        table = Table(title=f"Refinement of the uncertain band, {set_name} set ({len(cases)} cases)")
        table.add_column("step 4")
        for _, _, header in ERRORS.values():
            table.add_column(header, justify="right")
        table.add_column("s / image", justify="right")
        for name, refine in VARIANTS.items():
            greenpost._refine = refine
            rows, seconds = [], []
            for case in cases:
                start = time.perf_counter()
                alpha, premultiplied = vfxkey_keyer(case.image)
                seconds.append(time.perf_counter() - start)
                rows.append([fn(alpha, premultiplied, case) for fn, _, _ in ERRORS.values()])
            mean = np.mean(rows, axis=0)
            table.add_row(name, *(f"{m * scale:.4g}" for m, (_, scale, _) in zip(mean, ERRORS.values())),
                          f"{np.mean(seconds):.2f}")
        greenpost._refine = GUIDED
        console.print(table)


if __name__ == "__main__":
    main()
