"""Keras names and constructor arguments in a config, checked against the catalog (``registry``).

Layer types and their arguments (nested layers too), loss/optimizer/metric names, learning-rate schedules,
and the callback arguments Keras itself checks only once training starts. No TensorFlow import.
"""

from __future__ import annotations

import math
from typing import Any

from nnrun.config import registry
from nnrun.config.schema import Config

Problem = tuple[tuple, str]


def registry_problems(config: Config) -> list[tuple[tuple, str]]:
    """Check layer types, their arguments, and loss/optimizer/metric names against Keras' catalog.

    Args:
        config: a config that passed the schema.

    Returns:
        ``(key path, message)`` pairs, in config order; empty when every name and argument is known.
    """
    problems: list[tuple[tuple, str]] = []
    for i, layer in enumerate(config.model.layers):
        problems += _layer_problems(layer.type, layer.kwargs, ("model", "layers", i))
    model = config.model
    specs = [("losses", ("model", "loss"), model.loss), ("optimizers", ("model", "optimizer"), model.optimizer)]
    specs += [("metrics", ("model", "metrics", i), m) for i, m in enumerate(model.metrics)]
    for kind, path, spec in specs:
        found = registry.lookup(kind, spec.type)
        noun = {"losses": "loss", "optimizers": "optimizer", "metrics": "metric"}[kind]
        if found is None:
            hint = registry.suggest(spec.type, registry.names(kind))
            problems.append((path + ("type",) if spec.kwargs else path, f"unknown Keras {noun} {spec.type!r}{hint}"))
            continue
        problems += _arg_problems(f"{noun} {spec.type}", spec.kwargs, found.args, path)
        lr = spec.kwargs.get("learning_rate") if kind == "optimizers" else None
        if isinstance(lr, (int, float)) and not isinstance(lr, bool) and not 0 < lr < math.inf:
            problems.append((path + ("learning_rate",), f"expected a positive number, got {lr}"))
    for key in ("early_stopping", "reduce_lr_on_plateau"):
        kwargs = getattr(config.training, key)
        if kwargs is not None:
            cls = {"early_stopping": "EarlyStopping", "reduce_lr_on_plateau": "ReduceLROnPlateau"}[key]
            args = registry.catalog()["callbacks"][cls]["args"]
            problems += _arg_problems(cls, kwargs, args, ("training", key))
    problems += _callback_value_problems(config)
    if config.training.reduce_lr_on_plateau is not None and isinstance(
        config.model.optimizer.kwargs.get("learning_rate"), dict
    ):
        problems.append((("training", "reduce_lr_on_plateau"), "cannot be combined with a learning-rate schedule "
                         "(model.optimizer.learning_rate); use one or the other"))
    return problems


#: Layer arguments that take another layer, given as a nested {type: …} mapping (Bidirectional, TimeDistributed).
NESTED_LAYER_ARGS = ("layer", "backward_layer")


def _layer_problems(layer_type: Any, kwargs: dict, path: tuple) -> list[tuple[tuple, str]]:
    """One layer's type and arguments against the catalog (nested layers too)."""
    problems: list[tuple[tuple, str]] = []
    if not isinstance(layer_type, str):
        return [(path, "expected a layer mapping with a 'type' (a Keras layer class name)")]
    described = registry.layer_args(layer_type)
    if described is None:
        known = list(registry.catalog()["layers"])
        hint = registry.suggest(layer_type, known)
        return [(path + ("type",), f"unknown Keras layer type {layer_type!r}{hint}")]
    args, required = described
    for arg in required:
        if arg not in kwargs:
            problems.append((path, f"{layer_type} needs the argument '{arg}'"))
    for arg, value in kwargs.items():
        if arg in ("input_shape", "input_dim", "batch_input_shape") and arg not in args:
            problems.append((path + (arg,), f"remove '{arg}': nnrun takes the input shape from the data"))
        elif arg not in args:
            problems.append((path + (arg,), f"{layer_type} has no argument {arg!r}{registry.suggest(arg, list(args))}"))
        elif arg in NESTED_LAYER_ARGS and value is not None:
            if not isinstance(value, dict) or "type" not in value:
                problems.append((path + (arg,), f"expected the wrapped layer as a mapping, e.g. {arg}: "
                                 "{type: LSTM, units: 32}"))
            else:
                inner = {k: v for k, v in value.items() if k != "type"}
                problems += _layer_problems(value["type"], inner, path + (arg,))
        else:
            bad = registry.check_value(arg, value, args[arg])
            if bad:
                problems.append((path + (arg,), bad))
    return problems


