"""Named cross-checks between config fields, and between the config and the data.

Each check returns ``(key path, message)`` pairs; callers add the file location. They catch, before any
training, the mistakes that otherwise train silently into a useless model (``../shared/cases``):
a softmax over one unit (always 1.0), binary cross-entropy on a multi-unit head, a head whose width is not
the number of classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrun.config import registry

Problem = tuple[tuple, str]


@dataclass(frozen=True)
class Head:
    """The output layer as the loss sees it: which config layer sets its width, and its activation."""

    index: int  # index of the layer with `units`
    units: int | None
    activation: str | None
    activation_at: tuple = ()  # key path that sets the activation (a later Activation/Softmax layer, or `index`)
    after: str | None = None  # a layer found after the head, which breaks the checks


def target_encoding(config) -> str:
    """How labels are fed to the loss: ``binary`` (0/1), ``sparse`` (class index), ``categorical``
    (one-hot, shape (batch_size, num_classes)) or ``regression`` (float values)."""
    spec = registry.lookup("losses", config.model.loss.type)
    encoding = registry.LOSS_TARGETS.get(spec.class_name if spec else "", "regression")
    return encoding


#: Layers that leave the values of the head unchanged in meaning (noise and regularization only).
_NOISE = ("Dropout", "AlphaDropout", "GaussianNoise", "GaussianDropout", "ActivityRegularization")


def head(config) -> Head | None:
    """Find the output head: the last layer with ``units`` and the activation applied after it.

    The last layer must be that layer, or an ``Activation``/``Softmax`` layer after it (noise layers such as
    Dropout may sit between the two). Anything else last is reported in ``Head.after``.
    """
    layers = config.model.layers
    i = len(layers) - 1
    activation, at = None, ()
    if layers[i].type == "Activation":
        activation, at = layers[i].kwargs.get("activation"), ("model", "layers", i, "activation")
        i -= 1
    elif layers[i].type == "Softmax":
        activation, at = "softmax", ("model", "layers", i)
        i -= 1
    while activation is not None and i >= 0 and layers[i].type in _NOISE:
        i -= 1
    if i < 0:
        return None
    kw = layers[i].kwargs
    if "units" not in kw:
        return Head(i, None, None, ("model", "layers", i), after=layers[i].type)
    if activation is None:
        activation, at = kw.get("activation") or "linear", ("model", "layers", i, "activation")
    return Head(i, kw["units"] if isinstance(kw["units"], int) else None, activation, at)


def _from_logits(config) -> bool:
    return bool(config.model.loss.kwargs.get("from_logits", False))


def text_input(config) -> bool:
    """Whether the model takes raw text: its first layer is ``TextVectorization``."""
    return bool(config.model.layers) and config.model.layers[0].type == "TextVectorization"


def has_validation(config) -> bool:
    """Whether training has validation data: a ``validation_split`` or a ``data.validation`` file."""
    return config.training.validation_split > 0 or config.data.validation is not None


def _policies(missing) -> dict:
    return missing if isinstance(missing, dict) else {"*": missing}


def data_config_problems(config) -> list[Problem]:
    """Consistency of the ``data:`` section and the splits (no file is read)."""
    return (_split_problems(config) + _missing_problems(config.data) + _array_problems(config.data)
            + _column_problems(config.data) + _text_problems(config))


def _split_problems(config) -> list[Problem]:
    """validation/test splits against each other and against explicit validation/test files."""
    d, t = config.data, config.training
    problems: list[Problem] = []
    if t.validation_split + t.test_split >= 1.0:
        problems.append((("training", "test_split"), f"validation_split + test_split = "
                         f"{t.validation_split + t.test_split:g} leaves no training examples; keep the sum below 1"))
    if d.validation is not None and t.validation_split > 0:
        problems.append((("data", "validation"), "give a validation file or training.validation_split, not both"))
    if d.test is not None and t.test_split > 0:
        problems.append((("data", "test"), "give a test file or training.test_split, not both"))
    return problems


def _missing_problems(d) -> list[Problem]:
    """``missing: constant`` needs a ``fill_value``, and a ``fill_value`` needs ``missing: constant``."""
    problems: list[Problem] = []
    policies = _policies(d.missing)
    for col, policy in policies.items():
        at = ("data", "missing") if col == "*" else ("data", "missing", col)
        if policy == "constant":
            fill = d.fill_value
            if fill is None or (isinstance(fill, dict) and col != "*" and col not in fill):
                problems.append((at, "missing: constant needs data.fill_value (one value, or a mapping "
                                 "column -> value)"))
    if d.fill_value is not None and "constant" not in policies.values():
        problems.append((("data", "fill_value"), "fill_value is used only with missing: constant"))
    return problems


def _array_problems(d) -> list[Problem]:
    """NPY/NPZ arrays: where the targets come from, and the table-only options that do not apply."""
    problems: list[Problem] = []
    fmt = d.format or _extension_format(d.path)
    if d.target_path is not None and fmt != "npy":
        problems.append((("data", "target_path"), "target_path goes with a .npy features file; other formats "
                         "hold the target as a column (data.target)"))
    if fmt == "npy" and d.target_path is None:
        problems.append((("data", "path"), "a .npy file holds the features only: give data.target_path (the "
                         "targets' .npy file), or use one .npz file with arrays x and y"))
    if fmt in ("npz", "npy"):
        for key in ("features", "categorical", "na_values", "comment", "delimiter", "header"):
            if getattr(d, key) not in (None, [], {}):
                problems.append((("data", key), f"{key} applies to tables, not to {fmt} arrays"))
        if d.drop:
            problems.append((("data", "drop"), f"drop applies to tables, not to {fmt} arrays"))
        if d.missing != "error":
            problems.append((("data", "missing"), f"{fmt} arrays hold numbers only: missing values are an error"))
    return problems


def _column_problems(d) -> list[Problem]:
    """``features``, ``drop`` and ``target`` must not overlap; a feature is listed once."""
    problems: list[Problem] = []
    if d.features is not None:
        if d.target in d.features:
            problems.append((("data", "features"), f"the target {d.target!r} is also listed as a feature"))
        overlap = [c for c in d.drop if c in d.features]
        if overlap:
            problems.append((("data", "drop"), f"{overlap[0]!r} is both in features and in drop"))
        dup = sorted({str(c) for c in d.features if d.features.count(c) > 1})
        if dup:
            problems.append((("data", "features"), f"listed twice: {', '.join(dup)}"))
    if d.target in d.drop:
        problems.append((("data", "drop"), f"the target {d.target!r} is in drop"))
    return problems


def _text_problems(config) -> list[Problem]:
    """Text models (TextVectorization first) and the numeric/categorical options that do not apply to them;
    an embedding width without the embedding encoding."""
    d = config.data
    problems: list[Problem] = []
    if text_input(config):
        for key in ("categorical", "reshape"):
            if getattr(d, key):
                problems.append((("data", key), f"{key} does not apply to a text model (TextVectorization first)"))
        if d.normalize:
            problems.append((("data", "normalize"), "normalize applies to numbers; the model's input is text"))
    for i, layer in enumerate(config.model.layers[1:], 1):
        if layer.type == "TextVectorization":
            problems.append((("model", "layers", i), "TextVectorization takes the raw texts: it must be the first "
                             "layer"))
    if isinstance(d.categorical, dict):
        for col, spec in d.categorical.items():
            if spec.output_dim is not None and spec.encoding != "embedding":
                problems.append((("data", "categorical", col, "output_dim"), "output_dim goes with "
                                 "encoding: embedding"))
    return problems


def _extension_format(path: str | None) -> str | None:
    """The format a file name implies (``.tsv`` -> tsv, ``.parquet`` -> parquet, …), None for unknown."""
    if path is None:
        return None
    from nnrun.data.formats import format_of

    return format_of(path, None)


def static_problems(config) -> list[Problem]:
    """Checks that need only the config (run by ``nnrun validate``)."""
    from nnrun.config.backend_checks import backend_problems
    from nnrun.config.model_size import size_problems

    return (data_config_problems(config) + _loss_problems(config) + head_problems(config)
            + monitor_problems(config) + size_problems(config) + backend_problems(config))


def monitor_problems(config) -> list[Problem]:
    """EarlyStopping's and ReduceLROnPlateau's ``monitor`` must be names the run logs (``metric_names``)."""
    t, problems = config.training, []
    for key, section in (("early_stopping", t.early_stopping), ("reduce_lr_on_plateau", t.reduce_lr_on_plateau)):
        monitor = (section or {}).get("monitor")
        message = monitor_problem(config, monitor, has_validation(config)) if isinstance(monitor, str) else None
        if message:
            problems.append((("training", key, "monitor"), message))
    return problems


def monitor_problem(config, monitor: str, validation: bool) -> str | None:
    """Why ``monitor`` is not a metric the run logs (the closest name, the list), or None when it is."""
    available = metric_names(config, validation)
    if monitor in available:
        return None
    if monitor in metric_names(config, True):  # a val_ name without validation data
        return (f"unknown metric {monitor!r}; it needs a validation split (training.validation_split); "
                f"the run logs: {', '.join(available)}")
    return f"unknown metric {monitor!r}{registry.suggest(monitor, available)}; the run logs: {', '.join(available)}"


def _loss_problems(config) -> list[Problem]:
    """The loss against ``task``, metric names that clash with Keras' history, class weights on regression."""
    problems: list[Problem] = []
    encoding = target_encoding(config)
    loss = config.model.loss.type
    if config.task == "classification" and encoding == "regression":
        problems.append((("model", "loss"), f"{loss} is a regression loss but task is classification"))
    if config.task == "regression" and encoding != "regression":
        problems.append((("model", "loss"), f"{loss} is a classification loss but task is regression"))
    for i, spec in enumerate(config.model.metrics):
        name = metric_name(spec)
        if name == "loss" or name.startswith("val_"):
            problems.append((("model", "metrics", i), f"a metric named {name!r} would overwrite Keras' own "
                             "loss/validation entries in the history; give it another name"))
        if spec.type in ("accuracy", "acc") and spec.kwargs:
            problems.append((("model", "metrics", i), "'accuracy' takes no arguments; for a threshold use "
                             "{type: BinaryAccuracy, threshold: ...}"))
    if config.training.class_weight is not None and encoding == "regression":
        problems.append((("training", "class_weight"), f"class weights need a classification loss; {loss} is a "
                         "regression loss"))
    return problems


