"""`vfxkey nuke` on real shots: rendered by `vfxkey render`, read back by the tests' .nk reader."""

import math
import os

import numpy as np
import PyOpenColorIO as ocio
import pytest
from click.testing import CliRunner
from nk_reader import curve_value, knob_text, read_nk, words
from nuke_files import make_key_shot, write_plate_png

from vfxkey.cli import main
from vfxkey.errors import VfxkeyError
from vfxkey.io.colour import CONFIG_URI
from vfxkey.io.write import write_exr

from vfxkey.comp.transform import place
from vfxkey.nuke.shot import nuke_render_path, write_shot_script
from vfxkey.shot.spec import load_spec


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The key shot rendered for real (elements, comps, movie and, by finalize, the script)."""
    spec = make_key_shot(tmp_path_factory.mktemp("shots") / "show a" / "sh010")
    result = cli("render", spec)
    assert result.exit_code == 0, result.output
    return spec


def test_render_writes_the_script_and_it_wires_the_render(rendered):
    folder = rendered.parent
    nodes = read_nk((folder / "render" / "sh010.nk").read_text())  # written by finalize
    merge = nodes["Merge_over"]
    assert merge.knobs["operation"] == "over"
    assert merge.inputs[0].name == "Read_plate"
    assert merge.inputs[1].cls == "Transform" and merge.inputs[1].inputs[0].name == "Read_element"

    root = nodes["Root"].knobs
    assert (root["first_frame"], root["last_frame"], root["OCIO_config"]) == \
        ("1001", "1003", "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1")
    assert float(root["fps"]) == pytest.approx(24000 / 1001, abs=1e-9)
    element = nodes["Read_element"].knobs
    assert element["file"] == str(folder / "render" / "sh010_el.####.exr")
    assert (element["colorspace"], element["premultiplied"]) == ("ACEScg", "true")
    assert element["format"].split()[:2] == ["64", "48"]
    plate = nodes["Read_plate"].knobs
    assert plate["file"] == str(folder / "plate.png")
    assert plate["colorspace"] == "sRGB - Texture"  # as vfxkey read the PNG, in the v1.0.0 config
    assert (plate["first"], plate["last"], plate["before"], plate["after"]) == ("1", "1", "hold", "hold")
    assert os.path.isfile(plate["file"])
    for frame in (1001, 1002, 1003):
        assert os.path.isfile(element["file"].replace("####", str(frame)))

    write = nodes["Write_comp"].knobs
    assert write["file"] == str(folder / "render" / "sh010_comp_nuke.####.exr")  # never vfxkey's own comp
    assert (write["datatype"], write["channels"], write["compression"]) == ("16 bit half", "rgba",
                                                                            "Zip (16 scanlines)")
    assert nodes["Write_prores"].knobs["file"] == str(folder / "render" / "sh010_comp_nuke.mov")
    label = knob_text(nodes["vfxkey_sh010"].knobs["label"])
    assert label.startswith("sh010: vfxkey key\nplacement: Transform, 2 keys 1001-1003")
    assert "screen=auto" in label and label.endswith("vfxkey 0.1.0")


def nuke_transform(knobs, frame, point):
    """Where Nuke's Transform puts ``point`` (Nuke coordinates, y up) at ``frame``."""
    (tx, ty), (sx, sy) = words(knobs["translate"]), words(knobs["scale"])
    (rotate,) = words(knobs["rotate"]) if knobs["rotate"].startswith("{") else (knobs["rotate"],)
    cx, cy = map(float, words(knobs["center"]))
    theta = math.radians(curve_value(rotate, frame))
    dx, dy = (point[0] - cx) * curve_value(sx, frame), (point[1] - cy) * curve_value(sy, frame)
    return (cx + curve_value(tx, frame) + dx * math.cos(theta) - dy * math.sin(theta),
            cy + curve_value(ty, frame) + dx * math.sin(theta) + dy * math.cos(theta))


