"""Colour transforms against published sRGB / ACES values."""

import numpy as np
import pytest

from vfxkey.errors import VfxkeyError
from vfxkey.io import colour


def test_srgb_decoding_matches_the_srgb_formula():
    # IEC 61966-2-1: 0.5 -> ((0.5 + 0.055) / 1.055) ** 2.4 = 0.214041; the linear segment below 0.04045.
    encoded = np.array([[0.0, 0.5, 1.0], [0.04, 0.2, 0.8]], np.float32)
    linear = colour.convert(encoded, "sRGB Encoded Rec.709 (sRGB)", "Linear Rec.709 (sRGB)")
    assert linear[0] == pytest.approx([0.0, 0.214041, 1.0], abs=2e-6)
    assert linear[1] == pytest.approx([0.04 / 12.92, 0.0331048, 0.6038273], abs=2e-6)


def test_linear_to_acescg_on_pure_red_is_the_bt709_to_ap1_matrix_column():
    # First column of the Rec.709 -> AP1 (ACEScg) matrix with Bradford D65 -> ACES white.
    red = np.array([1.0, 0.0, 0.0], np.float32)
    acescg = colour.convert(red, "Linear Rec.709 (sRGB)", "ACEScg")
    assert acescg == pytest.approx([0.61309732, 0.07019372, 0.02061559], abs=1e-5)
    back = colour.convert(acescg, "ACEScg", "Linear Rec.709 (sRGB)")
    assert back == pytest.approx([1.0, 0.0, 0.0], abs=1e-5)


def test_camera_rec709_decoding_matches_the_bt709_oetf():
    # BT.709 OETF: V = 1.099 L^0.45 - 0.099 above L = 0.018, so V = 0.5 -> L = ((0.599)/1.099)^(1/0.45).
    linear = colour.convert(np.array([0.5, 0.081, 1.0], np.float32)[None], "Camera Rec.709", colour.WORKING_SPACE)
    assert linear[0] == pytest.approx([(0.599 / 1.099) ** (1 / 0.45), 0.081 / 4.5, 1.0], abs=1e-4)


def test_convert_leaves_its_input_alone_and_returns_float32():
    rgb = np.full((2, 3, 3), 0.5, np.float64)
    out = colour.convert(rgb, "srgb_rec709_scene", "lin_rec709_scene")
    assert out.dtype == np.float32 and out.shape == (2, 3, 3)
    assert np.all(rgb == 0.5)


@pytest.mark.parametrize("dtype, full_scale", [(np.uint8, 255), (np.uint16, 65535)])
@pytest.mark.parametrize("dst", ["Linear Rec.709 (sRGB)", "ACEScg"])
def test_integer_code_values_convert_as_their_float_equivalents(dtype, full_scale, dst):
    # Every 8-bit code (a 16-bit sweep with a step of 7) through the table path equals
    # the lossless float path on code / full scale, to float32 rounding.
    codes = np.arange(0, full_scale + 1, 1 if dtype is np.uint8 else 7).astype(dtype)
    codes = np.stack([codes, codes[::-1], codes], axis=-1).reshape(1, -1, 3)
    table = colour.convert(codes, "sRGB Encoded Rec.709 (sRGB)", dst)
    exact = colour.convert(codes.astype(np.float64) / full_scale, "sRGB Encoded Rec.709 (sRGB)", dst)
    assert table.dtype == np.float32 and table.shape == codes.shape
    assert np.abs(table - exact).max() < 1e-6


@pytest.mark.parametrize("dst", ["Linear Rec.709 (sRGB)", "ACEScg"])
def test_8bit_codes_convert_to_the_bits_ocios_own_8bit_processor_gives(dst):
    # Without a matrix between the curves (into linear Rec.709) 8-bit codes are looked up in
    # a table of OCIO's results; with one (ACEScg) OCIO converts them. Either way: OCIO's bits,
    # for every code in every channel at every position (an image whose rows are not SIMD-sized).
    import PyOpenColorIO as ocio

    rng = np.random.default_rng(5)
    every = np.stack([np.arange(259) % 256] * 3, -1)[None]  # 259 wide
    codes = np.concatenate([every, every[:, ::-1], rng.integers(0, 256, (37, 259, 3))]).astype(np.uint8)
    processor = colour.config().getProcessor("sRGB Encoded Rec.709 (sRGB)", colour.check_colorspace(dst))
    expected = np.empty(codes.shape, np.float32)
    processor.getOptimizedCPUProcessor(ocio.BIT_DEPTH_UINT8, ocio.BIT_DEPTH_F32, ocio.OPTIMIZATION_DEFAULT).apply(
        ocio.PackedImageDesc(codes, 259, 39, 3, ocio.BIT_DEPTH_UINT8, 1, 3, 3 * 259),
        ocio.PackedImageDesc(expected, 259, 39, 3, ocio.BIT_DEPTH_F32, 4, 12, 12 * 259))
    converted = colour.convert(codes, "sRGB Encoded Rec.709 (sRGB)", dst)
    assert converted.dtype == np.float32 and np.array_equal(converted.view(np.uint32), expected.view(np.uint32))


def test_integer_codes_in_the_working_space_are_only_scaled():
    codes = np.array([[0, 128, 255]], np.uint8)
    assert colour.convert(codes, colour.WORKING_SPACE, colour.WORKING_SPACE)[0] == pytest.approx([0, 128 / 255, 1])


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("ACEScg", "ACEScg"),
        ("lin_rec709_scene", "Linear Rec.709 (sRGB)"),
        ("lin_srgb", "Linear Rec.709 (sRGB)"),
        ("linear", "Linear Rec.709 (sRGB)"),
        ("srgb_rec709_scene", "sRGB Encoded Rec.709 (sRGB)"),
        ("Camera Rec.709", "Camera Rec.709"),
    ],
)
def test_check_colorspace_resolves_aliases(name, canonical):
    assert colour.check_colorspace(name) == canonical


def test_unknown_colorspace_suggests_close_names():
    with pytest.raises(VfxkeyError, match=r"unknown colour space 'ACEScgg'.*'ACEScg'") as info:
        colour.check_colorspace("ACEScgg")
    assert "\n" not in str(info.value)
