"""Evaluation metrics as JSON-able dicts: classification and regression reports, ROC curve and AUC.

Pure functions over NumPy arrays; no TensorFlow, no scikit-learn. Metrics follow scikit-learn's definitions
(``zero_division=0``, one-vs-rest macro ROC AUC, R² with a constant target = 1.0 or 0.0) and the tests check
them against scikit-learn to 1e-9. The report flags what accuracy hides (case 10): the majority-class
baseline, per-class precision and recall, and a model that predicts a single class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Probabilities are clipped to ``[EPS, 1 - EPS]`` before the log in ``log_loss``.
EPS = 1e-15


def classification_report(
    y_true: np.ndarray, probs: np.ndarray, classes: Sequence[Any], threshold: float = 0.5
) -> dict[str, Any]:
    """Metrics of a classifier's probabilities, as a JSON-able dict.

    Predictions are ``classes[1]`` where ``probs[:, 1] >= threshold`` for two classes, else the argmax.

    Args:
        y_true: true class indices into ``classes``, shape (num_samples,).
        probs: class probabilities, shape (num_samples, num_classes); for two classes also
            (num_samples,) or (num_samples, 1) holding the probability of ``classes[1]``.
        classes: the class labels, in column order of ``probs`` (at least two).
        threshold: decision threshold on the probability of ``classes[1]`` (two classes only).

    Returns:
        ``num_examples``, ``classes``, ``accuracy``, ``log_loss`` (natural log, mean), ``precision``,
        ``recall``, ``f1``, ``support`` (each ``{str(class): value}``), ``macro`` and ``weighted``
        (``{"precision", "recall", "f1"}``), flat ``precision_macro``, ``recall_macro``, ``f1_macro``,
        ``precision_weighted``, ``recall_weighted``, ``f1_weighted``, ``confusion_matrix`` (rows true,
        columns predicted, in ``classes`` order), ``roc_auc`` (None when a class has no example),
        ``roc_auc_per_class`` (more than two classes), ``threshold`` (two classes), ``baseline_accuracy``
        and ``majority_class`` (always predicting the most frequent true class), ``single_class_predicted``
        and ``warnings`` (sentences).

    Raises:
        ValueError: shapes disagree, fewer than two classes, no example, a label outside ``classes``,
            or non-finite probabilities.

    Example:
        >>> r = classification_report(np.array([0, 0, 1]), np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), [0, 1])
        >>> r["accuracy"], r["confusion_matrix"]
        (1.0, [[2, 0], [0, 1]])
    """
    labels = [_native(c) for c in classes]
    k = len(labels)
    y, p = _checked_inputs(y_true, probs, k)
    pred = (p[:, 1] >= threshold).astype(np.int64) if k == 2 else np.argmax(p, axis=1)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    n = int(y.size)
    clipped = np.clip(p[np.arange(n), y], EPS, 1 - EPS)
    majority = int(np.argmax(support))
    report: dict[str, Any] = {
        "num_examples": n,
        "classes": labels,
        "accuracy": float(np.mean(pred == y)),
        "log_loss": float(-np.mean(np.log(clipped))),
        **_class_scores(cm, [str(c) for c in labels]),
    }
    per_class = [_auc_or_none(y == c, p[:, c]) for c in range(k)]
    if k == 2:
        report["roc_auc"] = per_class[1]
        report["threshold"] = float(threshold)
    else:
        report["roc_auc"] = None if None in per_class else float(np.mean(per_class))
        report["roc_auc_per_class"] = dict(zip([str(c) for c in labels], per_class, strict=True))
    report["baseline_accuracy"] = float(support[majority] / n)
    report["majority_class"] = labels[majority]
    predicted_classes = np.flatnonzero(predicted)
    report["single_class_predicted"] = bool(predicted_classes.size == 1)
    report["warnings"] = _classification_warnings(report, labels, predicted_classes, support)
    return report


def _checked_inputs(y_true: np.ndarray, probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` as int class indices (n,) and ``probs`` as (n, k) (a binary (n,) or (n, 1) widened).

    Raises:
        ValueError: as ``classification_report``.
    """
    if k < 2:
        raise ValueError(f"a classification report needs at least two classes, got {k}")
    y = np.asarray(y_true).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    if k == 2 and (p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1)):
        p = p.reshape(-1, 1)
        p = np.hstack([1.0 - p, p])
    if p.ndim != 2 or p.shape != (y.size, k):
        raise ValueError(f"probs: expected shape ({y.size}, {k}), got {np.shape(probs)}")
    if y.size == 0:
        raise ValueError("a classification report needs at least one example")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs: contains NaN or infinite values")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("y_true: expected integer class indices")
        y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"y_true: class indices must be in [0, {k - 1}], got {int(y.min())}..{int(y.max())}")
    return y, p