@pytest.mark.parametrize("pivot", [None, (40.0, 18.0)])
def test_the_transform_puts_the_element_where_vfxkey_places_it(rendered, tmp_path, pivot):
    spec_file = rendered
    if pivot is not None:  # off the centre, near the block
        spec_file = rendered.parent / "pivot.toml"
        spec_file.write_text(rendered.read_text().replace("[placement]\n", f"[placement]\npivot = {list(pivot)}\n"))
    spec = load_spec(spec_file)
    assert spec.placement.base.pivot == pivot
    nodes = read_nk(write_shot_script(spec, str(tmp_path / "comp.nk")) and (tmp_path / "comp.nk").read_text())
    knobs = nodes["Transform_placement"].knobs
    height, width = 48, 64
    element = np.zeros((height, width, 4), np.float32)
    element[20:24, 36:40] = 1.0  # a 4x4 block, centre (38, 22) from the top left
    for frame in (1001, 1002, 1003):  # keys, and a frame between them
        transform = spec.placement.at(frame)
        alpha = place(element, (height, width), transform.position, transform.scale, transform.rotation,
                      transform.pivot)[..., 3]
        ys, xs = np.mgrid[0:height, 0:width] + 0.5
        placed = (float((xs * alpha).sum() / alpha.sum()), float((ys * alpha).sum() / alpha.sum()))
        x, y_up = nuke_transform(knobs, frame, (38.0, height - 22.0))
        assert (x, height - y_up) == pytest.approx(placed, abs=0.35), frame


def test_snippet_through_the_cli_with_a_root(rendered, tmp_path):
    out = tmp_path / "paste me.nk"
    result = cli("nuke", rendered, "--snippet", "-o", out, "--root", "[getenv SHOT_ROOT]")
    assert result.exit_code == 0, result.output
    nodes = read_nk(out.read_text())
    assert set(nodes) == {"Read_element", "Transform_placement", "Merge_over"}
    assert nodes["Read_element"].knobs["file"] == "[getenv SHOT_ROOT]/render/sh010_el.####.exr"


def test_missing_and_foreign_element_frames_are_named(rendered, tmp_path):
    folder = tmp_path / "copy"
    spec = make_key_shot(folder)
    render = folder / "render"
    for frame in (1001, 1002):
        rgba = np.zeros((48, 64, 4), np.float32)
        write_exr(render / f"sh010_el.{frame}.exr", rgba, colorspace="ACEScg")
    write_plate_png(render / "sh010_el.1002.exr")  # an EXR name, but not vfxkey's
    result = cli("nuke", spec, "-o", tmp_path / "x.nk")
    assert result.exit_code == 2
    assert "frames 1003 missing" in result.output and "frames 1002 not written by vfxkey" in result.output
    assert str(render / "sh010_el.####.exr") in result.output
    assert not (tmp_path / "x.nk").exists()
    result = cli("nuke", spec, "-o", tmp_path / "x.nk", "--allow-missing")
    assert result.exit_code == 0 and "frames 1003 missing" in result.output
    assert (tmp_path / "x.nk").exists()


def test_ocio_config_file_and_its_names_are_checked(rendered, tmp_path):
    config = tmp_path / "studio.ocio"
    config.write_text(ocio.Config.CreateFromFile(CONFIG_URI).serialize())
    out = tmp_path / "c.nk"
    assert cli("nuke", rendered, "-o", out, "--ocio-config", config).exit_code == 0
    assert read_nk(out.read_text())["Root"].knobs["customOCIOConfigPath"] == str(config)
    newer = "ocio://cg-config-v2.1.0_aces-v1.3_ocio-v2.3"
    result = cli("nuke", rendered, "-o", out, "--ocio-config", newer, "--nuke-version", "15")
    assert result.exit_code == 2 and f"{newer}: needs OCIO 2.3, but Nuke 15 carries OCIO 2.2" in result.output
    # The cg configs have no camera spaces; the review movie's sRGB encoding is in them too
    # (it was Camera Rec.709 before issue 23, refused there).
    result = cli("nuke", rendered, "-o", out, "--ocio-config", "ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1")
    assert result.exit_code == 0, result.output
    assert read_nk(out.read_text())["Write_prores"].knobs["colorspace"] in ("sRGB Encoded Rec.709 (sRGB)",
                                                                         "sRGB - Texture")


