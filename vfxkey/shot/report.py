"""The shot's QC page: one self-contained HTML file that opens offline, for a supervisor to sign off.

It holds, top to bottom:

1. **render facts**, from the element EXRs' metadata: the hosts, the write times (the
   EXRs' ``DateTime``), the vfxkey versions and the settings hashes. Nothing else on the
   page carries a date, so a rerun that skips every frame writes the same page;
2. **suspicious frames**, each with why (a QC verdict and its warning, a figure past its
   limit);
3. **plots** of the per-frame figures (inline SVG, :mod:`vfxkey.shot.plots`) with their limits drawn:
   the screen each frame shows against the shot's (exposure in stops and colour shift in
   tolerances, the refit limits), GSG, the soft-alpha fraction, alpha flicker
   ``mean |alpha_t - alpha_t-1|`` and the spill residue; and words on what each means
   and what value is good;
4. **a per-frame table**: every figure and verdict of every frame, with its render facts;
5. **every frame** as source | alpha | comp (the element over a checkerboard where there
   is no source or no comp): small JPEG thumbnails, PAGE_FRAMES frames a page, the full
   size image opened on click (embedded; the alpha as PNG, lossless);
6. **sign-off**: notes and an approval box, exported as a text file or printed with the page.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np

from vfxkey import __version__
from vfxkey.comp.over import checkerboard, over
from vfxkey.io.colour import display_8bit
from vfxkey.io.files import atomic_output
from vfxkey.io.images import read_header
from vfxkey.io.read import open_source
from vfxkey.io.sequence import FrameRange, frame_path
from vfxkey.shot import qc
from vfxkey.shot.plots import line_plots_svg
from vfxkey.shot.spec import ShotSpec, shot_config

PAGE_FRAMES = 20  # frames on one page of the frame view
THUMB_WIDTH = 320  # pixels
THUMB_QUALITY, FULL_QUALITY = 80, 92  # JPEG quality of thumbnails and full-size views
PLOT_COLOUR = "#1f77b4"  # every plotted line; suspicious frames are marked in FLAG_COLOUR
FLAG_COLOUR = "#d62728"
LIMIT_COLOUR = FLAG_COLOUR  # the limits drawn on the plots, dashed
SPILL_FLOOR, SPILL_SHARE = 0.01, 3.0  # spill residue flagged above both this and 3x the shot's median
SOFT_FLOOR = 0.05  # soft-alpha fraction flagged more than max(this, the median) off the shot's median
SCREEN_DRIFT = 0.1  # a frame's screen colour flagged this far (relative) off the shot's median screen

FIGURE_WORDS = (  # (figure, what it is, what value is good)
    ("screen exposure", "the frame's own screen (measured on the frame) against the shot's, in stops",
     "near 0; past the dashed limits the frame is keyed against its own screen (the refit verdict)"),
    ("screen colour", "the same, as the colour shift in units of the keyer's tolerance",
     "near 0; past the dashed limit, refit"),
    ("GSG", "green-screen gap: the distance (scene-linear) from the frame's dominant colour to the shot's "
            "screen colour", "lower is better, steady over the shot; no fixed limit, a jump means the screen "
                             "or its lighting changed, or the subject fills the frame"),
    ("soft alpha", "share of the frame with 0.02 < alpha < 0.98 (hair, motion blur, sheer cloth)",
     "steady over the shot; the dashed band is the shot's median +- max(median, 5 %)"),
    ("flicker", "mean |alpha - alpha of the frame before|",
     "low and steady; above the dashed limit (3x the shot's median, at least 0.002) the matte flickers"),
    ("spill residue", "how far the screen channel still leads the others in the opaque subject's straight "
                      "colour, linear", "near 0; above the dashed limit (3x the shot's median, at least 0.01) "
                                        "green spill shows on the subject"),
    ("verdicts", "refit, blank_key, full_key, inverted_key, screen_residue, flicker, cut_edge "
                 "(docs/keying.md)", "none; each is also a warning of the render"),
)


def frame_figures(spec: ShotSpec) -> list[dict]:
    """One dict of QC figures per frame of the shot, from the element EXRs (streamed), with
    the frame's verdicts (the comp's too) and render facts."""
    figures, previous = [], None
    source = open_source(spec.outputs.element, spec.frames, working_space=spec.working_space)
    for frame in source:
        path = frame_path(spec.outputs.element, frame.number)
        record = qc.from_exr(path, frame.number)
        keyer_warnings = list(record.get("warnings", []))
        if spec.outputs.comp:
            qc.with_comp(record, frame_path(spec.outputs.comp, frame.number), frame.number)
        attributes = read_header(path, frame.number).attributes
        alpha = frame.alpha if frame.alpha is not None else np.ones(frame.rgb.shape[:2], np.float32)
        screen = record.get("screen_rgb")
        figures.append({
            "frame": frame.number,
            "screen_rgb": screen,
            "screen_exposure": record.get("screen_exposure"),
            "screen_shift": record.get("screen_shift"),
            "gsg": record.get("gsg"),
            "soft_fraction": record.get("soft_fraction"),
            "flicker": qc.frame_flicker(alpha, previous),
            "spill": _spill_residue(frame.rgb, alpha, int(np.argmax(screen)) if screen else 1),
            "warnings": keyer_warnings,
            "comp_warnings": [w for w in record.get("warnings", []) if w not in keyer_warnings],
            "verdicts": record.get("verdicts", []),
            "host": str(attributes.get("vfxkey:host", "")),
            "written": str(attributes.get("DateTime", "")),
            "version": str(attributes.get("vfxkey:version", "")),
            "settings_hash": str(attributes.get("vfxkey:settings_hash", "")),
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


def limits(figures: list[dict]) -> dict[str, tuple[float, ...]]:
    """Per figure, the values past which a frame is flagged (drawn on the plots)."""
    from vfxkey.matte.greenpost import REFIT_SHIFT, REFIT_STOPS

    def median(name: str) -> float:
        return float(np.median([f[name] for f in figures if f.get(name) is not None] or [0.0]))

    soft = median("soft_fraction")
    return {"screen_exposure": (-REFIT_STOPS, REFIT_STOPS), "screen_shift": (REFIT_SHIFT,),
            "soft_fraction": (soft - max(soft, SOFT_FLOOR), soft + max(soft, SOFT_FLOOR)),
            "flicker": (qc.flicker_limit([f["flicker"] for f in figures]),),
            "spill": (max(SPILL_SHARE * median("spill"), SPILL_FLOOR),)}


def suspicious_frames(figures: list[dict]) -> dict[int, list[str]]:
    """Frames that look wrong, each with the reasons, by comparison with the shot's median."""
    flagged: dict[int, list[str]] = {}

    def flag(frame: int, reason: str) -> None:
        flagged.setdefault(frame, []).append(reason)

    screens = np.array([f["screen_rgb"] for f in figures if f["screen_rgb"]])
    median_screen = np.median(screens, axis=0) if len(screens) else None
    medians = {name: float(np.median([f[name] for f in figures if f[name] is not None] or [0.0]))
               for name in ("soft_fraction", "flicker", "spill")}
    limit = limits(figures)
    for f in figures:
        if median_screen is not None and f["screen_rgb"]:
            drift = float(np.linalg.norm(np.subtract(f["screen_rgb"], median_screen)) / np.linalg.norm(median_screen))
            if drift > SCREEN_DRIFT:
                flag(f["frame"], f"screen colour {drift:.0%} off the shot's")
        if f["flicker"] is not None and f["flicker"] > limit["flicker"][0]:
            flag(f["frame"], f"alpha flicker {f['flicker']:.4f}, {f['flicker'] / max(medians['flicker'], 1e-9):.1f}x "
                             "the shot's median")
        low, high = limit["soft_fraction"]
        if f["soft_fraction"] is not None and not low <= f["soft_fraction"] <= high:
            flag(f["frame"], f"soft alpha on {f['soft_fraction']:.1%} of the frame (shot median "
                             f"{medians['soft_fraction']:.1%})")
        if f["spill"] > limit["spill"][0]:
            flag(f["frame"], f"spill residue {f['spill']:.3f} (shot median {medians['spill']:.3f})")
        for warning in f["warnings"]:
            flag(f["frame"], f"keyer: {warning}")
        for warning in f.get("comp_warnings", []):
            flag(f["frame"], f"comp: {warning}")
    return flagged


