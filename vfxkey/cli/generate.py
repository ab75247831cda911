"""``vfxkey generate``: keyed elements on a key colour with Stable Diffusion (TKG-DM), as premultiplied EXR."""

from __future__ import annotations

import os

import click
import numpy as np

from vfxkey.cli.progress import track, warn
from vfxkey.errors import VfxkeyError
from vfxkey.io.colour import WORKING_SPACE, check_colorspace
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token
from vfxkey.io.write import EXR_DATA_TYPES, open_frame_writer, write_preview_png


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VfxkeyError(f"--size {text!r}: give WIDTHxHEIGHT, e.g. 512x512") from None
    if width <= 0 or height <= 0:
        raise VfxkeyError(f"--size {text!r}: both sides must be positive")
    return width, height


@click.command()
@click.option("--model", "model_path", required=True, metavar="PATH",
              help="A local diffusers folder (SD1.5 family or SDXL) or a single .safetensors checkpoint.")
@click.option("--model-config", metavar="DIR",
              help="For a single-file checkpoint: a local diffusers folder of the same family that provides "
                   "the configs and tokenizer (default: the family's repository if already in the local HF cache).")
@click.option("--allow-pickle", is_flag=True, help="Allow a pickled .ckpt/.pt/.bin checkpoint (it can run code).")
@click.option("--prompt", required=True, help="What to generate (no need to mention the background).")
@click.option("--negative-prompt", default="", help="What to avoid.")
@click.option("--seed", type=int, required=True, help="Seed of the shot's noise.")
@click.option("--frames", required=True, metavar="RANGE", help="Shot frames to generate: 1001-1020, 1001-1020x2, ...")
@click.option("--size", required=True, metavar="WxH",
              help="Image size in pixels, e.g. 1920x1080. A side that is not a multiple of 8 (1998x1080) is "
                   "generated at the next multiple and centre-cropped.")
@click.option("--steps", type=int, default=30, show_default=True, help="Denoising steps.")
@click.option("--guidance", type=float, default=7.5, show_default=True, help="Classifier-free guidance scale.")
@click.option("--scheduler", type=click.Choice(["ddim", "euler", "euler_a", "dpmpp"]), default="ddim",
              show_default=True, help="Sampler. euler_a adds fresh (seeded) noise each step, so its frames flicker "
                                      "more than the others'.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16"]),
              help="Weights and arithmetic: fp16 by default on CUDA, fp32 on the CPU. Frames are reproducible "
                   "bit for bit only on the same kind of device, in the same precision, with the same torch "
                   "and diffusers (all recorded in the EXRs).")
@click.option("--key", default="green", show_default=True,
              help="Key colour: green, blue, cyan, magenta, purple, orange, yellow, black, white or #RRGGBB (sRGB).")
@click.option("--shift", type=float, metavar="AMOUNT",
              help="TKG-DM target shift: fraction of positive noise values added in the keyed channels "
                   "(default 0.07 for SD1.5, 0.11 for SDXL).")
@click.option("--fg-region", default="0.5,0.5,0.25,0.25", show_default=True,
              help="Foreground ellipse cx,cy,rx,ry as fractions of the image, or keyframes "
                   "'FRAME:cx,cy,rx,ry;FRAME:cx,cy,rx,ry' (linear in between).")
@click.option("--temporal", type=click.Choice(["locked", "drift", "follow"]), default="locked", show_default=True,
              help="Noise across frames: one noise for the shot, slowly drifting noise, or noise that moves "
                   "with the foreground region's centre.")
@click.option("--drift-period", type=click.IntRange(min=1), default=24, show_default=True,
              help="Frames between independent noises in drift mode.")
@click.option("--subject", help="Prompt words whose cross-attention gives the alpha hint (default: the whole prompt).")
@click.option("--lora", metavar="PATH", help="A local LoRA .safetensors file.")
@click.option("--matte-head", metavar="PATH", help="A matting head trained with `vfxkey train-matte-head` for this "
                                                   "model's VAE; default: the cross-attention hint.")
@click.option("--working-space", default=WORKING_SPACE, show_default=True, help="Scene-linear space of the EXRs.")
@click.option("--data-type", type=click.Choice(list(EXR_DATA_TYPES)), default="half", show_default=True,
              help="EXR channel type.")
@click.option("-o", "--output", required=True, metavar="OUTPUT.####.exr", help="EXR sequence pattern.")
@click.option("--save-screen", metavar="SCREEN.####.png", help="Also save the raw generated frame (on its screen) as PNG.")
@click.option("--overwrite", is_flag=True, help="Regenerate frames whose output already exists.")
@click.option("--allow-mixed-settings", is_flag=True,
              help="Write frames beside frames of the same output made with other settings, device, precision or "
                   "versions (refused by default: they would not match).")
