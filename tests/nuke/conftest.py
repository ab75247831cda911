import pytest
from nuke_files import make_shot_dir


@pytest.fixture
def shot_dir(tmp_path):
    """A shot folder whose path has a space: ``tmp/my show/sh010`` (see nuke_files.make_shot_dir)."""
    return make_shot_dir(tmp_path / "my show" / "sh010")
