"""Parity of an exported model with the run's Keras model: the export is loaded by its own runtime
(``tf.saved_model.load``, ``onnxruntime.InferenceSession``, ``ai_edge_litert.interpreter.Interpreter``), run on
the run's own rows, and its outputs compared with the Keras model's.

The rows are up to ``MAX_ROWS`` of the run's validation split (else its training split), the indices of
``split.json``, prepared as ``nnrun predict`` prepares rows (the run's feature spec: fills, categories as text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir

MAX_ROWS = 1000
#: Rows per call into the exported model.
BATCH = 256


@dataclass
class Rows:
    """The rows a parity check runs on: ``x`` as the Keras model takes it, which split, how many."""

    x: Any
    subset: str
    count: int


def check_rows(run: Path, cfg: Any, meta: dict, warn: Callable[[str], None], limit: int = MAX_ROWS) -> Rows:
    """Up to ``limit`` rows of the run's validation split, else its training split (``split.json`` order).

    Raises:
        DataError: the run's data files are gone or unreadable.
    """
    from nnrun.data.features import take
    from nnrun.evaluation.examples import rebuild

    if meta.get("streaming"):  # split by hash (no indices): the first rows of the role, in shard order
        from nnrun.data.stream_read import TRAIN, VALIDATION
        from nnrun.data.stream_source import first_rows, from_run

        subset = "validation" if meta.get("num_validation") else "training"
        x, _ = first_rows(from_run(meta, cfg, warn), VALIDATION if subset == "validation" else TRAIN, limit)
        return Rows(x, subset, len(next(iter(x.values())) if isinstance(x, dict) else x))
    split = rundir.read_json(run / rundir.SPLIT)
    subset = "validation" if split.get("validation") else "training"
    idx = np.asarray(split["validation" if subset == "validation" else "train"], dtype=np.int64)[:limit]
    table = rebuild(cfg, meta, warn)
    return Rows(take(table.x, idx), subset, len(idx))


def feeds(x: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The exported model's inputs for ``x`` (predict's model input): name -> array, numbers as float32 and
    categories or texts as ``str`` object arrays."""
    parts = x if isinstance(x, dict) else {names[0]: x}

    def prepared(v: np.ndarray) -> np.ndarray:
        if v.dtype == object or v.dtype.kind in "US":
            return np.asarray(v.astype(str), dtype=object)
        return np.ascontiguousarray(v, dtype=np.float32)

    return {k: prepared(parts[k]) for k in names}


def run_saved_model(folder: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    """Outputs of the SavedModel in ``folder`` (its ``serving_default`` signature) on ``feed``."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return _batched(feed, lambda part: next(iter(fn(**{k: tf.constant(v) for k, v in part.items()}).values())))


def run_onnx(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    """Outputs of the ONNX model at ``path`` on ``feed``, by onnxruntime (CPU)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return _batched(feed, lambda part: session.run(None, part)[0])


def run_litert(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    """Outputs of the LiteRT model at ``path`` on ``feed``, by the ai-edge-litert interpreter (strings as
    bytes, which is how LiteRT holds them)."""
    from ai_edge_litert.interpreter import Interpreter

    from nnrun.backend import quiet_native_logs

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")

    def call(part: dict[str, np.ndarray]) -> Any:
        bytes_part = {k: v.astype(np.bytes_) if v.dtype == object else v for k, v in part.items()}
        return next(iter(runner(**bytes_part).values()))

    with quiet_native_logs():  # the interpreter announces its XNNPACK delegate on stderr at the first call
        return _batched(feed, call)


RUNTIMES: dict[str, tuple[str, Callable[[Path, dict], np.ndarray]]] = {
    "saved_model": ("tensorflow", run_saved_model),
    "onnx": ("onnxruntime", run_onnx),
    "litert": ("ai-edge-litert", run_litert),
}


def compare(fmt: str, exported: Path, reference: np.ndarray, x: Any, names: list[str]) -> float:
    """The largest absolute difference between the exported model's outputs (format ``fmt``, file or folder
    ``exported``) and ``reference`` (the Keras model's (n, num_outputs) outputs on ``x``); inf when the
    export gives a different shape or a NaN where Keras does not."""
    out = RUNTIMES[fmt][1](exported, feeds(x, names))
    out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    if out.shape != reference.shape:
        return float("inf")
    diff = np.abs(out - reference)
    if np.isnan(diff).any():
        same = np.isnan(out) & np.isnan(reference)
        if (np.isnan(diff) & ~same).any():
            return float("inf")
        diff = np.where(same, 0.0, diff)
    return float(diff.max()) if diff.size else 0.0


def _batched(feed: dict[str, np.ndarray], call: Callable[[dict[str, np.ndarray]], Any]) -> np.ndarray:
    n = len(next(iter(feed.values())))
    parts = [np.asarray(call({k: v[i:i + BATCH] for k, v in feed.items()})) for i in range(0, n, BATCH)]
    return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
