"""The show's OCIO config for processing: spec, command line, $OCIO, in that order; its name
and hash in the metadata and the settings hash; EXR chromaticities (read back by oiiotool)."""

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import PyOpenColorIO as ocio
import pytest
from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.io import colour
from vfxkey.io.write import write_exr
from vfxkey.shot.run import render
from vfxkey.shot.spec import load_spec, shot_config

sys.path.insert(0, str(Path(__file__).parents[1] / "nuke"))
from nk_reader import read_nk  # noqa: E402
from nuke_files import make_key_shot  # noqa: E402

V1 = "ocio://studio-config-v1.0.0_aces-v1.3_ocio-v2.1"  # names sRGB "sRGB - Texture"


@pytest.fixture(autouse=True)
def builtin_config_after(monkeypatch):
    monkeypatch.setenv("OCIO", "")  # restored afterwards, whatever the CLI sets
    yield
    monkeypatch.setenv("OCIO", "")
    colour.use_config(None)


def show_config(folder: Path) -> Path:
    """A show's config file: the v1.0.0 studio config, whose names differ from vfxkey's."""
    path = folder / "show config" / "config.ocio"
    path.parent.mkdir(parents=True)
    path.write_text(ocio.Config.CreateFromFile(V1).serialize())
    return path


def test_order_spec_then_command_line_then_ocio_env(tmp_path, monkeypatch):
    a, b = show_config(tmp_path / "a"), show_config(tmp_path / "b")
    assert colour.config_source() == colour.CONFIG_URI  # nothing set: the pinned built-in
    monkeypatch.setenv("OCIO", str(a))
    assert colour.config_source() == str(a)
    result = CliRunner().invoke(main, ["--ocio", str(b), "nuke", str(tmp_path / "none.toml")])
    assert colour.config_source() == str(b)  # the command line before $OCIO
    spec = make_key_shot(tmp_path / "shot")
    spec.write_text(spec.read_text().replace('working_space = "ACEScg"\n',
                                             'working_space = "ACEScg"\nocio_config = "ocio://cg-config-v2.1.0_aces-v1.3_ocio-v2.3"\n'))
    loaded = load_spec(spec)
    assert colour.config_source() == str(b)  # reading a spec puts nothing in use
    processing = shot_config(lambda shot: colour.config_source())
    assert processing(loaded) == "ocio://cg-config-v2.1.0_aces-v1.3_ocio-v2.3"  # processing it: the spec first
    assert colour.config_source() == str(b)
    result = CliRunner().invoke(main, ["--ocio", str(tmp_path / "missing.ocio"), "probe", str(spec)])
    assert result.exit_code == 2 and "missing.ocio: cannot load the OCIO config" in result.output


def test_a_show_config_processes_the_shot_and_is_recorded(tmp_path):
    config_file = show_config(tmp_path)
    spec = make_key_shot(tmp_path / "sh010")
    spec.write_text(spec.read_text().replace('working_space = "ACEScg"\n',
                                             'working_space = "ACEScg"\nocio_config = "../show config/config.ocio"\n'))
    assert CliRunner().invoke(main, ["render", str(spec)]).exit_code == 0
    loaded = load_spec(spec)
    assert loaded.ocio_config == str(config_file.parent.parent / "sh010" / ".." / "show config" / "config.ocio")
    image = oiio.ImageInput.open(str(spec.parent / "render" / "sh010_el.1001.exr"))
    header = image.spec()
    image.close()
    text = ocio.Config.CreateFromFile(str(config_file)).serialize()
    assert header.get_string_attribute("vfxkey:ocio_config") == "studio-config-v1.0.0_aces-v1.3_ocio-v2.1"
    assert header.get_string_attribute("vfxkey:ocio_config_hash") == hashlib.sha256(text.encode()).hexdigest()[:16]
    # the Nuke script names the show's config, and every name it writes is that config's
    root = read_nk((spec.parent / "render" / "sh010.nk").read_text())
    assert root["Root"].knobs["OCIO_config"] == "custom"
    assert root["Root"].knobs["customOCIOConfigPath"] == str(config_file)  # through the path map
    assert root["Read_plate"].knobs["colorspace"] == "sRGB - Texture"
    # the same shot on the built-in config has another settings hash: frames are redone
    built_in = header.get_string_attribute("vfxkey:settings_hash")
    spec.write_text(spec.read_text().replace('ocio_config = "../show config/config.ocio"\n', ""))
    colour.use_config(None)
    assert CliRunner().invoke(main, ["render", str(spec)]).exit_code == 0
    image = oiio.ImageInput.open(str(spec.parent / "render" / "sh010_el.1001.exr"))
    assert image.spec().get_string_attribute("vfxkey:settings_hash") != built_in
    assert image.spec().get_string_attribute("vfxkey:ocio_config") == "studio-config-v2.2.0_aces-v1.3_ocio-v2.4"
    image.close()


