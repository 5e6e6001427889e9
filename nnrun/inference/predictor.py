"""Predict and evaluate with a saved run: load the model safely, turn outputs into labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.backend import jit_on_jax
from nnrun.backend import keras as _keras
from nnrun.errors import RunError


def load_model(run_dir: Path, name: str = rundir.MODEL, meta: dict | None = None) -> Any:
    """Load ``run_dir/<name>`` (default ``model.keras``) with Keras ``safe_mode=True`` (no code in it runs).

    Args:
        meta: the run's dataset.json document: the model's inputs and outputs are checked against it.

    Raises:
        RunError: the file is corrupt or holds objects that safe mode refuses (e.g. a Lambda layer).
        UsageError: (with ``meta``) the model does not fit the run's data (copied from another run).
    """
    keras = _keras()
    path = run_dir / name
    if _uses_keras_hub(run_dir):
        import keras_hub  # noqa: F401 (registers its layers for deserialization)
    check_archive(path)
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=True)
    except Exception as exc:
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        first = " ".join(lines[:3])[:600] if lines else type(exc).__name__
        raise RunError(f"{path}: cannot load the model: {first}") from None
    jit_on_jax(model)  # a model saved by TensorFlow on a CPU says jit_compile: false
    if meta is not None:
        from nnrun.inference.signature import check_signature

        check_signature(model, meta, path)
    return model


def check_archive(path: Path) -> None:
    """A ``.keras`` file is a zip archive holding ``config.json``: say what the file is when it is not (Keras
    says "File not found" for an empty, truncated or HDF5 file that exists).

    Raises:
        RunError: missing, empty, HDF5, not a zip, or a zip without ``config.json``.
    """
    import zipfile

    if not path.is_file():
        raise RunError(f"{path}: no model file (the run has no saved model; was its training finished?)")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
    what = ("an empty file (0 bytes)" if size == 0 else
            "an HDF5 file (the legacy .h5 format)" if head.startswith(b"\x89HDF") else
            None if zipfile.is_zipfile(path) else f"a {size}-byte file that is not a zip archive")
    if what is None:
        with zipfile.ZipFile(path) as archive:
            if "config.json" in archive.namelist():
                return
        what = "a zip archive without config.json"
    raise RunError(f"{path}: {what}, not a .keras model archive; restore the run's model.keras, or train again")


def _uses_keras_hub(run_dir: Path) -> bool:
    """Whether the run's config has keras-hub layers (their classes must be registered before loading)."""
    config = run_dir / rundir.CONFIG
    if not config.exists():
        return False
    from nnrun.config.registry import catalog

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


#: Rows per call into the model when predicting (bigger batches amortise the per-call cost).
PREDICT_BATCH = 8192


