"""ModelConfig + input shape -> compiled ``keras.Sequential``. Pure: no file or console I/O."""

from __future__ import annotations

from typing import Any

from nnrun.backend import jit_on_jax
from nnrun.backend import keras as _keras
from nnrun.config import registry


def _make(kind: str, spec: Any, keras: Any) -> Any:
    """A loss/optimizer/metric for ``compile``: Keras' own name string, or a configured instance."""
    found = registry.lookup(kind, spec.type)
    module = {"losses": keras.losses, "optimizers": keras.optimizers, "metrics": keras.metrics}[kind]
    kwargs = dict(spec.kwargs)
    if kind == "optimizers" and isinstance(kwargs.get("learning_rate"), int) and \
            not isinstance(kwargs["learning_rate"], bool):
        kwargs["learning_rate"] = float(kwargs["learning_rate"])  # Keras refuses an int (``learning_rate: 1``)
    if kind == "optimizers" and isinstance(kwargs.get("learning_rate"), dict):
        schedule = dict(kwargs["learning_rate"])
        kwargs["learning_rate"] = getattr(keras.optimizers.schedules, schedule.pop("type"))(**schedule)
    if kind == "optimizers" or kwargs or (found.class_name and spec.type == found.class_name):
        # a class name (AUC) is instantiated, so Keras names its history entry as the class does ("auc")
        return getattr(module, found.class_name)(**kwargs)
    return found.key


def input_shape(spec: dict) -> tuple[int, ...]:
    """Shape of one example as the layer stack receives it (after categorical encoding), without the batch
    axis: ``(encoded_width,)`` for tables, the array's shape for NPZ/NPY data."""
    from nnrun.data.features import example_shape

    return example_shape(spec)


def build_model(loaded: Any, input_shape: tuple[int, ...], spec: dict | None = None) -> Any:
    """Build and compile the model a config describes, with the data's preprocessing inside it.

    The config's layers form a ``keras.Sequential``. With ``data.normalize`` a ``Normalization`` layer
    (the training split's mean and variance, from ``spec``) comes first. With categorical columns the
    saved model is a functional ``keras.Model`` around that Sequential: inputs ``numeric``
    (batch_size, num_numeric) float32 and ``cat_<i>`` (batch_size, 1) strings, each categorical column
    encoded by ``StringLookup`` (vocabulary of the training split, out-of-vocabulary index 0) then one-hot
    or ``Embedding`` + ``Flatten``, all concatenated in column order.

    Args:
        loaded: the LoadedConfig (its locations name the failing layer in errors).
        input_shape: shape of one example reaching the layers, without the batch axis, e.g. ``(num_features,)``.
        spec: the feature spec (``nnrun.data.features``); None = plain numeric input.

    Returns:
        A compiled model (``keras.Sequential``, or ``keras.Model`` with categorical inputs).

    Raises:
        ConfigError: Keras refuses a layer's arguments, a layer cannot take the previous output shape,
            or the loss/optimizer/metrics are refused; located at the config key.
    """
    keras = _keras()
    cfg = loaded.config.model
    spec = spec or {"categorical": [], "numeric": [], "normalize": False}
    model = keras.Sequential(name=loaded.config.name.replace("-", "_").replace(".", "_"))
    if spec.get("text"):
        model.add(keras.Input(shape=(1,), dtype="string"))  # one text per example
    else:
        model.add(keras.Input(shape=input_shape))
    if spec.get("normalize") and spec.get("mean") is not None and not spec["categorical"]:
        model.add(_normalization(spec, keras))
    for i in range(len(cfg.layers)):
        _add_layer(model, loaded, i, input_shape)
    if spec["categorical"]:
        if any(isinstance(layer, keras.layers.Normalization) for layer in model.layers):
            raise loaded.error(("model", "layers", 0), "a Normalization layer cannot take categorical inputs; use "
                               "data.normalize: true (it normalizes the numeric columns only)")
        model = _with_categorical_inputs(model, spec, keras, loaded.config.name)
    try:
        model.compile(
            loss=_make("losses", cfg.loss, keras),
            optimizer=_make("optimizers", cfg.optimizer, keras),
            metrics=[_make("metrics", m, keras) for m in cfg.metrics],
            steps_per_execution=loaded.config.training.steps_per_execution,
        )
    except Exception as exc:
        raise loaded.error(("model",), f"Keras refused to compile the model: {_first_line(exc)}") from None
    return jit_on_jax(model)


