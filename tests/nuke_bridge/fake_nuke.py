"""A stand-in for Nuke's ``nuke`` module that records what the bridge asks of it.

Nuke cannot run here, so this is the one fake the tests use. It holds a node graph of
``FakeNode`` objects, answers panels from ``panel_answers`` and records menus, messages,
progress and pastes (with the pasted file's text at the time of the paste).
"""

from __future__ import annotations

import types
from pathlib import Path

BRIDGE = str(Path(__file__).resolve().parents[2] / "nuke_bridge")  # the folder NUKE_PATH names


class Knob:
    def __init__(self, value):
        self._value = value

    def value(self):
        return self._value

    def setValue(self, value):
        self._value = value

    def evaluate(self):
        return self._value


class Format:
    def __init__(self, width, height):
        self._size = (width, height)

    def width(self):
        return self._size[0]

    def height(self):
        return self._size[1]


class FakeNode:
    def __init__(self, cls, name, width=64, height=36, **knobs):
        self._cls, self._name, self._format = cls, name, Format(width, height)
        self._knobs = {key: Knob(value) for key, value in knobs.items()}
        self.selected = False

    def Class(self):
        return self._cls

    def firstFrame(self):
        """The node's first output frame, as Nuke's Read gives it: the file range moved by
        ``frame_mode`` ("start at" F: starts at F; "offset" F: moved by F)."""
        return self._output_range()[0]

    def lastFrame(self):
        return self._output_range()[1]

    def _output_range(self):
        first, last = int(self["first"].value()), int(self["last"].value())
        mode = self._knobs.get("frame_mode", Knob("")).value()
        shift = int(self["frame"].value()) - first if mode == "start at" else \
            int(self["frame"].value()) if mode == "offset" else 0
        return first + shift, last + shift

    def name(self):
        return self._name

    def format(self):
        return self._format

    def __getitem__(self, key):
        return self._knobs[key]

    def setSelected(self, selected):
        self.selected = bool(selected)


class Menu:
    def __init__(self, name):
        self.name, self.items = name, []

    def addMenu(self, name):
        sub = Menu(name)
        self.items.append(("menu", name, sub))
        return sub

    def addCommand(self, name, command):
        self.items.append(("command", name, command))

    def addSeparator(self):
        self.items.append(("separator", None, None))

    def find(self, name):
        return next(item for kind, label, item in self.items if label == name)


def make_module(script_path: str, fps: float = 24.0, ocio_config: str = "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1"):
    """A fresh fake ``nuke`` module; ``script_path`` is the saved script's name, Root uses
    OCIO colour management with ``ocio_config`` (a custom path when it is not Nuke's own)."""
    nuke = types.ModuleType("nuke")
    nuke.nodes, nuke.messages, nuke.pastes, nuke.panels, nuke.tasks = [], [], [], [], []
    nuke.panel_answers, nuke.filenames, nuke.cancel = {}, [], False
    nuke.menus = {"Nuke": Menu("Nuke")}
    custom = not ocio_config.startswith("fn-nuke_")
    root = FakeNode("Root", "Root", fps=fps, colorManagement="OCIO", proxy=False,
                    OCIO_config="custom" if custom else ocio_config, customOCIOConfigPath=ocio_config if custom else "")
    nuke.NUKE_VERSION_MAJOR, nuke.EXE_PATH = 15, "/usr/local/Nuke15.1v1/Nuke15.1"
    root.name = lambda: script_path

    class Panel:
        def __init__(self, title):
            self.title, self.fields, self.choices = title, {}, {}
            nuke.panels.append(self)

        def addSingleLineInput(self, label, default):
            self.fields[label] = default

        addFilenameSearch = addSingleLineInput

        def addEnumerationPulldown(self, label, choices):
            self.fields[label] = choices.split()[0]  # Nuke shows the first choice
            self.choices[label] = choices.split()

        def show(self):
            return 1

        def value(self, label):
            return nuke.panel_answers.get(self.title, {}).get(label, self.fields[label])

    class ProgressTask:
        def __init__(self, title):
            self.title, self.messages, self.progress = title, [], []
            nuke.tasks.append(self)

        def setMessage(self, text):
            self.messages.append(text)

        def setProgress(self, percent):
            self.progress.append(percent)

        def isCancelled(self):
            return nuke.cancel

    def paste(path):
        with open(path) as handle:
            nuke.pastes.append((path, handle.read(), [n.name() for n in nuke.nodes if n.selected]))

    nuke.Panel, nuke.ProgressTask = Panel, ProgressTask
    nuke.root = lambda: root
    nuke.menu = lambda name: nuke.menus[name]
    nuke.selectedNodes = lambda: [n for n in nuke.nodes if n.selected]
    nuke.allNodes = lambda cls=None: [n for n in nuke.nodes if cls is None or n.Class() == cls]
    nuke.toNode = lambda name: next((n for n in nuke.nodes if n.name() == name), None)
    # with proxy mode on, Nuke gives the proxy file (a Read's "proxy" knob) when it has one
    nuke.filename = lambda node: node["proxy"].value() if root["proxy"].value() and "proxy" in node._knobs \
        else node["file"].value()
    nuke.message = nuke.messages.append
    nuke.getFilename = lambda title, pattern=None: nuke.filenames.pop(0)
    nuke.executeInMainThread = lambda call, args=(): call(*args)
    nuke.nodePaste = paste
    return nuke
