"""Tiny, randomly initialised Stable Diffusion 1.5-layout models for tests.

Everything is built in-process with a fixed torch seed, so two calls give bitwise equal
weights and no weights are ever downloaded. The layout follows SD1.5 (4 latent channels,
cross-attention UNet, CLIP text encoder, ``AutoencoderKL``) at toy sizes:

- ``AutoencoderKL`` with ``block_out_channels=(32, 64)``: one downsample, so a 64x64 image
  has a 32x32 latent, and ``vae.decoder.up_blocks[-1]`` outputs 32 channels at full
  resolution (the feature the matting head reads; 128 channels in the real SD VAE).
- ``UNet2DConditionModel`` with ``block_out_channels=(32, 64)``, ``layers_per_block=2``
  (as in SD1.5, so the original-checkpoint key layout is the real one), cross-attention
  dim 32.
- ``CLIPTextModel`` (hidden 32, 2 layers) and a ``CLIPTokenizer`` over a byte-level vocab
  written here (every byte as a token, with and without the end-of-word mark).
- ``DDIMScheduler`` with SD1.5's beta schedule.

``build_deep_pipeline`` / ``build_deep_sdxl_pipeline`` have the **real depth** at toy widths:
four UNet levels (three downsamplers, as in SD1.5 and SDXL) and a four-level VAE (8x, as in
the real one), so production sizes give the latent sizes real models see, odd ones
included (1280x720: latent 160x90 -> 80x45 -> 40x23 -> 20x12). To make a 1920x1080 frame
take seconds on a CPU they are 8-16 channels wide, one layer per block, no VAE mid-block
attention, and the full-latent-resolution UNet level has cross-attention only (no
self-attention over 32,400 tokens); the deeper levels keep self- and cross-attention.

``save_diffusers_folder`` writes ``pipe.save_pretrained`` output; ``save_single_file``
writes one ``.safetensors`` in the original (LDM) key layout that
``StableDiffusionPipeline.from_single_file(path, config=<diffusers folder>)`` reads back.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

SEED = 0
IMAGE_SIZE = 64  # pixels; the latent is IMAGE_SIZE // 2
BLOCKS = (32, 64)
LAYERS_PER_BLOCK = 2
DEEP_BLOCKS = (8, 8, 16, 16)  # four levels, as SD1.5 / SDXL (320, 640, 1280, 1280) and their VAE (128, 256, 512, 512)


def _byte_vocab() -> tuple[dict[str, int], list[str]]:
    """A byte-level BPE vocab: each of the 256 byte characters alone and as a word end."""
    # GPT-2 / CLIP byte-to-unicode table: printable bytes map to themselves, the rest
    # are moved to code points 256 and up so every byte is one visible character.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    return vocab, []


def build_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over the byte vocab, 77 tokens long like SD1.5's."""
    vocab, merges = _byte_vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def build_unet(block_out_channels: tuple[int, ...] = BLOCKS, cross_attention_dim: int = 32,
               sample_size: int = IMAGE_SIZE // 2) -> UNet2DConditionModel:
    """An SD1.5-layout UNet: cross-attention in every block but the deepest, 4 latent channels."""
    depth = len(block_out_channels)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        block_out_channels=block_out_channels,
        layers_per_block=LAYERS_PER_BLOCK,
        down_block_types=("CrossAttnDownBlock2D",) * (depth - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (depth - 1),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=32,
    )


def build_vae(block_out_channels: tuple[int, ...] = BLOCKS) -> AutoencoderKL:
    """An SD-layout VAE with 4 latent channels and SD1.5's scaling factor."""
    depth = len(block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * depth,
        up_block_types=("UpDecoderBlock2D",) * depth,
        block_out_channels=block_out_channels,
        layers_per_block=LAYERS_PER_BLOCK,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=IMAGE_SIZE,
        scaling_factor=0.18215,
    )


def _text_config(hidden_size: int, **extra) -> CLIPTextConfig:
    vocab_size = len(_byte_vocab()[0])
    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        **extra,
    )


def build_text_encoder(hidden_size: int = 32) -> CLIPTextModel:
    """A two-layer CLIP text encoder whose vocab matches :func:`build_tokenizer`."""
    return CLIPTextModel(_text_config(hidden_size))


