"""How to edit a frame (Tight Inversion), apart from the edit loop (:mod:`.edit`, which
imports torch), so the shot spec and ``vfxkey edit``'s options can hold the settings without
loading it. Each setting is declared once on its field (:func:`vfxkey.fields.setting`): its
default, help and minimum are the spec's ``[element]`` key and the command's option.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vfxkey.errors import SettingError
from vfxkey.fields import setting
from vfxkey.io.colour import WORKING_SPACE

# Fixed-point refinements per inversion step, from bench/edit.py's sweep (README table): 3 takes
# the reconstruction's relative latent error from 1.2 (plain DDIM) to 0.02 (39 dB) for 4x the
# inversion's UNet calls; more buys accuracy that the VAE round trip loses again.
DEFAULT_INVERSION_ITERATIONS = 3


@dataclass(frozen=True)
class EditSettings:
    """How to edit; with the frame it fixes every output pixel."""

    prompt: str  # what the edited frame shows
    # The settings (vfxkey.fields): the spec's [element] keys and `vfxkey edit`'s options of the same names.
    source_prompt: str = setting("", "What the input shows; the inversion's prompt.")
    negative_prompt: str = setting("", "What the edit should avoid (editing's unconditional text under guidance).")
    ip_scale: float = setting(0.4, "Image conditioning (IP-Adapter scale) during inversion: higher keeps the "
                                   "input more faithfully.", minimum=0.0)
    edit_ip_scale: float = setting(0.4, "Image conditioning during editing: lower lets the prompt change more.",
                                   minimum=0.0)
    steps: int = setting(50, "DDIM steps of a full inversion and of the denoising.", minimum=1)
    guidance: float = setting(7.5, "Classifier-free guidance of the edit (the inversion runs without: 1).",
                              minimum=1.0)
    strength: float = setting(1.0, "Share of the steps inverted and redone, in (0, 1]: below 1 keeps more of the "
                                   "input's layout.")
    inversion_iters: int = setting(DEFAULT_INVERSION_ITERATIONS, "Fixed-point refinements per inversion step, each "
                                   "one more UNet call (0 = plain DDIM inversion; the default was chosen by the "
                                   "measurement in the README).", minimum=0, metavar="N")
    feather: int = setting(8, "Soft edge of the mask in pixels, ramping up inside its border.", minimum=0,
                           metavar="PIXELS")
    hold_background: bool = setting(
        True, "A keyed input keeps its background: the latent outside its subject (alpha 0.5 and up, grown by one "
              "latent pixel) follows the inversion and those pixels stay the input's, on the key. Off: the edit may "
              "change the outline freely, and the background drifts off the key colour.")
    working_space: str = WORKING_SPACE  # the shot's

    def reconstruction(self) -> "EditSettings":
        """The same settings denoising with the inversion's own conditioning, and no background
        held (it would come back exactly, whatever the inversion): to measure fidelity."""
        return replace(self, prompt=self.source_prompt, negative_prompt="", guidance=1.0,
                       edit_ip_scale=self.ip_scale, hold_background=False)

    def metadata(self) -> dict:
        """The settings by name, as outputs record them (``vfxkey edit`` and the shot's edit mode)."""
        return {"prompt": self.prompt, "source_prompt": self.source_prompt, "negative_prompt": self.negative_prompt,
                "steps": self.steps, "guidance": self.guidance, "strength": self.strength,
                "ip_scale": self.ip_scale, "edit_ip_scale": self.edit_ip_scale,
                "inversion_iterations": self.inversion_iters, "feather": self.feather,
                "hold_background": int(self.hold_background), "working_space": self.working_space}

    def check(self) -> None:
        """:class:`SettingError` naming the setting out of range (the spec reader and the
        command line check them first, by the same fields; this is for a library caller)."""
        check_steps(self.steps, self.strength)
        if self.inversion_iters < 0:
            raise SettingError(f"{self.inversion_iters}: must be 0 or more", setting="inversion_iters")
        if self.feather < 0:
            raise SettingError(f"{self.feather}: must be 0 or more pixels", setting="feather")
        if self.guidance < 1.0:
            raise SettingError(f"{self.guidance}: must be at least 1 (1 = no guidance)", setting="guidance")
        for name in ("ip_scale", "edit_ip_scale"):
            if getattr(self, name) < 0.0:
                raise SettingError(f"{getattr(self, name)}: must be 0 or more", setting=name)


def check_steps(steps: int, strength: float) -> None:
    """:class:`SettingError` naming the setting unless ``steps >= 1`` and ``strength`` in (0, 1]
    leaves at least one step."""
    if steps < 1:
        raise SettingError(f"{steps}: must be at least 1", setting="steps")
    if not 0.0 < strength <= 1.0 or int(steps * strength) < 1:
        raise SettingError(f"{strength}: must be in (0, 1] and leave at least one of the {steps} steps",
                           setting="strength")
