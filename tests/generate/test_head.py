"""Matting head: decoder hook, ConR head, L1 + Dice, training on a tiny VAE, safe save/load."""

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vfxkey.errors import VfxkeyError
from vfxkey.generate.decoder_features import capture_decoder_features, decoder_feature_channels
from vfxkey.generate.head import (
    MattingHead,
    encode_decode_features,
    load_head,
    matting_loss,
    predict_mask,
    save_head,
    train_head,
    vae_fingerprint,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generate"))
from tiny_models import build_vae  # noqa: E402  (tests/generate/tiny_models.py)

SIZE = 32  # pixels; the tiny VAE's latent is 16x16 and its decoder feature has 32 channels
GREEN = np.array([8, 162, 24], np.float32) / 255.0  # sRGB-encoded, as the VAE sees it


def tiny_vae(seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_vae().eval()


@pytest.fixture(scope="module")
def vae():
    return tiny_vae()


def latents(seed=1):
    return torch.randn(1, 4, SIZE // 2, SIZE // 2, generator=torch.Generator().manual_seed(seed))


# --- the decoder hook --------------------------------------------------------------------


def test_hook_captures_the_full_resolution_feature_and_goes_away(vae):
    hooks = dict(vae.decoder.up_blocks[-1]._forward_hooks)
    with torch.no_grad(), capture_decoder_features(vae) as captured:
        vae.decode(latents())
    feature = captured.output()
    assert feature.shape == (1, decoder_feature_channels(vae), SIZE, SIZE) == (1, 32, SIZE, SIZE)

    assert dict(vae.decoder.up_blocks[-1]._forward_hooks) == hooks
    with torch.no_grad():
        vae.decode(latents())
    assert len(captured.tensors) == 1  # nothing added after exit


def test_captured_feature_is_what_the_decoder_turns_into_the_image(vae):
    """The feature is the input of conv_norm_out -> SiLU -> conv_out, and the decode is unchanged."""
    with torch.no_grad():
        plain = vae.decode(latents()).sample
        with capture_decoder_features(vae) as captured:
            hooked = vae.decode(latents()).sample
        decoder = vae.decoder
        rebuilt = decoder.conv_out(decoder.conv_act(decoder.conv_norm_out(captured.output())))
    assert torch.equal(plain, hooked)
    torch.testing.assert_close(rebuilt, plain, rtol=0, atol=1e-6)


def test_transform_keeps_only_the_heads_output(vae):
    head = MattingHead(32, 8)
    with torch.no_grad():
        with capture_decoder_features(vae) as features:
            vae.decode(latents())
        with capture_decoder_features(vae, transform=head) as masks:
            vae.decode(latents())
        assert masks.output().shape == (1, 1, SIZE, SIZE)
        torch.testing.assert_close(masks.output(), head(features.output()))


def test_sliced_decode_is_joined_and_the_hook_is_removed_on_error(vae):
    batch = torch.cat([latents(1), latents(2)])
    with torch.no_grad(), capture_decoder_features(vae) as whole:
        vae.decode(batch)
    vae.enable_slicing()
    try:
        with torch.no_grad(), capture_decoder_features(vae) as sliced:
            vae.decode(batch)
    finally:
        vae.disable_slicing()
    assert len(sliced.tensors) == 2
    torch.testing.assert_close(sliced.output(), whole.output(), rtol=0, atol=1e-5)

    with pytest.raises(ZeroDivisionError), capture_decoder_features(vae):
        1 / 0
    assert not vae.decoder.up_blocks[-1]._forward_hooks
    with pytest.raises(RuntimeError, match="no decoder feature"):
        whole.tensors.clear() or whole.output()


# --- head, mask, loss --------------------------------------------------------------------


def test_head_is_two_convs_with_silu_and_a_sigmoid():
    head = MattingHead(in_channels=128, hidden_channels=16)
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(128, 16), (16, 1)]
    assert any(isinstance(m, torch.nn.SiLU) for m in head.modules())
    features = torch.randn(2, 128, 12, 20) * 10
    out = head(features)
    assert out.shape == (2, 1, 12, 20) and out.min() >= 0 and out.max() <= 1


def test_predict_mask_is_one_float32_image():
    head = MattingHead(32, 8)
    features = torch.randn(1, 32, 24, 40)
    mask = predict_mask(head, features)
    assert mask.shape == (24, 40) and mask.dtype == np.float32
    np.testing.assert_allclose(mask, head(features)[0, 0].detach().numpy())
    np.testing.assert_array_equal(predict_mask(head, features[0]), mask)
    with pytest.raises(ValueError, match="batch of 2"):
        predict_mask(head, torch.randn(2, 32, 4, 4))


def test_loss_known_values():
    target = torch.zeros(1, 1, 10, 10)
    target[..., :5, :] = 1.0  # 50 foreground pixels
    assert float(matting_loss(target, target)) == pytest.approx(0.0)
    # Predicting all background: L1 = 0.5, Dice = 1 - 1 / (0 + 50 + 1).
    assert float(matting_loss(torch.zeros_like(target), target)) == pytest.approx(0.5 + 1 - 1 / 51)
    # Everything 0.5: L1 = 0.5, Dice = 1 - (2 * 25 + 1) / (50 + 50 + 1).
    assert float(matting_loss(torch.full_like(target, 0.5), target)) == pytest.approx(0.5 + 1 - 51 / 101)


# --- training ----------------------------------------------------------------------------


def discs(count, seed):
    """Discs of random colour, place and size on the generated green: (image, mask) pairs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    pairs = []
    for _ in range(count):
        cx, cy = rng.uniform(0.3 * SIZE, 0.7 * SIZE, 2)
        radius = rng.uniform(0.15 * SIZE, 0.3 * SIZE)
        mask = (((x - cx) ** 2 + (y - cy) ** 2) <= radius**2).astype(np.float32)
        image = np.broadcast_to(GREEN, (SIZE, SIZE, 3)).copy()
        image[mask > 0] = rng.uniform(0.2, 0.9, 3)
        pairs.append((image, mask))
    return pairs


def loss_on(head, vae, pairs):
    images = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2)
    masks = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    with torch.no_grad():
        return float(matting_loss(head(encode_decode_features(vae, images)), masks))


def test_training_on_a_frozen_tiny_vae_lowers_the_loss_on_seen_and_unseen_discs():
    vae = tiny_vae()
    before = vae_fingerprint(vae)
    train, held_out = discs(8, seed=0), discs(8, seed=1)
    run = train_head(vae, train, steps=60, lr=1e-2, batch_size=4, hidden_channels=16, seed=0)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the same initial head train_head starts from
        initial = MattingHead(32, 16)
    assert len(run.losses) == 60
    # Seen discs: the loss at least halves (0.14-0.21 of the start on tiny VAEs, seeds 0-4).
    assert loss_on(run.head, vae, train) < 0.5 * loss_on(initial, vae, train)
    # Unseen discs: on tiny random VAEs (seeds 0-4) the ratio was 0.27-0.41.
    assert loss_on(run.head, vae, held_out) < 0.6 * loss_on(initial, vae, held_out)
    # The VAE is frozen: unchanged weights, no gradients.
    assert vae_fingerprint(vae) == before
    assert not any(p.requires_grad for p in vae.parameters()) and not vae.training


def test_training_is_a_function_of_the_seed():
    vae = tiny_vae()
    pairs = discs(3, seed=2)
    a = train_head(vae, pairs, steps=3, batch_size=2, hidden_channels=8, seed=3)
    b = train_head(vae, pairs, steps=3, batch_size=2, hidden_channels=8, seed=3, cache_bytes=0)
    steps_seen = []
    c = train_head(vae, pairs, steps=3, batch_size=2, hidden_channels=8, seed=4,
                   progress=lambda steps: (steps_seen.append(s) or s for s in steps))
    assert a.losses == pytest.approx(b.losses, rel=1e-5)  # cached and recomputed features agree
    assert a.losses != c.losses
    assert steps_seen == [0, 1, 2]


# --- fingerprint, save, load -------------------------------------------------------------


def test_fingerprint_follows_the_decoder_weights_not_precision_or_encoder():
    vae = tiny_vae()
    assert vae_fingerprint(vae) == vae_fingerprint(tiny_vae())
    assert vae_fingerprint(vae) == vae_fingerprint(tiny_vae().half())
    assert vae_fingerprint(vae) != vae_fingerprint(tiny_vae(seed=1))

    with torch.no_grad():
        encoder_changed = tiny_vae()
        encoder_changed.encoder.conv_in.weight.add_(1.0)
        decoder_changed = tiny_vae()
        decoder_changed.decoder.up_blocks[0].resnets[0].conv1.weight[0, 0, 0, 0] += 0.01
    assert vae_fingerprint(encoder_changed) == vae_fingerprint(vae)
    assert vae_fingerprint(decoder_changed) != vae_fingerprint(vae)


def test_save_and_load_round_trip(vae, tmp_path):
    head = MattingHead(32, 8)
    path = tmp_path / "heads" / "head.safetensors"
    save_head(path, head, vae, steps=60, model="tiny")
    assert [p.name for p in path.parent.iterdir()] == ["head.safetensors"]  # no temp left

    loaded = load_head(path, vae)
    assert not loaded.training and loaded.hidden_channels == 8
    features = torch.randn(1, 32, 8, 8)
    torch.testing.assert_close(loaded(features), head(features), rtol=0, atol=0)

    from safetensors import safe_open

    with safe_open(str(path), "pt") as reader:
        metadata = reader.metadata()
    assert metadata["vae_fingerprint"] == vae_fingerprint(vae)
    assert metadata["steps"] == "60" and metadata["model"] == "tiny" and metadata["in_channels"] == "32"


def test_a_head_for_another_vae_is_refused_naming_both(vae, tmp_path):
    path = tmp_path / "head.safetensors"
    save_head(path, MattingHead(32, 8), vae, model="tiny-a")
    other = tiny_vae(seed=1)
    with pytest.raises(VfxkeyError) as error:
        load_head(path, other)
    message = str(error.value)
    assert vae_fingerprint(vae) in message and vae_fingerprint(other) in message
    assert "tiny-a" in message and "\n" not in message


def test_pickled_and_foreign_files_are_refused_without_unpickling(vae, tmp_path):
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("the head file was unpickled",))

    pt = tmp_path / "head.pt"
    pt.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(VfxkeyError, match=r"\.safetensors file"):
        load_head(pt, vae)

    disguised = tmp_path / "disguised.safetensors"
    disguised.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(VfxkeyError, match="not a readable .safetensors"):
        load_head(disguised, vae)

    foreign = tmp_path / "foreign.safetensors"
    save_file(MattingHead(32, 8).state_dict(), str(foreign))  # right tensors, no vfxkey metadata
    with pytest.raises(VfxkeyError, match="not a vfxkey matting head"):
        load_head(foreign, vae)

    with pytest.raises(VfxkeyError, match="no such"):
        load_head(tmp_path / "missing.safetensors", vae)
