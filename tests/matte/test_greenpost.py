"""GreenPost keyer on synthetic shots whose alpha and foreground are known exactly."""

import cv2
import numpy as np
import pytest

from vfxkey.errors import InputError, SettingError
from vfxkey.matte.greenpost import TEMPORAL_FRAMES, Keyer, KeySettings, Screen, measure_screen

GREEN = np.array([0.05, 0.40, 0.08], np.float32)  # a studio green, scene-linear
BLUE = np.array([0.02, 0.06, 0.45], np.float32)
GENERATED_GREEN = ((np.array([8, 162, 24]) / 255.0 + 0.055) / 1.055) ** 2.4  # sRGB (8,162,24), linearised
SUBJECT = np.array([0.40, 0.32, 0.26], np.float32)  # a warm, skin-like colour


def ramp_shot(screen, height=96, width=160, plate_gain=None):
    """Opaque subject on the left, a linear alpha ramp 1 -> 0 over columns 50..110, screen on the right.

    Returns (image, alpha, foreground); the image is ``fg * alpha + screen * (1 - alpha)``.
    """
    alpha = np.clip((110 - np.arange(width, dtype=np.float32)) / 60.0, 0.0, 1.0)
    alpha = np.repeat(alpha[None, :], height, axis=0)
    plate = np.broadcast_to(screen, (height, width, 3)).astype(np.float32)
    if plate_gain is not None:
        plate = plate * plate_gain[..., None]
    foreground = np.broadcast_to(SUBJECT, (height, width, 3)).astype(np.float32)
    image = foreground * alpha[..., None] + plate * (1.0 - alpha[..., None])
    return image.astype(np.float32), alpha, foreground


def uneven_gain(height, width):
    """A brightness gradient (0.7 -> 1.2 left to right) times a vignette (1 at the centre, 0.75 in the corners)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    gradient = 0.7 + 0.5 * x / (width - 1)
    radius2 = ((x - width / 2) / (width / 2)) ** 2 + ((y - height / 2) / (height / 2)) ** 2
    return gradient * (1.0 - 0.125 * radius2)


def clip_white(alpha):
    """The keyer's soft clip white: alpha from 0.5 up is stretched so that 0.95 reads 1."""
    return np.where(alpha <= 0.5, alpha, np.minimum(0.5 + (alpha - 0.5) / 0.9, 1.0))


def check_ramp(result, alpha, foreground, mean_error=0.016, max_error=0.17, foreground_error=0.08):
    """Alpha within ``mean_error`` of the clip-whitened ramp on average and ``max_error``
    everywhere (the worst pixels sit where the ramp meets the opaque subject); the straight
    foreground within ``foreground_error`` wherever alpha > 0.2. (A hard key scores about
    0.09 mean error on these ramps.) The defaults are about 1.15x what the keyer scores on
    a flat green screen (2026-12-07: 0.0136, 0.149, 0.065); the blue screen and the uneven
    light have their own, as close to their figures."""
    error = np.abs(result.alpha - clip_white(alpha))
    assert error.mean() < mean_error
    assert error.max() < max_error
    soft = alpha > 0.2
    assert np.abs(result.foreground[soft] - foreground[soft]).max() < foreground_error


# The blue ramp reads worse (today 0.0223 mean, 0.218 max, 0.094 colour): its limits.
BLUE_LIMITS = {"mean_error": 0.025, "max_error": 0.225, "foreground_error": 0.1}


@pytest.mark.parametrize("screen", [GREEN, BLUE, GENERATED_GREEN.astype(np.float32)], ids=["green", "blue", "generated"])
def test_flat_screen_recovers_the_alpha_ramp_and_the_foreground(screen):
    image, alpha, foreground = ramp_shot(screen)
    result = Keyer(KeySettings(despill=0.0)).key(image)
    check_ramp(result, alpha, foreground, **(BLUE_LIMITS if screen is BLUE else {}))
    assert np.allclose(result.qc["screen_rgb"], screen, atol=2e-3)
    soft = (result.alpha > 0.02) & (result.alpha < 0.98)
    assert result.qc["soft_fraction"] == pytest.approx(float(soft.mean()))
    assert result.qc["soft_fraction"] == pytest.approx(float(np.mean((alpha > 0.02) & (alpha < 0.95))), abs=0.08)  # the top of the ramp reads opaque


