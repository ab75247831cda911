"""``vfxkey generate``: keyed elements on a key colour with Stable Diffusion (TKG-DM), as premultiplied EXR."""

from __future__ import annotations

from pathlib import Path

import click

from vfxkey.cli.progress import FrameProgress, note, warn
from vfxkey.cli.threads import threads_option
from vfxkey.errors import VfxkeyError
from vfxkey.generate.run_options import RunOptions
from vfxkey.io.colour import WORKING_SPACE
from vfxkey.io.exr_options import EXR_DATA_TYPES
from vfxkey.io.sequence import has_frame_token
from vfxkey.shot.run import render
from vfxkey.cli.settings import setting_options
from vfxkey.cli.words import options_of_command
from vfxkey.shot.spec import GenerateElement, build_spec


@click.command()
@click.option("--model", "model_path", required=True, metavar="PATH",
              help="A local diffusers folder (SD1.5 family or SDXL) or a single .safetensors checkpoint.")
@click.option("--model-config", metavar="DIR",
              help="For a single-file checkpoint: a local diffusers folder of the same family that provides "
                   "the configs and tokenizer (default: the family's repository if already in the local HF cache).")
@click.option("--allow-pickle", is_flag=True, help="Allow a pickled .ckpt/.pt/.bin checkpoint (it can run code).")
@click.option("--prompt", required=True, help="What to generate (no need to mention the background).")
@click.option("--seed", type=int, required=True, help="Seed of the shot's noise.")
@click.option("--frames", required=True, metavar="RANGE", help="Shot frames to generate: 1001-1020, 1001-1020x2, ...")
@click.option("--size", required=True, metavar="WxH",
              help="Image size in pixels, e.g. 1920x1080. A side that is not a multiple of 8 (1998x1080) is "
                   "generated at the next multiple and centre-cropped.")
@setting_options(GenerateElement)
@click.option("--lora", metavar="PATH", help="A local LoRA .safetensors file.")
@click.option("--matte-head", metavar="PATH", help="A matting head trained with `vfxkey train-matte-head` for this "
                                                   "model's VAE and key colour: its coarse mask keeps the subject out "
                                                   "of the keyer's clean plate and makes its inside opaque; it only "
                                                   "adds alpha (on the toy model's frames it changed the keyer's "
                                                   "alpha by about 0: bench/generate_quality.md).")
@click.option("--attention-hint", is_flag=True,
              help="Without --matte-head, guide the keyer with the subject's cross-attention (--subject). Off by "
                   "default: measured on the toy model it made the alpha worse than the keyer alone "
                   "(bench/generate_quality.md).")
@click.option("--working-space", default=WORKING_SPACE, show_default=True, help="Scene-linear space of the EXRs.")
@click.option("--data-type", type=click.Choice(list(EXR_DATA_TYPES)), default="half", show_default=True,
              help="EXR channel type.")
@click.option("-o", "--output", required=True, metavar="OUTPUT.####.exr", help="EXR sequence pattern.")
@click.option("--save-screen", metavar="SCREEN.####.png", help="Also save the raw generated frame (on its screen) as PNG.")
@click.option("--overwrite", is_flag=True, help="Regenerate frames whose output is already up to date.")
@click.option("--allow-mixed-settings", is_flag=True,
              help="Write frames beside frames of the same output made with other settings, device, precision or "
                   "versions (refused by default: they would not match).")
@setting_options(RunOptions)
@threads_option()
def generate(model_path: str, model_config: str | None, allow_pickle: bool, prompt: str, negative_prompt: str,
             seed: int, frames: str, size: str, steps: int, guidance: float, scheduler: str, precision: str | None,
             key: str, key_direction: str,
             shift: float | None, fg_region: str, temporal: str, drift_period: int, subject: str | None,
             lora: str | None, matte_head: str | None, attention_hint: bool, working_space: str, data_type: str, output: str,
             save_screen: str | None, overwrite: bool, allow_mixed_settings: bool, lora_scale: float, offload: bool,
             vae_tiling: bool, attention_slicing: bool, deterministic: bool) -> None:
    """Generate an element on a key colour, frame by frame, and write premultiplied EXRs.

    Every frame is a pure function of the seed, the frame number and the settings, so a
    shot can be split into chunks over any number of machines of the same kind (device,
    precision and library versions are recorded, and a chunk whose settings differ from
    the frames already written is refused); frames whose EXR exists with the same
    settings are skipped (use --overwrite to redo them). Alpha comes from the colour,
    keyed by the same keyer as `vfxkey key` on every frame on its own, guided by the
    matting head's mask (--matte-head) or, if asked for, the cross-attention hint
    (--attention-hint).
    """
    # The options are the shot spec's settings of the same names (see vfxkey.shot.spec);
    # everything is checked before the model is loaded, so mistakes fail fast.
    data = {
        "shot": {"name": "generate", "frames": frames, "seed": seed, "working_space": working_space},
        "element": {"mode": "generate", "model": model_path, "model_config": model_config,
                    "allow_pickle": allow_pickle, "prompt": prompt, "negative_prompt": negative_prompt,
                    "size": size, "steps": steps, "guidance": guidance, "scheduler": scheduler,
                    "precision": precision, "key": key, "key_direction": key_direction,
                    "shift": shift, "fg_region": fg_region, "temporal": temporal, "drift_period": drift_period,
                    "subject": subject, "lora": lora, "matte_head": matte_head,
                    "attention_hint": attention_hint, "lora_scale": lora_scale, "offload": offload,
                    "vae_tiling": vae_tiling, "attention_slicing": attention_slicing, "deterministic": deterministic},
        "outputs": {"element": output, "save_screen": save_screen, "data_type": data_type},
    }
    spec = build_spec(data, base=Path.cwd(), label=options_of_command({"element": "-o"}))
    if not has_frame_token(spec.outputs.element) and len(spec.frames) > 1:
        raise VfxkeyError(f"-o {output}: give an EXR sequence pattern such as element.####.exr")
    with FrameProgress("generate") as progress:
        rendered = render(spec, force=overwrite, allow_mixed=allow_mixed_settings, progress=progress, warn=warn)
    if all(done.skipped for done in rendered.frames):
        note(f"all {len(rendered.frames)} frames of {output} are up to date; nothing to do "
             "(--overwrite to redo)")
