"""`vfxkey --help` lists every command without importing them; each command's own help works."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from vfxkey.cli import COMMANDS, main


def test_the_command_list_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from vfxkey.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.output)\n"
        "print('LOADED', sorted(m for m in ('torch', 'sklearn', 'diffusers', 'cv2', 'av') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out
    for name, (_, short) in COMMANDS.items():
        assert f"{name}" in out and short in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_resolves_and_explains_itself(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main " + name in result.output or f"Usage: vfxkey {name}" in result.output
    command = main.get_command(None, name)
    options = [opt for param in command.params if isinstance(param, click.Option) for opt in param.opts
               if opt.startswith("--")]
    assert all(opt in result.output for opt in options), options  # each of its options is listed
