"""Steady alpha: boil on a locked-off noisy shot, lag and ghosting on a moving one.

1. **Static**: the bundled sample's figure (hair, a sheer scarf, a motion-blurred hand;
   samples/shot010/make_sample.py) at frame 1001, still, over the sample's screen, shot FRAMES
   times with new sensor noise each time at the keying benchmark's levels (read noise
   0.002, shot noise 4e-4 per linear unit; build_set.shoot), 8-bit sRGB. Boil is the mean
   over the image of |alpha_t - alpha_t-1|, over the frames after the first
   TEMPORAL_FRAMES (the keyer's filter then has its full window, as in any chunk but the
   shot's first frames). Every peer keys each frame as it would a still.
2. **Moving**: the bundled sample itself (samples/shot010/greenscreen, 10 frames: the figure drifts
   right 1.5 % of the frame a frame, the hair sways, the hand waves fast), with its exact
   alpha from make_sample.render_subject. Per-frame SAD, and the mean |alpha - truth|
   where the truth changed by more than 0.1 since the previous frame: lag or a ghost of
   the previous frame shows there first.
The keyer keys each sequence against the screen measured on its first frame, with
``--temporal`` 0 (off) and the strengths given, each frame given the previous input frames
as `vfxkey key` reads them.

Usage: python -m bench.keying.temporal [--strengths 0.5 1] [--frames 12] [--methods vfxkey Blender ...]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.keying.build_set import OUT
from bench.keying.peers import PEERS
from samples.shot010.make_sample import FIRST, HERE, make_green_screen, render_subject
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert, display_8bit
from vfxkey.matte import metrics
from vfxkey.matte.greenpost import TEMPORAL_FRAMES, Keyer, KeySettings, measure_screen
from vfxkey.synth.screens import composite_over_screen


def static_shot(count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``count`` 8-bit sRGB frames of the still figure, new noise each; and its alpha each frame."""
    alpha, premultiplied = render_subject(0.0, np.random.default_rng(FIRST))
    straight = premultiplied / np.maximum(alpha, 1e-6)[..., None]
    screen = make_green_screen()
    frames = [display_8bit(composite_over_screen(straight, alpha, screen, np.random.default_rng(100 + n),
                                                 spill=0.35, noise=0.002, shot_noise=4e-4)) for n in range(count)]
    return frames, [alpha] * count


def moving_shot() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The bundled sample's frames (8-bit sRGB) and their exact alpha."""
    import cv2

    frames, truths = [], []
    for index, path in enumerate(sorted((HERE / "greenscreen").glob("gs.*.png"))):
        frames.append(cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].copy())
        truths.append(render_subject(float(index), np.random.default_rng(FIRST + index))[0])
    return frames, truths


def key_sequence(frames: list[np.ndarray], strength: float) -> list[np.ndarray]:
    """vfxkey's alpha for each frame, keyed as `vfxkey key --temporal strength` keys a sequence."""
    linear = [convert(frame, DISPLAY_SPACE, WORKING_SPACE) for frame in frames]
    settings = KeySettings(temporal=strength)
    keyer = Keyer(settings, measure_screen(linear[0], settings))
    return [keyer.key(image, previous=linear[max(0, n - TEMPORAL_FRAMES):n][::-1]).alpha
            for n, image in enumerate(linear)]


def boil(alphas: list[np.ndarray]) -> float:
    steady = alphas[TEMPORAL_FRAMES:]
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(steady, steady[1:])]))


def changed_error(alphas: list[np.ndarray], truths: list[np.ndarray]) -> float:
    """Mean |alpha - truth| where the truth changed by more than 0.1 since the previous frame."""
    errors = [np.abs(a - t)[np.abs(t - before) > 0.1] for a, t, before in zip(alphas[1:], truths[1:], truths)]
    return float(np.mean(np.concatenate(errors)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.5, 1.0], help="--temporal values to measure")
    parser.add_argument("--frames", type=int, default=12, help="frames of the static shot")
    parser.add_argument("--methods", nargs="+", default=None, help="substrings of method names to run")
    args = parser.parse_args()
    console = Console(width=160)
    methods = {f"vfxkey --temporal {s:g}": (lambda frames, s=s: key_sequence(frames, s)) for s in [0.0, *args.strengths]}
    methods |= {name: (lambda frames, peer=peer: [peer(frame)[0] for frame in frames]) for name, peer in PEERS.items()}
    methods = {name: method for name, method in methods.items()
               if not args.methods or any(s.lower() in name.lower() for s in args.methods)}
    report = {}
    for shot, (frames, truths) in {"static": static_shot(args.frames), "moving": moving_shot()}.items():
        table = Table(title=f"{shot} shot, {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}")
        for column in ("method", "boil x1e3 (mean |a_t - a_t-1|)", "SAD per frame", "error where truth changed x1e3"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for name, method in methods.items():
            alphas = method(frames)
            row = {"boil": boil(alphas), "sad": float(np.mean([metrics.sad(a, t) for a, t in zip(alphas, truths)]))}
            if shot == "moving":
                row["changed"] = changed_error(alphas, truths)
            report.setdefault(shot, {})[name] = row
            table.add_row(name, f"{row['boil'] * 1e3:.3f}", f"{row['sad']:.2f}",
                          f"{row['changed'] * 1e3:.1f}" if "changed" in row else "")
        peers = [report[shot][name]["boil"] for name in PEERS if name in methods]
        if shot == "static" and peers:  # on the moving shot alpha changes with the picture: no boil target there
            table.add_row("target: boil <= steadiest peer's", f"{min(peers) * 1e3:.3f}", "", "", style="bold")
        console.print(table)
    out = OUT / "temporal.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
