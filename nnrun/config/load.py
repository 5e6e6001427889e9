"""The config schema (one pydantic model), loading with located errors, and ``--set`` overrides.

A config is YAML whose keys are Keras argument names (see README, "Config reference"). Loading runs in
two steps, and neither imports TensorFlow:

1. fields: types, ranges, unknown keys (pydantic), then Keras names and constructor arguments (registry);
2. cross-checks between fields (``checks.static_problems``), e.g. a softmax head on one unit.

Every problem is reported as ``file:line:column: key.path: what was found, what was expected``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

# nnrun uses no pydantic plugins; looking for them reads every installed package's entry points at start-up.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import (  # noqa: E402
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError  # noqa: E402

from nnrun.config import registry
from nnrun.config.yamlsrc import Located, Source, dump_yaml, format_path, load_yaml, read_yaml_file  # noqa: E402
from nnrun.errors import ConfigError  # noqa: E402


def _no_bool(value: Any) -> Any:
    """Refuse YAML booleans where a number is expected (``epochs: yes`` must not become 1)."""
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "expected a number, got a boolean")
    return value


def _name_or_spec(value: Any) -> Any:
    """Accept ``adam`` as shorthand for ``{type: adam}``."""
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, bool) or not isinstance(value, dict):
        raise PydanticCustomError("name_or_spec", "expected a name or a mapping with 'type'")
    return value


Int = Annotated[int, BeforeValidator(_no_bool)]
# Constraints go before the validator: after it, pydantic writes them into the JSON Schema as 'ge', not 'minimum'.
PositiveInt = Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(_no_bool)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1), BeforeValidator(_no_bool)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0), BeforeValidator(_no_bool)]
Float = Annotated[float, BeforeValidator(_no_bool)]
NonNegative = Annotated[float, Field(ge=0.0), BeforeValidator(_no_bool)]
RunName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Column = Annotated[int, Field(strict=True)] | StrictStr
Missing = Literal["error", "drop", "mean", "median", "most_frequent", "constant"]
Scalar = Annotated[float, BeforeValidator(_no_bool)] | StrictStr


class FileRef(_Strict):
    """Another file with the same columns as ``data.path`` (read with the same options)."""

    path: StrictStr = Field(description="CSV/TSV/Parquet/JSONL file with the training file's columns.")


class CategoricalSpec(_Strict):
    """How one categorical column is encoded inside the model."""

    encoding: Literal["one_hot", "embedding"] = Field(
        "one_hot", description="one_hot: keras StringLookup(output_mode='one_hot'); embedding: StringLookup + "
        "Embedding(output_dim) + Flatten.")
    output_dim: PositiveInt | None = Field(None, description="Embedding width (encoding: embedding); default 8.")


class DataConfig(_Strict):
    """Where the examples come from: inline arrays (``x``, ``y``) or a file (``path``), and how its columns
    become the model's inputs."""

    x: list[Any] | None = Field(None, description="Inline features, shape (num_samples, num_features).")
    y: list[Any] | None = Field(None, description="Inline targets, shape (num_samples,).")
    path: StrictStr | None = Field(
        None, description="CSV/TSV, Parquet, JSON Lines, NPZ (arrays x, y) or NPY file; relative paths are tried "
        "from the working directory, then the config's."
    )
    format: Literal["csv", "tsv", "parquet", "jsonl", "npz", "npy", "images", "texts"] | None = Field(
        None, description="File format; null = from the extension (.csv .tsv .txt .parquet .jsonl .ndjson .npz .npy); "
        "a folder with one subfolder per class holds images or .txt texts."
    )
    target_path: StrictStr | None = Field(None, description="With a .npy features file: the .npy file of targets.")
    header: StrictBool | None = Field(None, description="Whether the file has a header row; null = detect.")
    target: Column = Field(-1, description="Target column: name, or 0-based index (negative counts from the end).")
    features: list[Column] | None = Field(
        None, description="Feature columns by name or index, in this order; null = every column but the target "
        "and `drop`.")
    drop: list[Column] = Field(default_factory=list, description="Columns to ignore (ids, leaks).")
    delimiter: Annotated[StrictStr, Field(min_length=1, max_length=1, pattern=r'^[^\n\r"]$')] | None = Field(
        None, description="Field separator, one character (not a line break or quote); null = detect (',', ';', "
        "tab, '|')."
    )
    comment: Annotated[StrictStr, Field(min_length=1, max_length=1)] | None = Field(
        None, description="Lines starting with this character are skipped, e.g. '#'."
    )
    na_values: list[StrictStr] | None = Field(
        None, description="Cells that mean 'missing'; null = '', '?', 'NA', 'N/A', 'NaN', 'nan', 'null', 'None'."
    )
    missing: Missing | dict[StrictStr, Missing] = Field(
        "error", description="Missing feature values: error (default; names the column and rows), drop (the row), "
        "mean, median, most_frequent or constant (fill_value); one policy, or a mapping column -> policy "
        "(columns not listed: error). Fill values are learnt on the training split only."
    )
    fill_value: Scalar | dict[StrictStr, Scalar] | None = Field(
        None, description="The value for missing: constant (one value, or a mapping column -> value)."
    )
    categorical: list[StrictStr] | dict[StrictStr, CategoricalSpec] | None = Field(
        None, description="Columns encoded as categories inside the model (text columns are detected as "
        "categorical anyway); a list, or a mapping column -> {encoding, output_dim}."
    )
    normalize: StrictBool = Field(
        False, description="Put a Keras Normalization layer (mean/variance of the training split) at the front "
        "of the model for the numeric features."
    )
    quotechar: Annotated[StrictStr, Field(min_length=1, max_length=1)] | None = Field(
        '"', description="CSV quote character; null = no quoting (text files whose sentences hold quotes)."
    )
    reshape: list[PositiveInt] | None = Field(
        None, description="Shape of one example after reading, e.g. [8, 8, 1] for 64 pixel columns of an 8x8 image."
    )
    image_size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] | None = Field(
        None, description="A folder of images (one subfolder per class): [height, width] to resize to "
        "(keras.utils.image_dataset_from_directory)."
    )
    color_mode: Literal["grayscale", "rgb", "rgba"] = Field("rgb", description="Images: channels to load.")
    validation: FileRef | None = Field(None, description="Explicit validation file (instead of validation_split).")
    test: FileRef | None = Field(None, description="Explicit test file (instead of test_split).")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        inline = self.x is not None or self.y is not None
        if inline and self.path is not None:
            raise PydanticCustomError("data_source", "give either inline x/y or a file path, not both")
        if not inline and self.path is None:
            raise PydanticCustomError("data_source", "expected inline x and y, or a file path")
        if inline and (self.x is None or self.y is None):
            raise PydanticCustomError("data_source", "inline data needs both x and y")
        return self