def _class_scores(cm: np.ndarray, keys: list[str]) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support, their macro and weighted averages (nested and flat),
    and the confusion matrix, from the (k, k) counts ``cm`` (rows true, columns predicted)."""
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * tp, support + predicted)  # 2tp / (2tp + fp + fn), as scikit-learn computes it
    weights = support / support.sum()
    macro = {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())}
    weighted = {"precision": float(precision @ weights), "recall": float(recall @ weights), "f1": float(f1 @ weights)}
    return {
        "precision": dict(zip(keys, map(float, precision), strict=True)),
        "recall": dict(zip(keys, map(float, recall), strict=True)),
        "f1": dict(zip(keys, map(float, f1), strict=True)),
        "support": dict(zip(keys, map(int, support), strict=True)),
        "macro": macro,
        "weighted": weighted,
        **{f"{m}_macro": macro[m] for m in ("precision", "recall", "f1")},
        **{f"{m}_weighted": weighted[m] for m in ("precision", "recall", "f1")},
        "confusion_matrix": cm.tolist(),
    }


def _classification_warnings(
    report: dict[str, Any], labels: list[Any], predicted_classes: np.ndarray, support: np.ndarray
) -> list[str]:
    accuracy, baseline = report["accuracy"], report["baseline_accuracy"]
    same = math.isclose(accuracy, baseline, rel_tol=0.0, abs_tol=1e-12)
    out = []
    if predicted_classes.size == 1:
        only = labels[int(predicted_classes[0])]
        compare = "equals" if same else f"vs {baseline:.3f} for"
        out.append(
            f"the model predicts a single class ({only}) for every example: "
            f"accuracy {accuracy:.3f} {compare} the majority-class baseline"
        )
    else:
        if accuracy <= baseline or same:
            out.append(
                f"accuracy {accuracy:.3f} does not beat the majority-class baseline {baseline:.3f} "
                f"(always predicting {report['majority_class']})"
            )
        never = [labels[c] for c in range(len(labels)) if c not in predicted_classes and support[c] > 0]
        if never:
            out.append(f"never predicted: class {', '.join(map(str, never))} (recall 0)")
    absent = [str(labels[c]) for c in range(len(labels)) if support[c] == 0]
    if absent:
        out.append(f"no example of class {', '.join(absent)}: its recall is reported as 0 and ROC AUC as null")
    return out


def roc_curve_points(y_true01: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: one point per distinct score, as ``sklearn.metrics.roc_curve(drop_intermediate=False)``.

    Tied scores form a single point (a diagonal step), so the AUC of the curve counts ties as one half.

    Args:
        y_true01: 1 (or True) for positive examples, 0 for negative ones, shape (num_samples,).
        scores: higher means more likely positive, shape (num_samples,).

    Returns:
        ``(fpr, tpr, thresholds)``, each shape (num_distinct_scores + 1,): false and true positive rates
        when predicting positive for ``score >= threshold``; thresholds decrease, the first is ``inf``
        (the point (0, 0)).

    Raises:
        ValueError: shapes differ, labels other than 0/1, non-finite scores, or only one class present.
    """
    y = np.asarray(y_true01).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"y_true01 and scores differ in length: {y.size} vs {s.size}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y_true01: expected only 0 and 1")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores: contains NaN or infinite values")
    y = y.astype(np.float64)
    positives = float(y.sum())
    if positives == 0 or positives == y.size:
        raise ValueError("a ROC curve needs both positive and negative examples")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = last_of_tie + 1 - tps
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    return fpr, tpr, np.r_[np.inf, s[last_of_tie]]


def roc_auc(y_true01: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids), equal to ``sklearn.metrics.roc_auc_score``.

    Args:
        y_true01: 0/1 labels, shape (num_samples,).
        scores: shape (num_samples,).

    Raises:
        ValueError: as ``roc_curve_points``.
    """
    fpr, tpr, _ = roc_curve_points(y_true01, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def _auc_or_none(y_true01: np.ndarray, scores: np.ndarray) -> float | None:
    positives = int(np.count_nonzero(y_true01))
    return None if positives in (0, y_true01.size) else roc_auc(y_true01, scores)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(den), where=den > 0)


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Metrics of a regressor's predictions, as a JSON-able dict.

    Several outputs, shape (num_samples, num_outputs), are averaged uniformly per output like scikit-learn's
    ``multioutput="uniform_average"`` (so ``rmse`` is then the mean of per-output RMSEs).

    Args:
        y_true: targets, shape (num_samples,) or (num_samples, num_outputs).
        y_pred: predictions, the same shape ((num_samples, 1) and (num_samples,) are interchangeable).

    Returns:
        ``num_examples``, ``mae``, ``mse``, ``rmse``, ``r2`` (1 - SS_res / SS_tot; for a constant target 1.0
        when predictions are exact, else 0.0), ``baseline_mae`` (MAE of always predicting the mean of
        ``y_true``) and ``warnings``.

    Raises:
        ValueError: shapes differ, or no example.
    """
    t, p = _as_columns(y_true), _as_columns(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {np.shape(y_true)} vs {np.shape(y_pred)}")
    if t.shape[0] == 0:
        raise ValueError("a regression report needs at least one example")
    err = p - t
    mse = np.mean(err**2, axis=0)
    ss_res = np.sum(err**2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
    report: dict[str, Any] = {
        "num_examples": int(t.shape[0]),
        "mae": float(np.mean(np.abs(err))),
        "mse": float(np.mean(mse)),
        "rmse": float(np.mean(np.sqrt(mse))),
        "r2": float(np.mean(r2)),
        "baseline_mae": float(np.mean(np.abs(t - t.mean(axis=0)))),
    }
    warnings = []
    if not np.all(np.isfinite(p)):
        warnings.append("some predictions are NaN or infinite")
    elif report["mae"] >= report["baseline_mae"] and t.shape[0] > 1:
        warnings.append(
            f"MAE {report['mae']:.4g} is no better than always predicting the mean "
            f"(baseline MAE {report['baseline_mae']:.4g})"
        )
    report["warnings"] = warnings
    return report


def _as_columns(values: np.ndarray) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return a.reshape(-1, 1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