def head_problems(config) -> list[Problem]:
    """The output head against the loss: its width (one sigmoid unit, one unit per class) and activation
    (probabilities unless ``from_logits``).

    Args:
        config: a config that passed the schema.

    Returns:
        At most one ``(key path, message)`` pair: the first rule the head breaks.
    """
    problems: list[Problem] = []
    encoding = target_encoding(config)
    loss = config.model.loss.type
    h = head(config)
    classifier = encoding != "regression"
    if classifier and h is not None and h.after is not None and not _from_logits(config):
        problems.append((("model", "layers", h.index), f"{h.after} after the output layer: {loss} needs the last "
                         "layer to output class probabilities (Dense with a sigmoid/softmax activation, or "
                         "an Activation layer); move or remove it"))
        return problems
    if h is None or h.units is None:
        return problems
    if _from_logits(config) and h.activation in ("sigmoid", "softmax"):
        problems.append((h.activation_at, f"the loss has from_logits: true but the head already applies "
                         f"{h.activation}; remove from_logits, or use activation: linear"))
        return problems
    hinge = registry.lookup("losses", loss)
    if hinge is not None and hinge.class_name in ("Hinge", "SquaredHinge") and h.units == 1:
        return problems  # hinge losses take any real-valued output (tanh or linear are usual)
    return problems + _head_shape_problems(config, h)


