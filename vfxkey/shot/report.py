"""The shot's QC report: one self-contained HTML file that opens offline.

It holds:

1. **per-frame figures**, read back from the rendered element EXRs: the screen each frame
   shows (measured on the frame, whatever screen it was keyed against) against the
   shot's, as exposure in stops and colour shift in tolerances, with the refit limits;
   GSG, the soft-alpha fraction, alpha flicker ``mean |alpha_t - alpha_t-1|`` and the
   spill residue (how far the screen channel still leads the others in the opaque
   subject's straight colour);
2. **suspicious frames**, each with why (a keyer verdict and its warning, a figure far
   off the shot's median);
3. **plots** of those figures (inline SVG, :mod:`vfxkey.shot.plots`);
4. **a contact sheet** for a spread of frames: the element over a checkerboard, its
   alpha, and the comp over the plate (PNG thumbnails inlined as base64).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np

from vfxkey import __version__
from vfxkey.comp.over import checkerboard, over
from vfxkey.io.colour import display_8bit
from vfxkey.io.files import atomic_output
from vfxkey.io.read import open_source
from vfxkey.io.sequence import frame_path
from vfxkey.shot import qc
from vfxkey.shot.plots import line_plots_svg
from vfxkey.shot.spec import ShotSpec

SHEET_FRAMES = 6  # frames on the contact sheet, spread over the shot
THUMB_WIDTH = 240  # pixels
PLOT_COLOUR = "#1f77b4"  # every plotted line; suspicious frames are marked in FLAG_COLOUR
FLAG_COLOUR = "#d62728"


def frame_figures(spec: ShotSpec) -> list[dict]:
    """One dict of QC figures per frame of the shot, from the element EXRs (streamed)."""
    figures, previous = [], None
    source = open_source(spec.outputs.element, spec.frames, working_space=spec.working_space)
    for frame in source:
        record = qc.from_exr(frame_path(spec.outputs.element, frame.number), frame.number)
        alpha = frame.alpha if frame.alpha is not None else np.ones(frame.rgb.shape[:2], np.float32)
        screen = record.get("screen_rgb")
        figures.append({
            "frame": frame.number,
            "screen_rgb": screen,
            "screen_exposure": record.get("screen_exposure"),
            "screen_shift": record.get("screen_shift"),
            "gsg": record.get("gsg"),
            "soft_fraction": record.get("soft_fraction"),
            "flicker": None if previous is None else float(np.mean(np.abs(alpha - previous))),
            "spill": _spill_residue(frame.rgb, alpha, int(np.argmax(screen)) if screen else 1),
            "warnings": record.get("warnings", []),
        })
        previous = alpha
    return figures


def _spill_residue(premultiplied: np.ndarray, alpha: np.ndarray, channel: int) -> float:
    """Mean over opaque pixels (alpha > 0.9) of how far the screen channel leads the larger
    other channel in the straight colour, linear units (0 when none leads)."""
    opaque = alpha > 0.9
    if not opaque.any():
        return 0.0
    straight = premultiplied[opaque] / alpha[opaque][:, None]
    others = np.delete(straight, channel, axis=1).max(axis=1)
    return float(np.mean(np.maximum(straight[:, channel] - others, 0.0)))


def suspicious_frames(figures: list[dict]) -> dict[int, list[str]]:
    """Frames that look wrong, each with the reasons, by comparison with the shot's median."""
    flagged: dict[int, list[str]] = {}

    def flag(frame: int, reason: str) -> None:
        flagged.setdefault(frame, []).append(reason)

    screens = np.array([f["screen_rgb"] for f in figures if f["screen_rgb"]])
    median_screen = np.median(screens, axis=0) if len(screens) else None
    medians = {name: float(np.median([f[name] for f in figures if f[name] is not None] or [0.0]))
               for name in ("soft_fraction", "flicker", "spill")}
    flickering = qc.flickers([f["flicker"] for f in figures])
    for f, flickers in zip(figures, flickering):
        if median_screen is not None and f["screen_rgb"]:
            drift = float(np.linalg.norm(np.subtract(f["screen_rgb"], median_screen)) / np.linalg.norm(median_screen))
            if drift > 0.1:
                flag(f["frame"], f"screen colour {drift:.0%} off the shot's")
        if flickers:
            flag(f["frame"], f"alpha flicker {f['flicker']:.4f}, {f['flicker'] / max(medians['flicker'], 1e-9):.1f}x "
                             "the shot's median")
        if f["soft_fraction"] is not None and abs(f["soft_fraction"] - medians["soft_fraction"]) > max(
                medians["soft_fraction"], 0.05):
            flag(f["frame"], f"soft alpha on {f['soft_fraction']:.1%} of the frame (shot median "
                             f"{medians['soft_fraction']:.1%})")
        if f["spill"] > max(3.0 * medians["spill"], 0.01):
            flag(f["frame"], f"spill residue {f['spill']:.3f} (shot median {medians['spill']:.3f})")
        for warning in f["warnings"]:
            flag(f["frame"], f"keyer: {warning}")
    return flagged


