"""Run metadata: what made a frame, and the hash that keeps differently made chunks apart."""

import dataclasses
import platform
from pathlib import Path

import diffusers
import pytest
import torch

from tiny_models import build_pipeline

from vfxkey.generate.model import LoadedModel, load_model
from vfxkey.generate.pipeline import GenerationSettings
from vfxkey.generate.provenance import ModelRecord, device_name, key_text, run_metadata
from vfxkey.generate.run_options import RunOptions

SETTINGS = GenerationSettings(prompt="a red apple", width=64, height=64, steps=3)


def metadata(pipe, settings=SETTINGS, path="tiny", **changes):
    model = LoadedModel(pipe=pipe, family="sd15", path=Path(path), hash="abc")
    return run_metadata(ModelRecord.of(model), settings, 7, **{"scheduler": "ddim", "target_shift": 0.07,
                                               "alpha_source": "attention", **changes})


def test_metadata_names_the_machine_precision_versions_and_scheduler(tiny_pipeline):
    record = metadata(tiny_pipeline)
    threads = torch.get_num_threads()
    assert record["device"] == f"cpu ({platform.machine()}, {threads} threads)" == device_name(torch.device("cpu"))
    try:  # another thread count is another kind of device: its frames round differently
        torch.set_num_threads(threads + 1)
        assert metadata(tiny_pipeline)["settings_hash"] != record["settings_hash"]
    finally:
        torch.set_num_threads(threads)
    assert record["precision"] == "fp32"
    assert (record["torch"], record["diffusers"]) == (torch.__version__, diffusers.__version__)
    assert record["scheduler_class"] == "DDIMScheduler" and record["model"] == "tiny"
    assert key_text((0.0, 177 / 255, 64 / 255)) == "#00b140" and key_text("blue") == "blue"


def test_the_settings_hash_follows_what_changes_pixels_and_not_file_names(tiny_pipeline):
    base = metadata(tiny_pipeline)["settings_hash"]
    assert metadata(tiny_pipeline, path="renamed")["settings_hash"] == base
    assert metadata(tiny_pipeline, dataclasses.replace(SETTINGS, steps=4))["settings_hash"] != base
    assert metadata(tiny_pipeline, scheduler="euler_a")["settings_hash"] != base
    pipe = build_pipeline()   # the model folder's scheduler_config.json changes pixels too
    assert metadata(pipe)["settings_hash"] == base
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, timestep_spacing="trailing")
    assert metadata(pipe)["settings_hash"] != base


@pytest.mark.parametrize("scheduler", ["ddim", "euler_a"])
def test_the_record_read_from_the_files_is_the_loaded_models(tiny_model_files, scheduler):
    """A shot whose frames are up to date is checked against this record without loading the model."""
    for path, config in ((tiny_model_files.folder, None), (tiny_model_files.single_file, tiny_model_files.folder)):
        loaded = ModelRecord.of(load_model(path, config=config, scheduler=scheduler))
        assert ModelRecord.planned(path, config=config, scheduler=scheduler) == loaded, path


def test_the_record_read_from_the_files_holds_the_run_options(tiny_model_files):
    """The LoRA scale, memory savers and determinism change the record (and so the settings hash)
    whether the model is loaded or only planned, so an up-to-date check sees a changed option."""
    options = RunOptions(vae_tiling=True, attention_slicing=True, lora_scale=0.5)
    loaded = ModelRecord.of(load_model(tiny_model_files.folder, options=options))
    assert ModelRecord.planned(tiny_model_files.folder, options=options) == loaded
    assert ModelRecord.planned(tiny_model_files.folder) != loaded