def _add_layer(model: Any, loaded: Any, i: int, input_shape: tuple[int, ...]) -> None:
    """Add the config's layer ``i`` to the Sequential ``model``; a refusal is a ConfigError at its key."""
    from nnrun.training.precision import is_mixed

    layer_cfg = loaded.config.model.layers[i]
    path = ("model", "layers", i)
    kwargs = layer_cfg.kwargs
    if i == len(loaded.config.model.layers) - 1 and is_mixed() and "dtype" not in kwargs:
        kwargs = {**kwargs, "dtype": "float32"}  # mixed precision: the output stays float32 (Keras' guide)
    try:
        layer = make_layer(layer_cfg.type, kwargs)
    except Exception as exc:  # Keras raises TypeError/ValueError with its own message
        call = f"{layer_cfg.type}({_args(layer_cfg.kwargs)})"
        raise loaded.error(path, f"Keras refused {call}: {_first_line(exc)}") from None
    shape_in = model.output_shape if model.layers else (None, *input_shape)
    if layer_cfg.type == "Flatten" and len(shape_in) == 2:
        raise loaded.error(
            path, f"Flatten on input of shape {_shape(shape_in)} does nothing: each example is already a "
            "flat vector of features; remove the layer"
        )
    need = _RANKS.get(layer_cfg.type)
    if need is not None and len(shape_in) != need[0]:
        raise loaded.error(path, f"{layer_cfg.type} needs input of shape {need[1]}, got {_shape(shape_in)}; "
                           f"{need[2]}")
    try:
        model.add(layer)
    except Exception as exc:
        raise loaded.error(
            path, f"{layer_cfg.type} cannot take input of shape {_shape(shape_in)}: {_first_line(exc)}"
        ) from None


_SEQ = (3, "(batch_size, timesteps, features)", "sequence layers take a sequence per example: for text start with "
        "TextVectorization and Embedding (or TokenAndPositionEmbedding); a table row is a flat vector: use Dense")
_IMG = (4, "(batch_size, height, width, channels)", "image layers take images: NPZ x of rank 4, a folder of images "
        "with data.image_size, or data.reshape: [height, width, channels] for pixel columns")
#: Layers that need a given rank of input, and what to do about it (checked before Keras' own message).
_RANKS = {
    **{t: _SEQ for t in ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "Conv1D", "MaxPooling1D", "AveragePooling1D",
                         "GlobalAveragePooling1D", "GlobalMaxPooling1D", "TransformerEncoder", "TransformerDecoder")},
    **{t: _IMG for t in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D",
                         "GlobalAveragePooling2D", "GlobalMaxPooling2D", "RandomFlip", "RandomRotation",
                         "RandomZoom", "RandomCrop", "RandomTranslation")},
}


def make_layer(layer_type: str, kwargs: dict) -> Any:
    """A layer instance from its config: ``keras.layers.<type>``, or ``keras_hub.layers.<type>`` for the
    keras-hub layers in the catalog; nested ``layer``/``backward_layer`` mappings (Bidirectional,
    TimeDistributed) become layer instances first.

    Raises:
        TypeError, ValueError: Keras refuses the arguments (the caller names the config key).
    """
    keras = _keras()
    entry = registry.catalog()["layers"].get(layer_type, {})
    if entry.get("module") == "keras_hub":
        import keras_hub

        cls = getattr(keras_hub.layers, layer_type)
    else:
        cls = getattr(keras.layers, layer_type)
    kwargs = _keras_kwargs(kwargs)
    for key in ("layer", "backward_layer"):
        if isinstance(kwargs.get(key), dict) and "type" in kwargs[key]:
            inner = dict(kwargs[key])
            kwargs[key] = make_layer(inner.pop("type"), inner)
    return cls(**kwargs)


