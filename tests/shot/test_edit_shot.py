"""``[element] mode = "edit"``: `vfxkey render` edits as `vfxkey edit` does, and its settings are checked by name."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generate"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from shots import read_exr  # noqa: E402
from test_edit_cli import write_exr  # noqa: E402  (half EXR written by OIIO directly)
from tiny_ip_adapter import build_adapter, build_edit_pipeline, save_adapter, save_image_encoder  # noqa: E402
from tiny_models import save_diffusers_folder  # noqa: E402

from vfxkey.cli import main  # noqa: E402
from vfxkey.errors import VfxkeyError  # noqa: E402
from vfxkey.generate.model import model_hash  # noqa: E402
from vfxkey.generate.run_options import VAE_TILE_PX  # noqa: E402
from vfxkey.shot.spec import load_spec  # noqa: E402

SIZE = 32
EDIT = """[shot]
name = "edit010"
frames = "1-2"
seed = 5

[element]
mode = "edit"
input = "plate.####.exr"
model = "tiny"
ip_adapter = "ip/ip-adapter_tiny.safetensors"
prompt = "a green apple"
source_prompt = "a red apple"
steps = 2
inversion_iters = 1
ip_scale = 0.5
edit_ip_scale = 0.3
mask = "mask.exr"
feather = 4

[outputs]
element = "render/ed.####.exr"
"""


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    """A shot folder: a tiny model, an adapter with its encoder, a two-frame plate, a mask and the spec."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny latents: one thread is faster on a busy machine
    root = tmp_path_factory.mktemp("edit_shot")
    pipe = build_edit_pipeline()
    save_diffusers_folder(pipe, root / "tiny")
    (root / "ip").mkdir()
    save_adapter(build_adapter(pipe.unet), root / "ip" / "ip-adapter_tiny.safetensors")
    save_image_encoder(root / "ip" / "image_encoder")
    rng = np.random.default_rng(1)
    for frame in (1, 2):
        write_exr(root / f"plate.{frame:04d}.exr", rng.random((SIZE, SIZE, 3), dtype=np.float32))
    mask = np.zeros((SIZE, SIZE, 1), np.float32)
    mask[4:28, 8:24] = 1.0
    write_exr(root / "mask.exr", mask)
    (root / "shot.toml").write_text(EDIT)
    yield root
    torch.set_num_threads(threads)


def test_render_of_an_edit_shot_equals_vfxkey_edit_with_the_same_options(shot, monkeypatch):
    monkeypatch.chdir(shot)  # `vfxkey edit` records paths relative to where it runs, render to the spec's folder
    rendered = CliRunner().invoke(main, ["render", str(shot / "shot.toml")])
    assert rendered.exit_code == 0, rendered.output
    edited = CliRunner().invoke(main, [
        "edit", str(shot / "plate.####.exr"), "--model", str(shot / "tiny"),
        "--ip-adapter", str(shot / "ip" / "ip-adapter_tiny.safetensors"), "--prompt", "a green apple",
        "--source-prompt", "a red apple", "--steps", "2", "--inversion-iters", "1", "--ip-scale", "0.5",
        "--edit-ip-scale", "0.3", "--mask", str(shot / "mask.exr"), "--feather", "4", "--seed", "5",
        "-o", str(shot / "cli" / "ed.####.exr")])
    assert edited.exit_code == 0, edited.output
    for frame in (1, 2):
        ours, attributes = read_exr(shot / "render" / f"ed.{frame:04d}.exr")
        theirs, their_attributes = read_exr(shot / "cli" / f"ed.{frame:04d}.exr")
        written_at = ("DateTime",)  # when each file was written
        assert ({k: v for k, v in attributes.items() if k not in written_at}
                == {k: v for k, v in their_attributes.items() if k not in written_at})  # recorded the same way
        source, _ = read_exr(shot / f"plate.{frame:04d}.exr")
        np.testing.assert_array_equal(ours, theirs)
        assert not np.array_equal(ours[8:24, 12:20, :3], source[8:24, 12:20]), "the masked region was edited"
        np.testing.assert_array_equal(ours[:, :4, :3], source[:, :4])  # outside the mask: the source
    assert attributes["vfxkey:command"] == "edit" and attributes["vfxkey:edit_ip_scale"] == pytest.approx(0.3)
    assert attributes["vfxkey:model_hash"] == model_hash(shot / "tiny")
    assert attributes["vfxkey:ip_adapter_hash"] == model_hash(shot / "ip" / "ip-adapter_tiny.safetensors")
    assert "vfxkey:settings_hash" in attributes


