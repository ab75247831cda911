"""Command-line options made from the shot spec's setting fields.

A setting's default, help, choices and limits are written once, on its field
(:func:`vfxkey.fields.setting`); the spec reader checks a ``shot.toml`` with them and a
command's options (``--steps``) are made from them here, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from vfxkey.fields import setting_fields


def setting_options(owner: type) -> Callable:
    """A decorator adding a ``--name`` option for every setting field of the dataclass ``owner``."""
    def decorate(command: Callable) -> Callable:
        for field in reversed(list(setting_fields(owner).values())):
            command = _option(field)(command)
        return command
    return decorate


def _option(field) -> Callable:
    meta, default = field.metadata, field.default
    name = field.name.replace('_', '-')
    if field.type == "bool":
        return click.option(f"--{name}/--no-{name}", default=default, show_default=True, help=meta["help"])
    if meta["choices"]:
        kind = click.Choice(meta["choices"])
    elif field.type == "int":
        kind = int if meta["minimum"] is None else click.IntRange(min=meta["minimum"])
    elif field.type.startswith("float"):
        kind = float if meta["minimum"] is None else click.FloatRange(min=meta["minimum"])  # unbounded: no "x<=None"
    else:
        kind = str
    return click.option(f"--{name}", type=kind, default=default, metavar=meta["metavar"],
                        show_default=default not in (None, ""), help=meta["help"])


def run_options(command: Callable) -> Callable:
    """The model's LoRA scale, memory savers and determinism (``vfxkey generate`` and ``vfxkey edit``):
    the spec's ``lora_scale``, ``offload``, ``vae_tiling``, ``attention_slicing``, ``deterministic``
    (``vfxkey.generate.run_options.RunOptions``)."""
    for option in reversed((
        click.option("--lora-scale", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
                     help="Weight of --lora (0 = without it, 1 = as trained)."),
        click.option("--offload", is_flag=True,
                     help="GPU only: move each part of the model (text encoders, UNet, VAE) to the GPU only while "
                          "it runs. Same pixels, much less GPU memory, slower."),
        click.option("--vae-tiling", is_flag=True,
                     help="Decode (and encode) in overlapping tiles of 512 px: the VAE's memory stays about that of "
                          "one tile at any size. Pixels differ slightly from an untiled decode (recorded); works "
                          "with --matte-head."),
        click.option("--attention-slicing", is_flag=True,
                     help="Deprecated, to be removed: diffusers' sliced attention costs MORE memory and time than "
                          "torch's default attention, not less (warned; docs/generate.md)."),
        click.option("--deterministic", is_flag=True,
                     help="torch's deterministic algorithms: on a GPU the same bits for the same settings on the "
                          "same GPU model and driver (recorded; an operation with no deterministic kernel stops "
                          "the run). Without it a GPU may vary in the last bits between runs."),
    )):
        command = option(command)
    return command
