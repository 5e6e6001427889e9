"""``--set key.path=value``: command-line overrides applied to the parsed YAML before validation."""

from __future__ import annotations

import re
from typing import Any

from nnrun.config.yamlsrc import Located, Source, format_path, load_yaml
from nnrun.errors import ConfigError


def apply_override(data: dict, source: Source, item: str) -> dict:
    """Apply one ``--set key.path=value`` to the parsed config (in place) and record its location.

    List items are addressed by index: ``model.layers.0.units=16`` (``-1`` is the last item). The value is
    parsed as YAML, so ``1e-3`` is a float and ``[8, 8]`` a list. Every value it sets or creates is
    located at ``--set key.path=value`` in later messages.

    Args:
        data: the parsed YAML (a mapping); changed in place.
        source: its locations; the set key path and everything under it move to ``--set key.path=value``.
        item: one ``--set`` argument, ``key.path=value``.

    Returns:
        ``data``, changed.

    Raises:
        ConfigError: no ``=``, an empty key or value, a path through a scalar, or a list index out of range.
    """
    where = f"--set {item}" if item.isprintable() else f"--set {item!r}"
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{where}: expected key.path=value, e.g. training.epochs=50")
    parts: list[Any] = [int(p) if re.fullmatch(r"-?[0-9]+", p) else p for p in key.split(".")]
    if any(p == "" for p in parts):
        raise ConfigError(f"{where}: empty key in {key!r}; expected key.path=value")
    if not text.strip():  # YAML reads nothing as null: the error would name the parent section, not the key
        shown = key if key.isprintable() else repr(key)
        raise ConfigError(f"{where}: {shown}: no value after '='; give one ({shown}=VALUE), or {shown}=null to "
                          "clear it")
    node: Any = data
    path: tuple = ()
    for part in parts[:-1]:
        node, path = _step(node, part, path, where, source)
    last = _index(node, parts[-1], path, where)
    prefix = path + (last,)
    value, vsource = load_yaml(text, where, prefix=prefix, located=False)
    node[last] = value
    for old in [p for p in source.locations if p[: len(prefix)] == prefix]:
        del source.locations[old]
    source.locations[prefix] = Located(where, text)
    for p, loc in vsource.locations.items():
        source.locations[p] = Located(where, loc.text)
    return data


def _index(node: Any, part: Any, path: tuple, where: str) -> Any:
    """``part`` as a key of ``node``: a mapping key, or a list index made non-negative."""
    if isinstance(node, dict):
        return part
    if isinstance(node, list):
        if not isinstance(part, int):
            raise ConfigError(f"{where}: {format_path(path)} is a list: expected an item index, got {part!r}")
        if not -len(node) <= part < len(node):
            raise ConfigError(f"{where}: {format_path(path)} has {len(node)} items; index {part} is out of range")
        return part % len(node)
    if isinstance(node, str):
        raise ConfigError(f"{where}: {format_path(path)} holds the name {node!r}, not a mapping; set the whole "
                          f"value instead, e.g. --set '{format_path(path)}={{type: {node}, ...}}'")
    raise ConfigError(f"{where}: {format_path(path)} holds the value {node!r}, not a mapping")


def _step(node: Any, part: Any, path: tuple, where: str, source: Source) -> tuple[Any, tuple]:
    """Go one key down from ``node`` (at ``path``), creating a mapping where there is none."""
    part = _index(node, part, path, where)
    if isinstance(node, dict) and node.get(part) is None:
        node[part] = {}
        source.locations[path + (part,)] = Located(where)
    return node[part], path + (part,)