def test_a_changed_edit_setting_redoes_the_frames_and_an_unchanged_one_skips_them(shot):
    frame = shot / "render" / "ed.0001.exr"
    assert CliRunner().invoke(main, ["render", str(shot / "shot.toml")]).exit_code == 0
    first, written = read_exr(frame)[1]["vfxkey:settings_hash"], frame.stat().st_mtime_ns
    assert CliRunner().invoke(main, ["render", str(shot / "shot.toml")]).exit_code == 0
    assert frame.stat().st_mtime_ns == written  # up to date: skipped
    spec = shot / "changed.toml"
    spec.write_text(EDIT.replace("edit_ip_scale = 0.3", "edit_ip_scale = 0.2"))
    result = CliRunner().invoke(main, ["render", str(spec)])
    assert result.exit_code == 0, result.output
    assert read_exr(frame)[1]["vfxkey:settings_hash"] != first


def test_an_edit_shots_run_options_are_recorded_and_change_its_settings(shot):
    """The edit element's precision, LoRA scale, memory savers and determinism (the options
    `vfxkey edit` passes through its spec) reach the model's record and the settings hash."""
    frame = shot / "render" / "ed.0001.exr"
    assert CliRunner().invoke(main, ["render", str(shot / "shot.toml")]).exit_code == 0
    first = read_exr(frame)[1]
    spec = shot / "sliced.toml"
    spec.write_text(EDIT.replace("steps = 2", 'steps = 2\nvae_tiling = true\nprecision = "fp32"'))
    result = CliRunner().invoke(main, ["render", str(spec)])
    assert result.exit_code == 0, result.output
    attributes = read_exr(frame)[1]
    assert (first["vfxkey:vae_tiling"], attributes["vfxkey:vae_tiling"]) == (0, VAE_TILE_PX)
    assert attributes["vfxkey:precision"] == "fp32"
    assert attributes["vfxkey:settings_hash"] != first["vfxkey:settings_hash"]


def test_holding_a_keyed_inputs_background_is_a_recorded_setting_of_the_shot_and_the_command(shot, monkeypatch):
    """``hold_background`` (on by default) reaches the metadata and the settings hash, from the
    spec and from `vfxkey edit --no-hold-background` alike."""
    assert CliRunner().invoke(main, ["render", str(shot / "shot.toml")]).exit_code == 0
    held = read_exr(shot / "render" / "ed.0001.exr")[1]
    spec = shot / "free.toml"
    spec.write_text(EDIT.replace("steps = 2", "steps = 2\nhold_background = false").replace("render/ed.", "render/free."))
    assert CliRunner().invoke(main, ["render", str(spec)]).exit_code == 0
    free = read_exr(shot / "render" / "free.0001.exr")[1]
    assert (held["vfxkey:hold_background"], free["vfxkey:hold_background"]) == (1, 0)
    assert held["vfxkey:settings_hash"] != free["vfxkey:settings_hash"]
    monkeypatch.chdir(shot)
    edited = CliRunner().invoke(main, [
        "edit", str(shot / "plate.####.exr"), "--model", str(shot / "tiny"),
        "--ip-adapter", str(shot / "ip" / "ip-adapter_tiny.safetensors"), "--prompt", "a green apple",
        "--steps", "1", "--inversion-iters", "0", "--frames", "1", "--no-hold-background",
        "-o", str(shot / "cli" / "free.####.exr")])
    assert edited.exit_code == 0, edited.output
    assert read_exr(shot / "cli" / "free.0001.exr")[1]["vfxkey:hold_background"] == 0


@pytest.mark.parametrize("old, new, words", [
    ('ip_adapter = "ip/ip-adapter_tiny.safetensors"\n', "", "[element] ip_adapter: required"),
    ('ip_adapter = "ip/ip-adapter_tiny.safetensors"', 'ip_adapter = "ip/nowhere.safetensors"',
     "[element] ip_adapter: "),
    ("ip_scale = 0.5", "ip_scale = -0.5", "[element] ip_scale: must be >= 0.0"),
    ("edit_ip_scale = 0.3", 'edit_ip_scale = "lots"', "[element] edit_ip_scale: must be"),
    ("steps = 2", "steps = 2\nstrength = 0.2", "[element] strength: 0.2: must be in (0, 1]"),
    ("steps = 2", "steps = 2\nguidance = 0.5", "[element] guidance: must be >= 1.0"),
    ("steps = 2", 'steps = 2\nkey = "chartreuse"', "[element] key: 'chartreuse'"),
    ('prompt = "a green apple"\n', "", "[element] prompt: required"),
    ("steps = 2", 'steps = 2\nscreen = "green"', "[element] screen: unknown key"),
    ("steps = 2", "steps = 2\ndespill = 2.0", "[element] despill: 2.0: must be within 0..1"),
    ("steps = 2", 'steps = 2\nprecision = "fp8"', "[element] precision: 'fp8' is not one of fp32, fp16, bf16"),
    ("steps = 2", "steps = 2\nlora_scale = -1.0", "[element] lora_scale: must be >= 0.0"),
    ("steps = 2", 'steps = 2\noffload = "yes"', "[element] offload: "),
    ("steps = 2", 'steps = 2\nhold_background = "no"', "[element] hold_background: "),
])
def test_edit_settings_are_checked_by_name(shot, old, new, words):
    bad = shot / "bad.toml"
    assert old in EDIT
    bad.write_text(EDIT.replace(old, new))
    with pytest.raises(VfxkeyError) as error:
        load_spec(bad)
    message = str(error.value)
    assert message.startswith(str(bad)) and words in message and "\n" not in message, message