def _plots_svg(figures: list[dict], flagged: dict[int, list[str]]) -> str:
    """The per-frame plots, their limits dashed, as one inline SVG."""
    frames = [f["frame"] for f in figures]
    limit = limits(figures)
    nan = lambda value: np.nan if value is None else value  # noqa: E731
    series = {  # title: (figure, limits drawn)
        "frame's screen vs the shot's: exposure (stops)": "screen_exposure",
        "frame's screen vs the shot's: colour (tolerances)": "screen_shift",
        "GSG (lower is better)": "gsg",
        "soft-alpha fraction": "soft_fraction",
        "alpha flicker |α_t − α_t−1|": "flicker",
        "spill residue (linear)": "spill",
    }
    values = {title: [nan(f[name]) for f in figures] for title, name in series.items()}
    drawn = {title: limit[name] for title, name in series.items() if name in limit}
    return line_plots_svg(frames, values, set(flagged), colour=PLOT_COLOUR, flag_colour=FLAG_COLOUR, limits=drawn)


def _data_uri(codes: np.ndarray, kind: str, quality: int = FULL_QUALITY) -> str:
    """8-bit RGB codes as a base64 JPEG (``kind`` "jpeg") or PNG data URI."""
    bgr = cv2.cvtColor(codes, cv2.COLOR_RGB2BGR)
    options = [cv2.IMWRITE_JPEG_QUALITY, quality] if kind == "jpeg" else []
    ok, data = cv2.imencode(f".{'jpg' if kind == 'jpeg' else 'png'}", bgr, options)
    assert ok
    return f"data:image/{kind};base64," + base64.b64encode(data.tobytes()).decode()


