"""The shot pipeline end to end: `vfxkey render` against `vfxkey key` alone, 1 and 2 workers.

Two shots: the sample (`samples/shot010`, 10 frames 640x360) and a 48-frame 1920x1080 shot
made from the sample's frames (resized, cycled) with the sample's plate and placement.
For each, every command runs as its own process (start-up included, as a farm task runs
it), the runs alternating, `--repeat` times; the median is printed:

- **key alone**: `vfxkey key FRAMES -o el.####.exr` (the element only);
- **render, element only**: `vfxkey render` of a spec with the same element output and
  nothing else: the pipeline's overhead over the keyer (spec, screen file, settings hashes,
  up-to-date checks); target <= 10%;
- **render, full, 1 worker** and **2 workers**: element + placement + comp EXR + preview
  PNG + finalize (ProRes movie, QC sidecar and report): frames per second, the speedup
  from 2 workers, and the peak memory of the largest single process (a worker).

Every run writes into a fresh (emptied) folder, so nothing is skipped. Peak memory is the kernel's
``ru_maxrss`` of the command's processes (the largest one). Run:
``python bench/render.py [--frames 48] [--repeat 3] [--skip-1080p]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "shot010"
OUT = ROOT / "bench" / "out" / "render"
VFXKEY = [sys.executable, "-c", "from vfxkey.cli import main; main()"]
# Runs the command and prints its processes' peak RSS (KiB): the largest single descendant.
MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def make_1080p(frames: int) -> Path:
    """A 1920x1080 shot of ``frames`` frames from the sample's (resized, cycled); its shot.toml."""
    folder = OUT / f"shot1080_{frames}"
    source = sorted((SAMPLE / "greenscreen").glob("gs.*.png"))
    (folder / "greenscreen").mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        target = folder / "greenscreen" / f"gs.{1001 + index}.png"
        if not target.exists():
            image = cv2.imread(str(source[index % len(source)]), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(target), cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_CUBIC))
    plate = cv2.imread(str(SAMPLE / "plate.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(folder / "plate.png"), cv2.resize(plate, (1920, 1080), interpolation=cv2.INTER_CUBIC))
    text = (SAMPLE / "shot.toml").read_text()
    text = text.replace('frames = "1001-1010"', f'frames = "1001-{1000 + frames}"')
    text = text.replace("[300.0, 196.0]", "[900.0, 588.0]").replace("[348.0, 196.0]", "[1044.0, 588.0]")
    text = text.replace("frame = 1010", f"frame = {1000 + frames}")
    (folder / "shot.toml").write_text(text)
    return folder


def element_only(shot: Path) -> Path:
    """A copy of the shot's spec whose only output is the element (what `vfxkey key` writes)."""
    text = (shot / "shot.toml").read_text()
    head, _, _ = text.partition("[outputs]")
    spec = shot / "element_only.toml"
    spec.write_text(head + '[outputs]\nelement = "bench_element_only/el.####.exr"\n')
    return spec


def run(command: list[str], clean: Path | None) -> tuple[float, float]:
    """(wall seconds, peak MiB of the largest process) of one run of ``command``."""
    if clean is not None:
        shutil.rmtree(clean, ignore_errors=True)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr[-2000:]}")
    return wall, int(result.stdout.strip().splitlines()[-1]) / 1024


def bench_shot(name: str, shot: Path, frames: int, repeat: int) -> list[tuple]:
    spec = shot / "shot.toml"
    cases = {
        "key alone": (VFXKEY + ["key", str(shot / "greenscreen" / "gs.####.png"), "-o",
                                str(shot / "bench_key" / "el.####.exr")], shot / "bench_key"),
        "render, element only": (VFXKEY + ["render", str(element_only(shot))],
                                 shot / "bench_element_only"),
        "render, full, 1 worker": (VFXKEY + ["render", str(spec), "--workers", "1"], shot / "render"),
        "render, full, 2 workers": (VFXKEY + ["render", str(spec), "--workers", "2"], shot / "render"),
    }
    times: dict[str, list[float]] = {case: [] for case in cases}
    peaks: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(repeat):  # alternate the cases, so drift in the machine's speed hits all alike
        for case, (command, clean) in cases.items():
            wall, peak = run(command, clean)
            times[case].append(wall)
            peaks[case].append(peak)
    median = {case: statistics.median(values) for case, values in times.items()}
    rows = []
    for case in cases:
        extra = ""
        if case == "render, element only":
            extra = f"overhead {median[case] / median['key alone'] - 1:+.1%} vs key alone"
        if case == "render, full, 2 workers":
            extra = f"speedup {median['render, full, 1 worker'] / median[case]:.2f}x vs 1 worker"
        rows.append((name, case, median[case], frames / median[case], max(peaks[case]), extra))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48, help="frames of the 1080p shot (default 48)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (median printed)")
    parser.add_argument("--skip-1080p", action="store_true", help="only the sample shot")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    sample = OUT / "shot010"
    shutil.rmtree(sample, ignore_errors=True)
    shutil.copytree(SAMPLE, sample, ignore=shutil.ignore_patterns("render"))
    rows = bench_shot("shot010 640x360", sample, 10, args.repeat)
    if not args.skip_1080p:
        rows += bench_shot(f"1080p x{args.frames}", make_1080p(args.frames), args.frames, args.repeat)

    print(f"{os.cpu_count()} CPUs, {args.repeat} runs each (median wall time, start-up included)")
    print(f"{'shot':<18} {'command':<26} {'seconds':>8} {'fps':>6} {'peak MiB':>9}  note")
    for shot, case, seconds, fps, peak, note in rows:
        print(f"{shot:<18} {case:<26} {seconds:>8.2f} {fps:>6.2f} {peak:>9.0f}  {note}")


if __name__ == "__main__":
    main()
