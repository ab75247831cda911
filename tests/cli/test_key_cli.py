"""`vfxkey key` end to end: every input form, outputs, QC metadata, sidecar, bad input."""

import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.io.write import ProResWriter

sys.path.insert(0, str(Path(__file__).parents[1] / "shot"))
from shots import SCREEN_SRGB, SUBJECT_SRGB, write_png  # noqa: E402  (a studio green; sRGB-encoded)
HEIGHT, WIDTH = 48, 64


def run(*args):
    return CliRunner().invoke(main, ["key", *[str(a) for a in args]])


def shot(shift: int = 0, screen=SCREEN_SRGB) -> np.ndarray:
    """(H, W, 3) sRGB-encoded: a disc of subject (radius 12, centre moving with ``shift``) on ``screen``."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    inside = ((x - 32 - shift) ** 2 + (y - 24) ** 2 <= 12**2)[..., None]
    return np.where(inside, SUBJECT_SRGB, screen).astype(np.float32)


def read(path):
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    spec, pixels = image.spec(), image.read_image("float")
    image.close()
    return pixels, spec


def check_keyed(pixels):
    """The disc is opaque, the screen corners transparent (premultiplied RGBA)."""
    assert pixels.shape[2] == 4
    assert pixels[24, 32, 3] > 0.99 and pixels[2, 2, 3] < 0.01
    assert np.all(pixels[..., :3] <= pixels[..., 3:4] + 1e-3)  # premultiplied colour never exceeds alpha here


def test_still_to_exr_with_qc_metadata_sidecar_and_checkerboard_preview(tmp_path):
    still = write_png(tmp_path / "in" / "green.png", shot())
    result = run(still, "-o", tmp_path / "out" / "green.exr", "--preview", tmp_path / "out" / "comp.png")
    assert result.exit_code == 0, result.output
    pixels, spec = read(tmp_path / "out" / "green.exr")
    check_keyed(pixels)
    screen = [float(v) for v in spec.get_string_attribute("vfxkey:screen_rgb").split()]
    linear_screen = ((SCREEN_SRGB + 0.055) / 1.055) ** 2.4
    assert np.allclose(screen, linear_screen, atol=0.01)
    assert spec.get_float_attribute("vfxkey:soft_fraction") < 0.1
    assert 0.0 <= spec.get_float_attribute("vfxkey:gsg", -1.0) < 0.01  # the dominant colour is the screen itself
    assert spec.get_float_attribute("vfxkey:despill") == 1.0
    sidecar = json.loads((tmp_path / "out" / "green.qc.json").read_text())
    assert [f["frame"] for f in sidecar["frames"]] == [1]
    assert np.allclose(sidecar["frames"][0]["screen_rgb"], screen, atol=1e-5)
    preview, preview_spec = read(tmp_path / "out" / "comp.png")
    assert preview_spec.format == oiio.UINT8 and preview.shape == (HEIGHT, WIDTH, 3)
    assert abs(preview[1, 1, 0] - preview[1, 1, 1]) < 0.01  # grey checkerboard shows through the screen


def test_sequence_to_exr_sequence_with_frames_hint_and_preview_over_a_plate(tmp_path):
    for n, frame in enumerate(range(1001, 1005)):
        write_png(tmp_path / "in" / f"shot.{frame}.png", shot(shift=n))
    hint = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    hint[8:40, 16:52] = 1.0
    write_png(tmp_path / "hint.png", hint)
    plate = np.broadcast_to(np.array([0.0, 0.0, 1.0], np.float32), (HEIGHT * 2, WIDTH * 2, 3))
    write_png(tmp_path / "plate.png", plate)
    result = run(tmp_path / "in" / "shot.####.png", "-o", tmp_path / "out" / "key.####.exr",
                 "--frames", "1002-1003", "--hint", tmp_path / "hint.png", "--despeckle", "10",
                 "--preview", tmp_path / "out" / "comp.####.png", "--plate", tmp_path / "plate.png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == ["key.1002.exr", "key.1003.exr"]
    for frame, shift in ((1002, 1), (1003, 2)):
        pixels, spec = read(tmp_path / "out" / f"key.{frame}.exr")
        check_keyed(pixels)
        assert pixels[24, 32 + 11 + shift, 3] > 0.9  # the disc moved with the shot
        assert spec.get_int_attribute("vfxkey:frame") == frame
        comp, _ = read(tmp_path / "out" / f"comp.{frame}.png")
        assert comp[2, 2, 2] > 0.95 and comp[2, 2, 1] < 0.05  # the blue plate behind the screen
    sidecar = json.loads((tmp_path / "out" / "key.qc.json").read_text())
    assert [f["frame"] for f in sidecar["frames"]] == [1002, 1003]
    assert sidecar["settings"]["despeckle"] == 10


def test_movie_to_prores(tmp_path):
    movie = tmp_path / "in.mov"
    linear = ((shot() + 0.055) / 1.055) ** 2.4
    with ProResWriter(str(movie), WIDTH, HEIGHT, Fraction(24)) as writer:
        for _ in range(3):
            writer.write(np.concatenate([linear, np.ones((HEIGHT, WIDTH, 1), np.float32)], axis=-1))
    result = run(movie, "-o", tmp_path / "out" / "key.mov")
    assert result.exit_code == 0, result.output
    container_frames = 0
    with av.open(str(tmp_path / "out" / "key.mov")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        for frame in container.decode(stream):
            alpha = frame.to_ndarray(format="gbrapf32le")[..., 3]
            assert alpha[24, 32] > 0.99 and alpha[2, 2] < 0.01
            container_frames += 1
    assert container_frames == 3
    assert len(json.loads((tmp_path / "out" / "key.qc.json").read_text())["frames"]) == 3


def test_folder_of_stills_to_folder_of_exrs_named_after_the_stills(tmp_path):
    write_png(tmp_path / "in" / "alpha.png", shot())
    write_png(tmp_path / "in" / "beta.png", shot(shift=3))
    result = run(tmp_path / "in", "-o", str(tmp_path / "out") + "/", "--screen", "#3ea650")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == ["alpha.exr", "beta.exr"]
    check_keyed(read(tmp_path / "out" / "beta.exr")[0])
    sidecar = json.loads((tmp_path / "out" / "vfxkey_qc.json").read_text())
    assert [f["source"].split("/")[-1] for f in sidecar["frames"]] == ["alpha.png", "beta.png"]


@pytest.mark.parametrize("case", ["missing", "bad_screen", "no_screen", "preview_without_token", "plate_without_preview"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case):
    green = write_png(tmp_path / "in" / "shot.1001.png", shot())
    write_png(tmp_path / "in" / "shot.1002.png", shot())
    grey = write_png(tmp_path / "grey.png", np.full((HEIGHT, WIDTH, 3), 0.5, np.float32))
    out = tmp_path / "out" / "key.####.exr"
    args = {
        "missing": (tmp_path / "nope.png", "-o", out),
        "bad_screen": (green, "-o", out, "--screen", "#12345"),
        "no_screen": (grey, "-o", tmp_path / "out" / "key.exr", "--screen", "green"),
        "preview_without_token": (tmp_path / "in" / "shot.####.png", "-o", out, "--preview", tmp_path / "comp.png"),
        "plate_without_preview": (green, "-o", out, "--plate", green),
    }[case]
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()  # the progress bar may come first
    assert lines[-1].startswith("Error:") and "Traceback" not in result.output
    assert sum(line.startswith("Error:") for line in lines) == 1
    assert not list(tmp_path.glob("out/*.exr"))


def test_a_png_hint_is_read_as_stored_and_a_still_plate_is_decoded_once(tmp_path):
    from vfxkey.io.companion import Companion
    from vfxkey.io.colour import WORKING_SPACE
    from vfxkey.io.window import Window

    write_png(tmp_path / "hint.png", np.full((HEIGHT, WIDTH, 3), 128 / 255, np.float32))
    hint = Companion(str(tmp_path / "hint.png"), WORKING_SPACE, "hint")
    frame = Window(0, 0, WIDTH, HEIGHT)
    assert hint.mask(1001, frame, frame) == pytest.approx(np.full((HEIGHT, WIDTH), 128 / 255), abs=1e-6)

    write_png(tmp_path / "plate.png", np.full((HEIGHT, WIDTH, 3), 128 / 255, np.float32))
    plate = Companion(str(tmp_path / "plate.png"), WORKING_SPACE, "plate")
    decoded, read_frame = [], plate.source.read
    plate.source.read = lambda number: decoded.append(number) or read_frame(number)
    first, second = plate.image(1001, (HEIGHT, WIDTH)), plate.image(1002, (HEIGHT, WIDTH))
    assert decoded == [1]
    # A plate is colour: sRGB 128 is linearised to 0.2158.
    assert first[0, 0] == pytest.approx([0.2158605] * 3, abs=1e-5) and np.array_equal(first, second)


def flickering_shot(frame: int) -> np.ndarray:
    """shot() with the disc moving, the screen's light flickering by a few code values and
    8-bit sensor noise: a screen measured on different frames differs in its last bits."""
    rng = np.random.default_rng(frame)
    pixels = shot(shift=frame % 5, screen=SCREEN_SRGB * (1.0 + 0.02 * np.sin(frame)))
    return np.clip(pixels + rng.normal(0, 0.01, pixels.shape), 0, 1).astype(np.float32)


def exr_frames(folder):
    return {p.name: read(p)[0] for p in sorted(folder.glob("*.exr"))}


def test_a_shot_keyed_in_one_run_and_in_chunks_gives_bitwise_equal_frames(tmp_path):
    for frame in range(1001, 1007):
        write_png(tmp_path / "in" / f"shot.{frame}.png", flickering_shot(frame))
    pattern = tmp_path / "in" / "shot.####.png"
    assert run(pattern, "-o", tmp_path / "one" / "key.####.exr").exit_code == 0
    stored = tmp_path / "one" / "key.screen.json"
    assert json.loads(stored.read_text())["source"].endswith("(frame 1001), screen auto")
    # Chunks in order: the second reads the screen the first wrote.
    for frames in ("1001-1003", "1004-1006"):
        assert run(pattern, "-o", tmp_path / "chunks" / "key.####.exr", "--frames", frames).exit_code == 0
    # The last chunk alone, first: it measures the shot's first frame, not its own.
    assert run(pattern, "-o", tmp_path / "late" / "key.####.exr", "--frames", "1004-1006").exit_code == 0
    # A farm chunk given the stored screen.
    assert run(pattern, "-o", tmp_path / "farm" / "key.####.exr", "--frames", "1005",
               "--screen-from", stored).exit_code == 0
    one = exr_frames(tmp_path / "one")
    assert len(one) == 6
    for folder in ("chunks", "late", "farm"):
        for name, pixels in exr_frames(tmp_path / folder).items():
            assert np.array_equal(pixels, one[name]), (folder, name)
    assert (tmp_path / "late" / "key.screen.json").read_text() == stored.read_text()
    # Frames measured on their own would differ: the test can tell.
    own = run(tmp_path / "in" / "shot.1005.png", "-o", tmp_path / "own" / "key.exr")
    assert own.exit_code == 0 and not np.array_equal(read(tmp_path / "own" / "key.exr")[0], one["key.1005.exr"])


def test_the_sidecars_flicker_is_the_alpha_change_between_the_exrs_as_written(tmp_path):
    # The key measures flicker on the frames in memory, as stored (half): it must be what a
    # reader of the EXRs finds, mean |alpha - alpha of the frame before|, by OIIO here.
    for frame in range(1001, 1005):
        write_png(tmp_path / "in" / f"shot.{frame}.png", flickering_shot(frame))
    assert run(tmp_path / "in" / "shot.####.png", "-o", tmp_path / "out" / "key.####.exr").exit_code == 0
    alphas = [pixels[..., 3] for pixels in exr_frames(tmp_path / "out").values()]
    records = json.loads((tmp_path / "out" / "key.qc.json").read_text())["frames"]
    assert records[0]["flicker"] is None
    for record, alpha, before in zip(records[1:], alphas[1:], alphas):
        assert record["flicker"] == pytest.approx(float(np.mean(np.abs(alpha - before))), rel=1e-6) and record["flicker"] > 0


def test_a_screen_file_that_is_not_one_is_a_one_line_error(tmp_path):
    still = write_png(tmp_path / "in" / "green.png", shot())
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    result = run(still, "-o", tmp_path / "out" / "key.exr", "--screen-from", tmp_path / "bad.json")
    assert result.exit_code == 2 and "bad.json: not a screen file" in result.output
    assert not list(tmp_path.glob("out/*.exr"))


STILL_SCREENS_SRGB = {"a_chroma": (0, 177, 64), "b_generated": (8, 162, 24), "c_bright": (120, 235, 110),
                      "d_blue": (30, 70, 210)}


def test_a_folder_of_stills_on_different_screens_keys_each_against_its_own(tmp_path):
    for name, screen in STILL_SCREENS_SRGB.items():
        write_png(tmp_path / "in" / f"{name}.png", shot(screen=np.array(screen) / 255.0))
    result = run(tmp_path / "in", "-o", str(tmp_path / "out") + "/")
    assert result.exit_code == 0, result.output
    for name in STILL_SCREENS_SRGB:
        check_keyed(read(tmp_path / "out" / f"{name}.exr")[0])
    sidecar = json.loads((tmp_path / "out" / "vfxkey_qc.json").read_text())
    assert sidecar["screen"] == "each image its own" and sidecar["warnings"] == 0
    assert not list((tmp_path / "out").glob("*.screen.json"))


def test_a_cut_to_another_screen_is_refit_from_that_frame_with_one_warning(tmp_path):
    blue_shot = shot(screen=np.array([30, 70, 210]) / 255.0)
    for frame in range(1001, 1005):
        write_png(tmp_path / "in" / f"shot.{frame}.png", shot() if frame < 1003 else blue_shot)
    result = run(tmp_path / "in" / "shot.####.png", "-o", tmp_path / "out" / "key.####.exr")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "the screen differs from the shot's" in line]
    assert len(warnings) == 1 and "(frame 1003)" in warnings[0]
    for frame in range(1001, 1005):
        pixels, spec = read(tmp_path / "out" / f"key.{frame}.exr")
        check_keyed(pixels)
        assert spec.get_int_attribute("vfxkey:screen_refit") == (frame >= 1003)
    sidecar = json.loads((tmp_path / "out" / "key.qc.json").read_text())
    assert sidecar["refit_frames"] == [1003, 1004]
    assert np.argmax(sidecar["frames"][2]["screen_rgb"]) == 2