def test_nuke_render_paths():
    assert nuke_render_path("/r/comp.####.exr") == "/r/comp_nuke.####.exr"
    assert nuke_render_path("/r/comp_%04d.exr") == "/r/comp_nuke_%04d.exr"
    assert nuke_render_path("/r/comp.mov") == "/r/comp_nuke.mov"


def test_the_spec_names_the_nuke_root_and_path_map(rendered, tmp_path):
    folder = tmp_path / "shot"
    spec_file = make_key_shot(folder)
    (tmp_path / "library").mkdir()
    write_plate_png(tmp_path / "library" / "plate v2.png", 0.3, 64, 48)
    text = spec_file.read_text().replace('path = "plate.png"', 'path = "../library/plate v2.png"')
    spec_file.write_text(text + '\n[nuke]\nroot = "[getenv SHOT_ROOT]"\npath_map = { "../library" = "Z:\\\\lib" }\n')
    spec = load_spec(spec_file)
    assert spec.nuke.path_map == ((str(tmp_path / "shot" / ".." / "library"), "Z:\\lib"),)
    nodes = read_nk(open(write_shot_script(spec, str(tmp_path / "c.nk"), check=False)).read())
    assert nodes["Read_element"].knobs["file"] == "[getenv SHOT_ROOT]/render/sh010_el.####.exr"
    assert nodes["Read_plate"].knobs["file"] == "Z:/lib/plate v2.png"
    # --root on the command line comes first
    result = cli("nuke", spec_file, "-o", tmp_path / "d.nk", "--allow-missing", "--root", "/net/sh010")
    assert result.exit_code == 0, result.output
    assert read_nk((tmp_path / "d.nk").read_text())["Read_element"].knobs["file"] == \
        "/net/sh010/render/sh010_el.####.exr"


@pytest.mark.parametrize("table, words_in_error", [
    ('[nuke]\nroot = ""\n', "[nuke] root: empty"),
    ('[nuke]\npath_map = { "/a" = 3 }\n', "[nuke] path_map: '/a' must map to"),
    ('[nuke]\npath_map = "/a=/b"\n', "[nuke] path_map: must be a table"),
    ('[nuke]\nrooot = "/x"\n', "[nuke] rooot: unknown key"),
])
def test_bad_nuke_tables_name_the_key(tmp_path, table, words_in_error):
    spec_file = make_key_shot(tmp_path)
    spec_file.write_text(spec_file.read_text() + "\n" + table)
    result = cli("nuke", spec_file)
    assert result.exit_code == 2 and words_in_error in result.output, result.output


def test_a_shot_without_a_plate_leaves_b_unconnected(tmp_path):
    spec_file = make_key_shot(tmp_path)
    text = spec_file.read_text().replace('[plate]\npath = "plate.png"\n', "")
    text = text.replace('comp = "render/sh010_comp.####.exr"\nmovie = "render/sh010_comp.mov"\n', "")
    spec_file.write_text(text)
    for frame in (1001, 1002, 1003):
        write_exr(tmp_path / "render" / f"sh010_el.{frame}.exr", np.zeros((48, 64, 4), np.float32),
                  colorspace="ACEScg")
    result = cli("nuke", spec_file)
    assert result.exit_code == 0, result.output
    nodes = read_nk((tmp_path / "render" / "sh010.nk").read_text())
    assert nodes["Merge_over"].inputs[0] is None and "Read_plate" not in nodes
    assert nodes["Root"].knobs["format"].split()[:2] == ["64", "48"]


