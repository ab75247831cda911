"""Per-frame line plots as plain inline SVG, for the QC report.

Written by hand rather than with a plotting library so that the core install (key, render,
QC) stays small: a panel per figure, frame numbers along x, the figure's own range along y,
a point per frame, missing values (NaN) leaving a gap, and flagged frames ringed.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

PANEL_WIDTH = 760  # SVG user units (pixels at 100 %)
PANEL_HEIGHT = 150
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 24, 26
GRID_COLOUR = "#dddddd"
TEXT_COLOUR = "#333333"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round values spanning ``low``..``high`` (1, 2 or 5 times a power of ten)."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=10 * power)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:.3g}"


def line_plots_svg(frames: Sequence[int], series: Mapping[str, Sequence[float]], flagged: set[int],
                   *, colour: str, flag_colour: str, limits: Mapping[str, Sequence[float]] | None = None) -> str:
    """One SVG with a panel per entry of ``series`` (title -> one value per frame, NaN = none).

    ``frames`` are the x values (shot frame numbers); frames in ``flagged`` get a larger
    ``flag_colour`` ring on every panel where they have a value; ``limits`` (title ->
    values) are drawn across their panel as dashed ``flag_colour`` lines.
    """
    limits = limits or {}
    inner_w = PANEL_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    inner_h = PANEL_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    first, last = min(frames), max(frames)
    x_span = max(last - first, 1)

    def x_of(frame: int) -> float:
        return MARGIN_LEFT + (frame - first) / x_span * inner_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{PANEL_WIDTH}" '
             f'height="{PANEL_HEIGHT * len(series)}" font-family="sans-serif" font-size="11">']
    for index, (title, values) in enumerate(series.items()):
        top = index * PANEL_HEIGHT
        lines = list(limits.get(title, ()))
        finite = [v for v in (*values, *lines) if math.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if high - low < 1e-12:  # a flat line sits mid-panel
            low, high = low - 0.5 * (abs(low) or 1.0), high + 0.5 * (abs(high) or 1.0)

        def y_of(value: float, top=top, low=low, high=high) -> float:
            return top + MARGIN_TOP + (high - value) / (high - low) * inner_h

        parts.append(f'<text x="{MARGIN_LEFT}" y="{top + 15}" fill="{TEXT_COLOUR}" font-size="12">'
                     f'{html.escape(title, quote=False)}</text>')
        for tick in _ticks(low, high):
            y = y_of(tick)
            parts.append(f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + inner_w}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{GRID_COLOUR}"/>'
                         f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT_COLOUR}">'
                         f'{_label(tick)}</text>')
        for tick in _ticks(first, last, 8):
            if tick == int(tick):
                parts.append(f'<text x="{x_of(int(tick)):.1f}" y="{top + PANEL_HEIGHT - 8}" text-anchor="middle" '
                             f'fill="{TEXT_COLOUR}">{int(tick)}</text>')
        for limit in lines:
            y = y_of(limit)
            parts.append(f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + inner_w}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{flag_colour}" stroke-dasharray="5,4"/>')
        run: list[str] = []  # consecutive finite points: one polyline each, NaN breaks it
        for frame, value in [*zip(frames, values), (None, math.nan)]:
            if frame is not None and math.isfinite(value):
                run.append(f"{x_of(frame):.1f},{y_of(value):.1f}")
                continue
            if run:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            run = []
        for frame, value in zip(frames, values):
            if not math.isfinite(value):
                continue
            cx, cy = x_of(frame), y_of(value)
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}"><title>frame {frame}: '
                         f'{_label(value)}</title></circle>')
            if frame in flagged:
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="none" stroke="{flag_colour}" '
                             f'stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
