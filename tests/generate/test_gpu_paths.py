"""What a user with real weights on a GPU hits first (issue 24 §1), on tiny in-process models:
fp16 edits with an SDXL-like VAE that overflows, fp16 weight folders, a LoRA's scale, the
memory savers (VAE tiling with the matting head), determinism recorded."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL
from tiny_models import build_deep_sdxl_pipeline, build_pipeline, build_sdxl_pipeline, save_lora

from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.generate.decoder_features import capture_decoder_features
from vfxkey.generate.edit import Editor, EditSettings
from vfxkey.generate.model import LoadedModel, apply_run_options, load_model, weight_variant
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
from vfxkey.generate.provenance import ModelRecord, run_metadata
from vfxkey.generate.run_options import VAE_TILE_PX, RunOptions
from vfxkey.io.frame import Frame
from vfxkey.generate.head import MattingHead


def sdxl_with_overflowing_vae(force_upcast: bool):
    """The tiny SDXL whose VAE has a feature 1e5 times too large in its encoder and decoder
    (the GroupNorms after them undo it in float32): in float16 it overflows the half range,
    as SDXL's real VAE does."""
    pipe = build_sdxl_pipeline()
    with torch.no_grad():
        for conv in (pipe.vae.encoder.conv_in, pipe.vae.decoder.up_blocks[-1].resnets[-1].conv2):
            conv.weight.mul_(1e5)
            conv.bias.mul_(1e5)
    pipe.vae.register_to_config(force_upcast=force_upcast)
    return pipe


def plate() -> Frame:
    rgb = np.random.default_rng(3).random((32, 32, 3), dtype=np.float32) * 0.5
    return Frame(number=1001, rgb=rgb, alpha=None, premultiplied=True, source="plate.1001.exr")


SETTINGS = EditSettings(prompt="a red apple", source_prompt="an apple", steps=2, inversion_iters=0, feather=0)


def test_an_fp16_edit_upcasts_an_sdxl_like_vae_and_matches_fp32():
    pipe = sdxl_with_overflowing_vae(force_upcast=True)
    reference = Editor(LoadedModel(pipe=copy.deepcopy(pipe), family="sdxl", path=Path("t"), hash="t"), SETTINGS)(plate())
    half = LoadedModel(pipe=pipe.to(dtype=torch.float16), family="sdxl", path=Path("t"), hash="t")
    edited = Editor(half, SETTINGS)(plate())
    # Before: the float16 VAE turned every value into NaN, written as 0.
    assert np.isfinite(edited.rgba).all()
    np.testing.assert_allclose(edited.rgba, reference.rgba, atol=0.05)
    assert pipe.vae.dtype == torch.float16  # handed back as it came


def test_an_fp16_edit_that_overflows_stops_naming_the_frame():
    pipe = sdxl_with_overflowing_vae(force_upcast=False).to(dtype=torch.float16)  # says it is safe; is not
    with pytest.raises(SettingError) as error:
        Editor(LoadedModel(pipe=pipe, family="sdxl", path=Path("t"), hash="t"), SETTINGS)(plate())
    # The setting is carried, not worded: the CLI words it as --precision, a spec as [element] precision.
    assert error.value.setting == "precision"
    assert error.value.worded(lambda setting: f"--{setting} ") == (
        "plate.1001.exr (frame 1001): --precision fp16: the VAE's encoding is not finite (the model overflows in "
        "this precision); use fp32 or bf16")