# Root's OCIO_config choices each Nuke version carries, and its OCIO library. The enum as
# public stand-ins of Nuke 14/15's `nuke` module record it (GitHub code; find_string
# "fn-nuke_studio-config-v1.0.0"): aces_1.2, fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1,
# fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1 (last TAB field: OCIO's built-in
# studio-config-v1.0.0_aces-v1.3_ocio-v2.1), nuke-default, custom. OCIO per version: the VFX
# Reference Platform year on Foundry's Third-Party Libraries pages (see vfxkey/nuke/ocio.py).
NUKE_ENUM_14_16 = {"aces_1.2", "fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1",
                   "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1", "nuke-default", "custom"}
NUKE_CARRIES = {14: ((2, 1), NUKE_ENUM_14_16), 15: ((2, 2), NUKE_ENUM_14_16), 16: ((2, 3), NUKE_ENUM_14_16),
                17: ((2, 4), NUKE_ENUM_14_16)}


def config_nuke_loads(root: dict, version: int) -> ocio.Config:
    """The config Nuke ``version`` would load for this Root, by the rules above (not vfxkey's)."""
    library, enum = NUKE_CARRIES[version]
    choice = root["OCIO_config"]
    assert choice in enum, f"Nuke {version} has no OCIO_config {choice!r}"
    if choice == "custom":
        path = root["customOCIOConfigPath"]
        if path.startswith("ocio://"):
            needs = tuple(map(int, path.rsplit("_ocio-v", 1)[1].split(".")))
            assert library >= max(needs, (2, 2)), f"Nuke {version}'s OCIO {library} cannot load {path}"
        return ocio.Config.CreateFromFile(path)
    return ocio.Config.CreateFromFile("ocio://" + choice.removeprefix("fn-nuke_"))


@pytest.mark.parametrize("version", [None, "14", "15", "16", "17"])
def test_every_colour_space_resolves_in_the_config_each_nuke_version_carries(rendered, tmp_path, version):
    out = tmp_path / "c.nk"
    result = cli("nuke", rendered, "-o", out, *(["--nuke-version", version] if version else []))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    nodes = read_nk(text)
    opened_by = [int(version)] if version else [14, 15, 16]  # the default opens in all three
    assert text.splitlines()[1] == f"version {opened_by[0]}.0 v1"
    named = {(name, knob): value for name, node in nodes.items() for knob, value in node.knobs.items()
             if knob in ("colorspace", "workingSpaceLUT")}
    assert {name for name, _ in named} == {"Root", "Read_plate", "Read_element", "Write_comp", "Write_prores"}
    for nuke_version in opened_by:
        config = config_nuke_loads(nodes["Root"].knobs, nuke_version)
        for (name, knob), value in named.items():
            space = config.getColorSpace(value)
            assert space is not None and space.getName() == value, (nuke_version, name, knob, value)
    assert named["Read_element", "colorspace"] == "ACEScg"


def test_the_spec_picks_the_nuke_version(tmp_path):
    spec_file = make_key_shot(tmp_path)
    spec_file.write_text(spec_file.read_text() + '\n[nuke]\nversion = 17\n')
    result = cli("nuke", spec_file, "-o", tmp_path / "c.nk", "--allow-missing")
    assert result.exit_code == 0, result.output
    root = read_nk((tmp_path / "c.nk").read_text())["Root"].knobs
    assert (root["OCIO_config"], root["customOCIOConfigPath"]) == \
        ("custom", "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4")
    spec_file.write_text(spec_file.read_text().replace("version = 17", "version = 13"))
    result = cli("nuke", spec_file, "-o", tmp_path / "c.nk", "--allow-missing")
    assert result.exit_code == 2 and "[nuke] version: Nuke 13 is not supported; give one of 14, 15, 16, 17" \
        in result.output, result.output


@pytest.mark.parametrize("table", ['root = "[exec sh -c {touch /tmp/vfxkey_owned}]"',
                                   'path_map = { "/mnt" = "[getenv SHOW][exec id]" }'])
