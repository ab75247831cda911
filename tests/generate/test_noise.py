"""TKG-DM channel mean shift, foreground weight and temporally seeded noise."""

import math
from statistics import NormalDist

import numpy as np
import pytest
import torch

from vfxkey.errors import SettingError
from vfxkey.generate.noise import (
    LATENT_RGB_FACTORS,
    Ellipse,
    ForegroundPath,
    NoiseSettings,
    drift_correlation,
    foreground_weight,
    key_direction,
    keyed_noise,
    parse_key,
    shift_delta,
    temporal_noise,
)

SHAPE = (4, 96, 96)
GREEN = (0.0, 1.0, 1.0, 0.0)


def settings(**kw):
    base = dict(latent_shape=SHAPE, direction=GREEN, target_shift=0.07)
    base.update(kw)
    return NoiseSettings(**base)


def authors_search(channel: torch.Tensor, target_shift: float) -> float:
    """The TKG-DM authors' procedure: raise delta in 0.01 steps until the positive fraction grew by target."""
    p0 = (channel > 0).float().mean().item()
    delta = 0.0
    while ((channel + delta) > 0).float().mean().item() < p0 + target_shift:
        delta += 0.01
    return delta


def test_closed_form_delta_matches_reference_values_and_the_authors_search():
    assert shift_delta(0.07) == pytest.approx(NormalDist().inv_cdf(0.57))
    assert shift_delta(0.07) == pytest.approx(0.176, abs=1e-3)
    assert shift_delta(0.11) == pytest.approx(0.279, abs=1e-3)
    sample = torch.randn(400_000, generator=torch.Generator().manual_seed(5))
    for target in (0.07, 0.11):
        assert authors_search(sample, target) == pytest.approx(shift_delta(target), abs=0.011)


def test_shift_moves_only_the_keyed_channels_mean_and_keeps_std():
    # Foreground radius tiny: m ~ 0 everywhere, so the whole frame is CMS(z_T).
    s = settings(region=ForegroundPath(((0, Ellipse(0.5, 0.5, 1e-4, 1e-4)),)))
    z_t = temporal_noise(3, 1, s)
    z = keyed_noise(3, 1, s)[0]
    delta = shift_delta(0.07)
    diff = z - z_t
    for c, sign in enumerate(GREEN):
        assert torch.allclose(diff[c], torch.full_like(diff[c], sign * delta), atol=1e-6)
        assert z[c].std().item() == pytest.approx(z_t[c].std().item(), rel=1e-5)
    assert torch.equal(z[0], z_t[0]) and torch.equal(z[3], z_t[3])


def test_foreground_weight_is_the_papers_gaussian_and_follows_the_ellipse():
    m = foreground_weight(64, 64, Ellipse())
    # Paper: exp(-(x^2 + y^2) / (2 * 0.5^2)) on a [-1, 1] grid, ~1 at the centre, ~0.02 at corners.
    x = (np.arange(64) + 0.5) / 64 * 2 - 1
    expected = np.exp(-(x[None, :] ** 2 + x[:, None] ** 2) / (2 * 0.5**2))
    np.testing.assert_allclose(m.numpy(), expected, atol=1e-6)
    assert m[0, 0] == pytest.approx(0.02, abs=0.005)
    moved = foreground_weight(40, 80, Ellipse(cx=0.25, cy=0.75, rx=0.1, ry=0.3))
    peak = divmod(int(moved.argmax()), 80)
    assert peak in {(29, 19), (29, 20), (30, 19), (30, 20)}
    # Wider in y than in x: half the radius away along each axis, y keeps more weight.
    assert moved[30 - 4, 20] > moved[30, 20 - 4]


def test_keyed_noise_keeps_original_noise_in_the_foreground_centre():
    s = settings(region=ForegroundPath(((0, Ellipse(0.5, 0.5, 0.2, 0.2)),)))
    z_t, z = temporal_noise(1, 7, s), keyed_noise(1, 7, s)[0]
    centre = (slice(None), slice(46, 50), slice(46, 50))
    assert (z - z_t)[centre].abs().max() < 0.01 * shift_delta(0.07)
    corner = (slice(None), slice(0, 4), slice(0, 4))
    assert (z - z_t)[corner][1].mean().item() == pytest.approx(shift_delta(0.07), rel=0.01)


def test_region_keyframes_interpolate_and_hold():
    path = ForegroundPath.parse("10:0.2,0.5,0.1,0.1; 20:0.6,0.5,0.3,0.1")
    assert path.at(0) == Ellipse(0.2, 0.5, 0.1, 0.1)
    assert path.at(15).cx == pytest.approx(0.4) and path.at(15).rx == pytest.approx(0.2)
    assert path.at(99) == Ellipse(0.6, 0.5, 0.3, 0.1)
    assert ForegroundPath.parse("0.3,0.4,0.2,0.1").at(5) == Ellipse(0.3, 0.4, 0.2, 0.1)
    for bad in ("0.3,0.4,0.2", "a,b,c,d", "0.5,0.5,0,0.1", ""):
        with pytest.raises(SettingError, match="cx,cy,rx,ry|no region") as refused:
            ForegroundPath.parse(bad)
        assert refused.value.setting == "fg_region" and "--" not in str(refused.value)


