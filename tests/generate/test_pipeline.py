"""The generation loop on the tiny model: noise shaping, transparency, frame independence."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tiny_models import build_pipeline
from vfxkey.errors import VfxkeyError
from vfxkey.generate.model import LoadedModel
from vfxkey.generate.noise import Ellipse, ForegroundPath, foreground_weight, keyed_noise, shift_delta
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert

SETTINGS = GenerationSettings(prompt="a red apple", negative_prompt="blurry", width=64, height=64,
                              steps=3, attention_steps=2)


def loaded(pipe):
    return LoadedModel(pipe=pipe, family="sd15", path=Path("tiny"), hash="tiny")


@pytest.fixture(scope="module")
def zero_noise_model():
    """The tiny model with its UNet's last conv zeroed: it predicts zero noise everywhere."""
    pipe = build_pipeline()
    torch.nn.init.zeros_(pipe.unet.conv_out.weight)
    torch.nn.init.zeros_(pipe.unet.conv_out.bias)
    return loaded(pipe)


def test_zero_noise_unet_moves_the_background_along_the_key_direction_and_keeps_the_centre(zero_noise_model):
    region = ForegroundPath(((0, Ellipse(0.5, 0.5, 0.15, 0.15)),))
    keyed = KeyedGenerator(zero_noise_model, GenerationSettings(**{**vars(SETTINGS), "region": region}), seed=11)
    plain = KeyedGenerator(zero_noise_model, GenerationSettings(**{**vars(SETTINGS), "region": region,
                                                                   "target_shift": 0.0}), seed=11)
    a, b = keyed(4).latents[0], plain(4).latents[0]
    # DDIM with eps = 0 scales the initial latents by c = sqrt(alpha_final / alpha_T) at every pixel.
    scheduler = zero_noise_model.pipe.scheduler
    scheduler.set_timesteps(SETTINGS.steps)
    alphas = scheduler.alphas_cumprod
    c = (scheduler.final_alpha_cumprod / alphas[scheduler.timesteps[0]]).sqrt().item()
    background = 1 - foreground_weight(32, 32, region.at(4))
    green = torch.tensor([0.0, 1.0, 1.0, 0.0])
    expected = c * shift_delta(0.07) * green[:, None, None] * background
    torch.testing.assert_close(a - b, expected, atol=1e-4, rtol=1e-4)
    # Corners moved by c * delta along green's channels; centre pixels untouched.
    assert (a - b)[1:3, :3, :3].mean().item() == pytest.approx(c * shift_delta(0.07), rel=0.01)
    assert (a - b)[:, 15:17, 15:17].abs().max().item() < 0.02 * c * shift_delta(0.07)
    assert torch.equal((a - b)[0], torch.zeros(32, 32)) and torch.equal((a - b)[3], torch.zeros(32, 32))


def test_generation_equals_plain_diffusers_with_the_same_latents(tiny_pipeline):
    generator = KeyedGenerator(loaded(tiny_pipeline), SETTINGS, seed=3)
    frame = generator(7)
    expected = tiny_pipeline(prompt=SETTINGS.prompt, negative_prompt=SETTINGS.negative_prompt, height=64, width=64,
                             num_inference_steps=3, guidance_scale=7.5, output_type="np",
                             latents=keyed_noise(3, 7, generator.noise_settings)).images[0]
    assert np.array_equal(frame.screen, expected)
    np.testing.assert_allclose(frame.rgb, convert(expected, DISPLAY_SPACE, WORKING_SPACE), atol=1e-6)
    # sRGB 0.5 is linear 0.214: the decoded image is treated as display-referred sRGB.
    assert convert(np.full((1, 1, 3), 0.5, np.float32), DISPLAY_SPACE, WORKING_SPACE)[0, 0, 0] == pytest.approx(
        0.214, abs=1e-3)
    assert frame.hint.shape == (64, 64) and set(np.unique(frame.hint)) <= {0.0, 1.0}
    assert frame.head_mask is None


def test_a_frame_does_not_depend_on_the_frames_before_it(tiny_pipeline):
    settings = GenerationSettings(**{**vars(SETTINGS), "temporal": "drift", "drift_period": 4})
    alone = KeyedGenerator(loaded(tiny_pipeline), settings, seed=5)(3)
    chunk = KeyedGenerator(loaded(tiny_pipeline), settings, seed=5)
    frames = [chunk(f) for f in (1, 2, 3)]
    assert np.array_equal(frames[2].rgb, alone.rgb) and np.array_equal(frames[2].hint, alone.hint)
    assert not np.array_equal(frames[1].rgb, alone.rgb)


def test_matting_head_mask_comes_from_the_same_decode(tiny_pipeline):
    from vfxkey.matte.head import MattingHead

    torch.manual_seed(0)
    head = MattingHead(in_channels=tiny_pipeline.vae.config.block_out_channels[0]).eval()
    frame = KeyedGenerator(loaded(tiny_pipeline), SETTINGS, seed=2, head=head)(1)
    features = {}
    handle = tiny_pipeline.vae.decoder.up_blocks[-1].register_forward_hook(
        lambda module, inputs, output: features.update(out=output) and None)
    with torch.no_grad():
        tiny_pipeline.vae.decode(frame.latents / tiny_pipeline.vae.config.scaling_factor)
    handle.remove()
    with torch.no_grad():
        expected = head(features["out"])[0, 0].numpy()
    np.testing.assert_allclose(frame.head_mask, expected, atol=1e-5)


def test_size_must_fit_the_latent_grid_and_attention_steps_the_steps(tiny_pipeline):
    with pytest.raises(VfxkeyError, match="--size 63x64"):
        KeyedGenerator(loaded(tiny_pipeline), GenerationSettings(prompt="x", width=63, height=64), seed=0)
    with pytest.raises(VfxkeyError, match="attention steps 0"):
        KeyedGenerator(loaded(tiny_pipeline), GenerationSettings(**{**vars(SETTINGS), "attention_steps": 0}), seed=0)


def test_sdxl_layout_generates_with_its_family_default_shift_and_is_loaded_as_sdxl(tmp_path):
    from tiny_models import build_sdxl_pipeline, save_diffusers_folder
    from vfxkey.generate.model import load_model

    model = load_model(save_diffusers_folder(build_sdxl_pipeline(), tmp_path / "tiny-sdxl"))
    assert model.family == "sdxl"
    generator = KeyedGenerator(model, GenerationSettings(**{**vars(SETTINGS), "key": "blue"}), seed=4)
    assert generator.noise_settings.target_shift == 0.11
    frame = generator(2)
    expected = model.pipe(prompt=SETTINGS.prompt, negative_prompt=SETTINGS.negative_prompt, height=64, width=64,
                          num_inference_steps=3, guidance_scale=7.5, output_type="np",
                          latents=keyed_noise(4, 2, generator.noise_settings)).images[0]
    assert np.array_equal(frame.screen, expected)
    assert frame.hint.shape == (64, 64)
