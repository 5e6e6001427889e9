"""Inside a run's model: a layer's activations (feature extraction) and integrated-gradients attributions.

The saved model is a ``keras.Sequential`` (the config's layers, after ``data.normalize``'s ``normalize`` layer),
or, with categorical columns, a functional model whose string inputs are encoded (``StringLookup`` then
one-hot or an embedding), concatenated (layer ``features``) and passed to that Sequential. ``split_model``
cuts it in two: the encoding (not differentiable: strings in) and the differentiable rest, whose input is
a float vector where each raw column owns a slice (``column_slices``).

Integrated gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks"): for an input e
and a baseline b, attribution_i = (e_i - b_i) * ∫₀¹ ∂F(b + α(e - b))/∂e_i dα, computed with
``tf.GradientTape`` and the trapezoidal rule over ``steps`` intervals; the attributions of a column's parts
are summed. Completeness: F(b) + Σ attributions = F(e) (up to the quadrature error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnrun.errors import UsageError

#: Intervals of the integrated-gradients path (trapezoidal rule). A batch of rows where some row's sum misses
#: its output by more than ``IG_TOLERANCE`` (relative) is redone with twice the steps, up to ``IG_MAX_STEPS``
#: (saturated sigmoids bend sharply along the path; a fixed step count missed completeness by 1.3 % there).
IG_STEPS = 64
IG_MAX_STEPS = 1024
IG_TOLERANCE = 0.005
#: Rows per gradient call (each row becomes steps + 1 points on its path).
_IG_ROWS = 32


def config_layers(model: Any) -> list[Any]:
    """The Keras layers of the config's ``model.layers``, in order (preprocessing nnrun adds is left out)."""
    stack = _stack(model)
    layers = list(stack.layers)
    if layers and layers[0].name == "normalize":
        layers = layers[1:]
    return layers


def _stack(model: Any) -> Any:
    """The Sequential of the config's layers (the model itself, or the one inside the functional wrapper)."""
    from nnrun.backend import keras as _keras

    keras = _keras()
    if isinstance(model, keras.Sequential):
        return model
    inner = [layer for layer in model.layers if isinstance(layer, keras.Sequential)]
    return inner[-1]


def find_layer(model: Any, ref: str) -> tuple[int, Any]:
    """The config layer named ``ref`` (a Keras layer name) or at index ``ref`` (counting ``model.layers`` from 0).

    Raises:
        UsageError: no such layer (the layers listed).
    """
    layers = config_layers(model)
    text = str(ref).strip()
    if text.lstrip("-").isdigit():
        i = int(text)
        if 0 <= i < len(layers):
            return i, layers[i]
    for i, layer in enumerate(layers):
        if layer.name == text:
            return i, layer
    names = ", ".join(f"{i}={layer.name}" for i, layer in enumerate(layers))
    raise UsageError(f"--layer {ref}: no such layer; the config's layers are (index=name): {names}")


def split_model(model: Any, spec: dict) -> tuple[Any, Any]:
    """(encode, rest): ``encode(inputs)`` gives the float tensor the config's layers receive (identity for a
    plain Sequential), ``rest`` is the differentiable model from that tensor to the outputs."""
    from nnrun.backend import keras as _keras

    keras = _keras()
    if isinstance(model, keras.Sequential):
        return (lambda x: x), model
    names = ["features"] if len(spec["categorical"]) + bool(spec["numeric"]) > 1 else \
        [f"{spec['categorical'][0]['input']}_one_hot", f"{spec['categorical'][0]['input']}_flatten"]
    joined = next(model.get_layer(n).output for n in names if n in {la.name for la in model.layers})
    return keras.Model(model.inputs, joined), _stack(model)


def layer_outputs(model: Any, spec: dict, x: Any, ref: str, batch_size: int = 1024) -> np.ndarray:
    """The activations of the config layer ``ref`` for rows ``x``, float32 (num_rows, width) (a layer with
    a multi-dimensional output is flattened). Keras' inference mode (no dropout).

    Raises:
        UsageError: no such layer.
    """
    from nnrun.data.features import nrows, take
    i, _ = find_layer(model, ref)
    encode, _ = split_model(model, spec)
    stack = _stack(model)
    upto = stack.layers[: stack.layers.index(config_layers(model)[i]) + 1]
    n = nrows(x)
    parts = []
    for start in range(0, n, batch_size):
        h = encode(_tensors(take(x, slice(start, start + batch_size))))
        for layer in upto:
            h = layer(h, training=False)
        parts.append(np.asarray(h, dtype=np.float32).reshape(min(batch_size, n - start), -1))
    if not parts:
        return np.zeros((0, int(np.prod(config_layers(model)[i].output.shape[1:]))), np.float32)
    return np.concatenate(parts)


