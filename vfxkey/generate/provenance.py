"""What made a generated frame: its settings, the model, and the machine, as EXR metadata.

A frame is a pure function of the seed, the frame number and the settings **on the same
kind of device, in the same precision, with the same torch and diffusers versions**:
floating-point results differ between CPU and GPU, between GPU models, between float32
and float16, between library releases, and on the CPU between thread counts. So the run metadata records, besides the
settings and the model's hash:

- ``device``: ``cpu (x86_64, 4 threads)`` or ``cuda (NVIDIA A100-SXM4-40GB)``; ``precision``
  (``fp32``/``fp16``/``bf16``); ``torch`` and ``diffusers`` versions; the scheduler's class
  and a hash of its configuration (the model folder's ``scheduler_config.json`` changes
  pixels too);
- ``settings_hash``: sha256 (16 hex digits) over all of these and every setting that
  changes pixels (not the file names of the model and LoRA, whose hashes are included).

:func:`check_same_settings` compares it with the frames of the same output already on
disk, so a farm chunk started with other settings, or on another kind of node, says so
instead of mixing its frames into the shot.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch

from vfxkey.errors import SettingError
from vfxkey.generate.model import (
    SCHEDULERS,
    LoadedModel,
    default_device,
    model_family,
    model_metadata,
    resolve_precision,
    scheduler_config,
)
from vfxkey.generate.noise import key_text, shift_delta
from vfxkey.generate.run_options import RunOptions
from vfxkey.generate.pipeline import GenerationSettings
from vfxkey.io.read import read_metadata
from vfxkey.io.sequence import frame_path, has_frame_token, scan_frames

UNHASHED = ("model", "lora")   # file names: the weights' hashes stand for them
MACHINE = ("device", "precision", "torch", "diffusers")   # machine_metadata's keys


def device_name(device: torch.device) -> str:
    """The kind of device results are reproducible on: ``cuda (GPU name)``, or ``cpu (x86_64,
    2 threads)``: on the CPU torch's kernels split their sums by thread, so another thread
    count rounds differently (measured: a tiny model's frame differs by up to 1.5e-6 between
    1 and 2 threads)."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({platform.machine()}, {torch.get_num_threads()} threads)"


def machine_metadata(model: LoadedModel) -> dict[str, str]:
    """Where and how a model ran: results are reproducible on the same kind of device, in the
    same precision, with the same library versions (``vfxkey generate`` and ``vfxkey edit``)."""
    return _machine(model.device, model.precision)


def planned_model_metadata(path: str | Path, *, lora: str | Path | None = None, precision: str | None = None,
                           options: RunOptions = RunOptions(), allow_pickle: bool = False) -> dict[str, str]:
    """``{**model.metadata(), **machine_metadata(model)}`` of ``load_model(path, lora=lora,
    precision=precision, options=options)`` on this machine, from the files alone: the model is not loaded,
    so a shot whose frames are up to date never loads it."""
    device = default_device()[0]
    path = Path(path)
    return {**model_metadata(path, model_family(path, allow_pickle), Path(lora) if lora else None, options),
            **_machine(device, resolve_precision(precision, device))}


@dataclass(frozen=True)
class ModelRecord:
    """What a generation's outputs record of its model: files, family, machine and scheduler."""

    metadata: dict[str, str]  # {**model.metadata(), **machine_metadata(model)}
    family: str
    scheduler_class: str
    scheduler_config: dict

    @classmethod
    def of(cls, model: LoadedModel) -> "ModelRecord":
        """The record of a loaded model."""
        return cls({**model.metadata(), **machine_metadata(model)}, model.family,
                   type(model.pipe.scheduler).__name__, dict(model.pipe.scheduler.config))

    @classmethod
    def planned(cls, path: str | Path, *, config: str | Path | None = None, lora: str | Path | None = None,
                scheduler: str = "ddim", precision: str | None = None, options: RunOptions = RunOptions(),
                allow_pickle: bool = False) -> "ModelRecord":
        """The record of ``load_model`` with these arguments on this machine, from the files alone."""
        path = Path(path)
        family = model_family(path, allow_pickle)
        return cls(planned_model_metadata(path, lora=lora, precision=precision, options=options,
                                          allow_pickle=allow_pickle), family,
                   SCHEDULERS[scheduler].__name__, scheduler_config(path, family, scheduler, config))