class LayerConfig(BaseModel):
    """One Keras layer: ``type`` is the class name; every other key is a constructor argument."""

    model_config = ConfigDict(extra="allow")
    type: StrictStr = Field(description="Keras layer class name, e.g. Dense, Dropout.")

    @property
    def kwargs(self) -> dict[str, Any]:
        """Constructor arguments (everything except ``type``)."""
        return dict(self.model_extra or {})


class NamedSpec(BaseModel):
    """A loss, optimizer or metric: a Keras name plus optional constructor arguments."""

    model_config = ConfigDict(extra="allow")
    type: StrictStr

    @property
    def kwargs(self) -> dict[str, Any]:
        """Constructor arguments (everything except ``type``)."""
        return dict(self.model_extra or {})


Spec = Annotated[NamedSpec, BeforeValidator(_name_or_spec)]


class ModelConfig(_Strict):
    """The layer stack and how it is compiled."""

    layers: list[LayerConfig] = Field(min_length=1, description="Layers, first to last.")
    loss: Spec = Field(description="Keras loss name, or {type: ..., <kwargs>}.")
    optimizer: Spec = Field(default_factory=lambda: NamedSpec(type="adam"))
    metrics: list[Spec] = Field(default_factory=list)


class TrainingConfig(_Strict):
    """``model.fit`` settings (Keras argument names)."""

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 32
    validation_split: Fraction = Field(0.0, description="Fraction of the examples held out for validation "
                                       "(shuffled with the seed, stratified for classification).")
    test_split: Fraction = Field(0.0, description="Fraction held out as a test set, never seen in training; "
                                 "`nnrun evaluate RUN` reports it.")
    shuffle: StrictBool = True
    steps_per_execution: PositiveInt = Field(
        32, description="Batches run per call into TensorFlow (Keras compile argument). 32 cuts the per-batch "
        "overhead of small models several-fold on CPU; epochs stay exact at any value; 1 calls callbacks per batch."
    )
    class_weight: Literal["balanced"] | dict[StrictStr | Annotated[int, Field(strict=True)], Float] | None = Field(
        None, description="'balanced' (n_samples / (n_classes * count), as scikit-learn) or {label: weight}."
    )
    deterministic: StrictBool = Field(
        False, description="Also make TensorFlow's ops deterministic (tf.config.experimental.enable_op_determinism)."
    )
    early_stopping: dict[str, Any] | None = Field(
        None, description="keras.callbacks.EarlyStopping arguments (monitor, patience, min_delta, mode, …); "
        "the best weights are restored at the end whether or not it stopped early."
    )
    reduce_lr_on_plateau: dict[str, Any] | None = Field(
        None, description="keras.callbacks.ReduceLROnPlateau arguments (monitor, factor, patience, min_lr, …)."
    )
    tensorboard: StrictBool = Field(False, description="Write TensorBoard logs to <run>/tensorboard.")
    checkpoint_interval: NonNegative = Field(
        10.0, description="Seconds between checkpoints (last.keras, best.keras) during training; 0 = every epoch."
    )


