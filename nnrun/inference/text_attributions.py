"""Integrated gradients for text models (``predict --explain``): one attribution per token of each text.

A text model is a Sequential: ``TextVectorization`` (a string in, token ids out, padded with id 0), an embedding
layer (``Embedding``, keras-hub's ``TokenAndPositionEmbedding``, …), then the rest of the config's layers.
Token ids are not differentiable, so the integrated-gradients path runs in embedding space, with gradients taken
at the embedding layer's output (``tf.GradientTape``):

- the **baseline** is the padding token's embedding at every position (the embedding layer's output for token id
  0 everywhere, position embeddings included): for a model without a padding mask that is exactly the model's
  input for an empty text;
- the row's padding mask (``mask_zero: true``) is kept fixed along the path, so a masked model sees the same
  positions at every step;
- a token's attribution is the sum over its embedding's dimensions of (e - b) · the path-averaged gradient.
  Padding positions equal the baseline, so their attribution is exactly 0; they are not listed.

Completeness: output at the baseline + Σ token attributions = the explained output (the predicted class's
probability, or the value), up to the quadrature error, which the adaptive step count keeps under
``IG_TOLERANCE`` as for table columns (``nnrun.inference.attributions``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from nnrun.errors import UsageError
from nnrun.inference.attributions import (
    IG_MAX_STEPS,
    IG_STEPS,
    IG_TOLERANCE,
    chosen_outputs,
    config_layers,
    explained_output,
)

#: Texts per gradient call (each becomes steps + 1 sequences on its path; recurrent layers are slow per step).
TEXT_ROWS = 8
#: Tokens named in the compact ``attr_top`` column (largest absolute attribution first).
TOP_TOKENS = 5


def split_text_model(model: Any) -> tuple[Any, Any, list[Any]]:
    """(vectorize, embed, rest): the model's TextVectorization layer, the embedding layer after it, and the
    layers after that, in order.

    Raises:
        UsageError: the model has no TextVectorization layer followed by a layer.
    """
    from nnrun.backend import keras as _keras

    keras = _keras()
    layers = config_layers(model)
    at = next((i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.TextVectorization)), None)
    if at is None or at + 1 >= len(layers):
        raise UsageError("--explain: this text model has no TextVectorization layer followed by an embedding; "
                         "token attributions are taken at the embedding's output")
    return layers[at], layers[at + 1], layers[at + 2:]


def _forward(layers: list[Any], h: Any, mask: Any) -> Any:
    """The layers applied in turn in inference mode, the padding mask passed to each layer that takes one
    (``mask``, or keras-hub's ``padding_mask``) and carried on with ``compute_mask``."""
    for layer in layers:
        kwargs: dict[str, Any] = {"training": False}
        params = inspect.signature(layer.call).parameters
        if mask is not None and "mask" in params:
            kwargs["mask"] = mask
        elif mask is not None and "padding_mask" in params:
            kwargs["padding_mask"] = mask
        out = layer(h, **kwargs)
        mask = layer.compute_mask(h, mask) if mask is not None else None
        h = out
    return h


def token_attributions(model: Any, meta: dict, texts: Any,
                       threshold: float = 0.5) -> tuple[list[list[tuple[str, float]]], np.ndarray, np.ndarray]:
    """Integrated-gradients attributions of each text's tokens to the explained output.

    Args:
        model: the run's text model. meta: its dataset.json. texts: model inputs, (n, 1) strings.
        threshold: binary classifiers explain the side of ``threshold`` they predict.

    Returns:
        (tokens, at_baseline, explained): per text, ``[(token, attribution), …]`` in text order (padding left
        out; a word outside the vocabulary is TextVectorization's ``[UNK]``); the explained output at the
        baseline (n,) and at the text (n,), float64.
    """
    import tensorflow as tf

    from nnrun.inference.predictor import keras_inputs

    vectorize, embed, rest = split_text_model(model)
    vocabulary = vectorize.get_vocabulary()
    texts = np.asarray(texts, dtype=object).reshape(-1, 1)
    out: list[list[tuple[str, float]]] = []
    base, explained = np.zeros(len(texts)), np.zeros(len(texts))
    for start in range(0, len(texts), TEXT_ROWS):
        ids = vectorize(keras_inputs(texts[start:start + TEXT_ROWS]))
        e = tf.cast(embed(ids), tf.float32)
        b = tf.cast(embed(tf.zeros_like(ids)), tf.float32)
        mask = embed.compute_mask(ids, None)
        steps = IG_STEPS
        while True:
            grads, f_e, f_b = _path_gradients(rest, meta, (e, b, mask), threshold, steps)
            per_token = ((e - b).numpy().astype(np.float64) * grads).sum(axis=2)
            gap = np.abs(f_b + per_token.sum(axis=1) - f_e)
            if steps >= IG_MAX_STEPS or np.all(gap <= IG_TOLERANCE * np.maximum(np.abs(f_e), 1e-12)):
                break
            steps *= 2
        ids_np = np.asarray(ids)
        for row_ids, row_attr in zip(ids_np, per_token, strict=True):
            out.append([(vocabulary[i], float(a)) for i, a in zip(row_ids, row_attr, strict=True) if i != 0])
        base[start:start + len(f_e)], explained[start:start + len(f_e)] = f_b, f_e
    return out, base, explained


def _path_gradients(rest: list[Any], meta: dict, ends: tuple[Any, Any, Any], threshold: float,
                    steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradient averaged along the straight path from the baseline to each text's embeddings (trapezoidal
    rule over ``steps`` intervals), (B, L, D) float64, and the explained output at both ends (B,).
    ends: the (B, L, D) embeddings, the baseline's, and the padding mask (B, L) or None."""
    import tensorflow as tf

    e, b, mask = ends
    rows, length, width = (int(d) for d in e.shape)
    alphas = tf.linspace(0.0, 1.0, steps + 1)[:, None, None, None]
    path = tf.reshape(b[None] + alphas * (e - b)[None], (-1, length, width))  # (steps+1)*B sequences
    path_mask = None if mask is None else tf.tile(mask, (steps + 1, 1))
    chosen = chosen_outputs(_forward(rest, e, mask), meta, threshold)
    with tf.GradientTape() as tape:
        tape.watch(path)
        f = explained_output(_forward(rest, path, path_mask), meta, np.tile(chosen, steps + 1))
    grads = tape.gradient(f, path).numpy().reshape(steps + 1, rows, length, width)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] = 0.5 / steps
    avg = np.tensordot(weights, grads.astype(np.float64), axes=1)
    f = f.numpy().reshape(steps + 1, rows).astype(np.float64)
    return avg, f[-1], f[0]