def _views(rgb: np.ndarray, working_space: str, lossless: bool = False) -> tuple[str, str]:
    """A scene-linear (H, W, 3) image as (thumbnail, full-size) data URIs, sRGB: a JPEG
    THUMB_WIDTH wide and the full size (JPEG, or PNG when ``lossless``)."""
    height, width = rgb.shape[:2]
    codes = display_8bit(np.ascontiguousarray(rgb, np.float32), working_space)
    size = (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width)))
    small = cv2.resize(codes, size, interpolation=cv2.INTER_AREA) if width > THUMB_WIDTH else codes
    return (_data_uri(small, "jpeg", THUMB_QUALITY),
            _data_uri(codes, "png") if lossless else _data_uri(codes, "jpeg"))


def _frame_views(spec: ShotSpec):
    """Per frame of the shot: (frame, [(caption, thumbnail URI, full-size URI), ...]),
    source | alpha | comp, streamed."""
    working = spec.working_space
    element = open_source(spec.outputs.element, spec.frames, working_space=working)
    comp = open_source(spec.outputs.comp, spec.frames, working_space=working) if spec.outputs.comp else None
    source = None
    if spec.element.mode in ("key", "edit"):
        from vfxkey.shot.inputs import open_input

        source = open_input(spec, spec.frames, None)
    for frame in element:
        rgba = frame.premultiplied_rgba()
        alpha = rgba[..., 3]
        views = []
        if source is not None:
            views.append(("source", *_views(source.read(frame.number).rgb, working)))
        if source is None or comp is None:
            views.append(("element over checkerboard", *_views(over(rgba, checkerboard(*alpha.shape)), working)))
        views.append(("alpha", *_views(np.repeat(alpha[..., None], 3, axis=-1), working, lossless=True)))
        if comp is not None:
            views.append(("comp over plate", *_views(comp.read(frame.number).rgb, working)))
        yield frame.number, views


def _js(text: str) -> str:
    """``text`` as a JavaScript string literal that cannot close the script element."""
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e")


def _number(value, digits: str = ".4f") -> str:
    return "" if value is None else format(value, digits)


