"""Cross-attention capture and the hint mask's binarisation."""

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention

from vfxkey.errors import SettingError
from vfxkey.generate.attention import (
    AttentionCapture,
    _CaptureProcessor,
    binarise,
    capture_attention,
    map_size,
    subject_token_indices,
)


def test_subject_tokens_are_found_in_the_prompt(tiny_pipeline):
    tokenizer = tiny_pipeline.tokenizer
    # Byte-level vocab: "a" is one token, "red" three (r, e, d</w>), "apple" five; 0 is the start token.
    assert subject_token_indices(tokenizer, "a red apple", "red") == [2, 3, 4]
    assert subject_token_indices(tokenizer, "a red apple", "apple") == [5, 6, 7, 8, 9]
    assert subject_token_indices(tokenizer, "a red apple") == list(range(1, 10))
    with pytest.raises(SettingError, match="^subject 'pear' does not occur"):
        subject_token_indices(tokenizer, "a red apple", "pear")


def test_captured_map_is_the_softmax_attention_of_the_subject_tokens():
    torch.manual_seed(0)
    attn = Attention(query_dim=16, cross_attention_dim=8, heads=2, dim_head=8).eval()
    hidden = torch.randn(2, 4 * 6, 16)         # [negative, positive] x (4x6 pixels)
    context = torch.randn(2, 5, 8)             # 5 tokens
    capture = AttentionCapture(token_indices=[1, 3], latent_size=(4, 6), start_step=0, step=0)
    wrapped = _CaptureProcessor(attn.processor, capture)
    with torch.no_grad():
        out = wrapped(attn, hidden, context)
        plain = attn(hidden, context)
        # Independent computation for the positive half.
        q = attn.to_q(hidden[1]).view(24, 2, 8).transpose(0, 1)
        k = attn.to_k(context[1]).view(5, 2, 8).transpose(0, 1)
        probs = torch.softmax(q @ k.transpose(1, 2) / 8**0.5, dim=-1)  # (heads, pixels, tokens)
        expected = probs[:, :, [1, 3]].sum(-1).mean(0).view(4, 6)
    torch.testing.assert_close(out, plain)  # the layer's output is untouched
    torch.testing.assert_close(capture.total[0], expected, atol=1e-6, rtol=1e-5)
    soft = capture.soft_map()
    assert soft.min() == 0.0 and soft.max() == pytest.approx(1.0)


def test_only_the_last_steps_are_captured_and_processors_are_restored(tiny_pipeline):
    unet = tiny_pipeline.unet
    before = unet.attn_processors
    cross_layers = sum(name.endswith("attn2.processor") for name in before)
    sample, text = torch.randn(2, 4, 16, 16), torch.randn(2, 77, 32)
    with capture_attention(unet, [1, 2], (16, 16), num_steps=3, last_steps=1) as capture, torch.no_grad():
        for t in (900, 500, 100):
            unet(sample, t, text)
    assert capture.count == cross_layers  # one map per cross-attention layer, last step only
    assert capture.total.shape == (1, 16, 16)
    assert all(type(p) is type(before[n]) for n, p in unet.attn_processors.items())


def test_binarise_thresholds_at_the_mean_of_the_mixture_means_and_cleans_orphans():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    disk = (yy - 32) ** 2 + (xx - 32) ** 2 < 16**2
    soft = np.where(disk, 0.8, 0.2) + rng.normal(0, 0.03, (64, 64))
    soft[5:7, 5:7] = 0.8      # a 4-pixel foreground orphan in the background
    soft[31:33, 31:33] = 0.2  # a 4-pixel hole in the subject
    soft = ((soft - soft.min()) / (soft.max() - soft.min())).astype(np.float32)
    mask = binarise(soft, (128, 128), min_area=0.005)
    assert mask.shape == (128, 128) and mask.dtype == np.float32
    # The disk around low-res pixel 32 is centred at high-res pixel 64.5 (pixel centres scale about 0.5).
    y2, x2 = np.mgrid[0:128, 0:128]
    expected = (y2 - 64.5) ** 2 + (x2 - 64.5) ** 2 < 32**2
    assert np.mean(mask != expected) < 0.01
    assert mask[10:14, 10:14].sum() == 0 and mask[62:66, 62:66].min() == 1
    # Threshold at the mean of the two means: between the modes, 0.5 when they are symmetric.
    ramp = np.concatenate([np.full(500, 0.1), np.full(500, 0.9), [0.45, 0.55]]).astype(np.float32)
    split = binarise(ramp.reshape(1, -1), (1, ramp.size), min_area=0)
    assert split[0, -2] == 0 and split[0, -1] == 1


def test_map_sizes_follow_the_unets_rounded_up_downsampling():
    # A 1280x720 frame: latent 160x90 -> 80x45 -> 40x23 -> 20x12 (each stride-2 conv rounds up).
    assert [map_size((90, 160), h * w) for h, w in ((90, 160), (45, 80), (23, 40), (12, 20))] == [
        (90, 160), (45, 80), (23, 40), (12, 20)]
    assert map_size((135, 240), 60 * 34) == (34, 60)   # 1920x1080, third level
    with pytest.raises(RuntimeError, match="1000 tokens"):
        map_size((90, 160), 1000)


def test_an_odd_sized_map_is_rebuilt_row_by_row_and_resized_to_the_latent():
    capture = AttentionCapture(token_indices=[1], latent_size=(90, 160), start_step=0, step=0)
    columns = torch.arange(40, dtype=torch.float32).repeat(23, 1)    # (23, 40): value = column
    capture.record(columns.reshape(1, -1))
    expected = torch.nn.functional.interpolate(columns[None, None], size=(90, 160), mode="bilinear",
                                               align_corners=False)[0]
    torch.testing.assert_close(capture.total, expected)
    torch.testing.assert_close(capture.total[0], capture.total[0, :1].expand(90, 160))   # constant down each column


@pytest.mark.parametrize("build", ["build_deep_pipeline", "build_deep_sdxl_pipeline"])
def test_every_cross_attention_layer_is_captured_at_odd_production_latents(build):
    import tiny_models

    pipe = getattr(tiny_models, build)()
    unet = pipe.unet
    cross_layers = sum(name.endswith("attn2.processor") for name in unet.attn_processors)
    context = torch.randn(1, 77, unet.config.cross_attention_dim)
    extra = {}
    if unet.config.addition_embed_type == "text_time":
        extra = {"added_cond_kwargs": {"text_embeds": torch.randn(1, 32), "time_ids": torch.zeros(1, 6)}}
    for latent in ((90, 160), (135, 240)):   # 1280x720 and 1920x1080
        with capture_attention(unet, [1, 2], latent, num_steps=1, last_steps=1, guided=False) as capture, \
                torch.no_grad():
            unet(torch.randn(1, 4, *latent), 500, context, **extra)
        assert capture.count == cross_layers and capture.total.shape == (1, *latent)