def generate(model_path: str, model_config: str | None, allow_pickle: bool, prompt: str, negative_prompt: str,
             seed: int, frames: str, size: str, steps: int, guidance: float, scheduler: str, precision: str | None,
             key: str, shift: float | None, fg_region: str, temporal: str, drift_period: int, subject: str | None,
             lora: str | None, matte_head: str | None, working_space: str, data_type: str, output: str,
             save_screen: str | None, overwrite: bool, allow_mixed_settings: bool) -> None:
    """Generate an element on a key colour, frame by frame, and write premultiplied EXRs.

    Every frame is a pure function of the seed, the frame number and the settings, so a
    shot can be split into chunks over any number of machines of the same kind (device,
    precision and library versions are recorded, and a chunk whose settings differ from
    the frames already written is refused); frames whose EXR exists are skipped (use
    --overwrite to redo them). Alpha comes from the colour, keyed by the same keyer as
    `vfxkey key`, helped by the matting head or the cross-attention hint, on every frame on
    its own.
    """
    # Parse everything before loading the model, so mistakes fail fast.
    from vfxkey.generate.noise import ForegroundPath, parse_key, shift_delta

    width, height = _parse_size(size)
    frame_range = FrameRange.parse(frames)
    key_value = parse_key(key)
    region = ForegroundPath.parse(fg_region)
    working_space = check_colorspace(working_space)
    if shift is not None:
        shift_delta(shift)
    if not (output.lower().endswith(".exr") and (has_frame_token(output) or len(frame_range) == 1)):
        raise VfxkeyError(f"-o {output}: give an EXR sequence pattern such as element.####.exr")
    if save_screen and not (save_screen.lower().endswith(".png") and has_frame_token(save_screen)):
        raise VfxkeyError(f"--save-screen {save_screen}: give a PNG sequence pattern such as screen.####.png")
    todo = [f for f in frame_range if overwrite or not os.path.exists(_output_path(output, f))]
    if not todo:
        click.echo(f"all {len(frame_range)} frames of {output} exist; nothing to do (--overwrite to redo)", err=True)
        return

    from vfxkey.generate.keycolour import KeyColour, key_on_screen
    from vfxkey.generate.model import load_model
    from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
    from vfxkey.generate.provenance import check_same_settings, run_metadata
    from vfxkey.matte.metrics import gsg
    from threadpoolctl import threadpool_limits

    model = load_model(model_path, config=model_config, lora=lora, scheduler=scheduler, allow_pickle=allow_pickle,
                       precision=precision)
    head = None
    if matte_head:
        from vfxkey.matte.head import load_head

        head = load_head(matte_head, model.pipe.vae)
    settings = GenerationSettings(
        prompt=prompt, negative_prompt=negative_prompt, width=width, height=height, steps=steps,
        guidance=guidance, key=key_value, target_shift=shift, region=region, temporal=temporal,
        drift_period=drift_period, subject=subject, working_space=working_space,
    )
    generator = KeyedGenerator(model, settings, seed=seed, head=head)
    key_colour = KeyColour.of(key_value, working_space)
    key_srgb = np.array(key_colour.srgb, dtype=np.float32)
    metadata = run_metadata(
        model, settings, seed, scheduler=scheduler, target_shift=generator.noise_settings.target_shift,
        alpha_source=f"matte-head:{os.path.basename(matte_head)}" if matte_head else "attention")
    if not allow_mixed_settings:
        check_same_settings(output, metadata, replacing=todo)

    with open_frame_writer(output, frame_count=len(frame_range), working_space=working_space,
                           data_type=data_type, metadata=metadata, warn=warn) as writer:
        for frame in track(todo, total=len(todo), description="generate"):
            result = generator(frame)
            coarse = result.head_mask if result.head_mask is not None else result.hint
            keyed = key_on_screen(result.rgb, key_colour, hint=coarse)
            # One thread keeps GSG's K-Means bitwise repeatable (threaded sums vary in the last bits).
            with threadpool_limits(limits=1):
                quality = gsg(result.screen * 255.0, key_srgb * 255.0)  # paper units: 8-bit sRGB distance
            writer.write(frame, keyed.premultiplied_rgba(), metadata={
                "gsg": quality,
                "fg_region_at_frame": ",".join(f"{v:g}" for v in vars(region.at(frame)).values()),
                "soft_fraction": keyed.qc["soft_fraction"],
            })
            if save_screen:
                write_preview_png(frame_path(save_screen, frame), result.rgb, working_space=working_space)


def _output_path(output: str, frame: int) -> str:
    return frame_path(output, frame) if has_frame_token(output) else output
