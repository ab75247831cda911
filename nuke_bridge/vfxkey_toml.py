"""Write TOML (the shot spec's format) with nothing but the standard library.

Nuke's Python has ``tomllib`` at best (reading only, Python 3.11+), so the bridge writes
its ``shot.toml`` itself. Only what a shot spec needs: tables (one level of nesting, e.g.
``[element]``), strings, integers, floats, booleans and lists of those. Strings are TOML
basic strings with every character that needs it escaped (quotes, backslashes, control
characters), so a prompt or a Windows path survives as it was typed.
"""

from __future__ import annotations

import math
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(spec: dict) -> str:
    """TOML text of ``spec``: plain values first, then one ``[table]`` per dict value."""
    lines = _values(spec)
    for name, table in spec.items():
        if isinstance(table, dict):
            lines += ["", f"[{_key(name)}]"] + _values(table)
            for sub, subtable in table.items():
                if isinstance(subtable, dict):
                    lines += ["", f"[{_key(name)}.{_key(sub)}]"] + _values(subtable)
    return "\n".join(lines).lstrip("\n") + "\n"


def _values(table: dict) -> list[str]:
    return [f"{_key(k)} = {_value(v)}" for k, v in table.items() if not isinstance(v, dict) and v is not None]


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")


def _string(text: str) -> str:
    out = []
    for c in text:
        if c in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("\\u%04X" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'