def inference_batch(x: Any, batch_size: int) -> int:
    """Rows per batch for evaluating or predicting on ``x`` in memory.

    Tables (2-D numeric inputs, or the dict of a table with categorical columns) get up to ``PREDICT_BATCH``
    rows, about 2M cells per batch (8,192 rows up to 256 columns); images and texts, whose activations grow
    with the example size, get 1,024. Never less than the training ``batch_size``. Keras weighs each batch's
    loss and metrics by its size, so the batch size does not change the values, only the time.
    """
    parts = list(x.values()) if isinstance(x, dict) else [x]
    tabular = all(isinstance(v, np.ndarray) and v.ndim <= 2 and
                  (v.dtype.kind in "fiub" or (isinstance(x, dict) and v.ndim == 2 and v.shape[1] == 1))
                  for v in parts)
    if not tabular:
        return max(batch_size, 1024)
    width = sum(v.shape[1] if v.ndim == 2 else 1 for v in parts)
    return max(batch_size, min(PREDICT_BATCH, max(1024, 2**21 // max(width, 1))))


class Predictor:
    """A loaded model, ready to predict batch after batch (one compiled call per batch of rows).

    Plain feature arrays go through a ``tf.function`` of the model with a fixed input signature, called on
    slices of ``batch_size`` rows (no retracing, no ``model.predict`` machinery per chunk); inputs with
    categorical string columns, and texts, go through ``model.predict_on_batch`` on the same slices (Keras'
    compiled predict step without ``model.predict``'s per-call set-up, ~90 ms: ``nnrun serve`` calls it per
    request).

    Args:
        model: the loaded Keras model.
        meta: the run's ``dataset.json``.
        batch_size: rows per call into the model.
    """

    def __init__(self, model: Any, meta: dict, batch_size: int = PREDICT_BATCH) -> None:
        self.model, self.meta, self.batch_size = model, meta, batch_size
        self._fn = None

    def raw(self, x: Any) -> np.ndarray:
        """The model's outputs, float32 ``(num_rows, num_outputs)``."""
        from nnrun.data.features import nrows

        n = nrows(x)
        text = isinstance(x, np.ndarray) and (x.dtype == object or x.dtype.kind == "U")
        if n == 0:
            return np.zeros((0, 1), np.float32)
        if _keras().backend.backend() != "tensorflow":  # JAX: model.predict jits the model itself
            return np.asarray(self.model.predict(keras_inputs(x), batch_size=self.batch_size, verbose=0),
                              dtype=np.float32).reshape(n, -1)
        if isinstance(x, dict) or text:  # string inputs: Keras' own compiled predict step, a batch per call
            from nnrun.data.features import take

            parts = [np.asarray(self.model.predict_on_batch(keras_inputs(take(x, slice(i, i + self.batch_size)))))
                     for i in range(0, n, self.batch_size)]
            return np.concatenate(parts).reshape(n, -1).astype(np.float32, copy=False)
        if self._fn is None:
            import tensorflow as tf

            model = self.model
            self._fn = tf.function(lambda a: model(a, training=False), reduce_retracing=True, input_signature=[
                tf.TensorSpec([None, *x.shape[1:]], tf.float32)])
        x = np.ascontiguousarray(x, dtype=np.float32)
        parts = [np.asarray(self._fn(x[i:i + self.batch_size])) for i in range(0, n, self.batch_size)]
        return np.concatenate(parts).reshape(n, -1).astype(np.float32, copy=False)

    def __call__(self, x: Any, threshold: float = 0.5) -> Predictions:
        """Predict rows: see ``Predictions``."""
        return to_predictions(self.raw(x), self.meta, threshold)


class Predictions:
    """Predictions for a batch of rows, column-wise.

    Attributes:
        values: classifiers: the predicted class of each row, shape (n,), labels as in the training data
            (strings or ints); regressors: float32 (n, num_outputs).
        probabilities: classifiers: float64 (n, num_classes), rows summing to 1; None for regressors.
        classes: the class labels in probability-column order (None for regressors).
        extra: more columns (numbers, or text as an object array), name -> (n,), written after the predictions
            (``predict --explain``'s attributions); with ``values`` None they are the only output (``predict
            --layer``'s activations).
        nested: columns whose cells are JSON values (lists), name -> object array (n,), written last by the
            JSON and JSON Lines writers only (a text model's ``attr_tokens``); CSV and Parquet leave them out.
    """

    def __init__(self, values: np.ndarray | None, probabilities: np.ndarray | None, classes: list | None,
                 extra: dict[str, np.ndarray] | None = None) -> None:
        self.values, self.probabilities, self.classes = values, probabilities, classes
        self.extra = extra or {}
        self.nested: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        if self.values is None:
            return len(next(iter(self.extra.values()))) if self.extra else 0
        return len(self.values)


def to_predictions(raw: np.ndarray, meta: dict, threshold: float = 0.5) -> Predictions:
    """Model outputs (``(n, num_outputs)``) as class labels and probabilities, or values.

    Binary classifiers predict the second class when its probability is >= ``threshold``; others the most
    probable class.
    """
    probs = probabilities(raw, meta)
    if meta["task"] == "regression":
        return Predictions(raw.astype(np.float32, copy=False), None, None)
    classes = list(meta["classes"])
    chosen = (probs[:, 1] >= threshold).astype(np.int64) if meta["target_encoding"] == "binary" else \
        np.argmax(probs, axis=1)
    labels = np.array(classes, dtype=object if any(isinstance(c, str) for c in classes) else None)
    return Predictions(np.take(labels, chosen), probs, classes)


def probabilities(out: np.ndarray, meta: dict) -> np.ndarray:
    """Raw outputs as probabilities (classifiers: (n, num_classes) float64, a binary sigmoid p becoming
    [1 - p, p]; logits through sigmoid/softmax when the loss had ``from_logits``) or values (regressors:
    unchanged, float64)."""
    out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
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


def outputs(model: Any, x: np.ndarray, meta: dict, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs as probabilities (classifiers) or values (regressors).

    Returns:
        Classifiers: shape (num_rows, num_classes), each row summing to 1 (a binary sigmoid p becomes
        [1 - p, p]; logits go through sigmoid/softmax when the loss had ``from_logits``). Regressors:
        shape (num_rows, num_outputs).
    """
    from nnrun.data.features import nrows

    out = model.predict(keras_inputs(x), batch_size=batch_size, verbose=0)
    return probabilities(np.asarray(out).reshape(nrows(x), -1), meta)
