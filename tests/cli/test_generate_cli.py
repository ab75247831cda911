"""``vfxkey generate`` end to end on the tiny model: chunks, restarts, metadata, refusals."""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import diffusers
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generate"))
from tiny_models import build_deep_pipeline, build_pipeline, save_diffusers_folder  # noqa: E402

from vfxkey.cli import main  # noqa: E402
from vfxkey.generate.model import model_hash  # noqa: E402

PROMPT = "a red apple"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_diffusers_folder(build_pipeline(), tmp_path_factory.mktemp("model") / "tiny")


def args(model, output, frames, *extra):
    return ["generate", "--model", str(model), "--prompt", PROMPT, "--negative-prompt", "blurry", "--seed", "7",
            "--frames", frames, "--size", "64x64", "--steps", "2", "--temporal", "drift", "--drift-period", "3",
            "-o", str(output), *extra]


def read_exr(path):
    image = oiio.ImageInput.open(str(path))
    pixels = image.read_image(format="float")
    spec = image.spec()
    attributes = {a.name: a.value for a in spec.extra_attribs}
    image.close()
    return pixels, attributes


@pytest.fixture(scope="module")
def chunk_run(model_dir, tmp_path_factory):
    """Frames 1-4 in this process, and frame 3 alone in a fresh process."""
    out = tmp_path_factory.mktemp("chunk")
    result = CliRunner().invoke(main, args(model_dir, out / "el.####.exr", "1-4", "--attention-hint",
                                           "--save-screen", str(out / "screen.####.png")))
    assert result.exit_code == 0, result.output
    alone = tmp_path_factory.mktemp("alone")
    process = run_fresh(args(model_dir, alone / "el.####.exr", "3-3", "--attention-hint"))
    assert process.returncode == 0, process.stderr
    # Off a terminal only vfxkey's own plain lines: no library's notices (diffusers' "modules
    # ... should be kept in float32: []" on every run, issue 23).
    assert all(line.startswith("vfxkey generate: ") for line in process.stderr.splitlines()), process.stderr
    return out, alone


