"""Loading a config: YAML with locations, ``--set`` overrides, the schema, then Keras names and
cross-checks; and the config's outputs (resolved YAML, JSON Schema, diffs, gates).

Loading runs in two steps, and neither imports TensorFlow:

1. fields: types, ranges, unknown keys (``schema``, messages from ``messages``), then Keras names and
   constructor arguments (``keras_args``);
2. cross-checks between fields (``checks.static_problems``), e.g. a softmax head on one unit.

Every problem is reported as ``file:line:column: key.path: what was found, what was expected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nnrun.config.checks import gate_metric_names, has_validation, static_problems
from nnrun.config.keras_args import registry_problems
from nnrun.config.messages import translate
from nnrun.config.overrides import apply_override
from nnrun.config.schema import Config, DataConfig, LayerConfig, ModelConfig, NamedSpec, TrainingConfig
from nnrun.config.yamlsrc import Source, dump_yaml, format_path, load_yaml, read_yaml_file
from nnrun.errors import ConfigError

# Names other modules import from here (they lived in this module before the split).
__all__ = [
    "Config", "DataConfig", "LayerConfig", "LoadedConfig", "ModelConfig", "NamedSpec", "TrainingConfig",
    "apply_override", "config_diff", "config_gates", "dump_resolved", "json_schema", "load_config",
    "load_config_text", "validate_data",
]


@dataclass
class LoadedConfig:
    """A validated config together with where each of its values came from."""

    config: Config
    source: Source
    path: Path | None = None

    def error(self, path: tuple, message: str, hint: str | None = None) -> ConfigError:
        """A ConfigError located at key ``path`` of this config."""
        return ConfigError(f"{self.source.where(path)}: {format_path(path)}: {message}", hint)


def load_config(path: Path | str, overrides: tuple[str, ...] | list[str] = ()) -> LoadedConfig:
    """Load, override and validate a config file without importing TensorFlow.

    Args:
        path: the YAML file.
        overrides: ``key.path=value`` strings (``--set``), applied in order; values are YAML.

    Returns:
        The validated config with its source locations.

    Raises:
        ConfigError: listing every problem found, each as ``file:line:col: key.path: message``.
    """
    path = Path(path)
    data, source = read_yaml_file(path)
    loaded = validate_data(data, source, overrides)
    loaded.path = path
    return loaded


def load_config_text(text: str, name: str = "<string>", overrides: tuple[str, ...] | list[str] = ()) -> LoadedConfig:
    """Like ``load_config`` for YAML text (tests, stdin).

    Args:
        text: the YAML document.
        name: the file name shown in messages.
        overrides: ``key.path=value`` strings (``--set``), applied in order.

    Raises:
        ConfigError: listing every problem found, located.
    """
    data, source = load_yaml(text, name)
    return validate_data(data, source, overrides)


def validate_data(data: object, source: Source, overrides: tuple[str, ...] | list[str] = ()) -> LoadedConfig:
    """Validate parsed YAML data (after applying ``overrides``): the schema, Keras' names, the cross-checks
    and the gates' metric names.

    Args:
        data: what ``load_yaml`` returned (a mapping for a config).
        source: the locations of ``data``'s values.
        overrides: ``key.path=value`` strings (``--set``), applied in order before validation.

    Returns:
        The validated config with its source locations.

    Raises:
        ConfigError: an empty or non-mapping document, or every problem of the first step that has any
            (schema; then Keras names and cross-checks together; then gates), one located line each.
    """
    if data is None:
        raise ConfigError(f"{source.name}: the config is empty; expected a mapping with name, data and model")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source.where(())}: expected a mapping (name:, data:, model:, …) at the top level, "
            f"got {type(data).__name__}"
        )
    for item in overrides:
        data = apply_override(data, source, item)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(translate(exc, source, data))) from None
    loaded = LoadedConfig(config, source)
    problems = registry_problems(config) + static_problems(config)
    if problems:
        raise ConfigError("\n".join(f"{source.where(p)}: {format_path(p)}: {m}" for p, m in problems))
    config_gates(loaded)
    return loaded


def config_gates(loaded: LoadedConfig) -> list:
    """Parse the config's ``gates:`` and check their metric names (no data needed: the names follow from
    the loss, the metrics and whether there is a validation split).

    Raises:
        ConfigError: bad syntax or unknown metric names, every one listed.
    """
    from nnrun.evaluation.gates import check_names, parse_gate  # lazy: evaluation imports config

    parsed, messages = [], []
    for metric, condition in loaded.config.gates.items():
        try:
            where = f"{loaded.source.where(('gates', metric))}: {format_path(('gates', metric))}"
            parsed.append(parse_gate(condition, where, metric=metric))
        except ConfigError as exc:
            messages.append(str(exc))
    available = set(gate_metric_names(loaded.config, has_validation(loaded.config)))
    messages += check_names(parsed, available)
    if messages:
        raise ConfigError("\n".join(messages))
    return parsed


def config_diff(a: Config, b: Config) -> list[tuple[str, Any, Any]]:
    """Every leaf where two configs differ: ``[("model.layers[0].units", 8, 16), …]``."""
    out: list[tuple[str, Any, Any]] = []

    def walk(x: Any, y: Any, path: tuple) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in list(x) + [k for k in y if k not in x]:
                walk(x.get(key), y.get(key), path + (key,))
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                walk(u, v, path + (i,))
        elif x != y:
            out.append((format_path(path), x, y))

    walk(a.model_dump(mode="json"), b.model_dump(mode="json"), ())
    return out


def dump_resolved(config: Config) -> str:
    """The resolved config as YAML: every default filled in, loadable by ``load_config``."""
    data = config.model_dump(mode="json")
    fields = DataConfig.model_fields
    data["data"] = {k: v for k, v in data["data"].items() if v is not None or fields[k].default is not None}
    if data.get("search") is None:  # only configs written for `nnrun tune` carry one
        data.pop("search", None)
    if data.get("tracking") is None:  # only configs that ask for a tracker carry one
        data.pop("tracking", None)
    return dump_yaml(data)


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of the config, for editors (``nnrun schema``)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nnrun config"
    return schema
