"""What VAE tiling changes in the pixels: a tiled decode against the untiled one, per tile size.

    python bench/vae_tile_seams.py --family sdxl --size 1920x1080 --tiles 1024 512

SDXL-base's VAE (or SD1.5's, the same architecture) is built from its published config
(:data:`generate_memory.CONFIGS`) with random weights, in fp32 on the CPU, and one latent of the
frame's size is decoded untiled and then tiled at each ``--tiles`` size (pixels; the overlap is
diffusers' 25 %), as vfxkey's ``vae_tiling`` decodes. Printed per tile size, on the image in
0..1 (the pipeline's post-processing: ``x / 2 + 0.5`` clipped): the largest and the mean
absolute difference from the untiled decode, and the mean inside the blended bands between
tiles (where a seam would show) and outside them.

Two latents, both fixed: ``noise``, white noise (stationary: every tile's GroupNorm statistics
are alike) and a photo's layout (``photo``: ``scientists.png`` in ../shared resized to the latent and
standardised per channel: tiles of different content, as in a real frame). With random weights
the decoded image is not a picture, so the figures say how far a tile's decode departs from the
whole decode in this architecture, not how visible a seam is with trained weights: indicative only.
Needs the untiled decode's memory (+7.4 GiB at 1920x1080): run it alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
PHOTO = BENCH.parent.parent / "shared" / "data" / "greenscreen_frames" / "scientists.png"


def latents(latent_size: tuple[int, int]) -> dict[str, "torch.Tensor"]:
    """The two test latents ``(1, 4, H, W)``, in the VAE's unscaled latent units (unit variance)."""
    import cv2
    import torch

    noise = torch.randn(1, 4, *latent_size, generator=torch.Generator().manual_seed(0))
    photo = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    if photo is None:
        sys.exit(f"{PHOTO}: cannot be read (../shared is needed beside the repository)")
    small = cv2.resize(photo, latent_size[::-1], interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    grey = small.mean(axis=2, keepdims=True)
    layout = np.concatenate([small, grey], axis=2).transpose(2, 0, 1)
    layout = (layout - layout.mean(axis=(1, 2), keepdims=True)) / (layout.std(axis=(1, 2), keepdims=True) + 1e-6)
    return {"noise": noise, "photo": torch.from_numpy(layout)[None]}


def blend_bands(vae, size: tuple[int, int]) -> np.ndarray:
    """Where a tiled decode of an image of ``size`` (pixels) blends one tile into the next: ``(H, W)`` bool."""
    step = vae.tile_sample_min_size - int(vae.tile_sample_min_size * vae.tile_overlap_factor)
    band = int(vae.tile_sample_min_size * vae.tile_overlap_factor)
    mask = np.zeros(size, dtype=bool)
    for start in range(step, max(size), step):
        mask[start:start + band, :] = True
        mask[:, start:start + band] = True
    return mask


def main() -> None:
    import torch
    from diffusers import AutoencoderKL

    sys.path.insert(0, str(BENCH))
    from generate_memory import CONFIGS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=tuple(CONFIGS), default="sdxl")
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT in pixels")
    parser.add_argument("--tiles", type=int, nargs="+", default=[1024, 512], help="tile sizes in pixels")
    parser.add_argument("--latents", nargs="+", choices=("noise", "photo"), default=["noise", "photo"])
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with torch.no_grad():
        vae = AutoencoderKL(**CONFIGS[args.family]["vae"]).eval()
    factor = 2 ** (len(vae.config.block_out_channels) - 1)

    def decode(latent: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            image = vae.decode(latent, return_dict=False)[0]
        return (image[0] / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy()

    print(f"{args.family} VAE, random weights, fp32 CPU, {width}x{height}; |tiled - untiled| on the image in 0..1")
    for name, latent in latents((height // factor, width // factor)).items():
        if name not in args.latents:
            continue
        vae.disable_tiling()
        whole = decode(latent)
        print(f"  {name}: untiled image's standard deviation {whole.std():.4f}, "
              f"{np.mean((whole == 0) | (whole == 1)):.1%} of its values clipped", flush=True)
        for tile in args.tiles:
            vae.enable_tiling()
            vae.tile_sample_min_size, vae.tile_latent_min_size = tile, tile // factor
            difference = np.abs(decode(latent) - whole).max(axis=2)
            bands = blend_bands(vae, (height, width))
            inside = f"{difference[bands].mean():.4f}" if bands.any() else "-"
            print(f"  {name}, {tile} px tiles: max {difference.max():.4f}, mean {difference.mean():.4f}; "
                  f"mean in the blend bands {inside}, elsewhere {difference[~bands].mean():.4f}", flush=True)


if __name__ == "__main__":
    main()
