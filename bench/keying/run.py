"""Keying benchmark: vfxkey's Keyer against ffmpeg, OpenCV, pymatting and Blender on known alpha.

Builds the test sets if they are missing (bench/keying/build_set.py), keys every case with
every method, and prints one table per set: alpha errors SAD, MSE, Gradient, Connectivity
(vfxkey.matte.metrics, whole image), the mean absolute error of premultiplied linear colour
over the subject and over its soft band alone (0.02 < true alpha < 0.98: hair, veils,
blurred edges), and seconds per image. ``--h264`` keys every case after an H.264 4:2:0
round trip (bench/keying/h264.py: libx264, yuv420p, BT.709, crf 18), against the same truth:
every method is given the same 8-bit decode, and vfxkey's keyer is also run on the movie
as vfxkey's own reader decodes it (float, bicubic chroma), in a row of its own.
Also the issue-3 target (half the best peer on every
error) and the keyer's ratio to the best peer, and reference rows, never peers: the errors
of a perfect unmix against the true screen, which reads spill as transparency (no
image-only keyer can tell the two apart on a sheer region with no opaque neighbour of its
colour); after H.264, the codec's floor: a perfect key of the decoded image (true alpha,
true screen, true spill), whose colour error is the decode's own error over the subject.
Results go to bench/out/keying/results.json. Blender's Keying node is a peer where its own
environment is (bench/keying/requirements-blender.txt; otherwise the run says it left it out).

Usage (from the repo root):
    python -m bench.keying.run [--set dev heldout heldout_photos] [--methods vfxkey ffmpeg ...] [--limit N] [--save] [--h264]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from bench.keying.build_set import BUILDERS, OUT, available_sets, build, load_case
from bench.keying.h264 import decode_as_vfxkey, decode_rgb24, encode
from bench.keying.peers import BLENDER_PYTHON, PEERS
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.matte import metrics

KEYER = "vfxkey Keyer"
OWN_READER = "vfxkey Keyer, movie read by vfxkey"  # --h264 only: not the shared 8-bit decode
# Not methods, printed for reference, never peers. The image unmixed against its true
# screen, spill read as transparency (what any keyer that sees only the image gets where no
# opaque pixel of the subject's colour is near, e.g. a sheer veil); after H.264, a perfect
# key of each decode: the truth plus the decode's own error (no keyer that keys the decoded
# image without restoring it can do better on colour).
REFERENCE = "reference: perfect unmix, true screen"
FLOORS = {"reference: perfect key of the 8-bit decode": KEYER, "reference: perfect key of vfxkey's decode": OWN_READER}


def vfxkey_keyer(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vfxkey's keyer as `vfxkey key` runs it on a still: sRGB PNG linearised, screen found automatically."""
    return key_linear(convert(image, DISPLAY_SPACE, WORKING_SPACE))