def element_config(spec: Path) -> str:
    image = oiio.ImageInput.open(str(spec.parent / "render" / "sh010_el.1001.exr"))
    name = image.spec().get_string_attribute("vfxkey:ocio_config")
    image.close()
    return name


def test_reading_two_shots_in_one_process_leaves_neither_config_to_the_other(tmp_path):
    show = make_key_shot(tmp_path / "show")
    show.write_text(show.read_text().replace('working_space = "ACEScg"\n',
                                             f'working_space = "ACEScg"\nocio_config = "{V1}"\n'))
    plain = make_key_shot(tmp_path / "plain")  # no [shot] ocio_config: the process's (here the built-in)
    show_spec = load_spec(show)
    assert colour.config_source() == colour.CONFIG_URI
    plain_spec = load_spec(plain)  # read after the show's, in its own config
    render(plain_spec)
    assert element_config(plain) == "studio-config-v2.2.0_aces-v1.3_ocio-v2.4"
    render(show_spec)  # the shot read first is processed in its own config, whatever was read since
    assert element_config(show) == "studio-config-v1.0.0_aces-v1.3_ocio-v2.1"
    assert colour.config_source() == colour.CONFIG_URI


def oiiotool_chromaticities(path: Path) -> list[float]:
    out = subprocess.run([str(Path(sys.executable).parent / "oiiotool"), "--info", "-v", str(path)],
                         capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.strip().startswith("chromaticities"))
    return [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", line.split(":", 1)[1])]


@pytest.mark.parametrize("space, expected", [
    ("ACEScg", [0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767]),
    ("lin_rec709_srgb", [0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290]),
])
def test_exrs_carry_the_working_space_chromaticities(tmp_path, space, expected):
    path = tmp_path / "a.exr"
    write_exr(path, np.zeros((4, 4, 4), np.float32), colorspace=space)
    assert oiiotool_chromaticities(path) == pytest.approx(expected, abs=1e-5)


def npm(chromaticities) -> np.ndarray:
    """RGB -> XYZ matrix of primaries and white given as CIE xy (SMPTE RP 177)."""
    xy = np.array(chromaticities).reshape(4, 2)
    xyz = np.stack([xy[:, 0] / xy[:, 1], np.ones(4), (1 - xy[:, 0] - xy[:, 1]) / xy[:, 1]], axis=1)
    primaries, white = xyz[:3].T, xyz[3]
    return primaries * np.linalg.solve(primaries, white)


@pytest.mark.parametrize("space, other", [("Linear P3-D65", "Linear Rec.709 (sRGB)"),
                                          ("Linear Rec.2020", "Linear Rec.709 (sRGB)"),
                                          ("ACEScg", "ACES2065-1")])
def test_chromaticities_agree_with_ocios_own_matrices(space, other):
    """Between two spaces of the same white OCIO's conversion is NPM(other)^-1 NPM(space):
    the tabled primaries must give OCIO's matrix."""
    expected = np.linalg.solve(npm(colour.chromaticities(other)), npm(colour.chromaticities(space)))
    processor = colour.config().getProcessor(space, other).getDefaultCPUProcessor()
    ocio_matrix = np.array([processor.applyRGB(list(unit)) for unit in np.eye(3)]).T
    assert ocio_matrix == pytest.approx(expected, abs=2e-3)
