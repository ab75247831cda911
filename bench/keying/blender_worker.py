"""Blender's compositor Keying node as a keying server, run by Blender's own Python (``bpy``).

Not imported by the bench: ``bench.keying.peers.BlenderKeying`` starts it as
``<bpy python> bench/keying/blender_worker.py`` (bpy 4.5 LTS needs Python 3.11 and is large,
so it lives in an environment of its own: bench/keying/requirements-blender.txt) and talks
to it over stdin/stdout, one JSON object a line:

    request:  {"image": "in.png", "output": "out.exr", "inputs": {"Key Color": [r, g, b], "Key Balance": 0.5, ...}}
    reply:    KEYED {"seconds": 0.21}

The compositor tree is Image -> Keying -> Composite, nothing else: no render layer, so
Blender composites without rendering the scene. The 8-bit sRGB PNG is read by Blender as
an artist's would be (its "sRGB" colour space, linearised to scene-linear Rec.709) and the
node's Image output (the despilled colour times the matte: premultiplied, as Blender's
compositor keeps colour) is written as 32-bit float RGBA EXR, scene-linear Rec.709.
Inputs are named by their socket identifiers (the node's "Blur Size" and "Balance" labels
appear twice); an input not named keeps Blender's default.
"""

from __future__ import annotations

import json
import sys
import time

import bpy

MARK = "KEYED "  # Blender prints its own progress lines on stdout; replies start with this


def build_tree(scene: bpy.types.Scene) -> tuple[bpy.types.Node, bpy.types.Node]:
    """An empty compositor tree with Image -> Keying -> Composite; returns (image node, keying node)."""
    scene.use_nodes = True
    tree = scene.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    source = tree.nodes.new("CompositorNodeImage")
    keying = tree.nodes.new("CompositorNodeKeying")
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(source.outputs["Image"], keying.inputs["Image"])
    tree.links.new(keying.outputs["Image"], composite.inputs["Image"])
    settings = scene.render.image_settings
    settings.file_format, settings.color_depth, settings.color_mode, settings.exr_codec = "OPEN_EXR", "32", "RGBA", "NONE"
    scene.render.resolution_percentage = 100
    return source, keying


def key(scene: bpy.types.Scene, source: bpy.types.Node, keying: bpy.types.Node, request: dict) -> float:
    """Key one image as the request says; return the seconds the compositor and the write took."""
    old = source.image
    source.image = bpy.data.images.load(request["image"])
    source.image.colorspace_settings.name = "sRGB"
    if old is not None:
        bpy.data.images.remove(old)
    defaults = {socket.identifier: socket for socket in keying.inputs}
    for identifier, value in request.get("inputs", {}).items():
        socket = defaults[identifier]
        socket.default_value = (*value, 1.0) if identifier == "Key Color" else value
    scene.render.resolution_x, scene.render.resolution_y = source.image.size[:]
    scene.render.filepath = request["output"]
    start = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    return time.perf_counter() - start


def main() -> None:
    scene = bpy.context.scene
    source, keying = build_tree(scene)
    for line in sys.stdin:
        if not line.strip():
            continue
        seconds = key(scene, source, keying, json.loads(line))
        print(MARK + json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
