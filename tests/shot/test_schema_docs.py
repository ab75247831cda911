"""The shot spec's schema as documented (spec.py's docstring, docs/ARCHITECTURE.md) is the one
the reader reads: a key documented and refused, or read and undocumented, fails here."""

import dataclasses
import importlib
import re
from pathlib import Path

import click
import pytest

from vfxkey.errors import VfxkeyError
from vfxkey.shot import spec as spec_module

REPO = Path(__file__).parents[2]
ELEMENTS = {
    "key": 'mode = "key"\ninput = "in.png"\n',
    "generate": 'mode = "generate"\nmodel = "model"\nprompt = "p"\n',
    "edit": 'mode = "edit"\ninput = "in.png"\nmodel = "model"\nip_adapter = "ip.safetensors"\nprompt = "p"\n',
}


def keys_read(tmp_path, monkeypatch, mode: str) -> dict[str, set[str]]:
    """Per table, every key the reader asks for when it reads a shot of ``mode``."""
    tmp_path.mkdir()
    for name in ("in.png", "ip.safetensors", "plate.png"):
        (tmp_path / name).write_bytes(b"x")
    text = (f'[shot]\nname = "s"\nframes = "1-2"\n[plate]\npath = "plate.png"\n[element]\n{ELEMENTS[mode]}'
            '[placement]\n[[placement.keys]]\nframe = 1\nscale = 1.0\n[nuke]\n[outputs]\nelement = "el.####.exr"\n')
    (tmp_path / "shot.toml").write_text(text)
    read: dict[str, set[str]] = {}
    done = spec_module._Table.done

    def record(table):
        read.setdefault(table.name, set()).update(table.read)
        done(table)

    with monkeypatch.context() as patched:
        patched.setattr(spec_module._Table, "done", record)
        spec_module.load_spec(tmp_path / "shot.toml")
    return read


def documented(mode: str) -> dict[str, set[str]]:
    """Per table, the keys docs/ARCHITECTURE.md's schema table lists for a shot of ``mode``."""
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    rows = text[text.index("## Shot spec schema"):].split("\n\n")[1]
    tables: dict[str, set[str]] = {}
    table = None
    for row in rows.splitlines()[2:]:
        first, second = (cell.strip() for cell in row.split("|")[1:3])
        if first.startswith("`["):
            table = re.search(r"\[+([a-z.]+)\]+", first).group(1)
        elif first in ELEMENTS:
            if first != mode:
                continue
            table = "element"
        tables.setdefault(table, set()).update(re.findall(r"`([a-z_]+)`", second))
    return tables


# Values the schema table names in backticks beside its keys.
VALUES = {"auto", "green", "blue", "vae", "published", "none", "element", "half", "float", "key", "generate", "edit"}


@pytest.fixture
def read(tmp_path, monkeypatch):
    return {mode: keys_read(tmp_path / mode, monkeypatch, mode) for mode in ELEMENTS}


@pytest.mark.parametrize("mode", list(ELEMENTS))
def test_the_architecture_schema_lists_exactly_the_keys_the_reader_reads(read, mode):
    docs = documented(mode)
    assert read[mode]["placement.keys[0]"] <= docs["placement.keys"]
    for table in ("shot", "plate", "element", "outputs", "nuke"):
        listed = docs[table] - (VALUES - read[mode][table])
        assert read[mode][table] == listed, (table, sorted(read[mode][table] ^ listed))


def test_the_spec_docstring_names_every_key_the_reader_reads_and_assigns_no_other(read):
    doc = spec_module.__doc__
    words = set(re.findall(r"[a-z_]+", doc))
    table, assigned = None, {}
    for line in doc.splitlines():
        if header := re.match(r"\s*\[+([a-z.]+)\]+", line):
            table = header.group(1)
        elif (key := re.match(r"\s{4}([a-z_]+) = ", line)) and table:
            assigned.setdefault(table, set()).add(key.group(1))
    for table in ("shot", "plate", "element", "outputs", "nuke"):
        every = set().union(*(read[mode][table] for mode in ELEMENTS))
        assert every <= words, (table, sorted(every - words))
        assert assigned.get(table, set()) <= every, (table, sorted(assigned.get(table, set()) - every))


def held(element, key: str) -> tuple[object, dataclasses.Field]:
    """The value of ``[element] key`` in the spec read and the field holding it: on the element,
    its edit settings, its run options or its keyer, under the key's own name."""
    for holder in (element, getattr(element, "settings", None), getattr(element, "options", None), element.keyer):
        fields = {f.name: f for f in dataclasses.fields(holder)} if holder is not None else {}
        if key in fields:
            return getattr(holder, key), fields[key]
    raise AssertionError(f"[element] {key} is read but held under no field of that name")


# Keys naming files (and a file's colour space), and switches of what is used: their option says
# it in the command's words.
FILES_AND_SWITCHES = {"model_config", "image_encoder", "mask", "lora", "matte_head", "input_colorspace", "allow_pickle",
                      "attention_hint", "reconstruct"}


@pytest.mark.parametrize("mode", ["generate", "edit"])
def test_a_commands_option_that_is_a_spec_key_is_made_from_its_field(read, tmp_path, mode):
    """`vfxkey generate` and `vfxkey edit` without an option mean what a shot without the key
    means, a value below the option's minimum is refused by the spec too, and the option's help
    is its field's (one source: vfxkey.fields)."""
    command = importlib.import_module(f"vfxkey.cli.{mode}").__dict__[mode]
    required = {"generate": ["--model", "m", "--prompt", "p", "--seed", "1", "--frames", "1", "--size", "8x8"],
                "edit": ["in.png", "--model", "m", "--ip-adapter", "ip.safetensors"]}[mode]
    context = command.make_context(mode, [*required, "-o", "el.####.exr"])
    defaulted = {name: value for name, value in context.params.items()  # as the command gets them, not given
                 if context.get_parameter_source(name) == click.core.ParameterSource.DEFAULT}
    spec = tmp_path / mode / "shot.toml"  # as keys_read wrote it: only the required keys
    element = spec_module.load_spec(spec).element
    given = set(re.findall(r"^([a-z_]+) = ", ELEMENTS[mode], re.MULTILINE))
    compared = []
    for option in command.params:
        if option.name not in (read[mode]["element"] - given) & set(defaulted):
            continue
        compared.append(option.name)
        value, field = held(element, option.name)
        assert value == defaulted[option.name], option.name
        if option.name not in FILES_AND_SWITCHES:
            assert option.help == field.metadata.get("help"), option.name
        minimum = getattr(option.type, "min", None)
        if minimum is not None:  # just below it: refused by the spec too, naming the key
            below = minimum - (1 if isinstance(minimum, int) else 0.5)
            spec.write_text(spec.read_text().replace("[element]\n", f"[element]\n{option.name} = {below}\n"))
            with pytest.raises(VfxkeyError, match=rf"\[element\] {option.name}: "):
                spec_module.load_spec(spec)
            spec.write_text(spec.read_text().replace(f"{option.name} = {below}\n", ""))
    assert {"steps", "guidance", "key", "precision", "negative_prompt"} <= set(compared)
    if mode == "edit":
        assert {"source_prompt", "ip_scale", "edit_ip_scale", "strength", "inversion_iters", "feather",
                "hold_background"} <= set(compared)