def build_scheduler() -> DDIMScheduler:
    """DDIM with SD1.5's scaled-linear beta schedule."""
    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def build_pipeline(seed: int = SEED, unet_blocks: tuple[int, ...] = BLOCKS,
                   vae_blocks: tuple[int, ...] = BLOCKS, text_hidden: int = 32) -> StableDiffusionPipeline:
    """Assemble a randomly initialised SD1.5-layout pipeline on CPU in float32.

    The weights depend only on ``seed`` and the sizes (the global torch RNG is reseeded
    here and restored afterwards, so callers' random state is untouched).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = build_unet(unet_blocks, cross_attention_dim=text_hidden)
        vae = build_vae(vae_blocks)
        text_encoder = build_text_encoder(text_hidden)
    pipe = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=build_tokenizer(),
        unet=unet.eval(),
        scheduler=build_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_sdxl_pipeline(seed: int = SEED) -> StableDiffusionXLPipeline:
    """A randomly initialised SDXL-layout pipeline (two text encoders, text-time conditioning), CPU float32."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=IMAGE_SIZE // 2, in_channels=4, out_channels=4, block_out_channels=BLOCKS, layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=64,  # both text encoders' hidden states, concatenated
            attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 1),
            addition_embed_type="text_time", addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + 32,  # six size/crop ids + pooled text
            norm_num_groups=32,
        )
        vae = build_vae()
        text_encoder = CLIPTextModel(_text_config(32))
        text_encoder_2 = CLIPTextModelWithProjection(_text_config(32, projection_dim=32))
    pipe = StableDiffusionXLPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), text_encoder_2=text_encoder_2.eval(),
        tokenizer=build_tokenizer(), tokenizer_2=build_tokenizer(), unet=unet.eval(), scheduler=build_scheduler(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _deep_vae() -> AutoencoderKL:
    """A four-level (8x) SD-layout VAE, 8-16 channels wide, without mid-block attention."""
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=DEEP_BLOCKS, layers_per_block=1, norm_num_groups=8,
        mid_block_add_attention=False, sample_size=IMAGE_SIZE, scaling_factor=0.18215,
    )


