"""``vfxkey edit`` end to end on tiny models: masks, keyed elements, chunks, restarts, metadata, refusals."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generate"))
from tiny_ip_adapter import build_adapter, build_edit_pipeline, save_adapter, save_image_encoder  # noqa: E402
from tiny_models import build_pipeline, save_diffusers_folder  # noqa: E402

from vfxkey.cli import main  # noqa: E402
from vfxkey.generate.model import model_hash  # noqa: E402

SIZE = 32


def write_exr(path: Path, pixels: np.ndarray) -> None:
    """Write half-float EXR with OIIO directly (not vfxkey's writer)."""
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "half")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels) and out.close()


def read_exr(path: Path) -> tuple[np.ndarray, dict]:
    image = oiio.ImageInput.open(str(path))
    pixels = image.read_image(format="float")
    attributes = {a.name: a.value for a in image.spec().extra_attribs}
    image.close()
    return pixels, attributes


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny model folder, an adapter with its encoder beside it, a plate sequence, an element and a mask."""
    root = tmp_path_factory.mktemp("edit")
    pipe = build_edit_pipeline()
    model = save_diffusers_folder(pipe, root / "tiny")
    (root / "ip").mkdir()
    adapter = save_adapter(build_adapter(pipe.unet), root / "ip" / "ip-adapter_tiny.safetensors")
    save_image_encoder(root / "ip" / "image_encoder")
    rng = np.random.default_rng(0)
    for frame in (1, 2, 3):
        write_exr(root / f"plate.{frame:04d}.exr", rng.random((SIZE, SIZE, 3), dtype=np.float32))
    y, x = np.mgrid[:SIZE, :SIZE]
    alpha = np.clip(9.0 - np.hypot(y - 16, x - 16), 0.0, 1.0).astype(np.float32)
    write_exr(root / "el.0001.exr", np.dstack([np.array([0.8, 0.3, 0.05], np.float32) * alpha[..., None], alpha]))
    mask = np.zeros((SIZE, SIZE, 1), np.float32)
    mask[8:24, 4:20] = 1.0
    write_exr(root / "mask.exr", mask)
    return root, model, adapter


def args(files, output, frames, *extra, source="plate.####.exr"):
    root, model, adapter = files
    return ["edit", str(root / source), "--model", str(model), "--ip-adapter", str(adapter),
            "--prompt", "a green apple", "--source-prompt", "a red apple", "--steps", "2", "--inversion-iters", "1",
            "--frames", frames, "--seed", "5", "-o", str(output), "--threads", "1", *extra]


@pytest.fixture(scope="module")
def chunk_run(files, tmp_path_factory):
    """Plate frames 1-3 masked in one fresh process, and frame 2 alone in another.

    Every run here is given one thread (tiny latents: faster, far faster on a busy machine),
    so the runs in this process and the fresh ones agree bit for bit: torch's CPU kernels
    can round differently with another thread count."""
    root = files[0]
    runs = []
    for name, frames in (("chunk", "1-3"), ("alone", "2")):
        out = tmp_path_factory.mktemp(name)
        process = subprocess.run([sys.executable, "-c", "from vfxkey.cli import main; main()",
                                  *args(files, out / "ed.####.exr", frames, "--mask", str(root / "mask.exr"))],
                                 capture_output=True, text=True, timeout=600,
                                 env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert process.returncode == 0, process.stderr
        runs.append(out)
    return tuple(runs)


def test_frame_two_alone_in_another_process_equals_frame_two_of_a_chunk(chunk_run):
    out, alone = chunk_run
    assert sorted(p.name for p in out.glob("*.exr")) == ["ed.0001.exr", "ed.0002.exr", "ed.0003.exr"]
    assert [p.name for p in alone.glob("*.exr")] == ["ed.0002.exr"]
    np.testing.assert_array_equal(read_exr(out / "ed.0002.exr")[0], read_exr(alone / "ed.0002.exr")[0])


def test_outside_the_mask_the_output_is_the_source_bit_for_bit(chunk_run, files):
    root = files[0]
    for frame in (1, 2, 3):
        edited, _ = read_exr(chunk_run[0] / f"ed.{frame:04d}.exr")
        source, _ = read_exr(root / f"plate.{frame:04d}.exr")
        assert edited.shape == (SIZE, SIZE, 4)
        outside = np.ones((SIZE, SIZE), bool)
        outside[8:24, 4:20] = False
        np.testing.assert_array_equal(edited[outside][:, :3], source[outside])
        assert np.all(edited[..., 3] == 1.0)
        assert not np.array_equal(edited[12:20, 8:16, :3], source[12:20, 8:16])


def test_metadata_records_the_edit_the_source_and_the_weights(chunk_run, files):
    root, model, adapter = files
    _, attributes = read_exr(chunk_run[0] / "ed.0002.exr")
    assert attributes["vfxkey:command"] == "edit"
    assert attributes["vfxkey:prompt"] == "a green apple" and attributes["vfxkey:source_prompt"] == "a red apple"
    assert attributes["vfxkey:seed"] == 5 and attributes["vfxkey:frame"] == 2
    assert attributes["vfxkey:source"] == str(root / "plate.0002.exr")
    assert attributes["vfxkey:ip_scale"] == pytest.approx(0.4) and attributes["vfxkey:edit_ip_scale"] == pytest.approx(0.4)
    assert attributes["vfxkey:steps"] == 2 and attributes["vfxkey:inversion_iterations"] == 1
    assert attributes["vfxkey:strength"] == pytest.approx(1.0) and attributes["vfxkey:mask"] == str(root / "mask.exr")
    assert attributes["vfxkey:model_hash"] == model_hash(model)
    assert attributes["vfxkey:device"].startswith("cpu") and attributes["vfxkey:precision"] == "fp32"
    assert attributes["vfxkey:ip_adapter_hash"] == model_hash(adapter)
    assert attributes["vfxkey:image_encoder_hash"] == model_hash(adapter.parent / "image_encoder")


def test_up_to_date_frames_are_skipped_without_loading_the_model_unless_overwrite(chunk_run, files, tmp_path):
    out = chunk_run[0]
    before = (out / "ed.0002.exr").stat().st_mtime_ns
    pixels = read_exr(out / "ed.0002.exr")[0]
    # The same weight files (same hash) in a model whose UNet cannot be built: up to date
    # frames never load it, a frame to redo does.
    unloadable = tmp_path / "copy" / "tiny"
    shutil.copytree(files[1], unloadable)
    (unloadable / "unet" / "config.json").write_text("{not json")
    up_to_date = args(files, out / "ed.####.exr", "1-3", "--mask", str(files[0] / "mask.exr"))
    up_to_date[up_to_date.index("--model") + 1] = str(unloadable)
    result = CliRunner().invoke(main, up_to_date)
    assert result.exit_code == 0 and "nothing to do" in result.output, result.output
    assert (out / "ed.0002.exr").stat().st_mtime_ns == before
    result = CliRunner().invoke(main, up_to_date + ["--overwrite"])
    assert result.exit_code == 2 and "could not be loaded" in result.output, result.output
    assert (out / "ed.0002.exr").stat().st_mtime_ns == before
    result = CliRunner().invoke(main, args(files, out / "ed.####.exr", "2", "--mask", str(files[0] / "mask.exr"),
                                           "--overwrite"))
    assert result.exit_code == 0, result.output
    assert (out / "ed.0002.exr").stat().st_mtime_ns != before
    np.testing.assert_array_equal(read_exr(out / "ed.0002.exr")[0], pixels)


def test_keyed_element_comes_back_as_a_premultiplied_element(files, tmp_path):
    result = CliRunner().invoke(main, args(files, tmp_path / "el.exr", "1", source="el.0001.exr"))
    assert result.exit_code == 0, result.output
    pixels, attributes = read_exr(tmp_path / "el.exr")
    assert pixels.shape == (SIZE, SIZE, 4) and attributes["vfxkey:key"] == "green"
    alpha = pixels[..., 3]
    assert np.all(pixels[alpha == 0][:, :3] == 0)  # premultiplied: no colour where nothing covers


def test_running_out_of_memory_keying_an_edited_element_is_one_line_naming_it(files, tmp_path, monkeypatch):
    from vfxkey.matte import greenpost

    def no_memory(*args, **kwargs):  # the keyer's bilateral filter: a frame-sized allocation
        raise MemoryError()

    monkeypatch.setattr(greenpost, "_denoise", no_memory)
    result = CliRunner().invoke(main, args(files, tmp_path / "out" / "el.exr", "1", source="el.0001.exr"))
    assert result.exit_code == 4 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {files[0] / 'el.0001.exr'} (frame 1): out of memory keying a {SIZE}x{SIZE} frame: give the task "
        "more memory")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_reconstruct_reports_and_records_the_reconstruction_error(files, tmp_path):
    command = args(files, tmp_path / "rec.exr", "1", "--reconstruct", "--steps", "20", "--strength", "0.5",
                   "--inversion-iters", "4")
    command.remove("--prompt"), command.remove("a green apple")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    assert "frame 1: latent error" in result.output and "PSNR" in result.output
    _, attributes = read_exr(tmp_path / "rec.exr")
    assert attributes["vfxkey:reconstruct"] == 1 and attributes["vfxkey:guidance"] == pytest.approx(1.0)
    assert attributes["vfxkey:prompt"] == "a red apple"
    assert attributes["vfxkey:latent_error"] < 1e-3


def bad_inputs(root: Path, files) -> dict[str, tuple[list[str], str, Path]]:
    """case -> (options to change, expected message, path the message names)."""
    _, model, adapter = files
    (root / "lone").mkdir()
    lone_adapter = save_adapter(build_adapter(build_edit_pipeline().unet), root / "lone" / "ip.safetensors")
    pickled = root / "ip.bin"
    torch.save({"image_proj": {}, "ip_adapter": {}}, pickled)
    lora = root / "lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(2, 2)}, str(lora))
    empty = root / "empty"
    empty.mkdir()
    other = save_adapter(build_adapter(build_pipeline(text_hidden=64).unet), root / "wide.safetensors")
    small_mask = root / "small_mask.exr"
    write_exr(small_mask, np.ones((8, 8, 1), np.float32))
    return {
        "missing adapter": (["--ip-adapter", str(root / "nowhere.safetensors")], "does not exist",
                            root / "nowhere.safetensors"),
        "adapter is a folder": (["--ip-adapter", str(empty)], "is a folder", empty),
        "safetensors that is no adapter": (["--ip-adapter", str(lora)], "not an IP-Adapter", lora),
        "pickled adapter without opt-in": (["--ip-adapter", str(pickled)], "allow_pickle", pickled),
        "no encoder beside the adapter": (["--ip-adapter", str(lone_adapter)], "no image encoder",
                                          root / "lone" / "image_encoder"),
        "encoder folder that is no model": (["--image-encoder", str(empty)], "has no config.json", empty),
        "encoder folder of another model": (["--image-encoder", str(model / "vae")], "not a CLIP image encoder",
                                            model / "vae"),
        "adapter for another model": (["--ip-adapter", str(other), "--image-encoder",
                                       str(adapter.parent / "image_encoder")], "does not fit", other),
        "missing model": (["--model", str(root / "no-model")], "does not exist", root / "no-model"),
        "mask of another size": (["--mask", str(small_mask)], "the mask's display window", small_mask),
        "strength leaving no step": (["--strength", "0.2"], "--strength: 0.2: must be in (0, 1]",
                                     Path("2 steps")),
        "output over the input": (["-o", str(files[0] / "plate.%04d.exr")], "would overwrite the input",
                                  files[0] / "plate.####.exr"),
    }


def test_every_bad_input_exits_2_with_one_clear_line_and_writes_nothing(files, tmp_path):
    for case, (change, message, named) in bad_inputs(tmp_path, files).items():
        command = args(files, tmp_path / "out" / "ed.####.exr", "1")
        for option, value in zip(change[::2], change[1::2]):
            if option in command:
                command[command.index(option) + 1] = value
            else:
                command += [option, value]
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, (case, result.output)
        assert message in result.output and str(named) in result.output, (case, result.output)
        assert "Traceback" not in result.output, case
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), case


def test_prompt_is_required_unless_reconstructing(files, tmp_path):
    command = args(files, tmp_path / "ed.####.exr", "1")
    command.remove("--prompt"), command.remove("a green apple")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2 and "--prompt is required" in result.output


def test_a_frame_the_vae_cannot_take_is_refused_naming_file_and_frame(files, tmp_path):
    odd = files[0] / "odd.0001.exr"
    write_exr(odd, np.zeros((31, 31, 3), np.float32))
    result = CliRunner().invoke(main, args(files, tmp_path / "ed.####.exr", "1", source="odd.####.exr"))
    assert result.exit_code == 2 and f"{odd} (frame 1): 31x31 is not a multiple of 2" in result.output
    assert not list(tmp_path.iterdir())
