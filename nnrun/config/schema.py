"""The config schema: one pydantic model per section, the single source of defaults, types, ranges and
the JSON Schema (``nnrun schema``).

YAML keys are Keras argument names (see README, "Config reference"). Field checks only (types, ranges,
unknown keys); Keras names are checked by ``keras_args``, cross-field rules by ``checks``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError


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

#: A size in bytes as text: digits with one optional decimal point, then an optional unit (``stream.memory_budget``
#: reads the two groups); the unit in any case (``8gb``, ``512mib``: explicit classes, as JSON Schema patterns have
#: no flags).
SIZE_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KkMmGgTt][Ii]?[Bb])?\s*$"


def _size(value: Any) -> Any:
    """A size: a positive number of bytes or text like ``512MB``/``8GiB`` (one message for every other value, not
    one per union member)."""
    ok = (value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
          or (isinstance(value, str) and re.match(SIZE_PATTERN, value)))
    if not ok:
        raise PydanticCustomError("size", "expected a size like 512MB, 8GiB or a number of bytes (units KB, MB, GB, "
                                  "TB, KiB, MiB, GiB, TiB, in any case)")
    return value


def _streaming(value: Any) -> Any:
    """``data.streaming``: auto, true or false (one message, not one per union member)."""
    if value != "auto" and not isinstance(value, bool):
        raise PydanticCustomError("streaming", "expected auto, true or false")
    return value


Streaming = Annotated[Literal["auto"] | StrictBool, BeforeValidator(_streaming)]
Size = Annotated[Annotated[int, Field(ge=1)] | Annotated[StrictStr, Field(pattern=SIZE_PATTERN)],
                 BeforeValidator(_size)]
# Constraints go before the validator: after it, pydantic writes them into the JSON Schema as 'ge', not 'minimum'.
PositiveInt = Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(_no_bool)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1), BeforeValidator(_no_bool)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0), BeforeValidator(_no_bool)]
Float = Annotated[float, BeforeValidator(_no_bool)]
NonNegative = Annotated[float, Field(ge=0.0), BeforeValidator(_no_bool)]
#: The longest run name (a directory name; file systems allow 255 bytes, and runs add suffixes such as -2).
RUN_NAME_LIMIT = 100
RunName = Annotated[StrictStr, Field(pattern=rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{RUN_NAME_LIMIT - 1}}}$")]


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
    streaming: Streaming = Field(
        "auto", description="Train from shards read from disk each epoch, memory flat however large the data: true, "
        "false, or auto (stream when the files exceed data.memory_budget). Splits by a seeded hash of shard and row "
        "(not stratified)."
    )
    memory_budget: Size | None = Field(
        None, description="data.streaming: auto streams when the data on disk exceeds this many bytes ('8GB', "
        "'512MiB'); null = a quarter of the machine's memory."
    )
    shuffle_buffer: PositiveInt = Field(
        10_000, description="Streaming: rows shuffled together within the reshuffled shard order (approximate shuffle)."
    )

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


class DistributeConfig(_Strict):
    """``training.distribute``: train on several devices with ``tf.distribute`` (README, "More than one device")."""

    strategy: Literal["mirrored", "multi_worker"] = Field(
        description="mirrored: every local GPU (or `devices`) in one process (tf.distribute.MirroredStrategy); "
        "multi_worker: one `nnrun train` process per worker, the cluster from TF_CONFIG or --cluster "
        "(tf.distribute.MultiWorkerMirroredStrategy).")
    devices: list[StrictStr] | None = Field(
        None, description="mirrored: the devices to use, e.g. ['/gpu:0', '/gpu:1']; null = every local GPU "
        "(the CPU when there is none, or the logical CPUs of logical_cpus).")
    logical_cpus: Annotated[int, Field(ge=1, le=64), BeforeValidator(_no_bool)] | None = Field(
        None, description="Split the CPU into this many logical devices and mirror over them (for testing a "
        "distributed config on a machine without GPUs; no speed-up).")
    timeout: Annotated[float, Field(gt=0.0), BeforeValidator(_no_bool)] = Field(
        120.0, description="multi_worker: seconds to wait for the other workers (joining, each collective "
        "operation) before stopping with an error (exit 1).")


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
    distribute: DistributeConfig | None = Field(
        None, description="Train on several devices or hosts (tf.distribute); null = one device.")
    mixed_precision: Literal["float16", "bfloat16"] | None = Field(
        None, description="Keras mixed precision (policy mixed_float16 / mixed_bfloat16; the output layer stays "
        "float32): float16 needs a GPU of compute capability 7.0+, bfloat16 8.0+ or the CPU; null = float32.")


class SearchParam(_Strict):
    """How ``nnrun tune`` draws one value: exactly one of ``int``, ``float`` (``[low, high]``, inclusive) or
    ``choice``; ``log`` draws on a log scale (positive ranges only). Checked in ``nnrun.config.search``."""

    int: Annotated[list[Int], Field(min_length=2, max_length=2)] | None = Field(
        None, description="[low, high]: an integer in this range (inclusive).")
    float: Annotated[list[Float], Field(min_length=2, max_length=2)] | None = Field(
        None, description="[low, high]: a float in this range.")
    choice: Annotated[list[Any], Field(min_length=1)] | None = Field(None, description="One of these values.")
    log: StrictBool = Field(False, description="Draw int/float on a log scale (low > 0).")


class SearchConfig(_Strict):
    """``nnrun tune``: the hyperparameter search (Optuna). ``nnrun train`` ignores this section."""

    metric: StrictStr = Field(description="The metric to optimise: any name a gate may use (val_accuracy, "
                              "val_loss, val_f1_macro, …).")
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="null = from the metric's name (loss, error, mae, mse, … minimise; others maximise).")
    trials: PositiveInt | None = Field(None, description="Number of trials (--trials overrides); null = 20, or "
                                       "the grid's size with sampler: grid.")
    sampler: Literal["tpe", "random", "grid"] = Field("tpe", description="Optuna's TPESampler, RandomSampler or "
                                                      "GridSampler (int and choice entries only), seeded with seed.")
    pruner: Literal["median", "none"] = Field(
        "median", description="median: stop a trial at an epoch end when its metric is worse than the median of "
        "earlier trials at that epoch (Optuna's MedianPruner, after 5 trials, from a fifth of the epochs on); "
        "none: never.")
    space: dict[StrictStr, SearchParam] = Field(
        min_length=1, description="--set key paths (model.layers.0.units) -> how to draw the value.")


class MlflowConfig(_Strict):
    """Where ``nnrun`` mirrors its runs in MLflow (``tracking.mlflow``; ``--mlflow URI`` overrides the URI)."""

    tracking_uri: Annotated[StrictStr, Field(min_length=1)] = Field(
        description="MLflow tracking URI: sqlite:///mlflow.db, http://host:5000, databricks, …")
    experiment: Annotated[StrictStr, Field(min_length=1)] | None = Field(
        None, description="MLflow experiment name (created if missing); null = the config's name.")


class TrackingConfig(_Strict):
    """Experiment trackers that mirror each finished run (the run directory stays the source of truth)."""

    mlflow: MlflowConfig | None = Field(None, description="Log runs to MLflow (needs: pip install 'nnrun[mlflow]').")


class Config(_Strict):
    """A whole nnrun experiment."""

    name: RunName = Field(description="Run name: letters, digits, '.', '_', '-'; runs go to runs/<name>.")
    seed: Seed = Field(0, description="Seed for Python, NumPy and TensorFlow (keras.utils.set_random_seed).")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: classification for cross-entropy/hinge losses, regression otherwise."
    )
    backend: Literal["tensorflow", "jax"] = Field(
        "tensorflow", description="Keras backend that trains the model: tensorflow, or jax (pip install "
        "'nnrun[jax]'; TensorFlow is then not imported; not for text/categorical inputs or lookup layers).")
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    gates: dict[StrictStr, StrictStr | Float] = Field(
        default_factory=dict,
        description="Quality gates checked after training: {metric: '>= 0.9'}; a failure exits with code 3.",
    )
    search: SearchConfig | None = Field(
        None, description="Hyperparameter search for `nnrun tune` (ignored by `nnrun train`).")
    tracking: TrackingConfig | None = Field(
        None, description="Mirror finished runs into an experiment tracker (MLflow); never changes the outcome.")


def fields_at(loc: tuple) -> list[str]:
    """The keys allowed at key path ``loc`` of a ``Config`` (list indexes skipped), sorted; [] if unknown.

    Example:
        >>> fields_at(("training",))[:3]
        ['batch_size', 'checkpoint_interval', 'class_weight']
    """
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

