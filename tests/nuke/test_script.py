"""Comp scripts and snippets read back with the tests' own .nk reader (tests/nuke/nk_reader.py)."""

import os
import re
from fractions import Fraction

import PyOpenColorIO as ocio
import pytest
from nuke_files import FRAMES, make_comp, write_plate_png
from nk_reader import curve_value, knob_text, read_nk, words

from vfxkey.errors import VfxkeyError
from vfxkey.nuke.check import comp_problems
from vfxkey.nuke.comp import Footage, Format, Placement, PlacementKey
from vfxkey.nuke.paths import SCRIPT_FOLDER, PathMap
from vfxkey.nuke.script import comp_script, snippet_script, write_script
from vfxkey.nuke.tcl import literal, quote


def expand(pattern: str, frame: int) -> str:
    """The file of ``frame``, by the tests' own reading of ``####`` and ``%04d``."""
    pattern = re.sub(r"#+", lambda m: f"{frame:0{len(m[0])}d}", pattern)
    return re.sub(r"%0(\d+)d", lambda m: f"{frame:0{int(m[1])}d}", pattern)


def test_comp_script_wires_element_over_plate(shot_dir, tmp_path):
    comp = make_comp(shot_dir)
    path = write_script(comp, tmp_path / "comp dir" / "sh010 comp.nk")
    nodes = read_nk(open(path).read())

    merge = nodes["Merge_over"]
    assert merge.cls == "Merge2" and merge.knobs["operation"] == "over"
    plate, transform = merge.inputs  # input 0 = B, input 1 = A
    assert plate.name == "Read_plate" and plate.cls == "Read"
    assert transform.cls == "Transform" and transform.inputs[0].name == "Read_element"
    for write in ("Write_comp", "Viewer1"):
        assert nodes[write].inputs == [merge]
    assert plate.inputs == [] and nodes["Read_element"].inputs == []


def test_comp_script_knobs(shot_dir):
    comp = make_comp(shot_dir)
    nodes = read_nk(comp_script(comp))

    root = nodes["Root"].knobs
    assert (root["first_frame"], root["last_frame"]) == ("1001", "1004")
    assert float(root["fps"]) == pytest.approx(24000 / 1001, abs=1e-9)
    assert root["format"].split()[:7] == ["64", "36", "0", "0", "64", "36", "1"]
    assert root["colorManagement"] == "OCIO" and root["OCIO_config"] == "custom"
    assert root["customOCIOConfigPath"] == "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4"
    assert root["workingSpaceLUT"] == "ACEScg"

    element = nodes["Read_element"].knobs
    assert element["file"] == str(shot_dir / "element" / "el_%04d.exr")
    assert [element[k] for k in ("first", "last", "origfirst", "origlast", "origset")] == \
        ["1001", "1004", "1001", "1004", "true"]
    assert element["colorspace"] == "ACEScg" and element["premultiplied"] == "true"
    plate = nodes["Read_plate"].knobs
    assert plate["file"] == str(shot_dir / "plate" / "plate.####.png")
    assert plate["colorspace"] == "sRGB Encoded Rec.709 (sRGB)" and plate["premultiplied"] == "false"

    write = nodes["Write_comp"].knobs
    assert write["file"] == str(shot_dir / "nuke" / "comp.####.exr")
    assert (write["file_type"], write["datatype"], write["channels"]) == ("exr", "16 bit half", "rgba")
    assert write["compression"] == "PIZ Wavelet (32 scanlines)" and write["create_directories"] == "true"
    assert list(write).index("file_type") < list(write).index("datatype")  # file_type makes the EXR knobs
    assert "Write_prores" not in nodes

    # Every Read's file exists on disk, frame by frame.
    for read in (nodes["Read_plate"], nodes["Read_element"]):
        for frame in range(int(read.knobs["first"]), int(read.knobs["last"]) + 1):
            assert os.path.isfile(expand(read.knobs["file"], frame))


def test_colour_spaces_are_names_of_the_config_the_script_names(shot_dir):
    nodes = read_nk(comp_script(make_comp(shot_dir)))
    config = ocio.Config.CreateFromFile(nodes["Root"].knobs["customOCIOConfigPath"])
    for node, knob in (("Root", "workingSpaceLUT"), ("Read_plate", "colorspace"),
                       ("Read_element", "colorspace"), ("Write_comp", "colorspace")):
        assert config.getColorSpace(nodes[node].knobs[knob]) is not None, (node, knob)