def _tensors(x: Any) -> Any:
    """Model inputs as TensorFlow tensors (a functional model refuses a dict mixing arrays and tensors)."""
    import tensorflow as tf

    from nnrun.inference.predictor import keras_inputs

    x = keras_inputs(x)
    if isinstance(x, dict):
        return {k: v if tf.is_tensor(v) else tf.constant(v) for k, v in x.items()}
    return x if tf.is_tensor(x) else tf.constant(x)


def column_slices(spec: dict) -> list[tuple[str, int, int]]:
    """(raw column, start, stop) of each column's part of the encoded vector: numeric columns first, one
    entry each, then each categorical column's one-hot (vocabulary + 1) or embedding width, in spec order."""
    out = [(name, j, j + 1) for j, name in enumerate(spec["numeric"])]
    at = len(spec["numeric"])
    for c in spec["categorical"]:
        width = len(c["vocabulary"]) + 1 if c["encoding"] == "one_hot" else c["output_dim"]
        out.append((c["name"], at, at + width))
        at += width
    return out


def baseline_row(spec: dict, means: np.ndarray | None) -> Any:
    """One row of model inputs at the baseline: numeric columns at ``means`` (the training means), each
    categorical column at a value outside its vocabulary (StringLookup's out-of-vocabulary index 0)."""
    numeric = np.asarray(means if means is not None else np.zeros(len(spec["numeric"])), np.float32).reshape(1, -1)
    if not spec["categorical"]:
        return numeric
    row: dict[str, Any] = {"numeric": numeric} if spec["numeric"] else {}
    for c in spec["categorical"]:
        oov = "<baseline>"
        while oov in set(c["vocabulary"]):
            oov += "_"
        row[c["input"]] = np.array([[oov]], dtype=object)
    return row


def check_explainable(spec: dict) -> None:
    """Integrated gradients explain table columns (numeric or categorical) here, a text's tokens in
    ``nnrun.inference.text_attributions``.

    Raises:
        UsageError: array (image) inputs.
    """
    # (rows of numbers, inline or NPZ, have a 1-D shape: columns; images and data.reshape have more)
    if len(spec.get("shape") or ()) > 1 or spec.get("reshape") or not spec.get("columns"):
        raise UsageError("--explain: array (image) inputs are not supported; it explains table columns")


