"""Tight Inversion editing: cost of an edited frame against a generated one, and reconstruction fidelity.

One randomly initialised SD1.5-layout model (no downloads): ``--model mid``, the reduced
layout of bench/generate.py (18 M UNet parameters), or ``--model tiny``, the tests' edit
pipeline (one-level UNet), with a random basic IP-Adapter and CLIP image encoder
(tests/generate/tiny_ip_adapter.py).
The random VAE's latents are rescaled to unit variance, as SD's scaling factor does for
real latents, so relative latent errors mean what they would on a real model. The source
is a real photograph (``../shared/data/greenscreen_frames``) when present, else a smooth
random image, centre-cropped and resized to ``--size``.

1. **Iterations sweep**: reconstruct mode (source prompt, guidance 1, image conditioning at
   0.4 in both phases) for each number of fixed-point iterations: relative latent error
   ``||z_rec - z_0|| / ||z_0||``, PSNR of the decoded reconstruction against the decoded
   ``z_0`` (the inversion's own error, without the VAE's), UNet calls, seconds.
2. **Image conditioning**: the same with and without the IP-Adapter (unloaded), plain
   DDIM inversion and the default refinement.
3. **Edit vs generate**: seconds for one edited frame (``Editor``: inversion + guided
   denoising + decode, a plate, no mask) against one generated frame (``KeyedGenerator``),
   same size, steps and guidance, alternating, after a warm-up.

A random model measures cost and numerical exactness, not whether the image condition
helps a real edit keep the subject (the paper's claim needs real weights).

    python bench/edit.py [--model mid|tiny] [--size 256] [--steps 30] [--repeats 2]
                         [--iterations 0,1,2,3,5,8] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from vfxkey.generate.model import LoadedModel  # first: vfxkey.generate sets diffusers up offline and quiet
from vfxkey.generate.adapter import attach_ip_adapter
from vfxkey.generate.edit import DEFAULT_INVERSION_ITERATIONS, Editor, EditSettings, psnr
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.io.frame import Frame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "generate"))
from tiny_ip_adapter import (  # noqa: E402
    build_adapter,
    build_edit_pipeline,
    build_image_encoder,
    build_image_processor,
)
from tiny_models import build_pipeline  # noqa: E402

PROMPT, EDIT = "a man in a suit", "a man in a red suit"
PHOTO = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "greenscreen_frames" / "business_man.png"


def build_model(kind: str, adapter: bool) -> LoadedModel:
    """``mid`` (bench/generate.py's reduced layout) or ``tiny``; the same weights every call."""
    if kind == "mid":
        pipe = build_pipeline(unet_blocks=(64, 128, 256), vae_blocks=(32, 32, 64, 64), text_hidden=128)
    else:
        pipe = build_edit_pipeline()
    if adapter:
        attach_ip_adapter(pipe, build_adapter(pipe.unet), build_image_encoder(), build_image_processor())
    return LoadedModel(pipe=pipe, family="sd15", path=Path("bench-model"), hash="bench")


def source_image(size: int) -> np.ndarray:
    """(size, size, 3) sRGB-encoded 0..1: the photo, or smooth noise when the shared data is absent."""
    if PHOTO.is_file():
        image = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        side = min(image.shape[:2])
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        image = image[top:top + side, left:left + side]
    else:
        image = np.random.default_rng(0).random((size // 16, size // 16, 3), dtype=np.float32)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def unit_variance_latents(model: LoadedModel, image: np.ndarray) -> float:
    """Set the VAE's scaling factor so the image's latent has unit standard deviation; returns it."""
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        std = float(model.pipe.vae.encode(pixels).latent_dist.mean.std())
    model.pipe.vae.register_to_config(scaling_factor=1.0 / std)
    return 1.0 / std


def reconstruction(model: LoadedModel, settings: EditSettings, frame: Frame) -> dict:
    """Reconstruct ``frame``; errors against the VAE round trip of the source."""
    pipe = model.pipe
    start = time.perf_counter()
    editor = Editor(model, settings.reconstruction())
    result = editor(frame)
    seconds = time.perf_counter() - start
    # Decode z_0 itself for the inversion-only PSNR: the same path as the editor's decode.
    image = np.clip(convert(frame.rgb, WORKING_SPACE, DISPLAY_SPACE), 0.0, 1.0)
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        z_0 = pipe.vae.encode(pixels).latent_dist.mean
        round_trip = (pipe.vae.decode(z_0).sample[0].permute(1, 2, 0).numpy() / 2 + 0.5).clip(0.0, 1.0)
    return {"latent": result.latent_error, "psnr": psnr(result.screen, round_trip), "calls": result.unet_calls,
            "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mid", "tiny"), default="mid", help="which random model")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=30, help="DDIM steps (inversion and denoising, and generation)")
    parser.add_argument("--repeats", type=int, default=2, help="timed frames per path")
    parser.add_argument("--iterations", default="0,1,2,3,5,8", help="fixed-point iterations to sweep")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)

    image = source_image(options.size)
    frame = Frame(number=1, rgb=convert(image, DISPLAY_SPACE, WORKING_SPACE), alpha=None, premultiplied=False,
                  source=str(PHOTO) if PHOTO.is_file() else "noise")
    adapted, plain = build_model(options.model, adapter=True), build_model(options.model, adapter=False)
    factor = unit_variance_latents(adapted, image)
    unit_variance_latents(plain, image)
    settings = EditSettings(prompt=EDIT, source_prompt=PROMPT, steps=options.steps, guidance=7.5, feather=0)
    parameters = sum(p.numel() for p in adapted.pipe.unet.parameters())
    print(f"model: UNet {parameters / 1e6:.1f} M parameters (random), VAE scaling factor {factor:.3f}; "
          f"{options.size}x{options.size} {'photo' if PHOTO.is_file() else 'noise'}, {options.steps} DDIM steps, "
          f"{torch.get_num_threads()} torch threads")

    # 1. iterations sweep
    print("\n1. reconstruction vs fixed-point iterations (image conditioning 0.4)")
    print(f"{'iterations':>10} {'latent rel. error':>18} {'PSNR vs VAE dB':>15} {'UNet calls':>11} {'seconds':>8}")
    for iterations in (int(v) for v in options.iterations.split(",")):
        row = reconstruction(adapted, replace(settings, inversion_iterations=iterations), frame)
        print(f"{iterations:>10} {row['latent']:>18.2e} {row['psnr']:>15.2f} {row['calls']:>11} {row['seconds']:>8.1f}")

    # 2. with and without image conditioning
    print("\n2. reconstruction with and without image conditioning")
    print(f"{'inversion':>22} {'image cond.':>12} {'latent rel. error':>18} {'PSNR vs VAE dB':>15}")
    for iterations in (0, DEFAULT_INVERSION_ITERATIONS):
        for name, model in (("IP-Adapter 0.4", adapted), ("none", plain)):
            row = reconstruction(model, replace(settings, inversion_iterations=iterations), frame)
            label = "plain DDIM" if iterations == 0 else f"fixed point, {iterations} it."
            print(f"{label:>22} {name:>12} {row['latent']:>18.2e} {row['psnr']:>15.2f}")

    # 3. edit vs generate, alternating
    editor = Editor(adapted, settings)
    generator = KeyedGenerator(plain, GenerationSettings(prompt=EDIT, width=options.size, height=options.size,
                                                         steps=options.steps, guidance=7.5), seed=1)
    paths = {"generate": lambda: generator(1), "edit": lambda: editor(frame)}
    times = {name: [] for name in paths}
    for run in paths.values():  # warm-up
        run()
    for repeat in range(options.repeats):
        for name in (list(paths) if repeat % 2 == 0 else list(paths)[::-1]):
            start = time.perf_counter()
            paths[name]()
            times[name].append(time.perf_counter() - start)
    calls = options.steps * (1 + DEFAULT_INVERSION_ITERATIONS)
    print(f"\n3. one frame, {options.steps} steps, guidance 7.5; edit = {calls} inversion UNet calls (batch 1, "
          f"{DEFAULT_INVERSION_ITERATIONS} iterations) + {options.steps} guided (batch 2)")
    print(f"{'path':<10} {'median s/frame':>15} {'min s/frame':>12}")
    for name in paths:
        print(f"{name:<10} {statistics.median(times[name]):>15.2f} {min(times[name]):>12.2f}")
    print(f"ratio edit/generate: {statistics.median(times['edit']) / statistics.median(times['generate']):.2f} (median)")


if __name__ == "__main__":
    main()
