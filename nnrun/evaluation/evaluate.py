"""Evaluate a model on labelled examples and write the report files of a run.

Writes ``evaluation.json`` (Keras' metrics plus the report's), ``report.md`` and the plots
(``learning_curves_<metric>.png``, ``confusion_matrix.png``, ``roc_curve.png`` for binary classifiers).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.data.labels import encode_targets
from nnrun.evaluation import metrics, plot_jobs, plot_worker
from nnrun.evaluation.markdown import markdown_report
from nnrun.inference.predictor import inference_batch, keras_inputs, probabilities

#: Report keys copied to the flat ``metrics`` mapping (the names gates use).
_FLAT = {
    "classification": ("accuracy", "log_loss", "roc_auc", "precision_macro", "recall_macro", "f1_macro",
                       "precision_weighted", "recall_weighted", "f1_weighted", "baseline_accuracy"),
    "regression": ("mae", "mse", "rmse", "r2", "baseline_mae"),
}


@dataclass(frozen=True)
class EvalData:
    """Labelled examples to evaluate a model on.

    Attributes:
        x: features, shape (num_samples, num_features) (or the dict of a table with categorical columns), or
            a streamed run's ``evaluation.streamed.StreamedRows`` (read from its shards; ``y_raw`` then empty).
        y_raw: raw labels/values as in the data file, shape (num_samples,).
        subset: which examples these are (``validation``, ``training``, ``test``, ``file``).
        source: where they came from, for messages and the report.
        where: example index -> ``file:line``, for messages about its label (default ``<source>: row N``).
    """

    x: Any
    y_raw: np.ndarray
    subset: str
    source: str
    where: Callable[[int], str] | None = None


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate.

    Attributes:
        batch_size: the training batch size; evaluation runs bigger batches (``inference_batch``).
        plots: write the PNG plots.
        threshold: binary decision threshold on the positive class's probability.
        label: None for the training-time split (``evaluation.json``, ``report.md``, the plots); a later
            evaluation's name (``rundir.evaluation_label``): ``evaluation-<label>.json``, ``report-<label>.md``,
            ``confusion_matrix-<label>.png``, … so that it never replaces another one.
    """

    batch_size: int = 32
    plots: bool = True
    threshold: float = 0.5
    label: str | None = None


def evaluate_model(run: Path, model: Any, meta: dict, data: EvalData, options: EvalOptions) -> dict:
    """Evaluate ``model`` on ``data`` and write the run's report files (``evaluation.json``, ``report.md``,
    the plots).

    Args:
        run: the run directory.
        model: the compiled Keras model.
        meta: the run's ``dataset.json``.
        data: the examples.
        options: batch size, plots, threshold.

    Returns:
        The ``evaluation.json`` document: ``metrics`` (flat name -> number), ``report`` (full), ``plots``.

    Raises:
        DataError: labels the model has never seen.
        RunError: a report file cannot be written.
    """
    # the plots are jobs for the plot worker (plot_jobs: another process, started with the command), or drawn
    # here at collect when there is none; the learning curves belong to the training-time report (a later
    # evaluation's report links them) and train hands them over as soon as fit ends
    plotter = plot_jobs.current() if options.plots else None
    if plotter is not None and options.label is None and not plotter.submitted(run, plot_worker.CURVES):
        _curves(plotter, run)
    predicted = None
    if hasattr(data.x, "chunks"):  # a streamed run's rows, every one, read from its shards (evaluation/streamed.py)
        from nnrun.evaluation.streamed import gather

        data, y, predicted = gather(model, data, meta, options.batch_size)
    else:
        y = encode_targets(data.y_raw, meta["target_encoding"], meta["classes"], data.source, data.where)
    keras_metrics, out = predicted or _predict(model, data.x, y, meta, options.batch_size)
    full, idx = _report(meta, y, data.y_raw, out, options.threshold)
    written: list[str] = []
    if plotter is not None:
        _plots(plotter, run, meta, (full, out, idx), options.label)
        written = [p.name for p in plotter.collect(run)]
    return _write(run, (meta["task"], options.label), data, {k: float(v) for k, v in keras_metrics.items()}, full,
                  written)


def _predict(model: Any, x: Any, y: np.ndarray, meta: dict, batch_size: int) -> tuple[dict, np.ndarray]:
    """Keras' metrics of ``model`` on ``(x, y)`` and its outputs (probabilities or values), from ONE pass of
    the model over the rows: the compiled loss and metrics are computed from the predictions (what
    ``model.evaluate`` would do, without running the model a second time and tracing a test function)."""
    from nnrun.data.features import nrows

    # Inference only: large batches cost fewer steps and give the same values (Keras weighs each batch's
    # loss and metrics by its size), so the training batch size does not slow the report down.
    raw = model.predict(keras_inputs(x), batch_size=inference_batch(x, batch_size), verbose=0)
    return metrics_of_predictions(model, y, raw), probabilities(np.asarray(raw).reshape(nrows(x), -1), meta)