def test_noise_is_a_pure_function_of_seed_frame_and_settings():
    for mode in ("locked", "drift", "follow"):
        s = settings(temporal=mode, region=ForegroundPath.parse("0:0.3,0.5,0.2,0.2;10:0.7,0.5,0.2,0.2"))
        torch.manual_seed(123)
        a = keyed_noise(42, 5, s)
        torch.randn(1000)  # global RNG state must not matter
        _ = keyed_noise(42, 4, s)  # nor which frames were drawn before
        assert torch.equal(a, keyed_noise(42, 5, s))
        assert not torch.equal(keyed_noise(42, 5, s), keyed_noise(43, 5, s))
    locked = settings(temporal="locked")
    assert torch.equal(temporal_noise(1, 1, locked), temporal_noise(1, 500, locked))


def test_drift_is_unit_gaussian_with_the_documented_frame_to_frame_correlation():
    period = 6
    s = settings(temporal="drift", drift_period=period, latent_shape=(4, 256, 256))
    frames = [temporal_noise(9, f, s).flatten() for f in range(-2, 14)]  # spans three keyframes
    for z in frames:
        assert z.mean().item() == pytest.approx(0.0, abs=0.01)
        assert z.std().item() == pytest.approx(1.0, abs=0.01)
        # Gaussian, not just unit variance: the fraction within one sigma is 68.27 %.
        assert (z.abs() < 1).float().mean().item() == pytest.approx(0.6827, abs=0.005)
    expected = math.cos(math.pi / (2 * period))
    assert drift_correlation(period) == pytest.approx(expected)
    for a, b in zip(frames, frames[1:]):
        assert torch.corrcoef(torch.stack([a, b]))[0, 1].item() == pytest.approx(expected, abs=0.01)
    # Keyframe frames are the keyframe noises themselves: 6 frames apart they are independent.
    assert abs(torch.corrcoef(torch.stack([frames[2], frames[8]]))[0, 1].item()) < 0.02


def test_follow_translates_the_noise_with_the_region_centre_in_whole_latent_pixels():
    path = ForegroundPath.parse("0:0.5,0.5,0.2,0.2;10:0.75,0.25,0.2,0.2")
    s = settings(temporal="follow", region=path)
    z0, z10 = temporal_noise(2, 0, s), temporal_noise(2, 10, s)
    dx, dy = round(0.25 * 96), round(-0.25 * 96)  # 24 right, 24 up
    assert torch.equal(z10[:, 0:96 + dy, dx:], z0[:, -dy:, :96 - dx])
    assert z10.std().item() == pytest.approx(1.0, abs=0.02)


def test_named_keys_and_colours():
    assert torch.equal(key_direction("green"), torch.tensor(GREEN))
    assert torch.equal(key_direction("magenta"), torch.tensor([0.0, -1.0, -1.0, -1.0]))
    assert torch.equal(key_direction("green", family="sdxl"), torch.tensor(GREEN))
    # SDXL has no published pattern for cyan: it goes through the colour path.
    assert torch.equal(key_direction("cyan", family="sdxl"), key_direction((0.0, 1.0, 1.0), family="sdxl"))
    assert parse_key("#00FF80") == (0.0, 1.0, 128 / 255)
    assert parse_key("Blue") == "blue"
    with pytest.raises(SettingError, match="'chartreuse': use #RRGGBB") as refused:
        parse_key("chartreuse")
    assert refused.value.setting == "key"


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_colour_direction_without_vae_reproduces_the_colour_through_the_preview_factors(family):
    rgb = (0.1, 0.3, 0.9)
    d = key_direction(rgb, family=family)
    assert d.abs().max().item() == pytest.approx(1.0)
    decoded = d @ torch.tensor(LATENT_RGB_FACTORS[family])
    target = torch.tensor(rgb) - 0.5
    cosine = torch.nn.functional.cosine_similarity(decoded, target, dim=0)
    assert cosine.item() == pytest.approx(1.0, abs=1e-5)


def test_colour_direction_with_vae_is_the_encoded_plate_difference(tiny_pipeline):
    vae = tiny_pipeline.vae
    rgb = (0.0, 71 / 255, 187 / 255)
    with torch.no_grad():
        key = vae.encode(torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, 64, 64) * 2 - 1).latent_dist.mean
        grey = vae.encode(torch.zeros(1, 3, 64, 64)).latent_dist.mean
    diff = (key - grey).mean(dim=(0, 2, 3))
    expected = diff / diff.abs().max()
    torch.testing.assert_close(key_direction("blue", vae=vae), expected, atol=1e-5, rtol=1e-4)


def overflowing_vae(force_upcast: bool):
    """The tiny VAE whose encoder input layer is 1e5 times stronger (the GroupNorm after it undoes that
    in float32), in float16: like SDXL's VAE, it overflows the half range unless upcast."""
    from tiny_models import build_vae

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vae = build_vae()
    vae.register_to_config(force_upcast=force_upcast)
    reference = vae.eval()
    with torch.no_grad():
        reference.encoder.conv_in.weight.mul_(1e5)
        reference.encoder.conv_in.bias.mul_(1e5)
    expected = key_direction("blue", family="sdxl", vae=reference)
    return reference.half(), expected


def test_a_colour_key_is_encoded_in_float32_when_the_half_precision_vae_needs_it():
    vae, expected = overflowing_vae(force_upcast=True)
    got = key_direction("blue", family="sdxl", vae=vae)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, atol=0.01, rtol=0.01)
    assert vae.dtype == torch.float16              # handed back as it came


def test_a_non_finite_key_direction_is_refused():
    vae, _ = overflowing_vae(force_upcast=False)   # a VAE that says it is safe in float16, but is not
    with pytest.raises(SettingError, match="^key blue: .*not finite.*use precision fp32"):
        key_direction("blue", family="sdxl", vae=vae)
