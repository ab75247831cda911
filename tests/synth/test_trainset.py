"""Training-set maker: documented layout, masks equal the input alpha, seeded, readable by the trainer."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.synth.screens import ScreenLook
from vfxkey.synth.trainset import MattePairs, make_sample, make_trainset, read_foregrounds

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FG_SRGB8 = (200, 60, 40)  # an orange-red subject, far from any green


def disc_alpha(height=48, width=64, radius=14):
    """8-bit alpha: an opaque disc with a one-step soft ring, like a real matte edge."""
    y, x = np.mgrid[0:height, 0:width]
    distance = np.hypot(x - width / 2, y - height / 2)
    return np.clip((radius + 2 - distance) * 127.5, 0, 255).astype(np.uint8)


def write_rgba_folder(folder, names=("a", "b")):
    """Straight-alpha RGBA PNGs with a flat subject colour."""
    folder.mkdir()
    alphas = {}
    for i, name in enumerate(names):
        alpha = disc_alpha(radius=10 + 4 * i)
        rgba = np.dstack([np.full(alpha.shape + (3,), FG_SRGB8, np.uint8), alpha])
        cv2.imwrite(str(folder / f"{name}.png"), rgba[..., [2, 1, 0, 3]])  # OpenCV writes BGRA
        alphas[name] = alpha
    return alphas


def read(path, flags=cv2.IMREAD_UNCHANGED):
    return cv2.imread(str(path), flags)


def test_layout_and_masks_equal_the_input_alpha(tmp_path):
    alphas = write_rgba_folder(tmp_path / "fg")
    names = make_trainset(read_foregrounds(tmp_path / "fg"), tmp_path / "set", count=3, seed=5)
    assert names == ["000000_a", "000001_b", "000002_a"]
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["images", "masks"]
    for name in names:
        image = read(tmp_path / "set" / "images" / f"{name}.png")
        mask = read(tmp_path / "set" / "masks" / f"{name}.png")
        assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
        assert mask.dtype == np.uint8 and mask.shape == (48, 64)
        np.testing.assert_array_equal(mask, alphas[name.split("_")[1]])


def test_composite_shows_the_subject_inside_and_a_green_screen_outside(tmp_path):
    alphas = write_rgba_folder(tmp_path / "fg", names=("a",))
    make_trainset(read_foregrounds(tmp_path / "fg"), tmp_path / "set", count=4, seed=0)
    for path in sorted((tmp_path / "set" / "images").glob("*.png")):
        rgb = read(path, cv2.IMREAD_COLOR)[..., ::-1].astype(np.int32)
        alpha = alphas["a"]
        core = cv2.erode((alpha == 255).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        # Opaque core: the subject's own colour (spill fades within a few pixels, noise is small).
        assert np.abs(np.median(rgb[core], axis=0) - FG_SRGB8).max() <= 12
        # Background: green dominates red and blue everywhere.
        background = rgb[alpha == 0]
        assert (background[:, 1] > background[:, 0] + 30).all() and (background[:, 1] > background[:, 2] + 30).all()


def test_a_flat_screen_sample_is_the_closed_form_over(tmp_path):
    write_rgba_folder(tmp_path / "fg", names=("a",))
    (fg,) = read_foregrounds(tmp_path / "fg")
    image, mask = make_sample(fg, np.random.default_rng(0), look=ScreenLook())
    np.testing.assert_array_equal(mask, fg.alpha)
    screen = image[0, 0]  # a background pixel: the flat screen colour itself
    assert screen[1] > 5 * max(screen[0], screen[2])  # one of the greens
    expected = fg.alpha[..., None] * fg.rgb + (1 - fg.alpha[..., None]) * screen
    np.testing.assert_allclose(image, expected, rtol=1e-6, atol=1e-7)


def test_same_seed_same_files_other_seed_other_screens(tmp_path):
    write_rgba_folder(tmp_path / "fg")
    foregrounds = read_foregrounds(tmp_path / "fg")
    make_trainset(foregrounds, tmp_path / "one", count=2, seed=1)
    make_trainset(foregrounds, tmp_path / "two", count=3, seed=1)
    make_trainset(foregrounds, tmp_path / "other", count=2, seed=2)
    for name in ("000000_a", "000001_b"):
        for sub in ("images", "masks"):
            first = (tmp_path / "one" / sub / f"{name}.png").read_bytes()
            assert first == (tmp_path / "two" / sub / f"{name}.png").read_bytes()  # prefix of a longer set
        assert (tmp_path / "one" / "images" / f"{name}.png").read_bytes() != (
            tmp_path / "other" / "images" / f"{name}.png").read_bytes()


def test_sized_sets_place_the_element_inside_the_frame(tmp_path):
    alphas = write_rgba_folder(tmp_path / "fg", names=("a",))
    make_trainset(read_foregrounds(tmp_path / "fg"), tmp_path / "set", count=6, seed=0, size=(96, 80))
    source_area = alphas["a"].sum() / 255.0
    fit = min(96 / 64, 80 / 48)
    for mask_path in sorted((tmp_path / "set" / "masks").glob("*.png")):
        mask = read(mask_path)
        assert mask.shape == (80, 96)
        assert read(tmp_path / "set" / "images" / mask_path.name).shape == (80, 96, 3)
        # scaled by 50..100 % of the fit: area between a quarter and all of fit**2 (resampling aside)
        area = mask.sum() / 255.0
        assert 0.22 * fit**2 * source_area < area < 1.05 * fit**2 * source_area


def test_alpha_folder_pairs_by_name_and_reads_rgb_mattes_as_data(tmp_path):
    (tmp_path / "fg").mkdir()
    (tmp_path / "alpha").mkdir()
    alpha = disc_alpha()
    cv2.imwrite(str(tmp_path / "fg" / "shot.png"), np.full(alpha.shape + (3,), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "alpha" / "shot.png"), np.dstack([alpha] * 3))  # matte stored as RGB
    (foreground,) = read_foregrounds(tmp_path / "fg", tmp_path / "alpha")
    np.testing.assert_allclose(foreground.alpha, alpha / 255.0, atol=1e-6)  # not linearised
    assert foreground.rgb[0, 0, 0] == pytest.approx(((128 / 255 + 0.055) / 1.055) ** 2.4, rel=1e-3)


def test_bad_inputs_raise_one_line_errors(tmp_path):
    with pytest.raises(SettingError, match="nowhere: the folder does not exist") as refused:
        read_foregrounds(tmp_path / "nowhere")
    assert refused.value.setting == "fg"
    (tmp_path / "empty").mkdir()
    with pytest.raises(VfxkeyError, match="holds no images"):
        read_foregrounds(tmp_path / "empty")
    (tmp_path / "rgb").mkdir()
    cv2.imwrite(str(tmp_path / "rgb" / "x.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(VfxkeyError, match=r"x.png: has no alpha channel; give its mattes as a folder \(alpha\)"):
        read_foregrounds(tmp_path / "rgb")
    (tmp_path / "mattes").mkdir()
    cv2.imwrite(str(tmp_path / "mattes" / "y.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(VfxkeyError, match="no alpha named x"):
        read_foregrounds(tmp_path / "rgb", tmp_path / "mattes")
    cv2.imwrite(str(tmp_path / "mattes" / "x.png"), np.zeros((9, 8), np.uint8))
    with pytest.raises(VfxkeyError, match="alpha is 8x9 but x.png is 8x8"):
        read_foregrounds(tmp_path / "rgb", tmp_path / "mattes")


def test_matte_pairs_read_the_layout_back(tmp_path):
    alphas = write_rgba_folder(tmp_path / "fg")
    make_trainset(read_foregrounds(tmp_path / "fg"), tmp_path / "set", count=2, seed=0)
    pairs = MattePairs(tmp_path / "set")
    assert len(pairs) == 2
    image, mask = pairs[1]
    assert image.shape == (48, 64, 3) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
    np.testing.assert_allclose(mask, alphas["b"] / 255.0, atol=1e-6)
    png = read(tmp_path / "set" / "images" / "000001_b.png", cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_allclose(image, png / 255.0, atol=1e-6)  # encoded values, RGB order

    small_image, small_mask = MattePairs(tmp_path / "set", (32, 24))[1]
    assert small_image.shape == (24, 32, 3) and small_mask.shape == (24, 32)

    (tmp_path / "set" / "masks" / "000001_b.png").unlink()
    with pytest.raises(VfxkeyError, match="000001_b.png: has no mask"):
        MattePairs(tmp_path / "set")
    with pytest.raises(VfxkeyError, match="not a training set"):
        MattePairs(tmp_path / "fg")


@pytest.mark.shared_data
def test_alphamatting_foregrounds_make_pairs_with_their_measured_alpha(tmp_path):
    data = SHARED_DATA / "alphamatting_dev"
    if not data.is_dir():
        pytest.skip(f"shared evaluation data not found at {data}")
    foregrounds = read_foregrounds(data / "fg_estimated", data / "alpha")
    assert len(foregrounds) == 9
    names = make_trainset(foregrounds[:2], tmp_path / "set", count=2, seed=0)
    for name in names:
        measured = read(data / "alpha" / f"{name.split('_', 1)[1]}.png", cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(read(tmp_path / "set" / "masks" / f"{name}.png"), measured)
