"""The tiny test models themselves: deterministic, and the single file reads back exactly."""

import torch
from diffusers import StableDiffusionPipeline

from tiny_models import IMAGE_SIZE, build_pipeline


def test_same_seed_gives_bitwise_equal_weights_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = build_pipeline(), build_pipeline()
    assert torch.equal(torch.random.get_rng_state(), state)
    for name in ("unet", "vae", "text_encoder"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_decoder_last_up_block_is_first_block_width_at_full_resolution(tiny_pipeline):
    vae = tiny_pipeline.vae
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = tuple(output.shape)

    handle = vae.decoder.up_blocks[-1].register_forward_hook(record)
    with torch.no_grad():
        vae.decode(torch.zeros(1, 4, IMAGE_SIZE // 2, IMAGE_SIZE // 2))
    handle.remove()
    assert seen["shape"] == (1, vae.config.block_out_channels[0], IMAGE_SIZE, IMAGE_SIZE)


def test_single_file_loads_back_to_the_same_weights(tiny_pipeline, tiny_model_files):
    loaded = StableDiffusionPipeline.from_single_file(
        str(tiny_model_files.single_file), config=str(tiny_model_files.folder), local_files_only=True,
        safety_checker=None, requires_safety_checker=False,
    )
    for name in ("unet", "vae", "text_encoder"):
        expected, got = getattr(tiny_pipeline, name).state_dict(), getattr(loaded, name).state_dict()
        assert expected.keys() == got.keys()
        assert all(torch.equal(expected[k], got[k]) for k in expected), name
