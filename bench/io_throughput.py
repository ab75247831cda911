"""EXR read/write throughput of vfxkey.io against the bundled ``oiiotool``, and ProRes 4444 encode fps.

What is measured (1920x1080 half-float RGBA, N frames, each EXR compression):

- **convert**: EXR sequence (uncompressed half) -> EXR sequence with the compression.
  vfxkey: ``open_source`` + ``open_frame_writer`` in this process (what ``vfxkey convert``
  runs: decode to float32, NaN check, colour step, premultiplied RGBA, atomic write).
  oiiotool: ``oiiotool in.#.exr --frames 1-N --compression C -o out.#.exr`` as a
  subprocess. Same input files, same output folder kind, same thread count (OIIO's
  ``threads``/``exr_threads`` attribute and ``oiiotool --threads``), frames one at a time
  for both (no ``--parallel-frames``), runs of the two alternating. oiiotool's process
  start-up (``oiiotool --help``, timed separately) is subtracted so only the conversion
  is compared. Both wall time and CPU time (user + sys, of this process for vfxkey and of
  the child for oiiotool) are reported: on a shared, busy machine wall time swings with
  other load, CPU time measures the work each tool does.
- **write**: ``write_exr`` of an in-memory float32 frame (vfxkey only; no reading).
- **read**: ``Source.read`` of the compressed frames (decode + float32 + colour step).
- **ProRes 4444**: ``ProResWriter`` encode fps (straight Rec.709 10-bit, 16-bit alpha).

Each timing is the best of ``--repeat`` runs. Run: ``python bench/io_throughput.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import OpenImageIO as oiio

from vfxkey.io.read import open_source
from vfxkey.io.write import ProResWriter, open_frame_writer, write_exr

WIDTH, HEIGHT = 1920, 1080
COMPRESSIONS = ("zip", "piz", "dwaa")


def oiiotool_path() -> str:
    """The oiiotool shipped in the OpenImageIO wheel (beside this Python), else on PATH."""
    beside = Path(sys.executable).with_name("oiiotool")
    found = str(beside) if beside.exists() else shutil.which("oiiotool")
    if found is None:
        sys.exit("oiiotool not found beside the python executable or on PATH")
    return found


def plate(frame: int) -> np.ndarray:
    """A plate-like premultiplied linear RGBA frame: gradients, grain and a soft-edged element."""
    rng = np.random.default_rng(frame)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    rgb = np.stack([x / WIDTH, y / HEIGHT, 0.5 + 0.5 * np.sin((x + 10 * frame) / 97.0)], axis=-1) * 0.8
    rgb += rng.normal(0.0, 0.01, rgb.shape).astype(np.float32)  # sensor grain
    radius = np.hypot(x - WIDTH / 2 - 5 * frame, y - HEIGHT / 2)
    alpha = np.clip((400.0 - radius) / 40.0, 0.0, 1.0)
    return np.dstack([rgb * alpha[..., None], alpha]).astype(np.float32)


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + sys CPU seconds of this process (in-process runs) or of the child


def timed(run, *, child: bool = False) -> Timing:
    """Wall and CPU time of ``run()``; ``child`` counts the CPU of subprocesses it waited for."""
    def cpu() -> float:
        if child:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            return usage.ru_utime + usage.ru_stime
        return time.process_time()

    wall, cpu0 = time.perf_counter(), cpu()
    run()
    return Timing(time.perf_counter() - wall, cpu() - cpu0)


def best(timings: list[Timing]) -> Timing:
    return Timing(min(t.wall for t in timings), min(t.cpu for t in timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12, help="frames per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for OIIO and oiiotool")
    parser.add_argument("--compressions", nargs="+", default=COMPRESSIONS, choices=COMPRESSIONS)
    args = parser.parse_args()
    n, repeat = args.frames, args.repeat
    oiio.attribute("threads", args.threads)
    oiio.attribute("exr_threads", args.threads)
    tool = oiiotool_path()

    with tempfile.TemporaryDirectory(prefix="vfxkey-bench-") as tmp:
        tmp = Path(tmp)
        frames = [plate(f) for f in range(1, n + 1)]
        for number, rgba in enumerate(frames, start=1):
            write_exr(tmp / "in" / f"plate.{number:04d}.exr", rgba, colorspace="Linear Rec.709 (sRGB)",
                      compression="none")
        pattern = str(tmp / "in" / "plate.####.exr")
        startup = best([timed(lambda: subprocess.run([tool, "--help"], check=True, capture_output=True), child=True)
                        for _ in range(repeat)])

        rows = []
        for compression in args.compressions:
            out = tmp / compression

            def vfxkey_convert():
                source = open_source(pattern)
                with open_frame_writer(out / "v.####.exr", frame_count=len(source), compression=compression) as writer:
                    for frame in source:
                        writer.write(frame.number, frame.premultiplied_rgba(), source_name=frame.source)

            def oiiotool_convert():
                subprocess.run(
                    [tool, "--threads", str(args.threads), str(tmp / "in" / "plate.#.exr"),
                     "--frames", f"1-{n}", "--compression", compression, "-o", str(out / "o.#.exr")],
                    check=True, capture_output=True,
                )

            def vfxkey_write():
                for number, rgba in enumerate(frames, start=1):
                    write_exr(out / f"w.{number:04d}.exr", rgba, colorspace="Linear Rec.709 (sRGB)",
                              compression=compression)

            # Alternate the two tools so a change in machine load hits both alike.
            ours, theirs = [], []
            for _ in range(repeat):
                ours.append(timed(vfxkey_convert))
                theirs.append(timed(oiiotool_convert, child=True))
            ours, theirs = best(ours), best(theirs)
            theirs = Timing(theirs.wall - startup.wall, theirs.cpu - startup.cpu)
            write = best([timed(vfxkey_write) for _ in range(repeat)])
            source = open_source(out / "v.####.exr")
            read = best([timed(lambda: [source.read(f) for f in source.info.frames]) for _ in range(repeat)])
            size = sum(p.stat().st_size for p in out.glob("v.*.exr")) / n / 2**20
            rows.append((compression, ours, theirs, write, read, size))

        def prores():
            with ProResWriter(tmp / "p.mov", WIDTH, HEIGHT, Fraction(24)) as writer:
                for rgba in frames:
                    writer.write(rgba)

        prores_time = best([timed(prores) for _ in range(repeat)])

    print(f"vfxkey.io throughput: {WIDTH}x{HEIGHT} half RGBA, {n} frames, {args.threads} threads, "
          f"best of {repeat}, load average {os.getloadavg()[0]:.1f}; oiiotool start-up "
          f"({startup.wall * 1000:.0f} ms wall, {startup.cpu * 1000:.0f} ms CPU) subtracted.")
    print("fps = frames per wall second; f/cpu-s = frames per CPU second (steadier on a busy machine).")
    header = ("compression", "vfxkey convert fps", "oiiotool fps", "ratio (wall)",
              "vfxkey f/cpu-s", "oiiotool f/cpu-s", "ratio (cpu)", "vfxkey write fps", "vfxkey read fps",
              "MiB/frame")
    print(" | ".join(header))
    print(" | ".join("-" * len(h) for h in header))
    for compression, ours, theirs, write, read, size in rows:
        cells = (compression, n / ours.wall, n / theirs.wall, theirs.wall / ours.wall,
                 n / ours.cpu, n / theirs.cpu, theirs.cpu / ours.cpu, n / write.wall, n / read.wall, size)
        print(" | ".join(f"{c:>{len(h)}.2f}" if isinstance(c, float) else f"{c:<{len(h)}}"
                         for c, h in zip(cells, header)))
    print(f"ProRes 4444 encode (vfxkey ProResWriter): {n / prores_time.wall:.2f} fps, "
          f"{n / prores_time.cpu:.2f} frames per CPU second")


if __name__ == "__main__":
    main()
