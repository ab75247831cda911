"""Keying speed and memory: `vfxkey key` vs the bundled `oiiotool` on a 1920x1080 sequence.

1. Make a 1920x1080 8-bit sRGB PNG sequence (gs.1001.png ...): an alphamatting dev subject,
   scaled to the frame and sliding a little each frame, shot over a realistic green screen
   (bench/keying/build_set.py, new noise per frame).
2. Time `oiiotool` (next to the venv's python) converting the frames to half-float zip EXR,
   and `vfxkey key` keying the same frames to premultiplied half-float zip EXR, in one run.
3. Peak RSS of `vfxkey key` on 5 vs 20 frames, from os.wait4 on each child: it must not
   grow with the sequence length (frames are streamed).
Target (issue 3): vfxkey / oiiotool <= 2x, peak RSS flat.

Usage: python -m bench.keying.speed [--frames 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from bench.keying.build_set import DATA, DEV_GREENS, OUT, shoot
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert

FOLDER = OUT.parent / "keying_speed"
WIDTH, HEIGHT, FIRST = 1920, 1080, 1001
BIN = Path(sys.executable).parent
SUBJECT = "GT08"


def make_frames(count: int) -> Path:
    """Write gs.1001.png ... (1920x1080 8-bit sRGB) once; return the folder."""
    frames = FOLDER / "frames"
    if len(list(frames.glob("gs.*.png"))) >= count:
        return frames
    frames.mkdir(parents=True, exist_ok=True)
    alpha = cv2.imread(str(DATA / "alpha" / f"{SUBJECT}.png"))[..., 0].astype(np.float32) / 255
    fg = convert(cv2.imread(str(DATA / "fg_estimated" / f"{SUBJECT}.png"))[..., ::-1], DISPLAY_SPACE, WORKING_SPACE)
    scale = HEIGHT / alpha.shape[0]
    size = (round(alpha.shape[1] * scale), HEIGHT)
    alpha, fg = cv2.resize(alpha, size, interpolation=cv2.INTER_CUBIC), cv2.resize(fg, size, interpolation=cv2.INTER_CUBIC)
    for index in range(count):
        # The subject slides 12 px a frame across a full-HD screen.
        x = (WIDTH - size[0]) // 2 - 60 + 12 * index
        frame_alpha = np.zeros((HEIGHT, WIDTH), np.float32)
        frame_fg = np.zeros((HEIGHT, WIDTH, 3), np.float32)
        frame_alpha[:, x : x + size[0]] = np.clip(alpha, 0, 1)
        frame_fg[:, x : x + size[0]] = np.clip(fg, 0, 1)
        image, _ = shoot(frame_fg, frame_alpha, DEV_GREENS[0], np.random.default_rng(index))
        cv2.imwrite(str(frames / f"gs.{FIRST + index:04d}.png"), image[..., ::-1])
    return frames


def run_measured(command: list[str]) -> tuple[float, float, float]:
    """Run a command; return (wall seconds, CPU seconds, peak RSS in MiB) of that child alone.

    CPU time (user + system) is reported beside wall time because the wall clock of a
    shared machine includes waiting for other processes."""
    log = FOLDER / "stderr.log"  # progress bars and messages; shown only if the command fails
    with open(log, "w") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}\n{log.read_text()[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux reports KiB


def key_command(frames: Path, count: int, out: Path) -> list[str]:
    """`vfxkey key` as a user runs it."""
    return [str(BIN / "vfxkey"), "key", str(frames / "gs.####.png"), "-o", str(out / "gs.####.exr"),
            "--frames", f"{FIRST}-{FIRST + count - 1}"]


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    frames = make_frames(max(args.frames, 20))
    last = FIRST + args.frames - 1
    oiio = run_measured([
        # oiiotool reads "#" as four digits, so its patterns spell the padding as %04d
        str(BIN / "oiiotool"), "--frames", f"{FIRST}-{last}", str(frames / "gs.%04d.png"),
        "-d", "half", "--compression", "zip", "-o", str(fresh(FOLDER / "oiiotool") / "gs.%04d.exr"),
    ])
    command = key_command(frames, args.frames, fresh(FOLDER / "vfxkey"))
    key = run_measured(command)
    rss = {count: run_measured(key_command(frames, count, fresh(FOLDER / f"rss{count}")))[2] for count in (5, 20)}

    table = Table(title=f"Keying speed, {args.frames} frames 1920x1080 8-bit PNG -> EXR")
    for column in ("tool", "wall s / frame", "CPU s / frame", "peak RSS MiB"):
        table.add_column(column, justify="right" if column != "tool" else "left")
    for label, (wall, cpu, peak) in (("oiiotool (convert only)", oiio), ("vfxkey key", key)):
        table.add_row(label, f"{wall / args.frames:.3f}", f"{cpu / args.frames:.3f}", f"{peak:.0f}")
    table.add_row("ratio vfxkey / oiiotool (target <= 2)", f"{key[0] / oiio[0]:.2f}", f"{key[1] / oiio[1]:.2f}", "", style="bold")
    table.add_row("vfxkey peak RSS, 5 vs 20 frames (must not grow)", "", "", f"{rss[5]:.0f} vs {rss[20]:.0f}", style="bold")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
