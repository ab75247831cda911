"""Keying speed and memory: `vfxkey key` vs the bundled `oiiotool` on a 1920x1080 sequence.

1. Make a 1920x1080 8-bit sRGB PNG sequence (gs.1001.png ...): an alphamatting dev subject,
   scaled to the frame and sliding a little each frame, shot over a realistic green screen
   (bench/keying/build_set.py, new noise per frame).
2. Time `oiiotool` (next to the venv's python) converting the frames to half-float zip EXR,
   and `vfxkey key` keying the same frames to premultiplied half-float zip EXR, in one run:
   each on 5 and on 20 frames, the fastest of --repeat runs. Per frame of the long run
   includes start-up (imports: about 0.5 s on an idle machine); the difference between the
   runs over 15 gives the cost of one more frame, which is what a long shot pays.
3. Peak RSS of each run, from os.wait4 on each child: vfxkey's must not grow with the
   sequence length (frames are streamed).
Target (issues 3 and 12): vfxkey / oiiotool <= 2x with start-up, peak RSS flat.

``--paired N`` (issue 25) runs, N rounds in turn, oiiotool, ``vfxkey key`` of this checkout and,
with ``--baseline DIR``, ``vfxkey key`` of another checkout (its package first on PYTHONPATH),
each on the same --frames frames, and prints the medians of each run's wall, CPU and peak
memory and of the ratios taken round by round (a shared machine's speed drifts: a ratio of
runs side by side holds where absolute times do not). It then checks that both vfxkeys
wrote the same pixels and metadata (a hash of each EXR's half-float pixels and of its
vfxkey:* attributes but the version). Target (issue 25): wall <= 1.5x, CPU <= 2.0x,
peak <= 4x oiiotool's.

Both tools are given ``--threads`` (default: the CPUs this process may use). Without it
an OMP_NUM_THREADS in the environment (1 in some shells) bounds vfxkey, which follows it,
and not oiiotool, which uses every core.

Usage: python -m bench.keying.speed [--frames 24] [--repeat 2] [--threads N]
       python -m bench.keying.speed --frames 12 --paired 5 [--baseline ../main] [--threads N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
from rich.console import Console
from rich.table import Table

from bench.keying.build_set import DATA, DEV_GREENS, OUT, REPO, photo_foreground, read_rgb8, shoot

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
    alpha = read_rgb8(DATA / "alpha" / f"{SUBJECT}.png")[..., 0].astype(np.float32) / 255
    fg = photo_foreground(DATA, f"{SUBJECT}.png", alpha)
    scale = HEIGHT / alpha.shape[0]
    size = (round(alpha.shape[1] * scale), HEIGHT)
    alpha, fg = cv2.resize(alpha, size, interpolation=cv2.INTER_CUBIC), cv2.resize(fg, size, interpolation=cv2.INTER_CUBIC)
    # The subject slides 12 px a frame across a full-HD screen, back and forth between
    # 60 px left of centre and the right edge.
    start = (WIDTH - size[0]) // 2 - 60
    travel = WIDTH - size[0] - start
    for index in range(count):
        step = (12 * index) % (2 * travel)
        x = start + (step if step <= travel else 2 * travel - step)
        frame_alpha = np.zeros((HEIGHT, WIDTH), np.float32)
        frame_fg = np.zeros((HEIGHT, WIDTH, 3), np.float32)
        frame_alpha[:, x : x + size[0]] = np.clip(alpha, 0, 1)
        frame_fg[:, x : x + size[0]] = np.clip(fg, 0, 1)
        image = shoot(frame_fg, frame_alpha, DEV_GREENS[0], np.random.default_rng(index))[0]
        cv2.imwrite(str(frames / f"gs.{FIRST + index:04d}.png"), image[..., ::-1])
    return frames


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run a command; return (wall seconds, CPU seconds, peak RSS in MiB) of that child alone.

    CPU time (user + system) is reported beside wall time because the wall clock of a
    shared machine includes waiting for other processes. The peak is read by
    ``/usr/bin/time`` where it exists: a child forked from this process (NumPy, OpenCV
    and OIIO loaded: about 240 MiB) counts this process's memory in its own peak until it
    execs, which hid oiiotool's (about 110 MiB) under it."""
    log, peak_file = FOLDER / "stderr.log", FOLDER / "peak.txt"  # the log is shown only if the command fails
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(peak_file)] if Path("/usr/bin/time").exists() else []
    with open(log, "w") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen([*timer, *command], stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}\n{log.read_text()[-2000:]}")
    peak_kib = int(peak_file.read_text().split()[-1]) if timer else usage.ru_maxrss  # Linux reports KiB
    return seconds, usage.ru_utime + usage.ru_stime, peak_kib / 1024


def key_command(frames: Path, count: int, out: Path, threads: int) -> list[str]:
    """`vfxkey key` as a user runs it, on ``threads`` threads (given, so that an
    OMP_NUM_THREADS in the environment, which vfxkey follows and oiiotool does not, cannot
    give the two tools different counts)."""
    return [str(BIN / "vfxkey"), "key", str(frames / "gs.####.png"), "-o", str(out / "gs.####.exr"),
            "--frames", f"{FIRST}-{FIRST + count - 1}", "--threads", str(threads)]


