"""Evaluate a model on labelled examples and write the report files of a run.

Writes ``evaluation.json`` (Keras' metrics plus the report's), ``report.md`` and the plots
(``learning_curves_<metric>.png``, ``confusion_matrix.png``, ``roc_curve.png`` for binary classifiers).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.data.table import encode_targets
from nnrun.evaluation import report
from nnrun.inference.predictor import outputs

REPORT_MD = "report.md"
CONFUSION_PNG = "confusion_matrix.png"
ROC_PNG = "roc_curve.png"
CURVES_PREFIX = "learning_curves"

#: Report keys copied to the flat ``metrics`` mapping (the names gates use).
_FLAT = {
    "classification": ("accuracy", "log_loss", "roc_auc", "precision_macro", "recall_macro", "f1_macro",
                       "precision_weighted", "recall_weighted", "f1_weighted", "baseline_accuracy"),
    "regression": ("mae", "mse", "rmse", "r2", "baseline_mae"),
}


def evaluate(
    run: Path,
    model: Any,
    x: np.ndarray,
    y_raw: np.ndarray,
    meta: dict,
    *,
    subset: str,
    source: str,
    batch_size: int,
    plots: bool = True,
    threshold: float = 0.5,
    where: Any = None,
) -> dict:
    """Evaluate ``model`` on ``(x, y_raw)`` and write the run's report files.

    Args:
        run: the run directory.
        model: the compiled Keras model.
        x: features, shape (num_samples, num_features). y_raw: raw labels/values, shape (num_samples,).
        meta: the run's ``dataset.json``.
        subset: which examples these are (``validation``, ``training``, ``file``).
        source: where they came from, for messages and the report.
        batch_size: the training batch size; evaluation runs bigger batches (``inference.inference_batch``).
        plots: write the PNG plots.
        threshold: binary decision threshold on the positive class's probability.
        where: example index -> ``file:line``, for messages about its label (default ``<source>: row N``).

    Returns:
        The ``evaluation.json`` document: ``metrics`` (flat name -> number), ``report`` (full), ``plots``.

    Raises:
        DataError: labels the model has never seen.
    """
    y = encode_targets(y_raw, meta["target_encoding"], meta["classes"], source, where)
    from concurrent.futures import ThreadPoolExecutor

    # The learning curves need only history.csv: drawn on a second thread (importing matplotlib included)
    # while TensorFlow, which releases the GIL, evaluates and predicts on this one.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnrun-plots") if plots else None
    curves = pool.submit(_curves, run) if pool is not None else None
    try:
        doc = _evaluate(run, model, x, y, y_raw, meta, subset=subset, source=source, batch_size=batch_size,
                        curves=curves, threshold=threshold)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return doc


def _evaluate(run: Path, model: Any, x: np.ndarray, y: np.ndarray, y_raw: np.ndarray, meta: dict, *, subset: str,
              source: str, batch_size: int, curves: Any, threshold: float) -> dict:
    from nnrun.inference.predictor import inference_batch, keras_inputs

    # Inference only: large batches cost fewer steps and give the same values (Keras weighs each batch's
    # loss and metrics by its size), so the training batch size does not slow the report down.
    big = inference_batch(x, batch_size)
    keras_metrics = model.evaluate(keras_inputs(x), y, batch_size=big, verbose=0, return_dict=True)
    out = outputs(model, x, meta, batch_size=big)
    task = meta["task"]
    idx = _class_indices(y, meta["target_encoding"]) if task == "classification" else None
    if idx is not None:
        full = report.classification_report(idx, out, meta["classes"], threshold=threshold)
    else:
        full = report.regression_report(np.asarray(y_raw, dtype=np.float64), out)
    metrics = {k: float(v) for k, v in keras_metrics.items()}
    metrics.update({k: full[k] for k in _FLAT[task] if isinstance(full.get(k), (int, float))})
    written: list[str] = []
    if curves is not None:
        written = [p.name for p in [*curves.result(), *_plots(run, meta, full, out, idx, task)]]
    for name in (CONFUSION_PNG, ROC_PNG):  # an earlier evaluation's, of other data: not left beside this report
        if name not in written:
            (run / name).unlink(missing_ok=True)
    doc = {
        "run_dir": str(run),
        "data": source,
        "subset": subset,
        "num_examples": int(len(y_raw)),
        "task": task,
        "metrics": metrics,
        "report": full,
        "plots": written,
        "evaluated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    rundir.write_json(run / rundir.EVALUATION, doc)
    title = f"{run.name}: {subset} data ({source}, {len(y_raw)} examples)"
    rundir.write_text(run / REPORT_MD, report.markdown_report(title, full, task, written))
    return doc


def _class_indices(y: np.ndarray, encoding: str) -> np.ndarray:
    """Class indices, shape (num_samples,) int32, back from ``encode_targets``' output (binary: (n, 1) of 0/1;
    sparse: the indices; categorical: one-hot), so that the labels are mapped once."""
    if encoding == "categorical":
        return np.argmax(y, axis=1).astype(np.int32)
    return np.asarray(y).reshape(-1).astype(np.int32)


def _curves(run: Path) -> list:
    """The learning-curve plots of the run's history (none without history.csv)."""
    history = read_history(run / rundir.HISTORY)
    if not history:
        return []
    best = rundir.read_json(run / rundir.METRICS).get("best_epoch") if (run / rundir.METRICS).exists() else None
    return report.plot_learning_curves(history, run / CURVES_PREFIX, best)


def _plots(run: Path, meta: dict, full: dict, out: np.ndarray, idx: np.ndarray | None, task: str) -> list:
    """The confusion matrix and, for binary classifiers, the ROC curve."""
    paths = []
    if task == "classification":
        paths.append(report.plot_confusion_matrix(full["confusion_matrix"], meta["classes"], run / CONFUSION_PNG))
        if len(meta["classes"]) == 2 and full.get("roc_auc") is not None:
            positive = (idx == 1).astype(int)
            paths.append(report.plot_roc_curve(positive, out[:, 1], run / ROC_PNG, full["roc_auc"],
                                               positive_class=meta["classes"][1]))
    return paths


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` back to {metric: [value per epoch]} (empty when the file is missing)."""
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows] for k in keys}
