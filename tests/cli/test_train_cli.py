"""``vfxkey make-trainset`` and ``vfxkey train-matte-head`` end to end on tiny inputs, and their refusals."""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generate"))
from tiny_models import build_pipeline, save_diffusers_folder, save_single_file  # noqa: E402

from vfxkey.cli import main  # noqa: E402
from vfxkey.cli.train import load_vae  # noqa: E402
from vfxkey.generate.head import load_head, vae_fingerprint  # noqa: E402


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


def one_line_error(result, text):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def foregrounds(tmp_path_factory):
    """Two straight-alpha RGBA PNGs: coloured discs."""
    folder = tmp_path_factory.mktemp("fg")
    y, x = np.mgrid[0:32, 0:32]
    for i, colour in enumerate([(40, 60, 220), (30, 200, 230)]):  # BGR
        alpha = (np.hypot(x - 16, y - 16) <= 6 + 3 * i).astype(np.uint8) * 255
        cv2.imwrite(str(folder / f"disc{i}.png"), np.dstack([np.full((32, 32, 3), colour, np.uint8), alpha]))
    return folder


@pytest.fixture(scope="module")
def trainset(foregrounds, tmp_path_factory):
    out = tmp_path_factory.mktemp("set") / "set"
    result = run("make-trainset", "--fg", foregrounds, "-o", out, "--count", 4, "--seed", 3,
                 "--size", "32x32")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_diffusers_folder(build_pipeline(), tmp_path_factory.mktemp("model") / "tiny")


def test_make_trainset_writes_the_layout(trainset):
    images = sorted(p.name for p in (trainset / "images").iterdir())
    assert images == ["000000_disc0.png", "000001_disc1.png", "000002_disc0.png", "000003_disc1.png"]
    assert sorted(p.name for p in (trainset / "masks").iterdir()) == images
    assert cv2.imread(str(trainset / "masks" / images[0]), cv2.IMREAD_UNCHANGED).shape == (32, 32)


def test_make_trainset_refusals(foregrounds, tmp_path):
    one_line_error(run("make-trainset", "--fg", tmp_path / "nowhere", "-o", tmp_path / "set"),
                   f"--fg {tmp_path / 'nowhere'}: the folder does not exist")
    one_line_error(run("make-trainset", "--fg", foregrounds, "--alpha", tmp_path / "none", "-o", tmp_path / "set"),
                   f"--alpha {tmp_path / 'none'}: the folder does not exist")
    bad_size = run("make-trainset", "--fg", foregrounds, "-o", tmp_path / "set", "--size", "big")
    assert bad_size.exit_code == 2 and "WIDTHxHEIGHT" in bad_size.output
    assert not (tmp_path / "set").exists()


def test_train_matte_head_writes_a_head_for_the_models_vae(model_dir, trainset, tmp_path):
    out = tmp_path / "head.safetensors"
    result = run("train-matte-head", "--model", model_dir, "--data", trainset, "-o", out,
                 "--steps", 3, "--batch", 2, "--size", 32, "--lr", 0.01)
    assert result.exit_code == 0, result.output
    assert f"{out}: L1+Dice" in result.stdout

    vae = load_vae(str(model_dir))
    head = load_head(out, vae)
    assert head.in_channels == 32
    with safe_open(str(out), "pt") as reader:
        metadata = reader.metadata()
    assert metadata["vae_fingerprint"] == vae_fingerprint(vae)
    assert (metadata["steps"], metadata["images"], metadata["size"]) == ("3", "4", "32")
    assert metadata["model"] == str(model_dir.resolve())


def test_a_single_file_checkpoint_has_the_same_vae_fingerprint_as_its_folder(model_dir, tmp_path):
    single = save_single_file(build_pipeline(), tmp_path / "tiny.safetensors")
    assert vae_fingerprint(load_vae(str(single), str(model_dir))) == vae_fingerprint(load_vae(str(model_dir)))


def test_train_matte_head_refusals(model_dir, trainset, tmp_path):
    out = tmp_path / "head.safetensors"
    one_line_error(run("train-matte-head", "--model", tmp_path / "no-model", "--data", trainset, "-o", out),
                   "no-model does not exist")
    one_line_error(run("train-matte-head", "--model", model_dir, "--data", tmp_path / "no-data", "-o", out),
                   "not a training set")
    one_line_error(run("train-matte-head", "--model", model_dir, "--data", trainset, "-o", tmp_path / "head.pt"),
                   "name the output *.safetensors")
    one_line_error(run("train-matte-head", "--model", model_dir, "--data", trainset, "-o", out, "--size", 33),
                   "must be a multiple of 2")
    assert not out.exists()
