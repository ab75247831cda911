"""The keying quality gate's figures, and its blessing (issue 25 item 4).

``tests/matte/test_keying_gate.py`` (marked ``shared_data``) builds the dev and
heldout_photos composites exactly as the benchmark does (bench/keying/build_set.py), keys
every case as ``vfxkey key`` keys a still, and checks each case's SAD, MSE, Gradient,
Connectivity and colour errors against ``tests/matte/keying_baseline.json`` (numbers only,
no data); and keys the three real green-screen frames of shared/data and checks their
summary statistics. A case may not get worse than its baseline by more than TOLERANCE
(relative) plus a small absolute slack; a better figure passes (bless it to lock it in).

    python -m bench.keying.gate --bless     # after a deliberate change: rewrite the baseline

Blessing records whatever the keyer does now, so bless only a change whose benchmark
figures (python -m bench.keying.run) you have looked at.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.keying.build_set import BUILDERS, REPO, available_sets, read_rgb8
from bench.keying.run import ERRORS, vfxkey_keyer

BASELINE = REPO / "tests" / "matte" / "keying_baseline.json"
GREENSCREEN_FRAMES = REPO / ".." / "shared" / "data" / "greenscreen_frames"
SETS = ("dev", "heldout_photos")
METRICS = ("sad", "mse", "gradient", "connectivity", "colour")  # bench/keying/run.py's, at its display scale
TOLERANCE = 0.03  # relative: a case's figure may grow this much over its baseline
SLACK = {"sad": 0.02, "mse": 0.01, "gradient": 2e-4, "connectivity": 0.02, "colour": 0.02}  # absolute, display scale
FRAME_SLACK = 0.003  # the real frames' summary statistics: absolute


def case_figures(name: str) -> Iterator[tuple[str, dict[str, float]]]:
    """(case name, {metric: value at display scale}) for every case of set ``name``, built in memory."""
    for case in BUILDERS[name]():
        alpha, premultiplied = vfxkey_keyer(case.image)
        yield case.name, {m: float(ERRORS[m][0](alpha, premultiplied, case) * ERRORS[m][1]) for m in METRICS}


def frame_figures(path: Path) -> dict[str, float]:
    """Summary statistics of a real green-screen frame keyed as `vfxkey key` keys a still:
    mean alpha, the shares of opaque (>= 0.98), clear (<= 0.02) and soft pixels, and the
    mean premultiplied R, G, B (scene-linear)."""
    alpha, premultiplied = vfxkey_keyer(read_rgb8(path))
    return {"mean_alpha": float(alpha.mean()), "opaque": float(np.mean(alpha >= 0.98)),
            "clear": float(np.mean(alpha <= 0.02)), "soft": float(np.mean((alpha > 0.02) & (alpha < 0.98))),
            **{f"mean_{c}": float(premultiplied[..., i].mean()) for i, c in enumerate("rgb")}}


def worse(figure: float, baseline: float, metric: str) -> bool:
    """Whether a case's ``figure`` is worse than its ``baseline`` beyond the tolerance."""
    return figure > baseline * (1.0 + TOLERANCE) + SLACK[metric]


def bless() -> dict:
    """Measure everything now and write BASELINE."""
    baseline = {"sets": {name: dict(case_figures(name)) for name in SETS if name in available_sets()},
                "greenscreen_frames": {p.name: frame_figures(p) for p in sorted(GREENSCREEN_FRAMES.glob("*.png"))}}
    BASELINE.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")
    return baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bless", action="store_true", help=f"rewrite {BASELINE.relative_to(REPO)}")
    args = parser.parse_args()
    if args.bless:
        baseline = bless()
        print(f"wrote {BASELINE}: " + ", ".join(f"{n} {len(c)} cases" for n, c in baseline["sets"].items())
              + f", {len(baseline['greenscreen_frames'])} frames")
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
