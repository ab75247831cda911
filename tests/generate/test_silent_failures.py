"""Generation failures that used to pass silently (issue 24 §2): each stops with a clear error
or leaves a QC verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny_models import save_diffusers_folder

from vfxkey.cli import main
from vfxkey.errors import VfxkeyError
from vfxkey.generate.keycolour import KeyColour, key_element
from vfxkey.generate.model import load_model
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator, check_head_key
from vfxkey.io.colour import WORKING_SPACE
from vfxkey.matte.greenpost import Keyer, KeySettings
from vfxkey.generate.head import load_head

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "samples" / "models" / "toy-ldm"
TOY_HEAD = ROOT / "samples" / "models" / "toy-ldm-head.safetensors"
DATA = Path(__file__).parent / "data"


def disc(size: int = 64, radius: float = 20.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return np.hypot(x - size / 2, y - size / 2) < radius


def test_a_custom_key_with_no_background_stops_as_a_named_key_does():
    # A yellow disc on grey, keyed on teal: no pixel is the key's colour. The keyer alone falls
    # back to the given colour and keys the subject away (alpha ~0 everywhere, exit 0 before).
    teal = KeyColour.of((0.1, 0.7, 0.6), WORKING_SPACE)
    rgb = np.where(disc()[..., None], np.float32([0.6, 0.5, 0.1]), np.float32([0.2, 0.2, 0.2])).astype(np.float32)
    keyer = Keyer(KeySettings(screen=teal.screen))
    assert keyer.key(rgb).alpha.mean() < 0.05  # what was written before: a transparent frame
    with pytest.raises(ValueError, match=r"found no #1ab299 screen"):
        key_element(keyer, rgb, teal)
    # The same frame with a teal background keys.
    rgb[~disc()] = teal.linear
    assert key_element(keyer, rgb, teal).alpha[32, 32] > 0.9


def test_an_inverted_key_gets_a_qc_verdict():
    # The key colour in the middle, a subject colour all around: the background comes out
    # opaque and the subject transparent.
    green = KeyColour.of("green", WORKING_SPACE)
    rgb = np.where(disc()[..., None], np.float32(green.linear), np.float32([0.6, 0.1, 0.1])).astype(np.float32)
    result = key_element(Keyer(KeySettings(screen="green")), rgb, green)
    assert result.alpha[0, 0] == 1.0 and result.alpha[32, 32] == 0.0
    assert result.qc["verdicts"] == ["inverted_key"]  # the keyer's own test missed it (the screen it measured is the disc)
    assert any(w.startswith("keyed inverted") for w in result.qc["warnings"])
    # The right way round: no verdict.
    upright = np.where(disc()[..., None], np.float32([0.6, 0.1, 0.1]), np.float32(green.linear)).astype(np.float32)
    assert key_element(Keyer(KeySettings(screen="green")), upright, green).qc["warnings"] == []


def test_a_subject_mask_only_adds_alpha():
    # A toy-model frame ("a grey cloud", seed 3, 12 DDIM steps) and the toy matting head's mask:
    # the mask moves the clean plate, which alone lowers alpha at the cloud's rim (by up to 0.32
    # on 3 pixels before the keyer's seeds were weighted by purity, 0.024 on one pixel since).
    frame = np.load(DATA / "toy_grey_cloud_head_mask.npy")
    rgb, mask = np.ascontiguousarray(frame[..., :3]), np.ascontiguousarray(frame[..., 3])
    green = KeyColour.of("green", WORKING_SPACE)
    keyer = Keyer(KeySettings(screen="green"))
    plain = keyer.key(rgb)
    assert (keyer.key(rgb, hint=mask).alpha < plain.alpha).any()  # the keyer's own use of a mask
    guided = key_element(keyer, rgb, green, mask)
    assert np.all(guided.alpha >= plain.alpha)
    assert (guided.alpha > plain.alpha + 0.1).any()  # and it still adds


@pytest.fixture(scope="module")
def toy():
    return load_model(TOY, scheduler="ddim", device=torch.device("cpu"), dtype=torch.float32)


def test_a_head_trained_on_green_is_refused_on_blue(toy):
    head = load_head(TOY_HEAD, toy.pipe.vae)
    assert head.key == "green"  # recorded by nothing before: make-trainset's sets are green
    with pytest.raises(VfxkeyError, match="trained on green screens and the key is blue"):
        KeyedGenerator(toy, GenerationSettings(prompt="a pink disc", width=64, height=64, key="blue"), 1, head=head)
    check_head_key("green", (0.0, 1.0, 0.0))  # a green of another shade is fine
    with pytest.raises(VfxkeyError, match="#1a33e6"):
        check_head_key("green", (0.1, 0.2, 0.9))


def test_a_size_of_the_vae_factor_but_not_of_8_generates(toy):
    # The toy VAE's factor is 4; diffusers takes multiples of 8 only (44x36 crashed in its check).
    assert toy.pipe.vae_scale_factor == 4
    generator = KeyedGenerator(toy, GenerationSettings(prompt="a pink disc", width=44, height=36, steps=2), 1)
    assert generator.generated_size == (40, 48)
    frame = generator(1)
    assert frame.rgb.shape == (36, 44, 3) and frame.hint.shape == (36, 44)


def test_the_screen_is_saved_before_keying_can_refuse_the_frame(tiny_pipeline, tmp_path, monkeypatch):
    import vfxkey.generate.keycolour as keycolour

    def refuse(*args, **kwargs):
        raise ValueError("found no green screen in the image")

    monkeypatch.setattr(keycolour, "key_element", refuse)
    folder = save_diffusers_folder(tiny_pipeline, tmp_path / "tiny")
    result = CliRunner().invoke(main, [
        "generate", "--model", str(folder), "--prompt", "a red apple", "--seed", "1", "--frames", "5",
        "--size", "32x32", "--steps", "1", "-o", str(tmp_path / "el.####.exr"),
        "--save-screen", str(tmp_path / "screen.####.png")])
    assert result.exit_code != 0 and "generated frame 5 (seed 1): found no green screen" in result.output
    assert (tmp_path / "screen.0005.png").is_file()  # the frame needed to see why
    assert not (tmp_path / "el.0005.exr").exists()


@pytest.mark.parametrize("command, option, key, words", [
    ("generate", "--key", "#D02010", "--key: #d02010: the keyer keys green- or blue-dominant screens"),
    ("generate", "--key", "orange", "--key: orange: the keyer keys green- or blue-dominant screens"),
    ("edit", "--key", "#D02010", "--key: #d02010: the keyer keys green- or blue-dominant screens"),
    ("key", "--screen", "#D02010", "--screen: #D02010: the keyer keys green- or blue-dominant screens"),
])
def test_a_red_dominant_key_is_refused_by_name_before_any_model_loads(tmp_path, command, option, key, words):
    """The keyer keys green- and blue-dominant screens only; a red-dominant key failed after the
    model had generated or edited each frame, with "screen channel must be 1 (green) or 2 (blue),
    got 0". The model path does not exist: the key is refused before anything loads it."""
    plate = tmp_path / "plate.png"
    cv2_write = __import__("cv2").imwrite
    cv2_write(str(plate), np.zeros((16, 16, 3), np.uint8))
    arguments = {
        "generate": ["generate", "--model", str(tmp_path / "no-model"), "--prompt", "a red apple", "--size", "32x32", "--seed", "1", "--frames", "1"],
        "edit": ["edit", str(plate), "--model", str(tmp_path / "no-model"), "--ip-adapter", str(TOY_HEAD),
                 "--prompt", "a red apple"],
        "key": ["key", str(plate)],
    }[command]
    result = CliRunner().invoke(main, [*arguments, option, key, "-o", str(tmp_path / "out.####.exr")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.output, result.output
    assert "channel must be" not in result.output
