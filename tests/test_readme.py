"""The README's commands run as written, and its set-up is the keying-only install.

Every fenced shell block of README.md but the test command is run, in order, in one bash
(as a newcomer types them in one terminal), in a fresh copy of the checkout. The first
block makes ``.venv`` with ``pip install .`` and no extras, as a farm node that only keys
would: so this is also the clean-venv check of the core install (no torch, diffusers,
transformers; at most 500 MB; ``vfxkey generate`` names the extra it needs). The test
command block is what ``.ci/run`` runs, exactly (running it here would run this suite
inside itself)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CORE_LIMIT_MB = 500
EXTRA_ONLY = ("torch", "diffusers", "transformers", "peft", "sklearn", "pymatting", "matplotlib")


def shell_blocks(text: str) -> list[str]:
    """The bodies of the ```sh / ```bash / ```shell fenced blocks, in order."""
    return [m[1] for m in re.finditer(r"^```(?:sh|bash|shell)\n(.*?)^```", text, re.M | re.S)]


def ci_command() -> str:
    """The command .ci/run runs: its last line that is not a comment or a shell option."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith(("#", "set ", "cd "))][-1]


def test_ci_runs_exactly_the_readme_test_command():
    blocks = [block.strip() for block in shell_blocks(README.read_text())]
    assert ci_command() in blocks


def test_readme_shows_commands_a_shell_can_run_as_written():
    for block in shell_blocks(README.read_text()):
        assert "..." not in block and "/path/to" not in block, block  # placeholders do not run


@pytest.mark.install
def test_every_readme_command_runs_as_written_in_a_fresh_copy(tmp_path):
    copy = tmp_path / "vfxkey"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "render", "__pycache__", "*.egg-info",
                                                              "build", ".pytest_cache"))
    script = "\n".join(block for block in shell_blocks(README.read_text()) if block.strip() != ci_command())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "venv" not in p)
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=copy, env=env, capture_output=True,
                         text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]

    # The sample job ran: its comp frames, movie, QC report and Nuke script exist.
    render = copy / "samples" / "shot010" / "render"
    for name in ["shot010_comp.1010.exr", "shot010_comp.mov", "shot010_qc.html", "shot010.nk"]:
        assert (render / name).is_file(), name

    # The core install: none of the extras' modules, and small.
    python = copy / ".venv" / "bin" / "python"
    code = "import importlib.util as u; print([m for m in %r if u.find_spec(m)])" % (EXTRA_ONLY,)
    assert subprocess.run([python, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "[]"
    size = sum(f.stat().st_size for f in (copy / ".venv").rglob("*") if f.is_file() and not f.is_symlink())
    assert size <= CORE_LIMIT_MB * 1024 * 1024, f"core venv is {size / 2**20:.0f} MB"
    generate = subprocess.run([copy / ".venv" / "bin" / "vfxkey", "generate", "--model", "m", "--prompt", "x",
                               "--seed", "1", "--frames", "1001", "--size", "64x64", "-o", tmp_path / "e.####.exr"],
                              capture_output=True, text=True, env=env)
    assert generate.returncode == 2
    assert generate.stderr.strip().splitlines() == [
        "Error: vfxkey generate needs torch, which the core install leaves out: "
        "pip install 'vfxkey[generate]' (README: Install)"]
