"""Issue 25 item 2: garbage and core mattes, as shapes in the spec and as an image sequence."""

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner
from shots import make_shot, write_png

from vfxkey.cli import main
from vfxkey.errors import VfxkeyError
from vfxkey.shot.spec import load_spec


def element(path: Path) -> np.ndarray:
    return oiio.ImageBuf(str(path)).get_pixels(oiio.FLOAT)


def with_element_keys(spec: Path, keys: str) -> Path:
    text = spec.read_text().replace('despill = 1.0\n', f'despill = 1.0\n{keys}\n')
    spec.write_text(text)
    return spec


def test_garbage_shapes_in_the_spec_clear_alpha_and_core_shapes_make_it_opaque(tmp_path):
    # The disc of frame 1001 is centred at (42.7, 40), radius 20: the garbage box covers its left
    # half, the core box a patch of bare screen at the top right.
    spec = with_element_keys(make_shot(tmp_path, frames=2), "garbage_shapes = [[[0, 0], [42, 0], [42, 80], [0, 80]]]\n"
                             "core_shapes = [[[100, 4], [120, 4], [120, 14], [100, 14]]]")
    result = CliRunner().invoke(main, ["render", str(spec), "--frames", "1001"])
    assert result.exit_code == 0, result.output
    rgba = element(tmp_path / "render" / "el.1001.exr")
    assert np.all(rgba[:, :42] == 0.0)  # alpha and colour
    assert np.all(rgba[5:14, 101:120, 3] == 1.0)
    assert rgba[40, 55, 3] == 1.0 and rgba[75, 100, 3] == 0.0  # the rest of the disc, bare screen


def test_a_garbage_matte_sequence_clears_alpha_where_it_is_white(tmp_path):
    spec = make_shot(tmp_path, frames=2)
    for frame in (1001, 1002):
        matte = np.zeros((80, 128, 3), np.float32)
        matte[30:50, 30:60] = 1.0
        write_png(tmp_path / "mattes" / f"garbage.{frame}.png", matte)
    with_element_keys(spec, 'garbage_matte = "mattes/garbage.####.png"')
    result = CliRunner().invoke(main, ["render", str(spec), "--frames", "1001-1002"])
    assert result.exit_code == 0, result.output
    rgba = element(tmp_path / "render" / "el.1002.exr")
    assert np.all(rgba[30:50, 30:60] == 0.0) and rgba[40, 65, 3] == 1.0


@pytest.mark.parametrize("shapes, message", [("[[[0, 0], [1, 1]]]", "at least three"),
                                             ("[[[0, 0], [1, 1], [2, \"x\"]]]", "at least three")])
def test_a_bad_shape_is_refused_naming_the_key(tmp_path, shapes, message):
    spec = with_element_keys(make_shot(tmp_path, frames=1), f"garbage_shapes = {shapes}")
    with pytest.raises(VfxkeyError, match=rf"\[element\] garbage_shapes: .*{message}"):
        load_spec(spec)