def test_blue_screen_is_found_automatically_and_named_screens_fix_the_channel():
    image, alpha, _ = ramp_shot(BLUE)
    assert np.allclose(Keyer(KeySettings(screen="blue")).key(image).qc["screen_rgb"], BLUE, atol=2e-3)
    assert np.argmax(Keyer().key(image).qc["screen_rgb"]) == 2
    with pytest.raises(InputError, match="no green screen"):
        Keyer(KeySettings(screen="green")).key(image)


def test_uneven_screen_with_gradient_and_vignette():
    height, width = 120, 200
    gain = uneven_gain(height, width)
    image, alpha, foreground = ramp_shot(GREEN, height, width, plate_gain=gain)
    result = Keyer(KeySettings(despill=0.0)).key(image)
    check_ramp(result, alpha, foreground, mean_error=0.019, max_error=0.225, foreground_error=0.1)  # today 0.0161, 0.206, 0.086
    # The bare screen, from its dim left corners to its bright right edge, is transparent.
    assert result.alpha[:, 115:].max() < 0.02


def test_a_given_screen_colour_is_used_as_the_screen():
    image, alpha, foreground = ramp_shot(GREEN)
    result = Keyer(KeySettings(screen=tuple(float(c) for c in GREEN), despill=0.0)).key(image)
    check_ramp(result, alpha, foreground)


def test_clip_white_makes_a_solid_subject_leaning_towards_the_screen_opaque():
    image = np.broadcast_to(GREEN, (64, 400, 3)).copy()
    # Solid, but its green leads red a little: the colour difference reads 1 - 0.0128 / 0.32 = 0.96.
    image[:, :100] = [0.30, 0.3128, 0.10]
    image[:, 150:200] = 0.4 * image[0, 0] + 0.6 * GREEN  # a true 40 % mix of it stays 40 %
    result = Keyer().key(image.astype(np.float32))
    assert result.alpha[:, 10:90].min() == 1.0
    assert np.abs(result.alpha[:, 160:190] - 0.4).max() < 0.01


def test_a_fringe_beside_a_warm_hair_mass_unmixes_against_the_strands_not_the_gaps():
    # Blond strands (alpha 1) with 70 % gaps between them, then a 30 % fringe. Warm over
    # green, the colour difference reads the gaps as opaque (1.57 x 0.7), so they are seeds
    # too; at face value their screen tints the colour the fringe is unmixed against, and
    # the fringe reads about 0.34. The strands, farthest from the plate, are its colour.
    blond = np.array([0.55, 0.35, 0.12], np.float32)
    alpha = np.zeros(240, np.float32)
    alpha[:100], alpha[1:100:2], alpha[100:108] = 1.0, 0.7, 0.3
    alpha = np.repeat(alpha[None], 64, axis=0)
    image = blond * alpha[..., None] + GREEN * (1.0 - alpha[..., None])
    result = Keyer().key(image.astype(np.float32))
    assert np.abs(result.alpha[:, 100:108] - 0.3).mean() < 0.02


def test_static_noisy_sequence_keeps_one_screen_and_a_steady_alpha():
    rng = np.random.default_rng(7)
    image, alpha, _ = ramp_shot(GREEN, plate_gain=uneven_gain(96, 160))
    frames = [np.clip(image + rng.normal(0, 0.004, image.shape), 0, None).astype(np.float32) for _ in range(6)]
    screen = measure_screen(frames[0])
    keyer = Keyer(KeySettings(), screen)
    results = [keyer.key(frame) for frame in frames]
    screens = np.array([r.qc["screen_rgb"] for r in results])
    assert np.all(screens == screen.rgb)  # the shot's screen, every frame
    assert not any(r.qc["screen_refit"] or r.qc["warnings"] for r in results)
    alphas = np.stack([r.alpha for r in results])
    # Frame-to-frame flicker stays well below the per-pixel noise-driven error of one frame.
    assert alphas.std(axis=0).mean() < 0.01
    assert np.abs(alphas.mean(axis=0) - clip_white(alpha)).mean() < 0.03


