import importlib
import os
import sys
from pathlib import Path

import pytest
from fake_nuke import BRIDGE, make_module

REPO = str(Path(BRIDGE).parent)


@pytest.fixture
def nuke(tmp_path, monkeypatch):
    """The fake ``nuke`` module, with the bridge imported the way Nuke imports it (NUKE_PATH
    folder on sys.path, ``menu.py`` run); ``$VFXKEY`` is this checkout's vfxkey."""
    script = tmp_path / "comps" / "sh010_comp_v001.nk"
    script.parent.mkdir(parents=True)
    script.write_text("")
    module = make_module(str(script))
    monkeypatch.setitem(sys.modules, "nuke", module)
    monkeypatch.syspath_prepend(BRIDGE)
    for name in ("menu", "vfxkey_bridge", "vfxkey_toml"):
        sys.modules.pop(name, None)
    module.bridge = importlib.import_module("vfxkey_bridge")
    monkeypatch.setenv("VFXKEY", str(Path(sys.executable).parent / "vfxkey"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    yield module
    for name in ("menu", "vfxkey_bridge", "vfxkey_toml"):
        sys.modules.pop(name, None)
