"""Local model loading: diffusers folders, single-file checkpoints, LoRA, refusals, hash."""

import hashlib
import json
import shutil

import pytest
import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler
from safetensors.torch import save_file

from vfxkey.errors import VfxkeyError
from vfxkey.generate.model import detect_family, load_model, model_hash


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
    with pytest.raises(VfxkeyError, match="--model-config"):
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
    with pytest.raises(VfxkeyError, match="pickled.*--allow-pickle"):
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


def test_detect_family_reads_checkpoint_keys_only(tmp_path):
    sdxl = tmp_path / "xl.safetensors"
    save_file({"conditioner.embedders.1.model.positional_embedding": torch.zeros(1)}, str(sdxl))
    assert detect_family(sdxl) == "sdxl"


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
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers

    base = load_model(tiny_model_files.folder)
    unet = base.pipe.unet
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():
        generator = torch.Generator().manual_seed(0)
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    lora_state = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(tmp_path, unet_lora_layers=lora_state, weight_name="style.safetensors")

    plain = load_model(tiny_model_files.folder)
    styled = load_model(tiny_model_files.folder, lora=tmp_path / "style.safetensors")
    sample, t, text = torch.randn(1, 4, 32, 32), torch.tensor(500), torch.randn(1, 77, 32)
    with torch.no_grad():
        expected = unet(sample, t, text).sample
        got = styled.pipe.unet(sample, t, text).sample
        without = plain.pipe.unet(sample, t, text).sample
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert (got - without).abs().max() > 1e-3
    with pytest.raises(VfxkeyError, match="--lora"):
        load_model(tiny_model_files.folder, lora=tmp_path / "missing.safetensors")