def metrics_of_predictions(model: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
    """The compiled loss and metrics of ``model`` for predictions ``y_pred`` of targets ``y``: the values
    ``model.evaluate`` returns (the mean loss over the rows plus the regularization losses, and each compiled
    metric over all rows), computed with Keras' public ``compute_loss`` / ``compute_metrics``."""
    model.reset_metrics()
    loss = model.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
    values = {k: float(v) for k, v in model.compute_metrics(None, y, y_pred, sample_weight).items()}
    values["loss"] = float(loss)  # the loss tracker is fed by test_step only: after the reset it holds nothing
    model.reset_metrics()
    return dict(sorted(values.items()))  # evaluate's order (Keras sorts its logs by name)


def _report(meta: dict, y: np.ndarray, y_raw: np.ndarray, out: np.ndarray, threshold: float) -> tuple[dict, Any]:
    """The full report and, for classifiers, the true class indices (None for regressors)."""
    if meta["task"] != "classification":
        return metrics.regression_report(np.asarray(y_raw, dtype=np.float64), out), None
    idx = _class_indices(y, meta["target_encoding"])
    return metrics.classification_report(idx, out, meta["classes"], threshold=threshold), idx


def _write(run: Path, kind: tuple[str, str | None], data: EvalData, keras_metrics: dict, full: dict,
           written: list[str]) -> dict:
    """Write ``evaluation[-<label>].json`` and ``report[-<label>].md`` (``kind``: the task and the label);
    remove the same evaluation's earlier plots not made this time."""
    task, label = kind
    flat = dict(keras_metrics)
    flat.update({k: full[k] for k in _FLAT[task] if isinstance(full.get(k), (int, float))})
    for name in (rundir.labelled(rundir.CONFUSION_PNG, label), rundir.labelled(rundir.ROC_PNG, label)):
        if name not in written:  # this evaluation's earlier plot (of other data): not left behind
            (run / name).unlink(missing_ok=True)
    count = int(len(data.y_raw))
    doc = {
        "run_dir": str(run),
        "data": data.source,
        "subset": data.subset,
        "num_examples": count,
        "task": task,
        "metrics": flat,
        "report": full,
        "plots": written,
        "evaluated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if label is not None:  # link the training-time learning curves
        written = [*sorted(p.name for p in run.glob(f"{rundir.CURVES_PREFIX}*.png")), *written]
    doc["file"], doc["report_file"] = rundir.labelled(rundir.EVALUATION, label), rundir.labelled(rundir.REPORT, label)
    rundir.write_json(run / doc["file"], doc)
    title = f"{run.name}: {data.subset} data ({data.source}, {count} examples)"
    rundir.write_text(run / doc["report_file"], markdown_report(title, full, task, written))
    return doc


def _class_indices(y: np.ndarray, encoding: str) -> np.ndarray:
    """Class indices, shape (num_samples,) int32, back from ``encode_targets``' output (binary: (n, 1) of 0/1;
    sparse: the indices; categorical: one-hot), so that the labels are mapped once."""
    if encoding == "categorical":
        return np.argmax(y, axis=1).astype(np.int32)
    return np.asarray(y).reshape(-1).astype(np.int32)


def _curves(plotter: plot_jobs.Inline, run: Path) -> None:
    """Submit the learning curves of the run's history.csv (none without it)."""
    history = read_history(run / rundir.HISTORY)
    if history:
        best = rundir.read_json(run / rundir.METRICS).get("best_epoch") if (run / rundir.METRICS).exists() else None
        plotter.submit(run, plot_worker.CURVES, history=history, best_epoch=best)


def _plots(plotter: plot_jobs.Inline, run: Path, meta: dict, predicted: tuple, label: str | None) -> None:
    """Submit the confusion matrix and, for binary classifiers, the ROC curve (none for regressors).
    ``predicted``: the full report, the outputs, the true class indices (None for regressors)."""
    full, out, idx = predicted
    if idx is None:
        return
    plotter.submit(run, plot_worker.CONFUSION, name=rundir.labelled(rundir.CONFUSION_PNG, label),
                   cm=full["confusion_matrix"], classes=meta["classes"])
    if len(meta["classes"]) == 2 and full.get("roc_auc") is not None:
        plotter.submit(run, plot_worker.ROC, name=rundir.labelled(rundir.ROC_PNG, label),
                       positive=(idx == 1).astype(int), scores=out[:, 1], auc=full["roc_auc"],
                       positive_class=meta["classes"][1])


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` back to {metric: [value per epoch]} (empty when the file is missing)."""
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows] for k in keys}
