"""A tiny IP-Adapter and CLIP image encoder for the editing tests, built in-process.

No weights are downloaded. The layout is the basic IP-Adapter's (``ip-adapter_sd15``), at
toy sizes (REFERENCE §1.3):

- ``CLIPVisionModelWithProjection``: 32x32 input, 8x8 patches, hidden 32, 2 layers,
  projection to 16 (``image_embeds``); its ``CLIPImageProcessor`` resizes and crops to 32.
- the adapter state dict ``{"image_proj": {...}, "ip_adapter": {...}}``: ``image_proj``
  maps the 16-wide image embedding to 4 extra tokens of the UNet's cross-attention width
  (``proj.weight`` (4 * cross, 16), ``proj.bias``, ``norm.weight``, ``norm.bias``);
  ``ip_adapter`` holds ``N.to_k_ip.weight`` and ``N.to_v_ip.weight`` (hidden x cross) for
  the N-th processor of ``unet.attn_processors`` that is a cross-attention (``attn2``),
  N = 1, 3, 5, ... as diffusers numbers them.

``build_edit_pipeline`` is the tiny SD1.5-layout pipeline of ``tiny_models`` (its VAE,
text encoder, tokenizer and scheduler) with a one-level UNet (one cross-attention down and
up block), about twice as fast per call: inversion tests make hundreds of UNet calls.
Its VAE scales latents by 3.0 so they have about unit variance, as real SD latents do.

``save_adapter`` writes the diffusers-format ``.safetensors`` (keys ``image_proj.*`` and
``ip_adapter.*``); ``save_image_encoder`` writes a local folder (``config.json``,
``model.safetensors``, ``preprocessor_config.json``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from tiny_models import IMAGE_SIZE, build_scheduler, build_text_encoder, build_tokenizer, build_vae

ENCODER_IMAGE_SIZE = 32
IMAGE_EMBED_DIM = 16
TOKENS = 4


def build_edit_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """The tiny SD1.5-layout pipeline with a random one-level cross-attention UNet (CPU, float32)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=IMAGE_SIZE // 2, in_channels=4, out_channels=4, block_out_channels=(32,), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D",), up_block_types=("CrossAttnUpBlock2D",),
            cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32,
        )
        vae = build_vae((32, 64))  # one downsample: a 32x32 image has a 16x16 latent
        text_encoder = build_text_encoder(32)
    # SD's 0.18215 gives a real VAE's latents about unit variance; this random VAE needs 3.0. The
    # inversion's fixed point is measured relative to the latent, so it must have a realistic size.
    vae.register_to_config(scaling_factor=3.0)
    pipe = StableDiffusionPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=build_tokenizer(), unet=unet.eval(),
        scheduler=build_scheduler(), safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_image_encoder(seed: int = 0) -> CLIPVisionModelWithProjection:
    """A randomly initialised two-layer CLIP vision tower with a 16-wide projection, CPU float32."""
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              image_size=ENCODER_IMAGE_SIZE, patch_size=8, projection_dim=IMAGE_EMBED_DIM)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPVisionModelWithProjection(config).eval()


def build_image_processor() -> CLIPImageProcessor:
    """CLIP preprocessing (resize the short side, centre crop, normalise) at the encoder's size."""
    return CLIPImageProcessor(size={"shortest_edge": ENCODER_IMAGE_SIZE},
                              crop_size={"height": ENCODER_IMAGE_SIZE, "width": ENCODER_IMAGE_SIZE})


def build_adapter(unet, seed: int = 0, weight_scale: float = 1.0) -> dict[str, dict[str, torch.Tensor]]:
    """A random basic IP-Adapter state dict that fits ``unet`` (its cross-attention width and block widths).

    Weights are Gaussian with standard deviation ``weight_scale / sqrt(fan_in)``.
    """
    cross = unet.config.cross_attention_dim
    generator = torch.Generator().manual_seed(seed)

    def weight(rows: int, cols: int) -> torch.Tensor:
        return torch.randn(rows, cols, generator=generator) * weight_scale / cols ** 0.5

    image_proj = {
        "proj.weight": weight(TOKENS * cross, IMAGE_EMBED_DIM),
        "proj.bias": torch.zeros(TOKENS * cross),
        "norm.weight": torch.ones(cross),
        "norm.bias": torch.zeros(cross),
    }
    ip_adapter = {}
    number = 1
    for name, processor in unet.attn_processors.items():
        if not name.endswith("attn2.processor"):
            continue
        block = unet.get_submodule(name.removesuffix(".processor"))
        hidden = block.to_k.weight.shape[0]
        ip_adapter[f"{number}.to_k_ip.weight"] = weight(hidden, cross)
        ip_adapter[f"{number}.to_v_ip.weight"] = weight(hidden, cross)
        number += 2
    return {"image_proj": image_proj, "ip_adapter": ip_adapter}


def save_adapter(state_dict: dict[str, dict[str, torch.Tensor]], path: str | Path) -> Path:
    """Write the adapter as one diffusers-format ``.safetensors`` (``image_proj.*``, ``ip_adapter.*``)."""
    flat = {f"{part}.{key}": value.contiguous() for part, values in state_dict.items() for key, value in values.items()}
    save_file(flat, str(path))
    return Path(path)


def save_image_encoder(folder: str | Path, seed: int = 0) -> Path:
    """Write the tiny image encoder and its processor as a local folder."""
    folder = Path(folder)
    build_image_encoder(seed).save_pretrained(folder, safe_serialization=True)
    build_image_processor().save_pretrained(folder)
    return folder
