"""Nuke runs this file at start-up from every folder on ``NUKE_PATH``: it adds the
**vfxkey** menu. The actions live in ``vfxkey_bridge.py`` beside it (see README.md)."""

import nuke
import vfxkey_bridge

menu = nuke.menu("Nuke").addMenu("vfxkey")
menu.addCommand("Key selected Read…", vfxkey_bridge.key_selected_read)
menu.addCommand("Generate element…", vfxkey_bridge.generate_element)
menu.addCommand("Import vfxkey shot…", vfxkey_bridge.import_shot)
menu.addSeparator()
menu.addCommand("Submit to farm…", vfxkey_bridge.submit_to_farm)
