"""The layers of vfxkey import downward only, without cycles (docs/ARCHITECTURE.md).

    io  ->  matte  ->  generate, synth  ->  comp  ->  shot  ->  farm, nuke  ->  cli

Every import counts, a function's lazy one too: a lazy import hides a cycle, it does not
remove it. A package may import from its own modules and from the layers below it, never
from a layer above or beside it.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "vfxkey"
LAYERS = {"errors": 0, "fields": 0, "__init__": 0, "io": 1, "matte": 2, "generate": 3, "synth": 3, "comp": 4,
          "shot": 5, "farm": 6, "nuke": 6, "cli": 7}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The vfxkey modules ``path`` imports (``from vfxkey.shot import qc`` is ``vfxkey.shot.qc``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("vfxkey")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vfxkey"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found


def layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return top, LAYERS[top]


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {module: imported_modules(path, set(files)) - {module} for module, path in files.items()}


def test_every_package_has_a_layer():
    tops = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()
            if path.suffix == ".py" or (path / "__init__.py").exists()}
    assert tops == set(LAYERS)


def test_imports_point_down_the_layers():
    upward = []
    for module, imports in import_graph().items():
        top, level = layer(module)
        for target in imports:
            target_top, target_level = layer(target)
            if target_top != top and target_level >= level:
                upward.append(f"{module} -> {target}")
    assert not upward


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]) if target in path else target)
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles


def test_shot_reads_and_writes_images_only_through_io():
    for path in (PACKAGE / "shot").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {"OpenImageIO", "av"} & {name.split(".")[0] for name in names}, path.name


@pytest.mark.parametrize("module", ["vfxkey.io.files", "vfxkey.nuke.script", "vfxkey.farm.openjd",
                                    "vfxkey.farm.deadline", "vfxkey.farm.opencue", "vfxkey.shot.spec"])
def test_text_writers_and_the_spec_reader_load_neither_openimageio_nor_pyav(module):
    code = f"import sys, {module}; print(sorted({{'OpenImageIO', 'av'}} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_no_library_message_names_a_command_line_option():
    """Only the CLI words a setting as ``--despill``: a library message names the setting
    (``VfxkeyError.setting``), which the spec reader words as ``shot.toml: [element] despill``.
    An argument list's own ``"--frames"`` (a farm task's command line) and a line style's
    ``"--"`` are no messages."""
    flag = re.compile(r"(^|[\s(`'\"])--([a-z]|$)")  # "--{role}": a constant ending where the name goes
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "cli":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and flag.search(node.value) and not re.fullmatch(r"--[a-z-]*", node.value)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:60]}")
    assert not found
