"""ModelConfig + input shape -> compiled ``keras.Sequential``. Pure: no file or console I/O."""

from __future__ import annotations

from typing import Any

from nnrun import registry
from nnrun.backend import keras as _keras


def _make(kind: str, spec: Any, keras: Any) -> Any:
    """A loss/optimizer/metric for ``compile``: Keras' own name string, or a configured instance."""
    found = registry.lookup(kind, spec.type)
    module = {"losses": keras.losses, "optimizers": keras.optimizers, "metrics": keras.metrics}[kind]
    if kind == "optimizers" or spec.kwargs:
        return getattr(module, found.class_name)(**spec.kwargs)
    return found.key


def build_model(loaded: Any, input_shape: tuple[int, ...]) -> Any:
    """Build and compile the model a config describes.

    Args:
        loaded: the LoadedConfig (its locations name the failing layer in errors).
        input_shape: shape of one example, without the batch axis, e.g. ``(num_features,)``.

    Returns:
        A compiled ``keras.Sequential`` whose input is ``keras.Input(shape=input_shape)``.

    Raises:
        ConfigError: Keras refuses a layer's arguments, a layer cannot take the previous output shape,
            or the loss/optimizer/metrics are refused; located at the config key.
    """
    keras = _keras()
    cfg = loaded.config.model
    model = keras.Sequential(name=loaded.config.name.replace("-", "_").replace(".", "_"))
    model.add(keras.Input(shape=input_shape))
    for i, layer_cfg in enumerate(cfg.layers):
        path = ("model", "layers", i)
        try:
            layer = getattr(keras.layers, layer_cfg.type)(**layer_cfg.kwargs)
        except Exception as exc:  # Keras raises TypeError/ValueError with its own message
            call = f"{layer_cfg.type}({_args(layer_cfg.kwargs)})"
            raise loaded.error(path, f"Keras refused {call}: {_first_line(exc)}") from None
        shape_in = model.output_shape if model.layers else (None, *input_shape)
        if layer_cfg.type == "Flatten" and len(shape_in) == 2:
            raise loaded.error(
                path, f"Flatten on input of shape {_shape(shape_in)} does nothing: each example is already a "
                "flat vector of features; remove the layer"
            )
        try:
            model.add(layer)
        except Exception as exc:
            raise loaded.error(
                path, f"{layer_cfg.type} cannot take input of shape {_shape(shape_in)}: {_first_line(exc)}"
            ) from None
    try:
        model.compile(
            loss=_make("losses", cfg.loss, keras),
            optimizer=_make("optimizers", cfg.optimizer, keras),
            metrics=[_make("metrics", m, keras) for m in cfg.metrics],
            steps_per_execution=loaded.config.training.steps_per_execution,
        )
    except Exception as exc:
        raise loaded.error(("model",), f"Keras refused to compile the model: {_first_line(exc)}") from None
    return model


def count_params(model: Any) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts: weights and biases of every layer."""
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    total = sum(int(w.numpy().size) for w in model.weights)
    return trainable, total - trainable


def _args(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _shape(shape: Any) -> str:
    return "(" + ", ".join("batch_size" if d is None else str(d) for d in shape) + ")"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