def spill_shot(subject, screen=GREEN, height=64, width=400, spill=0.15, reach=3.0):
    """Opaque ``subject`` in columns < 100, bare screen to the right. Spill as on set: the
    subject's colour is ``(1 - w) * subject + w * screen`` with ``w = spill * exp(-d / reach)``,
    ``d`` the distance in pixels from the subject's edge."""
    image = np.broadcast_to(screen, (height, width, 3)).copy().astype(np.float32)
    share = (spill * np.exp(-(99 - np.arange(100)) / reach)).astype(np.float32)[None, :, None]
    image[:, :100] = (1.0 - share) * subject + share * screen
    return image


@pytest.mark.parametrize("screen", [GREEN, BLUE], ids=["green", "blue"])
def test_despill_takes_the_screen_share_out_of_the_spilled_edge(screen):
    image = spill_shot(SUBJECT, screen)
    plain = Keyer(KeySettings(despill=0.0)).key(image)
    despilled = Keyer(KeySettings(despill=1.0)).key(image)
    assert np.array_equal(plain.alpha, despilled.alpha)
    before = np.abs(plain.foreground[:, :100] - SUBJECT)
    after = np.abs(despilled.foreground[:, :100] - SUBJECT)
    assert before[:, 90:].max() > 0.03  # the spill, without despill
    # Within 0.03 at the edge: the spill model (a multiple of the screen's share around,
    # issue 12) fits this exponential profile less closely than a per-pixel measurement
    # did (0.013), and fits the spill on soft hair far better (bench/keying).
    assert after[:, 90:].max() < 0.03
    assert after.mean() < before.mean() / 2
    # Deep inside, where there is no spill, nothing changes.
    assert np.allclose(despilled.foreground[:, :70], image[:, :70], rtol=0, atol=1e-6)


def test_despill_keeps_a_subject_coloured_like_the_screen():
    yellow_green = np.array([0.30, 0.40, 0.05], np.float32)  # green leads red: a plant, not spill
    image = spill_shot(yellow_green, spill=0.0)
    result = Keyer(KeySettings(despill=1.0)).key(image)
    assert np.abs(result.foreground[:, :100] - yellow_green).max() < 0.01


def test_despeckle_removes_islands_smaller_than_the_area_and_keeps_larger_ones():
    image, alpha, _ = ramp_shot(GREEN)
    image[20:23, 140:143] = SUBJECT  # 9-pixel opaque speck in the screen
    image[60:64, 10:14] = GREEN  # 16-pixel hole in the subject
    image[70:80, 130:140] = SUBJECT  # 100-pixel patch: a real object
    kept = Keyer(KeySettings(despeckle=0)).key(image).alpha
    assert kept[21, 141] > 0.9 and kept[61, 11] < 0.1
    cleaned = Keyer(KeySettings(despeckle=20)).key(image).alpha
    assert cleaned[20:23, 140:143].max() == 0.0
    assert cleaned[60:64, 10:14].min() == 1.0
    assert cleaned[72:78, 132:138].min() > 0.9


