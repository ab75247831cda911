"""Local model loading: diffusers folders, single-file checkpoints, LoRA, refusals, hash."""

import hashlib
import json
import shutil

import pytest
import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler
from safetensors.torch import save_file

from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.generate.model import checkpoint_family, detect_family, load_model, model_hash, resolve_precision


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_loads_a_diffusers_folder_on_cpu_in_float32(tiny_pipeline, tiny_model_files):
    model = load_model(tiny_model_files.folder)
    assert model.family == "sd15"
    assert model.device.type == "cpu" and model.dtype == torch.float32
    assert isinstance(model.pipe.scheduler, DDIMScheduler)
    for name in ("unet", "vae", "text_encoder"):
        assert same_weights(getattr(model.pipe, name), getattr(tiny_pipeline, name)), name
    assert model.hash == model_hash(tiny_model_files.folder)


def test_loads_a_single_file_with_a_local_config_folder(tiny_pipeline, tiny_model_files):
    model = load_model(tiny_model_files.single_file, config=tiny_model_files.folder, scheduler="euler")
    assert model.family == "sd15"
    assert isinstance(model.pipe.scheduler, EulerDiscreteScheduler)
    assert same_weights(model.pipe.unet, tiny_pipeline.unet)
    assert same_weights(model.pipe.vae, tiny_pipeline.vae)


def test_single_file_without_local_config_asks_for_one(tiny_model_files, tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(VfxkeyError, match="give its model_config"):
        load_model(tiny_model_files.single_file)


def test_bad_model_paths_error_clearly(tiny_model_files, tmp_path):
    with pytest.raises(VfxkeyError, match="does not exist.*diffusers folder"):
        load_model(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VfxkeyError, match="has no model_index.json"):
        load_model(empty)
    no_unet = tmp_path / "no_unet"
    shutil.copytree(tiny_model_files.folder, no_unet)
    shutil.rmtree(no_unet / "unet")
    with pytest.raises(VfxkeyError, match="has no unet/"):
        load_model(no_unet)
    other = tmp_path / "other"
    shutil.copytree(tiny_model_files.folder, other)
    index = json.loads((other / "model_index.json").read_text())
    (other / "model_index.json").write_text(json.dumps({**index, "_class_name": "FluxPipeline"}))
    with pytest.raises(VfxkeyError, match="FluxPipeline"):
        load_model(other)
    pickled = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}}, pickled)
    with pytest.raises(VfxkeyError, match=r"pickled.*allow pickles \(allow_pickle\)"):
        load_model(pickled)
    not_sd = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(2, 2)}, str(not_sd))
    with pytest.raises(VfxkeyError, match="not a Stable Diffusion checkpoint"):
        load_model(not_sd)
    garbage = tmp_path / "broken.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(VfxkeyError, match="cannot be read as safetensors"):
        load_model(garbage)
    text = tmp_path / "model.txt"
    text.write_text("hello")
    with pytest.raises(VfxkeyError, match="not a .safetensors checkpoint"):
        load_model(text)