def key_linear(linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vfxkey's keyer on a scene-linear image, screen found automatically."""
    from vfxkey.matte.greenpost import Keyer, KeySettings

    result = Keyer(KeySettings(screen="auto")).key(linear)
    return result.alpha, result.premultiplied_rgba()[..., :3]


METHODS = {KEYER: vfxkey_keyer, **PEERS}
ERRORS = {  # name -> (function of (alpha, premultiplied, case), scale for display, header)
    "sad": (lambda a, p, c: metrics.sad(a, c.alpha), 1, "SAD"),
    "mse": (lambda a, p, c: metrics.mse(a, c.alpha), 1e3, "MSE x1e3"),
    "gradient": (lambda a, p, c: metrics.gradient_error(a, c.alpha), 1, "Grad"),
    "connectivity": (lambda a, p, c: metrics.connectivity_error(a, c.alpha), 1, "Conn"),
    "colour": (lambda a, p, c: metrics.colour_error(p, c.premultiplied, c.alpha), 1e3, "Colour MAE x1e3"),
    "colour_soft": (lambda a, p, c: metrics.colour_error(p, c.premultiplied, c.alpha, region=soft_band(c.alpha)),
                    1e3, "soft-band colour x1e3"),
}


def soft_band(alpha: np.ndarray) -> np.ndarray:
    """The pixels whose true alpha is soft: 0.02 < alpha < 0.98."""
    return (alpha > 0.02) & (alpha < 0.98)


def evaluate(paths: list[Path], methods: list[str], save: Path | None, h264: bool = False) -> dict[str, dict]:
    """Key every case with every method (after an H.264 round trip with ``h264``); per-case errors and seconds."""
    own_reader = h264 and KEYER in methods
    names = [*methods, *([OWN_READER] if own_reader else []), REFERENCE, *(FLOORS if h264 else [])]
    results: dict[str, dict] = {name: {"cases": {}} for name in names}

    def record(name: str, alpha: np.ndarray, premultiplied: np.ndarray, seconds: float = 0.0) -> None:
        row = {key: fn(alpha, premultiplied, case) for key, (fn, _, _) in ERRORS.items()}
        results[name]["cases"][case.name] = {**row, "seconds": seconds}

    for path in paths:
        case = load_case(path)
        image, height, width = case.image, *case.alpha.shape
        record(REFERENCE, case.unmixed_alpha, case.unmixed_premultiplied)
        if h264:
            movie = encode(case.image)
            image = decode_rgb24(movie, height, width)
            original = convert(case.image, DISPLAY_SPACE, WORKING_SPACE)
            decodes = {KEYER: convert(image, DISPLAY_SPACE, WORKING_SPACE), OWN_READER: decode_as_vfxkey(movie, height, width)}
            for floor, decode in FLOORS.items():
                record(floor, case.alpha, case.premultiplied + decodes[decode] - original)
            if own_reader:
                start = time.perf_counter()
                record(OWN_READER, *key_linear(decodes[OWN_READER]), time.perf_counter() - start)
        for name in methods:
            start = time.perf_counter()
            alpha, premultiplied = METHODS[name](image)
            record(name, alpha, premultiplied, time.perf_counter() - start)
            if save:
                folder = save / name.replace(" ", "_")
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{case.name}.alpha.png"), np.round(alpha * 255).astype(np.uint8))
        print(f"  {case.name}: " + ", ".join(f"{n.split()[0]} SAD {results[n]['cases'][case.name]['sad']:.2f}" for n in methods))
    for result in results.values():
        rows = result["cases"].values()
        result["mean"] = {key: float(np.mean([row[key] for row in rows])) for key in [*ERRORS, "seconds"]}
    return results


def print_table(console: Console, title: str, results: dict[str, dict], target: float = 0.5) -> None:
    """The mean of every error per method; the target (``target`` times the best peer's) and the keyer's ratio."""
    table = Table(title=title)
    table.add_column("method")
    for _, _, header in ERRORS.values():
        table.add_column(header, justify="right")
    table.add_column("s / image", justify="right")
    references, keyers = [REFERENCE, *FLOORS], [KEYER, OWN_READER]
    for name, result in results.items():
        mean = result["mean"]
        seconds = "" if name in references else f"{mean['seconds']:.2f}"
        table.add_row(name, *(f"{mean[key] * scale:.4g}" for key, (_, scale, _) in ERRORS.items()), seconds,
                      style="dim" if name in references else None)
    peers = [name for name in results if name not in references + keyers]
    if peers:
        best = {key: min(results[name]["mean"][key] for name in peers) for key in ERRORS}
        table.add_row(f"target: {target:g} x the best peer", *(f"{best[key] * scale * target:.4g}" for key, (_, scale, _) in ERRORS.items()), "", style="bold")
        for name in [*keyers, *FLOORS]:
            if name in results:
                ratio = {key: results[name]["mean"][key] / best[key] if best[key] else float("inf") for key in ERRORS}
                table.add_row(f"{name.removeprefix('reference: ')} / best peer (target <= {target:g})",
                              *(f"{ratio[key]:.2f}" for key in ERRORS), "", style="bold" if name in keyers else "dim")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", nargs="+", choices=list(BUILDERS), default=available_sets(),
                        help="default: every set available here (heldout_photos once shared/data has them)")
    parser.add_argument("--methods", nargs="+", default=None, help="substrings of method names to run")
    parser.add_argument("--limit", type=int, default=None, help="first N cases of each set only")
    parser.add_argument("--save", action="store_true", help="write each method's alpha PNGs to bench/out/keying/<set>/pred/")
    parser.add_argument("--h264", action="store_true", help="key each case after an H.264 4:2:0 round trip (crf 18)")
    args = parser.parse_args()
    methods = [name for name in METHODS if not args.methods or any(s.lower() in name.lower() for s in args.methods)]
    console = Console(width=160)
    if not BLENDER_PYTHON.exists():
        console.print(f"Blender's Keying node left out: no {BLENDER_PYTHON} (bench/keying/requirements-blender.txt)")
    report = {}
    for set_name in args.set:
        paths = build(set_name)[: args.limit]
        console.print(f"[bold]{set_name}[/]: {len(paths)} cases")
        report[set_name] = evaluate(paths, methods, OUT / set_name / "pred" if args.save else None, args.h264)
        variant = ", after H.264 4:2:0 crf 18" if args.h264 else ""
        print_table(console, f"Keying, {set_name} set ({len(paths)} cases{variant}, whole-image errors)", report[set_name],
                    target=0.7 if args.h264 else 0.5)
    out = OUT / ("results_h264.json" if args.h264 else "results.json")
    out.write_text(json.dumps(report, indent=1))
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
