"""Capture the VAE decoder's full-resolution feature during the normal decode.

DiffuMatting (REFERENCE §1.2) reads its coarse mask from the last feature map of the VAE
decoder before ``conv_norm_out -> conv_act -> conv_out``. In diffusers' ``AutoencoderKL``
that is the output of ``vae.decoder.up_blocks[-1]``: full image resolution, 128 channels
in the SD1.5 / SDXL VAEs (``block_out_channels[0]`` in general). A forward hook on that
block hands it over while the pipeline decodes its latents, so the mask needs no second
decode, only the head's two small convolutions.

Usage::

    with capture_decoder_features(vae, transform=head) as captured:
        image = vae.decode(latents / vae.config.scaling_factor).sample
    mask = captured.output()          # head(feature), (B, 1, H, W)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from diffusers import AutoencoderKL


def decoder_feature_channels(vae: AutoencoderKL) -> int:
    """Channels of the feature :func:`capture_decoder_features` captures (128 for SD VAEs)."""
    return int(vae.config.block_out_channels[0])


@dataclass
class CapturedFeatures:
    """What the hook saw: one tensor per call of ``up_blocks[-1]`` (one per decoded slice)."""

    tensors: list[torch.Tensor] = field(default_factory=list)

    def output(self) -> torch.Tensor:
        """The captured tensors joined along the batch axis, ``(B, C, H, W)``.

        Raises:
            RuntimeError: nothing was decoded inside the block, or the decode was tiled
                (tiles of different sizes cannot be joined into one image's feature).
        """
        if not self.tensors:
            raise RuntimeError("no decoder feature was captured: decode inside the `with` block")
        if len({t.shape[1:] for t in self.tensors}) > 1:
            raise RuntimeError("decoder features came in tiles; disable VAE tiling to use the matting head")
        return torch.cat(self.tensors, dim=0)


@contextmanager
def capture_decoder_features(
    vae: AutoencoderKL, transform: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Iterator[CapturedFeatures]:
    """Hook ``vae.decoder.up_blocks[-1]`` for the duration of the block and keep its output.

    ``transform`` (e.g. the matting head) is applied to each captured feature inside the
    hook, so only its (small) result is kept rather than the 128-channel full-resolution
    feature. The decode's own output is not changed. The hook is removed on exit, also
    when the block raises.
    """
    captured = CapturedFeatures()

    def keep(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        captured.tensors.append(output if transform is None else transform(output))

    handle = vae.decoder.up_blocks[-1].register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()