def _head_shape_problems(config, h: Head) -> list[Problem]:
    """The head's width and activation against the loss's target encoding (a head with ``units``)."""
    problems: list[Problem] = []
    encoding = target_encoding(config)
    loss = config.model.loss.type
    where = ("model", "layers", h.index)
    if h.activation == "softmax" and h.units == 1:
        problems.append(
            (h.activation_at, "softmax over a single unit always outputs 1.0, so the model cannot learn; "
             "use activation: sigmoid with binary_crossentropy, or units: <number of classes>")
        )
    elif encoding == "binary" and h.units != 1:
        problems.append(
            (where + ("units",), f"{loss} expects one sigmoid output unit, got units: {h.units}; "
             f"for {h.units} classes use sparse_categorical_crossentropy with activation: softmax")
        )
    elif encoding in ("sparse", "categorical") and h.units == 1:
        problems.append(
            (where + ("units",), f"{loss} needs one output unit per class, got units: 1; "
             "for two classes use binary_crossentropy with activation: sigmoid")
        )
    elif encoding in ("sparse", "categorical") and h.activation == "sigmoid":
        problems.append(
            (h.activation_at,
             f"a sigmoid head with {loss} does not give class probabilities; use activation: softmax")
        )
    elif encoding == "binary" and h.activation not in ("sigmoid",) and not _from_logits(config):
        problems.append(
            (h.activation_at, f"{loss} expects probabilities but the head's activation is {_shown(h.activation)}; "
             "use activation: sigmoid, or give the loss from_logits: true")
        )
    elif encoding in ("sparse", "categorical") and h.activation != "softmax" and not _from_logits(config):
        problems.append(
            (h.activation_at, f"{loss} expects probabilities but the head's activation is {_shown(h.activation)}; "
             "use activation: softmax, or give the loss from_logits: true")
        )
    return problems


