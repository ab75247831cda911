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

Start-up is timed in fresh processes (alternating paths, ``--startup-runs`` each), from the
model saved as a local diffusers folder: **import** (``vfxkey.generate.model`` and
``.pipeline`` against ``diffusers.StableDiffusionPipeline``), **load** (``load_model`` against
``from_pretrained(local_files_only=True)``, both onto the CPU in float32) and **first frame**
(the first call, with its one-off costs).

The attention hint is captured over the last 5 steps whatever the step count, so its
cost is a fixed share: about 6% of a 10-step frame and 3% of a 30-step one (the CLI's
default, which is this benchmark's default too).

    python bench/generate.py [--size 256] [--steps 30] [--repeats 8] [--startup-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# torch, diffusers and vfxkey are imported where they are used, so that a start-up child
# process times its own imports from here.
START = time.perf_counter()
TESTS = Path(__file__).resolve().parents[1] / "tests" / "generate"
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


def bench_pipeline():
    """A reduced SD1.5 layout: 3 UNet levels (64, 128, 256); a 4-level VAE (32, 32, 64, 64) with
    SD's 8x downsampling, so 256x256 images have SD's 32x32 latents of a 256 px tile."""
    sys.path.insert(0, str(TESTS))
    from tiny_models import build_pipeline

    return build_pipeline(unet_blocks=(64, 128, 256), vae_blocks=(32, 32, 64, 64), text_hidden=128)


def startup_child(path: str, folder: str, size: int, steps: int) -> None:
    """In a fresh process: seconds to import, load and make the first frame, printed as JSON."""
    import torch

    if path == "vfxkey":
        from vfxkey.generate.model import load_model
        from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
    else:
        from diffusers import StableDiffusionPipeline
    imported = time.perf_counter()
    if path == "vfxkey":
        model = load_model(folder, device=torch.device("cpu"), dtype=torch.float32)
        settings = GenerationSettings(prompt=PROMPT, negative_prompt=NEGATIVE, width=size, height=size, steps=steps)
        loaded = time.perf_counter()
        KeyedGenerator(model, settings, seed=1)(1)
    else:
        pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, dtype=torch.float32,
                                                       safety_checker=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        loaded = time.perf_counter()
        pipe(prompt=PROMPT, negative_prompt=NEGATIVE, height=size, width=size, num_inference_steps=steps,
             guidance_scale=7.5, output_type="np", generator=torch.Generator().manual_seed(1))
    first = time.perf_counter()
    print(json.dumps({"import": imported - START, "load": loaded - imported, "first frame": first - loaded}))


def startup(options) -> dict[str, dict[str, list[float]]]:
    """Start-up seconds per path and phase over ``options.startup_runs`` fresh processes each."""
    sys.path.insert(0, str(TESTS))
    from tiny_models import save_diffusers_folder

    results = {name: {"import": [], "load": [], "first frame": []} for name in ("diffusers", "vfxkey")}
    with tempfile.TemporaryDirectory() as root:
        folder = str(save_diffusers_folder(bench_pipeline(), Path(root) / "bench-model"))
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        for run in range(options.startup_runs):
            for name in (("diffusers", "vfxkey") if run % 2 == 0 else ("vfxkey", "diffusers")):
                child = subprocess.run([sys.executable, __file__, "--startup-child", name, folder,
                                        "--size", str(options.size), "--steps", str(options.steps)],
                                       capture_output=True, text=True, env=env, check=True)
                for phase, seconds in json.loads(child.stdout.strip().splitlines()[-1]).items():
                    results[name][phase].append(seconds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=30, help="denoising steps (30 is vfxkey generate's default)")
    parser.add_argument("--repeats", type=int, default=8, help="timed frames per path")
    parser.add_argument("--startup-runs", type=int, default=3, help="fresh processes per path for start-up times")
    parser.add_argument("--startup-child", nargs=2, metavar=("PATH", "FOLDER"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.startup_child:
        startup_child(*options.startup_child, options.size, options.steps)
        return

    import torch

    from vfxkey.generate.model import LoadedModel
    from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator

    starts = startup(options)
    pipe = bench_pipeline()
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
    print(f"\nstart-up in fresh processes, median of {options.startup_runs} (seconds)")
    print(f"{'path':<10} {'import':>8} {'load':>8} {'first frame':>12} {'total':>8}")
    for name, phases in starts.items():
        medians = {phase: statistics.median(values) for phase, values in phases.items()}
        print(f"{name:<10} {medians['import']:>8.2f} {medians['load']:>8.2f} {medians['first frame']:>12.2f} "
              f"{sum(medians.values()):>8.2f}")


if __name__ == "__main__":
    main()