def integrated_gradients(model: Any, meta: dict, x: Any, baseline: Any,
                         threshold: float = 0.5) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Integrated-gradients attributions of the explained output for rows ``x``.

    The explained output is the predicted class's probability (binary: the chosen side of ``threshold``)
    for classifiers, the (first) value for regressors.

    Args:
        x: model inputs of n rows. baseline: one row of model inputs (``baseline_row``).

    Returns:
        (attributions, at_baseline, explained): ``{column: (n,) float64}``, the explained output at the
        baseline (n,) and at the row (n,).
    """
    import tensorflow as tf

    from nnrun.data.features import nrows, take

    spec = meta["features"]
    encode, rest = split_model(model, spec)
    e_base = tf.cast(encode(_tensors(baseline)), tf.float32)
    cols = column_slices(spec)
    n = nrows(x)
    attrs = {c["name"]: np.zeros(n) for c in spec["columns"]}  # in the file's column order
    base, explained = np.zeros(n), np.zeros(n)
    for start in range(0, n, _IG_ROWS):
        rows = take(x, slice(start, start + _IG_ROWS))
        e = tf.cast(encode(_tensors(rows)), tf.float32)
        steps = IG_STEPS
        while True:
            grads, f_e, f_b = _path_gradients(rest, meta, (e, e_base), threshold, steps)
            delta = (e - e_base).numpy() * grads
            gap = np.abs(f_b + delta.sum(axis=1) - f_e)
            if steps >= IG_MAX_STEPS or np.all(gap <= IG_TOLERANCE * np.maximum(np.abs(f_e), 1e-12)):
                break
            steps *= 2
        end = start + len(f_e)
        for c, a, b in cols:
            attrs[c][start:end] = delta[:, a:b].sum(axis=1)
        base[start:end], explained[start:end] = f_b, f_e
    return attrs, base, explained


def _path_gradients(rest: Any, meta: dict, ends: tuple[Any, Any], threshold: float,
                    steps: int) -> tuple[np.ndarray, ...]:
    """Average gradient along the straight path from the baseline to each row (trapezoidal rule over ``steps``
    intervals), and the explained output at both ends. ends: (B, W) encoded rows and the (1, W) baseline."""
    import tensorflow as tf

    e, e_base = ends
    rows, width = int(e.shape[0]), int(e.shape[1])
    alphas = tf.linspace(0.0, 1.0, steps + 1)[:, None, None]
    path = tf.reshape(e_base[None] + alphas * (e - e_base)[None], (-1, width))  # (steps+1)*B rows
    chosen = chosen_outputs(rest(e, training=False), meta, threshold)
    with tf.GradientTape() as tape:
        tape.watch(path)
        f = explained_output(rest(path, training=False), meta, np.tile(chosen, steps + 1))
    grads = tape.gradient(f, path).numpy().reshape(steps + 1, rows, width)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] = 0.5 / steps
    avg = np.tensordot(weights, grads.astype(np.float64), axes=1)
    f = f.numpy().reshape(steps + 1, rows).astype(np.float64)
    return avg, f[-1], f[0]


def chosen_outputs(out: Any, meta: dict, threshold: float) -> np.ndarray:
    """The explained output's index per row: the predicted class (binary: 1 when p >= threshold)."""
    from nnrun.inference.predictor import probabilities

    if meta["task"] == "regression":
        return np.zeros(int(out.shape[0]), np.int64)
    probs = probabilities(np.asarray(out), meta)
    if meta["target_encoding"] == "binary":
        return (probs[:, 1] >= threshold).astype(np.int64)
    return np.argmax(probs, axis=1)


def explained_output(out: Any, meta: dict, chosen: np.ndarray) -> Any:
    """The explained output as a differentiable tensor (n,): probability of class ``chosen`` (through
    sigmoid/softmax when the loss had ``from_logits``), or the first regression output."""
    import tensorflow as tf

    if meta["task"] == "regression":
        return out[:, 0]
    if meta["target_encoding"] == "binary":
        p1 = tf.sigmoid(out[:, 0]) if meta.get("from_logits") else out[:, 0]
        return tf.where(tf.constant(chosen == 1), p1, 1.0 - p1)
    probs = tf.nn.softmax(out, axis=1) if meta.get("from_logits") else out
    return tf.gather(probs, tf.constant(chosen), axis=1, batch_dims=1)


def extra_columns(model: Any, meta: dict, explain: bool, layer: str | None,
                  means: np.ndarray | None) -> Callable[[Any, Any, float], Any] | None:
    """For ``predict --layer`` / ``--explain``: a function (x, predictions, threshold) -> predictions with the
    layer's activations (``f0``…, instead of the predictions) or the attributions (``attr_baseline``,
    ``attr_<column>``) as ``extra`` columns; None without either option.

    Args:
        means: the numeric columns' training means (the baseline) when the feature spec has none.

    Raises:
        UsageError: both options; no such layer; ``--explain`` on an image model.
    """
    if layer is None and not explain:
        return None
    if layer is not None and explain:
        raise UsageError("--layer and --explain: give one (--layer writes activations instead of predictions)")
    from nnrun.inference.predictor import Predictions

    spec = meta["features"]
    if layer is not None:
        find_layer(model, layer)  # before reading: a wrong name is refused at once

        def activations(x: Any, preds: Any, threshold: float) -> Any:
            acts = layer_outputs(model, spec, x, layer)
            return Predictions(None, None, None, {f"f{j}": acts[:, j] for j in range(acts.shape[1])})
        return activations
    if spec.get("text"):
        from nnrun.inference.text_attributions import token_columns

        return token_columns(model, meta)
    check_explainable(spec)
    if spec.get("mean") is not None:
        means = np.asarray(spec["mean"], dtype=np.float64).reshape(-1)
    baseline = baseline_row(spec, means)

    def explained(x: Any, preds: Any, threshold: float) -> Any:
        attrs, base, _ = integrated_gradients(model, meta, x, baseline, threshold)
        preds.extra = {"attr_baseline": base, **{f"attr_{c}": v for c, v in attrs.items()}}
        return preds
    return explained
