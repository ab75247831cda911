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

    def output(self, vae: AutoencoderKL | None = None, latent_size: tuple[int, int] | None = None) -> torch.Tensor:
        """The captured tensors joined along the batch axis, ``(B, C, H, W)``.

        When ``vae`` decoded one image of ``latent_size`` (latent pixels) in tiles
        (``vae.enable_tiling()``), the tiles are blended into one as the VAE blends its own
        (:func:`join_tiles`).

        Raises:
            RuntimeError: nothing was decoded inside the block, or the decode was tiled and
                no ``vae`` and ``latent_size`` were given to join the tiles.
        """
        if not self.tensors:
            raise RuntimeError("no decoder feature was captured: decode inside the `with` block")
        tiled = vae is not None and latent_size is not None and getattr(vae, "use_tiling", False) and (
            max(latent_size) > vae.tile_latent_min_size)
        if tiled:
            return join_tiles(vae, self.tensors, latent_size)
        if len({t.shape[1:] for t in self.tensors}) > 1:
            raise RuntimeError("decoder features came in tiles; give the VAE and latent size to join them")
        return torch.cat(self.tensors, dim=0)


def join_tiles(vae: AutoencoderKL, tiles: list[torch.Tensor], latent_size: tuple[int, int]) -> torch.Tensor:
    """One ``(1, C, H, W)`` image from the per-tile outputs of a tiled decode of a ``latent_size``
    latent, in the decode's order (rows, then columns), blended as ``AutoencoderKL.tiled_decode``
    blends its image: tiles start every ``tile_latent_min_size * (1 - tile_overlap_factor)``
    latent pixels, each is linearly blended over its upper and left neighbours across
    ``tile_sample_min_size * tile_overlap_factor`` pixels and cropped to the rest. A head's mask
    joined this way differs from the head of a joined feature only in the blended bands."""
    step = int(vae.tile_latent_min_size * (1 - vae.tile_overlap_factor))
    blend = int(vae.tile_sample_min_size * vae.tile_overlap_factor)
    limit = vae.tile_sample_min_size - blend
    columns = len(range(0, latent_size[1], step))
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    if len(rows) != len(range(0, latent_size[0], step)) or len(rows[-1]) != columns:
        raise RuntimeError(f"{len(tiles)} decoder tiles do not make a {latent_size[0]}x{latent_size[1]} latent's grid")
    joined = []
    for i, row in enumerate(rows):
        line = []
        for j, tile in enumerate(row):
            if i > 0:
                tile = vae.blend_v(rows[i - 1][j], tile, blend)
            if j > 0:
                tile = vae.blend_h(row[j - 1], tile, blend)
            line.append(tile[:, :, :limit, :limit])
        joined.append(torch.cat(line, dim=3))
    return torch.cat(joined, dim=2)


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