def _callback_value_problems(config: Config) -> list[tuple[tuple, str]]:
    """Ranges Keras checks only when training starts (or never): monitors, patience, factor, min_lr."""
    problems: list[tuple[tuple, str]] = []
    for key in ("early_stopping", "reduce_lr_on_plateau"):
        kwargs = getattr(config.training, key) or {}
        path = ("training", key)
        if "monitor" in kwargs and not isinstance(kwargs["monitor"], str):
            got = kwargs["monitor"]
            problems.append((path + ("monitor",), f"expected a metric name such as val_loss, got {got!r}"))
        if "mode" in kwargs and kwargs["mode"] not in ("auto", "min", "max"):
            problems.append((path + ("mode",), f"expected auto, min or max, got {kwargs['mode']!r}"))
        for arg in ("patience", "cooldown", "start_from_epoch"):
            value = kwargs.get(arg)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                problems.append((path + (arg,), f"expected a whole number >= 0, got {value!r}"))
        for arg in ("min_delta", "min_lr"):
            value = kwargs.get(arg)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                problems.append((path + (arg,), f"expected a number >= 0, got {value!r}"))
    factor = (config.training.reduce_lr_on_plateau or {}).get("factor")
    if factor is not None and (isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1):
        problems.append((("training", "reduce_lr_on_plateau", "factor"),
                         f"expected a number in (0, 1), got {factor!r}"))
    weights = config.training.class_weight
    if isinstance(weights, dict):
        for label, weight in weights.items():
            if not (math.isfinite(weight) and weight >= 0):
                problems.append((("training", "class_weight", label), f"expected a finite weight >= 0, got {weight}"))
    return problems


#: Keyword arguments that take a Keras object given as {type: ClassName, <kwargs>}.
_OBJECT_ARG_SUFFIXES = ("_regularizer", "_initializer", "_constraint")


def _arg_problems(owner: str, kwargs: dict, args: dict, path: tuple) -> list[tuple[tuple, str]]:
    """Check constructor arguments against a catalog entry; nested specs ({type: ...}) where Keras takes objects."""
    problems: list[tuple[tuple, str]] = []
    for arg, value in kwargs.items():
        where = path + (arg,)
        if arg not in args:
            problems.append((where, f"{owner} has no argument {arg!r}{registry.suggest(arg, list(args))}"))
        elif arg == "learning_rate" and isinstance(value, dict) and owner not in registry.catalog()["schedules"]:
            problems += _schedule_problems(value, where)
        elif isinstance(value, dict) and not arg.endswith(_OBJECT_ARG_SUFFIXES):
            problems.append((where, "expected a number or a name, got a mapping"))
        elif isinstance(value, dict) and arg.endswith(_OBJECT_ARG_SUFFIXES):
            if not isinstance(value.get("type"), str):
                problems.append((where, "expected a name such as l2, or a mapping {type: L2, l2: 0.01}"))
        else:
            bad = registry.check_value(arg, value, args[arg])
            if bad:
                problems.append((where, bad))
    return problems


def _schedule_problems(spec: dict, path: tuple) -> list[tuple[tuple, str]]:
    """A learning-rate schedule given as {type: CosineDecay, initial_learning_rate: ..., decay_steps: ...}."""
    schedules = registry.catalog()["schedules"]
    name = spec.get("type")
    if not isinstance(name, str) or name not in schedules:
        hint = registry.suggest(name, list(schedules)) if isinstance(name, str) else ""
        return [(path + ("type",), f"expected a Keras learning-rate schedule ({', '.join(schedules)}), "
                 f"got {name!r}{hint}")]
    entry = schedules[name]
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    problems = [(path, f"{name} needs the argument '{arg}'") for arg in entry["required"] if arg not in kwargs]
    return problems + _arg_problems(name, kwargs, entry["args"], path)
