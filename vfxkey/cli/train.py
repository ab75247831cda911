"""``vfxkey make-trainset`` and ``vfxkey train-matte-head``: the matting head's data and training.

    vfxkey make-trainset --fg FOREGROUNDS/ [--alpha MATTES/] -o TRAINSET/ --count 1000 --size 512x512
    vfxkey train-matte-head --model MODEL/ --data TRAINSET/ -o head.safetensors --steps 2000
"""

from __future__ import annotations

from pathlib import Path

import click

from vfxkey.cli.progress import track
from vfxkey.errors import VfxkeyError


class Size(click.ParamType):
    """``WxH`` in pixels, e.g. ``512x512``, as ``(width, height)``."""

    name = "WxH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            width, height = (int(part) for part in value.lower().split("x"))
        except ValueError:
            self.fail(f"{value!r} is not WIDTHxHEIGHT (e.g. 512x512)", param, ctx)
        if width <= 0 or height <= 0:
            self.fail(f"{value!r}: width and height must be positive", param, ctx)
        return width, height


@click.command("make-trainset")
@click.option("--fg", "fg_dir", required=True, metavar="DIR",
              help="Folder of foregrounds: RGBA images (straight alpha), or RGB with --alpha.")
@click.option("--alpha", "alpha_dir", default=None, metavar="DIR",
              help="Folder of mattes named like the foregrounds (grey or equal RGB).")
@click.option("-o", "--output", required=True, metavar="DIR", help="Training set folder to write (images/ and masks/).")
@click.option("--count", default=100, show_default=True, type=click.IntRange(min=1), help="Pairs to write.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed; the same seed writes the same set.")
@click.option("--size", type=Size(), default=None,
              help="Composite size WxH; the element is scaled and placed at random. "
                   "Default: each foreground's own size, unmoved.")
def make_trainset(fg_dir: str, alpha_dir: str | None, output: str, count: int, seed: int,
                  size: tuple[int, int] | None) -> None:
    """Composite foregrounds over generated-style green screens (DiffuMatting's Green100K recipe).

    Writes OUTPUT/images/NAME.png (8-bit sRGB) and OUTPUT/masks/NAME.png (8-bit alpha).
    """
    from vfxkey.synth import trainset

    foregrounds = trainset.read_foregrounds(fg_dir, alpha_dir)
    trainset.make_trainset(
        foregrounds, output, count, seed=seed, size=size,
        progress=lambda steps: track(steps, count, "compositing"),
    )
    click.echo(f"{output}: {count} image/mask pairs from {len(foregrounds)} foregrounds")


@click.command("train-matte-head")
@click.option("--model", required=True, metavar="PATH",
              help="A local diffusers folder or single .safetensors checkpoint; only its VAE is used (frozen).")
@click.option("--model-config", metavar="DIR",
              help="For a single-file checkpoint: a local diffusers folder of the same family giving the configs.")
@click.option("--data", required=True, metavar="DIR", help="Training set folder from `vfxkey make-trainset`.")
@click.option("-o", "--output", required=True, metavar="HEAD.safetensors", help="Head to write.")
@click.option("--steps", default=2000, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="AdamW learning rate.")
@click.option("--batch", default=4, show_default=True, type=click.IntRange(min=1), help="Images per step.")
@click.option("--size", default=512, show_default=True, type=click.IntRange(min=8),
              help="Training images are resized to SIZE x SIZE (a multiple of the VAE's downsampling).")
@click.option("--seed", default=0, show_default=True, type=int)
def train_matte_head(model: str, model_config: str | None, data: str, output: str, steps: int, lr: float,
                     batch: int, size: int, seed: int) -> None:
    """Train DiffuMatting's matting head on a model's VAE decoder features (L1 + Dice, VAE frozen)."""
    if not output.endswith(".safetensors"):
        raise VfxkeyError(f"{output}: the head is written as .safetensors; name the output *.safetensors")
    from vfxkey.generate.head import save_head, train_head, vae_fingerprint
    from vfxkey.synth.trainset import MattePairs

    dataset = MattePairs(data, (size, size))
    vae = load_vae(model, model_config)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    if size % factor:
        raise VfxkeyError(f"--size {size}: must be a multiple of {factor} for {model}'s VAE")

    run = train_head(
        vae, dataset, steps, lr, batch_size=batch, seed=seed,
        progress=lambda steps_: track(steps_, steps, "training matting head"),
    )
    start, end = _mean(run.losses[:10]), _mean(run.losses[-10:])
    # make-trainset composites over screen greens only: the head knows green screens
    save_head(output, run.head, vae, key="green", model=str(Path(model).resolve()), data=str(Path(data).resolve()),
              images=len(dataset), steps=steps, lr=lr, batch=batch, size=size, seed=seed, final_loss=f"{end:.4f}")
    click.echo(f"{output}: L1+Dice {start:.4f} -> {end:.4f} over {steps} steps (VAE {vae_fingerprint(vae)})")


def load_vae(model: str, config: str | None = None):
    """The VAE of a local model (diffusers folder or single ``.safetensors``), float32, on CUDA when present.

    Loads through :func:`vfxkey.generate.model.load_model` (local files only, pickles
    refused) on the CPU and keeps only the VAE, so the UNet never takes GPU memory.

    Raises:
        VfxkeyError: the model is missing or cannot be loaded.
    """
    import torch

    from vfxkey.generate.model import load_model

    pipe = load_model(model, config=config, device=torch.device("cpu"), dtype=torch.float32).pipe
    return pipe.vae.to("cuda" if torch.cuda.is_available() else "cpu")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
