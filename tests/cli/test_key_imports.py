"""What `vfxkey key` loads: a farm task keying an image sequence pays for no movie or model library."""

import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "shot"))
from shots import SCREEN_SRGB, SUBJECT_SRGB, write_png  # noqa: E402

KEY = """
import sys
from click.testing import CliRunner
from vfxkey.cli import main
result = CliRunner().invoke(main, ["key", sys.argv[1], "-o", sys.argv[2], "--frames", "1001-1002"])
assert result.exit_code == 0, result.output
print("LOADED", sorted(m for m in ("av", "torch", "diffusers", "sklearn", "matplotlib", "scipy") if m in sys.modules))
"""


def test_keying_a_png_sequence_to_exrs_loads_no_movie_or_model_library(tmp_path):
    y, x = np.mgrid[0:48, 0:64]
    disc = ((x - 32) ** 2 + (y - 24) ** 2 <= 12**2)[..., None]
    for frame in (1001, 1002):
        write_png(tmp_path / f"gs.{frame}.png", np.where(disc, SUBJECT_SRGB, SCREEN_SRGB).astype(np.float32))
    out = subprocess.run([sys.executable, "-c", KEY, str(tmp_path / "gs.####.png"), str(tmp_path / "k.####.exr")],
                         capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out
    assert (tmp_path / "k.1002.exr").exists()