def test_model_hash_is_size_plus_first_and_last_mebibyte(tmp_path):
    data = bytearray(hashlib.sha256(b"x").digest() * (3 * 2**20 // 32))  # 3 MiB
    path = tmp_path / "w.safetensors"
    path.write_bytes(data)
    mib = 2**20
    expected = hashlib.sha256(f"w.safetensors\0{len(data)}\0".encode() + data[:mib] + data[-mib:]).hexdigest()
    assert model_hash(path) == expected
    data[len(data) // 2] ^= 0xFF  # the middle MiB is not read (documented)
    path.write_bytes(data)
    assert model_hash(path) == expected
    data[-1] ^= 0xFF
    path.write_bytes(data)
    assert model_hash(path) != expected


def test_lora_from_a_local_file_changes_the_unet(tiny_model_files, tmp_path):
    from tiny_models import save_lora

    base = load_model(tiny_model_files.folder)
    unet = base.pipe.unet
    save_lora(unet, tmp_path)

    plain = load_model(tiny_model_files.folder)
    styled = load_model(tiny_model_files.folder, lora=tmp_path / "style.safetensors")
    sample, t, text = torch.randn(1, 4, 32, 32), torch.tensor(500), torch.randn(1, 77, 32)
    with torch.no_grad():
        expected = unet(sample, t, text).sample
        got = styled.pipe.unet(sample, t, text).sample
        without = plain.pipe.unet(sample, t, text).sample
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert (got - without).abs().max() > 1e-3
    with pytest.raises(SettingError, match="^lora .*missing.safetensors: expected") as refused:
        load_model(tiny_model_files.folder, lora=tmp_path / "missing.safetensors")
    assert refused.value.setting == "lora"


def test_the_minimum_diffusers_is_the_tested_one_that_takes_dtype():
    """``load_model`` passes ``dtype=``, which diffusers takes since 0.42 (``torch_dtype`` before, now deprecated)."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    generate_extra = project["project"]["optional-dependencies"]["generate"]  # not the core install
    diffusers_req = next(Requirement(r) for r in generate_extra if r.startswith("diffusers"))
    minimum = min(Version(s.version) for s in diffusers_req.specifier if s.operator == ">=")
    assert minimum >= Version("0.42")


def test_an_sdxl_model_gets_no_invisible_watermark_even_when_the_package_is_installed(tmp_path, monkeypatch):
    from tiny_models import build_sdxl_pipeline, save_diffusers_folder

    folder = save_diffusers_folder(build_sdxl_pipeline(), tmp_path / "tiny-sdxl")
    monkeypatch.setattr("diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl."
                        "is_invisible_watermark_available", lambda: True)
    assert load_model(folder).pipe.watermark is None


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("fp16", torch.float16),
                                              ("bf16", torch.bfloat16)])
def test_precision_names_load_the_model_in_that_dtype(tiny_model_files, precision, dtype):
    model = load_model(tiny_model_files.folder, precision=precision)
    assert model.dtype == dtype and model.pipe.vae.dtype == dtype and model.pipe.text_encoder.dtype == dtype
    assert model.precision == precision


def test_default_precision_is_fp32_on_the_cpu_and_fp16_on_cuda():
    assert resolve_precision(None, torch.device("cpu")) == "fp32"
    assert resolve_precision(None, torch.device("cuda")) == "fp16"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(SettingError, match="^precision fp8: use one of"):
        resolve_precision("fp8", torch.device("cpu"))


def original_layout_keys(text_encoder: str, *extra: str) -> dict[str, torch.Tensor]:
    """A few keys of an original-layout checkpoint: UNet, VAE and the given text encoder prefix."""
    keys = ["model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.decoder.conv_in.weight",
            text_encoder, *extra]
    return {k: torch.zeros(1) for k in keys}


@pytest.mark.parametrize("keys, message", [
    (original_layout_keys("conditioner.embedders.0.model.transformer.resblocks.0.ln_1.weight"), "SDXL refiner"),
    (original_layout_keys("cond_stage_model.model.transformer.resblocks.0.ln_1.weight"), "SD 2.x"),
])
def test_single_file_sd2_and_sdxl_refiner_checkpoints_are_refused_by_name(tmp_path, keys, message):
    path = tmp_path / "checkpoint.safetensors"
    save_file(keys, str(path))
    with pytest.raises(VfxkeyError, match=f"{path}.*{message}"):
        load_model(path)
    pickled = tmp_path / "checkpoint.ckpt"
    torch.save({"state_dict": keys}, pickled)
    with pytest.raises(VfxkeyError, match=f"{pickled}.*{message}"):
        load_model(pickled, allow_pickle=True)


def test_detect_family_reads_checkpoint_keys_only(tmp_path):
    sd1 = original_layout_keys("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight")
    assert checkpoint_family(set(sd1), "sd1.safetensors") == "sd15"
    sdxl = original_layout_keys("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
                                "conditioner.embedders.1.model.transformer.resblocks.0.ln_1.weight")
    save_file(sdxl, str(tmp_path / "xl.safetensors"))
    assert detect_family(tmp_path / "xl.safetensors") == "sdxl"