def disc_with_strand_and_soft_edge(size=128):
    """A subject disc (radius 20) whose edge fades out to radius 30, and a 2 px strand at alpha 0.7.

    Returns (image, alpha, hint): the hint is the coarse disc of radius 22 the attention gives,
    so the outer soft edge (radius 22..30) and the whole strand lie outside it.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    radius = np.hypot(yy - 64, xx - 48)
    alpha = np.clip((30.0 - radius) / 10.0, 0.0, 1.0)
    alpha[20:110, 100:102] = 0.7                                     # the strand, 30+ px from the hint
    image = SUBJECT * alpha[..., None] + GREEN * (1.0 - alpha[..., None])
    hint = (radius < 22).astype(np.float32)
    return image.astype(np.float32), alpha, hint


def test_the_hint_never_cuts_strands_or_soft_edges_the_colour_shows():
    image, alpha, hint = disc_with_strand_and_soft_edge()
    with_hint = Keyer().key(image, hint=hint).alpha
    without = Keyer().key(image).alpha
    strand = (slice(30, 100), slice(100, 102))
    assert with_hint[strand].min() > 0.6
    np.testing.assert_allclose(with_hint[strand], without[strand], atol=0.02)
    soft = (alpha > 0.05) & (alpha < 0.95) & (hint == 0)          # the fade outside the hint
    assert np.abs(with_hint[soft] - alpha[soft]).mean() < 0.08
    assert with_hint[hint == 0][alpha[hint == 0] == 0].max() < 0.05   # bare screen stays clear


def test_the_hint_makes_a_subject_coloured_like_the_screen_opaque_inside_it():
    image, alpha, _ = ramp_shot(GREEN)
    image[30:66, 10:40] = GREEN * 0.9 + SUBJECT * 0.1                # colour says: almost screen
    hint = (alpha > 0.99).astype(np.float32)
    assert Keyer().key(image).alpha[40:56, 18:32].max() < 0.5
    assert Keyer().key(image, hint=hint).alpha[40:56, 18:32].min() == 1.0


def test_premultiplied_rgba_is_foreground_times_alpha():
    image, _, _ = ramp_shot(GREEN)
    result = Keyer().key(image)
    rgba = result.premultiplied_rgba()
    assert rgba.shape == (*image.shape[:2], 4) and rgba.dtype == np.float32
    assert np.allclose(rgba[..., :3], result.foreground * result.alpha[..., None])
    assert np.array_equal(rgba[..., 3], result.alpha)


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(SettingError, match="^despill 1.5: must be within 0..1$") as refused:
        KeySettings(despill=1.5)
    assert refused.value.setting == "despill"
    with pytest.raises(SettingError, match="^screen 'red': must be") as refused:
        KeySettings(screen="red")
    assert refused.value.setting == "screen"
    with pytest.raises(ValueError, match="shape"):
        Keyer().key(np.zeros((8, 8), np.float32))


def test_a_sheer_veil_beside_a_subject_of_another_colour_keeps_its_alpha():
    # An opaque orange subject (columns 0..49) with a sheer pale-yellow veil (alpha 0.6,
    # columns 50..109) beside it on a green screen (the sample shot's colours). The
    # nearest opaque colour to the veil is the subject's, which explains the veil only
    # with an impossible (negative) alpha: the keyer must fall back on the colour
    # difference, not key a hole.
    height, width = 96, 160
    alpha = np.zeros((height, width), np.float32)
    alpha[:, :50], alpha[:, 50:110] = 1.0, 0.6
    veil_colour = np.array([0.85, 0.82, 0.19], np.float32)
    foreground = np.empty((height, width, 3), np.float32)
    foreground[:, :50], foreground[:, 50:] = (0.62, 0.34, 0.11), veil_colour
    screen = np.array([0.04, 0.31, 0.066], np.float32)
    image = foreground * alpha[..., None] + screen * (1.0 - alpha[..., None])
    result = Keyer(KeySettings(despill=0.0)).key(image.astype(np.float32))
    veil = result.alpha[:, 56:90]  # (towards the screen side the plate is less sure; not tested here)
    # An even veil is any mix on the line from the screen through its colour. The colour
    # difference takes the least alpha whose foreground is no greener than it is red:
    # here the veil's red leads its green, so it reads 0.6 (1 + (R - G) / (G_s - R_s)).
    colour_difference = 0.6 * (1 + (veil_colour[0] - veil_colour[1]) / (screen[1] - screen[0]))
    assert veil.min() > 0.5
    assert abs(float(veil.mean()) - clip_white(colour_difference)) < 0.02



def test_the_plate_follows_a_gradient_under_a_subject_that_hides_most_of_the_screen():
    # The light falls from 1.2 on the right to 0.6 on the left; bare screen shows only in
    # the right quarter. A sheer grey veil (alpha 0.3, its edge fading over 10 pixels)
    # covers the rest, a larger area than the screen's. Extending the lit screen flat under
    # the veil would read its left end as alpha 0.3 + 0.7 * (1 - 0.6 / 1.05) = 0.6.
    height, width = 96, 200
    gain = np.linspace(0.6, 1.2, width, dtype=np.float32)[None, :, None]
    plate = np.broadcast_to(GREEN, (height, width, 3)) * gain
    alpha = np.clip((150 - np.arange(width, dtype=np.float32)) / 10.0, 0.0, 1.0)[None, :, None] * 0.3
    image = alpha * np.float32(0.5) + (1.0 - alpha) * plate
    result = Keyer(KeySettings(despill=0.0)).key(image.astype(np.float32))
    assert np.allclose(result.qc["screen_rgb"], GREEN * 1.1, rtol=0.1)  # the bare screen, not the larger veil
    assert np.abs(result.alpha[:, 2:138] - 0.3).max() < 0.03


def test_a_screen_seen_only_in_a_narrow_strip_is_carried_on_flat():
    # Bare screen shows only in the 16 right-hand columns, where a vignette darkens it by
    # 10 % towards the frame's edge; an opaque red subject covers the rest but for a window
    # at its far left where a sheer grey veil (alpha 0.3) is all that is in front of the
    # screen. So narrow a strip cannot say how the light runs across the frame: carrying
    # its fall-off on as a slope would put the screen at the left more than twice as bright.
    height, width = 96, 200
    gain = np.clip(1.0 - 0.1 * (np.arange(width, dtype=np.float32) - 184) / 15, 0.9, 1.0)[None, :, None]
    screen = np.broadcast_to(GREEN, (height, width, 3)) * gain
    image = screen.copy()
    image[:, :184] = (0.5, 0.08, 0.05)
    image[30:66, 20:56] = 0.3 * np.float32(0.5) + 0.7 * screen[30:66, 20:56]
    result = Keyer(KeySettings(despill=0.0)).key(image.astype(np.float32))
    # The flat plate is the strip's mean, about 5 % darker than the screen behind the veil.
    assert abs(float(result.alpha[36:60, 26:50].mean()) - 0.3) < 0.05


def test_a_screen_survives_json_exactly_and_bad_files_are_refused():
    screen = Screen(rgb=(0.1 + 0.2, 1 / 3, 2.0**-20), channel=1, chroma_tolerance=0.07000000029802322,
                    noise=1e-300, working_space="ACEScg", source="shot.1001.png (frame 1001)", spill_radius=0.02)
    assert Screen.from_json(screen.to_json()) == screen
    older = screen.to_json().replace(',\n "spill_radius": 0.02', "")  # a screen stored before spill_radius
    assert '"spill_radius"' not in older and Screen.from_json(older).spill_radius is None
    measured = measure_screen(ramp_shot(BLUE)[0])
    assert measured.channel == 2 and Screen.from_json(measured.to_json()) == measured
    for text, match in (("{", "bad JSON"), ('{"rgb": [0, 1, 0]}', "format"),
                        (screen.to_json().replace('"channel": 1', '"channel": 0'), "channel"),
                        (screen.to_json().replace('"noise"', '"nois"'), "fields"),
                        (screen.to_json().replace('"spill_radius": 0.02', '"spill_radius": 0.3'), "spill_radius")):
        with pytest.raises(InputError, match=match):
            Screen.from_json(text)


def test_frames_keyed_against_a_screen_do_not_depend_on_the_frames_keyed_before():
    rng = np.random.default_rng(3)
    image, _, _ = ramp_shot(GREEN, plate_gain=uneven_gain(96, 160))
    frames = [np.clip(image * (1 + 0.03 * k) + rng.normal(0, 0.004, image.shape), 0, None).astype(np.float32)
              for k in range(4)]
    screen = measure_screen(frames[0])
    in_order = [Keyer(KeySettings(), screen).key(frame) for frame in frames]
    keyer = Keyer(KeySettings(), screen)
    for k in (3, 1, 2):
        alone = keyer.key(frames[k])
        assert np.array_equal(alone.alpha, in_order[k].alpha)
        assert np.array_equal(alone.foreground, in_order[k].foreground)
    # Each frame measured on its own keys differently (the light changes): the shot's screen matters.
    assert not np.array_equal(Keyer().key(frames[3]).alpha, in_order[3].alpha)


def test_a_frame_the_shots_screen_does_not_fit_is_keyed_against_its_own_and_warned():
    green_screen = measure_screen(ramp_shot(GREEN)[0])
    image, alpha, foreground = ramp_shot(BLUE)  # a cut to a blue screen
    result = Keyer(KeySettings(despill=0.0), green_screen).key(image)
    assert result.qc["screen_refit"] and result.qc["verdicts"] == ["refit"]
    assert np.allclose(result.qc["screen_rgb"], BLUE, atol=2e-3)
    assert np.allclose(result.qc["frame_screen_rgb"], BLUE, atol=2e-3)
    assert "the screen differs from the shot's" in result.qc["warnings"][0]
    check_ramp(result, alpha, foreground, **BLUE_LIMITS)
    # A warmer light on the same green screen moves its chromaticity out of tolerance too.
    warm = ramp_shot(GREEN * np.array([2.5, 1.0, 0.6], np.float32))[0]
    assert Keyer(KeySettings(), green_screen).key(warm).qc["screen_refit"]
    # The same shot half a stop or more brighter or darker is refit (the issue: exposure
    # +-50 %); a tenth of a stop is the shot's light and keeps the shot's screen.
    for gain in (0.5, 1.5, 2.0):
        changed = Keyer(KeySettings(), green_screen).key(ramp_shot(GREEN)[0] * gain)
        assert changed.qc["screen_refit"] and abs(changed.qc["screen_exposure"] - np.log2(gain)) < 0.05
    same = Keyer(KeySettings(), green_screen).key(ramp_shot(GREEN)[0] * 1.07)
    assert not same.qc["screen_refit"] and same.qc["warnings"] == [] and same.qc["screen_rgb"] == list(green_screen.rgb)


def test_a_key_almost_all_opaque_while_the_frame_holds_screen_and_subject_is_warned():
    image, alpha, _ = ramp_shot(GREEN)
    result = Keyer().key(image, hint=np.ones(alpha.shape, np.float32))  # a hint that makes everything opaque
    assert result.alpha.min() == 1.0
    assert any("keyed almost all opaque" in w for w in result.qc["warnings"])
    assert result.qc["verdicts"] == ["full_key"]
    assert Keyer().key(image).qc["warnings"] == []
    assert Keyer().key(np.broadcast_to(GREEN, image.shape).copy()).qc["warnings"] == []  # bare screen: fine


def noisy_frames(image, count, sigma=0.004, seed=5):
    rng = np.random.default_rng(seed)
    return [np.clip(image + rng.normal(0, sigma, image.shape), 0, None).astype(np.float32) for _ in range(count)]


def test_the_temporal_filter_steadies_a_static_noisy_shot():
    image, alpha, _ = ramp_shot(GREEN, plate_gain=uneven_gain(96, 160))
    frames = noisy_frames(image, 12)
    screen = measure_screen(frames[0])
    window = TEMPORAL_FRAMES

    def boil(strength):
        keyer = Keyer(KeySettings(temporal=strength), screen)
        alphas = [keyer.key(frames[n], previous=frames[n - window:n][::-1]) for n in range(window, len(frames))]
        assert all(r.qc["temporal_frames"] == (window if strength else 0) for r in alphas)
        return np.mean([np.abs(b.alpha - a.alpha).mean() for a, b in zip(alphas, alphas[1:])]), alphas

    alone, _ = boil(0.0)
    steady, results = boil(1.0)
    # Each frame is the mean of window + 1 frames: consecutive means share all but one, so
    # they differ by 1/(window + 1) as much (less the keyer's own smoothing).
    assert steady < 1.5 * alone / (window + 1)
    assert np.abs(results[-1].alpha - clip_white(alpha)).mean() < 0.02


def test_the_temporal_filter_leaves_no_ghost_of_a_moving_subject():
    screen_only = np.broadcast_to(GREEN, (96, 160, 3)).astype(np.float32)
    frames = []
    for shift in range(0, 50, 10):  # an opaque block moving 10 px a frame
        image = screen_only.copy()
        image[30:70, 20 + shift:60 + shift] = SUBJECT
        frames.append(image)
    frames = noisy_frames(np.stack(frames), 1)[0]
    keyer = Keyer(KeySettings(), measure_screen(frames[0]))
    last = keyer.key(frames[-1], previous=list(frames[-2::-1]))
    alone = Keyer(KeySettings(temporal=0.0), keyer.screen).key(frames[-1])
    assert last.alpha[30:70, 20:58].max() < 0.02  # where the block was: screen, no ghost
    assert last.alpha[34:66, 64:96].min() == 1.0  # where it is: opaque
    assert np.array_equal(last.alpha >= 0.5, alone.alpha >= 0.5)  # the edges sit where the frame alone puts them


def hairy_shot(screen, spill, size=160, radius=40, fringe=14):
    """An opaque SUBJECT disc with a soft fringe (alpha 0.45, like hair) around it, over
    ``screen``; spill as bounce light: the subject's colour takes ``w = spill * share`` of
    the screen, ``share`` the screen's share within a few pixels (more on the fringe than
    on the solid edge). Returns the image and the true premultiplied colour."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    distance = np.hypot(x - size / 2, y - size / 2)
    alpha = np.where(distance <= radius, 1.0, np.where(distance <= radius + fringe, 0.45, 0.0)).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.8)
    share = cv2.GaussianBlur(1.0 - alpha, (0, 0), 3.0)[..., None]
    spilled = (1.0 - spill * share) * SUBJECT + spill * share * screen
    image = alpha[..., None] * spilled + (1.0 - alpha[..., None]) * screen
    return image.astype(np.float32), (alpha[..., None] * SUBJECT).astype(np.float32), alpha