def test_a_spec_cannot_put_live_tcl_in_the_script(tmp_path, table):
    spec_file = make_key_shot(tmp_path)
    spec_file.write_text(spec_file.read_text() + f"\n[nuke]\n{table}\n")
    out = tmp_path / "c.nk"
    result = cli("nuke", spec_file, "-o", out, "--allow-missing")
    assert result.exit_code == 2 and "holds TCL Nuke would run" in result.output and "--allow-tcl" in result.output
    assert not out.exists()
    with pytest.raises(VfxkeyError, match=r"\[nuke\] (root|path_map): .* holds TCL"):  # finalize's call
        write_shot_script(load_spec(spec_file), str(out), check=False)
    if table.startswith("root"):  # the explicit opt-in writes it
        assert cli("nuke", spec_file, "-o", out, "--allow-missing", "--allow-tcl").exit_code == 0
        assert read_nk(out.read_text())["Read_plate"].knobs["file"].startswith("[exec sh -c {touch")


def test_command_line_tcl_needs_the_opt_in_too(rendered, tmp_path):
    result = cli("nuke", rendered, "-o", tmp_path / "c.nk", "--root", "[exec id]")
    assert result.exit_code == 2 and "holds TCL Nuke would run" in result.output


def test_script_folder_root_points_at_the_files_from_the_script(rendered, tmp_path):
    script = rendered.parent / "render" / "rel.nk"
    result = cli("nuke", rendered, "-o", script, "--root", "[file dirname [value root.name]]")
    assert result.exit_code == 0, result.output
    nodes = read_nk(script.read_text())
    for read in ("Read_plate", "Read_element"):
        knob = nodes[read].knobs["file"]
        assert knob.startswith("[file dirname [value root.name]]/")
        # as Nuke evaluates it: the script's own folder, then the rest
        resolved = knob.replace("[file dirname [value root.name]]", str(script.parent)).replace("####", "1001")
        assert os.path.isfile(resolved), (read, knob)


def test_the_scripts_movie_is_encoded_as_vfxkeys_own(rendered):
    import av

    folder = rendered.parent
    with av.open(str(folder / "render" / "sh010_comp.mov")) as movie:  # vfxkey's, read by PyAV
        tags = dict(movie.metadata)
    nodes = read_nk((folder / "render" / "sh010.nk").read_text())
    write = nodes["Write_prores"]
    # vfxkey's review movie is opaque, through the sRGB display's un-tone-mapped view
    # (issue 23); the script's Write gives the same code values from the same comp.
    assert (tags["vfxkey:alpha"], tags["vfxkey:display"], tags["vfxkey:view"]) == (
        "none", "sRGB - Display", "Un-tone-mapped")
    assert write.knobs["channels"] == "rgb"
    assert write.inputs[0].cls == "Unpremult" and write.inputs[0].inputs[0].name == "Merge_over"
    config = config_nuke_loads(nodes["Root"].knobs, 14)
    studio = ocio.Config.CreateFromFile(CONFIG_URI)
    ours = studio.getColorSpace(write.knobs["colorspace"]) or studio.getColorSpace("sRGB Encoded Rec.709 (sRGB)")
    assert write.knobs["colorspace"] in [ours.getName(), *ours.getAliases()]
    assert config.getColorSpace(write.knobs["colorspace"]) is not None
    ramp = np.linspace(-0.1, 2.0, 64, dtype=np.float32)[:, None].repeat(3, axis=1)
    by_space, by_view = ramp.copy(), ramp.copy()
    studio.getProcessor("Linear Rec.709 (sRGB)", ours.getName()).getDefaultCPUProcessor().applyRGB(by_space)
    studio.getProcessor(ocio.DisplayViewTransform(src="Linear Rec.709 (sRGB)", display="sRGB - Display",
                                                  view="Un-tone-mapped")).getDefaultCPUProcessor().applyRGB(by_view)
    np.testing.assert_allclose(np.clip(by_space, 0, 1), np.clip(by_view, 0, 1), atol=1e-5)
