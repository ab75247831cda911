"""A small, independent reader of Nuke scripts for the tests (not vfxkey's code).

It follows Nuke's TCL-like rules: a command per line (braces and quotes may span lines);
words are bare, ``"quoted"`` (backslash escapes decoded) or ``{braced}`` / ``[bracketed]``
(nested, kept literally); ``Class { knob value ... }`` makes a node that pops its inputs
off a stack (input 0 = the top = the node pushed last, i.e. a Merge's B) and pushes
itself; ``set N [stack 0]`` names the top; ``push $N`` / ``push 0`` push.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ESCAPES = {"n": "\n", "t": "\t"}


@dataclass
class Node:
    cls: str
    knobs: dict[str, str]
    inputs: list[Node | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.knobs.get("name", self.cls)


def commands(text: str) -> list[str]:
    """Split at line ends outside braces and quotes; drop blank and ``#`` lines.

    Raises ValueError on unbalanced braces or an unterminated quote.
    """
    lines, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"' and depth == 0:
            quoted = not quoted
        elif c in "{}" and not quoted:
            depth += 1 if c == "{" else -1
            if depth < 0:
                raise ValueError(f"unbalanced }} at offset {i}")
        elif c == "\n" and depth == 0 and not quoted:
            lines.append(text[start:i])
            start = i + 1
        i += 1
    if depth or quoted:
        raise ValueError("unbalanced braces or an unterminated quote at the end of the script")
    lines.append(text[start:])
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def words(text: str) -> list[str]:
    """TCL words of one command: quoted words decoded, braced words' inner text, others as is."""
    out, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if text[i] == '"':
            j, value = i + 1, []
            while text[j] != '"':
                if text[j] == "\\":
                    j += 1
                    value.append(_ESCAPES.get(text[j], text[j]))
                else:
                    value.append(text[j])
                j += 1
            out.append("".join(value))
        elif text[i] in "{[":
            opening, closing, depth, j = text[i], "}" if text[i] == "{" else "]", 0, i
            while True:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {opening: 1, closing: -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            out.append(text[i + 1:j] if opening == "{" else text[i:j + 1])
        else:
            j = i
            while j < len(text) and not text[j].isspace():
                j += 1
            out.append(text[i:j])
            j -= 1
        i = j + 1
    return out


def read_nk(text: str, selected: Node | None = None) -> dict[str, Node]:
    """Nodes by name with their inputs resolved; ``selected`` is on the stack first (a paste)."""
    stack: list[Node | None] = [selected] if selected else []
    variables: dict[str, Node | None] = {}
    nodes: dict[str, Node] = {}
    for command in map(words, commands(text)):
        if command[0] == "set":
            assert command[2] == "[stack 0]", command
            variables[command[1]] = stack[-1] if stack else None
        elif command[0] == "push":
            stack.append(None if command[1] == "0" else variables[command[1].lstrip("$")])
        elif command[0] != "version":
            cls, body = command
            flat = words(body)
            assert len(flat) % 2 == 0, f"{cls}: a knob without a value"
            node = Node(cls, dict(zip(flat[0::2], flat[1::2])))
            if cls != "Root":
                count = int(node.knobs.get("inputs", 1))
                node.inputs = [stack.pop() if stack else None for _ in range(count)]
                stack.append(node)
            assert node.name not in nodes, f"two nodes named {node.name}"
            nodes[node.name] = node
    return nodes


def knob_text(value: str) -> str:
    """What Nuke makes of a knob's text when it evaluates it, with no [command] in it:
    backslash escapes replaced by the character."""
    return re.sub(r"\\(.)", lambda m: m[1], value)


def curve_value(channel: str, frame: float) -> float:
    """Evaluate one knob channel: a number, or ``curve L x1001 0 x1010 9`` (linear, ends held)."""
    parts = channel.split()
    if parts[0] != "curve":
        return float(channel)
    assert parts[1] == "L", "expected linear interpolation"
    keys = [(float(x[1:]), float(v)) for x, v in zip(parts[2::2], parts[3::2])]
    if frame <= keys[0][0]:
        return keys[0][1]
    for (f0, v0), (f1, v1) in zip(keys, keys[1:]):
        if frame <= f1:
            return v0 + (v1 - v0) * (frame - f0) / (f1 - f0)
    return keys[-1][1]