@pytest.mark.parametrize("screen", [GREEN, BLUE], ids=["green", "blue"])
def test_despill_takes_the_spill_out_of_a_soft_fringe_and_the_shot_keeps_its_reach(screen):
    image, truth, alpha = hairy_shot(screen, spill=0.5)
    fringe = (alpha > 0.3) & (alpha < 0.6)
    errors = {}
    for despill in (0.0, 1.0):
        result = Keyer(KeySettings(despill=despill)).key(image)
        errors[despill] = np.abs(result.premultiplied_rgba()[..., :3] - truth)[fringe].mean()
    # The fringe sits in screen all round and takes more spill than the solid edge, where
    # it is measured: despill takes out 40-45 % of the fringe's colour error here (a
    # per-pixel field pushed out from the edge, before issue 12's model, took 6-7 %).
    assert errors[1.0] < 0.75 * errors[0.0]
    # The shot's screen carries the reach measured on its reference frame; keyed with it,
    # a frame gets the same colour as keyed alone.
    shot = measure_screen(image)
    assert shot.spill_radius is not None
    alone = Keyer(KeySettings()).key(image)
    with_shot = Keyer(KeySettings(), shot).key(image)
    assert with_shot.qc["spill_radius"] == shot.spill_radius == alone.qc["spill_radius"]
    assert np.array_equal(with_shot.foreground, alone.foreground)


