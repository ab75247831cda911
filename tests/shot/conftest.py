"""The test shot rendered once for the shot tests."""

import pytest
from click.testing import CliRunner
from shots import make_shot

from vfxkey.cli import main


@pytest.fixture(scope="session")
def whole(tmp_path_factory):
    """The test shot rendered in one `vfxkey render` (which finalizes)."""
    spec = make_shot(tmp_path_factory.mktemp("whole"))
    result = CliRunner().invoke(main, ["render", str(spec)])
    assert result.exit_code == 0, result.output
    return spec, result.output