def _shown(value: object) -> str:
    """A name as written (``linear``), anything else quoted so that control characters are escaped."""
    return str(value) if str(value).isidentifier() else repr(value)


def data_problems(config, classes: list | None, rarest: str = "") -> list[Problem]:
    """Checks that need the data: the number of classes against the head and the loss.

    Args:
        config: the validated Config.
        classes: the distinct labels (sorted) for classification, or None for regression.
        rarest: where the rarest label first occurs (``; the rarest, 'abc' (1 row), first occurs at data.csv:12``),
            added to a wrong-class-count message: one odd label is more often a typo than a class.
    """
    problems: list[Problem] = []
    encoding = target_encoding(config)
    loss = config.model.loss.type
    h = head(config)
    if encoding == "regression":
        if h and h.units not in (None, 1):
            problems.append(
                (("model", "layers", h.index, "units"),
                 f"a regression model predicts one value: expected units: 1, got {h.units}")
            )
        return problems
    n = len(classes or [])
    shown = ", ".join(map(str, (classes or [])[:10])) + (", …" if n > 10 else "")
    if n < 2:
        problems.append((("data",), f"the target has {n} distinct value(s) ({shown}); classification needs at least 2"))
    elif encoding == "binary" and n != 2:
        problems.append(
            (("model", "loss"), f"{loss} needs exactly 2 classes, the data has {n} ({shown}){rarest}; "
             f"fix the labels, or use sparse_categorical_crossentropy with a softmax head of units: {n}")
        )
    elif encoding in ("sparse", "categorical") and h and h.units is not None and h.units != n:
        problems.append(
            (("model", "layers", h.index, "units"),
             f"the softmax head has {h.units} units but the data has {n} classes ({shown}){rarest}; set units: {n}")
        )
    return problems


def metric_name(spec) -> str:
    """The history name Keras gives a compiled metric: the string as written (``accuracy``), or the
    ``name`` argument, or the class's default name (``AUC`` -> ``auc``)."""
    if not spec.kwargs and spec.type == spec.type.lower():
        return spec.type
    if isinstance(spec.kwargs.get("name"), str):
        return spec.kwargs["name"]
    found = registry.lookup("metrics", spec.type)
    default = found.args.get("name") if found else None
    if isinstance(default, str):
        return default
    import re

    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", spec.type).lower()


def metric_names(config, has_validation: bool) -> list[str]:
    """Names in the run's history: ``loss`` and each metric, and their ``val_`` twins with validation data."""
    names = ["loss", *(metric_name(m) for m in config.model.metrics)]
    return names + [f"val_{n}" for n in names] if has_validation else names


#: Metrics that evaluation reports add to Keras' own (see nnrun.evaluation.metrics), by task.
REPORT_METRICS = {
    "classification": ["accuracy", "log_loss", "roc_auc", "precision_macro", "recall_macro", "f1_macro",
                       "precision_weighted", "recall_weighted", "f1_weighted", "baseline_accuracy"],
    "regression": ["mae", "mse", "rmse", "r2", "baseline_mae"],
}

#: Run-level numbers in metrics.json that gates may use too.
RUN_METRICS = ["epochs", "train_seconds", "best_epoch"]


def gate_metric_names(config, has_validation: bool) -> list[str]:
    """Every metric name a gate on ``train`` may use: Keras' history names, the evaluation report's
    (on the validation split they carry the ``val_`` prefix, as Keras' do), and run-level numbers."""
    task = "regression" if target_encoding(config) == "regression" else "classification"
    prefix = "val_" if has_validation else ""
    names = metric_names(config, has_validation) + [prefix + n for n in REPORT_METRICS[task]] + RUN_METRICS
    return list(dict.fromkeys(names))
