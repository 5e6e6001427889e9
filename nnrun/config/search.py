"""The ``search:`` section's checks (``nnrun tune``), run before any trial and without TensorFlow.

The schema (``schema.SearchConfig``) checks the fields' types; here: each ``space`` entry is exactly one of
int/float/choice with ``low < high`` and positive log ranges, its key path exists in the resolved config
(with a did-you-mean), every value it can draw (both ends of a range, each choice) passes the whole config's
validation, the metric is one a gate may use, and a grid holds only int and choice entries.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from nnrun.config.checks import gate_metric_names, has_validation
from nnrun.config.load import LoadedConfig, validate_data
from nnrun.config.yamlsrc import Source, format_path
from nnrun.errors import ConfigError

#: Metric names containing one of these are minimised when ``direction`` is not given.
MINIMISED = ("loss", "error", "mae", "mse", "rmse", "mape", "hinge", "crossentropy", "seconds")

#: The most values a grid may have (the product over its entries).
MAX_GRID = 10_000

DEFAULT_TRIALS = 20


@dataclass
class Param:
    """One checked ``space`` entry.

    Attributes:
        key: the ``--set`` key path (``model.layers.0.units``). kind: ``int``, ``float`` or ``choice``.
        values: [low, high] for int/float, the choices for choice. log: log scale.
    """

    key: str
    kind: str
    values: list[Any]
    log: bool = False

    def corners(self) -> list[Any]:
        """The values that bound what can be drawn: both ends, or every choice."""
        return list(self.values)

    def grid(self) -> list[Any]:
        """Every value a grid visits (int: low..high; choice: the choices)."""
        return list(range(self.values[0], self.values[1] + 1)) if self.kind == "int" else list(self.values)


@dataclass
class Search:
    """The checked search: what ``nnrun.training.tune`` runs.

    Attributes:
        metric: the metric name. direction: ``maximize`` or ``minimize``. trials: the number of trials.
        sampler: tpe | random | grid. pruner: median | none. params: the space, in the config's order.
    """

    metric: str
    direction: str
    trials: int
    sampler: str
    pruner: str
    params: list[Param]


def direction_of(metric: str) -> str:
    """``minimize`` for losses and errors (by name), else ``maximize``."""
    return "minimize" if any(word in metric.lower() for word in MINIMISED) else "maximize"


def check_search(loaded: LoadedConfig, trials: int | None = None) -> Search:
    """Check the config's ``search:`` section; every problem located at its key path.

    Args:
        loaded: a validated config (``load_config``) with a ``search:`` section.
        trials: ``--trials`` (overrides ``search.trials``), or None.

    Returns:
        The checked Search.

    Raises:
        ConfigError: no ``search:`` section, or every problem found (``file:line:col: search.space[…]: …``).
    """
    cfg = loaded.config
    if cfg.search is None:
        raise ConfigError(f"{loaded.source.name}: no search: section; add one (search: {{metric: val_accuracy, "
                          "space: {model.layers.0.units: {int: [8, 64]}}}}), see README \"Hyperparameter search\"")
    search = cfg.search
    problems: list[tuple[tuple, str]] = []
    metrics = gate_metric_names(cfg, has_validation(cfg))
    if search.metric not in metrics:
        close = difflib.get_close_matches(search.metric, metrics, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(metrics)}"
        problems.append((("search", "metric"), f"unknown metric {search.metric!r}{hint}"))
    params = []
    for key, entry in search.space.items():
        path = ("search", "space", key)
        param, message = _param(key, entry)
        if message is None:
            message = _path_problem(loaded, key) or _value_problem(loaded, param)
        if message is not None:
            problems.append((path, message))
        params.append(param)
    if search.sampler == "grid":
        problems += _grid_problems(params)
    if problems:
        raise ConfigError("\n".join(f"{loaded.source.where(p)}: {format_path(p)}: {m}" for p, m in problems))
    count = trials or search.trials or (_grid_size(params) if search.sampler == "grid" else DEFAULT_TRIALS)
    return Search(search.metric, search.direction or direction_of(search.metric), count, search.sampler,
                  search.pruner, params)


def _param(key: str, entry: Any) -> tuple[Param, str | None]:
    """The entry as a Param, and what is wrong with it (None: nothing)."""
    given = [k for k in ("int", "float", "choice") if getattr(entry, k) is not None]
    if len(given) != 1:
        found = f"got {' and '.join(given)}" if given else "got none"
        return Param(key, "choice", [None]), f"expected exactly one of int: [low, high], float: [low, high] or " \
                                             f"choice: [values], {found}"
    kind = given[0]
    values = list(getattr(entry, kind))
    param = Param(key, kind, values, entry.log)
    if kind == "choice":
        return param, "log applies to int and float ranges, not choice" if entry.log else None
    low, high = values
    if not low < high:
        return param, f"{kind}: [{low}, {high}]: low must be less than high"
    if entry.log and low <= 0:
        return param, f"{kind}: [{low}, {high}] with log: true: the range must be positive (low > 0)"
    return param, None


def _path_problem(loaded: LoadedConfig, key: str) -> str | None:
    """What is wrong with ``key`` as a path into the resolved config (None: it names an existing value)."""
    node: Any = loaded.config.model_dump(mode="json", exclude={"search"})
    done: list[Any] = []
    for part in key.split("."):
        if isinstance(node, list) and re.fullmatch(r"-?[0-9]+", part) and -len(node) <= int(part) < len(node):
            node, done = node[int(part)], done + [int(part)]
        elif isinstance(node, dict) and part in node:
            node, done = node[part], done + [part]
        else:
            where = format_path(tuple(done)) if done else "the config"
            if isinstance(node, list):
                return f"{key!r}: {where} has {len(node)} items; {part!r} is not one of their indexes"
            keys = sorted(node) if isinstance(node, dict) else []
            close = difflib.get_close_matches(part, keys, n=1)
            hint = f"; did you mean {'.'.join(str(d) for d in done + [close[0]])!r}?" if close else (
                f"; it has {', '.join(keys)}" if keys else "")
            extra = " (a layer's or optimizer's argument must be written in the config to be searched)"
            return f"{key!r}: {where} has no key {part!r}{hint}{extra if not close else ''}"
    if isinstance(node, (dict, list)):
        return f"{key!r} holds a {'mapping' if isinstance(node, dict) else 'list'}; search a single value"
    return None


def _value_problem(loaded: LoadedConfig, param: Param) -> str | None:
    """The first value ``param`` can draw that makes the config invalid, with the reason (None: all pass)."""
    data = loaded.config.model_dump(mode="json", exclude={"search"})
    for value in param.corners():
        try:
            validate_data(_copy(data), Source("<search>"), (override(param, value),))
        except ConfigError as exc:
            reason = exc.message.splitlines()[0].split(": ", 2)[-1]
            return f"{param.key}={value!r} makes the config invalid: {reason}"
    return None


def _copy(data: Any) -> Any:
    """A deep copy of plain data."""
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


def _grid_problems(params: list[Param]) -> list[tuple[tuple, str]]:
    """A grid needs int or choice entries, and at most MAX_GRID points."""
    problems = [(("search", "space", p.key), "sampler: grid needs int or choice entries, not a float range; "
                 "list the values with choice: [...]") for p in params if p.kind == "float"]
    if not problems and _grid_size(params) > MAX_GRID:
        problems.append((("search", "sampler"), f"the grid has {_grid_size(params)} points, more than {MAX_GRID}"))
    return problems


def _grid_size(params: list[Param]) -> int:
    """The number of points of the grid over ``params``."""
    size = 1
    for p in params:
        size *= len(p.grid()) if p.kind != "float" else 1
    return size


def override(param: Param, value: Any) -> str:
    """The ``--set`` string that sets ``param`` to ``value`` (the value as YAML)."""
    import json

    return f"{param.key}={json.dumps(value)}"