def test_placement_keys_become_linear_curves(shot_dir):
    keys = (PlacementKey(1001, (0.0, 0.0), 0.0, (1.0, 1.0)),
            PlacementKey(1003, (20.0, -4.0), 10.0, (2.0, 1.5)))
    nodes = read_nk(comp_script(make_comp(shot_dir, placement=Placement(keys=keys, center=(32.0, 18.0)))))
    knobs = nodes["Transform_placement"].knobs
    tx, ty = words(knobs["translate"])
    sx, sy = words(knobs["scale"])
    (rotate,) = words(knobs["rotate"])
    # halfway between the keys, and held after the last one
    assert [curve_value(c, 1002) for c in (tx, ty, rotate, sx, sy)] == [10.0, -2.0, 5.0, 1.5, 1.25]
    assert [curve_value(c, 1004) for c in (tx, ty, rotate, sx, sy)] == [20.0, -4.0, 10.0, 2.0, 1.5]
    assert words(knobs["center"]) == ["32", "18"]
    assert "2 keys 1001-1003" in knob_text(knobs["label"])


def test_constant_placement_is_plain_numbers(shot_dir):
    keys = (PlacementKey(1001, (5.5, -3.0), 0.0, (0.5, 0.5)),)
    knobs = read_nk(comp_script(make_comp(shot_dir, placement=Placement(keys=keys, center=(1, 2)))))[
        "Transform_placement"].knobs
    assert (words(knobs["translate"]), knobs["rotate"], words(knobs["scale"])) == (["5.5", "-3"], "0", ["0.5", "0.5"])


def test_baked_placement_has_no_transform_and_says_so(shot_dir):
    comp = make_comp(shot_dir, placement=Placement(baked=True))
    nodes = read_nk(comp_script(comp))
    assert not any(node.cls == "Transform" for node in nodes.values())
    assert nodes["Merge_over"].inputs[1].name == "Read_element"
    assert "placement: baked into the element EXRs" in knob_text(nodes["vfxkey_sh010"].knobs["label"])


def test_backdrop_label_shows_shot_mode_settings_version_literally(shot_dir):
    settings = (("prompt", 'a "red" [fox] $5 {x} C:\\tmp'), ("seed", "42"))
    nodes = read_nk(comp_script(make_comp(shot_dir, mode="generate", settings=settings)))
    backdrop = nodes["vfxkey_sh010"]
    assert backdrop.cls == "BackdropNode" and backdrop.knobs["inputs"] == "0"
    label = knob_text(backdrop.knobs["label"]).splitlines()
    assert label[0] == "sh010: vfxkey generate"
    assert label[2] == 'settings: prompt=a "red" [fox] $5 {x} C:\\tmp, seed=42'
    assert label[3] == "vfxkey 0.1.0"
    # the backdrop encloses every node it is drawn behind
    x, y = int(backdrop.knobs["xpos"]), int(backdrop.knobs["ypos"])
    w, h = int(backdrop.knobs["bdwidth"]), int(backdrop.knobs["bdheight"])
    for node in nodes.values():
        if node.cls not in ("Root", "BackdropNode", "Viewer"):
            assert x <= int(node.knobs["xpos"]) and int(node.knobs["xpos"]) + 80 <= x + w, node.name
            assert y <= int(node.knobs["ypos"]) and int(node.knobs["ypos"]) + 80 <= y + h, node.name


def test_prores_write(shot_dir):
    nodes = read_nk(comp_script(make_comp(shot_dir, prores_write=str(shot_dir / "nuke" / "comp.mov"))))
    write = nodes["Write_prores"]
    # opaque, as vfxkey's own review movie (issue 23): the Unpremult changes nothing where alpha is 1
    assert write.inputs == [nodes["Unpremult_prores"]] and nodes["Unpremult_prores"].inputs == [nodes["Merge_over"]]
    assert (write.knobs["file_type"], write.knobs["mov64_codec"], write.knobs["channels"]) == ("mov", "appr", "rgb")
    assert "4:4:4:4" in write.knobs["mov_prores_codec_profile"]
    with pytest.raises(VfxkeyError, match=r"\.mov"):
        make_comp(shot_dir, prores_write=str(shot_dir / "comp.mp4"))


def test_snippet_pastes_merge_over_the_selected_node(shot_dir):
    from nk_reader import Node

    selected = Node("Read", {"name": "MyPlate"})
    nodes = read_nk(snippet_script(make_comp(shot_dir)), selected=selected)
    assert {node.cls for node in nodes.values()} == {"Read", "Transform", "Merge2"}
    merge = nodes["Merge_over"]
    assert merge.inputs[0] is selected and merge.inputs[1].cls == "Transform"
    assert merge.inputs[1].inputs[0].name == "Read_element"
    # pasted with nothing selected, B is left unconnected
    assert read_nk(snippet_script(make_comp(shot_dir)))["Merge_over"].inputs[0] is None


