"""Named cross-checks between config fields, and between the config and the data.

Each check returns ``(key path, message)`` pairs; callers add the file location. They catch, before any
training, the mistakes that otherwise train silently into a useless model (``../shared/cases``):
a softmax over one unit (always 1.0), binary cross-entropy on a multi-unit head, a head whose width is not
the number of classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrun import registry

Problem = tuple[tuple, str]


@dataclass(frozen=True)
class Head:
    """The output layer as the loss sees it: which config layer sets its width, and its activation."""

    index: int  # index of the layer with `units`
    units: int | None
    activation: str | None
    activation_at: tuple = ()  # key path that sets the activation (a later Activation/Softmax layer, or `index`)


def target_encoding(config) -> str:
    """How labels are fed to the loss: ``binary`` (0/1), ``sparse`` (class index), ``categorical``
    (one-hot, shape (batch_size, num_classes)) or ``regression`` (float values)."""
    spec = registry.lookup("losses", config.model.loss.type)
    encoding = registry.LOSS_TARGETS.get(spec.class_name if spec else "", "regression")
    return encoding


def head(config) -> Head | None:
    """Find the output head: the last layer with ``units`` and the activation applied after it."""
    layers = config.model.layers
    activation = None
    at: tuple = ()
    for i in range(len(layers) - 1, -1, -1):
        kw = layers[i].kwargs
        if layers[i].type in ("Activation",) and activation is None:
            activation, at = kw.get("activation"), ("model", "layers", i, "activation")
        elif layers[i].type == "Softmax" and activation is None:
            activation, at = "softmax", ("model", "layers", i)
        elif "units" in kw:
            if activation is None:
                activation, at = kw.get("activation") or "linear", ("model", "layers", i, "activation")
            units = kw["units"] if isinstance(kw["units"], int) else None
            return Head(i, units, activation, at)
        elif layers[i].type not in ("Dropout", "ActivityRegularization", "GaussianNoise", "AlphaDropout"):
            return None
    return None


def _from_logits(config) -> bool:
    return bool(config.model.loss.kwargs.get("from_logits", False))


def static_problems(config) -> list[Problem]:
    """Checks that need only the config (run by ``nnrun validate``)."""
    problems: list[Problem] = []
    encoding = target_encoding(config)
    loss = config.model.loss.type
    if config.task == "classification" and encoding == "regression":
        problems.append((("model", "loss"), f"{loss} is a regression loss but task is classification"))
    if config.task == "regression" and encoding != "regression":
        problems.append((("model", "loss"), f"{loss} is a classification loss but task is regression"))
    h = head(config)
    if h is None or h.units is None:
        return problems
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
            (h.activation_at, f"{loss} expects probabilities but the head's activation is {h.activation}; "
             "use activation: sigmoid, or give the loss from_logits: true")
        )
    elif encoding in ("sparse", "categorical") and h.activation != "softmax" and not _from_logits(config):
        problems.append(
            (h.activation_at, f"{loss} expects probabilities but the head's activation is {h.activation}; "
             "use activation: softmax, or give the loss from_logits: true")
        )
    return problems


def data_problems(config, classes: list | None) -> list[Problem]:
    """Checks that need the data: the number of classes against the head and the loss.

    Args:
        config: the validated Config.
        classes: the distinct labels (sorted) for classification, or None for regression.
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
            (("model", "loss"), f"{loss} needs exactly 2 classes, the data has {n} ({shown}); "
             f"use sparse_categorical_crossentropy with a softmax head of units: {n}")
        )
    elif encoding in ("sparse", "categorical") and h and h.units is not None and h.units != n:
        problems.append(
            (("model", "layers", h.index, "units"),
             f"the softmax head has {h.units} units but the data has {n} classes ({shown}); set units: {n}")
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


#: Metrics that evaluation reports add to Keras' own (see nnrun.report), by task.
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
