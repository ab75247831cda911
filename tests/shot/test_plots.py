"""The QC report's plain-SVG plots: one panel per figure, gaps at missing values, flagged
frames ringed, limits drawn; valid SVG (parsed as XML)."""

import math
import xml.etree.ElementTree as ET

from vfxkey.shot.plots import line_plots_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_panels_gaps_flags_and_limits():
    frames = [1001, 1002, 1003, 1004, 1005]
    svg = line_plots_svg(frames, {"GSG": [0.1, 0.2, math.nan, 0.4, 0.5], "flat": [1.0] * 5}, {1004},
                         colour="#1f77b4", flag_colour="#d62728", limits={"GSG": [0.45]})
    root = ET.fromstring(svg)
    assert root.get("height") == "300"  # two panels of 150
    lines = root.findall(f"{SVG}polyline")
    assert [len(p.get("points").split()) for p in lines] == [2, 2, 5]  # NaN at 1003 breaks the GSG line
    points = root.findall(f"{SVG}circle")
    assert len([c for c in points if c.get("fill") == "#1f77b4"]) == 9  # every finite value
    rings = [c for c in points if c.get("stroke") == "#d62728"]
    assert len(rings) == 2  # frame 1004 on both panels
    dashed = [line for line in root.findall(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 1
    # Higher values sit higher (smaller y): 0.5 at 1005 above 0.1 at 1001, the limit between.
    first, last = (float(v.split(",")[1]) for v in (lines[0].get("points").split()[0], lines[1].get("points").split()[-1]))
    assert last < float(dashed[0].get("y1")) < first
    assert [t.text for t in root.findall(f"{SVG}text")][:1] == ["GSG"]
