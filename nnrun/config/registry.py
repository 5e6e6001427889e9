"""Keras names without importing Keras: layers, losses, optimizers, metrics and activations.

The names and constructor arguments come from ``keras_catalog.json``, a snapshot of the installed Keras
made by ``tools/gen_catalog.py`` (``tests/test_registry.py`` checks it still matches). This lets
``nnrun validate`` check a config in milliseconds; the builder later resolves the same names with Keras.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("keras_catalog.json")

#: Loss class -> how labels must be encoded for it.
LOSS_TARGETS = {
    "BinaryCrossentropy": "binary",
    "BinaryFocalCrossentropy": "binary",
    "Hinge": "binary",
    "SquaredHinge": "binary",
    "CategoricalCrossentropy": "categorical",
    "CategoricalFocalCrossentropy": "categorical",
    "CategoricalHinge": "categorical",
    "KLDivergence": "categorical",
    "SparseCategoricalCrossentropy": "sparse",
}

#: Arguments whose meaning is fixed across layers, with the check to apply when no default says more.
_POSITIVE_INT_ARGS = {"units", "filters", "output_dim", "input_dim", "num_heads", "key_dim", "max_tokens"}
_RATE_ARGS = {"rate"}


@lru_cache(maxsize=1)
def catalog() -> dict:
    """The Keras catalog: ``{"keras_version", "layers", "losses", "optimizers", "metrics", "activations"}``."""
    return json.loads(CATALOG_PATH.read_text())


#: Old or common spellings Keras 3 no longer accepts, and the argument that replaced them.
ALIASES = {"lr": "learning_rate", "decay": "weight_decay", "nb_epoch": "epochs", "output_dim": "units"}


def suggest(name: str, choices: list[str] | set[str]) -> str:
    """Return `` (did you mean 'X'?)`` for the closest of ``choices`` to ``name``, or ``""``.

    Matching is case-insensitive (``dense`` suggests ``Dense``) and uses difflib's ratio (cutoff 0.6).
    """
    choices = list(choices)
    if ALIASES.get(name) in choices:
        return f" (did you mean '{ALIASES[name]}'?)"
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


@dataclass(frozen=True)
class Spec:
    """A resolved Keras object spec: which catalog entry and which class it names."""

    kind: str  # "losses" | "optimizers" | "metrics"
    key: str  # the name as written and accepted by Keras (e.g. "adam", "mse")
    class_name: str | None  # the Keras class (e.g. "Adam", "MeanSquaredError")
    args: dict  # constructor arguments with their defaults


@cache
def _index(kind: str) -> dict[str, str]:
    """Every accepted spelling (Keras key or class name) -> the Keras key."""
    table = catalog()[kind]
    index = {key: key for key in table}
    for key, entry in table.items():
        if entry.get("class"):
            index.setdefault(entry["class"], key)
    return index


def lookup(kind: str, name: str) -> Spec | None:
    """Find a loss, optimizer or metric by any name Keras accepts (``adam``, ``Adam``, ``mse``).

    Returns:
        The Spec, or None when Keras has no such name.
    """
    if kind == "metrics" and name in ("acc", "crossentropy", "ce"):
        return Spec(kind, name, None, {})
    key = _index(kind).get(name)
    if key is None:
        return None
    entry = catalog()[kind][key]
    return Spec(kind, key, entry.get("class"), entry.get("args", {}))


def names(kind: str) -> list[str]:
    """All names of one kind, for "did you mean" suggestions."""
    table = catalog()[kind]
    out = set(table)
    out.update(v["class"] for v in table.values() if v.get("class"))
    return sorted(out)


def layer_args(layer_type: str) -> tuple[dict, list[str]] | None:
    """Constructor arguments (name -> default) and required argument names of a Keras layer class."""
    entry = catalog()["layers"].get(layer_type)
    if entry is None:
        return None
    return entry["args"], entry["required"]


def check_value(arg: str, value: object, default: object) -> str | None:
    """Check one constructor argument against what its default implies.

    Returns:
        ``None`` when acceptable, else "expected …, got …" (the caller adds where).
    """
    got = _show(value)
    if arg in _POSITIVE_INT_ARGS and value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"expected a positive integer, got {got}"
        return None
    if arg in _RATE_ARGS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            return f"expected a number in [0, 1), got {got}"
        return None
    if arg in ("activation", "recurrent_activation") and value is not None:
        if isinstance(value, bool):
            return f"expected an activation name, got {got}; quote it if you meant the text"
        if not isinstance(value, str):
            return f"expected an activation name such as relu, got {got}"
        if value not in catalog()["activations"]:
            return f"unknown activation {got}{suggest(value, catalog()['activations'])}"
        return None
    if default in (None, "<object>", "<required>") or value is None:
        return None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return f"expected true or false, got {got}"
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {got}"
    elif isinstance(default, str):
        if isinstance(value, bool):
            return f"expected a string, got {got}; quote it"
        if not isinstance(value, (str, dict)):
            return f"expected a string, got {got}"
    return None


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return str(value)