SHORT = 5  # frames in the short run; the long run minus it gives the cost of an extra frame


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def oiiotool_command(frames: Path, count: int, out: Path, threads: int) -> list[str]:
    """The bundled oiiotool converting the same frames to half-float zip EXR on ``threads`` threads."""
    # oiiotool reads "#" as four digits, so its patterns spell the padding as %04d
    return [str(BIN / "oiiotool"), "--threads", str(threads), "--frames", f"{FIRST}-{FIRST + count - 1}", str(frames / "gs.%04d.png"),
            "-d", "half", "--compression", "zip", "-o", str(out / "gs.%04d.exr")]


def best_of(repeat: int, command: Callable[[int, Path], list[str]], count: int, folder: Path) -> tuple[float, float, float]:
    """(wall, CPU, peak RSS) of the fastest of ``repeat`` runs of ``command`` on ``count`` frames."""
    return min(run_measured(command(count, fresh(folder))) for _ in range(repeat))


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that makes ``vfxkey`` import its package from ``checkout``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout.resolve()), os.environ.get("PYTHONPATH", "")])}


def pixel_hashes(folder: Path) -> dict[str, str]:
    """Per EXR in ``folder``: a hash of its half-float pixels and its vfxkey:* attributes (the version aside)."""
    hashes = {}
    for path in sorted(folder.glob("*.exr")):
        image = oiio.ImageBuf(str(path))
        attributes = {a.name: str(a.value) for a in image.spec().extra_attribs
                      if a.name.startswith("vfxkey:") and a.name != "vfxkey:version"}
        digest = hashlib.sha256(image.get_pixels(oiio.HALF).tobytes())
        digest.update(json.dumps(attributes, sort_keys=True).encode())
        hashes[path.name] = digest.hexdigest()
    return hashes


def paired(frames: Path, count: int, rounds: int, baseline: Path | None, threads: int) -> None:
    """``rounds`` rounds of oiiotool, this checkout's vfxkey and the ``baseline`` checkout's, in turn."""
    tools = {"oiiotool": (lambda out: oiiotool_command(frames, count, out, threads), None),
             "vfxkey": (lambda out: key_command(frames, count, out, threads), checkout_env(REPO))}
    if baseline is not None:
        tools["vfxkey baseline"] = (lambda out: key_command(frames, count, out, threads), checkout_env(baseline))
    runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in tools}
    for _ in range(rounds):
        for label, (command, env) in tools.items():
            runs[label].append(run_measured(command(fresh(FOLDER / label.replace(" ", "_"))), env))
            print(f"{label}: wall {runs[label][-1][0]:.2f} s, CPU {runs[label][-1][1]:.2f} s, "
                  f"peak {runs[label][-1][2]:.0f} MiB", flush=True)
    table = Table(title=f"{count} frames 1920x1080 8-bit PNG -> half zip EXR, whole process, {threads} threads, "
                        f"{rounds} rounds in turn: medians")
    for column in ("", "wall s", "CPU s", "peak MiB"):
        table.add_column(column, justify="right" if column else "left")
    for label, measured in runs.items():
        table.add_row(label, *(f"{np.median([run[i] for run in measured]):.2f}" for i in range(3)))
    pairs = [("vfxkey", "oiiotool")] + ([("vfxkey", "vfxkey baseline"), ("vfxkey baseline", "oiiotool")] if baseline else [])
    for a, b in pairs:
        ratios = [[x[i] / y[i] for x, y in zip(runs[a], runs[b])] for i in range(3)]
        table.add_row(f"{a} / {b}", *(f"{np.median(r):.2f} ({min(r):.2f}-{max(r):.2f})" for r in ratios), style="bold")
    Console(width=160).print(table)
    if baseline is not None:
        same = pixel_hashes(FOLDER / "vfxkey") == pixel_hashes(FOLDER / "vfxkey_baseline")
        print(f"outputs of this checkout and the baseline: {'the same bits' if same else 'DIFFER'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24, help="frames in the long run (the short run has 5)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the fastest counts")
    parser.add_argument("--paired", type=int, metavar="ROUNDS", help="rounds of paired runs instead (see above)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT", help="with --paired: another checkout's vfxkey too")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads each tool runs on (default: the CPUs this process may use)")
    args = parser.parse_args()
    frames = make_frames(args.frames)
    if args.paired:
        paired(frames, args.frames, args.paired, args.baseline, args.threads)
        return
    tools = {"oiiotool (convert only)": lambda n, out: oiiotool_command(frames, n, out, args.threads),
             "vfxkey key": lambda n, out: key_command(frames, n, out, args.threads)}
    runs = {label: {n: best_of(args.repeat, command, n, FOLDER / "out") for n in (SHORT, args.frames)}
            for label, command in tools.items()}

    table = Table(title=f"Keying speed, 1920x1080 8-bit PNG -> half zip EXR, best of {args.repeat}")
    for column in ("tool", f"wall s / frame ({args.frames} frames)", "CPU s / frame",
                   f"wall s / extra frame ({SHORT} -> {args.frames})", f"peak RSS MiB ({SHORT} vs {args.frames})"):
        table.add_column(column, justify="right" if column != "tool" else "left")
    figures = {}
    for label, run in runs.items():
        (short_wall, _, short_rss), (wall, cpu, rss) = run[SHORT], run[args.frames]
        figures[label] = (wall / args.frames, cpu / args.frames, (wall - short_wall) / (args.frames - SHORT))
        table.add_row(label, *(f"{v:.3f}" for v in figures[label]), f"{short_rss:.0f} vs {rss:.0f}")
    ratios = [key / oiio for key, oiio in zip(figures["vfxkey key"], figures["oiiotool (convert only)"])]
    table.add_row("ratio vfxkey / oiiotool (target <= 2)", *(f"{r:.2f}" for r in ratios), "", style="bold")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