def _plots_svg(figures: list[dict], flagged: dict[int, list[str]]) -> str:
    """The per-frame plots as one inline SVG."""
    from vfxkey.matte.greenpost import REFIT_SHIFT, REFIT_STOPS

    frames = [f["frame"] for f in figures]
    nan = lambda value: np.nan if value is None else value  # noqa: E731
    series = {  # title: (values, the refit limits drawn as dashed lines)
        "frame's screen vs the shot's: exposure (stops)": ([nan(f["screen_exposure"]) for f in figures],
                                                         (-REFIT_STOPS, REFIT_STOPS)),
        "frame's screen vs the shot's: colour (tolerances)": ([nan(f["screen_shift"]) for f in figures],
                                                            (REFIT_SHIFT,)),
        "GSG": [np.nan if f["gsg"] is None else f["gsg"] for f in figures],
        "soft-alpha fraction": [np.nan if f["soft_fraction"] is None else f["soft_fraction"] for f in figures],
        "alpha flicker |α_t − α_t−1|": [np.nan if f["flicker"] is None else f["flicker"] for f in figures],
        "spill residue (linear)": [f["spill"] for f in figures],
    }
    values = {title: value[0] if isinstance(value, tuple) else value for title, value in series.items()}
    limits = {title: value[1] for title, value in series.items() if isinstance(value, tuple)}
    return line_plots_svg(frames, values, set(flagged), colour=PLOT_COLOUR, flag_colour=FLAG_COLOUR, limits=limits)


def _thumbnail(rgb: np.ndarray, working_space: str) -> str:
    """A scene-linear (H, W, 3) image as a base64 PNG data URI, THUMB_WIDTH wide, sRGB."""
    height, width = rgb.shape[:2]
    size = (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width)))
    small = cv2.resize(np.ascontiguousarray(rgb, np.float32), size, interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(display_8bit(small, working_space), cv2.COLOR_RGB2BGR))
    assert ok
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def _contact_sheet(spec: ShotSpec) -> list[tuple[int, list[tuple[str, str]]]]:
    """For a spread of frames: (frame, [(caption, data URI), ...])."""
    frames = list(spec.frames)
    picks = sorted({frames[round(i * (len(frames) - 1) / max(1, SHEET_FRAMES - 1))]
                    for i in range(min(SHEET_FRAMES, len(frames)))})
    element = open_source(spec.outputs.element, spec.frames, working_space=spec.working_space)
    comp = open_source(spec.outputs.comp, spec.frames, working_space=spec.working_space) if spec.outputs.comp else None
    sheet = []
    for number in picks:
        rgba = element.read(number).premultiplied_rgba()
        alpha = rgba[..., 3]
        images = [("element over checkerboard", _thumbnail(over(rgba, checkerboard(*alpha.shape)), spec.working_space)),
                  ("alpha", _thumbnail(np.repeat(alpha[..., None], 3, axis=-1), spec.working_space))]
        if comp is not None:
            images.append(("comp over plate", _thumbnail(comp.read(number).rgb, spec.working_space)))
        sheet.append((number, images))
    return sheet


def report_html(spec: ShotSpec) -> str:
    """The whole report as one HTML document (no external references)."""
    figures = frame_figures(spec)
    flagged = suspicious_frames(figures)
    esc = html.escape
    rows = "".join(f"<tr><td>{frame}</td><td>{'<br>'.join(esc(r) for r in reasons)}</td></tr>"
                   for frame, reasons in sorted(flagged.items()))
    suspicious = (f"<table><tr><th>frame</th><th>why</th></tr>{rows}</table>" if rows
                  else "<p class=ok>No frame looks wrong.</p>")
    sheet = "".join(
        f"<div class=frame><h3>frame {number}</h3>"
        + "".join(f"<figure><img src='{uri}' alt='{esc(caption)} {number}'><figcaption>{esc(caption)}</figcaption>"
                  "</figure>" for caption, uri in images)
        + "</div>" for number, images in _contact_sheet(spec))
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8><title>QC {esc(spec.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; background: #fafafa; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
.frame {{ display: flex; gap: 8px; align-items: flex-start; margin-bottom: 8px; }}
.frame h3 {{ width: 110px; margin: 0; font-size: 14px; }}
figure {{ margin: 0; }} figcaption {{ font-size: 11px; color: #555; }}
.ok {{ color: #2a7; }}
</style></head><body>
<h1>QC report: {esc(spec.name)}</h1>
<p>frames {spec.frames} &middot; {esc(spec.element.mode)} &middot; working space {esc(spec.working_space)}
&middot; element {esc(spec.outputs.element)} &middot; vfxkey {esc(__version__)}</p>
<h2>Suspicious frames</h2>
{suspicious}
<h2>Per-frame figures</h2>
{_plots_svg(figures, flagged)}
<h2>Contact sheet</h2>
{sheet}
</body></html>
"""


def write_report(spec: ShotSpec, path: str) -> str:
    """Write the QC report of the rendered shot to ``path`` atomically; return the path."""
    text = report_html(spec)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path
