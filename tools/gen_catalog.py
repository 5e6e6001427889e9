"""Regenerate ``nnrun/config/keras_catalog.json`` from the installed Keras.

nnrun validates configs without importing TensorFlow (``nnrun validate`` must answer in well under a
second), so the names and constructor arguments of Keras layers, losses, optimizers, metrics and
activations are snapshotted here once and shipped with the package. ``tests/test_registry.py`` checks
that the snapshot matches the installed Keras; run ``make catalog`` after upgrading Keras.

Usage: ``python tools/gen_catalog.py [OUTPUT]``
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

# Keyword arguments every layer accepts through ``**kwargs`` (keras.layers.Layer.__init__).
BASE_LAYER_ARGS = ["activity_regularizer", "autocast", "dtype", "name", "trainable"]
# Abstract bases and internals that cannot be used as a layer in a Sequential stack.
SKIP_LAYERS = {"Layer", "InputLayer", "Input", "InputSpec", "Wrapper", "TFSMLayer", "Pipeline"}
# keras-hub layers usable in a layer stack from YAML (a Transformer encoder block for text, issue 7).
HUB_LAYERS = ["TokenAndPositionEmbedding", "PositionEmbedding", "SinePositionEncoding", "TransformerEncoder",
              "TransformerDecoder"]


def _jsonable(value: object) -> object:
    """Return ``value`` if it survives JSON, else a marker string for 'some object'."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(
        v is None or isinstance(v, (bool, int, float, str)) for v in value
    ):
        return list(value)
    return "<object>"


def describe(cls: type, base_args: list[str] | None = None) -> dict:
    """Describe a class's constructor: its arguments with defaults and the required ones."""
    sig = inspect.signature(cls.__init__)
    args: dict[str, object] = {}
    required: list[str] = []
    var_kwargs = False
    for name, p in sig.parameters.items():
        if name == "self" or p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.VAR_KEYWORD:
            var_kwargs = True
            continue
        if p.default is p.empty:
            required.append(name)
            args[name] = "<required>"
        else:
            args[name] = _jsonable(p.default)
    if var_kwargs and base_args:
        for name in base_args:
            args.setdefault(name, None)
    return {"args": args, "required": required}


def main(out: Path) -> None:
    from keras.src.activations import ALL_OBJECTS_DICT as activations
    from keras.src.losses import ALL_OBJECTS_DICT as losses
    from keras.src.metrics import ALL_OBJECTS_DICT as metrics
    from keras.src.optimizers import ALL_OBJECTS_DICT as optimizers

    layers = {}
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, keras.layers.Layer)
            and name not in SKIP_LAYERS
            and not name.startswith("_")
        ):
            layers[name] = describe(obj, BASE_LAYER_ARGS)

    import keras_hub

    for name in HUB_LAYERS:
        layers[name] = {**describe(getattr(keras_hub.layers, name), BASE_LAYER_ARGS), "module": "keras_hub"}

    def classes(table: dict, base: type, skip: set[str]) -> dict:
        """name -> {class, args} for every string name Keras resolves to a usable class."""
        out_: dict[str, dict] = {}
        for key, obj in sorted(table.items()):
            if key in skip:
                continue
            if inspect.isclass(obj) and issubclass(obj, base):
                out_[key] = {"class": obj.__name__, **describe(obj)}
            elif callable(obj):
                # Function form ("mse" is mean_squared_error): its class has the same snake-case name.
                target = getattr(obj, "__name__", key).replace("_", "").lower()
                match = [
                    c for c in table.values()
                    if inspect.isclass(c) and issubclass(c, base) and c.__name__.lower() == target
                ]
                entry = {"class": match[0].__name__, **describe(match[0])} if match else {"class": None}
                out_[key] = {**entry, "function": True}
        return out_

    catalog = {
        "keras_version": keras.__version__,
        "keras_hub_version": keras_hub.__version__,
        "layers": dict(sorted(layers.items())),
        "losses": classes(losses, keras.losses.Loss, {"Loss", "LossFunctionWrapper"}),
        "optimizers": classes(
            optimizers,
            keras.optimizers.Optimizer,
            {"optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap"},
        ),
        "metrics": classes(
            metrics, keras.metrics.Metric, {"Metric", "metric", "MeanMetricWrapper", "mean_metric_wrapper"}
        ),
        "activations": sorted(activations),
        "schedules": {
            name: {"class": name, **describe(getattr(keras.optimizers.schedules, name))}
            for name in sorted(dir(keras.optimizers.schedules))
            if inspect.isclass(getattr(keras.optimizers.schedules, name))
            and issubclass(getattr(keras.optimizers.schedules, name), keras.optimizers.schedules.LearningRateSchedule)
            and name != "LearningRateSchedule"
        },
        "callbacks": {
            name: {"class": name, **describe(getattr(keras.callbacks, name))}
            for name in ("EarlyStopping", "ReduceLROnPlateau", "TensorBoard")
        },
    }
    out.write_text(json.dumps(catalog, indent=1, sort_keys=False) + "\n")
    print(f"wrote {out}: {len(layers)} layers, Keras {keras.__version__}")


if __name__ == "__main__":
    default = Path(__file__).parent.parent / "nnrun" / "config" / "keras_catalog.json"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
