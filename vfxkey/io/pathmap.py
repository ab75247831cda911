"""A farm session's path mapping rules, applied to the absolute paths a shot spec names.

An Open Job Description session (AWS Deadline Cloud, ``openjd run --path-mapping-rules``)
writes its rules to a JSON file (``{{Session.PathMappingRulesFile}}``, format
``pathmapping-1.0``): each rule maps a ``source_path`` (POSIX or WINDOWS format, as the
submitting machine wrote it) to a ``destination_path`` on the worker. ``vfxkey
--path-mapping FILE`` names that file; the spec reader then maps every absolute path of
the spec (relative paths follow the spec's folder, which the session maps itself).

As OpenJD applies them: the rule with the most source path components that matches
whole components wins; WINDOWS sources match ASCII case-insensitively and either slash.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath

from vfxkey.errors import VfxkeyError

ENVIRONMENT = "VFXKEY_PATH_MAPPING"  # the rules file, set by ``vfxkey --path-mapping`` for its workers too


@dataclass(frozen=True)
class Rule:
    windows: bool  # source_path_format WINDOWS (else POSIX)
    source: tuple[str, ...]  # the source path's components
    destination: str

    def apply(self, path: str) -> str | None:
        """``path`` moved to the destination when it lies under the source, else None."""
        parts = (PureWindowsPath if self.windows else PurePosixPath)(path).parts
        fold = (lambda text: text.encode().lower()) if self.windows else (lambda text: text)  # ASCII only
        if len(parts) < len(self.source) or any(fold(a) != fold(b) for a, b in zip(parts, self.source)):
            return None
        return str(Path(self.destination, *parts[len(self.source):]))


@lru_cache(maxsize=4)
def load_rules(rules_file: str) -> tuple[Rule, ...]:
    """The rules of an OpenJD path mapping file, most specific first."""
    try:
        document = json.loads(Path(rules_file).read_text(encoding="utf-8"))
        rules = [Rule(rule["source_path_format"].upper() == "WINDOWS",
                      (PureWindowsPath if rule["source_path_format"].upper() == "WINDOWS" else PurePosixPath)(
                          rule["source_path"]).parts, rule["destination_path"])
                 for rule in document.get("path_mapping_rules", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VfxkeyError(f"{rules_file}: not an OpenJD path mapping file (pathmapping-1.0): {exc}") from None
    return tuple(sorted(rules, key=lambda rule: -len(rule.source)))


def map_path(path: str) -> str:
    """``path`` as the session's rules map it (unchanged without rules or a match)."""
    rules_file = os.environ.get(ENVIRONMENT)
    if not rules_file:
        return path
    for rule in load_rules(rules_file):
        mapped = rule.apply(path)
        if mapped is not None:
            return mapped
    return path
