"""compat(merge): the old home of the evaluation report, split into ``metrics``, ``plots`` and ``markdown``.

``cli.evaluate`` still imports ``format_rows`` from here; remove this module once it imports
``nnrun.console.evaluation_table`` (or ``nnrun.evaluation.markdown.format_rows``).
"""

from __future__ import annotations

from nnrun.evaluation.markdown import format_rows, markdown_report
from nnrun.evaluation.metrics import classification_report, regression_report, roc_auc, roc_curve_points
from nnrun.evaluation.plots import plot_confusion_matrix, plot_learning_curves, plot_roc_curve

__all__ = [
    "classification_report", "format_rows", "markdown_report", "plot_confusion_matrix", "plot_learning_curves",
    "plot_roc_curve", "regression_report", "roc_auc", "roc_curve_points",
]
