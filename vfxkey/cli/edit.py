"""``vfxkey edit``: change an element or a plate region with an edit prompt (Tight Inversion)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from vfxkey.cli.progress import FrameProgress, note, warn
from vfxkey.cli.settings import setting_options
from vfxkey.cli.threads import threads_option
from vfxkey.cli.words import options_of_command
from vfxkey.errors import VfxkeyError
from vfxkey.generate.edit_settings import EditSettings
from vfxkey.generate.run_options import RunOptions
from vfxkey.io.colour import WORKING_SPACE
from vfxkey.io.sequence import FrameRange, overwritten
from vfxkey.shot.spec import EditElement


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True,
              help="name.####.exr (premultiplied RGBA per frame), name.exr (one frame), name.mov "
                   "(ProRes 4444) or folder/ (one EXR per input still, same name).")
@click.option("--model", "model_path", required=True, metavar="PATH",
              help="A local diffusers folder (SD1.5 family or SDXL) or a single .safetensors checkpoint.")
@click.option("--model-config", metavar="DIR",
              help="For a single-file checkpoint: a local diffusers folder of the same family (configs, tokenizer).")
@click.option("--allow-pickle", is_flag=True,
              help="Allow pickled checkpoints, adapters and image encoders (.ckpt/.bin; they can run code).")
@click.option("--prompt", help="What the edited frames show (required unless --reconstruct).")
@click.option("--ip-adapter", required=True, metavar="PATH",
              help="A local diffusers-format IP-Adapter .safetensors (e.g. ip-adapter_sd15.safetensors).")
@click.option("--image-encoder", metavar="DIR",
              help="Local CLIP image encoder folder for the adapter (default: image_encoder/ beside the adapter).")
@click.option("--mask", metavar="MASK",
              help="Only change where this mask is white (still, sequence or movie; alpha if it has one, "
                   "values as stored); outside it the output is the input, bit for bit.")
@setting_options(EditSettings)
@click.option("--frames", metavar="RANGE", help="Frames to edit: 1001-1020, 1001-1020x2 or 1001,1005 (default: all).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Recorded with the outputs; DDIM inversion and editing draw no noise, so frames do not depend on it.")
@click.option("--reconstruct", is_flag=True,
              help="Denoise with the source prompt, no guidance and --ip-scale: the output should be the input; "
                   "prints each frame's reconstruction error and PSNR to measure fidelity.")
@click.option("--working-space", default=WORKING_SPACE, show_default=True, help="Scene-linear space of the output.")
@click.option("--input-colorspace", metavar="NAME",
              help="Colour space of the input (default: what the file records, else sRGB for 8/16-bit).")
@click.option("--lora", metavar="PATH", help="A local LoRA .safetensors file.")
@click.option("--overwrite", is_flag=True, help="Redo frames whose output is already up to date.")
@setting_options(EditElement)
@setting_options(RunOptions)
@threads_option()
def edit(input_path: str, output: str, model_path: str, model_config: str | None, allow_pickle: bool,
         prompt: str | None, source_prompt: str, negative_prompt: str, ip_adapter: str, image_encoder: str | None,
         ip_scale: float, edit_ip_scale: float, steps: int, guidance: float, strength: float, inversion_iters: int,
         mask: str | None, feather: int, hold_background: bool, key: str, frames: str | None, seed: int,
         reconstruct: bool, working_space: str, input_colorspace: str | None, precision: str | None,
         lora: str | None, overwrite: bool, lora_scale: float, offload: bool, vae_tiling: bool,
         attention_slicing: bool, deterministic: bool) -> None:
    """Edit INPUT (an image, a sequence such as el.####.exr, a folder of images or a movie)
    with an edit prompt, keeping everything the prompt does not change.

    Each frame is inverted into the model's noise with the frame itself as a condition
    (IP-Adapter, Tight Inversion) and denoised with --prompt. A keyed input (with alpha)
    is put on its key colour, edited, and keyed again: the output is a premultiplied
    element. Frames are independent of each other, so a shot can be split into chunks;
    frames whose output is up to date (same settings, model and adapter files) are skipped
    without loading the model (--overwrite to redo them).
    """
    if not reconstruct and prompt is None:
        raise VfxkeyError("--prompt is required (or --reconstruct to measure how faithfully the input comes back)")
    inputs = {"input": input_path, "mask": mask}
    if source := overwritten(output, inputs):
        raise VfxkeyError(f"-o/--output: {output} would overwrite the {source} {inputs[source]}")
    # The options are the shot spec's edit settings of the same names (see vfxkey.shot.spec), and
    # the edit is rendered as `vfxkey render` renders an edit shot. The shot is the whole input;
    # --frames is the chunk this run edits.
    from vfxkey.shot.run import render
    from vfxkey.shot.spec import build_spec

    data = {
        "shot": {"name": "edit", "working_space": working_space, "seed": seed},
        "element": {"mode": "edit", "input": input_path, "input_colorspace": input_colorspace, "model": model_path,
                    "model_config": model_config, "allow_pickle": allow_pickle, "ip_adapter": ip_adapter,
                    "image_encoder": image_encoder, "prompt": prompt, "source_prompt": source_prompt,
                    "negative_prompt": negative_prompt, "ip_scale": ip_scale, "edit_ip_scale": edit_ip_scale,
                    "steps": steps, "guidance": guidance, "strength": strength, "inversion_iters": inversion_iters,
                    "mask": mask, "feather": feather, "key": key, "reconstruct": reconstruct,
                    "precision": precision, "lora": lora, "lora_scale": lora_scale, "offload": offload,
                    "vae_tiling": vae_tiling, "attention_slicing": attention_slicing, "deterministic": deterministic,
                    "hold_background": hold_background},
        "outputs": {"element": output},
    }
    spec = build_spec(data, base=Path.cwd(), label=options_of_command(ALIASES), sequence_outputs=False)
    chunk = FrameRange.parse(frames) if frames else None
    with FrameProgress("edit") as progress:
        rendered = render(spec, chunk, force=overwrite, progress=progress, warn=warn)
    if all(done.skipped for done in rendered.frames):
        note(f"all {len(rendered.frames)} frames of {output} are up to date; nothing to do (--overwrite to redo them)")
    for done in rendered.frames:
        if reconstruct and not done.skipped:
            psnr = "inf" if math.isinf(done.record["psnr"]) else f"{done.record['psnr']:.2f}"
            click.echo(f"frame {done.frame}: latent error {done.record['latent_error']:.3g}, PSNR {psnr} dB",
                       err=True)


# Spec keys that `vfxkey edit` spells otherwise.
ALIASES = {"input": "INPUT", "element": "-o/--output"}
