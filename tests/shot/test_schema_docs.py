"""The shot spec's schema as documented (spec.py's docstring, docs/ARCHITECTURE.md) is the one
the reader reads: a key documented and refused, or read and undocumented, fails here."""

import re
from pathlib import Path

import pytest

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