def run_fresh(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    """``vfxkey *argv`` in a fresh process (its pools bounded there, not in this one)."""
    return subprocess.run([sys.executable, "-c", "from vfxkey.cli import main; main()", *argv], capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, timeout=600)


def test_frame_three_alone_in_another_process_equals_frame_three_of_a_chunk(chunk_run):
    out, alone = chunk_run
    assert sorted(p.name for p in out.glob("el.*.exr")) == [f"el.000{i}.exr" for i in range(1, 5)]
    assert [p.name for p in alone.glob("*.exr")] == ["el.0003.exr"]
    chunk_pixels, chunk_attributes = read_exr(out / "el.0003.exr")
    alone_pixels, alone_attributes = read_exr(alone / "el.0003.exr")
    assert chunk_pixels.shape == (64, 64, 4)
    np.testing.assert_array_equal(chunk_pixels, alone_pixels)
    assert chunk_attributes["vfxkey:settings_hash"] == alone_attributes["vfxkey:settings_hash"]   # any process
    # Premultiplied: no colour where alpha is 0; the attention hint gives some of each.
    alpha = chunk_pixels[..., 3]
    assert np.all(chunk_pixels[alpha == 0][:, :3] == 0)
    assert (alpha == 0).any() and (alpha > 0.5).any()
    # Drift noise: neighbouring frames differ.
    assert not np.array_equal(read_exr(out / "el.0002.exr")[0], chunk_pixels)
    assert (out / "screen.0003.png").is_file()


def test_metadata_records_prompt_seed_settings_model_hash_and_gsg(chunk_run, model_dir):
    _, attributes = read_exr(chunk_run[0] / "el.0003.exr")
    assert attributes["vfxkey:prompt"] == PROMPT
    assert attributes["vfxkey:negative_prompt"] == "blurry"
    assert attributes["vfxkey:seed"] == 7
    assert attributes["vfxkey:frame"] == 3
    assert attributes["vfxkey:temporal"] == "drift" and attributes["vfxkey:steps"] == 2
    assert attributes["vfxkey:sampler_noise"] == "shot"  # drift too: one sampler noise stream for the shot
    assert attributes["vfxkey:shift"] == "0.1"  # the SD1.5 default as written, not float32's 0.10000000149011612
    assert attributes["vfxkey:model_hash"] == model_hash(model_dir)
    assert attributes["vfxkey:alpha_source"] == "attention"
    assert attributes["vfxkey:gsg"] >= 0.0
    # where and how it ran: reproducible on the same kind of device, precision and versions
    assert attributes["vfxkey:device"] == f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
    assert attributes["vfxkey:precision"] == "fp32"
    assert attributes["vfxkey:torch"] == torch.__version__
    assert attributes["vfxkey:diffusers"] == diffusers.__version__
    assert attributes["vfxkey:scheduler"] == "ddim" and attributes["vfxkey:scheduler_class"] == "DDIMScheduler"
    assert len(attributes["vfxkey:settings_hash"]) == 16


def test_a_chunk_with_other_settings_is_refused_unless_mixing_is_allowed(chunk_run, model_dir, tmp_path):
    out = tmp_path / "shot"
    shutil.copytree(chunk_run[0], out)
    written = read_exr(out / "el.0001.exr")[1]["vfxkey:settings_hash"]
    refused = CliRunner().invoke(main, args(model_dir, out / "el.####.exr", "5-5", "--attention-hint",
                                            "--precision", "bf16"))
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "el.0001.exr (frame 1) and 3 other frame(s)" in refused.output and "precision fp32 -> bf16" in refused.output
    assert not (out / "el.0005.exr").exists()
    mixed = CliRunner().invoke(main, args(model_dir, out / "el.####.exr", "5-5", "--attention-hint",
                                          "--precision", "bf16", "--allow-mixed-settings"))
    assert mixed.exit_code == 0, mixed.output
    attributes = read_exr(out / "el.0005.exr")[1]
    assert attributes["vfxkey:precision"] == "bf16" and attributes["vfxkey:settings_hash"] != written
    again = CliRunner().invoke(main, args(model_dir, out / "el.####.exr", "6-6", "--attention-hint"))  # frame 5 differs
    assert again.exit_code == 2 and "el.0005.exr (frame 5) and 0 other frame(s)" in again.output


def test_the_deep_model_writes_1280x720_and_1920x1080_elements_keyed_with_the_attention_hint(tmp_path):
    model = save_diffusers_folder(build_deep_pipeline(), tmp_path / "deep")
    for width, height in ((1280, 720), (1920, 1080)):
        output = tmp_path / f"el{width}.####.exr"
        result = CliRunner().invoke(main, ["generate", "--model", str(model), "--prompt", PROMPT, "--seed", "1",
                                           "--frames", "1001", "--size", f"{width}x{height}", "--steps", "2",
                                           "--attention-hint", "-o", str(output)])
        assert result.exit_code == 0, result.output
        image = oiio.ImageInput.open(str(tmp_path / f"el{width}.1001.exr"))    # read by OIIO, not vfxkey
        spec, pixels = image.spec(), image.read_image(format="float")
        image.close()
        assert (spec.width, spec.height, spec.nchannels) == (width, height, 4)
        assert spec.getattribute("vfxkey:alpha_source") == "attention"
        alpha = pixels[..., 3]
        assert np.isfinite(pixels).all() and (alpha == 0).any() and (alpha > 0.5).any()


def test_up_to_date_frames_are_skipped_without_loading_the_model_unless_overwrite(chunk_run, model_dir, tmp_path):
    out, _ = chunk_run
    before = (out / "el.0002.exr").stat().st_mtime_ns
    # The same weight files (same hash) in a model whose UNet cannot be built: up-to-date
    # frames never load it, a frame to redo does.
    unloadable = tmp_path / "copy" / model_dir.name
    shutil.copytree(model_dir, unloadable)
    (unloadable / "unet" / "config.json").write_text("{not json")
    result = CliRunner().invoke(main, args(unloadable, out / "el.####.exr", "1-4", "--attention-hint"))
    assert result.exit_code == 0 and "nothing to do" in result.output, result.output
    assert (out / "el.0002.exr").stat().st_mtime_ns == before
    result = CliRunner().invoke(main, args(unloadable, out / "el.####.exr", "2-2", "--attention-hint", "--overwrite"))
    assert result.exit_code == 2 and "could not be loaded" in result.output, result.output
    pixels = read_exr(out / "el.0002.exr")[0]
    result = CliRunner().invoke(main, args(model_dir, out / "el.####.exr", "2-2", "--attention-hint", "--overwrite"))
    assert result.exit_code == 0, result.output
    assert (out / "el.0002.exr").stat().st_mtime_ns != before
    assert np.array_equal(read_exr(out / "el.0002.exr")[0], pixels)


def test_threads_bound_torch_and_are_recorded_so_a_chunk_on_other_threads_is_told_apart(chunk_run, model_dir, tmp_path):
    """A farm task's --threads (or CUE_THREADS) bounds torch's pool: the device records it,
    so frames made on another thread count (last bits differ) are not mixed in silently."""
    out = tmp_path / "shot"
    shutil.copytree(chunk_run[0], out)
    written = read_exr(out / "el.0003.exr")
    runs = {}
    for name, option, env in (("option", ["--threads", "1"], {}), ("farm variable", [], {"CUE_THREADS": "1"})):
        folder = tmp_path / name.replace(" ", "_")
        process = run_fresh(args(model_dir, folder / "el.####.exr", "3-3", "--attention-hint", *option), **env)
        assert process.returncode == 0, process.stderr
        runs[name] = read_exr(folder / "el.0003.exr")
    for pixels, attributes in runs.values():
        assert attributes["vfxkey:device"] == f"cpu ({platform.machine()}, 1 threads)"
        np.testing.assert_allclose(pixels, written[0], atol=1e-3)  # the same frame but for rounding
    assert runs["option"][1]["vfxkey:settings_hash"] == runs["farm variable"][1]["vfxkey:settings_hash"]
    if torch.get_num_threads() != 1:
        assert runs["option"][1]["vfxkey:settings_hash"] != written[1]["vfxkey:settings_hash"]
        refused = run_fresh(args(model_dir, out / "el.####.exr", "5-5", "--attention-hint", "--threads", "1"))
        assert refused.returncode == 2 and "device cpu" in refused.stderr and "Traceback" not in refused.stderr
        assert not (out / "el.0005.exr").exists()


def bad_models(root: Path, model_dir: Path) -> dict[str, tuple[Path, str]]:
    empty = root / "empty"
    empty.mkdir()
    pickled = root / "model.ckpt"
    torch.save({"state_dict": {}}, pickled)
    lora = root / "lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(2, 2)}, str(lora))
    return {
        "missing": (root / "nowhere", "does not exist"),
        "folder without a model": (empty, "has no model_index.json"),
        "pickled without opt-in": (pickled, "allow pickles (allow_pickle)"),
        "safetensors that is no SD checkpoint": (lora, "not a Stable Diffusion checkpoint"),
    }


def test_every_bad_model_exits_2_with_one_clear_line(tmp_path, model_dir):
    for case, (path, message) in bad_models(tmp_path, model_dir).items():
        result = CliRunner().invoke(main, args(path, tmp_path / "out.####.exr", "1-1"))
        assert result.exit_code == 2, case
        assert message in result.output and str(path) in result.output, case
        assert "Traceback" not in result.output, case


@pytest.mark.parametrize("option, value, message", [
    ("--key", "chartreuse", "--key"),
    ("--fg-region", "0.5,0.5", "--fg-region"),
    ("--size", "64by64", "--size"),
    ("--shift", "0.7", "--shift"),
    ("--key-direction", "sd15", "--key-direction"),
    ("-o", "element.png", "EXR sequence pattern"),
    ("--working-space", "Linear Rec.2020 nonsense", "Linear Rec.2020 nonsense"),
])
def test_bad_settings_exit_2_before_loading_the_model(tmp_path, option, value, message):
    command = args(tmp_path / "no-model-needed", tmp_path / "out.####.exr", "1-2") + [option, value]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2 and message in result.output


def test_matte_head_gives_the_coarse_alpha_and_a_head_for_another_vae_is_refused(model_dir, tmp_path):
    from tiny_models import build_vae

    from vfxkey.generate.head import MattingHead, save_head

    pipe_vae = build_pipeline().vae
    torch.manual_seed(0)
    head = MattingHead(in_channels=pipe_vae.config.block_out_channels[0])
    save_head(tmp_path / "head.safetensors", head, pipe_vae)
    result = CliRunner().invoke(main, args(model_dir, tmp_path / "el.####.exr", "1-1",
                                           "--matte-head", str(tmp_path / "head.safetensors")))
    assert result.exit_code == 0, result.output
    attributes = read_exr(tmp_path / "el.0001.exr")[1]
    assert attributes["vfxkey:alpha_source"] == "matte-head:head.safetensors"
    assert attributes["vfxkey:matte_head_hash"] == model_hash(tmp_path / "head.safetensors")
    # The head retrained under the same name: the next chunk would not match, and is refused.
    torch.nn.init.constant_(head.conv2.bias, 0.5)
    save_head(tmp_path / "head.safetensors", head, pipe_vae)
    retrained = CliRunner().invoke(main, args(model_dir, tmp_path / "el.####.exr", "2-2",
                                              "--matte-head", str(tmp_path / "head.safetensors")))
    assert retrained.exit_code == 2 and "matte_head_hash" in retrained.output and "Traceback" not in retrained.output
    torch.manual_seed(1)
    save_head(tmp_path / "other.safetensors", head, build_vae())  # a VAE with other weights
    result = CliRunner().invoke(main, args(model_dir, tmp_path / "o.####.exr", "1-1",
                                           "--matte-head", str(tmp_path / "other.safetensors")))
    assert result.exit_code == 2 and "other.safetensors" in result.output
    both = CliRunner().invoke(main, args(model_dir, tmp_path / "b.####.exr", "1-1", "--attention-hint",
                                         "--matte-head", str(tmp_path / "head.safetensors")))
    assert both.exit_code == 2 and "--attention-hint" in both.output and "Traceback" not in both.output


def test_without_a_head_the_keyer_works_alone_unless_the_attention_hint_is_asked_for(model_dir, tmp_path):
    # The attention hint as the default coarse mask made keys worse (toy model: SAD 0.614 with it,
    # 0.173 GreenPost alone; bench/generate_quality.md), so it is opt-in.
    from vfxkey.generate.model import load_model
    from vfxkey.generate.noise import ForegroundPath
    from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
    from vfxkey.matte.greenpost import Keyer, KeySettings

    result = CliRunner().invoke(main, args(model_dir, tmp_path / "el.####.exr", "1-1"))
    assert result.exit_code == 0, result.output
    pixels, attributes = read_exr(tmp_path / "el.0001.exr")
    assert attributes["vfxkey:alpha_source"] == "key" and attributes["vfxkey:key_direction"] == "vae"
    settings = GenerationSettings(prompt=PROMPT, negative_prompt="blurry", width=64, height=64, steps=2,
                                  temporal="drift", drift_period=3, region=ForegroundPath.parse("0.5,0.5,0.25,0.25"))
    frame = KeyedGenerator(load_model(model_dir), settings, seed=7)(1)
    alone = Keyer(KeySettings(screen="green")).key(frame.rgb).alpha
    hinted = Keyer(KeySettings(screen="green")).key(frame.rgb, hint=frame.hint).alpha
    assert np.abs(alone - hinted).max() > 0.1     # the hint would change this frame's alpha
    np.testing.assert_allclose(pixels[..., 3], alone, atol=2e-3)   # half-float EXR


def test_a_generated_frame_keeps_the_keyers_qc_warnings_in_its_record(model_dir, tmp_path):
    """The keyer's warnings (a frame keyed blank...) reach the frame's QC record, as a keyed frame's do."""
    from vfxkey.shot.run import render
    from vfxkey.shot.spec import load_spec

    (tmp_path / "shot.toml").write_text(f'''[shot]
name = "g"
frames = "1-1"
seed = 7
[element]
mode = "generate"
model = "{model_dir}"
prompt = "{PROMPT}"
size = "64x64"
steps = 2
[outputs]
element = "out/el.####.exr"
''')
    (done,) = render(load_spec(tmp_path / "shot.toml")).frames
    assert done.record["warnings"] == []  # the tiny model's frame keys cleanly: no warning to keep


def test_running_out_of_memory_keying_a_generated_frame_is_one_line_naming_it(model_dir, tmp_path, monkeypatch):
    from vfxkey.matte import greenpost

    def no_memory(*args, **kwargs):  # the keyer's bilateral filter: a frame-sized allocation
        raise MemoryError()

    monkeypatch.setattr(greenpost, "_denoise", no_memory)
    result = CliRunner().invoke(main, args(model_dir, tmp_path / "out" / "el.####.exr", "1-2"))
    assert result.exit_code == 4 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: generated (seed 7) (frame 1): out of memory keying a 64x64 frame: give the task more memory")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.exr*"))
