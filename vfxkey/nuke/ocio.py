"""Which OCIO config a comp script names, per Nuke version, and its colour-space names.

A script opens cleanly only if Nuke carries the config its Root names and every colour
space its Reads and Writes name exists in that config. vfxkey processes with its own
config (``vfxkey.io.colour``), whose names may differ: the ACES configs renamed spaces
between versions (v1.0.0 ``sRGB - Texture`` is v2.x ``sRGB Encoded Rec.709 (sRGB)``),
keeping the old names as aliases. So each name is carried over through the processing
config's colour space (its name and aliases) into the script's config, and a name with no
match there is a one-line error naming the node, the name and the config.

What each Nuke version carries (sources):

- Nuke 14.0 added the OCIO v2 ACES configs to Root's ``OCIO_config`` enum; Nuke 14, 15 and
  16 list ``aces_1.2``, ``fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1``,
  ``fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1``, ``nuke-default``, ``custom``. The
  enum strings as public stand-ins of Nuke 14/15's ``nuke`` module record them (GitHub code,
  ``find_string "fn-nuke_studio-config-v1.0.0"``: ``Enumeration_Knob("OCIO_config", ...)``)
  carry TAB-separated fields whose last is OCIO's own built-in name,
  ``studio-config-v1.0.0_aces-v1.3_ocio-v2.1``: Foundry's ``fn-nuke_`` configs are OCIO's
  built-in ones, so PyOpenColorIO loads the same config to check names.
- OCIO library per version follows the VFX Reference Platform year Foundry states on each
  version's "Third-Party Libraries" page (learn.foundry.com/nuke/<version>/content/misc/
  studio_third_party_libraries.html): Nuke 14 = CY2022 (OCIO 2.1), Nuke 15 = CY2023
  (OCIO 2.2), Nuke 16 = CY2024 (OCIO 2.3; opencolorio.readthedocs.io "OCIO 2.3 Release":
  "in the VFX Reference Platform for calendar year 2024"), Nuke 17 = CY2025 (OCIO 2.4;
  Foundry's current page: "compliant with VFX Reference Platform 2025", ACES 1.3 and 2.0).
- Nuke 17 adds ``fn-nuke_*-config-v2.2.0_aces-v1.3...`` and ACES 2.0 configs; their enum
  strings carry extra TAB fields (public notes on Nuke 17, ``find_string
  "fn-nuke_studio-config-v2"``). vfxkey names the v2.2.0 studio config for Nuke 17 by its
  ``ocio://`` URI (``custom``), which OCIO 2.4 resolves itself, so no enum spelling is guessed.
- ``ocio://`` built-in URIs need OCIO 2.2+, and a config named ``..._ocio-v2.N`` needs OCIO 2.N.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import PyOpenColorIO as ocio

from vfxkey.errors import VfxkeyError

NUKE_BUILTIN_PREFIX = "fn-nuke_"


@dataclass(frozen=True)
class NukeTarget:
    """One Nuke version: the OCIO library it carries and the config vfxkey's scripts name.

    ``config`` is either a Root ``OCIO_config`` enum value Nuke carries (``fn-nuke_...``) or,
    when it starts with ``ocio://``, a built-in URI written as ``custom``.
    """

    version: int
    ocio_version: tuple[int, int]
    config: str
    builtins: tuple[str, ...] = ()  # the fn-nuke_ configs it carries (Root's OCIO_config enum)


_ACES_13_V1 = ("fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1", "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1")
NUKE_TARGETS = {
    14: NukeTarget(14, (2, 1), _ACES_13_V1[1], _ACES_13_V1),
    15: NukeTarget(15, (2, 2), _ACES_13_V1[1], _ACES_13_V1),
    16: NukeTarget(16, (2, 3), _ACES_13_V1[1], _ACES_13_V1),
    17: NukeTarget(17, (2, 4), "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4", _ACES_13_V1),
}
DEFAULT_NUKE_VERSION = 14  # the oldest supported: a script for 14 opens in 14, 15 and 16


def nuke_target(version: int | str) -> NukeTarget:
    """The :class:`NukeTarget` of ``version`` (``14``, ``"15"``); ``VfxkeyError`` if unsupported."""
    try:
        return NUKE_TARGETS[int(version)]
    except (KeyError, ValueError, TypeError):
        raise VfxkeyError(f"Nuke {version} is not supported; give one of "
                          f"{', '.join(map(str, NUKE_TARGETS))}") from None


def is_nuke_builtin(config: str) -> bool:
    """Whether ``config`` is one of Nuke's own ``OCIO_config`` choices (not ``custom``)."""
    return config.startswith(NUKE_BUILTIN_PREFIX)


def config_uri(config: str) -> str:
    """What PyOpenColorIO loads for ``config``: Nuke's ``fn-nuke_X`` is OCIO's ``ocio://X``."""
    return "ocio://" + config[len(NUKE_BUILTIN_PREFIX):] if is_nuke_builtin(config) else config


def required_ocio(config: str) -> tuple[int, int] | None:
    """The OCIO version a built-in config needs (``..._ocio-v2.4`` -> (2, 4); any ``ocio://``
    URI needs 2.2); None for a config file (its own ``ocio_profile_version`` decides)."""
    uri = config_uri(config)
    if not uri.startswith("ocio://"):
        return None
    match = re.search(r"_ocio-v(\d+)\.(\d+)$", uri)
    needed = (int(match[1]), int(match[2])) if match else (2, 2)
    return needed if is_nuke_builtin(config) else max(needed, (2, 2))


def script_config(target: NukeTarget, config: str | None = None) -> str:
    """The config a script for ``target`` names: ``config`` (a show config file or an
    ``ocio://`` URI; Nuke's own copy when it carries that config) if given, else the
    target's. A built-in that the target's OCIO cannot load is refused, naming both versions."""
    config = config or target.config
    if config.startswith("ocio://") and NUKE_BUILTIN_PREFIX + config[len("ocio://"):] in target.builtins:
        config = NUKE_BUILTIN_PREFIX + config[len("ocio://"):]  # Nuke carries it: name its own copy
    needed = required_ocio(config)
    if needed is not None and needed > target.ocio_version and not is_nuke_builtin(config):
        raise VfxkeyError(
            f"{config}: needs OCIO {needed[0]}.{needed[1]}, but Nuke {target.version} carries OCIO "
            f"{target.ocio_version[0]}.{target.ocio_version[1]}; name a config file, or a newer Nuke version")
    return config


@lru_cache(maxsize=8)
def load_config(config: str) -> ocio.Config:
    """The OCIO config ``config`` names (a Nuke built-in, an ``ocio://`` URI or a file)."""
    try:
        return ocio.Config.CreateFromFile(config_uri(config))
    except (ocio.Exception, ocio.ExceptionMissingFile) as exc:
        raise VfxkeyError(f"{config}: cannot load the OCIO config: {str(exc).splitlines()[0]}") from None