def top_tokens(pairs: list[tuple[str, float]], k: int = TOP_TOKENS) -> str:
    """The compact column for CSV/Parquet: the ``k`` tokens of largest absolute attribution,
    ``"great:+0.4123 awful:-0.2011"`` (a token repeated in the text is listed per occurrence)."""
    ranked = sorted(pairs, key=lambda p: -abs(p[1]))[:k]
    return " ".join(f"{token}:{value:+.4f}" for token, value in ranked)


def token_columns(model: Any, meta: dict) -> Callable[[Any, Any, float], Any]:
    """``predict --explain`` for a text model: a function (texts, predictions, threshold) -> predictions with
    ``attr_baseline`` and ``attr_top`` (``top_tokens``) as extra columns, and ``attr_tokens`` (per row a list of
    ``[token, attribution]`` pairs, rounded to 6 decimals) as a nested column that JSON and JSON Lines
    output carry.

    Raises:
        UsageError: the model has no TextVectorization + embedding (checked at once, before reading).
    """
    split_text_model(model)

    def explained(x: Any, preds: Any, threshold: float) -> Any:
        tokens, base, _ = token_attributions(model, meta, x, threshold)
        pairs = np.empty(len(tokens), dtype=object)
        pairs[:] = [[[t, round(a, 6)] for t, a in row] for row in tokens]
        preds.extra = {"attr_baseline": base, "attr_top": np.array([top_tokens(row) for row in tokens], dtype=object)}
        preds.nested = {"attr_tokens": pairs}
        return preds
    return explained
