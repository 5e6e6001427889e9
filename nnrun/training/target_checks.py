"""Warnings for a loss that trains without error but answers a different question than the target asks:
a regression loss on class labels, a classification loss on measurements (issue 18)."""

from __future__ import annotations

from typing import Any

#: A numeric target with at most this many distinct whole values looks like class labels.
MAX_LABEL_VALUES = 10


def loss_target_warning(config: Any, y: Any, encoding: str) -> str | None:
    """A warning when the loss's kind does not fit the target's values, or None.

    ``task:`` set explicitly (``regression`` / ``classification``) means the user chose: no warning.

    Args:
        config: the validated config. y: the target column as read. encoding: ``target_encoding(config)``.
    """
    import numpy as np

    if config.task != "auto" or getattr(y, "ndim", 1) != 1 or y.dtype == object or len(y) == 0:
        return None
    values = np.unique(np.asarray(y, dtype=np.float64))
    values = values[np.isfinite(values)]
    whole = bool(np.all(values == np.round(values)))
    loss = config.model.loss.type
    if encoding == "regression" and whole and len(values) <= MAX_LABEL_VALUES:
        head = "binary_crossentropy" if len(values) == 2 else "sparse_categorical_crossentropy"
        return (f"the target has {len(values)} distinct whole values ({_sample(values)}) but {loss} is a "
                f"regression loss: the model predicts a number, not a class. For classes use loss: {head}; "
                "to keep regression, say so with task: regression")
    if encoding != "regression" and not whole:
        return (f"the target has {len(values)} distinct values, not all whole ({_sample(values)}), but {loss} is "
                "a classification loss: each value becomes a class. For measurements use a regression loss "
                "(loss: mse); to keep classes, say so with task: classification")
    return None


def _sample(values: Any) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:5])
    return shown + (", …" if len(values) > 5 else "")