# --- issue 25 item 2: nothing left where the key says screen; the artist's controls ----------
SAMPLE = __import__("pathlib").Path(__file__).resolve().parents[2] / "samples" / "shot010" / "greenscreen"


@pytest.mark.parametrize("frame", [1001, 1005, 1009])
def test_where_the_key_says_screen_alpha_and_colour_are_zero_on_the_sample(frame):
    """No pixel with alpha < 0.01 and premultiplied colour above alpha + 1e-3 beyond 0.01 %
    of the frame, as the half EXR stores it (before: 3-8 % of each frame, mean G 0.0057 at
    alpha 0.0007, from the refinement's faint tails and grain divided by a faint alpha)."""
    from vfxkey.io.read import open_source
    from vfxkey.matte.greenpost import screen_residue

    shot = open_source(str(SAMPLE / "gs.####.png"))
    keyer = Keyer(KeySettings(), measure_screen(shot.read(1001).rgb))
    previous = [shot.read(n).rgb for n in range(frame - 1, max(1000, frame - 5), -1)]
    result = keyer.key(shot.read(frame).rgb, previous=previous)
    stored = result.premultiplied_rgba().astype(np.float16).astype(np.float32)
    assert screen_residue(stored[..., 3], stored[..., :3]) <= 1e-4
    assert "screen_residue" not in result.qc["verdicts"]
    assert np.all(stored[stored[..., 3] == 0][:, :3] == 0)  # alpha 0: colour 0
    assert result.alpha.mean() > 0.2  # the figure is still there


