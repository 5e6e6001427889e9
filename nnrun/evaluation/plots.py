"""Evaluation plots as PNG files: learning curves, confusion matrix, ROC curve.

matplotlib is imported lazily by the plotting functions and drives the Agg canvas directly (no pyplot, no
global backend switch), so plots work headless and in threads. Every file is written through
``rundir.AtomicWrite`` (a temporary name in the same directory, renamed into place).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnrun import rundir
from nnrun.errors import RunError
from nnrun.evaluation.metrics import roc_curve_points

DPI = 110
FIGSIZE = (6.0, 4.5)


def plot_learning_curves(
    history: dict[str, list[float]], path_prefix: Path, best_epoch: int | None = None
) -> list[Path]:
    """One PNG per base metric (``loss``, ``accuracy``, …) with its training and ``val_`` curves.

    Args:
        history: Keras History names -> one value per epoch (``loss``, ``val_loss``, …); an ``epoch`` key
            is ignored; NaN and infinite values leave gaps.
        path_prefix: files are written as ``<path_prefix>_<metric>.png`` (e.g. ``runs/iris/curve`` ->
            ``runs/iris/curve_loss.png``); the directory must exist.
        best_epoch: the 1-based epoch to mark with a dashed vertical line, or None.

    Returns:
        The files written, loss first, then the other metrics in ``history`` order.

    Raises:
        RunError: a file cannot be written.
    """
    from matplotlib.ticker import MaxNLocator

    prefix = Path(path_prefix)
    bases: list[str] = []
    for key in history:
        base = key[4:] if key.startswith("val_") else key
        if key != "epoch" and base not in bases:
            bases.append(base)
    bases.sort(key=lambda b: b != "loss")
    written = []
    for base in bases:
        fig = _figure()
        ax = fig.subplots()
        finite_values = []
        for key, label, color in ((base, "training", "C0"), (f"val_{base}", "validation", "C1")):
            if key not in history:
                continue
            values = np.asarray(history[key], dtype=np.float64)
            values[~np.isfinite(values)] = np.nan
            finite_values.append(values[np.isfinite(values)])
            marker = "o" if values.size <= 30 else None
            ax.plot(np.arange(1, values.size + 1), values, label=label, color=color, marker=marker, markersize=3)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.35", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        finite = np.concatenate(finite_values)
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        if max(len(history.get(key, ())) for key in (base, f"val_{base}")) <= 1:
            ax.set_xticks([1])  # a single epoch: no fractional ticks around it
            ax.set_xlim(0.5, 1.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.set_title(f"{base} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        name = re.sub(r"[^A-Za-z0-9._-]", "_", base)
        written.append(_save(fig, prefix.with_name(f"{prefix.name}_{name}.png")))
    return written


def plot_confusion_matrix(cm: np.ndarray | list[list[int]], classes: Sequence[Any], path: Path) -> Path:
    """A heat map of the confusion matrix, each cell annotated with its count (and % of its true class).

    Args:
        cm: counts, shape (num_classes, num_classes), rows true classes, columns predicted classes.
        classes: the class labels in row/column order.
        path: the PNG file to write; its directory must exist.

    Returns:
        ``path``.

    Raises:
        ValueError: ``cm`` is not square with one row per class.
        RunError: the file cannot be written.
    """
    counts = np.asarray(cm)
    k = len(classes)
    if counts.shape != (k, k):
        raise ValueError(f"cm: expected shape ({k}, {k}), got {counts.shape}")
    names = [str(c) for c in classes]
    scale = max(1.0, k / 8)
    fig = _figure((FIGSIZE[0] * scale, FIGSIZE[1] * scale))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(int(counts.max()), 1))
    fig.colorbar(image, ax=ax, label="examples")
    rows = counts.sum(axis=1)
    for i in range(k):
        for j in range(k):
            text = str(int(counts[i, j]))
            if k <= 10 and rows[i]:
                text += f"\n{counts[i, j] / rows[i]:.0%}"
            dark = counts[i, j] > 0.5 * counts.max()
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=9)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    if k > 6 or max(map(len, names)) > 4:
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix ({int(counts.sum())} examples; % of true class)")
    return _save(fig, Path(path))


_ROC_POINTS = 2000  # points drawn at most


def plot_roc_curve(
    y_true01: np.ndarray, scores: np.ndarray, path: Path, auc: float | None = None, *, positive_class: Any = None
) -> Path:
    """The ROC curve of a binary classifier, with the chance diagonal and the AUC in the legend.

    Args:
        y_true01: 1 for positive examples, 0 for negative ones, shape (num_samples,).
        scores: probability of the positive class, shape (num_samples,).
        path: the PNG file to write; its directory must exist.
        auc: the AUC to show; computed from the curve when None.
        positive_class: the positive class's label, named in the title when given.

    Returns:
        ``path``.

    Raises:
        ValueError: as ``roc_curve_points`` (e.g. only one class present).
        RunError: the file cannot be written.
    """
    fpr, tpr, _ = roc_curve_points(y_true01, scores)
    if auc is None:
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)
    if len(fpr) > _ROC_POINTS:  # a line of 200,000 points draws slowly and looks the same as 2,000 of them
        keep = np.unique(np.linspace(0, len(fpr) - 1, _ROC_POINTS).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    fig = _figure()
    ax = fig.subplots()
    ax.plot(fpr, tpr, color="C0", linewidth=2, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="chance (AUC = 0.500)")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    title = "ROC curve" if positive_class is None else f"ROC curve (positive class: {positive_class})"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, Path(path))


def _figure(figsize: tuple[float, float] = FIGSIZE) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    """Save ``fig`` as PNG to ``path`` atomically (temporary file in the same directory, then rename)."""
    if not path.parent.is_dir():  # before rendering, which takes a while
        raise RunError(f"{path}: cannot write: no directory {path.parent}")
    with rundir.AtomicWrite(path) as tmp:
        fig.tight_layout()
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def plot_importance(columns: list[dict], metric: str, path: Path) -> Path:
    """Permutation importance as horizontal bars (mean drop of ``metric``) with the standard deviation as
    error bars, most important on top.

    Args:
        columns: ``[{"column", "mean", "std"}, …]`` most important first (``evaluation.explain.permutation``).
    """
    fig = _figure((6.0, max(2.0, 0.35 * len(columns) + 1.2)))
    ax = fig.subplots()
    names = [c["column"] for c in columns][::-1]
    ax.barh(names, [c["mean"] for c in columns][::-1], xerr=[c["std"] for c in columns][::-1], color="C0",
            capsize=3)
    ax.axvline(0.0, color="0.4", linewidth=0.8)
    ax.set_xlabel(f"drop in {metric} when the column is shuffled")
    ax.set_title("Permutation importance")
    return _save(fig, Path(path))


def plot_layer_pca(points: np.ndarray, labels: np.ndarray, classes: Sequence[Any] | None, title: str,
                   path: Path) -> Path:
    """Rows' activations projected on two principal components, coloured by class (or by target value).

    Args:
        points: (n, 2) projections. labels: class indices (n,) with ``classes``, or values (n,) without.
    """
    fig = _figure()
    ax = fig.subplots()
    if classes is not None:
        for i, c in enumerate(classes):
            mask = labels == i
            ax.scatter(points[mask, 0], points[mask, 1], s=12, label=str(c), alpha=0.8)
        ax.legend(loc="best", fontsize="small")
    else:
        sc = ax.scatter(points[:, 0], points[:, 1], c=labels, s=12, cmap="viridis")
        fig.colorbar(sc, ax=ax, label="target")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    return _save(fig, Path(path))