class Config(_Strict):
    """A whole nnrun experiment."""

    name: RunName = Field(description="Run name: letters, digits, '.', '_', '-'; runs go to runs/<name>.")
    seed: Seed = Field(0, description="Seed for Python, NumPy and TensorFlow (keras.utils.set_random_seed).")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: classification for cross-entropy/hinge losses, regression otherwise."
    )
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    gates: dict[StrictStr, StrictStr | Float] = Field(
        default_factory=dict,
        description="Quality gates checked after training: {metric: '>= 0.9'}; a failure exits with code 3.",
    )


@dataclass
class LoadedConfig:
    """A validated config together with where each of its values came from."""

    config: Config
    source: Source
    path: Path | None = None

    def error(self, path: tuple, message: str, hint: str | None = None) -> ConfigError:
        """A ConfigError located at key ``path`` of this config."""
        return ConfigError(f"{self.source.where(path)}: {format_path(path)}: {message}", hint)


# --------------------------------------------------------------------------------------------- loading
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
    """Like ``load_config`` for YAML text (tests, stdin)."""
    data, source = load_yaml(text, name)
    return validate_data(data, source, overrides)


def validate_data(data: object, source: Source, overrides: tuple[str, ...] | list[str] = ()) -> LoadedConfig:
    """Validate parsed YAML data (after applying ``overrides``) against the schema and Keras' names."""
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
        raise ConfigError("\n".join(_translate(exc, source, data))) from None
    loaded = LoadedConfig(config, source)
    problems = registry_problems(config) + _static_problems(config)
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
    from nnrun.config.checks import gate_metric_names, has_validation
    from nnrun.evaluation.gates import check_names, parse_gate

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


def _static_problems(config: Config) -> list[tuple[tuple, str]]:
    from nnrun.config.checks import static_problems

    return static_problems(config)


# ------------------------------------------------------------------------------------------- overrides
def apply_override(data: dict, source: Source, item: str) -> dict:
    """Apply one ``--set key.path=value`` to the parsed config (in place) and record its location.

    List items are addressed by index: ``model.layers.0.units=16`` (``-1`` is the last item). The value is
    parsed as YAML, so ``1e-3`` is a float and ``[8, 8]`` a list. Every value it sets or creates is
    located at ``--set key.path=value`` in later messages.

    Raises:
        ConfigError: no ``=``, an empty key, a path through a scalar, or a list index out of range.
    """
    where = f"--set {item}" if item.isprintable() else f"--set {item!r}"
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{where}: expected key.path=value, e.g. training.epochs=50")
    parts: list[Any] = [int(p) if re.fullmatch(r"-?[0-9]+", p) else p for p in key.split(".")]
    if any(p == "" for p in parts):
        raise ConfigError(f"{where}: empty key in {key!r}; expected key.path=value")
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


