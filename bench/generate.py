"""Seconds per frame of vfxkey's generation path against plain diffusers, same model and settings.

Both paths use one randomly initialised, reduced SD1.5-layout model (built in-process, no
downloads), the same size, steps, DDIM scheduler, guidance, prompt and negative prompt:

- ``diffusers``: ``StableDiffusionPipeline.__call__`` with a seeded CPU generator;
- ``vfxkey``: ``KeyedGenerator`` for one frame: TKG-DM noise, the same pipeline call with
  ``latents=``, cross-attention capture over the last steps, GMM hint mask, OCIO
  linearisation.

Frames alternate between the paths (and which goes first), after one warm-up frame each.
Peak memory is the highest resident set size sampled every 2 ms during a path's frames,
above the resident size just before the frame.

The attention hint is captured over the last 5 steps whatever the step count, so its
cost is a fixed share: about 6% of a 10-step frame and 3% of a 30-step one (the CLI's
default, which is this benchmark's default too).

    python bench/generate.py [--size 256] [--steps 30] [--repeats 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

from vfxkey.generate.model import LoadedModel  # first: vfxkey.generate sets diffusers up offline and quiet
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "generate"))
from tiny_models import build_pipeline  # noqa: E402

PROMPT, NEGATIVE = "a red apple on a table", "blurry, low quality"
PAGE = 4096


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class PeakRss:
    """Samples the resident set size in a thread while the block runs."""

    def __enter__(self):
        self.base = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=30, help="denoising steps (30 is vfxkey generate's default)")
    parser.add_argument("--repeats", type=int, default=8, help="timed frames per path")
    options = parser.parse_args()

    # A reduced SD1.5 layout: 3 UNet levels (64, 128, 256); a 4-level VAE (32, 32, 64, 64) with
    # SD's 8x downsampling, so 256x256 images have SD's 32x32 latents of a 256 px tile.
    pipe = build_pipeline(unet_blocks=(64, 128, 256), vae_blocks=(32, 32, 64, 64), text_hidden=128)
    parameters = sum(p.numel() for p in pipe.unet.parameters())
    settings = GenerationSettings(prompt=PROMPT, negative_prompt=NEGATIVE, width=options.size,
                                  height=options.size, steps=options.steps, guidance=7.5)
    model = LoadedModel(pipe=pipe, family="sd15", path=Path("bench-model"), hash="bench")
    vfxkey_frame = KeyedGenerator(model, settings, seed=1)

    def diffusers_frame(frame: int) -> None:
        pipe(prompt=PROMPT, negative_prompt=NEGATIVE, height=options.size, width=options.size,
             num_inference_steps=options.steps, guidance_scale=7.5, output_type="np",
             generator=torch.Generator().manual_seed(frame))

    paths = {"diffusers": diffusers_frame, "vfxkey": vfxkey_frame}
    times = {name: [] for name in paths}
    peaks = {name: 0 for name in paths}
    for name, run in paths.items():  # warm-up
        run(0)
    for repeat in range(options.repeats):
        order = list(paths) if repeat % 2 == 0 else list(paths)[::-1]
        for name in order:
            with PeakRss() as memory:
                start = time.perf_counter()
                paths[name](repeat + 1)
                times[name].append(time.perf_counter() - start)
            peaks[name] = max(peaks[name], memory.peak - memory.base)

    print(f"model: UNet {parameters / 1e6:.1f} M parameters; {options.size}x{options.size}, "
          f"{options.steps} DDIM steps, guidance 7.5, {options.repeats} frames per path, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'path':<10} {'median s/frame':>15} {'min s/frame':>12} {'peak RSS +MB':>13}")
    for name in paths:
        print(f"{name:<10} {statistics.median(times[name]):>15.3f} {min(times[name]):>12.3f} "
              f"{peaks[name] / 2**20:>13.1f}")
    ratio = statistics.median(times["vfxkey"]) / statistics.median(times["diffusers"])
    ratio_min = min(times["vfxkey"]) / min(times["diffusers"])
    print(f"ratio vfxkey/diffusers: {ratio:.3f} (median), {ratio_min:.3f} (min); target <= 1.05")


if __name__ == "__main__":
    main()