def build_deep_pipeline(seed: int = SEED) -> StableDiffusionPipeline:
    """SD1.5 layout at the real depth: cross-attention in the first three UNet levels, 8x VAE (CPU, float32)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=IMAGE_SIZE // 8, in_channels=4, out_channels=4,
            block_out_channels=DEEP_BLOCKS, layers_per_block=1, norm_num_groups=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=32, attention_head_dim=8,
            only_cross_attention=(True, False, False, False),  # no self-attention at full latent size
        )
        vae = _deep_vae()
        text_encoder = build_text_encoder(32)
    pipe = StableDiffusionPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=build_tokenizer(), unet=unet.eval(),
        scheduler=build_scheduler(), safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_deep_sdxl_pipeline(seed: int = SEED) -> StableDiffusionXLPipeline:
    """SDXL layout at the real depth: attention in the second and third UNet levels only, 8x VAE (CPU, float32).

    (SDXL itself has three UNet levels; the fourth here adds one more odd size, 1920x1080 ->
    latent 240x135 -> 120x68 -> 60x34 -> 30x17.)
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=IMAGE_SIZE // 8, in_channels=4, out_channels=4,
            block_out_channels=DEEP_BLOCKS, layers_per_block=1, norm_num_groups=8,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=64, attention_head_dim=8, use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=6 * 8 + 32,
        )
        vae = _deep_vae()
        text_encoder = CLIPTextModel(_text_config(32))
        text_encoder_2 = CLIPTextModelWithProjection(_text_config(32, projection_dim=32))
    pipe = StableDiffusionXLPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), text_encoder_2=text_encoder_2.eval(),
        tokenizer=build_tokenizer(), tokenizer_2=build_tokenizer(), unet=unet.eval(), scheduler=build_scheduler(),
        add_watermarker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_diffusers_folder(pipe: StableDiffusionPipeline, folder: str | Path) -> Path:
    """Write ``pipe`` as a local diffusers folder (model_index.json, unet/, vae/, ...)."""
    folder = Path(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def save_single_file(pipe: StableDiffusionPipeline, path: str | Path) -> Path:
    """Write ``pipe``'s UNet, VAE and text encoder as one original-layout ``.safetensors``.

    Keys follow the CompVis/LDM checkpoints SD1.5 ships as
    (``model.diffusion_model.*``, ``first_stage_model.*``, ``cond_stage_model.transformer.*``),
    so diffusers' single-file converter reads it like a real checkpoint.
    """
    state = {}
    state.update({f"model.diffusion_model.{k}": v for k, v in _unet_to_ldm(pipe.unet).items()})
    state.update({f"first_stage_model.{k}": v for k, v in _vae_to_ldm(pipe.vae).items()})
    state.update({f"cond_stage_model.transformer.text_model.{k}": v for k, v in pipe.text_encoder.state_dict().items()})
    path = Path(path)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


# --- diffusers -> original (LDM) key names, the inverse of diffusers' single-file converter ---

_RESNET_TO_LDM = {
    "norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection",
}


def _rename(key: str, table: dict[str, str]) -> str:
    for new, old in table.items():
        key = key.replace(f".{new}.", f".{old}.")
    return key


def _unet_to_ldm(unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    config = unet.config
    per_down = config.layers_per_block + 1  # LDM input blocks per level: resnets + downsampler
    per_up = config.layers_per_block + 1    # diffusers up blocks have one resnet more
    prefixes = {
        "time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
        "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
        "mid_block.resnets.0.": "middle_block.0.", "mid_block.attentions.0.": "middle_block.1.",
        "mid_block.resnets.1.": "middle_block.2.",
    }
    for i, block in enumerate(unet.down_blocks):
        for j in range(config.layers_per_block):
            prefixes[f"down_blocks.{i}.resnets.{j}."] = f"input_blocks.{per_down * i + j + 1}.0."
            prefixes[f"down_blocks.{i}.attentions.{j}."] = f"input_blocks.{per_down * i + j + 1}.1."
        if block.downsamplers is not None:
            prefixes[f"down_blocks.{i}.downsamplers.0.conv."] = f"input_blocks.{per_down * (i + 1)}.0.op."
    for i, block in enumerate(unet.up_blocks):
        for j in range(per_up):
            prefixes[f"up_blocks.{i}.resnets.{j}."] = f"output_blocks.{per_up * i + j}.0."
            prefixes[f"up_blocks.{i}.attentions.{j}."] = f"output_blocks.{per_up * i + j}.1."
        if block.upsamplers is not None:
            slot = 2 if hasattr(block, "attentions") else 1
            prefixes[f"up_blocks.{i}.upsamplers.0.conv."] = f"output_blocks.{per_up * i + per_up - 1}.{slot}.conv."
    out = {}
    for key, value in unet.state_dict().items():
        new, old = next((n, o) for n, o in prefixes.items() if key.startswith(n))
        renamed = old + key[len(new):]
        if ".resnets." in new or new.startswith("mid_block.resnets"):
            renamed = _rename("." + renamed, _RESNET_TO_LDM)[1:]
        out[renamed] = value
    return out


def _vae_to_ldm(vae: AutoencoderKL) -> dict[str, torch.Tensor]:
    n_up = len(vae.decoder.up_blocks)
    prefixes = {}
    for part in ("encoder", "decoder"):
        prefixes.update({
            f"{part}.mid_block.resnets.0.": f"{part}.mid.block_1.",
            f"{part}.mid_block.resnets.1.": f"{part}.mid.block_2.",
            f"{part}.mid_block.attentions.0.": f"{part}.mid.attn_1.",
            f"{part}.conv_norm_out.": f"{part}.norm_out.",
            f"{part}.conv_in.": f"{part}.conv_in.", f"{part}.conv_out.": f"{part}.conv_out.",
        })
    for i in range(len(vae.encoder.down_blocks)):
        prefixes[f"encoder.down_blocks.{i}.resnets."] = f"encoder.down.{i}.block."
        prefixes[f"encoder.down_blocks.{i}.downsamplers.0."] = f"encoder.down.{i}.downsample."
    for i in range(n_up):
        prefixes[f"decoder.up_blocks.{i}.resnets."] = f"decoder.up.{n_up - 1 - i}.block."
        prefixes[f"decoder.up_blocks.{i}.upsamplers.0."] = f"decoder.up.{n_up - 1 - i}.upsample."
    prefixes["quant_conv."] = "quant_conv."
    prefixes["post_quant_conv."] = "post_quant_conv."
    attention = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}
    out = {}
    for key, value in vae.state_dict().items():
        new, old = next((n, o) for n, o in prefixes.items() if key.startswith(n))
        rest = key[len(new):]
        if "attentions" in new:
            name, ldm_name = next((n, o) for n, o in attention.items() if rest.startswith(n))
            rest = ldm_name + rest[len(name):]
            if value.ndim == 2:  # LDM stores the attention projections as 1x1 convolutions
                value = value[:, :, None, None]
        else:
            rest = rest.replace("conv_shortcut.", "nin_shortcut.")
        out[old + rest] = value
    return out


def save_lora(unet: UNet2DConditionModel, folder: str | Path, name: str = "style.safetensors") -> Path:
    """Give ``unet`` a rank-4 LoRA on its attention projections (random B, seed 0: it changes the
    output) and save it as a diffusers LoRA file ``folder/name``; ``unet`` keeps the adapter."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        for parameter_name, param in unet.named_parameters():
            if "lora_B" in parameter_name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    lora_state = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=lora_state, weight_name=name)
    return Path(folder) / name
