"""Predict and evaluate with a saved run: load the model safely, turn outputs into labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.backend import keras as _keras
from nnrun.errors import RunError


def load_model(run_dir: Path) -> Any:
    """Load ``run_dir/model.keras`` with Keras ``safe_mode=True`` (no code in the file is run).

    Raises:
        RunError: the file is corrupt or holds objects that safe mode refuses (e.g. a Lambda layer).
    """
    keras = _keras()
    path = run_dir / rundir.MODEL
    try:
        return keras.models.load_model(path, safe_mode=True, compile=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path}: cannot load the model: {first}") from None


def predict_records(model: Any, x: np.ndarray, meta: dict, batch_size: int = 1024) -> list[dict]:
    """Predict and describe each row.

    Args:
        model: the loaded Keras model.
        x: features, shape (num_rows, num_features), float32.
        meta: the run's ``dataset.json``.
        batch_size: rows per ``model.predict`` batch.

    Returns:
        One dict per row: ``{"prediction": label, "probabilities": {class: p, …}}`` for classifiers
        (labels as in the training data, e.g. ``Iris-setosa``), ``{"prediction": value}`` for regressors.
    """
    if len(x) == 0:
        return []
    out = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    out = out.reshape(len(x), -1)
    if meta["task"] == "regression":
        return [{"prediction": float(v[0]) if len(v) == 1 else [float(a) for a in v]} for v in out]
    classes = meta["classes"]
    if meta["target_encoding"] == "binary":
        p1 = out[:, 0]
        if meta.get("from_logits"):
            p1 = 1.0 / (1.0 + np.exp(-p1))
        probs = np.stack([1.0 - p1, p1], axis=1)
    else:
        probs = out
        if meta.get("from_logits"):
            e = np.exp(out - out.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
    records = []
    for row in probs:
        k = int(np.argmax(row))
        records.append(
            {
                "prediction": classes[k],
                "probabilities": {str(c): round(float(p), 6) for c, p in zip(classes, row, strict=True)},
            }
        )
    return records