def test_residue_is_a_verdict():
    from vfxkey.matte.greenpost import _residue_verdict

    alpha = np.zeros((100, 100), np.float32)
    alpha[:2, :] = 0.005  # 2 % of the frame faint...
    colour = np.zeros((100, 100, 3), np.float32)
    colour[:2, :, 1] = 1.0  # ...with a straight colour of 1 in green: premultiplied 0.005, above alpha + 1e-3? no
    assert _residue_verdict(alpha, colour) == []
    colour[:2, :, 1] = 2.0  # 0.01 > 0.006: residue
    (verdict, warning), = _residue_verdict(alpha, colour)
    assert verdict == "screen_residue" and "2.00%" in warning


def test_clip_black_and_white_stretch_alpha_away_from_the_knee():
    image, alpha, _ = ramp_shot(GREEN)
    plain = Keyer(KeySettings(despill=0.0, clip_white=1.0)).key(image).alpha  # no clip at all
    clipped = Keyer(KeySettings(despill=0.0, clip_black=0.2, clip_white=0.8)).key(image).alpha
    assert np.all(clipped[plain <= 0.2] == 0.0) and np.all(clipped[plain >= 0.8] == 1.0)
    middle = (plain > 0.25) & (plain < 0.75)
    assert middle.any() and np.all(np.abs(clipped[middle] - 0.5) >= np.abs(plain[middle] - 0.5) - 1e-6)
    with pytest.raises(SettingError, match="clip_black must be within") as refused:
        KeySettings(clip_black=0.6)
    assert refused.value.setting == "clip_black"


