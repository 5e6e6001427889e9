"""The readable report: ``report.md`` and the headline rows shared with the CLI's table.

Plain text over the dicts of ``nnrun.evaluation.metrics``; no rich, no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np


def format_rows(report: dict[str, Any], task: str) -> list[tuple[str, str]]:
    """The headline rows of a report for a CLI table: (metric name as in the JSON, formatted value).

    Classification: examples, accuracy, the majority-class baseline, log loss, ROC AUC, macro and weighted
    scores, the threshold (two classes) and, for up to 10 classes, ``precision[<class>]`` and
    ``recall[<class>]``. Regression: examples, MAE, its baseline, RMSE, MSE, R².

    Args:
        report: from ``classification_report`` or ``regression_report``.
        task: ``"classification"`` or ``"regression"``.

    Raises:
        ValueError: an unknown task.
    """
    if task == "regression":
        return [(key, _fmt(report[key])) for key in ("num_examples", "mae", "baseline_mae", "rmse", "mse", "r2")]
    if task != "classification":
        raise ValueError(f"task: expected 'classification' or 'regression', got {task!r}")
    rows = [
        ("num_examples", _fmt(report["num_examples"])),
        ("accuracy", _fmt(report["accuracy"])),
        ("baseline_accuracy", f"{_fmt(report['baseline_accuracy'])} (always {report['majority_class']})"),
        ("log_loss", _fmt(report["log_loss"])),
        ("roc_auc", _fmt(report["roc_auc"])),
    ]
    rows += [(key, _fmt(report[key])) for key in ("precision_macro", "recall_macro", "f1_macro", "f1_weighted")]
    if "threshold" in report:
        rows.append(("threshold", _fmt(report["threshold"])))
    if len(report["support"]) <= 10:
        for metric in ("precision", "recall"):
            rows += [(f"{metric}[{cls}]", _fmt(value)) for cls, value in report[metric].items()]
    return rows


def markdown_report(title: str, report: dict[str, Any], task: str, plots: Sequence[str | Path] = ()) -> str:
    """A readable ``report.md``: summary, warnings, per-class table, confusion matrix, plots.

    Args:
        title: the level-1 heading (e.g. the run name).
        report: from ``classification_report`` or ``regression_report``.
        task: ``"classification"`` or ``"regression"``.
        plots: image files to link; relative paths are kept, absolute ones reduced to their file name
            (the report is meant to sit next to its plots).

    Returns:
        Markdown text ending with a newline.

    Raises:
        ValueError: an unknown task.
    """
    lines = [f"# {_md(title)}", "", "## Summary", "", "| metric | value |", "|---|---:|"]
    summary = [(name, value) for name, value in format_rows(report, task) if "[" not in name]  # per class: below
    lines += [f"| {_md(name)} | {_md(value)} |" for name, value in summary]
    if report.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- **warning:** {_md(w)}" for w in report["warnings"]]
    if task == "classification":
        lines += ["", "## Per class", "", "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for cls, support in report["support"].items():
            scores = " | ".join(_fmt(report[m][cls]) for m in ("precision", "recall", "f1"))
            lines.append(f"| {_md(cls)} | {scores} | {support} |")
        total = sum(report["support"].values())
        for avg in ("macro", "weighted"):
            scores = " | ".join(_fmt(report[avg][m]) for m in ("precision", "recall", "f1"))
            lines.append(f"| *{avg} avg* | {scores} | {total} |")
        names = [_md(c) for c in report["support"]]
        lines += ["", "## Confusion matrix", "", "Rows are true classes, columns predicted classes.", ""]
        lines += ["| true \\ predicted | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for name, row in zip(names, report["confusion_matrix"], strict=True):
            lines.append(f"| **{name}** | " + " | ".join(str(v) for v in row) + " |")
    if plots:
        lines += ["", "## Plots", ""]
        for plot in plots:
            rel = Path(plot).name if Path(plot).is_absolute() else Path(plot).as_posix()
            lines += [f"![{_md(Path(rel).stem)}]({quote(rel)})", ""]
        lines.pop()
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (bool, int, np.integer)):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.4g}"
    return f"{value:.4f}"


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