# ------------------------------------------------------------------------------------ error messages
def _translate(exc: ValidationError, source: Source, data: dict) -> list[str]:
    """Turn pydantic errors into located one-line messages."""
    lines = []
    seen = set()
    for err in exc.errors(include_url=False):
        loc = _data_path(err["loc"], data)
        if loc in seen:  # a union reports one error per member; the first says enough
            continue
        seen.add(loc)
        lines.append(f"{source.where(loc)}: {format_path(loc)}: {_message(err, loc, source)}")
    return lines


_UNION_TAGS = {"int", "str", "function-after", "function-before"}


def _data_path(loc: tuple, data: object) -> tuple:
    """Pydantic's error location without its union-member tags (``function-after[...]``, ``str``).

    A part is dropped only when it is such a tag and not a real key at that point of the data, so a
    user's key named ``[`` or ``str`` stays in the path.
    """
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and ("[" in part or part in _UNION_TAGS):
            continue
        else:
            node = None
        path.append(part)
    return tuple(path)

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _show(value: Any, text: str | None) -> str:
    if isinstance(value, bool):
        unquoted = f" (from unquoted {text})" if text and text.lower() not in ("true", "false") else ""
        return ("true" if value else "false") + unquoted
    if value is None:
        return "nothing (null)"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value) if isinstance(value, str) else str(value)


def _message(err: dict, loc: tuple, source: Source) -> str:
    kind = err["type"]
    value = err.get("input")
    text = source.text(loc)
    got = _show(value, text)
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        fields = _fields_at(loc[:-1])
        hint = registry.suggest(str(loc[-1]), fields)
        if not hint and len(loc) == 2:  # a key of another section: data.test_split for training.test_split
            other = [s for s in ("data", "model", "training") if s != loc[0] and str(loc[-1]) in _fields_at((s,))]
            hint = f" (did you mean {other[0]}.{loc[-1]}?)" if other else ""
        return f"unknown key{hint}; expected one of: {', '.join(fields)}"
    if kind == "string_type" and isinstance(value, bool):
        return f"expected a string, got {got}; quote it: '{text or str(value).lower()}'"
    if kind == "string_type" and text is not None and value is not None and not isinstance(value, (dict, list)):
        return f"expected a string, got {got}; quote it: '{text}'"  # name: 123, name: 2024-01-01
    if kind == "bool_not_number":
        return f"expected a number, got {got}"
    if loc == ("data", "target"):
        quote = f"; quote it if you meant the column named '{text}'" if isinstance(value, bool) and text else ""
        return f"expected a column name (string) or index (integer), got {got}{quote}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        ctx = err.get("ctx", {})
        bound = {"greater_than_equal": ">=", "greater_than": ">", "less_than": "<", "less_than_equal": "<="}[kind]
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"expected a value {bound} {limit}, got {got}"
    if kind == "string_pattern_mismatch" and loc == ("name",):
        return (
            f"expected a run name of letters, digits, '.', '_' or '-' (no path separators, not starting "
            f"with '.'), got {got}"
        )
    if kind == "too_short":
        return "expected at least one item, got an empty list"
    if kind == "literal_error":
        return f"expected {err.get('ctx', {}).get('expected', 'one of the allowed values')}, got {got}"
    return f"{err['msg'][0].lower()}{err['msg'][1:]}" + (f", got {got}" if kind not in ("data_source",) else "")


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed at ``loc`` (for "did you mean" on unknown keys)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_of(field.annotation)
    return sorted(getattr(model, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``list[LayerConfig]`` or ``X | None``."""
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


# ------------------------------------------------------------------------------------ Keras names
def registry_problems(config: Config) -> list[tuple[tuple, str]]:
    """Check layer types, their arguments, and loss/optimizer/metric names against Keras' catalog."""
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


# ------------------------------------------------------------------------------------------ output
def dump_resolved(config: Config) -> str:
    """The resolved config as YAML: every default filled in, loadable by ``load_config``."""
    data = config.model_dump(mode="json")
    fields = DataConfig.model_fields
    data["data"] = {k: v for k, v in data["data"].items() if v is not None or fields[k].default is not None}
    return dump_yaml(data)


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of the config, for editors (``nnrun schema``)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nnrun config"
    return schema