def _facts(figures: list[dict]) -> str:
    """The render facts as table rows: each distinct value with the frames that carry it."""
    rows = []
    for name, key in (("host", "host"), ("vfxkey version", "version"), ("element settings hash", "settings_hash")):
        values: dict[str, list[int]] = {}
        for f in figures:
            values.setdefault(f[key] or "(not recorded)", []).append(f["frame"])
        text = "<br>".join(f"{html.escape(v)}" + (f" (frames {FrameRange.of(fr)})" if len(values) > 1 else "")
                           for v, fr in values.items())
        rows.append(f"<tr><th>{name}</th><td>{text}</td></tr>")
    written = sorted(f["written"] for f in figures if f["written"])
    rows.append(f"<tr><th>written (EXR DateTime)</th><td>{html.escape(written[0]) if written else '(not recorded)'}"
                + (f" to {html.escape(written[-1])}" if written and written[-1] != written[0] else "") + "</td></tr>")
    return "".join(rows)


def _frame_table(figures: list[dict], flagged: dict[int, list[str]]) -> str:
    head = ("frame", "verdicts", "exposure (stops)", "colour (tol.)", "GSG", "soft alpha", "flicker", "spill",
            "host", "written")
    rows = []
    for f in figures:
        cells = (str(f["frame"]), " ".join(f["verdicts"]) or "-", _number(f["screen_exposure"], ".3f"),
                 _number(f["screen_shift"], ".3f"), _number(f["gsg"]), _number(f["soft_fraction"], ".3f"),
                 _number(f["flicker"]), _number(f["spill"]), f["host"], f["written"])
        flag = " class=flag" if f["frame"] in flagged else ""
        rows.append(f"<tr{flag} id=row-{f['frame']}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                    + "</tr>")
    return ("<table class=numbers><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows)
            + "</table>")


@shot_config
def report_html(spec: ShotSpec) -> str:
    """The whole page as one HTML document (no external references)."""
    figures = frame_figures(spec)
    flagged = suspicious_frames(figures)
    esc = html.escape
    rows = "".join(f"<tr><td><a href='#frame-{frame}'>{frame}</a></td><td>{'<br>'.join(esc(r) for r in reasons)}"
                   "</td></tr>" for frame, reasons in sorted(flagged.items()))
    suspicious = (f"<table><tr><th>frame</th><th>why</th></tr>{rows}</table>" if rows
                  else "<p class=ok>No frame looks wrong.</p>")
    words = "".join(f"<tr><th>{esc(name)}</th><td>{esc(what)}</td><td>{esc(good)}</td></tr>"
                    for name, what, good in FIGURE_WORDS)
    frames = []
    for index, (number, views) in enumerate(_frame_views(spec)):
        flag = " flag" if number in flagged else ""
        frames.append(
            f"<div class='frame{flag}' id=frame-{number} data-page={index // PAGE_FRAMES}><h3>{number}</h3>"
            + "".join(f"<figure><a href='#' class=open data-full='{full}' data-title='frame {number}: {esc(caption)}'>"
                      f"<img src='{thumb}' alt='{esc(caption)} {number}'></a><figcaption>{esc(caption)}</figcaption>"
                      "</figure>" for caption, thumb, full in views)
            + "</div>")
    pages = (len(frames) + PAGE_FRAMES - 1) // PAGE_FRAMES
    hashes = sorted({f["settings_hash"] for f in figures if f["settings_hash"]})
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8><title>QC {esc(spec.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; background: #fafafa; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
table.numbers td {{ font-family: monospace; font-size: 12px; }} tr.flag td {{ background: #fde8e8; }}
.frame {{ display: flex; gap: 8px; align-items: flex-start; margin-bottom: 8px; }}
.frame.flag h3 {{ color: {FLAG_COLOUR}; }} .frame h3 {{ width: 60px; margin: 0; font-size: 14px; }}
.frame[hidden] {{ display: none; }}
figure {{ margin: 0; }} figcaption {{ font-size: 11px; color: #555; }} img {{ display: block; }}
.ok {{ color: #2a7; }}
#full {{ position: fixed; inset: 0; background: #111; color: #eee; overflow: auto; z-index: 9; }}
#full img {{ margin: 0; }} #full p {{ margin: 4px 8px; font-size: 13px; }}
textarea {{ width: 100%; max-width: 800px; }}
@media print {{ .pager, #export, #full {{ display: none; }} .frame[hidden] {{ display: flex; }} }}
</style></head><body>
<h1>QC: {esc(spec.name)}</h1>
<p>frames {spec.frames} &middot; {esc(spec.element.mode)} &middot; working space {esc(spec.working_space)}
&middot; element {esc(spec.outputs.element)} &middot; page by vfxkey {esc(__version__)}</p>
<h2>Render facts</h2>
<table>{_facts(figures)}</table>
<h2>Suspicious frames</h2>
{suspicious}
<h2>Per-frame figures</h2>
{_plots_svg(figures, flagged)}
<h3>What the figures mean</h3>
<table><tr><th>figure</th><th>what it is</th><th>good</th></tr>{words}</table>
<h2>Per-frame table</h2>
{_frame_table(figures, flagged)}
<h2>Frames: source | alpha | comp</h2>
<p class=pager>{PAGE_FRAMES} frames a page; click an image for its full size (Esc or click to close).
<button id=prev>&larr;</button> page <span id=page>1</span> of {pages} <button id=next>&rarr;</button></p>
{"".join(frames)}
<h2>Sign-off</h2>
<p><label><input type=checkbox id=approved> approved</label></p>
<p><textarea id=notes rows=6 placeholder="notes for the artist"></textarea></p>
<p id=export><button id=save>save sign-off (.txt)</button> <button onclick="window.print()">print</button></p>
<div id=full hidden></div>
<script>
(function () {{
  var shot = {_js(spec.name)}, frames = {_js(str(spec.frames))}, hashes = {_js(' '.join(hashes))};
  var page = 0, pages = {pages}, rows = document.querySelectorAll(".frame"), full = document.getElementById("full");
  function show(p) {{
    page = Math.max(0, Math.min(pages - 1, p));
    rows.forEach(function (r) {{ r.hidden = Number(r.dataset.page) !== page; }});
    document.getElementById("page").textContent = page + 1;
  }}
  function open(link) {{
    full.innerHTML = "";
    var title = document.createElement("p"), img = document.createElement("img");
    title.textContent = link.dataset.title + " (full size; click or Esc to close)"; img.src = link.dataset.full;
    full.appendChild(img); full.appendChild(title); full.hidden = false;
  }}
  document.getElementById("prev").onclick = function () {{ show(page - 1); }};
  document.getElementById("next").onclick = function () {{ show(page + 1); }};
  document.querySelectorAll("a.open").forEach(function (a) {{
    a.onclick = function (e) {{ e.preventDefault(); open(a); }};
  }});
  full.onclick = function () {{ full.hidden = true; }};
  document.addEventListener("keydown", function (e) {{ if (e.key === "Escape") full.hidden = true; }});
  document.getElementById("save").onclick = function () {{
    var text = "shot: " + shot + "\\nframes: " + frames + "\\nelement settings hash: " + hashes +
      "\\napproved: " + (document.getElementById("approved").checked ? "yes" : "no") +
      "\\nnotes:\\n" + document.getElementById("notes").value + "\\n";
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], {{type: "text/plain"}}));
    link.download = shot + "_qc_signoff.txt"; link.click();
  }};
  // #frame-N shows N's page; #full-N-K opens view K (0: source) of frame N, for links and tests.
  var hash = location.hash.match(/^#(frame|full)-(\\d+)(?:-(\\d+))?$/), target = hash && document.getElementById("frame-" + hash[2]);
  show(target ? Number(target.dataset.page) : 0);
  if (target && hash[1] === "full") open(target.querySelectorAll("a.open")[Number(hash[3] || 0)]);
}})();
</script>
</body></html>
"""


def write_report(spec: ShotSpec, path: str) -> str:
    """Write the QC page of the rendered shot to ``path`` atomically; return the path."""
    text = report_html(spec)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path