@pytest.mark.parametrize("text", ["plain", "with space", 'quote " and \\ backslash', "tab\tand\nnewline",
                                  "[getenv SHOW]/x $HOME {braces}"])
def test_quote_round_trips_through_the_reader(text):
    assert words(f"label {quote(text)}") == ["label", text]
    assert knob_text(words(f"label {quote(literal(text))}")[1]) == text


def test_paths_with_spaces_and_frame_tokens_round_trip(tmp_path):
    folder = tmp_path / "shots with spaces" / "sh 010"
    for frame in FRAMES:
        write_plate_png(folder / f"my plate_v001.{frame:04d}.png")
    for pattern in ("my plate_v001.####.png", "my plate_v001.%04d.png"):
        footage = Footage(str(folder / pattern), "sequence", FRAMES, Format(64, 36), "sRGB Encoded Rec.709 (sRGB)")
        comp = make_comp(tmp_path, plate=footage)
        knob = read_nk(comp_script(comp))["Read_plate"].knobs["file"]
        assert knob == str(folder / pattern)
        assert all(os.path.isfile(expand(knob, f)) for f in FRAMES)


def test_path_map_roots(tmp_path):
    show = tmp_path / "show"
    path_map = PathMap(((str(show), "[getenv SHOW_ROOT]"), (str(tmp_path / "scripts"), SCRIPT_FOLDER),
                        (str(tmp_path / "win"), "Z:\\projects\\show")))
    assert path_map.nuke_path(str(show / "sh010" / "plate.####.exr")) == "[getenv SHOW_ROOT]/sh010/plate.####.exr"
    assert path_map.nuke_path(str(tmp_path / "scripts" / "el.%04d.exr")) == \
        "[file dirname [value root.name]]/el.%04d.exr"
    assert path_map.nuke_path(str(tmp_path / "win" / "a b" / "c.####.exr")) == "Z:/projects/show/a b/c.####.exr"
    assert path_map.nuke_path("D:\\plates\\p.####.dpx") == "D:/plates/p.####.dpx"
    assert path_map.nuke_path(str(tmp_path / "elsewhere.exr")) == str(tmp_path / "elsewhere.exr")
    # written into a script, the TCL root survives the load and is evaluated by Nuke later
    line = f"file {quote(path_map.nuke_path(str(show / 'p.####.exr')))}"
    assert line.startswith('file "\\[getenv SHOW_ROOT]/')
    assert words(line)[1] == "[getenv SHOW_ROOT]/p.####.exr"


@pytest.mark.parametrize("name", ["plate[v2].####.exr", "cost$1.exr", "two\nlines.exr"])
def test_paths_nuke_would_evaluate_are_refused(tmp_path, name):
    with pytest.raises(VfxkeyError, match="Nuke evaluates"):
        PathMap().nuke_path(str(tmp_path / name))


def test_check_lists_missing_and_foreign_files(shot_dir):
    comp = make_comp(shot_dir)
    assert comp_problems(comp) == []
    os.remove(shot_dir / "element" / "el_1002.exr")
    os.remove(shot_dir / "element" / "el_1003.exr")
    write_plate_png(shot_dir / "element" / "el_1004.exr")  # an EXR name, but not vfxkey's file
    os.remove(shot_dir / "plate" / "plate.1001.png")
    problems = comp_problems(comp)
    element = str(shot_dir / "element" / "el_%04d.exr")
    assert problems == [
        f"plate {shot_dir / 'plate' / 'plate.####.png'}: frames 1001 missing",
        f"element {element}: frames 1002-1003 missing",
        f"element {element}: frames 1004 not written by vfxkey (no vfxkey:version)",
    ]


def test_comp_validation(shot_dir):
    with pytest.raises(VfxkeyError, match="compression"):
        make_comp(shot_dir, compression="b44")
    with pytest.raises(VfxkeyError, match="fps"):
        make_comp(shot_dir, fps=Fraction(0))
    with pytest.raises(VfxkeyError, match="increasing"):
        Placement(keys=(PlacementKey(1002), PlacementKey(1001)))
    with pytest.raises(VfxkeyError, match="baked"):
        Placement()


def test_a_reformatted_plate_goes_through_a_reformat(shot_dir):
    small = Format(32, 18)
    nodes = read_nk(comp_script(make_comp(shot_dir, format=small, plate_reformat=small)))
    reformat = nodes["Merge_over"].inputs[0]
    assert reformat.cls == "Reformat" and reformat.inputs[0].name == "Read_plate"
    assert reformat.knobs["format"].split()[:2] == ["32", "18"] and reformat.knobs["resize"] == "distort"
    assert nodes["Root"].knobs["format"].split()[:2] == ["32", "18"]
    with pytest.raises(VfxkeyError, match="reformatted"):
        make_comp(shot_dir, plate_reformat=small)  # the script's format must be the reformat's