def test_a_chunk_with_other_edit_settings_is_refused_unless_render_allows_mixing(shot, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("tiny", "ip", "plate.0001.exr", "plate.0002.exr", "mask.exr"):
        (folder / name).symlink_to(shot / name)
    (folder / "shot.toml").write_text(EDIT)
    assert CliRunner().invoke(main, ["render", str(folder / "shot.toml"), "--frames", "1"]).exit_code == 0
    (folder / "shot.toml").write_text(EDIT.replace("edit_ip_scale = 0.3", "edit_ip_scale = 0.2"))
    refused = CliRunner().invoke(main, ["render", str(folder / "shot.toml"), "--frames", "2"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "ed.0001.exr (frame 1)" in refused.output and "--allow-mixed-settings" in refused.output
    assert not (folder / "render" / "ed.0002.exr").exists()
    mixed = CliRunner().invoke(main, ["render", str(folder / "shot.toml"), "--frames", "2", "--allow-mixed-settings"])
    assert mixed.exit_code == 0, mixed.output
    assert (folder / "render" / "ed.0002.exr").is_file()


def test_an_edit_shot_with_attention_slicing_keeps_the_ip_adapter(shot):
    """Attention slicing with an IP-Adapter (issue 24: a TypeError from diffusers' adapter loader,
    which rebuilds a SlicedAttnProcessor without its slice size): self-attention is sliced, the
    cross-attention keeps the adapter's processor, and the pixels are the unsliced edit's."""
    assert CliRunner().invoke(main, ["render", str(shot / "shot.toml")]).exit_code == 0
    plain = read_exr(shot / "render" / "ed.0001.exr")
    spec = shot / "attention_sliced.toml"
    spec.write_text(EDIT.replace("steps = 2", "steps = 2\nattention_slicing = true")
                    .replace("render/ed.", "render/sliced."))
    result = CliRunner().invoke(main, ["render", str(spec)])
    assert result.exit_code == 0, result.output
    sliced = read_exr(shot / "render" / "sliced.0001.exr")
    assert (plain[1]["vfxkey:attention_slicing"], sliced[1]["vfxkey:attention_slicing"]) == (0, 1)
    np.testing.assert_allclose(sliced[0], plain[0], atol=2e-3)  # half floats; same attention, sliced


def test_attaching_an_ip_adapter_to_a_sliced_unet_slices_only_its_self_attention():
    from diffusers.models.attention_processor import SlicedAttnProcessor
    from tiny_ip_adapter import build_image_encoder, build_image_processor

    from vfxkey.generate.adapter import attach_ip_adapter

    pipe = build_edit_pipeline()
    pipe.enable_attention_slicing()
    attach_ip_adapter(pipe, build_adapter(pipe.unet), build_image_encoder(), build_image_processor())
    processors = pipe.unet.attn_processors
    assert all(isinstance(p, SlicedAttnProcessor) for n, p in processors.items() if n.endswith("attn1.processor"))
    assert all(hasattr(p, "to_k_ip") for n, p in processors.items() if n.endswith("attn2.processor"))


def test_an_edited_keyed_inputs_qc_warnings_reach_the_element(shot, tmp_path):
    """A keyed input's QC (here the hold's: no alpha of 0.5 or more to edit) is recorded in the
    edited element's metadata and said as a warning, as a generated element's keyer QC is."""
    folder = tmp_path / "faint"
    folder.mkdir()
    for name in ("tiny", "ip"):
        (folder / name).symlink_to(shot / name)
    rgba = np.zeros((SIZE, SIZE, 4), np.float32)
    rgba[8:24, 8:24] = [0.1, 0.05, 0.02, 0.3]  # premultiplied, nowhere more than 0.3 opaque
    write_exr(folder / "el.0001.exr", rgba)
    (folder / "shot.toml").write_text(EDIT.replace('frames = "1-2"', 'frames = "1"')
                                      .replace("plate.####.exr", "el.####.exr").replace('mask = "mask.exr"\n', ""))
    result = CliRunner().invoke(main, ["render", str(folder / "shot.toml")])
    assert result.exit_code == 0, result.output
    assert "el.0001.exr (frame 1): edited: no alpha of 0.5 or more" in result.output
    pixels, attributes = read_exr(folder / "render" / "ed.0001.exr")
    assert attributes["vfxkey:warnings"].startswith("no alpha of 0.5 or more")
    assert attributes["vfxkey:verdicts"] == "blank_key"
    np.testing.assert_allclose(pixels, rgba, atol=1e-3)  # the input, as half floats
