"""EXR read/write throughput of vfxkey.io against the bundled ``oiiotool``, and ProRes 4444 encode fps.

What is measured (1920x1080 half-float RGBA, N frames, each EXR compression):

- **convert**: EXR sequence (uncompressed half) -> EXR sequence with the compression.
  vfxkey: ``open_source`` + ``open_frame_writer`` in this process (what ``vfxkey convert``
  runs: decode to float32, NaN check, colour step, premultiplied RGBA, atomic write).
  oiiotool: ``oiiotool in.#.exr --frames 1-N --compression C -o out.#.exr`` as a
  subprocess. Same input files, same output folder kind, same thread count (OIIO's
  ``threads``/``exr_threads`` attribute and ``oiiotool --threads``), frames one at a time
  for both (no ``--parallel-frames``). oiiotool's process start-up (``oiiotool --help``,
  timed separately) is subtracted so only the conversion is compared.
- **write**: ``write_exr`` of an in-memory float32 frame (vfxkey only; no reading).
- **read**: ``Source.read`` of the compressed frames (decode + float32 + colour step).
- **ProRes 4444**: ``ProResWriter`` encode fps (straight Rec.709 10-bit, 16-bit alpha).

Each timing is the best of ``--repeat`` runs; vfxkey and oiiotool runs alternate. Run: ``python bench/io_throughput.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

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


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def best_of(repeat: int, run) -> float:
    return min(timed(run) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12, help="frames per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for OIIO and oiiotool")
    args = parser.parse_args()
    n, repeat = args.frames, args.repeat
    oiio.attribute("threads", args.threads)
    oiio.attribute("exr_threads", args.threads)
    tool = oiiotool_path()
    mpix = WIDTH * HEIGHT * n / 1e6

    with tempfile.TemporaryDirectory(prefix="vfxkey-bench-") as tmp:
        tmp = Path(tmp)
        frames = [plate(f) for f in range(1, n + 1)]
        for number, rgba in enumerate(frames, start=1):
            write_exr(tmp / "in" / f"plate.{number:04d}.exr", rgba, colorspace="Linear Rec.709 (sRGB)",
                      compression="none")
        pattern = str(tmp / "in" / "plate.####.exr")
        startup = best_of(repeat, lambda: subprocess.run([tool, "--help"], check=True, capture_output=True))

        rows = []
        for compression in COMPRESSIONS:
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
            t_vfxkey, t_tool = (min(ts) for ts in zip(*[(timed(vfxkey_convert), timed(oiiotool_convert))
                                                         for _ in range(repeat)]))
            t_tool = max(t_tool - startup, 1e-9)
            t_write = best_of(repeat, vfxkey_write)
            source = open_source(out / "v.####.exr")
            t_read = best_of(repeat, lambda: [source.read(f) for f in source.info.frames])
            size = sum(p.stat().st_size for p in out.glob("v.*.exr")) / n / 2**20
            rows.append((compression, n / t_vfxkey, n / t_tool, t_tool / t_vfxkey, n / t_write, n / t_read, size))

        def prores():
            with ProResWriter(tmp / "p.mov", WIDTH, HEIGHT, Fraction(24)) as writer:
                for rgba in frames:
                    writer.write(rgba)

        prores_fps = n / best_of(repeat, prores)

    print(f"vfxkey.io throughput: {WIDTH}x{HEIGHT} half RGBA, {n} frames ({mpix:.0f} Mpixel), "
          f"{args.threads} threads, best of {repeat}; oiiotool start-up {startup * 1000:.0f} ms subtracted")
    header = ("compression", "vfxkey convert fps", "oiiotool convert fps", "vfxkey/oiiotool",
              "vfxkey write fps", "vfxkey read fps", "MiB/frame")
    print(" | ".join(header))
    print(" | ".join("-" * len(h) for h in header))
    for compression, convert_fps, tool_fps, ratio, write_fps, read_fps, size in rows:
        print(f"{compression:<11} | {convert_fps:18.1f} | {tool_fps:20.1f} | {ratio:15.2f} | "
              f"{write_fps:16.1f} | {read_fps:15.1f} | {size:9.2f}")
    print(f"ProRes 4444 encode (vfxkey ProResWriter): {prores_fps:.1f} fps")


if __name__ == "__main__":
    main()
