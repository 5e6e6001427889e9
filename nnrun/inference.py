"""Predict and evaluate with a saved run: load the model safely, turn outputs into labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.backend import keras as _keras
from nnrun.errors import RunError


def load_model(run_dir: Path, name: str = rundir.MODEL) -> Any:
    """Load ``run_dir/<name>`` (default ``model.keras``) with Keras ``safe_mode=True`` (no code in it runs).

    Raises:
        RunError: the file is corrupt or holds objects that safe mode refuses (e.g. a Lambda layer).
    """
    keras = _keras()
    path = run_dir / name
    if _uses_keras_hub(run_dir):
        import keras_hub  # noqa: F401 (registers its layers for deserialization)
    try:
        return keras.models.load_model(path, safe_mode=True, compile=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path}: cannot load the model: {first}") from None


def _uses_keras_hub(run_dir: Path) -> bool:
    """Whether the run's config has keras-hub layers (their classes must be registered before loading)."""
    config = run_dir / rundir.CONFIG
    if not config.exists():
        return False
    from nnrun.registry import catalog

    hub = {n for n, e in catalog()["layers"].items() if e.get("module") == "keras_hub"}
    text = config.read_text(encoding="utf-8", errors="replace")
    return any(f"type: {n}" in text for n in hub)


def keras_inputs(x: Any) -> Any:
    """Model inputs as Keras takes them: categorical string columns (NumPy object arrays, which Keras'
    array adapter refuses) become ``tf.string`` tensors; numeric arrays pass through."""
    if not isinstance(x, dict):
        if isinstance(x, np.ndarray) and (x.dtype == object or x.dtype.kind == "U"):
            import tensorflow as tf

            return tf.constant(x.astype(str))
        return x
    import tensorflow as tf

    return {k: tf.constant(v.astype(str)) if v.dtype == object or v.dtype.kind == "U" else v for k, v in x.items()}


def outputs(model: Any, x: np.ndarray, meta: dict, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs as probabilities (classifiers) or values (regressors).

    Returns:
        Classifiers: shape (num_rows, num_classes), each row summing to 1 (a binary sigmoid p becomes
        [1 - p, p]; logits go through sigmoid/softmax when the loss had ``from_logits``). Regressors:
        shape (num_rows, num_outputs).
    """
    from nnrun.features import nrows

    out = model.predict(keras_inputs(x), batch_size=batch_size, verbose=0)
    out = np.asarray(out, dtype=np.float64).reshape(nrows(x), -1)
    if meta["task"] == "regression":
        return out
    if meta["target_encoding"] == "binary":
        p1 = out[:, 0]
        if meta.get("from_logits"):
            p1 = 1.0 / (1.0 + np.exp(-p1))
        return np.stack([1.0 - p1, p1], axis=1)
    if meta.get("from_logits"):
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return out


def predict_records(
    model: Any, x: np.ndarray, meta: dict, batch_size: int = 1024, threshold: float = 0.5
) -> list[dict]:
    """Predict and describe each row.

    Args:
        model: the loaded Keras model.
        x: features, shape (num_rows, num_features), float32.
        meta: the run's ``dataset.json``.
        batch_size: rows per ``model.predict`` batch.
        threshold: binary classifiers predict the second class when its probability is >= threshold.

    Returns:
        One dict per row: ``{"prediction": label, "probabilities": {class: p, …}}`` for classifiers
        (labels as in the training data, e.g. ``Iris-setosa``), ``{"prediction": value}`` for regressors.
    """
    from nnrun.features import nrows

    if nrows(x) == 0:
        return []
    out = outputs(model, x, meta, batch_size)
    if meta["task"] == "regression":
        return [{"prediction": float(v[0]) if len(v) == 1 else [float(a) for a in v]} for v in out]
    classes = meta["classes"]
    if meta["target_encoding"] == "binary":
        chosen = (out[:, 1] >= threshold).astype(int)
    else:
        chosen = np.argmax(out, axis=1)
    return [
        {
            "prediction": classes[int(k)],
            "probabilities": {str(c): round(float(p), 6) for c, p in zip(classes, row, strict=True)},
        }
        for k, row in zip(chosen, out, strict=True)
    ]