def test_garbage_and_core_mattes_override_the_key():
    image, alpha, _ = ramp_shot(GREEN)
    garbage = np.zeros(alpha.shape, np.float32)
    garbage[:, :30] = 1.0  # over the opaque subject
    core = np.zeros(alpha.shape, np.float32)
    core[:20, 130:] = 1.0  # over bare screen
    result = Keyer(KeySettings(despill=0.0)).key(image, garbage=garbage, core=core)
    assert np.all(result.alpha[:, :30] == 0.0) and np.all(result.premultiplied_rgba()[:, :30, :3] == 0.0)
    assert np.all(result.alpha[:20, 130:] == 1.0)
    plain = Keyer(KeySettings(despill=0.0)).key(image).alpha
    assert np.abs(result.alpha[30:, 40:120] - plain[30:, 40:120]).max() < 0.02  # elsewhere the key decides


def test_blank_and_inverted_keys_are_verdicts():
    from vfxkey.matte.greenpost import _key_verdicts

    image, alpha, _ = ramp_shot(GREEN)
    screen = measure_screen(image)
    assert _key_verdicts(image, alpha, screen) == []
    (verdict, warning), = _key_verdicts(image, np.zeros_like(alpha), screen)
    assert verdict == "blank_key" and "keyed almost all transparent" in warning
    (verdict, warning), = _key_verdicts(image, 1.0 - alpha, screen)
    assert verdict == "inverted_key" and "inside out" in warning


def test_the_colour_floor_on_faint_pixels_holds_every_channel_not_only_red():
    """Where alpha is under noise / COLOUR_NOISE the straight colour is held to at most 1 in
    each channel. (It was cv2.min(colour, 1.0), which OpenCV reads as the scalar
    (1, 0, 0, 0): those pixels kept their red and lost green and blue.)"""
    from vfxkey.matte.greenpost import COLOUR_NOISE

    image, _, _ = ramp_shot(GREEN, height=128, width=200)
    image = (image + np.random.default_rng(7).normal(0.0, 0.01, image.shape)).astype(np.float32)
    screen = measure_screen(image)
    result = Keyer(KeySettings(), screen).key(image)
    faint = (result.alpha > 0.0) & (result.alpha < screen.noise / COLOUR_NOISE)
    assert faint.sum() > 100
    colour = result.foreground[faint]
    assert colour.max() <= 1.0
    # the subject is warm grey (0.40, 0.32, 0.26): green and blue are there as red is
    assert np.all((colour > 0.0).mean(axis=0) > 0.6)
    assert np.all(colour.mean(axis=0) > 0.2)


def test_specks_of_screen_grain_are_cleared_and_the_faint_edge_joined_to_the_subject_stays():
    # Without the refinement, which would smooth some of the grain away, the unmix's own
    # key shows it: grain that clears the noise floor in free-floating specks (2.6 % of
    # the screen before they were cleared), while the ramp's faint tail is joined to the subject.
    image, alpha, _ = ramp_shot(GREEN, height=240, width=320)
    image = image + np.random.default_rng(1).normal(0.0, 0.01, image.shape).astype(np.float32)
    out = Keyer(KeySettings(refine_radius=0, despill=0.0)).key(image).alpha
    assert (out[:, 115:] > 0.0).mean() < 1e-3
    tail = slice(95, 108)  # true alpha 0.25 -> 0.03
    assert np.abs(out[:, tail] - alpha[:, tail]).mean() < 0.02
    assert (out[:, tail] > 0.0).mean() > 0.9