def _normalization(spec: dict, keras: Any) -> Any:
    """Keras Normalization with the training split's statistics: (x - mean) / sqrt(variance) per feature
    (a constant feature, variance 0, becomes 0: Keras divides by max(sqrt(variance), epsilon))."""
    return keras.layers.Normalization(mean=spec["mean"], variance=spec["variance"], name="normalize")


def _with_categorical_inputs(stack: Any, spec: dict, keras: Any, name: str) -> Any:
    """A functional model: named inputs -> normalization / StringLookup encodings -> concatenate -> stack."""
    inputs, parts = {}, []
    if spec["numeric"]:
        num = keras.Input(shape=(len(spec["numeric"]),), name="numeric")
        inputs["numeric"] = num
        parts.append(_normalization(spec, keras)(num) if spec.get("normalize") and spec.get("mean") else num)
    for c in spec["categorical"]:
        inp = keras.Input(shape=(1,), dtype="string", name=c["input"])
        inputs[c["input"]] = inp
        if c["encoding"] == "one_hot":
            out = keras.layers.StringLookup(vocabulary=c["vocabulary"], num_oov_indices=1, output_mode="one_hot",
                                            name=f"{c['input']}_one_hot")(inp)
        else:
            ids = keras.layers.StringLookup(vocabulary=c["vocabulary"], num_oov_indices=1,
                                            name=f"{c['input']}_lookup")(inp)
            emb = keras.layers.Embedding(len(c["vocabulary"]) + 1, c["output_dim"], name=f"{c['input']}_embedding")
            out = keras.layers.Flatten(name=f"{c['input']}_flatten")(emb(ids))
        parts.append(out)
    joined = keras.layers.Concatenate(name="features")(parts) if len(parts) > 1 else parts[0]
    return keras.Model(inputs, stack(joined), name=f"{name.replace('-', '_').replace('.', '_')}_with_inputs")


def adapt_preprocessing(loaded: Any, model: Any, x_train: Any) -> list[str]:
    """Fit preprocessing layers that learn from data (``Normalization`` without ``mean``/``variance``) on
    the training split only, so their state is saved inside the model.

    Args:
        x_train: training features, shape (num_train, num_features).

    Returns:
        Descriptions of the layers adapted.

    Raises:
        ConfigError: such a layer is not the first layer (it would see untrained outputs).
    """
    keras = _keras()
    adapted = []
    if not isinstance(model, keras.Sequential):
        return adapted  # categorical inputs: data.normalize does it (user Normalization layers are refused)
    layers = list(model.layers)
    if layers and layers[0].name == "normalize":  # data.normalize's own layer, already set
        layers = layers[1:]
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.TextVectorization):
            given = i < len(loaded.config.model.layers) and loaded.config.model.layers[i].kwargs.get("vocabulary")
            if not given:
                if i != 0:
                    raise loaded.error(("model", "layers", i), "TextVectorization learns its vocabulary from the "
                                       "texts only as the first layer; move it first")
                layer.adapt(x_train.reshape(-1))
                adapted.append(f"model.layers[{i}] TextVectorization: vocabulary of {layer.vocabulary_size()} "
                               f"tokens from {len(x_train)} training texts")
            continue
        needs = isinstance(layer, keras.layers.Normalization) and getattr(layer, "input_mean", None) is None
        if not needs:
            continue
        if i != 0 or len(layers) != len(model.layers):
            raise loaded.error(("model", "layers", i), "Normalization learns its mean and variance from the data "
                               "only as the first layer; move it first, or give mean and variance")
        layer.adapt(x_train)
        adapted.append(f"model.layers[{i}] {type(layer).__name__}: adapted on {len(x_train)} training examples")
    return adapted


def _keras_kwargs(kwargs: dict) -> dict:
    """Nested specs to Keras' serialized form: {type: L2, l2: 0.01} -> {class_name: L2, config: {l2: 0.01}}."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and isinstance(value.get("type"), str) and key.endswith(
            ("_regularizer", "_initializer", "_constraint")
        ):
            value = {"class_name": value["type"], "config": {k: v for k, v in value.items() if k != "type"}}
        out[key] = value
    return out


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
