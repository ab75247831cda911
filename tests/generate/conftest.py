"""Session-wide tiny Stable Diffusion models for the generation and matting-head tests.

``tiny_pipeline`` is one randomly initialised SD1.5-layout pipeline (CPU, float32,
seed 0; see ``tiny_models.py``). ``tiny_model_files`` saves it once per session as a
local diffusers folder and as a single original-layout ``.safetensors`` checkpoint.
Tests must not modify the shared pipeline (use ``tiny_models.build_pipeline()`` for a
private copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from tiny_models import build_pipeline, save_diffusers_folder, save_single_file


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test may reach the Hugging Face hub (set for each test here, not at import for the whole session)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)


@dataclass(frozen=True)
class TinyModelFiles:
    folder: Path       # diffusers folder: model_index.json, unet/, vae/, text_encoder/, ...
    single_file: Path  # one .safetensors in the original LDM key layout


@pytest.fixture(scope="session")
def tiny_pipeline():
    return build_pipeline()


@pytest.fixture(scope="session")
def tiny_model_files(tiny_pipeline, tmp_path_factory) -> TinyModelFiles:
    root = tmp_path_factory.mktemp("tiny_model")
    folder = save_diffusers_folder(tiny_pipeline, root / "tiny-sd15")
    single = save_single_file(tiny_pipeline, root / "tiny-sd15.safetensors")
    return TinyModelFiles(folder=folder, single_file=single)