def _machine(device: torch.device, precision: str) -> dict[str, str]:
    return dict(zip(MACHINE, (device_name(device), precision, torch.__version__, diffusers.__version__)))


def run_metadata(model: ModelRecord, settings: GenerationSettings, seed: int, *, scheduler: str,
                 target_shift: float, alpha_source: str) -> dict[str, str | int | float]:
    """The settings of a generation run, its model and machine, and their ``settings_hash``.

    Keys are stored as ``vfxkey:<key>`` in every EXR. ``model`` is :meth:`ModelRecord.of` the
    loaded model or :meth:`ModelRecord.planned` (the same, from its files); ``scheduler`` is
    the name the user chose (``ddim``, ``euler_a``, ...), ``target_shift`` the TKG-DM shift
    in use, ``alpha_source`` ``key`` (the keyer alone), ``attention`` or ``matte-head:<file>``.
    """
    # The scheduler's public settings ("_use_default_values" and the like are bookkeeping in set order).
    scheduler_settings = json.dumps({k: v for k, v in model.scheduler_config.items() if not k.startswith("_")},
                                    sort_keys=True, default=str)
    metadata = {
        "command": "generate", "prompt": settings.prompt, "negative_prompt": settings.negative_prompt,
        "seed": seed, "size": f"{settings.width}x{settings.height}", "steps": settings.steps,
        "guidance": settings.guidance, "scheduler": scheduler, "key": key_text(settings.key),
        "key_direction": settings.key_direction,
        # as text: an EXR float attribute is float32, which would record 0.07 as 0.07000000029802322
        "shift": repr(float(target_shift)), "shift_delta": shift_delta(target_shift), "fg_region": str(settings.region),
        "temporal": settings.temporal, "drift_period": settings.drift_period, "subject": settings.subject or "",
        # how the sampler's per-step noise is seeded (noise.sampler_generator): the shot's in every mode
        "sampler_noise": "shot",
        "attention_steps": settings.attention_steps, "working_space": settings.working_space,
        **{k: v for k, v in model.metadata.items() if k not in MACHINE},
        "alpha_source": alpha_source,
        **{k: v for k, v in model.metadata.items() if k in MACHINE},
        "scheduler_class": model.scheduler_class,
        "scheduler_config": hashlib.sha256(scheduler_settings.encode()).hexdigest()[:16],
    }
    hashed = {k: v for k, v in metadata.items() if k not in UNHASHED}
    metadata["settings_hash"] = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]
    return metadata


def check_same_settings(output: str, metadata: dict[str, str | int | float], replacing: Iterable[int] = ()) -> None:
    """Refuse to add frames to ``output`` (an EXR pattern) whose frames on disk have another settings hash.

    Frames in ``replacing`` (about to be regenerated) are not compared. Raises a SettingError
    (``allow_mixed_settings``) naming the first differing frame, how many differ, and the settings that differ (e.g. ``steps 30 -> 20``, ``device cuda (...) -> cpu (x86_64)``).
    """
    if not has_frame_token(output):   # one file: the run writes it or leaves it alone
        return
    differing, replacing = [], set(replacing)
    for frame in (f for f in scan_frames(output) if f not in replacing):
        written = {k.removeprefix("vfxkey:"): v for k, v in read_metadata(frame_path(output, frame)).items()}
        if written.get("settings_hash") != metadata["settings_hash"]:
            differing.append((frame, written))
    if not differing:
        return
    first, written = differing[0]
    changes = [f"{key} {written.get(key, '(none)')!s} -> {value!s}" for key, value in metadata.items()
               if key not in UNHASHED and key != "settings_hash" and not _same(written.get(key), value)]
    raise SettingError(
        f"is off: {frame_path(output, first)} (frame {first}) and {len(differing) - 1} other frame(s) on disk were generated "
        f"with other settings ({'; '.join(changes) or 'no settings hash recorded'}); frames made differently "
        "would not match: use another output, make them again, or allow mixed settings (allow_mixed_settings)",
        setting="allow_mixed_settings")


def _same(written: object, value: object) -> bool:
    """Equal as recorded: EXR stores floats as float32."""
    if isinstance(written, float) and isinstance(value, (int, float)):
        return math.isclose(written, value, rel_tol=1e-6)
    return written == value
