"""An edit of a keyed element keeps its background on the key (issue 24 §4), on the trained toy
model with the tests' tiny random IP-Adapter.

The figure: mean |alpha_edited - alpha_source| outside the subject, where the subject is the
source's alpha at 0.5 and up grown by 3 pixels (a disc of radius 3). Before, the edit let the
background drift: the re-keyed alpha there changed by 0.06-0.11 on these pairs, with opaque
blobs where the key was.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from tiny_ip_adapter import build_adapter, build_image_encoder, build_image_processor

from vfxkey.generate.adapter import attach_ip_adapter
from vfxkey.generate.edit import Editor, EditSettings
from vfxkey.generate.keycolour import KeyColour, key_on_screen
from vfxkey.generate.model import load_model
from vfxkey.generate.pipeline import GenerationSettings, KeyedGenerator
from vfxkey.io.colour import WORKING_SPACE
from vfxkey.io.frame import Frame

TOY = Path(__file__).resolve().parents[2] / "samples" / "models" / "toy-ldm"
STEPS = 20


@pytest.fixture(scope="module")
def toy():
    """The toy model twice: one to generate the sources, one with the adapter attached to edit them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 16x16 latents: one thread is faster on a busy machine
    plain, adapted = (load_model(TOY, scheduler="ddim", device=torch.device("cpu"), dtype=torch.float32)
                      for _ in range(2))
    attach_ip_adapter(adapted.pipe, build_adapter(adapted.pipe.unet), build_image_encoder(), build_image_processor())
    yield plain, adapted
    torch.set_num_threads(threads)


def keyed_source(model, prompt: str, seed: int) -> Frame:
    """A toy element generated on green and keyed, as `vfxkey generate` writes it (premultiplied)."""
    # Shift 0.07, SD1.5's default when these pairs were measured: at 0.10 (the default since)
    # "a grey ball" seed 6 comes out with so clean a key that even the unheld edit keeps it.
    generated = KeyedGenerator(model, GenerationSettings(prompt=prompt, width=64, height=64, steps=STEPS,
                                                         guidance=5.0, target_shift=0.07), seed)(1)
    rgba = key_on_screen(generated.rgb, KeyColour.of("green", WORKING_SPACE)).premultiplied_rgba()
    return Frame(number=1, rgb=rgba[..., :3], alpha=rgba[..., 3], premultiplied=True, source=f"{seed}.exr")


def outside_subject(alpha: np.ndarray, pixels: int = 3) -> np.ndarray:
    subject = (alpha >= 0.5).astype(np.uint8)
    return cv2.dilate(subject, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1,) * 2)) == 0


@pytest.mark.parametrize("source_prompt, prompt, seed", [("an orange ring", "a red bubble", 4),
                                                          ("a grey ball", "a pink ring", 6)])
def test_an_edit_of_a_keyed_element_keeps_its_background_on_the_key(toy, source_prompt, prompt, seed):
    plain, adapted = toy
    source = keyed_source(plain, source_prompt, seed)
    background = outside_subject(source.alpha)
    assert background.mean() > 0.2
    settings = EditSettings(prompt=prompt, source_prompt=source_prompt, steps=STEPS)
    held = Editor(adapted, settings)(source)
    drift = float(np.abs(held.rgba[..., 3] - source.alpha)[background].mean())
    assert drift <= 0.05
    # The subject is edited all the same.
    change = np.abs(held.rgba[..., :3] - source.rgb).mean(axis=-1)[~background].mean()
    assert change > 0.1
    # Without the hold the background drifts off the key (what every edit did before).
    free = Editor(adapted, EditSettings(prompt=prompt, source_prompt=source_prompt, steps=STEPS,
                                        hold_background=False))(source)
    assert np.abs(free.rgba[..., 3] - source.alpha)[background].mean() > 0.05