def test_a_folder_of_fp16_variant_weights_loads(tiny_model_files, tmp_path):
    folder = tmp_path / "fp16-only"
    shutil.copytree(tiny_model_files.folder, folder)
    for weights in folder.glob("*/*.safetensors"):  # as downloaded with variant="fp16" only
        weights.rename(weights.with_name(weights.name.replace(".safetensors", ".fp16.safetensors")))
    assert weight_variant(folder) == "fp16" and weight_variant(tiny_model_files.folder) is None
    model = load_model(folder, device=torch.device("cpu"), dtype=torch.float32)
    plain = load_model(tiny_model_files.folder, device=torch.device("cpu"), dtype=torch.float32)
    for a, b in zip(model.pipe.unet.parameters(), plain.pipe.unet.parameters()):
        assert torch.equal(a, b)
    # A folder whose weights are missing says what it found.
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.rename(weights.with_name("unet.safetensors.part"))
    with pytest.raises(VfxkeyError, match=r"could not be loaded \(its weight files: text_encoder/model\.fp16"):
        load_model(folder, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def lora_file(tmp_path_factory):
    return save_lora(build_pipeline().unet, tmp_path_factory.mktemp("lora"))


def test_a_lora_scale_weighs_the_lora(tiny_model_files, lora_file):
    sample, t, text = torch.randn(1, 4, 32, 32), torch.tensor(500), torch.randn(1, 77, 32)

    def unet_output(**kwargs):
        model = load_model(tiny_model_files.folder, device=torch.device("cpu"), **kwargs)
        with torch.no_grad():
            return model.pipe.unet(sample, t, text).sample, model

    plain, _ = unet_output()
    full, _ = unet_output(lora=lora_file)
    half, model = unet_output(lora=lora_file, options=RunOptions(lora_scale=0.5))
    off, _ = unet_output(lora=lora_file, options=RunOptions(lora_scale=0.0))
    torch.testing.assert_close(off, plain)
    assert (full - plain).abs().max() > 1e-3
    # LoRA on attention projections: half the scale, about half the change (not exactly: attention is non-linear)
    ratio = float((half - plain).norm() / (full - plain).norm())
    assert 0.3 < ratio < 0.7
    assert model.metadata()["lora_scale"] == 0.5


def test_the_memory_savers_and_determinism_are_recorded_and_offload_needs_a_gpu(tiny_model_files):
    was = torch.are_deterministic_algorithms_enabled()
    try:
        model = load_model(tiny_model_files.folder, device=torch.device("cpu"),
                           options=RunOptions(vae_tiling=True, attention_slicing=True, deterministic=True))
        assert torch.are_deterministic_algorithms_enabled() and model.pipe.vae.use_tiling
        metadata = run_metadata(ModelRecord.of(model), GenerationSettings(prompt="a red apple"), 1, scheduler="ddim",
                                target_shift=0.07, alpha_source="key")
        assert (metadata["deterministic"], metadata["vae_tiling"], metadata["attention_slicing"]) == (1, VAE_TILE_PX, 1)
    finally:
        torch.use_deterministic_algorithms(was)
    with pytest.raises(VfxkeyError, match="offload.*the device is cpu"):
        load_model(tiny_model_files.folder, device=torch.device("cpu"), options=RunOptions(offload=True))


def test_vae_tiling_decodes_sdxls_vae_at_1024px_in_smaller_tiles():
    # SDXL's VAE config has sample_size 1024, which diffusers takes as its tile: with vae_tiling a
    # 1024x1024 frame was decoded whole, saving nothing (bench/generate_memory.py: +3889 MiB for
    # SDXL's decode, tiled or not). Tiles of VAE_TILE_PX px: +1526 MiB.
    pipe = build_deep_sdxl_pipeline()
    pipe.register_modules(vae=AutoencoderKL.from_config({**pipe.vae.config, "sample_size": 1024}).eval())
    pipe = apply_run_options(pipe, RunOptions(vae_tiling=True), torch.device("cpu"))
    tiles = []
    hook = pipe.vae.decoder.register_forward_pre_hook(lambda module, args: tiles.append(tuple(args[0].shape[-2:])))
    with torch.no_grad():
        image = pipe.vae.decode(torch.randn(1, 4, 128, 128)).sample
    hook.remove()
    assert image.shape[-2:] == (1024, 1024)
    latent_tile = VAE_TILE_PX // pipe.vae_scale_factor
    assert len(tiles) > 1 and max(max(tile) for tile in tiles) == latent_tile


def test_attention_slicing_is_warned_as_deprecated_and_costing_memory(tiny_model_files, tmp_path):
    # bench/generate_memory.py: diffusers' sliced attention holds part of the attention matrix that
    # torch's scaled-dot-product attention never holds (SD1.5 UNet step at 1024x1024: +8835 MiB
    # instead of +1261 MiB), and every torch vfxkey runs on has that attention: the option is
    # deprecated. Before, it was warned as costing memory but not as going away.
    from click.testing import CliRunner

    from vfxkey.cli import main

    result = CliRunner().invoke(main, ["generate", "--model", str(tiny_model_files.folder), "--prompt", "a red apple",
                                       "--seed", "1", "--frames", "1", "--size", "64x64", "--steps", "1",
                                       "--attention-slicing", "-o", str(tmp_path / "el.####.exr")])
    assert result.exit_code == 0, result.output
    assert "attention slicing" in result.output and "deprecated" in result.output and "+8835 MiB" in result.output
    assert RunOptions().cautions() == []


def test_the_matting_head_reads_a_tiled_decode():
    # A 96x64 frame decoded in 32-pixel tiles (overlap 25 %): the head's mask is joined from the
    # tiles as the VAE joins its image; it was refused before ("decoder features came in tiles").
    pipe = build_pipeline()
    torch.manual_seed(0)
    head = MattingHead(in_channels=pipe.vae.config.block_out_channels[0]).eval()
    scale = pipe.vae_scale_factor
    pipe.vae.enable_tiling()
    pipe.vae.tile_sample_min_size, pipe.vae.tile_latent_min_size = 32, 32 // scale
    settings = GenerationSettings(prompt="a red apple", width=96, height=64, steps=2)
    tiled = KeyedGenerator(LoadedModel(pipe=pipe, family="sd15", path=Path("t"), hash="t"), settings, 3, head=head)(1)
    assert tiled.head_mask.shape == (64, 96)
    latents = tiled.latents / pipe.vae.config.scaling_factor
    with torch.no_grad(), capture_decoder_features(pipe.vae, transform=head) as features:
        pipe.vae.decode(latents)
    assert len(features.tensors) > 1  # decoded in tiles
    np.testing.assert_allclose(features.output(pipe.vae, (64 // scale, 96 // scale))[0, 0].numpy(), tiled.head_mask,
                               atol=1e-6)
    # The same latents decoded whole: the joined mask differs only in the blended bands, and
    # there no more than the image does.
    pipe.vae.disable_tiling()
    with torch.no_grad(), capture_decoder_features(pipe.vae, transform=head) as features:
        image = pipe.vae.decode(latents).sample[0].permute(1, 2, 0).numpy() / 2 + 0.5
    whole = features.output()[0, 0].numpy()
    image_difference = np.abs(np.clip(image, 0, 1) - tiled.screen).max()
    assert np.abs(whole - tiled.head_mask).max() <= max(0.05, 2 * image_difference)
