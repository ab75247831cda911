"""The trained toy model (``samples/models/toy-ldm``): it loads and generates through the CLI,
and a matting head learns from its VAE.

Margins are derived from ``bench/generate_quality.py``'s figures on this model (quoted at each
test) and set well inside them, so the tests fail when the behaviour goes, not on noise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
import torch
from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.generate.model import load_model
from vfxkey.generate.noise import KEY_SRGB
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.generate.head import encode_decode_features, matting_loss, train_head
from vfxkey.synth.trainset import Foreground, make_sample

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "samples" / "models" / "toy-ldm"
sys.path.insert(0, str(ROOT / "samples" / "models"))
import toy_data  # noqa: E402


def test_the_cli_loads_the_toy_model_and_writes_keyed_elements(tmp_path):
    # Mechanics only (this crude model's keys are scored by bench/generate_quality.py): the
    # diffusers folder loads as it is, two frames come out as premultiplied RGBA EXRs that
    # OIIO (not vfxkey) reads, finite, with alpha in 0..1 and the model's hash recorded.
    result = CliRunner().invoke(main, [
        "generate", "--model", str(MODEL), "--prompt", "a red star", "--key", "green", "--seed", "1",
        "--frames", "1001-1002",
        "--size", "64x64", "--steps", "6", "--guidance", "5", "-o", str(tmp_path / "el.####.exr")])
    assert result.exit_code == 0, result.output
    for frame in (1001, 1002):
        image = oiio.ImageInput.open(str(tmp_path / f"el.{frame}.exr"))
        assert image is not None, oiio.geterror()
        spec, pixels = image.spec(), image.read_image(format="float")
        image.close()
        assert (spec.width, spec.height, tuple(spec.channelnames)) == (64, 64, ("R", "G", "B", "A"))
        assert np.isfinite(pixels).all()
        alpha = pixels[..., 3]
        assert np.mean(alpha < 0.02) > 0.2 and np.mean(alpha > 0.98) > 0.05  # keyed: bare key colour and a subject
        assert (pixels[alpha == 0.0, :3] == 0.0).all()  # premultiplied: no colour where nothing covers
        assert spec.getattribute("vfxkey:model_hash")


@pytest.fixture(scope="module")
def toy():
    # DDIM, vfxkey generate's default sampler (deterministic: no per-step noise to vary the figures).
    return load_model(MODEL, scheduler="ddim", device=torch.device("cpu"), dtype=torch.float32)


def background_key_fraction(screen: np.ndarray, key: str) -> float:
    """Share of the background ring's pixels (farther than 0.375 of the size from the centre)
    within 60 (8-bit sRGB) of the key colour: ``bench/generate_quality.py``'s measure."""
    size = screen.shape[0]
    c = (np.arange(size) + 0.5) / size - 0.5
    ring = np.hypot(*np.meshgrid(c, c)) > 0.375
    distance = np.linalg.norm(screen[ring] * 255.0 - np.array(KEY_SRGB[key]) * 255.0, axis=1)
    return float((distance <= 60.0).mean())


def test_tkg_dm_raises_the_background_key_fraction_over_plain_noise(toy):
    # Four prompts x two seeds, 10 DDIM steps, green at vfxkey's defaults (shift 0.10, the
    # direction from this model's VAE) against the same noise unshifted (shift 0).
    # Measured: plain noise 0.00 0.00 0.03 0.03 0.00 0.00 0.00 0.00 (median 0.00), TKG-DM
    # 0.89 0.34 0.78 0.63 0.64 0.49 0.91 0.34 (median 0.64); every sample gained at least 0.34
    # (at the former default 0.07: median 0.42, every sample at least 0.12).
    # Margins: the median gain at least 0.2 (a third of the measured 0.64), and at least 7 of the 8
    # samples gain 0.05 or more (the median, not the mean: one lucky sample cannot carry it).
    plain, keyed = [], []
    for prompt in ("a red star", "a yellow ball with hair", "a white cloud", "a purple ring"):
        for shift, fractions in ((0.0, plain), (None, keyed)):
            settings = GenerationSettings(prompt=prompt, width=64, height=64, steps=10, guidance=5.0, key="green",
                                          target_shift=shift)
            generator = KeyedGenerator(toy, settings, seed=0)
            for seed in (1, 2):
                generator.seed = seed
                fractions.append(background_key_fraction(generator(1001).screen, "green"))
    gains = np.array(keyed) - np.array(plain)
    assert np.median(keyed) - np.median(plain) >= 0.2, (plain, keyed)
    assert np.median(keyed) >= 0.5, keyed  # issue 24's target for the default (0.42 at the former 0.07)
    assert (gains >= 0.05).sum() >= 7, (plain, keyed)


def composites(split: str, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Elements of ``split`` over generated-style green screens: (sRGB-encoded image, true alpha)."""
    pairs = []
    for index in range(count):
        sample = toy_data.make_sample(0, split, index)
        image, alpha = make_sample(Foreground(str(index), sample.foreground, sample.alpha),
                                   np.random.default_rng([3, index]))
        pairs.append((np.clip(convert(image, WORKING_SPACE, DISPLAY_SPACE), 0, 1).astype(np.float32), alpha))
    return pairs


def held_out_loss(vae, head, pairs) -> float:
    images = torch.from_numpy(np.stack([image for image, _ in pairs])).permute(0, 3, 1, 2)
    masks = torch.from_numpy(np.stack([alpha for _, alpha in pairs]))[:, None]
    with torch.no_grad():
        return float(matting_loss(head(encode_decode_features(vae, images)), masks))


def test_a_head_trained_a_few_steps_on_the_toy_vae_beats_the_untrained_head_on_held_out_elements(toy):
    vae = toy.pipe.vae
    train, held_out = composites("train", 16), composites("heldout", 8)
    untrained = train_head(vae, train, steps=0, seed=0).head  # the state training starts from
    trained = train_head(vae, train, steps=40, batch_size=4, seed=0).head
    before, after = held_out_loss(vae, untrained, held_out), held_out_loss(vae, trained, held_out)
    # Measured (L1 + Dice on these 8 held-out composites): untrained 1.166, after 40 steps 0.365
    # (ratio 0.31; 0.685 after 20 steps).
    assert after < 0.6 * before


def test_toy_data_places_elements_near_the_centre_or_anywhere():
    # "centre" (the first toy models' data) keeps every element's centre within 9 px of the frame's
    # centre on each axis; "anywhere" spreads it over the frame (issue 24: a model trained on
    # centred data puts its element in the middle whatever the noise says, so `follow` cannot
    # move it). Same samples otherwise: the captions do not change with the placement.
    offsets = {}
    for placement in toy_data.PLACEMENTS:
        samples = [toy_data.make_sample(0, "train", index, placement) for index in range(60)]
        weights = [s.alpha.sum() for s in samples]
        ys, xs = np.mgrid[:toy_data.SIZE, :toy_data.SIZE] + 0.5
        centres = np.array([[(s.alpha * xs).sum() / w, (s.alpha * ys).sum() / w] for s, w in zip(samples, weights)])
        offsets[placement] = np.abs(centres - toy_data.SIZE / 2)
        offsets[placement + " captions"] = [s.caption for s in samples]
    assert offsets["centre"].max() < 12, offsets["centre"].max()  # 9 px and the hair's and clouds' asymmetry
    assert (offsets["anywhere"] > 12).any(axis=1).mean() > 0.3
    assert offsets["centre captions"] == offsets["anywhere captions"]