def test_without_a_plate_b_is_left_for_the_artist(shot_dir):
    comp = make_comp(shot_dir, plate=None)
    nodes = read_nk(comp_script(comp))
    merge = nodes["Merge_over"]
    assert merge.inputs[0] is None and merge.inputs[1].cls == "Transform"
    assert "Read_plate" not in nodes and comp_problems(comp) == []


def test_windows_paths_are_normalised_then_mapped_without_regard_to_case():
    path_map = PathMap(((r"Z:\Show", "[getenv SHOW]"), ("//SRV/plates", "P:/plates")))
    assert path_map.nuke_path(r"z:\show\sh010\p.####.exr") == "[getenv SHOW]/sh010/p.####.exr"
    assert path_map.nuke_path("Z:/SHOW/sh010/../sh020/p.%04d.exr") == "[getenv SHOW]/sh020/p.%04d.exr"
    assert path_map.nuke_path(r"\\srv\Plates\a b\p.####.dpx") == "P:/plates/a b/p.####.dpx"
    assert path_map.nuke_path(r"D:\other\p.exr") == "D:/other/p.exr"  # under no prefix


def test_frame_tokens_as_nuke_reads_them(tmp_path):
    assert PathMap().nuke_path(str(tmp_path / "p.@@@@.exr")) == str(tmp_path / "p.####.exr")
    assert PathMap().nuke_path(str(tmp_path / "p_@.exr")) == str(tmp_path / "p_#.exr")
    for folder in ("take#2", "100%done", "el_%04d"):
        with pytest.raises(VfxkeyError, match="folder name as a frame number"):
            PathMap().nuke_path(str(tmp_path / folder / "p.####.exr"))
    with pytest.raises(VfxkeyError, match="backslash"):
        PathMap().nuke_path(str(tmp_path / "a\\b" / "p.####.exr"))


def test_script_folder_paths_are_relative_to_the_script(tmp_path):
    shot = tmp_path / "shot"
    path_map = PathMap(((str(shot), SCRIPT_FOLDER),)).for_script(shot / "render" / "sh010.nk")
    assert path_map.nuke_path(str(shot / "render" / "el.####.exr")) == f"{SCRIPT_FOLDER}/el.####.exr"
    assert path_map.nuke_path(str(shot / "plate.png")) == f"{SCRIPT_FOLDER}/../plate.png"


@pytest.mark.parametrize("prefix, live", [
    ("[getenv SHOW]", False), ("[getenv SHOW]/plates", False), (SCRIPT_FOLDER, False),
    (SCRIPT_FOLDER + "/..", False), ("Z:/show", False), ("/mnt/show", False),
    ("[exec sh -c {touch /tmp/x}]", True), ("[getenv SHOW][exec id]", True), ("$env(HOME)", True),
    ("/mnt/[getenv SHOW]", True), ("[getenv SHOW]/$x", True),
])
def test_live_tcl(prefix, live):
    from vfxkey.nuke.paths import live_tcl

    assert live_tcl(prefix) is live


def test_plate_is_opaque_and_the_comp_write_keeps_metadata(shot_dir):
    nodes = read_nk(comp_script(make_comp(shot_dir)))
    assert nodes["Read_plate"].knobs["auto_alpha"] == "true"  # Merge over then gives alpha 1, as vfxkey's comp
    assert "auto_alpha" not in nodes["Read_element"].knobs  # the element has its own alpha
    assert knob_text(nodes["Write_comp"].knobs["metadata"]) == "all metadata"


def test_the_dag_reads_top_to_bottom(shot_dir):
    nodes = read_nk(comp_script(make_comp(shot_dir, prores_write=str(shot_dir / "nuke" / "comp.mov"))))
    placed = {name: (int(n.knobs["xpos"]), int(n.knobs["ypos"])) for name, n in nodes.items()
              if n.cls not in ("Root", "BackdropNode")}
    for name, node in nodes.items():
        for source in node.inputs:
            if source is not None and node.cls != "Viewer":
                assert placed[source.name][1] < placed[name][1], (source.name, name)  # inputs above
    spots = list(placed.values())
    for i, (x, y) in enumerate(spots):  # no two nodes on top of each other (a node is ~80 x 80)
        assert all(abs(x - x2) >= 80 or abs(y - y2) >= 80 for x2, y2 in spots[i + 1:]), (x, y)
